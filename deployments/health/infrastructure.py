"""The health of container instances, Docker hosts, clusters and accounts. A
cluster and an account are as bad as their worst child (a roll-up reason each)
plus what is wrong with them alone (their sync)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings

from clusters.display import timestamp_text
from clusters.health import RANK, HealthState, Reason, is_unhealthy, reason, worst
from clusters.models import AwsAccount, Cluster, ContainerInstance, DockerHost
from deployments.health.facts import Facts, host_stale_after, stale_after
from deployments.health.services import Verdict

H = HealthState
GONE_INSTANCE_STATES = ("INACTIVE", "DEREGISTERING")
# The ECS agent reconnects by itself after a network blip, and a Docker engine may
# miss one sync: within these graces they are degraded (listed, amber), after them
# failing. Drift findings wait as long (deployments/drift reads these).
AGENT_DISCONNECT_GRACE = timedelta(minutes=5)
UNREACHABLE_SYNCS = 2


def host_unreachable_grace() -> timedelta:
    return timedelta(seconds=UNREACHABLE_SYNCS * settings.FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS)


def freshness(last_ok: datetime | None, now: datetime, noun: str, stale: object) -> list[Reason]:
    """Never synced, or data too old: the subject's state is unknown."""
    if last_ok is None:
        return [reason("never-synced", H.UNKNOWN, f"waiting for the first {noun}", None)]
    if now - last_ok > stale:  # type: ignore[operator]
        return [
            reason(
                "stale-data",
                H.UNKNOWN,
                f"no successful {noun} since {timestamp_text(last_ok)}",
                last_ok,
                last_success=last_ok.isoformat(),
            )
        ]
    return []


def cluster_own_reasons(cluster: Cluster, facts: Facts) -> list[Reason]:
    found = freshness(facts.cluster_last_ok(cluster), facts.now, "sync", stale_after())
    if cluster.last_sync_ok is False:
        error = (cluster.last_sync_error or "failed")[:300]
        found.append(
            reason("sync-failed", H.DEGRADED, f"last sync failed: {error}", cluster.last_sync_at)
        )
    return found


def inherited(own: list[Reason], subject: str) -> list[Reason]:
    """The cluster's unknown-making reasons, as its services and instances carry them."""
    return [
        {**r, "evidence": {**r["evidence"], "via": subject}} for r in own if r["state"] == H.UNKNOWN
    ]


def instance_verdict(inst: ContainerInstance, facts: Facts, from_cluster: list[Reason]) -> Verdict:
    if inst.status in GONE_INSTANCE_STATES or inst.gone_at is not None:
        return Verdict(H.INACTIVE)
    reasons = list(_instance_reasons(inst, facts))
    if from_cluster:
        return Verdict(H.UNKNOWN, from_cluster + reasons)
    return Verdict(worst(r["state"] for r in reasons), reasons)


def _instance_reasons(inst: ContainerInstance, facts: Facts) -> Iterable[Reason]:
    waiting = inst.pk in facts.waiting_instance_ids
    if waiting:
        yield reason(
            "awaiting-approval",
            H.DEGRADED,
            "waiting in the registration waiting room for an admin's approval",
            inst.first_seen_at,
        )
    if not inst.agent_connected:
        yield _disconnected(inst, facts.now)
    if inst.status == "DRAINING" and not waiting:
        yield reason("draining", H.DEGRADED, "draining: no new task is placed here", None)
    if inst.health_status == "IMPAIRED":
        yield reason("instance-impaired", H.DEGRADED, "ECS reports the instance IMPAIRED", None)


def _disconnected(inst: ContainerInstance, now: datetime) -> Reason:
    # ECS does not say when an agent disconnected: this is when the mirror saw it.
    since = inst.agent_connected_changed_at or inst.first_seen_at
    tasks = inst.running_tasks_count
    if tasks and now - since < AGENT_DISCONNECT_GRACE:
        return reason(
            "agent-disconnected",
            H.DEGRADED,
            f"agent disconnected with {tasks} task{'s' if tasks > 1 else ''} on it: agents "
            "reconnect by themselves after short blips; failing if it stays away 5 min",
            since,
            running_tasks=tasks,
        )
    if tasks:
        return reason(
            "agent-disconnected",
            H.FAILING,
            f"agent disconnected with {tasks} task{'s' if tasks > 1 else ''} on it: they keep "
            "running, but none can start, stop or scale in here until it reconnects",
            since,
            running_tasks=tasks,
        )
    return reason(
        "agent-disconnected",
        H.DEGRADED,
        "agent disconnected: no task can be placed here until it reconnects",
        since,
        running_tasks=0,
    )


