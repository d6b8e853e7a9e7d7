"""A small mirrored fleet with its event stream set up, and a real follow_events."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount
from deployments.sync import account_sync
from tests.ecs_seed import seed_external_fleet
from tests.peers import django_process


@pytest.fixture
def streamed(sandbox: Any, settings: Any) -> AwsAccount:
    """3 instances, 2 services x 3 tasks, synced once; setup_event_stream run."""
    settings.FLEETDECK_STREAM_VISIBILITY_SECONDS = 10
    seed_external_fleet(sandbox, cluster="edge", instances=3, services=2, tasks_per_service=3)
    clients_forget()
    account = AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    out = StringIO()
    call_command("setup_event_stream", account="sbx", stdout=out)
    assert "created queue" in out.getvalue(), out.getvalue()
    return account


@contextmanager
def follow_events_process(
    log_path: Path, wait: int = 20, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py follow_events`` as a real process (its own process group); ``env``:
    settings for it (e.g. FLEETDECK_STREAM_BATCH_SECONDS="8")."""
    argv = ["manage.py", "follow_events", "--wait", str(wait)]
    with django_process(
        argv, {"PYTHONUNBUFFERED": "1", **env}, log_path=log_path, term_wait=30, log_mode="ab"
    ) as proc:
        yield proc
