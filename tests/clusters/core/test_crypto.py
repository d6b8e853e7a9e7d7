from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from clusters.core.crypto import DecryptionError, decrypt_secret, encrypt_secret, reencrypt_secret


def test_round_trip_and_ciphertext_hides_plaintext() -> None:
    token = encrypt_secret("AbCdEfGhIjKlMnOpQrSt")
    assert "AbCdEfGhIjKlMnOpQrSt" not in token
    assert decrypt_secret(token) == "AbCdEfGhIjKlMnOpQrSt"


def test_rotation_first_key_encrypts_all_decrypt(settings) -> None:
    old = settings.FLEETDECK_ENCRYPTION_KEYS[0]
    token_old = encrypt_secret("secret-one")
    new = Fernet.generate_key().decode()
    settings.FLEETDECK_ENCRYPTION_KEYS = [new, old]
    # An old token still decrypts; new tokens use the new key only.
    assert decrypt_secret(token_old) == "secret-one"
    rotated = reencrypt_secret(token_old)
    settings.FLEETDECK_ENCRYPTION_KEYS = [new]
    assert decrypt_secret(rotated) == "secret-one"
    with pytest.raises(DecryptionError) as info:
        decrypt_secret(token_old)
    assert "secret-one" not in str(info.value)


def test_missing_or_bad_keys_fail_loudly_without_echoing_them(settings) -> None:
    settings.FLEETDECK_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured):
        encrypt_secret("x")
    settings.FLEETDECK_ENCRYPTION_KEYS = ["not-a-key-at-all"]
    with pytest.raises(ImproperlyConfigured) as info:
        encrypt_secret("x")
    assert "not-a-key-at-all" not in str(info.value)
