"""One-time set-password links: how a new user gets their first password, and how
a user who forgot theirs gets a new one, on an installation that sends no mail.

The token is Django's password-reset token (a signed hash of the user's state), with
its own salt and the account's active flag mixed in: it stops working the moment the
password is set (the hash covers the password), when the account is deactivated,
and after ``PASSWORD_RESET_TIMEOUT`` (Django's default: 3 days). Nothing is stored.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class SetPasswordTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "fleetdeck.console.users.SetPasswordTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}|active={user.is_active}"


set_password_tokens = SetPasswordTokenGenerator()


def set_password_link(request: HttpRequest, user: Any) -> str:
    """The absolute URL the admin hands to ``user`` (by chat, by phone: no mail)."""
    path = reverse(
        "users:set-password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": set_password_tokens.make_token(user),
        },
    )
    return request.build_absolute_uri(path)


def link_valid_hours() -> int:
    return int(settings.PASSWORD_RESET_TIMEOUT) // 3600
