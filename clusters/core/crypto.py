"""Encryption at rest for secrets Fleetdeck must be able to show or use again
(SSM activation codes, Docker hosts' TLS material pasted as PEM text).

Keys come from ``settings.FLEETDECK_ENCRYPTION_KEYS`` (Fernet keys, urlsafe
base64 of 32 bytes). The first key encrypts; every key decrypts, so a key is
rotated by putting a new key first, running ``manage.py rotate_encryption_keys``
(re-encrypts every stored secret with the first key), then dropping the old key.

Nothing here logs, and exceptions never carry plaintext.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FLEETDECK_ENCRYPTION_KEYS is empty: set at least one Fernet key "
            "(generate one with `python -m clusters.core.crypto`)."
        )
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as exc:
        # Never echo the key material itself.
        raise ImproperlyConfigured(
            "FLEETDECK_ENCRYPTION_KEYS holds a value that is not a Fernet key."
        ) from exc


def _keys() -> tuple[str, ...]:
    return tuple(k for k in settings.FLEETDECK_ENCRYPTION_KEYS if k)


def encrypt_secret(plaintext: str) -> str:
    """Encrypt with the first configured key; returns an ASCII token."""
    return _multifernet(_keys()).encrypt(plaintext.encode()).decode("ascii")


def decrypt_secret(token: str) -> str:
    """Decrypt with any configured key."""
    try:
        return _multifernet(_keys()).decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "The stored secret cannot be decrypted with FLEETDECK_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?)."
        ) from exc


def reencrypt_secret(token: str) -> str:
    """Re-encrypt a token with the first key (key rotation)."""
    try:
        return _multifernet(_keys()).rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise DecryptionError("The stored secret cannot be decrypted for rotation.") from exc


def encryption_configured() -> bool:
    try:
        _multifernet(_keys())
    except ImproperlyConfigured:
        return False
    return True


if __name__ == "__main__":  # pragma: no cover - a helper for operators
    print(Fernet.generate_key().decode())
