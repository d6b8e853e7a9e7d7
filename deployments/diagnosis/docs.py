"""docs/troubleshooting.md, rendered from the catalogue (``manage.py
troubleshooting_docs``; ``--check`` fails when the file is stale)."""

from __future__ import annotations

from deployments.diagnosis.catalogue import Entry, catalogue
from deployments.diagnosis.external import EXTERNAL_DOCS

HEADER = """# Troubleshooting: why it broke

<!-- Rendered from deployments/diagnosis/catalogue.toml by
     `python manage.py troubleshooting_docs`; do not edit by hand. -->

Fleetdeck explains every stopped task, service in trouble and external instance it
can, from one catalogue: the first entry whose every criterion matches wins (the
specific before the general). The diagnosis shows on the task page ("Why it
stopped"), the service page (aggregated over its newest stopped tasks of the last
hour, or its placement failure), the instance page, the dashboard's "Needs
attention" rows and alerts, and as `diagnosis` on the API's task and service
details (`null` when nothing is wrong). A service is diagnosed only when its stored
health is not healthy.

## External instances: what they do not support

A service or task definition bound for ECS Anywhere external instances (launch type
EXTERNAL, a task definition requiring EXTERNAL, or a cluster of only external
instances) is flagged on its page before anyone deploys it when it uses the awsvpc
network mode, load balancers, service discovery, Service Connect, EFS volumes or a
capacity provider strategy ([AWS]({docs})).

## The catalogue

"""


def _section(entry: Entry) -> str:
    example = entry.example
    if entry.example_exit_code is not None:
        example += f"` with exit code `{entry.example_exit_code}"
    lines = [
        f"### {entry.title}",
        "",
        f"Code `{entry.code}`{'' if entry.problem else ' (informational: nothing is wrong)'}."
        f" Matches: {'; '.join(entry.criteria)}.",
        "",
        f"Example ({entry.example_field.replace('_', ' ')}): `{example}`",
        "",
        f"**Cause.** {entry.cause}",
        "",
        f"**Fix.** {entry.fix}",
        "",
        f"Evidence shown: {entry.evidence}. AWS: <{entry.docs_url}>",
        "",
    ]
    return "\n".join(lines)


def troubleshooting_markdown() -> str:
    return HEADER.format(docs=EXTERNAL_DOCS) + "\n".join(_section(e) for e in catalogue())
