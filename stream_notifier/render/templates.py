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


@dataclass(frozen=True, slots=True)
class CompiledField:
    """One template string of a route, ready to render against an event's context."""

    source: str
    _template: Any
    _expression: Any

    @property
    def is_literal(self) -> bool:
        return "{" not in self.source

    def text(self, context: Mapping[str, Any]) -> str:
        try:
            return str(self._template.render(context))
        except TemplateError as exc:
            raise TemplateFieldError(_describe(exc)) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateFieldError(f"{type(exc).__name__}: {exc}") from None

    def value(self, context: Mapping[str, Any]) -> Any:
        """The native value for a single-expression field, else the rendered text."""
        if self._expression is None:
            return self.text(context)
        try:
            result = self._expression(**context)
        except TemplateError as exc:
            raise TemplateFieldError(_describe(exc)) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateFieldError(f"{type(exc).__name__}: {exc}") from None
        if isinstance(result, Undefined):
            try:
                str(result)
            except TemplateError as exc:
                raise TemplateFieldError(_describe(exc)) from None
        return result

    def variables(self) -> nodes.Template:
        """The parsed tree, for tools that check which variables a template reads."""
        return ENVIRONMENT.parse(self.source)


def compile_field(source: str) -> CompiledField:
    try:
        template = ENVIRONMENT.from_string(source)
        match = _SINGLE_EXPRESSION.match(source)
        expression = (
            ENVIRONMENT.compile_expression(match.group("expr"), undefined_to_none=False)
            if match
            else None
        )
    except TemplateSyntaxError as exc:
        raise TemplateCompileError(exc.message or str(exc), exc.lineno) from None
    return CompiledField(source, template, expression)


def _describe(exc: TemplateError) -> str:
    message = exc.message or str(exc)
    if "is undefined" in message or "has no attribute" in message:
        return f"missing template variable: {message}"
    return message
