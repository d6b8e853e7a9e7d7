"""Alert channels filtered by the sources of the rules the health model replaced
(issue 14) now name the subject kinds those facts belong to; without this, a
channel ticked for "deployment" or "task" would never fire again."""

from __future__ import annotations

from typing import Any

from django.db import migrations

RENAMED = {
    "deployment": ["service"],
    "task": ["service"],
    "container-instance": ["instance"],
    "docker-host": ["host"],
    "sync": ["cluster", "account"],
}


def forwards(apps: Any, schema_editor: Any) -> None:
    channel_model = apps.get_model("console", "NotificationChannel")
    for channel in channel_model.objects.exclude(sources=[]):
        sources: list[str] = []
        for source in channel.sources:
            for new in RENAMED.get(source, [source]):
                if new not in sources:
                    sources.append(new)
        if sources != channel.sources:
            channel.sources = sources
            channel.save(update_fields=["sources"])


class Migration(migrations.Migration):
    dependencies = [("console", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
