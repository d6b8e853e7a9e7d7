"""Reading revisions from the mirror: each deployment against the one before it
(by AWS's created time), and the two sides of a compare page. Fixed query
counts: a page of deployments costs one extra query, whatever its length."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery

from deployments.models import Deployment, TaskDefinition
from deployments.revisions.diff import Change, revision_diff
from deployments.revisions.fields import NOT_RECORDED, Revision

SUMMARY_MAX = 6


def with_previous(deployments: QuerySet[Deployment]) -> QuerySet[Deployment]:
    """Annotate ``previous_pk``: the service's deployment created just before each."""
    before = Deployment.objects.filter(
        service=OuterRef("service"), created_at_aws__lt=OuterRef("created_at_aws")
    ).order_by("-created_at_aws", "-id")
    return deployments.annotate(previous_pk=Subquery(before.values("pk")[:1]))


def td_changes(before: TaskDefinition | None, after: TaskDefinition | None) -> list[Change] | None:
    """None when a side's task definition is not mirrored; [] for the same one."""
    if before is None or after is None:
        return None
    if before.pk == after.pk:
        return []
    return revision_diff(Revision.of(before), Revision.of(after))


def changes_attach(deployments: Iterable[Deployment]) -> None:
    """Set ``previous`` (the deployment before, or None) and ``changes`` (against
    it; None when there is none or a task definition is not mirrored) on each
    deployment of a ``with_previous`` queryset, loaded with its task definition.
    One query for all the previous deployments."""
    rows = list(deployments)
    wanted = {getattr(d, "previous_pk", None) for d in rows} - {None}
    previous = Deployment.objects.select_related("task_definition").in_bulk(wanted)
    for d in rows:
        prev = previous.get(getattr(d, "previous_pk", None))
        d.previous = prev  # type: ignore[attr-defined]
        d.changes = (  # type: ignore[attr-defined]
            td_changes(prev.task_definition, d.task_definition) if prev is not None else None
        )
        d.change_summary = changes_summarize(d.changes)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ChangeSummary:
    """For a table cell: the first changes, the fields not recorded, how many more."""

    shown: list[Change]
    not_recorded: list[str]
    more: int


def changes_summarize(changes: list[Change] | None) -> ChangeSummary | None:
    if changes is None:
        return None
    known = [c for c in changes if NOT_RECORDED not in (c.before, c.after)]
    unknown = [c.field for c in changes if NOT_RECORDED in (c.before, c.after)]
    return ChangeSummary(known[:SUMMARY_MAX], unknown, max(0, len(known) - SUMMARY_MAX))