def host_verdict(host: DockerHost, facts: Facts) -> Verdict:
    if not host.enabled:
        return Verdict(H.INACTIVE)
    reasons: list[Reason] = []
    if not host.reachable and host.last_error:
        since = host.unreachable_since or host.last_error_at or facts.now
        message = f"Docker engine unreachable: {host.last_error[:300]}"
        brief = facts.now - since <= host_unreachable_grace()
        state = H.DEGRADED if brief else H.FAILING
        reasons.append(reason("host-unreachable", state, message, since))
    elif host.last_ok_at is None and not host.last_error:
        reasons += freshness(None, facts.now, "Docker sync", host_stale_after())
    else:
        reasons += freshness(host.last_ok_at, facts.now, "Docker sync", host_stale_after())
    reasons += _containers(facts.troubled_containers.get(host.pk, []))
    return Verdict(worst(r["state"] for r in reasons), reasons)


def _containers(troubled: list[tuple[str, str]]) -> list[Reason]:
    found = []
    for trouble, code, words in (
        ("restarting", "containers-restarting", "restarting"),
        ("unhealthy", "containers-unhealthy", "failing their health check"),
    ):
        names = [n for n, t in troubled if t == trouble]
        if names:
            message = f"{len(names)} container{'s' if len(names) > 1 else ''} {words}: "
            found.append(
                reason(code, H.DEGRADED, message + ", ".join(names[:5]), None, containers=names)
            )
    return found


def rollup(kind: str, children: Sequence[tuple[str, str, str]]) -> list[Reason]:
    """One reason per unhealthy state among ``(subject, label, state)`` children:
    "2 services failing: api, web"."""
    by_state: dict[str, list[tuple[str, str]]] = {}
    for subject, label, state in children:
        if is_unhealthy(state):
            by_state.setdefault(state, []).append((subject, label))
    found = []
    for state in sorted(by_state, key=lambda s: -RANK[s]):
        members = by_state[state]
        noun = kind if len(members) > 1 else kind.rstrip("s")
        labels = ", ".join(label for _, label in members[:5])
        more = f" and {len(members) - 5} more" if len(members) > 5 else ""
        found.append(
            reason(
                f"{kind}-unhealthy",
                state,
                f"{len(members)} {noun} {state}: {labels}{more}",
                None,
                rollup=True,
                subjects=[s for s, _ in members],
            )
        )
    return found


def cluster_retired(cluster: Cluster) -> bool:
    """Not watched any more, with its services and instances: deleted in AWS (a
    teardown between two syncs marks only the cluster gone), or its account was
    disabled (no sync will come: "unknown, no sync since" would stay for ever)."""
    gone = cluster.status == "INACTIVE" or cluster.gone_at is not None
    return gone or not cluster.account.enabled


def cluster_verdict(cluster: Cluster, own: list[Reason], children: list[Reason]) -> Verdict:
    if cluster_retired(cluster):
        return Verdict(H.INACTIVE)
    if any(r["state"] == H.UNKNOWN for r in own):
        return Verdict(H.UNKNOWN, own + children)
    return Verdict(worst(r["state"] for r in own + children), own + children)


def account_verdict(account: AwsAccount, clusters: list[tuple[str, str, str]]) -> Verdict:
    if not account.enabled:
        return Verdict(H.INACTIVE)
    own: list[Reason] = []
    if account.last_sync_status == "failed":
        error = (account.last_sync_error or "failed")[:300]
        own.append(
            reason(
                "sync-failed",
                H.DEGRADED,
                f"sync of the account fails: {error}",
                account.last_sync_at,
            )
        )
    elif not account.last_sync_status and not clusters:
        own.append(reason("never-synced", H.UNKNOWN, "waiting for the first sync", None))
    reasons = own + rollup("clusters", clusters)
    return Verdict(worst(r["state"] for r in reasons), reasons)
