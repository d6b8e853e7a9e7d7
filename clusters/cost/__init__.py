"""The ECS Anywhere bill (docs/cost.md). The package's interface: the mirror and a
decommission keep the registered intervals through it; the console shows the bill."""

from clusters.cost.bill import (
    Bill,
    ClusterBill,
    Line,
    MonthNotBegun,
    Span,
    bill_compute,
    month_bounds,
    month_parse,
)
from clusters.cost.intervals import registration_close, registrations_record
from clusters.cost.prices import price_per_hour
from clusters.cost.selectors import (
    HOURS_PER_MONTH,
    IdleInstance,
    cost_bill,
    cost_months,
    idle_instances,
)

__all__ = [
    "HOURS_PER_MONTH",
    "Bill",
    "ClusterBill",
    "IdleInstance",
    "Line",
    "MonthNotBegun",
    "Span",
    "bill_compute",
    "cost_bill",
    "cost_months",
    "idle_instances",
    "month_bounds",
    "month_parse",
    "price_per_hour",
    "registration_close",
    "registrations_record",
]
