"""The service map drawn as inline SVG, server-side (no JavaScript library).

Three columns: the clients of the namespace, the logical names (with the healthy and
unhealthy Cloud Map instances behind each), the services that provide them. Traffic
reads left to right. Every service box is a link to its page. Like ``console.svg``: no
inline styles (CSP), classes from static/css/fleetdeck.css; a box's health class
comes from the service's stored health state (the one health model).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from deployments.service_map import MapName, MapService, ServiceMap

WIDTH = 1000
COL_X = (16, 375, 734)
BOX_W = 250
SVC_H, SVC_PITCH = 46, 60
NAME_H, NAME_PITCH = 62, 76
TOP = 44
CHARS = 34  # what fits in a box at the map's font size


def _cut(text: str, limit: int = CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _service_box(entry: MapService, x: int, y: int) -> SafeString:
    svc = entry.service
    flagged = " map-flagged" if entry.flags else ""
    sub = f"{svc.get_health_state_display().lower()} · {svc.launch_type or 'launch type ?'}"
    flag = f"⚠ {len(entry.flags)} flag{'s' if len(entry.flags) > 1 else ''}" if entry.flags else ""
    return format_html(
        '<a href="{}" class="map-node health-{}{}"><title>{}</title>'
        '<rect class="map-box" x="{}" y="{}" width="{}" height="{}" rx="6"/>'
        '<text class="map-title" x="{}" y="{}">{}</text>'
        '<text class="map-sub" x="{}" y="{}">{}</text>'
        '<text class="map-flag" x="{}" y="{}" text-anchor="end">{}</text></a>',
        reverse("deployments:service", args=[svc.pk]),
        svc.health_state,
        flagged,
        "; ".join([svc.name, *entry.flags]),
        x,
        y,
        BOX_W,
        SVC_H,
        x + 10,
        y + 19,
        _cut(svc.name),
        x + 10,
        y + 37,
        _cut(sub, 22),
        x + BOX_W - 10,
        y + 37,
        flag,
    )


def _name_box(name: MapName, x: int, y: int, href: str) -> SafeString:
    flagged = " map-flagged" if name.flag else ""
    counts = f"{name.healthy} healthy · {name.unhealthy} unhealthy"
    count_class = "map-count-bad" if name.flag else "map-count-ok"
    return format_html(
        '<a href="{}" class="map-name{}"><title>{}</title>'
        '<rect class="map-box" x="{}" y="{}" width="{}" height="{}" rx="14"/>'
        '<text class="map-title" x="{}" y="{}">{}</text>'
        '<text class="map-sub" x="{}" y="{}">{}</text>'
        '<text class="{}" x="{}" y="{}">{}</text></a>',
        href,
        flagged,
        "; ".join(x for x in [name.label, ", ".join(name.endpoints), name.flag or ""] if x),
        x,
        y,
        BOX_W,
        NAME_H,
        x + 12,
        y + 19,
        _cut(name.label),
        x + 12,
        y + 37,
        _cut(", ".join(name.endpoints) or "no client alias"),
        count_class,
        x + 12,
        y + 54,
        counts,
    )


def _edge(x1: int, y1: int, x2: int, y2: int, kind: str) -> SafeString:
    mid = (x1 + x2) // 2
    return format_html(
        '<path class="map-edge-{}" d="M{},{} C{},{} {},{} {},{}" marker-end="url(#map-arrow)"/>',
        kind,
        x1,
        y1,
        mid,
        y1,
        mid,
        y2,
        x2 - 4,
        y2,
    )


def _layout(smap: ServiceMap) -> tuple[dict[int, int], dict[str, int], dict[int, int]]:
    """The y of each client box, name box and provider box."""
    clients = [pk for pk, e in smap.services.items() if e.is_client]
    providers = [pk for pk, e in smap.services.items() if e.is_provider]
    by_name = sorted(smap.services, key=lambda pk: smap.services[pk].service.name)
    clients.sort(key=by_name.index)
    providers.sort(key=by_name.index)
    return (
        {pk: TOP + i * SVC_PITCH for i, pk in enumerate(clients)},
        {n.key: TOP + i * NAME_PITCH for i, n in enumerate(smap.names)},
        {pk: TOP + i * SVC_PITCH for i, pk in enumerate(providers)},
    )


def service_map_svg(smap: ServiceMap) -> SafeString:
    client_y, name_y, provider_y = _layout(smap)
    services = max(len(client_y), len(provider_y))
    height = TOP + max(services * SVC_PITCH, len(name_y) * NAME_PITCH) + 8
    label = f"Service map of {smap.namespace_label} in {smap.cluster.name}"
    parts = [
        format_html(
            '<svg class="service-map" viewBox="0 0 {} {}" role="img" aria-label="{}">',
            WIDTH,
            height,
            label,
        ),
        format_html("<title>{}</title>", label),
        mark_safe(
            '<defs><marker id="map-arrow" viewBox="0 0 8 8" refX="7" refY="4" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path class="map-arrowhead" d="M0,0 L8,4 L0,8 z"/></marker></defs>'
        ),
    ]
    for x, head in zip(COL_X, ("Clients", "Logical names", "Providers"), strict=True):
        parts.append(format_html('<text class="map-head" x="{}" y="24">{}</text>', x, head))
    for name in smap.names:
        ny = name_y[name.key] + NAME_H // 2
        for pk in name.clients:
            parts.append(_edge(COL_X[0] + BOX_W, client_y[pk] + SVC_H // 2, COL_X[1], ny, "client"))
        for pk in name.providers:
            parts.append(
                _edge(COL_X[1] + BOX_W, ny, COL_X[2], provider_y[pk] + SVC_H // 2, "provider")
            )
    if not client_y:
        parts.append(
            format_html(
                '<text class="map-sub" x="{}" y="{}">{}</text>',
                COL_X[0],
                TOP + 19,
                "No Service Connect client (DNS clients",
            )
        )
        parts.append(
            format_html(
                '<text class="map-sub" x="{}" y="{}">{}</text>', COL_X[0], TOP + 37, "are not seen)"
            )
        )
    for pk, y in client_y.items():
        parts.append(_service_box(smap.services[pk], COL_X[0], y))
    for name in smap.names:
        first = name.providers[0] if name.providers else None
        href = reverse("deployments:service", args=[first]) if first else ""
        parts.append(_name_box(name, COL_X[1], name_y[name.key], href))
    for pk, y in provider_y.items():
        parts.append(_service_box(smap.services[pk], COL_X[2], y))
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped above
