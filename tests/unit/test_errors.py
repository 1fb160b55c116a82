"""The error tree: stages, retriability and messages that say where."""

from __future__ import annotations

import pytest

from stream_notifier.errors import (
    ConfigError,
    DecodeError,
    DeploymentError,
    ErrorContext,
    PermanentPublishError,
    ProduceError,
    RenderError,
    RoutingError,
    StreamNotifierError,
    TransientPublishError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("error", "stage", "retriable"),
    [
        (ConfigError("x"), "config", False),
        (DecodeError("x"), "decode", False),
        (RoutingError("x"), "route", False),
        (RenderError("x"), "render", False),
        (ValidationError("x"), "validate", False),
        (TransientPublishError("x"), "publish", True),
        (PermanentPublishError("x"), "publish", False),
        (DeploymentError("x"), "publish", False),
        (ProduceError("x"), "produce", True),
        (StreamNotifierError("x"), "internal", False),
    ],
)
def test_stage_and_retriable(error: StreamNotifierError, stage: str, retriable: bool) -> None:
    assert (error.stage, error.retriable) == (stage, retriable)


@pytest.mark.parametrize(
    ("context", "described"),
    [
        (ErrorContext(), ""),
        (ErrorContext("t", 1, 2), "t[1]@2"),
        (ErrorContext("t", 1, 2, "r", 503), "t[1]@2 route=r http=503"),
        (ErrorContext(route="r"), "route=r"),
        (ErrorContext(http_status=401), "http=401"),
    ],
)
def test_describe(context: ErrorContext, described: str) -> None:
    assert context.describe() == described


def test_str_without_and_with_context() -> None:
    error = DecodeError("bad")
    assert str(error) == "bad"
    assert error.with_context(topic="t", partition=0, offset=5) is error
    assert str(error) == "bad (t[0]@5)"
    assert error.message == "bad"


def test_with_context_keeps_what_was_known() -> None:
    error = RenderError("x").with_context(route="r")
    error.with_context(topic="t", partition=1, offset=2)
    assert error.context == ErrorContext("t", 1, 2, "r")


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "<config>: broken"),
        ({"file": "a.yaml"}, "a.yaml: broken"),
        ({"file": "a.yaml", "field": "k"}, "a.yaml: field 'k': broken"),
        ({"file": "a.yaml", "route": "r", "field": "k"}, "a.yaml: route 'r': field 'k': broken"),
    ],
)
def test_config_error_names_file_route_field(kwargs: dict[str, str], text: str) -> None:
    assert str(ConfigError("broken", **kwargs)) == text


def test_transient_publish_error_fields() -> None:
    error = TransientPublishError(
        "m", context=ErrorContext(http_status=429), response_excerpt="e", retry_after_s=2.0
    )
    assert (error.http_status, error.response_excerpt, error.retry_after_s) == (429, "e", 2.0)
