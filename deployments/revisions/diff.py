"""What changed between two revisions of a service: the compare page's side-by-side
lines and the API's ``changes: [{field, before, after}]``. Pure functions over
``Revision`` (no database, no AWS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployments.revisions.fields import (
    NOT_RECORDED,
    Revision,
    container_fields,
    container_recorded,
    service_fields,
    task_fields,
)


@dataclass(frozen=True)
class Line:
    """One field of the side-by-side view; ``None`` is absent on that side."""

    section: str  # "task", "service" or "container <name>"
    field: str
    before: str | None
    after: str | None

    @property
    def state(self) -> str:
        """``same``, ``changed``, or ``unknown`` (a side was not recorded)."""
        if NOT_RECORDED in (self.before, self.after):
            return "unknown"
        return "same" if self.before == self.after else "changed"


@dataclass(frozen=True)
class Change:
    field: str
    before: str | None
    after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after}


def _merged(before: list[str], after: list[str]) -> list[str]:
    """``after``'s order, with what only ``before`` has slotted in where it was."""
    order = list(after)
    previous: str | None = None
    for name in before:
        if name not in order:
            order.insert(order.index(previous) + 1 if previous is not None else 0, name)
        previous = name
    return order


def _pairs(
    section: str, before: list[tuple[str, str | None]], after: list[tuple[str, str | None]]
) -> list[Line]:
    b, a = dict(before), dict(after)
    names = _merged([n for n, _ in before], [n for n, _ in after])
    prefix = "" if section in ("task", "service") else f"{section}: "
    return [Line(section, prefix + n, b.get(n), a.get(n)) for n in names]


def _containers(before: Revision, after: Revision) -> list[Line]:
    by_b = {c.get("name", ""): c for c in before.containers}
    by_a = {c.get("name", ""): c for c in after.containers}
    lines: list[Line] = []
    for name in _merged(list(by_b), list(by_a)):
        cb, ca = by_b.get(name), by_a.get(name)
        grouped = not all(container_recorded(c) for c in (cb, ca) if c is not None)
        fb = container_fields(cb, grouped=grouped) if cb is not None else []
        fa = container_fields(ca, grouped=grouped) if ca is not None else []
        lines += _pairs(f"container {name}", fb, fa)
    return lines


def _with_service(before: Revision, after: Revision) -> bool:
    def has(r: Revision) -> bool:
        return r.desired_count is not None or r.deployment_configuration is not None

    return has(before) and has(after)


def revision_lines(before: Revision, after: Revision) -> list[Line]:
    """Every field of both sides, in order: task, service (when both sides carry
    the service's settings), then each container."""
    lines = _pairs("task", task_fields(before), task_fields(after))
    if _with_service(before, after):
        lines += _pairs("service", service_fields(before), service_fields(after))
    return lines + _containers(before, after)


def _image(containers: list[dict[str, Any]], name: str) -> str | None:
    for c in containers:
        if c.get("name", "") == name:
            return str(c.get("image") or "") or None
    return None


def revision_diff(before: Revision, after: Revision) -> list[Change]:
    """The fields that differ (or cannot be told: ``"not recorded"``). A container
    added or removed is one change, ``container <name>``, its image on the side it
    is on, rather than a change per field."""
    names_b = {c.get("name", "") for c in before.containers}
    names_a = {c.get("name", "") for c in after.containers}
    changes: list[Change] = []
    reported: set[str] = set()
    for line in revision_lines(before, after):
        if line.state == "same" or line.section in reported:
            continue
        name = line.section.removeprefix("container ")
        if line.section.startswith("container ") and (name in names_b) != (name in names_a):
            reported.add(line.section)
            b, a = _image(before.containers, name), _image(after.containers, name)
            changes.append(Change(line.section, b, a))
            continue
        changes.append(Change(line.field, line.before, line.after))
    return changes
