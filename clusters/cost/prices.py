"""The price of an external instance-hour in a region (settings; docs/cost.md)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

# Published on https://aws.amazon.com/ecs/pricing/ (ECS Anywhere), in USD.
DEFAULT_PRICE_PER_HOUR = Decimal("0.01025")


def price_per_hour(region: str) -> Decimal:
    overrides: dict[str, Decimal] = getattr(settings, "FLEETDECK_ANYWHERE_PRICE_BY_REGION", {})
    if region in overrides:
        return Decimal(overrides[region])
    return Decimal(getattr(settings, "FLEETDECK_ANYWHERE_PRICE_PER_HOUR", DEFAULT_PRICE_PER_HOUR))
