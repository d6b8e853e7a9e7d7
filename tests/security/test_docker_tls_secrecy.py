"""A Docker client key pasted into the form is encrypted at rest and never
logged, dumped or sent back.

A key PEM carrying a unique marker line (PEM allows text before -----BEGIN) is
saved through the form against the engine behind real mutual TLS, used for a
sync, refused once in a bad combination; then every table is dumped
(``dumpdata --all``), the database itself is read, and everything logged at
DEBUG or printed is searched for the marker and for the key's base64 body.
"""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from clusters.core.crypto import decrypt_secret
from clusters.docker_hosts import docker_host_sync
from clusters.models import DockerHost
from tests.clusters.docker_helpers import pem_texts, tls_material


def _body(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@pytest.mark.django_db(transaction=True)
def test_docker_tls_key_is_not_stored_or_logged_in_plain_text(
    admin_user, engine, tls_proxy, tmp_path, caplog, capfd
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = Client()  # CSRF is tested over every URL elsewhere
    admin.force_login(admin_user)
    proxy, paths = tls_proxy
    marker = f"fleetdeck-marker-{uuid.uuid4().hex}"
    pems = pem_texts(paths)
    pems["tls_key_pem"] = f"{marker}\n{pems['tls_key_pem']}"
    key_lines = _body(paths["client_key"].read_text())
    secrets = [marker, *key_lines]

    response = admin.post(
        "/docker-hosts/add/", {"name": "secret-host", "endpoint": proxy.url, **pems}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    host = DockerHost.objects.get(name="secret-host")
    result = docker_host_sync(host_id=host.pk)
    assert result is not None and result.ok, result and result.error

    # Shown again: the pages say "stored", never the key; a refused change (the
    # key with another certificate) does not send it back either.
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = tls_material(other_dir)
    tls_url = reverse("clusters:docker-host-tls", args=["secret-host"])
    pages = [
        admin.get(tls_url),
        admin.get(reverse("clusters:docker-host", args=["secret-host"])),
        # ... nor does the JSON API's hosts resource (list and detail).
        admin.get(f"/api/v1/hosts/{host.pk}"),
        admin.get("/api/v1/hosts"),
        admin.post(
            tls_url,
            {"tls_cert_pem": other["client_cert"].read_text(), "tls_key_pem": pems["tls_key_pem"]},
        ),
    ]
    assert "does not belong" in pages[-1].content.decode()
    assert pages[2].status_code == 200 and "secret-host" in pages[2].content.decode()
    for page in pages:
        for secret in secrets:
            assert secret not in page.content.decode()

    # The column holds ciphertext that decrypts to what was pasted.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_tls_key FROM clusters_dockerhost WHERE name = %s", ["secret-host"]
        )
        (stored,) = cursor.fetchone()
    assert stored.startswith("gAAAA") and marker not in stored
    assert marker in decrypt_secret(stored)

    # Every table, as Django sees it.
    dump = io.StringIO()
    call_command("dumpdata", "--all", stdout=dump)
    text = dump.getvalue()
    assert "secret-host" in text and "docker_host.add" in text  # the dump is real
    for secret in secrets:
        assert secret not in text
    # The database itself.
    db_name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and Path(db_name).exists():
        for path in (Path(db_name), Path(db_name + "-wal")):
            if path.exists():
                raw = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in raw, path
    else:
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f'SELECT * FROM "{table}"')  # names from introspection
                rows = repr(cursor.fetchall())
                for secret in secrets:
                    assert secret not in rows, table

    # Logs and anything printed.
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for secret in secrets:
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage() and secret not in str(record.args)
    out, err = capfd.readouterr()
    for secret in secrets:
        assert secret not in out and secret not in err
