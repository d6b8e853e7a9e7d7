"""Security headers and cookie flags as production serves them (console.settings
with DEBUG off and HTTPS on, in a subprocess): HSTS, a self-only CSP with
frame-ancestors 'none', referrer policy, nosniff, and session/CSRF cookies that are
Secure, SameSite and (session) HttpOnly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.peers import REPO


@pytest.fixture(scope="module")
def prod(tmp_path_factory) -> dict:
    data = tmp_path_factory.mktemp("prod")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FLEETDECK_", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SECRET_KEY": "b" * 20 + "-production-secret-" + "Zq9#xK" * 5,
            "DJANGO_DEBUG": "false",
            "FLEETDECK_DATA_DIR": str(data),
            "ALLOWED_HOSTS": "fleetdeck.example.com",
            "PYTHONPATH": str(REPO),
        }
    )
    out = subprocess.run(
        [sys.executable, "tests/security/prod_probe.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_https_is_enforced(prod) -> None:
    assert prod["login_status"] == 200
    assert prod["plain_status"] == 301
    assert prod["plain_location"].startswith("https://")


def test_security_headers(prod) -> None:
    h = {k.lower(): v for k, v in prod["headers"].items()}
    hsts = h["strict-transport-security"]
    assert "max-age=31536000" in hsts and "includeSubDomains" in hsts
    csp = [d.strip() for d in h["content-security-policy"].split(";")]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "object-src 'none'" in csp
    # Self only: no other source, no inline, no eval anywhere in the policy.
    for directive in csp:
        for token in directive.split()[1:]:
            assert token in ("'self'", "'none'", "data:"), directive
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cross-origin-opener-policy"] == "same-origin"


def test_cookie_flags(prod) -> None:
    assert prod["post_status"] == 302  # logged in
    session = prod["cookies"]["sessionid"]
    assert session == {"secure": True, "httponly": True, "samesite": "Lax"}
    csrf = prod["cookies"]["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
