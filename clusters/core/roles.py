"""Roles: viewer < operator < admin, carried by Django groups and permissions.

Every view declares the role it needs with ``@role_required``; the role matrix
test walks the URL resolver and fails for a view that declares none.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseBase

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)

# The permission each role's group holds (cumulative up the ladder).
ROLE_PERMISSION = {
    VIEWER: "clusters.view_fleet",
    OPERATOR: "clusters.operate_fleet",
    ADMIN: "clusters.administer_fleet",
}
GROUP_PERMISSIONS = {
    VIEWER: ["view_fleet"],
    OPERATOR: ["view_fleet", "operate_fleet"],
    ADMIN: ["view_fleet", "operate_fleet", "administer_fleet"],
}

# HttpResponseBase, so streaming views (exports) can be decorated too.
View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def has_role(user: Any, role: str) -> bool:
    """``user`` is anything request.user can be (a user model or AnonymousUser)."""
    if not user.is_authenticated:
        return False
    return bool(user.has_perm(ROLE_PERMISSION[role]))


def user_role(user: Any) -> str | None:
    """The highest role a user holds, or None."""
    for role in reversed(ROLES):
        if has_role(user, role):
            return role
    return None


def role_from_permissions(permissions: set[str], *, is_superuser: bool) -> str | None:
    """The highest role that ``permissions`` ("app_label.codename") grant, without
    a query: for lists of users whose groups and permissions were prefetched.
    Like ``user_role`` but also for inactive users (whose has_perm is always False)."""
    if is_superuser:
        return ADMIN
    for role in reversed(ROLES):
        if ROLE_PERMISSION[role] in permissions:
            return role
    return None


def held_role(user: Any) -> str | None:
    """The role ``user``'s groups and permissions grant, whether the account is
    active or not (two queries: has_perm is False for every inactive user)."""
    from django.contrib.auth.models import Permission

    rows = (
        Permission.objects.filter(Q(group__user=user) | Q(user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return role_from_permissions({f"{a}.{c}" for a, c in rows}, is_superuser=user.is_superuser)


def role_holders(role: str) -> QuerySet[Any]:
    """Active users holding ``role`` or a higher one (superusers hold every role):
    the same answer as ``has_role``, as one query."""
    from django.contrib.auth import get_user_model

    app_label, codename = ROLE_PERMISSION[role].split(".")
    via_group = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    )
    via_user = Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    users = get_user_model().objects.filter(is_active=True)
    pks = users.filter(Q(is_superuser=True) | via_group | via_user).values("pk")
    return users.filter(pk__in=pks).order_by("username")


def role_required(role: str) -> Callable[[View], View]:
    """Allow the view only to users holding ``role`` (or a higher one); 403 otherwise.

    Anonymous users never get here: the login-required middleware redirects them.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role} role.")
            return view(request, *args, **kwargs)

        wrapped.fleetdeck_role = role  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def role_group(role: str) -> Any:
    """The Django group that carries ``role`` (made, with its permissions, if missing)."""
    from django.contrib.auth.models import Group

    group = Group.objects.filter(name=role).first()
    if group is None:
        role_groups_ensure()
        group = Group.objects.get(name=role)
    return group


def role_groups_ensure() -> None:
    """Create the three role groups with their permissions if any is missing.

    The data migration does this on install; this is for code paths that start
    from an emptied database (transactional tests flush the migration's rows).
    """
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from clusters.models import AuditEntry

    content_type = ContentType.objects.get_for_model(AuditEntry)
    for role, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for codename in codenames:
            perm, _ = Permission.objects.get_or_create(
                codename=codename, content_type=content_type, defaults={"name": codename}
            )
            perms.append(perm)
        group.permissions.add(*perms)
