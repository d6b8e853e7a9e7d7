"""``{% service_map_svg smap %}``: the service map drawn by ``console.svg_map``."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from console.svg_map import service_map_svg as draw
from deployments.service_map import ServiceMap

register = template.Library()


@register.simple_tag
def service_map_svg(smap: ServiceMap) -> SafeString:
    return draw(smap)
