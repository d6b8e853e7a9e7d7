"""Typed readers for settings that come from the environment.

Every secret can also be given as ``NAME_FILE`` (a path whose contents are the
value), which is how Docker and Kubernetes secrets are mounted.
"""

from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; raised at start-up, never later."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read ``NAME`` or, failing that, the file named by ``NAME_FILE``."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE points at {path!r}, which cannot be read") from exc
    return default


def env_rates(name: str) -> dict[str, tuple[float, float]]:
    """``"ecs:service-read=50/10,ssm=20/5"`` -> {bucket: (capacity, refill per second)};
    malformed is a start-up error."""
    rates: dict[str, tuple[float, float]] = {}
    for item in env_list(name, []):
        bucket, _, value = item.partition("=")
        capacity, _, rate = value.partition("/")
        try:
            pair = (float(capacity), float(rate))
        except ValueError:
            pair = (0.0, 0.0)
        if not bucket.strip() or pair[0] < 1 or pair[1] <= 0:
            raise ConfigError(f"{name}: expected bucket=capacity/rate, got {item!r}")
        rates[bucket.strip()] = pair
    return rates
