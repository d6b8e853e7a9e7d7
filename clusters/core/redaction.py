"""Masking secrets in text: Fleetdeck's own log records (``console.log_redaction``)
and the container log lines it shows (``deployments.logs``) pass through the same
``redact``. It masks the values of AWS secret fields (SecretAccessKey,
SessionToken, activation codes, in JSON, dict reprs, XML and ``key=value``), the
``--activation-code`` of an install command, and access key ids (AKIA…/ASIA…).
It cannot know an application's own secrets: a password printed in plain words
stays readable (docs/logs.md says so)."""

from __future__ import annotations

import re

_NAMES = r"ActivationCode|activation_code|SecretAccessKey|SessionToken|aws_secret_access_key"
_SECRET_FIELDS = re.compile(
    # JSON bodies as botocore logs them (text, bytes repr, escaped quotes) and dict reprs:
    # "ActivationCode":"…", {\"SecretAccessKey\": \"…\"}, 'SessionToken': '…', key=…
    rf"""(?P<key>\\?["']?(?:{_NAMES})\\?["']?\s*[:=]\s*\\?["']?)(?P<value>[^"'\\,}}\s<]+)"""
    # XML bodies of query-protocol services (STS AssumeRole): <SecretAccessKey>…</…>
    rf"|(?P<tag><(?:{_NAMES})>)(?P<tagged>[^<]+)"
    # The install command: --activation-code …
    r"|(?P<flag>--activation-code\s+)(?P<flagged>\S+)"
    # An access key id on its own (AKIA… long-term, ASIA… temporary): the prefix stays.
    r"|(?P<akid>\b(?:AKIA|ASIA))(?P<akid_rest>[A-Z0-9]{16})\b"
)
MASK = "***"


def _mask(match: re.Match[str]) -> str:
    prefix = match.group("key") or match.group("tag") or match.group("flag") or match.group("akid")
    return prefix + MASK


def redact(text: str) -> str:
    return _SECRET_FIELDS.sub(_mask, text)
