"""The audit log is append-only from the UI: no URL of the console or the admin
changes or deletes an AuditEntry, whoever asks (even a superuser)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import get_resolver

from clusters.core.audit import audit_record
from clusters.models import AuditEntry

pytestmark = pytest.mark.django_db


def _walk(patterns, prefix=""):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p


@pytest.fixture
def superuser_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-Root-123")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_admin_cannot_add_change_or_delete_audit_entries(superuser_client, admin_user) -> None:
    audit_record(actor=admin_user, action="test.planted", message="planted entry")
    entry = AuditEntry.objects.get(action="test.planted")
    before = AuditEntry.objects.values().get(pk=entry.pk)
    base = "/admin/clusters/auditentry/"
    assert superuser_client.get(base).status_code == 200  # readable
    assert superuser_client.get(f"{base}add/").status_code == 403
    superuser_client.post(f"{base}add/", {"action": "forged", "message": "x"})
    superuser_client.post(f"{base}{entry.pk}/change/", {"action": "changed", "message": "x"})
    superuser_client.post(f"{base}{entry.pk}/delete/", {"post": "yes"})
    superuser_client.post(
        base, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert AuditEntry.objects.values().get(pk=entry.pk) == before
    assert not AuditEntry.objects.filter(action="forged").exists()


def test_no_console_url_writes_audit_entries_except_by_recording(superuser_client) -> None:
    """Every URL whose pattern mentions audit is read-only, and no view module
    calls delete()/update() on AuditEntry (checked in the source)."""
    import inspect

    import clusters.core.audit as audit_module

    routes = [route for route, _ in _walk(get_resolver().url_patterns)]
    for route in routes:
        if "audit" in route and not route.startswith("admin/"):
            raise AssertionError(f"unexpected audit-editing route {route}")
    source = inspect.getsource(audit_module)
    assert ".delete(" not in source and ".update(" not in source

    from tests.peers import REPO

    for path in list((REPO / "clusters").rglob("*.py")) + list((REPO / "console").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        if "AuditEntry.objects" in text:
            for bad in (".delete(", ".update(", "bulk_update(", "select_for_update"):
                for line in text.splitlines():
                    if "AuditEntry.objects" in line and bad in line:
                        raise AssertionError(f"{path}: {line.strip()}")
