"""One truth: on a fleet in trouble, every page's badges, the dashboard, the
wallboard, the JSON API and /metrics give each subject the same health state."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
from django.test import Client

from clusters.health import RANK
from clusters.models import Cluster, ContainerInstance, DockerHost, Event, EventSource
from deployments.health import health_refresh
from deployments.models import Service
from tests.deployments.health.trouble import trouble_fleet

pytestmark = pytest.mark.django_db

BADGE = re.compile(r'data-subject="([a-z]+:\d+)" data-health="([a-z]+)"')


@pytest.fixture
def trouble(sandbox: Any) -> None:
    trouble_fleet(sandbox)
    health_refresh()


def _pages() -> list[str]:
    pages = ["/", "/?tv=1", "/clusters/", "/services/", "/services/?state=unhealthy", "/instances/"]
    pages += ["/docker-hosts/"]
    for c in Cluster.objects.all():
        pages += [f"/clusters/{c.pk}/", f"/clusters/{c.pk}/?tab=instances"]
        pages += [f"/clusters/{c.pk}/redeploy/"]
    pages += [f"/services/{s.pk}/" for s in Service.objects.all()]
    pages += [f"/instances/{i.pk}/" for i in ContainerInstance.objects.all()]
    pages += [f"/docker-hosts/{h.name}/" for h in DockerHost.objects.all()]
    return pages


def _badges(client: Client) -> dict[str, dict[str, set[str]]]:
    """subject -> state -> the pages that show it."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for url in _pages():
        response = client.get(url)
        assert response.status_code == 200, url
        for subject, state in BADGE.findall(response.content.decode()):
            seen[subject][state].add(url)
    return seen


def _api(client: Client) -> dict[str, str]:
    states = {}
    for kind, resource in (
        ("service", "services"),
        ("cluster", "clusters"),
        ("instance", "instances"),
        ("account", "accounts"),
        ("host", "hosts"),
    ):
        body = client.get(f"/api/v1/{resource}?limit=500").json()
        for row in body["results"]:
            assert set(row["health"]) >= {"state", "reasons"}
            states[f"{kind}:{row['id']}"] = row["health"]["state"]
    return states


def test_every_surface_agrees(trouble: None, operator_client: Client, settings: Any) -> None:
    badges = _badges(operator_client)  # operators also see the bulk redeploy page
    api = _api(operator_client)
    for subject, states in badges.items():
        assert len(states) == 1, f"{subject} shown as {dict(states)}"
        [state] = states
        assert api[subject] == state, (subject, state, api[subject])
    # The fleet (dashboard tile, wallboard total) is its worst subject, hosts included.
    html = operator_client.get("/").content.decode()
    [fleet] = set(re.findall(r'data-subject="fleet" data-health="([a-z]+)"', html))
    assert fleet == max(api.values(), key=lambda s: RANK[s])
    # Every service, cluster and instance has a badge somewhere.
    assert {s for s in api if not s.startswith("account")} <= set(badges)
    # /metrics: the one series at 1 per service is the API's state.
    settings.FLEETDECK_METRICS_TOKEN = "t0ken"
    text = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    at_one = {}
    for labels in re.findall(r"^fleetdeck_service_health\{(.*)\} 1$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        at_one[(found["cluster"], found["service"])] = found["state"]
    for svc in Service.objects.select_related("cluster"):
        assert at_one[(svc.cluster.name, svc.name)] == api[f"service:{svc.pk}"], svc.name


def test_each_kind_of_trouble_is_named_and_on_the_dashboard(
    trouble: None, viewer_client: Client
) -> None:
    states = {s.name: s for s in Service.objects.all()}
    expected = {
        "api": ("failing", "rollout-failed"),
        "plc-bridge": ("failing", "cannot-place"),
        "worker": ("failing", "crash-loop"),
        "metrics": ("down", "no-tasks-running"),
    }
    for name, (state, code) in expected.items():
        svc = states[name]
        assert svc.health_state == state, (name, svc.health_reasons)
        assert code in {r["code"] for r in svc.health_reasons}, name
    assert states["worker"].running_count == states["worker"].desired_count == 2
    assert states["camera-agent"].health_state == "healthy"
    worst = max(expected, key=lambda n: RANK[states[n].health_state])
    assert worst == "metrics"
    # The dashboard: one row per broken service, the worst first among them.
    html = viewer_client.get("/").content.decode()
    rows = re.findall(r'data-fingerprint="health:service:[^"]*/([\w-]+)"', html)
    assert sorted(rows) == sorted(set(rows)) and set(expected) <= set(rows)
    assert rows.index("metrics") < min(rows.index(n) for n in ("api", "plc-bridge", "worker"))


def test_the_timeline_gives_the_same_facts_the_same_severity(trouble: None) -> None:
    api = Service.objects.get(name="api")
    failed = Event.objects.filter(service_arn=api.arn, message__icontains="failed")
    assert failed.exists() and set(failed.values_list("severity", flat=True)) == {"error"}
    plc = Service.objects.get(name="plc-bridge")
    placement = Event.objects.filter(
        service_arn=plc.arn,
        source=EventSource.ECS_SERVICE_EVENT,
        message__contains="unable to place",
    )
    assert placement.exists() and set(placement.values_list("severity", flat=True)) == {"error"}
