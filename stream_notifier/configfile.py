"""Reading YAML configuration with errors that name the file, the route and the field.

`Section` walks one mapping, hands out typed values, and refuses keys nobody asked for:
a misspelt option is an error at startup, not a default silently kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import yaml

from stream_notifier.errors import ConfigError

_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=str(path)) from None


class Section:
    def __init__(self, data: Any, *, file: str, route: str | None = None, path: str = "") -> None:
        self.file = file
        self.route = route
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.fail(f"must be a mapping, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self._taken: set[str] = set()

    def field_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        field = self.field_path(key) if key is not None else (self.path or None)
        raise ConfigError(message, file=self.file, route=self.route, field=field)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = None) -> Any:
        self._taken.add(key)
        return self.data.get(key, default)

    def section(self, key: str) -> Section:
        return Section(self.raw(key), file=self.file, route=self.route, path=self.field_path(key))

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw(key, default)
        if value is None:
            if required:
                self.fail("is required", key)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(f"must be a string, got {type(value).__name__}", key)
        text = str(value)
        if required and not text.strip():
            self.fail("must not be empty", key)
        return text

    def required_str(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def integer(self, key: str, default: int, *, minimum: int | None = None) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"must be an integer, got {value!r}", key)
        if minimum is not None and value < minimum:
            self.fail(f"must be at least {minimum}, got {value}", key)
        return value

    def number(self, key: str, default: float, *, minimum: float | None = None) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"must be a number, got {value!r}", key)
        if minimum is not None and value < minimum:
            self.fail(f"must be at least {minimum}, got {value}", key)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(f"must be true or false, got {value!r}", key)
        return value

    def duration(self, key: str, default: float | None = None) -> float | None:
        """Seconds, from a number of seconds or a string like '500ms', '10m', '2h'."""
        value = self.raw(key, default)
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return None if value is None else float(value)
        match = _DURATION.match(str(value).strip())
        if not match:
            self.fail(f"must be a duration like 30s, 10m or 2h, got {value!r}", key)
        return float(match.group("n")) * _UNIT_SECONDS[match.group("unit")]

    def positive_duration(self, key: str, default: float) -> float:
        value = self.duration(key, default)
        if value is None or value <= 0:
            self.fail(f"must be a positive duration, got {self.data.get(key)!r}", key)
        return value

    def str_list(self, key: str) -> tuple[str, ...] | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail("must be a list of non-empty strings", key)
        return tuple(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default)
        if value not in choices:
            self.fail(f"must be one of {', '.join(choices)}; got {value!r}", key)
        return value

    def close(self) -> None:
        """Refuse every key that no reader asked for."""
        unknown = sorted(str(k) for k in self.data if k not in self._taken)
        if unknown:
            self.fail(f"unknown key(s): {', '.join(unknown)}", unknown[0])
