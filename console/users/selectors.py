"""Read queries of the users pages, each a fixed number of SQL queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from clusters.core.roles import ADMIN, held_role, role_from_permissions, role_holders
from clusters.models import AuditEntry


@dataclass(frozen=True)
class UserRow:
    user: Any
    role: str | None  # the role the account holds, shown even while it is deactivated

    @property
    def password_set(self) -> bool:
        return bool(self.user.has_usable_password())


def _permissions(user: Any) -> set[str]:
    perms = {f"{p.content_type.app_label}.{p.codename}" for p in user.user_permissions.all()}
    for group in user.groups.all():
        perms |= {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    return perms


def user_rows() -> list[UserRow]:
    """Every user with their role: active ones first, then by name."""
    from django.contrib.auth.models import Permission

    with_type = Permission.objects.select_related("content_type")
    users = (
        get_user_model()
        .objects.order_by("-is_active", "username")
        .prefetch_related(
            Prefetch("user_permissions", queryset=with_type),
            Prefetch("groups__permissions", queryset=with_type),
        )
    )
    return [
        UserRow(u, role_from_permissions(_permissions(u), is_superuser=u.is_superuser))
        for u in users
    ]


def user_page(pk: int) -> dict[str, Any]:
    """The user, their role, and what admins did to the account (newest first)."""
    user = get_user_model().objects.get(pk=pk)
    history = AuditEntry.objects.filter(object_type="user", object_id=str(pk))[:50]
    return {"subject": user, "role": held_role(user), "history": list(history)}


def admins_to_ask() -> list[Any]:
    """The active admins, for a user who has no role yet."""
    return list(role_holders(ADMIN).only("username", "first_name", "last_name", "email"))
