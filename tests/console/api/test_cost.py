"""/api/v1/cost: the month's ECS Anywhere bill as the page shows it; JSON 400s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from clusters.cost import cost_bill
from clusters.display import usd_text
from tests.clusters.cost.helpers import external
from tests.console import fleet

pytestmark = pytest.mark.django_db


def test_the_bill_as_json(viewer_client: Client) -> None:
    now = timezone.now()
    previous = (now.replace(day=1) - timedelta(days=1)).replace(day=1)
    start = datetime(previous.year, previous.month, 1, tzinfo=UTC)
    external(fleet.cluster(fleet.account("acme"), name="edge"), start, start + timedelta(hours=10))
    response = viewer_client.get("/api/v1/cost", {"month": f"{previous:%Y-%m}"})
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["month"] == f"{previous:%Y-%m}" and body["current"] is False
    assert body["hours"] == "10.000000" and body["cost"] == "0.10"  # 10 h x 0.01025
    [c] = body["clusters"]
    assert (c["account"], c["cluster"], c["price_per_hour"]) == ("acme", "edge", "0.01025")
    assert c["projected_cost"] == c["cost"] == "0.10"
    assert body["daily"][0] == {"date": start.date().isoformat(), "cost": "0.10"}
    bill = cost_bill(month=previous.date(), now=timezone.now())
    assert usd_text(bill.cost) == body["cost"] and bill.hours == Decimal(10)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "1999-12"}, "month"),
    ],
)
def test_bad_parameters_are_a_json_400(
    viewer_client: Client, params: dict[str, str], field: str
) -> None:
    response = viewer_client.get("/api/v1/cost", params)
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["message"] and field in body["errors"]


@pytest.mark.parametrize(
    ("params", "says"), [({"account": "x"}, "'x'"), ({"month": "2999-01"}, "not begun")]
)
def test_what_names_no_bill_is_a_json_404(
    viewer_client: Client, params: dict[str, str], says: str
) -> None:
    """An unknown account, a month that has not begun: well-formed, but no such bill."""
    response = viewer_client.get("/api/v1/cost", params)
    assert response.status_code == 404
    assert says in json.loads(response.content)["message"]


def test_needs_a_login(anon_client: Client) -> None:
    assert anon_client.get("/api/v1/cost").status_code == 401
