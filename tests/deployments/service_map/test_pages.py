"""The map page and the service page's networking section: viewer can read, login
everywhere, bad input never a 500, the flags where an operator looks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from clusters.models import Cluster
from deployments.models import Service
from deployments.service_map.cloudmap_sync import cloudmap_instances_sync
from tests.deployments.service_map.fleet import networking_fleet

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(sandbox: Any) -> Any:
    fleet = networking_fleet(sandbox)
    cloudmap_instances_sync(account_id=fleet.account.pk, region="us-east-1")
    return fleet


def test_viewer_reads_the_map_with_names_providers_and_clients(
    fleet: Any, viewer_client: Client
) -> None:
    shop = Cluster.objects.get(name="shop-ec2")
    page = viewer_client.get(f"/clusters/{shop.pk}/")
    assert f'href="/clusters/{shop.pk}/map/"' in page.content.decode()
    response = viewer_client.get(f"/clusters/{shop.pk}/map/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg class="service-map"' in html
    web = Service.objects.get(name="web")
    assert f'<a href="/services/{web.pk}/" class="map-node health-' in html
    assert "web.shop:80" in html and "api.shop:8080" in html
    assert "1 healthy · 1 unhealthy" in html and "3 healthy · 0 unhealthy" in html
    assert "Nothing flagged in this namespace." in html
    # The port name Service Connect's portName refers to is mirrored.
    assert web.task_definition is not None
    assert web.task_definition.containers[0]["portMappings"][0]["name"] == "http"


def test_the_external_service_is_flagged_on_the_map_and_its_page(
    fleet: Any, viewer_client: Client
) -> None:
    edge = Cluster.objects.get(name="edge")
    html = viewer_client.get(f"/clusters/{edge.pk}/map/").content.decode()
    assert "map-flagged" in html
    assert 'data-flag-subject="metrics"' in html
    assert "service discovery is not supported on external instances" in html
    assert "needs SRV records" in html
    assert "metrics.edge.internal: no instance registered in Cloud Map." in html
    metrics = Service.objects.get(name="metrics")
    page = viewer_client.get(f"/services/{metrics.pk}/").content.decode()
    assert 'id="service-networking"' in page
    assert page.count("<li data-flag>") == 2
    assert "needs SRV records" in page
    # Discovery on external instances: the EXTERNAL check's card, once on the page.
    assert page.count("service discovery is not supported on external instances") == 1


def test_bad_input_and_anonymous(fleet: Any, viewer_client: Client, anon_client: Client) -> None:
    shop = Cluster.objects.get(name="shop-ec2")
    odd = viewer_client.get(f"/clusters/{shop.pk}/map/?namespace=%27<script>" + "x" * 5000)
    assert odd.status_code == 200 and b"<script>x" not in odd.content
    # A NUL byte is refused before any view runs (the console's input guard).
    assert viewer_client.get(f"/clusters/{shop.pk}/map/?namespace=%00").status_code == 400
    assert viewer_client.get("/clusters/999999/map/").status_code == 404
    assert viewer_client.post(f"/clusters/{shop.pk}/map/").status_code in (403, 405)  # CSRF first
    anon = anon_client.get(f"/clusters/{shop.pk}/map/")
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    # A cluster that uses neither Service Connect nor service discovery says so.
    empty = Cluster.objects.create(
        account=fleet.account, region="us-east-1", name="bare", arn="arn:aws:ecs:x:1:cluster/bare"
    )
    html = viewer_client.get(f"/clusters/{empty.pk}/map/").content.decode()
    assert "No service of this cluster uses Service Connect" in html
