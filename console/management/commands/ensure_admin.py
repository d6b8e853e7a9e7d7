"""Create the first admin account once, with a generated password.

The password is kept in ``.data/admin-password`` (mode 600) and printed once, in
the one line this command prints: how to log in. ``make run`` (scripts/run.sh)
shows that line in its final block, where it does not scroll away. There is never
a fixed default password. Running it again changes nothing and prints no password.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from clusters.core.roles import ADMIN, role_groups_ensure


class Command(BaseCommand):
    help = "Create the admin account (once) with a generated password kept under the data dir."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user_model = get_user_model()
        password_file = Path(settings.DATA_DIR) / "admin-password"
        if user_model.objects.filter(username=username).exists():
            self.stdout.write(
                f"Log in as '{username}' (the account exists; its first password is in"
                f" {password_file})"
                if password_file.exists()
                else f"Log in as '{username}' (the account exists)."
            )
            return
        password = secrets.token_urlsafe(18)
        user = user_model.objects.create_superuser(username=username, email="", password=password)
        role_groups_ensure()
        user.groups.add(Group.objects.get(name=ADMIN))
        password_file.parent.mkdir(parents=True, exist_ok=True)
        # Create with 0600 from the start so the secret is never world-readable.
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        self.stdout.write(
            self.style.SUCCESS(
                f"Log in as '{username}' with password: {password}  (created now, printed only"
                f" this once; kept in {password_file}, readable only by you)"
            )
        )
