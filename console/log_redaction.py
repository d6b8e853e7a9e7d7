"""A logging filter that redacts secrets from every record that reaches a handler.

Fleetdeck never logs an activation code itself (the code is decrypted only in
``clusters.registration.activation_reveal``), and botocore's wire logging is held
at WARNING in settings. This filter is the second line: if someone turns
botocore's DEBUG logging on to chase a problem, the CreateActivation response body
it logs ("ActivationCode": "...") reaches the log with the code masked.
"""

from __future__ import annotations

import logging
import re

# JSON bodies as botocore logs them (bytes repr or text), and the parsed dict repr.
_SECRET_FIELDS = re.compile(
    r"""(?P<key>["']?(?:ActivationCode|activation_code|SecretAccessKey|SessionToken|aws_secret_access_key)["']?\s*[:=]\s*["']?)"""
    r"""(?P<value>[^"',}\s]+)"""
)
MASK = "***"


def redact(text: str) -> str:
    return _SECRET_FIELDS.sub(lambda m: m.group("key") + MASK, text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
