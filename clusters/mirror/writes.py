"""Generic mirror writes, shared by the infrastructure and workload syncs: write
only what changed, in bulk, and count what was written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models


@dataclass
class SyncStats:
    created: int = 0
    updated: int = 0
    gone: int = 0
    events: int = 0
    errors: list[str] = field(default_factory=list)
    # Time the calls waited for the shared API budget (clusters/aws/budget.py).
    budget_wait_ms: int = 0

    def add(self, other: SyncStats) -> None:
        self.created += other.created
        self.updated += other.updated
        self.gone += other.gone
        self.events += other.events
        self.budget_wait_ms += other.budget_wait_ms
        self.errors.extend(other.errors)

    @property
    def writes(self) -> int:
        return self.created + self.updated + self.gone


def changed_fields(obj: models.Model, values: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose stored value differs from ``values``; sets them."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def mirror_write(
    model: type[models.Model],
    *,
    new: list[Any],
    changed: list[tuple[Any, list[str]]],
    stats: SyncStats,
    now: datetime,
) -> None:
    """bulk_create ``new`` and bulk_update the ``changed`` rows (only their fields)."""
    if new:
        model.objects.bulk_create(new, batch_size=500)  # type: ignore[attr-defined]
        stats.created += len(new)
    if changed:
        fields: set[str] = set()
        objs = []
        for obj, names in changed:
            if hasattr(obj, "last_seen_at"):
                obj.last_seen_at = now
                names = [*names, "last_seen_at"]
            fields.update(names)
            objs.append(obj)
        model.objects.bulk_update(objs, sorted(fields), batch_size=500)  # type: ignore[attr-defined]
        stats.updated += len(objs)


def rows_insert(model: type[models.Model], rows: list[dict[str, Any]], *, batch: int = 500) -> int:
    """Insert plain dicts with ``executemany``: for the thousands of rows of a first
    sync, building model instances and Django's per-value SQL compilation cost more
    than the AWS calls. Columns left out get the field's default. No JSON fields."""
    if not rows:
        return 0
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if any(isinstance(f, models.JSONField) for f in fields):
        raise TypeError(f"rows_insert does not handle JSON fields ({model.__name__})")
    ops = connection.ops
    adapt: list[Any] = []
    for f in fields:
        if isinstance(f, models.DateTimeField):
            adapt.append(ops.adapt_datetimefield_value)
        else:
            adapt.append(None)
    names = [f.attname for f in fields]
    defaults = {
        f.attname: (f.get_default() if f.has_default() or not f.null else None) for f in fields
    }
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - names from _meta
    params = []
    for row in rows:
        values = []
        for name, fn in zip(names, adapt, strict=True):
            value = row[name] if name in row else defaults[name]
            values.append(fn(value) if fn is not None and value is not None else value)
        params.append(values)
    with connection.cursor() as cursor:
        for i in range(0, len(params), batch):
            cursor.executemany(sql, params[i : i + batch])
    return len(rows)
