"""Render docs/troubleshooting.md from the diagnosis catalogue; --check fails if stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deployments.diagnosis.docs import troubleshooting_markdown


class Command(BaseCommand):
    help = "Write docs/troubleshooting.md from deployments/diagnosis/catalogue.toml."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="fail if the file is stale")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.BASE_DIR) / "docs" / "troubleshooting.md"
        text = troubleshooting_markdown()
        if options["check"]:
            if not path.exists() or path.read_text() != text:
                raise CommandError(
                    "docs/troubleshooting.md is stale: run `python manage.py troubleshooting_docs`"
                )
            self.stdout.write("docs/troubleshooting.md is up to date")
            return
        path.write_text(text)
        self.stdout.write(f"wrote {path}")
