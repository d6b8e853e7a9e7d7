"""A logging filter that redacts secrets from every record that reaches a handler.

Fleetdeck never logs an activation code itself (the code is decrypted only in
``clusters.registration.activation_reveal``), and botocore's wire logging is held
at WARNING in settings. This filter is the second line: if someone turns
botocore's DEBUG logging on to chase a problem, the CreateActivation response body
it logs ("ActivationCode": "...") reaches the log with the code masked.
"""

from __future__ import annotations

import logging

from clusters.core.redaction import MASK, redact

__all__ = ["MASK", "RedactSecrets", "redact"]


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now so that its text can be masked too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
