"""Strict readers for settings that come from environment variables.

A malformed value is an error at start-up, never a silent default: `DJANGO_DEBUG=ture` must not
quietly mean False, and `QUESTIONS_PER_VIDEO=five` must not crash the first request instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_file_str(name: str) -> str:
    """The value of NAME, or else the contents of the file that NAME_FILE names (how compose and
    orchestrators hand over secrets); "" when neither is set. A named file that cannot be read or
    is empty is an error."""
    value = os.environ.get(name, "").strip()
    path = os.environ.get(f"{name}_FILE", "").strip()
    if value or not path:
        return value
    try:
        value = Path(path).read_text().strip()
    except OSError as error:
        raise ImproperlyConfigured(f"{name}_FILE: {error}") from None
    if not value:
        raise ImproperlyConfigured(f"{name}_FILE {path} is empty")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        value = default
    else:
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        value = default
    else:
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_RATE = re.compile(r"^(\d+)/(\d*)(s|sec|m|min|h|hour|d|day)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """The rate "10/15m" is (10, 900): at most 10 in any 15 minutes. Units s, m, h, d."""
    match = _RATE.match(text.strip().replace(" ", ""))
    if not match or int(match[1]) < 1 or match[2] == "0":
        raise ValueError(f"{text!r} is not a rate like 10/15m or 120/min")
    return int(match[1]), int(match[2] or 1) * _UNIT_SECONDS[match[3][0]]


def env_rate(name: str, default: str) -> str:
    value = env_str(name, default).strip()
    try:
        parse_rate(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None
    return value
