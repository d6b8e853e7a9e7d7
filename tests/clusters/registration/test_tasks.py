from __future__ import annotations

import pytest

from clusters.registration_tasks import clusters_to_scan, waiting_room_scan_all

from .conftest import activated

pytestmark = pytest.mark.django_db


def test_tasks_registered_with_explicit_names_and_scheduled() -> None:
    from console.celery import _app_schedules, app

    names = {
        "clusters.registration_tasks.activation_create",
        "clusters.registration_tasks.activations_refresh_all",
        "clusters.registration_tasks.waiting_room_scan_all",
        "clusters.registration_tasks.waiting_room_scan",
    }
    assert names <= set(app.tasks)
    scheduled = {entry["task"] for entry in _app_schedules().values()}
    assert {
        "clusters.registration_tasks.activations_refresh_all",
        "clusters.registration_tasks.waiting_room_scan_all",
    } <= scheduled


def test_scan_all_skips_clusters_without_external_capacity(fleet, operator, admin_user) -> None:
    assert clusters_to_scan() == []  # nothing external, nothing requested: no AWS calls
    activated(operator, admin_user, fleet.cluster)
    assert clusters_to_scan() == [fleet.cluster]
    fleet.sandbox.client.reset_request_counts()
    waiting_room_scan_all()
    waiting_room_scan_all()
    counts = fleet.sandbox.client.request_counts()
    # No new instance: one listing per run, and SSM is not asked at all.
    assert counts.get("ecs:ListContainerInstances") == 2
    assert "ssm:DescribeInstanceInformation" not in counts
    # A known instance is listed but not described again.
    from clusters import registration as svc

    code = svc.activation_reveal(
        actor=operator, activation_pk=fleet.cluster.activations.get().pk
    ).code
    fleet.sandbox.client.register_instance(
        activation_id=fleet.cluster.activations.get().activation_id,
        activation_code=code,
        cluster="edge",
    )
    waiting_room_scan_all()
    fleet.sandbox.client.reset_request_counts()
    waiting_room_scan_all()
    assert fleet.sandbox.client.request_counts() == {"ecs:ListContainerInstances": 1}


def test_selectors_have_fixed_query_counts(
    fleet, operator, admin_user, django_assert_max_num_queries, admin_client_
) -> None:
    from django.urls import reverse

    for _ in range(2):
        activated(operator, admin_user, fleet.cluster)
    for name in ("registrations", "activations", "waiting-room", "registration-queue"):
        admin_client_.get(reverse(f"clusters:{name}"))  # warm the session/user caches
        with django_assert_max_num_queries(12) as few:
            admin_client_.get(reverse(f"clusters:{name}"))
        base = len(few.captured_queries)
        for _ in range(2):
            activated(operator, admin_user, fleet.cluster)
        with django_assert_max_num_queries(base):
            admin_client_.get(reverse(f"clusters:{name}"))
