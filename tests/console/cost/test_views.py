"""/cost/ and its CSV export: roles, the month selector, 400 on bad filters, and the
/metrics gauges, all reading the same bill."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from clusters.display import usd_text
from tests.clusters.cost.helpers import external
from tests.console import fleet

pytestmark = pytest.mark.django_db
PRICE = Decimal("0.01025")
TOKEN = "cost-metrics-token"


def _this_month() -> date:
    now = timezone.now()
    return date(now.year, now.month, 1)


def _start() -> datetime:
    m = _this_month()
    return datetime(m.year, m.month, 1, tzinfo=UTC)


def test_roles_viewer_reads_anonymous_is_sent_to_login(
    anon_client, viewer_client, operator_client, admin_client_, db
) -> None:  # type: ignore[no-untyped-def]
    for path in ("/cost/", "/cost/export.csv"):
        response = anon_client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]
        for client in (viewer_client, operator_client, admin_client_):
            assert client.get(path).status_code == 200
    assert viewer_client.post("/cost/").status_code in (403, 405)  # a read-only page


def test_a_user_without_a_role_is_refused(django_user_model) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(django_user_model.objects.create_user("nobody", password="x-x-x-x-x-1"))
    assert client.get("/cost/").status_code in (302, 403)
    assert client.get("/cost/export.csv").status_code in (302, 403)


def test_page_shows_the_month_bill(viewer_client) -> None:  # type: ignore[no-untyped-def]
    c = fleet.cluster(name="onprem-edge")
    external(c, _start())
    response = viewer_client.get("/cost/")
    assert response.status_code == 200
    body = response.content.decode()
    hours = Decimal((timezone.now() - _start()).total_seconds()) / 3600
    assert "onprem-edge" in body and '<svg class="chart bars"' in body
    assert 'aria-current="page">Cost<' in body
    bill = response.context["bill"]
    assert abs(bill.cost - hours * PRICE) < Decimal("0.001")
    assert f"${usd_text(bill.cost)}" in body and f"${usd_text(bill.projected_cost)}" in body


def test_page_with_a_bad_month_shows_the_current_one_and_says_why(viewer_client) -> None:  # type: ignore[no-untyped-def]
    for bad in ("2026-13", "nope", "1999-01", "2999-01"):
        response = viewer_client.get("/cost/", {"month": bad})
        assert response.status_code == 200
        assert response.context["bill"].month == _this_month()
        assert "errorlist" in response.content.decode()


def test_csv_export_one_row_per_interval(viewer_client) -> None:  # type: ignore[no-untyped-def]
    c = fleet.cluster(fleet.account("=acme"), name="edge")  # a formula-looking name
    previous = _this_month() - timedelta(days=1)
    prev_start = datetime(previous.year, previous.month, 1, tzinfo=UTC)
    external(c, prev_start, deregistered=prev_start + timedelta(hours=10))
    external(c, prev_start + timedelta(days=1))
    response = viewer_client.get("/cost/export.csv", {"month": f"{previous:%Y-%m}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"fleetdeck-cost-{previous:%Y-%m}.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 2
    first = rows[0]
    assert first["hours"] == "10.000000"
    assert Decimal(first["cost_usd"]) == 10 * PRICE
    assert first["projected_cost_usd"] == first["cost_usd"]
    assert first["instance"].startswith("mi-") and first["price_per_hour_usd"] == "0.01025"
    assert first["account"] == "'=acme"  # defused for spreadsheets
    assert Decimal(rows[1]["hours"]) == (previous.day - 1) * 24  # to the month's end


@pytest.mark.parametrize(
    "params", [{"month": "2026-13"}, {"month": "x"}, {"month": "2999-01"}, {"account": "nope"}]
)
def test_csv_export_with_a_bad_filter_is_400(viewer_client, params) -> None:  # type: ignore[no-untyped-def]
    response = viewer_client.get("/cost/export.csv", params)
    assert response.status_code == 400
    assert "Nothing was exported" in response.content.decode()


def test_metrics_gauges_match_the_page(anon_client, viewer_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_METRICS_TOKEN = TOKEN
    c = fleet.cluster(fleet.account("acme"), name="edge")
    external(c, _start())
    external(c, _start() - timedelta(days=40))
    text = anon_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert "# TYPE fleetdeck_anywhere_cost_month_to_date_usd gauge" in text
    labels = '{account="acme",region="us-east-1",cluster="edge"}'
    [line] = [x for x in text.splitlines() if x.startswith("fleetdeck_anywhere_cost_month_to_date")]
    assert line.startswith(f"fleetdeck_anywhere_cost_month_to_date_usd{labels} ")
    hours = 2 * Decimal((timezone.now() - _start()).total_seconds()) / 3600
    assert abs(Decimal(line.rsplit(" ", 1)[1]) - hours * PRICE) <= Decimal("0.011")
    [projected] = [
        x for x in text.splitlines() if x.startswith("fleetdeck_anywhere_cost_projected")
    ]
    month_hours = (
        2
        * Decimal(((_start() + timedelta(days=32)).replace(day=1) - _start()).total_seconds())
        / 3600
    )
    assert Decimal(projected.rsplit(" ", 1)[1]) == (month_hours * PRICE).quantize(Decimal("0.01"))


def test_the_page_reads_in_a_fixed_number_of_queries(viewer_client) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = fleet.cluster(name="edge")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert viewer_client.get("/cost/").status_code == 200
        return len(ctx.captured_queries)

    external(c, _start())
    few = count()
    for n in range(20):
        external(fleet.cluster(name=f"edge-{n}"), _start() - timedelta(days=n))
    assert count() == few


def test_an_old_month_with_nothing_is_an_empty_bill_and_stays_selected(viewer_client) -> None:  # type: ignore[no-untyped-def]
    response = viewer_client.get("/cost/", {"month": "2020-02"})
    assert response.status_code == 200
    body = response.content.decode()
    assert '<option value="2020-02" selected>' in body
    assert "Nothing to bill in 2020-02." in body
