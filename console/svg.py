"""Server-rendered inline SVG charts.

No styles in the markup (the CSP forbids inline style attributes): shapes carry
classes from static/css/fleetdeck.css (svg.chart .line, .line-desired, .bar,
.bar-error, .axis) and geometry as presentation attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from clusters.display import timestamp_text, usd_text


def _points(values: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in values)


def sparkline(
    series: Sequence[tuple[datetime, int, int]],
    *,
    start: datetime,
    end: datetime,
    label: str,
    width: int = 240,
    height: int = 48,
) -> SafeString:
    """Running (solid) vs desired (dashed) over [start, end]."""
    pad = 3
    span = max((end - start).total_seconds(), 1.0)
    top = max([max(r, d) for _, r, d in series] + [1])

    def x(at: datetime) -> float:
        return pad + (width - 2 * pad) * max(0.0, (at - start).total_seconds()) / span

    def y(v: int) -> float:
        return height - pad - (height - 2 * pad) * v / top

    running = _points([(x(at), y(r)) for at, r, _ in series])
    desired = _points([(x(at), y(d)) for at, _, d in series])
    last = f"{series[-1][1]}/{series[-1][2]} running now" if series else "no samples yet"
    parts = [
        format_html(
            '<svg class="chart sparkline" viewBox="0 0 {} {}" role="img" aria-label="{}">',
            width,
            height,
            f"{label}: running vs desired, {last}",
        ),
        format_html("<title>{}</title>", f"{label}: {last}"),
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            pad,
            height - pad,
            width - pad,
            height - pad,
        ),
    ]
    if series:
        parts.append(format_html('<polyline class="line-desired" points="{}"/>', desired))
        parts.append(format_html('<polyline class="line" points="{}"/>', running))
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped above


# Room for the axis labels: the count on the left, the hours below.
_BAR_PAD_LEFT, _BAR_PAD_BOTTOM, _BAR_PAD_TOP = 24, 16, 4


def bar_chart(
    buckets: Sequence[tuple[datetime, int, int]],
    *,
    end: datetime,
    hours: int = 24,
    label: str = "Task stops per hour",
    width: int = 480,
    height: int = 120,
) -> SafeString:
    """Stops per hour for the last ``hours`` hours; the failed share drawn as .bar-error."""
    end_hour = end.replace(minute=0, second=0, microsecond=0)
    first = end_hour - timedelta(hours=hours - 1)
    by_hour = {b[0].replace(minute=0, second=0, microsecond=0): b for b in buckets}
    slots = [first + timedelta(hours=i) for i in range(hours)]
    top = max([by_hour[h][1] for h in slots if h in by_hour] + [1])
    slot_w = (width - _BAR_PAD_LEFT - 2) / hours
    parts = _bar_frame(width=width, height=height, label=label, top=top)
    for i, hour in enumerate(slots):
        total, failed = (by_hour[hour][1], by_hour[hour][2]) if hour in by_hour else (0, 0)
        x = _BAR_PAD_LEFT + i * slot_w + 1
        if i % 6 == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}">{}</text>', f"{x:.1f}", height - 3, f"{hour:%H}:00"
                )
            )
        if total:
            parts += _hour_bars(hour, total, failed, x=x, slot_w=slot_w, height=height, top=top)
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped above


def _bar_frame(
    *,
    width: int,
    height: int,
    label: str,
    top: int | str,
    pad_left: int = _BAR_PAD_LEFT,
) -> list[SafeString]:
    """The opening tag, title, axis and the axis' two labels (``top``: the top's)."""
    return [
        format_html(
            '<svg class="chart bars" viewBox="0 0 {} {}" role="img" aria-label="{}">',
            width,
            height,
            label,
        ),
        format_html("<title>{}</title>", label),
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            pad_left,
            height - _BAR_PAD_BOTTOM,
            width - 2,
            height - _BAR_PAD_BOTTOM,
        ),
        format_html('<text x="0" y="{}">{}</text>', _BAR_PAD_TOP + 8, top),
        format_html('<text x="0" y="{}">0</text>', height - _BAR_PAD_BOTTOM),
    ]


def _hour_bars(
    hour: datetime, total: int, failed: int, *, x: float, slot_w: float, height: int, top: int
) -> list[SafeString]:
    """One hour's bar, with its failed share drawn over it."""
    plot_h = height - _BAR_PAD_BOTTOM - _BAR_PAD_TOP
    h_total = plot_h * total / top
    h_failed = plot_h * failed / top
    base = height - _BAR_PAD_BOTTOM
    bars = [
        format_html(
            '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            f"{x:.1f}",
            f"{base - h_total:.1f}",
            f"{max(slot_w - 2, 1):.1f}",
            f"{h_total:.1f}",
            f"{timestamp_text(hour)}: {total} stopped, {failed} failed",
        )
    ]
    if failed:
        bars.append(
            format_html(
                '<rect class="bar-error" x="{}" y="{}" width="{}" height="{}"/>',
                f"{x:.1f}",
                f"{base - h_failed:.1f}",
                f"{max(slot_w - 2, 1):.1f}",
                f"{h_failed:.1f}",
            )
        )
    return bars


def daily_bars(
    days: Sequence[tuple[date, Decimal]],
    *,
    slots: int,
    label: str,
    unit: str = "$",
    width: int = 480,
    height: int = 120,
) -> SafeString:
    """One bar per day (a month's daily cost) in ``slots`` places (the month's days,
    the ones still to come left empty); every 5th day labelled below."""
    pad_left = 44  # room for the amount on the axis
    top = max([v for _, v in days] + [Decimal("0.01")])
    slot_w = (width - pad_left - 2) / max(slots, len(days), 1)
    plot_h = height - _BAR_PAD_BOTTOM - _BAR_PAD_TOP
    base = height - _BAR_PAD_BOTTOM
    parts = _bar_frame(
        width=width,
        height=height,
        label=label,
        top=f"{unit}{usd_text(top)}",  # rounded as the page and the API round money
        pad_left=pad_left,
    )
    for i, (day, value) in enumerate(days):
        x = pad_left + i * slot_w + 1
        if i % 5 == 0:
            parts.append(
                format_html('<text x="{}" y="{}">{}</text>', f"{x:.1f}", height - 3, day.day)
            )
        h = float(plot_h * value / top)
        parts.append(
            format_html(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
                f"{x:.1f}",
                f"{base - h:.1f}",
                f"{max(slot_w - 2, 1):.1f}",
                f"{h:.1f}",
                f"{day:%Y-%m-%d}: {unit}{usd_text(value)}",
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped above


__all__ = ["bar_chart", "daily_bars", "sparkline"]
