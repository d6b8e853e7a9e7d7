from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpRequest

from clusters.core.jobs import jobs_waiting
from clusters.core.roles import has_role, user_role
from console.navigation import NAVIGATION
from console.ops.health import background_work_status


def shell(request: HttpRequest) -> dict[str, object]:
    """What the base layout needs on every page: menu, role, background status."""
    user = getattr(request, "user", None)
    context: dict[str, object] = {"navigation": NAVIGATION}
    if user is not None and user.is_authenticated:
        context["user_role"] = user_role(user)  # loads the permission cache once
        context["navigation"] = [item for item in NAVIGATION if has_role(user, item.role)]
        context["background"] = background = background_work_status()
        if background.paused:
            # Only while work is paused (the only time jobs wait), so pages keep their
            # query counts; a callable, so fragments that draw no banner never count.
            context["jobs_waiting"] = _jobs_waiting
    return context


def _jobs_waiting() -> int:
    try:
        return jobs_waiting()
    except DatabaseError:  # the page still renders without the count
        return 0
