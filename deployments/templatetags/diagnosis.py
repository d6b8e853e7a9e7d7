"""``|ticks``: the catalogue's `code` spans (Markdown, as docs/troubleshooting.md
renders them) as <code> on a page; everything else escaped."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_TICKS = re.compile(r"`([^`]+)`")


@register.filter
def ticks(value: object) -> SafeString:
    return mark_safe(_TICKS.sub(r"<code>\1</code>", escape(str(value))))  # noqa: S308
