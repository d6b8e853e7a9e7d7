"""A rollback while a deployment is in flight, against the sandbox: the worker finds
the deployment's serviceDeploymentArn (one ListServiceDeployments, status
IN_PROGRESS/PENDING) and calls StopServiceDeployment(stopType=ROLLBACK) on it, then
follows AWS's own rollback deployment (a new ECS deployment id) to a COMPLETED
PRIMARY on the previous task definition. When the deployment has finished before the
worker's call, the rollback falls back to UpdateService once and says so.

AWS: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html
and https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html
("Amazon ECS rolls back to the service revision that was ... before the deployment").
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from clusters.models import Event
from deployments.models import Redeploy, RedeployStatus, RollbackMethod
from deployments.redeploy import redeploy_execute, redeploy_refresh
from deployments.rollback import rollback_plan, service_rollback
from deployments.sync import cluster_sync
from tests.deployments.redeploy_fleet import Fleet, fleet_create
from tests.deployments.rollback.fleet import aws_primary

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


def _register(fleet: Fleet, image: str) -> str:
    return fleet.ecs.register_task_definition(
        family="app",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": image, "cpu": 128, "memory": 256, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]


def _rolling_out(sandbox: Any, *, crash: bool) -> tuple[Fleet, str, str]:
    """``web`` COMPLETED on app:2, then app:3 rolling out (crashing, the breaker off:
    it stays IN_PROGRESS), mirrored. Returns the fleet, app:2's and app:3's ARNs."""
    fleet = fleet_create(sandbox, desired=2, instances=1, rollback=False)
    fleet.ecs.update_service(
        cluster="edge",
        service="web",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
    )
    good = _register(fleet, "example/app:2")
    fleet.ecs.update_service(cluster="edge", service="web", taskDefinition=good)
    for _ in range(8):
        sandbox.client.tick(1)
    assert aws_primary(fleet)["rolloutState"] == "COMPLETED"
    bad = _register(fleet, "example/app:3")
    if crash:
        sandbox.client.crash_task_definition(bad, exit_code=1)
    fleet.ecs.update_service(cluster="edge", service="web", taskDefinition=bad)
    for _ in range(3 if crash else 0):  # a healthy one would complete within 3 ticks
        sandbox.client.tick(1)
    cluster_sync(cluster_id=fleet.services["web"].cluster_id)
    return fleet, good, bad


def _follow(sandbox: Any, rollback: Redeploy, ticks: int = 25) -> Redeploy:
    for _ in range(ticks):
        sandbox.client.tick(1)
        rollback = redeploy_refresh(redeploy_id=rollback.pk)  # type: ignore[assignment]
        if rollback.is_terminal:
            return rollback
    raise AssertionError(f"rollback still {rollback.status} after {ticks} ticks")


def test_a_crashing_rollout_in_flight_is_stopped_and_rolled_back(sandbox, operator) -> None:
    fleet, good, bad = _rolling_out(sandbox, crash=True)
    web = fleet.services["web"]
    stopped = aws_primary(fleet)
    assert stopped["taskDefinition"] == bad and stopped["rolloutState"] == "IN_PROGRESS"
    assert stopped["failedTasks"] > 0  # crashing, and nothing stops it by itself

    plan = rollback_plan(service=web)
    assert plan.method == RollbackMethod.STOP_DEPLOYMENT and plan.refusal is None
    assert str(plan.target_task_definition) == "app:2"
    assert plan.method_summary == (
        f"stops the in-flight deployment {stopped['id']} and rolls back to app:2 "
        "(StopServiceDeployment)"
    )
    sandbox.client.reset_request_counts()
    first = service_rollback(
        service_id=web.pk, actor=operator, reason="app:3 crashes", idempotency_key="k"
    )
    again = service_rollback(
        service_id=web.pk, actor=operator, reason="app:3 crashes", idempotency_key="k"
    )
    other_tab = service_rollback(service_id=web.pk, actor=operator, reason="again")
    assert first.created and not again.created and not other_tab.created
    assert again.redeploy.pk == other_tab.redeploy.pk == first.redeploy.pk
    assert first.redeploy.method == RollbackMethod.STOP_DEPLOYMENT
    executed = redeploy_execute(redeploy_id=first.redeploy.pk)
    assert executed is not None and executed.status == RedeployStatus.IN_PROGRESS
    assert redeploy_execute(redeploy_id=first.redeploy.pk).status != RedeployStatus.QUEUED  # type: ignore[union-attr]
    counts = sandbox.client.request_counts()
    assert counts.get("ecs:StopServiceDeployment") == 1
    assert counts.get("ecs:UpdateService") is None  # no UpdateService: AWS rolls back itself

    rollback = _follow(sandbox, executed)
    assert rollback.status == RedeployStatus.COMPLETED, rollback.aws_error
    assert rollback.method == RollbackMethod.STOP_DEPLOYMENT
    # AWS: the PRIMARY deployment is AWS's rollback (a new id), COMPLETED, on app:2.
    primary = aws_primary(fleet)
    assert primary["id"] == rollback.aws_deployment_id != stopped["id"]
    assert primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED"
    listed = fleet.ecs.list_service_deployments(cluster="edge", service="web")
    assert listed["serviceDeployments"][0]["status"] == "ROLLBACK_SUCCESSFUL"
    assert Redeploy.objects.count() == 1

    started = Event.objects.get(
        details__redeploy_id=rollback.pk, details__serviceDeploymentArn__isnull=False
    )
    assert started.message.startswith(f"Deployment {stopped['id']} of web stopped: rolling back")
    assert "StopServiceDeployment by" in started.message
    done = Event.objects.get(details__redeploy_id=rollback.pk, details__rolled_back=True)
    assert done.message.startswith(f"web rolled back to app:2 (deployment {primary['id']})")


def test_the_confirm_step_and_the_command_name_the_method(sandbox, operator_client) -> None:
    fleet, _, _ = _rolling_out(sandbox, crash=True)
    web = fleet.services["web"]
    stopped = aws_primary(fleet)["id"]
    page = operator_client.get(reverse("deployments:rollback-confirm", args=[web.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-method="stop-deployment"' in html
    assert f"stops the in-flight deployment {stopped} and rolls back to app:2" in html
    assert "(StopServiceDeployment)" in html and "rollback-refused" not in html

    out = StringIO()
    call_command(
        "rollback_service", "--account", web.cluster.account.name, "--cluster", "edge",
        "--service", "web", "--reason", "app:3 crashes", stdout=out,
    )  # fmt: skip
    assert f"method: stops the in-flight deployment {stopped} and rolls back" in out.getvalue()
    assert Redeploy.objects.get().method == RollbackMethod.STOP_DEPLOYMENT


def test_a_deployment_that_finished_meanwhile_falls_back_to_update_service(
    sandbox, operator
) -> None:
    fleet, good, bad = _rolling_out(sandbox, crash=False)
    web = fleet.services["web"]
    assert rollback_plan(service=web).method == RollbackMethod.STOP_DEPLOYMENT  # as mirrored
    for _ in range(8):  # app:3 completes in AWS before the worker's call
        sandbox.client.tick(1)
    assert aws_primary(fleet)["rolloutState"] == "COMPLETED"
    result = service_rollback(service_id=web.pk, actor=operator, reason="undo app:3")
    sandbox.client.reset_request_counts()
    rollback = redeploy_execute(redeploy_id=result.redeploy.pk)
    assert rollback is not None and rollback.method == RollbackMethod.UPDATE_SERVICE
    counts = sandbox.client.request_counts()
    assert counts.get("ecs:StopServiceDeployment") is None
    assert counts.get("ecs:UpdateService") == 1
    started = Event.objects.get(details__redeploy_id=rollback.pk, details__fallback__isnull=False)
    assert (
        "no longer in flight, so UpdateService instead of StopServiceDeployment" in started.message
    )
    rollback = _follow(sandbox, rollback)
    assert rollback.status == RedeployStatus.COMPLETED, rollback.aws_error
    primary = aws_primary(fleet)
    assert primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED"
    assert bad != good


def test_with_stop_deployment_switched_off_a_rollback_in_flight_is_refused(
    sandbox, operator, monkeypatch
) -> None:
    from deployments.rollback import RollbackRefused, start

    fleet, _, _ = _rolling_out(sandbox, crash=True)
    monkeypatch.setattr(start, "STOP_DEPLOYMENT_AVAILABLE", False)
    with pytest.raises(RollbackRefused) as refused:
        service_rollback(service_id=fleet.services["web"].pk, actor=operator, reason="undo")
    assert refused.value.code == "in_flight"
    assert "StopServiceDeployment(ROLLBACK)" in refused.value.message
    assert not Redeploy.objects.exists()
