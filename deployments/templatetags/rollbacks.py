"""Template helper for the rollback offer on the service page and the redeploy
confirm step."""

from __future__ import annotations

from django import template

from deployments.models import Service
from deployments.rollback import RollbackPlan, rollback_plan

register = template.Library()


@register.simple_tag
def rollback_offer(service: Service) -> RollbackPlan | None:
    """The rollback to offer: the plan when there is a revision to go back to."""
    plan = rollback_plan(service=service)
    return plan if plan.target is not None else None
