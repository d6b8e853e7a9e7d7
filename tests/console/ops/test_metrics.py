"""/metrics: bearer token required; Prometheus text with escaped labels."""

from __future__ import annotations

import re

import pytest

from console.ops.metrics import _label
from tests.console import fleet

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-metrics-token"


@pytest.fixture(autouse=True)
def _token(settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_METRICS_TOKEN = TOKEN


def test_no_token_or_wrong_token_is_401(anon_client, viewer_client) -> None:  # type: ignore[no-untyped-def]
    assert anon_client.get("/metrics").status_code == 401
    assert anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert anon_client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401
    # A logged-in session is not a token either.
    assert viewer_client.get("/metrics").status_code == 401


def test_unset_token_disables_metrics(anon_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_METRICS_TOKEN = ""
    assert anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_content(anon_client) -> None:  # type: ignore[no-untyped-def]
    c = fleet.cluster(fleet.account(), name="prod")
    api = fleet.service(c, "api", desired=3, running=1)
    fleet.deployment(api, "COMPLETED")
    fleet.service(c, "web", desired=2)
    fleet.instance(c)
    fleet.instance(c, connected=False)
    fleet.health()  # /metrics reads the stored health, as every page does
    response = anon_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    services = 'fleetdeck_services{account="prod",region="us-east-1",cluster="prod",state='
    assert services + '"healthy"} 1' in text and services + '"degraded"} 1' in text
    for state in ("failing", "down", "unknown"):
        assert f'{services}"{state}"}} 0' in text
    assert 'state="inactive"}' not in "".join(
        line for line in text.splitlines() if line.startswith("fleetdeck_services{")
    )
    # One series per service and state: 1 for the state it is in.
    where = 'account="prod",region="us-east-1",cluster="prod"'
    assert f'fleetdeck_service_health{{service="api",state="degraded",{where}}} 1' in text
    assert f'fleetdeck_service_health{{service="api",state="healthy",{where}}} 0' in text
    assert f'fleetdeck_service_health{{service="web",state="healthy",{where}}} 1' in text
    api_series = re.findall(r'fleetdeck_service_health\{service="api",state="(\w+)"', text)
    assert sorted(api_series) == sorted(
        ["healthy", "degraded", "failing", "down", "unknown", "inactive"]
    )
    assert 'fleetdeck_attention_items{severity="warning"} 2' in text  # api, the instance
    # Task counts carry no health label: a health change must not start a new series.
    assert re.search(r'fleetdeck_service_desired_tasks\{[^}]*service="api"\} 3', text)
    assert "fleetdeck_service_desired_tasks{" in text and ',state="' not in "".join(
        line for line in text.splitlines() if line.startswith("fleetdeck_service_desired_tasks")
    )
    assert re.search(r'fleetdeck_service_running_tasks\{[^}]*service="api"[^}]*\} 1', text)
    assert 'fleetdeck_instances{region="us-east-1",cluster="prod",state="disconnected"} 1' in text
    assert re.search(r'fleetdeck_sync_age_seconds\{[^}]*cluster="prod"\} \d', text)
    assert 'fleetdeck_sync_failing{region="us-east-1",cluster="prod"} 0' in text
    assert re.search(r'fleetdeck_celery_queue_depth\{queue="celery"\} \d+', text)
    assert "# TYPE fleetdeck_services gauge" in text
    assert "# TYPE fleetdeck_service_health gauge" in text
    # Every sample line parses as name{labels} value.
    for line in text.splitlines():
        if not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9_]+(\{[^\n]*\})? -?\d+(\.\d+)?", line), line


def test_label_values_are_escaped() -> None:
    assert _label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_queue_depth_of_the_filesystem_broker(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.ops.metrics import celery_queue_depth

    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    for name in ("1_a.celery.msg", "2_b.celery.msg", "3_c.other.msg"):
        (tmp_path / name).write_text("{}")
    assert celery_queue_depth() == 2


def test_queue_depth_on_redis(settings, redis_url) -> None:  # type: ignore[no-untyped-def]
    import redis

    from console.ops.metrics import celery_queue_depth

    settings.CELERY_BROKER_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.delete("celery")
    client.rpush("celery", "a", "b", "c")
    try:
        assert celery_queue_depth() == 3
    finally:
        client.delete("celery")
