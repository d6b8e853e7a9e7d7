"""Docker host services: add a host, sync its containers, apply its events, act on
containers. All Docker I/O goes through ``clusters.docker_hosts.engine``.

One module per job: ``hosts`` (reaching a host, adding it, its TLS material, its
link to a container instance), ``tls`` (checking and setting TLS material),
``mirror`` (the container sync; ``container_rows`` maps one container to its row),
``events`` (engine events onto the timeline), ``actions`` (restart/stop),
``signals``. Import from here: these names are the package's interface.
"""

from __future__ import annotations

from clusters.docker_hosts.actions import (
    CONTAINER_ACTIONS,
    ActionResult,
    ContainerActionError,
    container_act,
    container_action_run,
)
from clusters.docker_hosts.engine import ContainerLogLine, DockerHostError, container_logs
from clusters.docker_hosts.events import (
    TIMELINE_ACTIONS,
    container_refresh,
    docker_event_key,
    docker_events_record,
)
from clusters.docker_hosts.hosts import (
    INSTANCE_LABEL_KEYS,
    RESERVED_NAMES,
    docker_host_autolink,
    docker_host_create,
    docker_host_link,
    docker_host_tls_update,
    host_endpoint,
)
from clusters.docker_hosts.mirror import (
    INFO_REFRESH,
    LAST_SEEN_REFRESH,
    LOCK_TTL,
    MAX_INSPECTS_PER_SYNC,
    HostSyncResult,
    docker_host_mark_unreachable,
    docker_host_sync,
    docker_hosts_sync_all,
)
from clusters.docker_hosts.signals import docker_host_page, docker_host_synced
from clusters.docker_hosts.tls import TLS_LABELS, TlsChange

__all__ = [
    "CONTAINER_ACTIONS",
    "INFO_REFRESH",
    "INSTANCE_LABEL_KEYS",
    "LAST_SEEN_REFRESH",
    "LOCK_TTL",
    "MAX_INSPECTS_PER_SYNC",
    "RESERVED_NAMES",
    "TIMELINE_ACTIONS",
    "TLS_LABELS",
    "ActionResult",
    "ContainerActionError",
    "ContainerLogLine",
    "DockerHostError",
    "HostSyncResult",
    "TlsChange",
    "container_act",
    "container_action_run",
    "container_logs",
    "container_refresh",
    "docker_event_key",
    "docker_events_record",
    "docker_host_autolink",
    "docker_host_create",
    "docker_host_link",
    "docker_host_mark_unreachable",
    "docker_host_page",
    "docker_host_sync",
    "docker_host_synced",
    "docker_host_tls_update",
    "docker_hosts_sync_all",
    "host_endpoint",
]
