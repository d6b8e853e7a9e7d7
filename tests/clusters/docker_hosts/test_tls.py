"""Docker TLS material pasted as PEM text: stored encrypted, used over real mutual
TLS (the engine behind a TLS-terminating proxy that requires a client
certificate), materialised in private files only while a client lives, never
shown again, checked with clear messages, audited without the secret."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse

from clusters.core.crypto import decrypt_secret
from clusters.docker_hosts import docker_host_create, docker_host_sync, host_endpoint, tls_files
from clusters.docker_hosts import engine as dockerhosts
from clusters.models import AuditEntry, Container, DockerHost
from tests.clusters.docker_helpers import pem_texts, tls_material, tls_server_context

pytestmark = pytest.mark.django_db

ADD = "/docker-hosts/add/"


def _tls_url(name: str) -> str:
    return reverse("clusters:docker-host-tls", args=[name])


def _materialised() -> set[str]:
    root = tls_files.material_root()
    return {e for e in os.listdir(root) if e.startswith(f"fleetdeck-tls-{os.getpid()}-")}


def _body_lines(pem: str) -> list[str]:
    return [line for line in pem.strip().splitlines() if line and not line.startswith("-----")]


def _private_line(key_pem: str) -> str:
    """A base64 line of an EC P-256 PKCS#8 key made of private-scalar bytes: the
    first line is mostly an ASN.1 header every such key shares, the last mostly
    the public key, which the (public, echoable) certificate carries too."""
    return _body_lines(key_pem)[1]


def _signature_line(cert_pem: str) -> str:
    return _body_lines(cert_pem)[-1]


def _plain(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()  # CSRF is tested over every URL elsewhere; roles are the subject here
    client.force_login(user)
    return client


@pytest.fixture
def admin_web(admin_user) -> Client:  # type: ignore[no-untyped-def]
    return _plain(admin_user)


@pytest.fixture
def other_material(tmp_path) -> dict[str, Path]:
    """A second CA and client certificate the proxy does not trust."""
    directory = tmp_path / "other"
    directory.mkdir()
    return tls_material(directory)


def test_pem_material_from_the_form_syncs_over_mutual_tls(admin_web, engine, tls_proxy):
    proxy, paths = tls_proxy
    pems = pem_texts(paths)
    before = _materialised()
    response = admin_web.post(ADD, {"name": "tls-pem", "endpoint": proxy.url, **pems})
    assert response.status_code == 302, response.content.decode()[:2000]
    host = DockerHost.objects.get(name="tls-pem")
    assert host.reachable and host.engine_version
    assert (host.tls_ca_path, host.tls_cert_path, host.tls_key_path) == ("", "", "")
    for token, pem in (
        (host.encrypted_tls_ca, pems["tls_ca_pem"]),
        (host.encrypted_tls_cert, pems["tls_cert_pem"]),
        (host.encrypted_tls_key, pems["tls_key_pem"]),
    ):
        assert token.startswith("gAAAA")  # a Fernet token, not PEM text
        assert decrypt_secret(token) == pem

    container = engine.run("tls-pem")
    result = docker_host_sync(host_id=host.pk)
    assert result is not None and result.ok, result and result.error
    assert result.calls == 1 + result.inspected
    assert Container.objects.filter(host=host, container_id=container.id, state="running").exists()
    assert _materialised() == before  # every client's private files are gone

    entry = AuditEntry.objects.get(action="docker_host.add", object_id=str(host.pk))
    assert entry.details["tls_stored"] == ["ca", "cert", "key"]
    assert entry.details["client_cert"]["subject"] == "CN=fleetdeck-test-client"
    assert _private_line(pems["tls_key_pem"]) not in repr(entry.details) + entry.message

    page = admin_web.get(reverse("clusters:docker-host", args=["tls-pem"])).content.decode()
    assert "stored (encrypted)" in page and "Change TLS material" in page
    tls_page = admin_web.get(_tls_url("tls-pem")).content.decode()
    assert "is stored (encrypted)" in tls_page and 'name="clear_tls_key"' in tls_page
    assert _private_line(pems["tls_key_pem"]) not in tls_page
    assert _signature_line(pems["tls_cert_pem"]) not in tls_page  # stored text is never shown


def test_private_files_live_exactly_as_long_as_the_client(engine, tls_proxy):
    proxy, paths = tls_proxy
    pems = pem_texts(paths)
    host = docker_host_create(name="tls-files", endpoint=proxy.url, **pems)
    endpoint = host_endpoint(host)
    assert pems["tls_key_pem"] not in repr(endpoint)  # not in logs or tracebacks either
    stream = dockerhosts.EventStream(endpoint)
    try:
        directory = stream.material_dir
        assert directory is not None and os.path.isdir(directory)
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        names = sorted(os.listdir(directory))
        assert names == ["ca.pem", "cert.pem", "key.pem"]
        for name in names:
            assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o600
        assert Path(directory, "key.pem").read_text() == pems["tls_key_pem"]
    finally:
        stream.close()
    assert not os.path.exists(directory)

    # A client that fails to connect cleans up too.
    before = _materialised()
    dead = dockerhosts.Endpoint(
        url="tcp://127.0.0.1:9",
        tls_ca_pem=pems["tls_ca_pem"],
        tls_cert_pem=pems["tls_cert_pem"],
        tls_key_pem=pems["tls_key_pem"],
        timeout=2,
    )
    with pytest.raises(dockerhosts.DockerUnreachable):
        dockerhosts.engine_info(dead)
    assert _materialised() == before


def test_a_wrong_client_certificate_is_refused_inline_and_recorded_on_the_host(
    admin_web, engine, tls_proxy, other_material
):
    proxy, paths = tls_proxy
    wrong = {
        "tls_ca_pem": paths["ca"].read_text(),  # the server is trusted...
        "tls_cert_pem": other_material["client_cert"].read_text(),  # ...the client is not
        "tls_key_pem": other_material["client_key"].read_text(),
    }
    response = admin_web.post(ADD, {"name": "wrong", "endpoint": proxy.url, **wrong})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Connection test failed" in body
    assert _private_line(wrong["tls_key_pem"]) not in body  # the key is not sent back
    assert not DockerHost.objects.filter(name="wrong").exists()

    # A host that worked, whose engine stops trusting its client certificate.
    host = docker_host_create(name="tls-host", endpoint=proxy.url, **pem_texts(paths))
    assert docker_host_sync(host_id=host.pk).ok  # type: ignore[union-attr]
    proxy.tls = tls_server_context(paths, client_ca=other_material["ca"])
    result = docker_host_sync(host_id=host.pk)
    assert result is not None and not result.ok and result.error
    host.refresh_from_db()
    assert not host.reachable and host.last_error == result.error
    page = admin_web.get(reverse("clusters:docker-host", args=["tls-host"]))
    assert page.status_code == 200 and host.last_error in page.content.decode()
    sync_now = admin_web.post(reverse("clusters:docker-host-sync", args=["tls-host"]))
    assert sync_now.status_code == 302


def _key_pem(*, passphrase: bytes | None = None) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def test_pem_checks_give_clear_inline_errors_and_never_echo_the_key(admin_web, tmp_path):
    paths = tls_material(tmp_path)
    good = pem_texts(paths)
    cases = [
        ({"tls_key_pem": "not a key"}, "tls_key_pem", "must be in PEM form"),
        ({"tls_key_pem": good["tls_cert_pem"]}, "tls_key_pem", "not a private key"),
        (
            {"tls_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
            "tls_key_pem",
            "not a readable PEM private key",
        ),
        (
            {"tls_key_pem": _key_pem(passphrase=b"secret")},
            "tls_key_pem",
            "protected by a passphrase",
        ),
        ({"tls_key_pem": _key_pem()}, "tls_key_pem", "does not belong to the client certificate"),
        ({"tls_ca_pem": "garbage"}, "tls_ca_pem", "must be in PEM form"),
        ({"tls_key_pem": None}, "tls_key_pem", "go together"),
        ({"tls_key_path": "/etc/key.pem"}, "tls_key_path", "not both"),
    ]
    for override, field, words in cases:
        data: dict[str, str] = {"name": "checks", "endpoint": "tcp://127.0.0.1:9"}
        data.update(**good)
        for k, v in override.items():
            if v is None:
                data.pop(k)
            else:
                data[k] = v
        response = admin_web.post(ADD, data)
        assert response.status_code == 200, (override, response.status_code)
        errors = response.context["form"].errors
        assert field in errors and words in " ".join(errors[field]), (field, errors)
        body = response.content.decode()
        assert "Connection test failed" not in body  # refused before any connection
        assert re.search(r'<textarea name="tls_key_pem"[^>]*>\s*</textarea>', body)
        for key_text in (good["tls_key_pem"], data.get("tls_key_pem") or ""):
            if "PRIVATE KEY" in key_text and len(_body_lines(key_text)) >= 3:
                assert _private_line(key_text) not in body
    response = admin_web.post(ADD, {"name": "unix", "endpoint": "unix:///x.sock", **good})
    assert "tcp:// endpoints only" in response.content.decode()
    assert not DockerHost.objects.exists()


def test_pem_text_without_an_encryption_key_is_refused_inline(admin_web, tmp_path, settings):
    """No usable FLEETDECK_ENCRYPTION_KEYS: PEM text cannot be stored encrypted, so the
    form says so (it was a 500), and nothing is saved."""
    settings.FLEETDECK_ENCRYPTION_KEYS = []
    data = {"name": "nokeys", "endpoint": "tcp://127.0.0.1:9", **pem_texts(tls_material(tmp_path))}
    response = admin_web.post(ADD, data)
    assert response.status_code == 200
    errors = " ".join(" ".join(e) for e in response.context["form"].errors.values())
    assert "FLEETDECK_ENCRYPTION_KEYS holds no usable key" in errors
    assert not DockerHost.objects.exists()


def test_tls_page_replaces_and_clears_material_with_audit(
    admin_web, operator, viewer, engine, tls_proxy
):
    proxy, paths = tls_proxy
    # Added the old way: file paths on the console's machine.
    host = docker_host_create(
        name="files",
        endpoint=proxy.url,
        tls_ca_path=str(paths["ca"]),
        tls_cert_path=str(paths["client_cert"]),
        tls_key_path=str(paths["client_key"]),
    )
    url = _tls_url("files")
    for client in (_plain(operator), _plain(viewer)):
        assert client.get(url).status_code == 403
        assert client.post(url, pem_texts(paths)).status_code == 403
    page = admin_web.get(url).content.decode()
    assert str(paths["client_key"]) in page and "clear_tls_key" not in page

    # Switch to stored PEM text (the path fields emptied).
    response = admin_web.post(url, pem_texts(paths))
    assert response.status_code == 302, response.content.decode()[:3000]
    host.refresh_from_db()
    assert host.tls_stored == ["ca", "cert", "key"] and host.tls_from_files == []
    entry = AuditEntry.objects.get(action="docker_host.tls_update")
    assert entry.details["tls_stored"] == ["ca", "cert", "key"]
    assert "client key stored (encrypted)" in entry.message
    assert docker_host_sync(host_id=host.pk).ok  # type: ignore[union-attr]

    # A stored item blocks a path for it until cleared; clearing the key alone
    # would leave a certificate without its key.
    response = admin_web.post(url, {"tls_ca_path": str(paths["ca"])})
    assert response.status_code == 400 and "tick “clear”" in response.content.decode()
    response = admin_web.post(url, {"clear_tls_key": "on"})
    assert response.status_code == 400 and "go together" in response.content.decode()
    assert DockerHost.objects.get(pk=host.pk).tls_stored == ["ca", "cert", "key"]

    # Nothing typed: nothing changes, nothing is audited.
    assert admin_web.post(url, {}).status_code == 302
    assert AuditEntry.objects.filter(action="docker_host.tls_update").count() == 1

    # Clearing never needs the host; the next sync shows the consequence.
    response = admin_web.post(url, {"clear_tls_cert": "on", "clear_tls_key": "on"})
    assert response.status_code == 302
    host.refresh_from_db()
    assert host.tls_stored == ["ca"] and host.encrypted_tls_key == ""
    cleared = AuditEntry.objects.filter(action="docker_host.tls_update").latest("pk")
    assert cleared.details["tls_cleared"] == ["cert", "key"]
    result = docker_host_sync(host_id=host.pk)
    assert result is not None and not result.ok  # the engine wants a client certificate
