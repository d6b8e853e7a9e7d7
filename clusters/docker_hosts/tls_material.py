"""Checks on TLS material pasted as PEM text (Docker hosts' CA, client
certificate and client key), before it is encrypted and stored.

Messages say what is wrong without quoting the input, and nothing is chained
from the parser's exceptions: a private key must never reach an error page,
a log line or a traceback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.core.exceptions import ValidationError

from clusters.display import timestamp_text

# A CA bundle of a few certificates fits easily; a whole system trust store does not
# belong here (use a path).
PEM_MAX_CHARS = 64 * 1024


@dataclass(frozen=True)
class CertificateSummary:
    """What may be shown and audited about a certificate (it is public)."""

    subject: str
    not_after: datetime
    sha256: str


def pem_normalise(text: str) -> str:
    """Line endings as LF, no surrounding blank space, one final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text + "\n" if text else ""


def _shape_check(text: str, what: str) -> bytes:
    if len(text) > PEM_MAX_CHARS:
        raise ValidationError(
            f"The {what} is longer than {PEM_MAX_CHARS // 1024} KiB; give a file path instead."
        )
    if not text.isascii():
        raise ValidationError(f"The {what} must be PEM text (ASCII only).")
    return text.encode("ascii")


def pem_certificates_check(text: str, *, what: str) -> list[x509.Certificate]:
    """One or more PEM certificates (a CA bundle, or a client certificate and its
    chain), none expired; the first is the one that matters for a client."""
    data = _shape_check(text, what)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValidationError(
            f"The {what} must be in PEM form: -----BEGIN CERTIFICATE----- … "
            "-----END CERTIFICATE-----."
        )
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValidationError(f"The {what} is not a readable PEM certificate.") from None
    now = datetime.now(UTC)
    for cert in certs:
        if cert.not_valid_after_utc < now:
            raise ValidationError(
                f"The {what} expired on {timestamp_text(cert.not_valid_after_utc)}."
            )
    return certs


def pem_private_key_check(text: str) -> PrivateKeyTypes:
    data = _shape_check(text, "client key")
    if b"-----BEGIN" in data and b"PRIVATE KEY-----" not in data:
        raise ValidationError("This is not a private key (a certificate, perhaps?).")
    if b"PRIVATE KEY-----" not in data:
        raise ValidationError(
            "The client key must be in PEM form: -----BEGIN PRIVATE KEY----- … "
            "-----END PRIVATE KEY-----."
        )
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValidationError(
            "The client key is protected by a passphrase; Docker's TLS needs it without one "
            "(openssl pkey -in key.pem -out plain.pem)."
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError("The client key is not a readable PEM private key.") from None


def key_matches_certificate(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    def spki(public: object) -> bytes:
        return public.public_bytes(  # type: ignore[attr-defined,no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(key.public_key()) == spki(cert.public_key())


def certificate_summary(cert: x509.Certificate) -> CertificateSummary:
    return CertificateSummary(
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
        sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )
