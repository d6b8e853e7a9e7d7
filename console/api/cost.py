"""/api/v1/cost?month=YYYY-MM&account=: the ECS Anywhere bill of a month, as the
/cost/ page shows it (clusters.cost; docs/cost.md). Money in USD as strings rounded
to the cent (exact decimals, no float)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from clusters.cost import Bill, MonthNotBegun, cost_bill, month_parse
from clusters.display import usd_cents
from clusters.models import AwsAccount


class ClusterCostSerializer(serializers.Serializer[dict[str, Any]]):
    account = serializers.CharField()
    region = serializers.CharField()
    cluster = serializers.CharField()
    cluster_id = serializers.IntegerField()
    price_per_hour = serializers.CharField(help_text="USD per external instance-hour")
    instances = serializers.IntegerField(help_text="registered intervals in the month")
    hours = serializers.CharField(help_text="instance-hours so far (6 decimals)")
    cost = serializers.CharField(help_text="USD so far, to the cent")
    projected_cost = serializers.CharField(help_text="USD at month end, to the cent")


class DayCostSerializer(serializers.Serializer[dict[str, Any]]):
    date = serializers.DateField()
    cost = serializers.CharField()


class BillSerializer(serializers.Serializer[dict[str, Any]]):
    month = serializers.CharField(help_text="YYYY-MM (UTC)")
    current = serializers.BooleanField(help_text="whether the month is still running")
    currency = serializers.CharField()
    hours = serializers.CharField()
    cost = serializers.CharField()
    projected_cost = serializers.CharField(
        help_text="if every registered instance stays registered to month end"
    )
    clusters = ClusterCostSerializer(many=True)
    daily = DayCostSerializer(many=True)


def _hours(value: Any) -> str:
    return f"{value:.6f}"


def bill_json(bill: Bill) -> dict[str, Any]:
    return {
        "month": f"{bill.month:%Y-%m}",
        "current": bill.is_current,
        "currency": "USD",
        "hours": _hours(bill.hours),
        "cost": str(usd_cents(bill.cost)),
        "projected_cost": str(usd_cents(bill.projected_cost)),
        "clusters": [
            {
                "account": c.account,
                "region": c.region,
                "cluster": c.cluster,
                "cluster_id": c.cluster_id,
                "price_per_hour": str(c.price),
                "instances": c.instances,
                "hours": _hours(c.hours),
                "cost": str(usd_cents(c.cost)),
                "projected_cost": str(usd_cents(c.projected_cost)),
            }
            for c in bill.clusters
        ],
        "daily": [{"date": d, "cost": str(usd_cents(v))} for d, v in bill.daily],
    }


MONTH_PATTERN = r"^(2\d{3}-(0[1-9]|1[0-2]))?$"  # empty: this month


@extend_schema(
    tags=["cost"],
    operation_id="anywhere_cost",
    parameters=[
        OpenApiParameter(
            "month",
            OpenApiTypes.STR,
            description="YYYY-MM (from 2000); default: this month",
            pattern=MONTH_PATTERN,
        ),
        OpenApiParameter("account", OpenApiTypes.STR, description="an account's name"),
    ],
    responses={200: BillSerializer, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
)
@api_view(["GET"])
def anywhere_cost(request: Request) -> Response:
    """The ECS Anywhere bill of a month per account and cluster (docs/cost.md)."""
    now = timezone.now()
    try:
        month = month_parse(request.query_params.get("month", ""), now=now)
    except MonthNotBegun as exc:  # well-formed, but no bill exists yet
        raise NotFound(str(exc)) from exc
    except ValueError as exc:
        raise ValidationError({"month": [str(exc)]}) from exc
    account = request.query_params.get("account", "").strip()
    if account and not AwsAccount.objects.filter(name=account).exists():
        # A well-formed name that names nothing: not found (as an unknown id is).
        raise NotFound(f"No account named {account!r}.")
    return Response(bill_json(cost_bill(month=month, now=now, account=account)))
