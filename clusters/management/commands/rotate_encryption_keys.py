"""Re-encrypt every stored activation code with the first FLEETDECK_ENCRYPTION_KEYS key.

Rotation: put the new key first (keep the old one after it), restart, run this,
then remove the old key. Prints counts only, never a code.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from clusters.crypto import DecryptionError, reencrypt_secret
from clusters.models import Activation


class Command(BaseCommand):
    help = "Re-encrypt stored activation codes with the first FLEETDECK_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        done = failed = 0
        with transaction.atomic():
            rows = Activation.objects.select_for_update().exclude(encrypted_code="")
            for row in rows:
                try:
                    token = reencrypt_secret(row.encrypted_code)
                except DecryptionError:
                    failed += 1
                    self.stderr.write(
                        f"activation {row.activation_id}: no configured key decrypts it"
                    )
                    continue
                Activation.objects.filter(pk=row.pk).update(encrypted_code=token)
                done += 1
        self.stdout.write(f"re-encrypted {done} activation code(s), {failed} failed")
