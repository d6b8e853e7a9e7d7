"""Users and their roles, as an admin manages them in the console.

Roles are the viewer/operator/admin groups of ``clusters.core.roles``: a user holds
exactly one of them (a change replaces the group). Users are never deleted, only
deactivated: the audit trail and the timeline keep pointing at them, and a
deactivated user can neither log in, keep a session, nor use an API token.

One rule guards every change: the console always keeps an active admin. Changes
that could take the admin role away serialise on the admin group's row, so two
admins demoting each other at the same moment cannot both win.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from clusters.core.audit import audit_record
from clusters.core.roles import ADMIN, ROLES, held_role, role_group, role_holders

User = get_user_model()


class UserChangeRefused(Exception):
    """A change the rules forbid; the message is shown on the form."""


class LastAdminError(UserChangeRefused):
    pass


def _admin_change_lock() -> None:
    # Every change that may remove an admin takes this row lock first (PostgreSQL;
    # SQLite serialises writers anyway), so the count below stays true until commit.
    from django.contrib.auth.models import Group

    list(Group.objects.select_for_update().filter(pk=role_group(ADMIN).pk))


def _last_admin_guard(*, actor: Any, user: Any, what: str) -> None:
    """Refuse ``what`` when ``user`` is the only active admin left."""
    if not role_holders(ADMIN).filter(pk=user.pk).exists():
        return
    if role_holders(ADMIN).exclude(pk=user.pk).exists():
        return
    who = "You are" if actor.pk == user.pk else f"{user.get_username()} is"
    raise LastAdminError(
        f"{who} the last active admin: {what} would leave nobody who can manage users, "
        "approve registrations or admit instances. Make another user an admin first."
    )


def _locked_user(user_id: int) -> Any:
    return User.objects.select_for_update().get(pk=user_id)


def _audit(
    actor: Any, request: HttpRequest | None, user: Any, action: str, message: str, **details: Any
) -> None:
    audit_record(
        actor=actor,
        action=action,
        message=message,
        request=request,
        object_type="user",
        object_id=str(user.pk),
        details={"username": user.get_username(), **details},
    )


def _role_apply(user: Any, role: str) -> bool:
    """Give ``user`` exactly ``role``; True when superuser status had to go with a
    demotion (a superuser holds every permission, so it would stay an admin)."""
    role_groups = [role_group(r) for r in ROLES]
    user.groups.remove(*role_groups)
    user.groups.add(role_group(role))
    if role != ADMIN and user.is_superuser:
        user.is_superuser = user.is_staff = False
        user.save(update_fields=["is_superuser", "is_staff"])
        return True
    return False


def user_create(
    *, actor: Any, username: str, email: str, role: str, request: HttpRequest | None = None
) -> Any:
    """A new active user with ``role`` and no usable password: they choose one
    through a set-password link (``links.set_password_link``)."""
    if role not in ROLES:
        raise UserChangeRefused(f"Unknown role {role!r}.")
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise UserChangeRefused(f"A user named {username} already exists.")
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, email=email)
        except IntegrityError as exc:  # created by someone else a moment ago
            raise UserChangeRefused(f"A user named {username} already exists.") from exc
        _role_apply(user, role)
        _audit(
            actor,
            request,
            user,
            "user.create",
            f"{actor.get_username()} created user {username} with role {role}",
            email=email,
            role=role,
        )
    return user


def user_role_set(
    *, actor: Any, user_id: int, role: str, request: HttpRequest | None = None
) -> tuple[Any, bool]:
    """Give the user ``role`` in place of the one they hold; (user, changed)."""
    if role not in ROLES:
        raise UserChangeRefused(f"Unknown role {role!r}.")
    with transaction.atomic():
        _admin_change_lock()
        user = _locked_user(user_id)
        before = held_role(user)
        if before == role:
            return user, False
        if before == ADMIN:
            _last_admin_guard(actor=actor, user=user, what=f"changing the role to {role}")
        superuser_removed = _role_apply(user, role)
        _audit(
            actor,
            request,
            user,
            "user.role_change",
            f"{actor.get_username()} changed the role of {user.get_username()} "
            f"from {before or 'no role'} to {role}",
            before=before,
            after=role,
            superuser_removed=superuser_removed,
        )
    return user, True


def user_deactivate(*, actor: Any, user_id: int, request: HttpRequest | None = None) -> Any:
    """Stop the user logging in (their sessions and API token stop working at once);
    the account and everything recorded about it stay."""
    with transaction.atomic():
        _admin_change_lock()
        user = _locked_user(user_id)
        if not user.is_active:
            return user
        _last_admin_guard(actor=actor, user=user, what="deactivating this account")
        user.is_active = False
        user.save(update_fields=["is_active"])
        _audit(
            actor,
            request,
            user,
            "user.deactivate",
            f"{actor.get_username()} deactivated user {user.get_username()}",
        )
    return user


def user_reactivate(*, actor: Any, user_id: int, request: HttpRequest | None = None) -> Any:
    with transaction.atomic():
        user = _locked_user(user_id)
        if user.is_active:
            return user
        user.is_active = True
        user.save(update_fields=["is_active"])
        _audit(
            actor,
            request,
            user,
            "user.reactivate",
            f"{actor.get_username()} reactivated user {user.get_username()} "
            f"(role: {held_role(user) or 'none'})",
        )
    return user


def set_password_link_issue(*, actor: Any, user_id: int, request: HttpRequest | None = None) -> Any:
    """Record that an admin made a set-password link for the user (the link itself
    is never stored or audited); refused for a deactivated account."""
    user = User.objects.get(pk=user_id)
    if not user.is_active:
        raise UserChangeRefused(
            f"{user.get_username()} is deactivated: reactivate the account before "
            "making a set-password link."
        )
    _audit(
        actor,
        request,
        user,
        "user.set_password_link",
        f"{actor.get_username()} made a set-password link for {user.get_username()}",
        had_password=user.has_usable_password(),
    )
    return user


def user_password_chosen(*, user: AbstractBaseUser, request: HttpRequest | None = None) -> None:
    """Audit a user setting their password through a set-password link."""
    message = f"{user.get_username()} set their password with a set-password link"
    _audit(user, request, user, "user.password_set", message)
