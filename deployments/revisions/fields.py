"""A revision as a flat, ordered list of named fields with text values: what the
diff compares and what the compare page shows side by side. Pure functions.

Names read like ``container web: environment DATABASE_URL``; a value of ``None``
means the field is absent on that side. Containers mirrored before Fleetdeck kept
their details (command, environment, secrets, ...) show those as ``NOT_RECORDED``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

NOT_RECORDED = "not recorded"

# Container details kept only since the mirror recorded them: (group, name prefixes).
DETAIL_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("command", ("command",)),
    ("entry point", ("entry point",)),
    ("environment", ("environment ",)),
    ("secrets", ("secret ",)),
    ("health check", ("health check",)),
    ("log configuration", ("log driver", "log option ")),
    ("stop timeout", ("stop timeout",)),
    ("working directory", ("working directory",)),
    ("user", ("user",)),
    ("ulimits", ("ulimit ",)),
)


@dataclass(frozen=True)
class Revision:
    """One side of a comparison: a task definition, and optionally the service
    settings in force with it (desired count, deployment configuration)."""

    label: str
    cpu: str = ""
    memory: str = ""
    network_mode: str = ""
    task_role_arn: str = ""
    execution_role_arn: str = ""
    containers: list[dict[str, Any]] = field(default_factory=list)
    desired_count: int | None = None
    deployment_configuration: dict[str, Any] | None = None

    @classmethod
    def of(cls, td: Any, **service: Any) -> Revision:
        """From a mirrored ``TaskDefinition`` (any object with its attributes)."""
        return cls(
            label=str(td),
            cpu=td.cpu,
            memory=td.memory,
            network_mode=td.network_mode,
            task_role_arn=td.task_role_arn,
            execution_role_arn=td.execution_role_arn,
            containers=list(td.containers or []),
            **service,
        )


def container_recorded(c: dict[str, Any]) -> bool:
    """Whether the mirror kept this container's details (rows before it did lack them)."""
    return "environment" in c


def image_parts(image: str) -> tuple[str, str | None, str | None]:
    """``repo[:tag][@digest]`` split into (repository, tag, digest). A colon before
    the last slash is a registry port, not a tag."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _health_check(hc: dict[str, Any] | None) -> str | None:
    if not hc:
        return None
    parts = [" ".join(str(x) for x in hc.get("command") or [])]
    for key, label in (("interval", "interval"), ("timeout", "timeout")):
        if hc.get(key) is not None:
            parts.append(f"{label} {hc[key]} s")
    if hc.get("retries") is not None:
        parts.append(f"retries {hc['retries']}")
    if hc.get("startPeriod") is not None:
        parts.append(f"start period {hc['startPeriod']} s")
    return " · ".join(parts)


def _ports(c: dict[str, Any]) -> list[tuple[str, str | None]]:
    out: dict[str, list[str]] = {}
    for p in c.get("portMappings") or []:
        key = f"port {p.get('containerPort')}/{p.get('protocol') or 'tcp'}"
        host = p.get("hostPort")
        out.setdefault(key, []).append(f"host {host}" if host else "host dynamic")
    return [(key, ", ".join(values)) for key, values in sorted(out.items())]


def _image_fields(image: str) -> list[tuple[str, str | None]]:
    repo, tag, digest = image_parts(image)
    return [("image", repo or None), ("image tag", tag), ("image digest", digest)]


def _detail_fields(c: dict[str, Any]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [
        ("command", _text(c.get("command"))),
        ("entry point", _text(c.get("entryPoint"))),
    ]
    out += [(f"environment {e['name']}", e.get("value")) for e in c.get("environment") or []]
    out += [(f"secret {s['name']} (valueFrom)", s.get("valueFrom")) for s in c.get("secrets") or []]
    out.append(("health check", _health_check(c.get("healthCheck"))))
    log = c.get("logConfiguration") or {}
    out.append(("log driver", _text(log.get("logDriver"))))
    out += [(f"log option {k}", _text(v)) for k, v in sorted((log.get("options") or {}).items())]
    stop = c.get("stopTimeout")
    out.append(("stop timeout", None if stop is None else f"{stop} s"))
    out.append(("working directory", _text(c.get("workingDirectory"))))
    out.append(("user", _text(c.get("user"))))
    out += [
        (f"ulimit {u.get('name')}", f"soft {u.get('softLimit')}, hard {u.get('hardLimit')}")
        for u in c.get("ulimits") or []
    ]
    return out


def _grouped(details: list[tuple[str, str | None]], recorded: bool) -> list[tuple[str, str | None]]:
    """The details as one field per group, for comparing with a side that lacks them."""
    out: list[tuple[str, str | None]] = []
    for group, prefixes in DETAIL_GROUPS:
        if not recorded:
            out.append((group, NOT_RECORDED))
            continue
        items = [_item(n, v, prefixes) for n, v in details if v is not None]
        text = ", ".join(i for i in items if i is not None)
        out.append((group, text or None))
    return out


def _item(name: str, value: str, prefixes: tuple[str, ...]) -> str | None:
    """``value`` for a one-value group (``command``), ``KEY=value`` for a keyed one."""
    for prefix in prefixes:
        if name == prefix:
            return value
        if prefix.endswith(" ") and name.startswith(prefix):
            return f"{name[len(prefix) :]}={value}"
    return None


def container_fields(c: dict[str, Any], *, grouped: bool) -> list[tuple[str, str | None]]:
    """One container's fields, named without the ``container <name>: `` prefix.
    ``grouped``: its details one field per group (the other side lacks them)."""
    out = _image_fields(str(c.get("image") or ""))
    out += [
        ("essential", _text(c.get("essential", True))),
        ("cpu", _text(c.get("cpu"))),
        ("memory (hard)", _text(c.get("memory"))),
        ("memory (soft)", _text(c.get("memoryReservation"))),
    ]
    out += _ports(c)
    recorded = container_recorded(c)
    details = _detail_fields(c) if recorded else []
    out += _grouped(details, recorded) if grouped else details
    return out


def task_fields(rev: Revision) -> list[tuple[str, str | None]]:
    return [
        ("task: cpu", rev.cpu or None),
        ("task: memory", rev.memory or None),
        ("task: network mode", rev.network_mode or None),
        ("task: task role", rev.task_role_arn or None),
        ("task: execution role", rev.execution_role_arn or None),
    ]


def _circuit_breaker(conf: dict[str, Any]) -> str:
    cb = conf.get("deploymentCircuitBreaker") or {}
    if not cb.get("enable"):
        return "off"
    return "on, with rollback" if cb.get("rollback") else "on"


def service_fields(rev: Revision) -> list[tuple[str, str | None]]:
    conf = rev.deployment_configuration or {}
    return [
        ("service: desired count", _text(rev.desired_count)),
        ("service: minimum healthy percent", _text(conf.get("minimumHealthyPercent"))),
        ("service: maximum percent", _text(conf.get("maximumPercent"))),
        ("service: circuit breaker", _circuit_breaker(conf)),
    ]
