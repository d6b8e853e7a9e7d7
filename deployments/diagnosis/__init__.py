"""Why it broke: one catalogue of every known ECS and ECS Anywhere failure, kept as
data (``catalogue.toml``), and the matcher that explains a stopped task, a service
in trouble, an external instance or an activation from the mirror.

- ``catalogue``: the entries (code, what they match, title, cause, fix, AWS link,
  evidence kind, a documented example) and ``entry_for(Signal)``
- ``diagnose``: ``task_diagnose``, ``service_diagnose``/``services_diagnose``,
  ``instance_diagnose``, ``activation_diagnose`` (fixed numbers of queries)
- ``evidence``: what the mirror shows for each evidence kind
- ``external``: ``external_unsupported``, the one EXTERNAL check
- ``docs``: docs/troubleshooting.md, rendered from the catalogue

Health (is it broken) stays in ``deployments.health``; a diagnosis says why, and a
service is diagnosed only when its stored health is not healthy.
"""

from deployments.diagnosis.diagnose import (
    Diagnosis,
    activation_diagnose,
    instance_diagnose,
    service_diagnose,
    services_diagnose,
    task_diagnose,
)
from deployments.diagnosis.external import Finding, cluster_external_only, external_unsupported

__all__ = [
    "Diagnosis",
    "Finding",
    "activation_diagnose",
    "cluster_external_only",
    "external_unsupported",
    "instance_diagnose",
    "service_diagnose",
    "services_diagnose",
    "task_diagnose",
]
