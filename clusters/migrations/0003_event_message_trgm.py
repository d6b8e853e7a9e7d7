"""PostgreSQL only: a trigram index on UPPER(Event.message).

Django's icontains compares UPPER(message), so this index makes the timeline's
free-text search fast for rare terms. It needs the pg_trgm extension; when the
database role may not create it, search still works by scanning. The index is not
declared on the model because it is optional and PostgreSQL-only, so it stays raw
SQL here (makemigrations neither creates nor drops it).
"""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)


def trigram_index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute(
                "CREATE INDEX IF NOT EXISTS event_message_trgm_idx "
                "ON clusters_event USING gin ((UPPER(message)) gin_trgm_ops)"
            )
    except Exception as exc:  # an optional accelerator must never fail a deploy
        logger.warning("timeline trigram index not created: %s", exc)


def trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS event_message_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0002_roles"),
    ]

    operations = [migrations.RunPython(trigram_index_create, trigram_index_drop)]
