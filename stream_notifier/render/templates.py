"""Sandboxed Jinja2 templates, compiled once at startup, strict about missing variables.

A field is either text (rendered to a string) or, when it is exactly one `{{ expression }}`,
a value: evaluated natively so that a list stays a list (`user_ids`) and a number stays a
number (metadata), while still failing on anything undefined.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.sandbox import SandboxedEnvironment

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


class TemplateFieldError(Exception):
    """Raised while rendering; the caller turns it into a RenderError with route and field."""


class TemplateCompileError(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    return env


ENVIRONMENT = _environment()


def render_context(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The variables every field of one event renders against, with Jinja's globals merged
    in once per event rather than once per field."""
    context = dict(ENVIRONMENT.globals)
    context.update(variables)
    return context


@dataclass(frozen=True, slots=True)
class CompiledField:
    """One template string of a route, ready to render against an event's context
    (a `render_context`). A field without `{` is rendered once, here, not per event."""

    source: str
    _template: Any
    _expression: Any
    _literal: str | None

    @property
    def is_literal(self) -> bool:
        return self._literal is not None

    def text(self, context: dict[str, Any]) -> str:
        if self._literal is not None:
            return self._literal
        return "".join(self._run(self._template, context)[0])

    def value(self, context: dict[str, Any]) -> Any:
        """The native value for a single-expression field, else the rendered text."""
        if self._expression is None:
            return self.text(context)
        _, variables = self._run(self._expression, context)
        result = variables["result"]
        if isinstance(result, Undefined):
            try:
                str(result)
            except TemplateError as exc:
                raise TemplateFieldError(_describe(exc)) from None
        return result

    def variables(self) -> nodes.Template:
        """The parsed tree, for tools that check which variables a template reads."""
        return ENVIRONMENT.parse(self.source)

    @staticmethod
    def _run(template: Any, context: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        # Template.render() would copy the globals into a fresh dict for every field; a
        # shared context built once per event does the same job at a fraction of the cost.
        jinja_context = template.new_context(context, shared=True)
        try:
            return list(template.root_render_func(jinja_context)), jinja_context.vars
        except TemplateError as exc:
            raise TemplateFieldError(_describe(exc)) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateFieldError(f"{type(exc).__name__}: {exc}") from None


def compile_field(source: str) -> CompiledField:
    try:
        template = ENVIRONMENT.from_string(source)
        match = _SINGLE_EXPRESSION.match(source)
        # compile_expression wraps `result = <expr>` in a template; that template is what
        # runs, so its context can be shared like the others'.
        expression = (
            ENVIRONMENT.compile_expression(match.group("expr"), undefined_to_none=False)._template
            if match
            else None
        )
    except TemplateSyntaxError as exc:
        raise TemplateCompileError(exc.message or str(exc), exc.lineno) from None
    literal = template.render() if "{" not in source else None
    return CompiledField(source, template, expression, literal)


def _describe(exc: TemplateError) -> str:
    message = exc.message or str(exc)
    if "is undefined" in message or "has no attribute" in message:
        return f"missing template variable: {message}"
    return message
