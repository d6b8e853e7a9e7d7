from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from clusters import registration as svc
from clusters.crypto import DecryptionError, decrypt_secret

from .conftest import activated

pytestmark = pytest.mark.django_db


def test_key_rotation_reencrypts_stored_codes(fleet, operator, admin_user, settings) -> None:
    activation = activated(operator, admin_user, fleet.cluster)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    old = settings.FLEETDECK_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.FLEETDECK_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "re-encrypted 1 activation code(s), 0 failed" in out.getvalue()
    assert code not in out.getvalue()
    settings.FLEETDECK_ENCRYPTION_KEYS = [new]  # the old key is gone
    activation.refresh_from_db()
    assert decrypt_secret(activation.encrypted_code) == code
    assert svc.activation_reveal(actor=operator, activation_pk=activation.pk).code == code
    settings.FLEETDECK_ENCRYPTION_KEYS = [old]
    with pytest.raises(DecryptionError):
        decrypt_secret(activation.encrypted_code)
