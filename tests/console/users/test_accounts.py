"""The users service: create, role change, deactivate/reactivate, the last-admin
guard, and the audit row and timeline event of every change."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clusters.core.roles import ADMIN, OPERATOR, VIEWER, held_role, role_holders, user_role
from clusters.models import AuditEntry, Event, EventSource
from console.users import accounts
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_create_gives_one_role_and_no_password_and_is_audited(admin_user) -> None:
    user = accounts.user_create(
        actor=admin_user, username="olga", email="olga@example.com", role=OPERATOR
    )
    user.refresh_from_db()
    assert user_role(user) == OPERATOR
    assert not user.has_usable_password()  # they choose it through a set-password link
    entry = AuditEntry.objects.get(action="user.create")
    assert (entry.actor, entry.object_type, entry.object_id) == (admin_user, "user", str(user.pk))
    assert entry.details == {"username": "olga", "email": "olga@example.com", "role": OPERATOR}
    event = Event.objects.get(source=EventSource.AUDIT)
    assert event.message == "ada-admin created user olga with role operator"
    assert event.details["audit_id"] == entry.pk


def test_create_refuses_a_name_that_differs_only_in_case(admin_user, viewer) -> None:
    with pytest.raises(accounts.UserChangeRefused, match="already exists"):
        accounts.user_create(actor=admin_user, username="VERA-Viewer", email="", role=VIEWER)
    assert User.objects.filter(username__iexact="vera-viewer").count() == 1
    assert not AuditEntry.objects.exists()


def test_role_change_replaces_the_role_and_is_audited(admin_user, viewer) -> None:
    user, changed = accounts.user_role_set(actor=admin_user, user_id=viewer.pk, role=OPERATOR)
    assert changed
    user = User.objects.get(pk=viewer.pk)  # a fresh permission cache
    assert user_role(user) == OPERATOR
    assert list(user.groups.values_list("name", flat=True)) == [OPERATOR]
    entry = AuditEntry.objects.get(action="user.role_change")
    assert entry.details["before"] == VIEWER and entry.details["after"] == OPERATOR
    assert Event.objects.filter(details__audit_id=entry.pk).exists()

    _, changed = accounts.user_role_set(actor=admin_user, user_id=viewer.pk, role=OPERATOR)
    assert not changed
    assert AuditEntry.objects.filter(action="user.role_change").count() == 1


def test_the_last_admin_cannot_demote_or_deactivate_themselves(admin_user) -> None:
    with pytest.raises(accounts.LastAdminError, match="You are the last active admin"):
        accounts.user_role_set(actor=admin_user, user_id=admin_user.pk, role=VIEWER)
    with pytest.raises(accounts.LastAdminError, match="You are the last active admin"):
        accounts.user_deactivate(actor=admin_user, user_id=admin_user.pk)
    admin_user.refresh_from_db()
    assert admin_user.is_active and held_role(admin_user) == ADMIN
    assert not AuditEntry.objects.exists()


def test_with_a_second_admin_an_admin_may_step_down(admin_user, second_admin) -> None:
    accounts.user_role_set(actor=admin_user, user_id=admin_user.pk, role=OPERATOR)
    assert list(role_holders(ADMIN)) == [second_admin]
    # Now second_admin is the last one: the guard protects them from admin_user's
    # stale page as much as from themselves.
    with pytest.raises(accounts.LastAdminError, match="abe-admin is the last active admin"):
        accounts.user_deactivate(actor=admin_user, user_id=second_admin.pk)


def test_a_deactivated_admin_does_not_count(admin_user, second_admin) -> None:
    accounts.user_deactivate(actor=admin_user, user_id=second_admin.pk)
    with pytest.raises(accounts.LastAdminError):
        accounts.user_role_set(actor=admin_user, user_id=admin_user.pk, role=VIEWER)


def test_demoting_a_superuser_takes_superuser_status_away(admin_user) -> None:
    boss = User.objects.create_superuser("boss", password=PASSWORD)
    accounts.user_role_set(actor=admin_user, user_id=boss.pk, role=VIEWER)
    boss = User.objects.get(pk=boss.pk)
    assert not boss.is_superuser and not boss.is_staff
    assert user_role(boss) == VIEWER
    assert AuditEntry.objects.get(action="user.role_change").details["superuser_removed"]


def test_deactivate_blocks_login_sessions_and_tokens(admin_user, operator) -> None:
    session = Client()
    session.force_login(operator)
    token = Token.objects.create(user=operator)
    assert session.get("/").status_code == 200

    accounts.user_deactivate(actor=admin_user, user_id=operator.pk)

    assert not Client().login(username=operator.username, password=PASSWORD)
    response = session.get("/")  # the open session ends with the account
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/me").status_code == 401
    assert held_role(User.objects.get(pk=operator.pk)) == OPERATOR  # kept for reactivation
    assert AuditEntry.objects.filter(action="user.deactivate", object_id=str(operator.pk)).exists()


def test_reactivate_restores_login_with_the_same_role(admin_user, operator) -> None:
    accounts.user_deactivate(actor=admin_user, user_id=operator.pk)
    accounts.user_reactivate(actor=admin_user, user_id=operator.pk)
    client = Client()
    assert client.login(username=operator.username, password=PASSWORD)
    assert user_role(User.objects.get(pk=operator.pk)) == OPERATOR
    entry = AuditEntry.objects.get(action="user.reactivate")
    assert entry.message == "ada-admin reactivated user otto-operator (role: operator)"


def test_no_link_for_a_deactivated_account(admin_user, viewer) -> None:
    accounts.user_deactivate(actor=admin_user, user_id=viewer.pk)
    with pytest.raises(accounts.UserChangeRefused, match="reactivate"):
        accounts.set_password_link_issue(actor=admin_user, user_id=viewer.pk)


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one(monkeypatch, admin_user, second_admin):
    """Both pass the last-admin check unless the check and the change are serialised:
    the guard is slowed down so the two transactions overlap."""
    import threading
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (SQLite serialises writers): the PostgreSQL pass runs it")
    guard = accounts._last_admin_guard

    def slow_guard(**kwargs):  # type: ignore[no-untyped-def]
        guard(**kwargs)
        time.sleep(0.5)  # the other transaction runs its check meanwhile

    monkeypatch.setattr(accounts, "_last_admin_guard", slow_guard)
    outcomes: list[str] = []

    def demote(actor, target) -> None:  # type: ignore[no-untyped-def]
        try:
            accounts.user_role_set(actor=actor, user_id=target.pk, role=VIEWER)
            outcomes.append("demoted")
        except accounts.LastAdminError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(admin_user, second_admin)),
        threading.Thread(target=demote, args=(second_admin, admin_user)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["demoted", "refused"]
    assert role_holders(ADMIN).count() == 1
