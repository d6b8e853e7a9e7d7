"""One timestamp format, one age format, one "name · region" (clusters/display.py and
its template filters), and a scan that keeps every template and module on them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.utils import timezone

from clusters.display import age_text, name_with_region, relative_text, timestamp_text
from clusters.models import AwsAccount, Cluster
from tests.peers import REPO

AT = datetime(2026, 12, 1, 18, 4, 5, 123456, tzinfo=UTC)


def _render(source: str, **context: object) -> str:
    return Template("{% load display %}" + source).render(Context(context))


def test_timestamp_text_is_the_one_format_with_its_zone() -> None:
    assert timestamp_text(AT) == "2026-12-01 18:04:05 UTC"
    assert timestamp_text(AT.replace(tzinfo=None)) == "2026-12-01 18:04:05 UTC"  # naive = UTC


@override_settings(TIME_ZONE="Europe/Berlin")
def test_timestamp_text_names_a_configured_zone() -> None:
    timezone.deactivate()  # pick up the overridden default zone
    assert timestamp_text(AT) == "2026-12-01 19:04:05 CET"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "never"),
        (0, "< 1 min"),
        (59, "< 1 min"),
        (60, "1 min"),
        (3599, "60 min"),
        (3600, "1 h"),
        (172799, "48 h"),
        (172800, "2 d"),
        (-7200, "2 h"),
    ],
)
def test_age_text_keeps_the_dashboard_scale(seconds: float | None, text: str) -> None:
    assert age_text(seconds) == text


def test_relative_text_says_ago_or_in() -> None:
    assert relative_text(AT - timedelta(minutes=5), now=AT) == "5 min ago"
    assert relative_text(AT + timedelta(hours=3), now=AT) == "in 3 h"


def test_stamp_filter_renders_a_time_element_with_the_iso_value() -> None:
    html = _render("{{ at|stamp }}", at=AT)
    assert html == (
        '<time class="stamp" datetime="2026-12-01T18:04:05.123456+00:00">'
        "2026-12-01 18:04:05 UTC</time>"
    )
    assert _render("{{ at|stamp }}", at=None) == '<span class="muted">—</span>'


def test_stamp_age_adds_the_relative_age_after_the_moment() -> None:
    html = _render("{{ at|stamp_age }}", at=timezone.now() - timedelta(minutes=3))
    assert re.fullmatch(
        r'<time class="stamp" datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time> '
        r'<span class="age">\(3 min ago\)</span>',
        html,
    ), html


def test_age_include_and_filter_agree() -> None:
    assert _render("{{ s|age }}", s=7200) == "2 h"
    include = Template('{% include "console/_age.html" with seconds=s %}')
    assert include.render(Context({"s": 90})).strip() == "2 min"
    assert include.render(Context({"s": None})).strip() == "never"


def test_name_region_renders_name_then_muted_region_escaped() -> None:
    assert name_with_region("web", "eu-west-1") == "web · eu-west-1"
    assert name_with_region("web", "") == "web"
    html = _render("{% name_region n r %}", n="<b>web</b>", r="eu-west-1")
    assert html == '&lt;b&gt;web&lt;/b&gt;<span class="region"> · eu-west-1</span>'


@pytest.mark.django_db
def test_with_region_takes_a_cluster_or_anything_with_a_cluster() -> None:
    account = AwsAccount.objects.create(name="a", regions=["eu-west-1"])
    cluster = Cluster.objects.create(
        account=account, region="eu-west-1", arn="arn:aws:ecs:eu-west-1:1:cluster/prod", name="prod"
    )

    class Service:
        name = "web"

    service = Service()
    service.cluster = cluster  # type: ignore[attr-defined]
    expected = '{}<span class="region"> · eu-west-1</span>'
    assert _render("{{ c|with_region }}", c=cluster) == expected.format("prod")
    assert _render("{{ s|with_region }}", s=service) == expected.format("web")


# --- the scan: nothing formats a moment by itself ------------------------------------

TEMPLATE_DATE_FORMATTING = re.compile(
    r"\|\s*(date|time|timesince|timeuntil|naturaltime|naturalday)\b|\{%\s*now\b|\bwidthratio\b"
)
# Human formats in Python: a strftime or f-string format with a space in it
# ("%Y-%m-%d %H:%M"), or a zone name glued after a formatted value (f"{at} UTC").
# Machine stamps (file names, ISO values, form values) have no space and stay allowed.
PYTHON_DATE_FORMATTING = re.compile(
    r"strftime\(\s*[\"'][^\"']*%[^\"']* [^\"']*[\"']"
    r"|\{[^{}:]+:%[^{}]* [^{}]*\}"
    r"|\}\s*UTC\b"
)
JS_DATE_FORMATTING = re.compile(r"toLocale\w*String|Intl\.DateTimeFormat|new Date\(")


def _offenders(paths: list[Path], pattern: re.Pattern[str]) -> list[str]:
    return [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}"
        for path in paths
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]


def test_templates_format_moments_only_through_the_display_filters() -> None:
    templates = sorted((REPO / "templates").rglob("*.html"))
    assert len(templates) > 40
    offenders = _offenders(templates, TEMPLATE_DATE_FORMATTING)
    assert not offenders, "use {{ at|stamp }} / {{ at|stamp_age }} / {{ s|age }}:\n" + "\n".join(
        offenders
    )


def test_python_formats_moments_only_through_timestamp_text() -> None:
    modules = sorted(
        path
        for app in ("clusters", "deployments", "console")
        for path in (REPO / app).rglob("*.py")
        if "migrations" not in path.parts and path != REPO / "clusters" / "display.py"
    )
    offenders = _offenders(modules, PYTHON_DATE_FORMATTING)
    assert not offenders, "use clusters.display.timestamp_text:\n" + "\n".join(offenders)


def test_scripts_do_not_format_dates_in_the_browser() -> None:
    scripts = sorted((REPO / "static" / "js").rglob("*.js"))
    assert scripts
    assert not _offenders(scripts, JS_DATE_FORMATTING)


def test_the_scan_catches_what_it_should() -> None:
    for bad in ['{{ x|date:"Y-m-d" }}', "{{ x|timesince }}", "{% now 'Y' %}"]:
        assert TEMPLATE_DATE_FORMATTING.search(bad), bad
    for bad in ['f"{at:%Y-%m-%d %H:%M} UTC"', 'at.strftime("%d %b")', 'f"{when} UTC"']:
        assert PYTHON_DATE_FORMATTING.search(bad), bad
    for fine in ['strftime("%Y%m%dT%H%M%SZ")', 'f"{hour:%H}:00"', "at.isoformat()"]:
        assert not PYTHON_DATE_FORMATTING.search(fine), fine
