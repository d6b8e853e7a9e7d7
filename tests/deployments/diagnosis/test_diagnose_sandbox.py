"""Diagnoses on a fleet in trouble made in the sandbox AWS peer and synced through
the real adapter: an OOM-killed task (page and API name memory with the limit and a
fix), the service it belongs to (aggregated), a revision that cannot be placed (the
numbers), and an image the registry does not have (a pull diagnosis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from deployments.diagnosis import service_diagnose, services_diagnose, task_diagnose
from deployments.health import health_refresh
from deployments.models import Service, Task
from deployments.sync import account_sync
from tests.deployments.health.trouble import OOM, trouble_fleet
from tests.ecs_seed import boto

pytestmark = pytest.mark.django_db


@pytest.fixture
def trouble(sandbox: Any) -> Any:
    account = trouble_fleet(sandbox)
    health_refresh()
    return account


def _oom_task() -> Task:
    task = (
        Task.objects.filter(service__name="worker", containers__reason__contains="OutOfMemory")
        .select_related("service", "task_definition")
        .order_by("-stopped_at")
        .first()
    )
    assert task is not None
    return task


def test_an_oom_killed_task_names_memory_with_its_limit(
    trouble: Any, viewer_client: Client
) -> None:
    task = _oom_task()
    found = task_diagnose(task)
    assert found is not None and found.code == "oom-killed"
    assert found.evidence["memory_hard_mib"] == 512  # worker's container limit (seed)
    assert found.evidence["container"] == "worker"
    assert found.evidence["same_way"] >= 3
    assert "512 MiB limit" in found.summary

    html = viewer_client.get(f"/tasks/{task.pk}/").content.decode()
    assert 'data-diagnosis="oom-killed"' in html
    assert "512" in html and "Fix." in html and "ecs-resolve-outofmemory-errors" in html

    body = viewer_client.get(f"/api/v1/tasks/{task.pk}").json()
    d = body["diagnosis"]
    assert d["code"] == "oom-killed" and "memory" in d["title"].lower()
    assert d["evidence"]["memory_hard_mib"] == 512 and d["fix"]
    assert d["docs_url"].startswith("https://repost.aws/")
    # Lists stay lean: no diagnosis per row.
    assert "diagnosis" not in viewer_client.get("/api/v1/tasks").json()["results"][0]


def test_the_service_with_repeated_oom_kills_is_diagnosed_in_aggregate(
    trouble: Any, viewer_client: Client
) -> None:
    worker = Service.objects.get(name="worker")
    found = service_diagnose(worker)
    assert found is not None and found.code == "oom-killed"
    assert found.evidence["tasks"] >= 3
    assert (
        f"{found.evidence['tasks']} of the last {found.evidence['of']} tasks were OOM-killed"
        in (found.summary)
    )
    assert "container worker hits its 512 MiB limit" in found.summary
    html = viewer_client.get(f"/services/{worker.pk}/").content.decode()
    assert 'id="service-diagnosis"' in html and found.summary in html
    api = viewer_client.get(f"/api/v1/services/{worker.pk}").json()
    assert api["diagnosis"]["code"] == "oom-killed"
    # A healthy service has nothing wrong: null.
    healthy = Service.objects.filter(health_state="healthy").first()
    assert healthy is not None
    assert viewer_client.get(f"/api/v1/services/{healthy.pk}").json()["diagnosis"] is None


def test_a_revision_that_cannot_be_placed_has_the_numbers(
    trouble: Any, viewer_client: Client
) -> None:
    plc = Service.objects.get(name="plc-bridge")
    found = service_diagnose(plc)
    assert found is not None and found.code == "place-memory", found
    ev = found.evidence
    assert ev["requested"] > ev["largest_free"] and ev["unit"] == "MiB"
    assert f"largest free: {ev['largest_free']} MiB" in found.summary
    reason = next(r for r in plc.health_reasons if r["code"] == "cannot-place")
    assert found.summary == reason["message"]  # one truth: the health model's words
    api = viewer_client.get(f"/api/v1/services/{plc.pk}").json()
    assert api["diagnosis"]["evidence"]["requested"] == ev["requested"]


def test_an_image_the_registry_lacks_gets_a_pull_diagnosis(trouble: Any, sandbox: Any) -> None:
    ecs = boto("ecs", sandbox.url)
    role = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    ecs.register_task_definition(
        family="broken",
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        executionRoleArn=role,
        containerDefinitions=[
            {"name": "app", "image": "ghcr.io/acme/broken:9.9", "memory": 128, "essential": True}
        ],
    )
    sandbox.client.missing_image("ghcr.io/acme/broken:9.9")
    ecs.create_service(
        cluster="prod-ec2", serviceName="broken", taskDefinition="broken", desiredCount=1,
        launchType="EC2",
    )  # fmt: skip
    sandbox.client.tick(3)
    run = account_sync(account_id=trouble.pk)
    assert run is not None and run.status == "succeeded"
    health_refresh()
    broken = Service.objects.get(name="broken")
    found = service_diagnose(broken)
    assert found is not None and found.code == "pull-not-found", found
    assert found.evidence["image"] == "ghcr.io/acme/broken:9.9"
    assert found.evidence["execution_role_arn"] == role
    task = Task.objects.filter(service=broken, last_status="STOPPED").first()
    assert task is not None and task.stop_code == "TaskFailedToStart"
    assert task_diagnose(task).code == "pull-not-found"  # type: ignore[union-attr]


def test_diagnosing_many_services_takes_a_fixed_number_of_queries(
    trouble: Any, django_assert_max_num_queries: Any
) -> None:
    services = list(Service.objects.all())
    with django_assert_max_num_queries(1):
        found = services_diagnose(services)
    assert {"worker", "plc-bridge"} <= {s.name for s in services if s.pk in found}


def test_an_oom_reason_string_is_the_one_the_sandbox_reports() -> None:
    assert OOM == "OutOfMemoryError: Container killed due to memory usage"
