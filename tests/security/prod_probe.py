"""Run inside a subprocess with production settings (console.settings, DEBUG off,
HTTPS on): log in over https with Django's test client and print the headers and
cookie flags as JSON for tests/security/test_production_headers.py."""

from __future__ import annotations

import json

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()
call_command("migrate", verbosity=0, interactive=False)
call_command("createcachetable", verbosity=0)
User = get_user_model()
User.objects.create_user("probe", password="probe-Password-123")
client = Client(HTTP_HOST="fleetdeck.example.com")
login_page = client.get("/login/", secure=True)
plain = client.get("/login/", secure=False)
response = client.post(
    "/login/",
    {"username": "probe", "password": "probe-Password-123"},
    secure=True,
    HTTP_REFERER="https://fleetdeck.example.com/login/",
    HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
)
cookies = {
    name: {
        "secure": bool(m["secure"]),
        "httponly": bool(m["httponly"]),
        "samesite": m["samesite"],
    }
    for name, m in client.cookies.items()
}
print(
    json.dumps(
        {
            "login_status": login_page.status_code,
            "plain_status": plain.status_code,
            "plain_location": plain.headers.get("Location", ""),
            "post_status": response.status_code,
            "headers": dict(login_page.headers),
            "cookies": cookies,
        }
    )
)
