"""The API's list filters: every enumerated filter refuses an unknown value with a
400 that names the parameter and what it accepts (never the value itself), accepts
its values in any case, and filters by them; filters do not apply to one object."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from clusters.models import AwsAccount, Cluster, ContainerInstance, DockerHost, Event
from console.api.filters import EnumFilter
from console.api.resources import RESOURCES
from deployments.models import Deployment, Service, Task
from tests.security.hostile import SCRIPT

pytestmark = pytest.mark.django_db

ARN = "arn:aws:ecs:us-east-1:123456789012"


def _enum_filters() -> list[tuple[str, str, tuple[str, ...]]]:
    """(resource, parameter, accepted values) for every enumerated filter, found
    from the FilterSets so a new one is covered the moment it is added."""
    found = []
    for resource, viewset in RESOURCES.items():
        filterset = getattr(viewset, "filterset_class", None)
        for param, flt in (filterset.base_filters if filterset else {}).items():
            if isinstance(flt, EnumFilter):
                values = tuple(str(value) for value, _label in flt.extra["choices"])
                found.append((resource, param, values))
    return found


ENUM_FILTERS = _enum_filters()


def test_the_enumerated_filters_are_found() -> None:
    found = {(resource, param) for resource, param, _ in ENUM_FILTERS}
    assert {
        ("clusters", "status"),
        ("instances", "status"),
        ("services", "status"),
        ("deployments", "status"),
        ("tasks", "status"),
        ("events", "source"),
        ("events", "severity"),
        ("hosts", "reachable"),
        ("hosts", "enabled"),
    } <= found


@pytest.mark.parametrize(("resource", "param", "values"), ENUM_FILTERS)
@pytest.mark.parametrize("bad", ["BOGUS", SCRIPT, "RUNNING,STOPPED", "true!", ""])
def test_an_unknown_value_is_a_400_naming_the_parameter(
    viewer_client: Client, resource: str, param: str, values: tuple[str, ...], bad: str
) -> None:
    response = viewer_client.get(f"/api/v1/{resource}", {param: bad})
    assert response.status_code == 400, (resource, param, response.content[:200])
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"message", "errors"}
    assert list(body["errors"]) == [param]
    (error,) = body["errors"][param]
    assert error.startswith(f"{param} must be one of ")
    assert all(value in error for value in values)
    assert body["message"] == error
    assert not bad or bad not in response.content.decode()  # never echoed back


@pytest.mark.parametrize(("resource", "param", "values"), ENUM_FILTERS)
def test_every_accepted_value_answers_in_any_case(
    viewer_client: Client, resource: str, param: str, values: tuple[str, ...]
) -> None:
    for value in values:
        for spelling in (value, value.lower(), value.upper(), f" {value} "):
            response = viewer_client.get(f"/api/v1/{resource}", {param: spelling})
            assert response.status_code == 200, (resource, param, spelling)
    # Given but empty is refused as well (the schema's enum has no "").
    assert viewer_client.get(f"/api/v1/{resource}", {param: ""}).status_code == 400
    assert viewer_client.get(f"/api/v1/{resource}", {param: " "}).status_code == 400


def _results(client: Client, url: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content)["results"]


@pytest.fixture
def fleet() -> Cluster:
    account = AwsAccount.objects.create(
        name="acct", regions=["us-east-1"], auth_mode="endpoint", account_id="123456789012"
    )
    cluster = Cluster.objects.create(
        account=account, region="us-east-1", arn=f"{ARN}:cluster/edge", name="edge"
    )
    Cluster.objects.create(
        account=account,
        region="us-east-1",
        arn=f"{ARN}:cluster/old",
        name="old",
        status="INACTIVE",
    )
    for n, status in enumerate(("ACTIVE", "DRAINING")):
        ContainerInstance.objects.create(
            cluster=cluster, arn=f"{ARN}:container-instance/edge/{n}", status=status
        )
    web = Service.objects.create(
        cluster=cluster, arn=f"{ARN}:service/edge/web", name="web", status="ACTIVE"
    )
    Service.objects.create(
        cluster=cluster, arn=f"{ARN}:service/edge/gone", name="gone", status="INACTIVE"
    )
    Deployment.objects.create(service=web, deployment_id="ecs-svc/1", status="PRIMARY")
    Deployment.objects.create(service=web, deployment_id="ecs-svc/0", status="INACTIVE")
    for n, status in enumerate(("RUNNING", "STOPPED", "STOPPED")):
        Task.objects.create(
            cluster=cluster, service=web, arn=f"{ARN}:task/edge/{n}", last_status=status
        )
    Event.objects.create(source="task", severity="error", message="oom", dedupe_key="e1")
    Event.objects.create(source="sync", severity="info", message="synced", dedupe_key="e2")
    Event.objects.create(source="audit", severity="info", message="redeploy", dedupe_key="e3")
    DockerHost.objects.create(name="up", endpoint="tcp://up:2376", reachable=True)
    DockerHost.objects.create(name="down", endpoint="tcp://down:2376", enabled=False)
    return cluster


def test_each_enumerated_filter_selects_what_it_names(
    fleet: Cluster, viewer_client: Client
) -> None:
    c = viewer_client
    assert [r["name"] for r in _results(c, "/api/v1/clusters", status="inactive")] == ["old"]
    assert [r["status"] for r in _results(c, "/api/v1/instances", status="draining")] == [
        "DRAINING"
    ]
    assert [r["name"] for r in _results(c, "/api/v1/services", status="Active")] == ["web"]
    assert [r["deployment_id"] for r in _results(c, "/api/v1/deployments", status="primary")] == [
        "ecs-svc/1"
    ]
    stopped = _results(c, "/api/v1/tasks", status="stopped")
    assert len(stopped) == 2 and {t["last_status"] for t in stopped} == {"STOPPED"}
    assert [e["message"] for e in _results(c, "/api/v1/events", severity="ERROR")] == ["oom"]
    infos = _results(c, "/api/v1/events", severity="info", source="audit")
    assert [e["message"] for e in infos] == ["redeploy"]
    assert [h["name"] for h in _results(c, "/api/v1/hosts", reachable="true")] == ["up"]
    assert [h["name"] for h in _results(c, "/api/v1/hosts", enabled="FALSE")] == ["down"]


def test_two_invalid_filters_are_both_reported(fleet: Cluster, viewer_client: Client) -> None:
    response = viewer_client.get("/api/v1/events", {"source": "nope", "severity": "fatal"})
    assert response.status_code == 400
    body = json.loads(response.content)
    assert set(body["errors"]) == {"source", "severity"}
    assert "source must be one of" in body["message"]
    assert "severity must be one of" in body["message"]


def test_filters_apply_to_lists_not_to_one_object(fleet: Cluster, viewer_client: Client) -> None:
    task = Task.objects.filter(last_status="RUNNING").get()
    response = viewer_client.get(f"/api/v1/tasks/{task.pk}", {"status": "nope"})
    assert response.status_code == 200
    assert json.loads(response.content)["arn"] == task.arn


def test_the_schema_documents_each_enum(viewer_client: Client) -> None:
    schema = json.loads(viewer_client.get("/api/v1/schema").content)
    for resource, param, values in ENUM_FILTERS:
        parameters = schema["paths"][f"/api/v1/{resource}"]["get"]["parameters"]
        (documented,) = [p for p in parameters if p["name"] == param]
        assert set(documented["schema"]["enum"]) == set(values), (resource, param)
