"""The ECS Anywhere bill: /cost/ (a month per page) and its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clusters.core.roles import VIEWER, role_required
from clusters.cost import Bill, cost_bill, cost_months, idle_instances, price_per_hour
from clusters.display import spreadsheet_safe
from clusters.models import AwsAccount
from console.cost.forms import CostFilterForm
from console.svg import daily_bars


def _month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def _params(request: HttpRequest) -> dict[str, str]:
    return {k: request.GET[k] for k in ("month", "account") if request.GET.get(k, "").strip()}


# The page lists at most this many intervals and idle instances (the totals count
# all; the CSV has every interval): a page of thousands of rows helps nobody.
ROWS_SHOWN = 200


@require_GET
@role_required(VIEWER)
def cost_page(request: HttpRequest) -> HttpResponse:
    """The month's bill per account and cluster, its daily trend, the costliest
    clusters and the idle instances. An invalid month or account shows the current
    month with the error next to the selector (the page's way; the export says 400)."""
    now = timezone.now()
    form = CostFilterForm(_params(request) or None, now=now)
    month, account = form.month_value(), form.account_value()
    bill = cost_bill(month=month, now=now, account=account)
    idle = idle_instances(now=now, account=account) if bill.is_current else []
    query = urlencode({"month": _month_text(month), **({"account": account} if account else {})})
    context: dict[str, Any] = {
        "section": "cost",
        "title": "ECS Anywhere cost",
        "form": form,
        "bill": bill,
        "month_text": _month_text(month),
        "months": [_month_text(m) for m in sorted({*cost_months(now=now), month}, reverse=True)],
        "accounts": list(AwsAccount.objects.values_list("name", flat=True)),
        "account": account,
        "export_query": query,
        "trend": daily_bars(
            bill.daily,
            slots=(bill.end - bill.start).days,
            label=f"ECS Anywhere cost per day, {_month_text(month)}",
        ),
        "top": bill.top_clusters(),
        "lines": bill.lines[:ROWS_SHOWN],
        "idle": idle,
        "idle_shown": idle[:ROWS_SHOWN],
        "rows_shown": ROWS_SHOWN,
        "idle_days": settings.FLEETDECK_ANYWHERE_IDLE_DAYS,
        "default_price": price_per_hour(""),
        "price_overrides": sorted(settings.FLEETDECK_ANYWHERE_PRICE_BY_REGION.items()),
    }
    return render(request, "console/cost.html", context)


EXPORT_COLUMNS = (
    "month",
    "account",
    "region",
    "cluster",
    "instance",
    "instance_arn",
    "registered_at",
    "deregistered_at",
    "price_per_hour_usd",
    "hours",
    "cost_usd",
    "projected_hours",
    "projected_cost_usd",
)


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""


def _export_rows(bill: Bill) -> list[list[str]]:
    """One row per registered interval in the month; amounts unrounded, as computed."""
    rows = []
    for line in bill.lines:
        s = line.span
        rows.append(
            [
                _month_text(bill.month),
                spreadsheet_safe(s.account),
                s.region,
                s.cluster,
                s.instance,
                s.instance_arn,
                _iso(s.start),
                _iso(s.end),
                str(s.price),
                f"{line.hours:.6f}",
                f"{line.cost:.6f}",
                f"{line.projected_hours:.6f}",
                f"{line.projected_cost:.6f}",
            ]
        )
    return rows


@require_GET
@role_required(VIEWER)
def cost_export_csv(request: HttpRequest) -> HttpResponse:
    """The month's bill per instance interval as CSV; a bad month or account is a
    400 that says which (nothing exported), like the timeline's export."""
    now = timezone.now()
    form = CostFilterForm(_params(request) or None, now=now)
    if form.is_bound and not form.is_valid():
        details = "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        return HttpResponse(
            f"Invalid filter ({details}). Nothing was exported.\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    month, account = form.month_value(), form.account_value()
    bill = cost_bill(month=month, now=now, account=account)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(_export_rows(bill))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="fleetdeck-cost-{_month_text(month)}.csv"'
    )
    return response
