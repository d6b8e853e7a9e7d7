"""CPU and memory with their units, the way ECS counts them.

ECS counts CPU in "CPU units" (1,024 to a vCPU) and memory in MiB; both arrive as
integers on instances and as strings on tasks ("256", "512"). A value that is not
a number (empty, or an older task definition's "0.25 vCPU") is shown as it is.
"""

from __future__ import annotations

from django import template

register = template.Library()

UNITS_PER_VCPU = 1024
MIB_PER_GIB = 1024


def _number(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _short(amount: float, digits: int = 2) -> str:
    """2 -> "2", 0.25 -> "0.25", 7.6171875 -> "7.62" (digits=2)."""
    return f"{amount:.{digits}f}".rstrip("0").rstrip(".")


@register.filter
def vcpu_amount(value: object) -> str:
    """CPU units as a number of vCPU, without the unit: 1408 -> "1.375"."""
    units = _number(value)
    return str(value or "") if units is None else _short(units / UNITS_PER_VCPU, 3)


@register.filter
def vcpu(value: object) -> str:
    """CPU units as vCPU: 512 -> "0.5 vCPU", 128 -> "0.125 vCPU"."""
    units = _number(value)
    return str(value or "") if units is None else f"{vcpu_amount(units)} vCPU"


@register.filter
def cpu_units(value: object) -> str:
    """512 -> "512 CPU units (0.5 vCPU)"."""
    units = _number(value)
    return str(value or "") if units is None else f"{units} CPU units ({vcpu(units)})"


@register.filter
def mib(value: object) -> str:
    """Memory in MiB, in GiB from 1 GiB up: 512 -> "512 MiB", 7800 -> "7.62 GiB"."""
    amount = _number(value)
    if amount is None:
        return str(value or "")
    if abs(amount) < MIB_PER_GIB:
        return f"{amount} MiB"
    return f"{_short(amount / MIB_PER_GIB)} GiB"


@register.filter
def mib_exact(value: object) -> str:
    """7800 -> "7.62 GiB (7800 MiB)"; below 1 GiB only the MiB."""
    amount = _number(value)
    if amount is None or abs(amount) < MIB_PER_GIB:
        return mib(value)
    return f"{mib(amount)} ({amount} MiB)"
