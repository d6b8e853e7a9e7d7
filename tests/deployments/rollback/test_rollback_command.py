"""``manage.py rollback_service``: --wait follows the rollback in the command
process until AWS reports it COMPLETED (exit 0); refusals exit non-zero."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from deployments.models import Redeploy, RedeployStatus
from tests.deployments.redeploy_fleet import fleet_create
from tests.deployments.rollback.fleet import aws_primary, broken_release

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings) -> None:
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0
    settings.FLEETDECK_REDEPLOY_POLL_SECONDS = 1


def _args(service: str = "web", *more: str) -> list[str]:
    return ["--account", "sandbox", "--cluster", "edge", "--service", service, *more]


class _Clock:
    """AWS's clock moving while the command waits (the sandbox's manual clock)."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox, self.stop = sandbox, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.4):
            self.sandbox.client.tick(1)

    def __enter__(self) -> _Clock:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(5)


def test_wait_follows_the_rollback_to_completed(sandbox) -> None:
    fleet, _ = broken_release(sandbox)
    out = io.StringIO()
    with _Clock(sandbox):
        call_command(
            "rollback_service", *_args("web", "--reason", "app:2 crashes", "--wait"), stdout=out
        )
    text = out.getvalue()
    rollback = Redeploy.objects.get()
    assert rollback.status == RedeployStatus.COMPLETED and rollback.requested_by is None
    assert f"rollback #{rollback.pk} of web to app:1: requested" in text
    assert "in_progress: deployment" in text and "completed: web runs app:1" in text
    primary = aws_primary(fleet)
    assert primary["taskDefinition"] == fleet.task_definition_arn
    assert primary["rolloutState"] == "COMPLETED" and primary["id"] == rollback.aws_deployment_id


def test_refused_with_nothing_to_roll_back_to(sandbox) -> None:
    fleet_create(sandbox, desired=1, instances=1)
    with pytest.raises(CommandError) as refused:
        call_command("rollback_service", *_args("web", "--reason", "undo", "--wait"))
    assert refused.value.returncode == 2
    assert "refused: There is nothing to roll back to" in str(refused.value)
    with pytest.raises(CommandError, match="no service named 'nope'"):
        call_command("rollback_service", *_args("nope", "--reason", "undo"))


def test_without_wait_the_rollback_is_queued_for_the_worker(sandbox) -> None:
    broken_release(sandbox)
    out = io.StringIO()
    call_command("rollback_service", *_args("web", "--reason", "undo", "--to", "app:1"), stdout=out)
    rollback = Redeploy.objects.get()
    assert rollback.status == RedeployStatus.QUEUED and rollback.dispatched_at is not None
    assert "requested" in out.getvalue()


def test_wait_exits_1_when_the_rollback_fails(sandbox) -> None:
    """app:1 now crashes too: the breaker fails the rollback's deployment."""
    fleet, _ = broken_release(sandbox)
    sandbox.client.crash_task_definition(fleet.task_definition_arn, exit_code=1)
    out = io.StringIO()
    with _Clock(sandbox), pytest.raises(CommandError) as failed:
        call_command("rollback_service", *_args("web", "--reason", "undo", "--wait"), stdout=out)
    assert failed.value.returncode == 1
    rollback = Redeploy.objects.get()
    assert rollback.status == RedeployStatus.FAILED
    assert f"rollback #{rollback.pk} failed: " in str(failed.value)
    assert "tasks failed to start" in str(failed.value)
