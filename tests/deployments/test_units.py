"""CPU units and MiB as people read them (deployments/templatetags/units.py)."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from deployments.templatetags.units import cpu_units, mib, mib_exact, vcpu, vcpu_amount


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1024, "1 vCPU"),
        ("256", "0.25 vCPU"),
        (1536, "1.5 vCPU"),
        (0, "0 vCPU"),
        (128, "0.125 vCPU"),
        (100, "0.098 vCPU"),
    ],
)
def test_vcpu(value: object, expected: str) -> None:
    assert vcpu(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (512, "512 MiB"),
        ("1023", "1023 MiB"),
        (1024, "1 GiB"),
        (7680, "7.5 GiB"),
        (7800, "7.62 GiB"),
    ],
)
def test_mib(value: object, expected: str) -> None:
    assert mib(value) == expected


def test_exact_forms_keep_the_number_ecs_uses() -> None:
    assert vcpu_amount(1408) == "1.375"
    assert cpu_units("512") == "512 CPU units (0.5 vCPU)"
    assert mib_exact(7800) == "7.62 GiB (7800 MiB)" and mib_exact(512) == "512 MiB"


@pytest.mark.parametrize("value", ["", None, "0.25 vCPU", "2 GB"])
def test_what_is_not_a_number_is_shown_as_it_is(value: object) -> None:
    for f in (vcpu, vcpu_amount, cpu_units, mib, mib_exact):
        assert f(value) == (value or "")


def test_the_filters_load_in_templates() -> None:
    html = Template("{% load units %}{{ c|cpu_units }} / {{ m|mib_exact }}").render(
        Context({"c": 2048, "m": 4096})
    )
    assert html == "2048 CPU units (2 vCPU) / 4 GiB (4096 MiB)"
