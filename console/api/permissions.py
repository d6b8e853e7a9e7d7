from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from clusters.core.roles import VIEWER, has_role


class CanViewFleet(BasePermission):
    """The API is read-only and open to every role, from viewer up."""

    message = "This needs the viewer role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, VIEWER)
