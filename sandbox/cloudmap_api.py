"""Cloud Map (``servicediscovery``) as AWS answers it where moto 5.2.5 does not.

ListServices: moto ignores ``Filters`` and returns every service of the region; AWS
honours ``NAMESPACE_ID`` (condition EQ, or IN with several ids) and lists only those
namespaces' services. Its summaries carry no namespace id (botocore's ServiceSummary),
so a client that needs to know which namespace a service belongs to lists per
namespace with that filter.
"""

from __future__ import annotations

import json

from moto.servicediscovery.responses import ServiceDiscoveryResponse


def _list_services(self: ServiceDiscoveryResponse) -> str:
    params = json.loads(self.body or "{}")
    services = list(self.servicediscovery_backend.list_services())
    for flt in params.get("Filters") or []:
        if flt.get("Name") == "NAMESPACE_ID":
            wanted = set(flt.get("Values") or [])
            services = [s for s in services if s.namespace_id in wanted]
    page, token = self.servicediscovery_backend.paginate(
        services, max_results=params.get("MaxResults"), next_token=params.get("NextToken")
    )
    out: dict[str, object] = {"Services": [s.to_json() for s in page]}
    if token:
        out["NextToken"] = token
    return json.dumps(out)


def apply() -> None:
    ServiceDiscoveryResponse.list_services = _list_services  # type: ignore[method-assign]
