from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from clusters import registration as svc
from clusters.core.crypto import DecryptionError, decrypt_secret, encrypt_secret
from clusters.models import DockerHost

from .conftest import activated

pytestmark = pytest.mark.django_db


KEY_PEM = "-----BEGIN PRIVATE KEY-----\nrotation-test-key\n-----END PRIVATE KEY-----\n"


def test_key_rotation_reencrypts_stored_codes(fleet, operator, admin_user, settings) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    # Docker TLS material is found by the same rule (fields named encrypted_*).
    host = DockerHost.objects.create(
        name="tls",
        endpoint="tcp://127.0.0.1:2376",
        encrypted_tls_cert=encrypt_secret("cert"),
        encrypted_tls_key=encrypt_secret(KEY_PEM),
    )
    old = settings.FLEETDECK_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.FLEETDECK_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    printed = out.getvalue()
    assert "activation.encrypted_code: re-encrypted 1, 0 failed" in printed
    assert "dockerhost.encrypted_tls_ca: re-encrypted 0, 0 failed" in printed
    assert "dockerhost.encrypted_tls_key: re-encrypted 1, 0 failed" in printed
    assert "re-encrypted 3 secret(s), 0 failed" in printed
    assert code not in printed and "rotation-test-key" not in printed
    settings.FLEETDECK_ENCRYPTION_KEYS = [new]  # the old key is gone
    activation.refresh_from_db()
    host.refresh_from_db()
    assert decrypt_secret(activation.encrypted_code) == code
    assert svc.activation_reveal(actor=operator, activation_pk=activation.pk).code == code
    assert decrypt_secret(host.encrypted_tls_key) == KEY_PEM
    assert decrypt_secret(host.encrypted_tls_cert) == "cert"
    assert host.encrypted_tls_ca == ""
    settings.FLEETDECK_ENCRYPTION_KEYS = [old]
    with pytest.raises(DecryptionError):
        decrypt_secret(activation.encrypted_code)
    with pytest.raises(DecryptionError):
        decrypt_secret(host.encrypted_tls_key)


def test_rotation_reports_what_no_key_decrypts_and_rotates_the_rest(settings) -> None:
    lost = DockerHost.objects.create(
        name="lost", endpoint="tcp://127.0.0.1:2376", encrypted_tls_key=encrypt_secret(KEY_PEM)
    )
    old = settings.FLEETDECK_ENCRYPTION_KEYS[0]
    settings.FLEETDECK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # old key dropped early
    kept = DockerHost.objects.create(
        name="kept", endpoint="tcp://127.0.0.1:2377", encrypted_tls_key=encrypt_secret(KEY_PEM)
    )
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_encryption_keys", stdout=out, stderr=err)
    assert "dockerhost.encrypted_tls_key: re-encrypted 1, 1 failed" in out.getvalue()
    assert (
        f"dockerhost {lost.pk} encrypted_tls_key: no configured key decrypts it" in err.getvalue()
    )
    assert "rotation-test-key" not in out.getvalue() + err.getvalue()
    kept.refresh_from_db()
    assert decrypt_secret(kept.encrypted_tls_key) == KEY_PEM
    settings.FLEETDECK_ENCRYPTION_KEYS = [old]
    lost.refresh_from_db()
    assert decrypt_secret(lost.encrypted_tls_key) == KEY_PEM  # left as it was
