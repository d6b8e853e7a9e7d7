"""Re-encrypt every stored secret with the first FLEETDECK_ENCRYPTION_KEYS key.

Rotation: put the new key first (keep the old one after it), restart, run this,
then remove the old key. Prints counts only, never a secret.

Secrets are found by name: every text field of any installed app named
``encrypted_*`` holds a Fernet token (activation codes, Docker hosts' TLS PEMs),
so a new secret field is rotated without touching this command.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction

from clusters.core.crypto import DecryptionError, reencrypt_secret

PREFIX = "encrypted_"


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Each installed model with its ``encrypted_*`` fields."""
    found = []
    for model in apps.get_models():
        names = [
            f.name
            for f in model._meta.concrete_fields
            if f.name.startswith(PREFIX) and isinstance(f, models.TextField | models.CharField)
        ]
        if names:
            found.append((model, names))
    return found


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first FLEETDECK_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        total_done = total_failed = 0
        with transaction.atomic():
            for model, names in encrypted_fields():
                done = dict.fromkeys(names, 0)
                failed = dict.fromkeys(names, 0)
                holds_any = models.Q()
                for name in names:
                    holds_any |= ~models.Q(**{name: ""})
                rows = model._default_manager.select_for_update().filter(holds_any)
                for row in rows.only("pk", *names):
                    updates = {}
                    for name in names:
                        token = getattr(row, name)
                        if not token:
                            continue
                        try:
                            updates[name] = reencrypt_secret(token)
                        except DecryptionError:
                            failed[name] += 1
                            self.stderr.write(
                                f"{model._meta.model_name} {row.pk} {name}: "
                                "no configured key decrypts it"
                            )
                            continue
                        done[name] += 1
                    if updates:
                        model._default_manager.filter(pk=row.pk).update(**updates)
                for name in names:
                    self.stdout.write(
                        f"{model._meta.model_name}.{name}: re-encrypted {done[name]}, "
                        f"{failed[name]} failed"
                    )
                total_done += sum(done.values())
                total_failed += sum(failed.values())
        self.stdout.write(f"re-encrypted {total_done} secret(s), {total_failed} failed")
