"""Compiled template fields: text or native value, strict about anything undefined."""

from __future__ import annotations

from typing import Any

import pytest

from stream_notifier.render.templates import (
    TemplateCompileError,
    TemplateFieldError,
    compile_field,
)


@pytest.mark.parametrize(
    ("source", "context", "value"),
    [
        ("{{ n }}", {"n": 3}, 3),
        ("  {{ n }}  ", {"n": 3}, 3),
        ("{{ xs }}", {"xs": [1, "2"]}, [1, "2"]),
        ("{{ n + 1 }}", {"n": 3}, 4),
        ("{{ d.k }}", {"d": {"k": None}}, None),
        ("n={{ n }}", {"n": 3}, "n=3"),  # not a single expression: text
        ("{{ a }}{{ b }}", {"a": 1, "b": 2}, "12"),
        ("plain", {}, "plain"),
    ],
)
def test_value(source: str, context: dict[str, Any], value: Any) -> None:
    assert compile_field(source).value(context) == value
    assert type(compile_field(source).value(context)) is type(value)


def test_text_renders_a_string() -> None:
    assert compile_field("{{ n }}").text({"n": 3}) == "3"


@pytest.mark.parametrize("source", ["{{ missing }}", "x {{ missing }}", "{{ d.missing }}"])
@pytest.mark.parametrize("method", ["text", "value"])
def test_undefined_is_an_error(source: str, method: str) -> None:
    field = compile_field(source)
    with pytest.raises(TemplateFieldError, match=r"^missing template variable: .*missing"):
        getattr(field, method)({"d": {}})


@pytest.mark.parametrize(
    ("source", "line"), [("{{ x ", 1), ("a\nb\n{% if %}", 3), ("{{ 1 + }}", 1)]
)
def test_compile_error_has_a_line(source: str, line: int) -> None:
    with pytest.raises(TemplateCompileError) as caught:
        compile_field(source)
    assert caught.value.line == line


def test_is_literal() -> None:
    assert compile_field("hello").is_literal
    assert not compile_field("{{ x }}").is_literal
