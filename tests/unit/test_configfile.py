"""Section: typed values out of a YAML mapping, unknown keys refused."""

from __future__ import annotations

from typing import Any

import pytest

from stream_notifier.configfile import Section
from stream_notifier.errors import ConfigError


def section(data: Any) -> Section:
    return Section(data, file="f.yaml", route="r", path="p")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        (2.5, 2.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5 s", 1.5),
        (None, None),
    ],
)
def test_duration(value: Any, seconds: float | None) -> None:
    assert section({"d": value}).duration("d") == seconds


@pytest.mark.parametrize("value", ["soon", "10", "5 minutes", "-1s", True])
def test_bad_duration(value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        section({"d": value}).duration("d")
    assert str(caught.value).startswith("f.yaml: route 'r': field 'p.d': must be a duration")


@pytest.mark.parametrize(
    ("value", "result"), [("a", ("a",)), (["a", "b"], ("a", "b")), (None, None)]
)
def test_str_list(value: Any, result: tuple[str, ...] | None) -> None:
    assert section({"l": value}).str_list("l") == result


@pytest.mark.parametrize("value", [[""], [1], {"a": 1}, ["a", None]])
def test_bad_str_list(value: Any) -> None:
    with pytest.raises(ConfigError, match="must be a list of non-empty strings"):
        section({"l": value}).str_list("l")


def test_text_accepts_numbers_refuses_bools_and_mappings() -> None:
    assert section({"t": 3}).text("t") == "3"
    for bad in (True, {"a": 1}, [1]):
        with pytest.raises(ConfigError, match="must be a string"):
            section({"t": bad}).text("t")


def test_close_refuses_keys_nobody_read() -> None:
    s = section({"a": 1, "zz": 2, "b": 3})
    s.integer("a", 0)
    with pytest.raises(ConfigError) as caught:
        s.close()
    assert caught.value.field == "p.b"
    assert "unknown key(s): b, zz" in str(caught.value)


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        section([1, 2])
    assert caught.value.field == "p"
    assert "must be a mapping, got list" in str(caught.value)


def test_none_is_an_empty_section() -> None:
    s = section(None)
    assert s.integer("n", 4) == 4
    s.close()
