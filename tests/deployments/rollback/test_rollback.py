"""Rollbacks against the sandbox: the target ("the last revision that completed"),
the UpdateService call, following it to a COMPLETED PRIMARY on that revision as AWS
reports it, the "rolled back" timeline event and audit entry; refusals;
idempotency; the circuit breaker's own rollback reported as rolled back."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.models import AuditEntry, Event
from deployments.models import Redeploy, RedeployKind, RedeployStatus, RollbackMethod
from deployments.redeploy import redeploy_execute, redeploy_refresh, service_force_redeploy
from deployments.rollback import RollbackRefused, rollback_plan, service_rollback
from tests.deployments.redeploy_fleet import fleet_create
from tests.deployments.rollback.fleet import aws_primary, broken_release

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


def _follow(sandbox: Any, redeploy: Redeploy, ticks: int = 20) -> Redeploy:
    for _ in range(ticks):
        sandbox.client.tick(1)
        redeploy = redeploy_refresh(redeploy_id=redeploy.pk)  # type: ignore[assignment]
        if redeploy.is_terminal:
            return redeploy
    raise AssertionError(f"rollback still {redeploy.status} after {ticks} ticks")


def test_rollback_after_a_failed_release_puts_aws_back_on_the_revision_that_completed(
    sandbox, operator
) -> None:
    fleet, broken = broken_release(sandbox)
    web = fleet.services["web"]
    assert aws_primary(fleet)["rolloutState"] == "FAILED"
    plan = rollback_plan(service=web)
    assert plan.current_task_definition is not None
    assert plan.current_task_definition.arn == broken
    assert plan.target_task_definition is not None
    assert plan.target_task_definition.arn == fleet.task_definition_arn
    assert plan.refusal is None and plan.method == RollbackMethod.UPDATE_SERVICE

    result = service_rollback(service_id=web.pk, actor=operator, reason="app:2 crashes")
    rollback = result.redeploy
    assert result.created and rollback.kind == RedeployKind.ROLLBACK
    assert rollback.target_task_definition_arn == fleet.task_definition_arn
    executed = redeploy_execute(redeploy_id=rollback.pk)  # the worker's call
    assert executed is not None
    rollback = _follow(sandbox, executed)
    assert rollback.status == RedeployStatus.COMPLETED, rollback.aws_error

    # AWS, not only the mirror: the PRIMARY deployment is the rollback's, COMPLETED,
    # on app:1 (example/app:1).
    primary = aws_primary(fleet)
    assert primary["id"] == rollback.aws_deployment_id
    assert primary["taskDefinition"] == fleet.task_definition_arn
    assert primary["rolloutState"] == "COMPLETED"
    assert sandbox.client.request_counts().get("ecs:UpdateService") == 2  # release + rollback

    event = Event.objects.get(details__redeploy_id=rollback.pk, details__rolled_back=True)
    assert event.message.startswith("web rolled back to app:1 (deployment ")
    audit = AuditEntry.objects.get(action="service.rollback")
    assert audit.details["from"] == broken and audit.details["to"] == fleet.task_definition_arn
    assert "from app:2 to app:1: app:2 crashes" in audit.message
    # Nothing left to roll back to: app:1 is current and the only completed revision.
    assert rollback_plan(service=web).refusal is not None


def test_refused_without_an_earlier_completed_revision(sandbox, operator) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    web = fleet.services["web"]
    with pytest.raises(RollbackRefused) as refused:
        service_rollback(service_id=web.pk, actor=operator, reason="undo")
    assert refused.value.code == "no_target"
    assert "nothing to roll back to" in refused.value.message and "app:1" in refused.value.message
    assert not Redeploy.objects.exists()
    assert sandbox.client.request_counts().get("ecs:UpdateService") is None


def test_refused_without_a_reason_and_with_an_unknown_revision(sandbox, operator) -> None:
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    with pytest.raises(RollbackRefused) as refused:
        service_rollback(service_id=web.pk, actor=operator, reason="  ")
    assert refused.value.code == "reason"
    with pytest.raises(RollbackRefused) as refused:
        service_rollback(service_id=web.pk, actor=operator, reason="x", to_revision="app:7")
    assert refused.value.code == "no_target"
    plan = rollback_plan(service=web, to_revision="1")
    assert plan.target_task_definition is not None and str(plan.target_task_definition) == "app:1"


def test_double_clicks_and_two_tabs_start_one_rollback(sandbox, operator) -> None:
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    first = service_rollback(service_id=web.pk, actor=operator, reason="r", idempotency_key="k")
    again = service_rollback(service_id=web.pk, actor=operator, reason="r", idempotency_key="k")
    other_tab = service_rollback(service_id=web.pk, actor=operator, reason="r2")
    assert first.created and not again.created and not other_tab.created
    assert again.redeploy.pk == other_tab.redeploy.pk == first.redeploy.pk
    assert Redeploy.objects.count() == 1
    assert AuditEntry.objects.filter(action="service.rollback").count() == 1
    # A forced redeploy while it runs answers with the running rollback, never a second.
    busy = service_force_redeploy(service_id=web.pk, actor=operator, reason="r3")
    assert not busy.created and busy.redeploy.pk == first.redeploy.pk


def test_a_rollback_while_a_redeploy_runs_is_refused(sandbox, operator) -> None:
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    service_force_redeploy(
        service_id=web.pk, actor=operator, reason="again", confirm_mid_rollout=True
    )
    with pytest.raises(RollbackRefused) as refused:
        service_rollback(service_id=web.pk, actor=operator, reason="undo")
    assert refused.value.code == "busy"


def test_the_circuit_breakers_own_rollback_is_reported_as_rolled_back(sandbox, operator) -> None:
    """A forced redeploy of a revision that now crashes: the breaker fails it and
    rolls back by itself; the redeploy is "failed and was rolled back", never
    "completed", though the service's PRIMARY deployment ends COMPLETED."""
    fleet = fleet_create(sandbox, desired=2, instances=1, rollback=True)
    web = fleet.services["web"]
    sandbox.client.crash_task_definition(fleet.task_definition_arn, exit_code=1)
    result = service_force_redeploy(service_id=web.pk, actor=operator, reason="refresh")
    redeploy = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert redeploy is not None
    for _ in range(12):
        sandbox.client.tick(1)
        if aws_primary(fleet)["id"] != redeploy.aws_deployment_id:
            break
    sandbox.client.crash_task_definition(fleet.task_definition_arn, crash=False)
    redeploy = _follow(sandbox, redeploy)
    assert redeploy.status == RedeployStatus.FAILED
    primary = aws_primary(fleet)
    assert primary["id"] != redeploy.aws_deployment_id
    assert "circuit breaker rolled web back to app:1" in redeploy.aws_error
    event = Event.objects.get(details__redeploy_id=redeploy.pk, details__rolled_back=True)
    assert "failed and was rolled back" in event.message
    assert not Event.objects.filter(
        details__redeploy_id=redeploy.pk, message__contains="completed"
    ).exists()
