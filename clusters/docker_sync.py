"""Docker host services: add a host, sync its containers, apply its events, act on
containers. All Docker I/O goes through ``clusters.dockerhosts``."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from . import dockerhosts, tls_material
from .audit import audit_record
from .crypto import DecryptionError, decrypt_secret, encrypt_secret
from .dockerhosts import CallCounter, ContainerDetail, ContainerFacts, DockerEvent, Endpoint
from .models import Container, ContainerInstance, DockerHost, EventSeverity, EventSource
from .models.hosts import TLS_ITEMS
from .timeline import NewEvent, dedupe_key, event_record, events_record

log = logging.getLogger(__name__)

# Sent after every sync attempt (ok or not); deployments' drift listens to it so
# this layer does not import the one above it.
docker_host_synced = Signal()
# Sent while rendering a host page; receivers return HTML to show there (the
# drift findings panel), so this layer never imports deployments.
docker_host_page = Signal()

INFO_REFRESH = timedelta(minutes=10)
# An inspect fills what a listing lacks (start/finish times, OOM flag, health
# log) for containers whose state changed; bounded so one sync stays cheap.
MAX_INSPECTS_PER_SYNC = 25
LOCK_TTL = 300
LAST_SEEN_REFRESH = timedelta(minutes=5)


TLS_LABELS = {"ca": "CA certificate", "cert": "client certificate", "key": "client key"}


@sensitive_variables("pems")
def host_endpoint(host: DockerHost) -> Endpoint:
    """How to reach the host; stored PEM text is decrypted here, for one client's
    life (the adapter writes it to private files and removes them)."""
    try:
        pems = {
            item: decrypt_secret(token) if (token := getattr(host, f"encrypted_tls_{item}")) else ""
            for item in TLS_ITEMS
        }
    except DecryptionError:
        raise dockerhosts.DockerHostError(
            "The stored TLS material cannot be decrypted with FLEETDECK_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?); store it again."
        ) from None
    return Endpoint(
        url=host.endpoint,
        tls_ca_path=host.tls_ca_path,
        tls_cert_path=host.tls_cert_path,
        tls_key_path=host.tls_key_path,
        api_version=host.api_version or dockerhosts.DEFAULT_API_VERSION,
        tls_ca_pem=pems["ca"],
        tls_cert_pem=pems["cert"],
        tls_key_pem=pems["key"],
    )


@dataclass(frozen=True)
class TlsChange:
    """What a change of a host's TLS material did (no secret in it: audited)."""

    stored: list[str] = field(default_factory=list)  # items now stored, encrypted
    cleared: list[str] = field(default_factory=list)  # stored items removed
    paths: list[str] = field(default_factory=list)  # items whose file path changed
    client_cert: tls_material.CertificateSummary | None = None
    adds_material: bool = False  # PEM text stored or a file path set (not only removals)

    @property
    def changed(self) -> bool:
        return bool(self.stored or self.cleared or self.paths)

    @property
    def needs_connection_test(self) -> bool:
        """New material must work before it is kept; removing some never needs the
        host (a secret can always be taken away)."""
        return self.adds_material

    def describe(self) -> str:
        parts = [f"{TLS_LABELS[i]} stored (encrypted)" for i in self.stored]
        parts += [f"{TLS_LABELS[i]} cleared" for i in self.cleared]
        parts += [f"{TLS_LABELS[i]} file path changed" for i in self.paths]
        return ", ".join(parts) or "no change"

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tls_stored": self.stored,
            "tls_cleared": self.cleared,
            "tls_paths": self.paths,
        }
        if self.client_cert is not None:
            out["client_cert"] = {
                "subject": self.client_cert.subject,
                "not_after": self.client_cert.not_after.isoformat(),
                "sha256": self.client_cert.sha256,
            }
        return out


@sensitive_variables("pems", "new_pems", "text", "key")
def _tls_apply(
    host: DockerHost,
    *,
    paths: dict[str, str],
    pems: dict[str, str],
    clear: set[str],
) -> TlsChange:
    """Check TLS material given as file paths and/or PEM text and set it on
    ``host`` (not saved). A PEM is encrypted at once and replaces the item's path;
    an item already stored stays unless cleared or replaced.

    Raises ValidationError keyed by the form's field names; messages never quote
    the material.
    """
    errors: dict[str, list[str]] = {}

    def fail(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    new_paths = {item: (paths.get(item) or "").strip() for item in TLS_ITEMS}
    new_pems: dict[str, str] = {}
    certs: list[Any] | None = None
    key: Any = None
    cleared: list[str] = []
    for item in TLS_ITEMS:
        label = TLS_LABELS[item]
        text = tls_material.pem_normalise(pems.get(item) or "")
        has_token = bool(getattr(host, f"encrypted_tls_{item}"))
        if text:
            if item in clear:
                fail(f"tls_{item}_pem", f"Paste a new {label} or clear the stored one, not both.")
            elif new_paths[item]:
                fail(f"tls_{item}_path", f"Give the {label} as a file or as PEM text, not both.")
            else:
                try:
                    if item == "key":
                        key = tls_material.pem_private_key_check(text)
                    else:
                        checked = tls_material.pem_certificates_check(text, what=label)
                        certs = checked if item == "cert" else certs
                except ValidationError as exc:
                    for message in exc.messages:
                        fail(f"tls_{item}_pem", message)
                else:
                    new_pems[item] = text
        elif item in clear and has_token:
            cleared.append(item)
        elif has_token and new_paths[item]:
            fail(
                f"tls_{item}_path",
                f"A {label} is stored for this host: tick “clear” to use a file instead.",
            )
    if errors:
        raise ValidationError(errors)
    if new_pems and host.endpoint and not host.endpoint.startswith("tcp://"):
        first = next(iter(new_pems))
        raise ValidationError({f"tls_{first}_pem": "TLS is used with tcp:// endpoints only."})

    # What is in effect afterwards, per item: PEM text (new or kept) or a path.
    as_pem = {
        item
        for item in TLS_ITEMS
        if item in new_pems or (getattr(host, f"encrypted_tls_{item}") and item not in cleared)
    }
    have = {item: item in as_pem or bool(new_paths[item]) for item in TLS_ITEMS}
    if have["cert"] != have["key"]:
        missing = "key" if have["cert"] else "cert"
        raise ValidationError(
            {
                f"tls_{missing}_pem": "A client certificate and its key go together: "
                f"give the {TLS_LABELS[missing]} too (as a file or as PEM text)."
            }
        )
    if {"cert", "key"} <= as_pem and {"cert", "key"} & new_pems.keys():
        # Both are PEM text and one is new: check they belong together (decrypting
        # the one already stored).
        try:
            if key is None:
                key = tls_material.pem_private_key_check(decrypt_secret(host.encrypted_tls_key))
            cert = (
                certs
                or tls_material.pem_certificates_check(
                    decrypt_secret(host.encrypted_tls_cert), what=TLS_LABELS["cert"]
                )
            )[0]
        except (DecryptionError, ValidationError):
            raise ValidationError(
                {
                    "tls_key_pem": "The stored client certificate or key cannot be read any more: "
                    "paste both again."
                }
            ) from None
        if not tls_material.key_matches_certificate(key, cert):
            raise ValidationError(
                {"tls_key_pem": "This key does not belong to the client certificate."}
            )

    changed_paths = [
        item
        for item in TLS_ITEMS
        if item not in new_pems and new_paths[item] != getattr(host, f"tls_{item}_path")
    ]
    for item in TLS_ITEMS:
        setattr(host, f"tls_{item}_path", new_paths[item])
    for item, text in new_pems.items():
        setattr(host, f"encrypted_tls_{item}", encrypt_secret(text))
    for item in cleared:
        setattr(host, f"encrypted_tls_{item}", "")
    return TlsChange(
        stored=list(new_pems),
        cleared=cleared,
        paths=changed_paths,
        client_cert=tls_material.certificate_summary(certs[0]) if certs else None,
        adds_material=bool(new_pems) or any(new_paths[item] for item in changed_paths),
    )


def _info_apply(host: DockerHost, info: dockerhosts.EngineInfo) -> None:
    host.hostname = info.hostname
    host.engine_version = info.engine_version
    host.os = info.os
    host.arch = info.arch
    host.kernel = info.kernel
    host.cpus = info.cpus
    host.memory_bytes = info.memory_bytes
    host.info_at = timezone.now()
    host.engine_labels = info.labels
    # Speak the engine's own API version, capped at the SDK's default so a newer
    # engine never gets a request shape the SDK does not know.
    host.api_version = min(
        info.api_version or dockerhosts.DEFAULT_API_VERSION,
        dockerhosts.DEFAULT_API_VERSION,
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


RESERVED_NAMES = {"add"}  # /docker-hosts/add/ is the form


@sensitive_variables("tls_ca_pem", "tls_cert_pem", "tls_key_pem")
def docker_host_create(
    *,
    name: str,
    endpoint: str,
    tls_ca_path: str = "",
    tls_cert_path: str = "",
    tls_key_path: str = "",
    tls_ca_pem: str = "",
    tls_cert_pem: str = "",
    tls_key_pem: str = "",
    instance_arn: str = "",
    actor: Any = None,
    request: HttpRequest | None = None,
) -> DockerHost:
    """Validate the endpoint and TLS material, run a connection test, store the
    host (PEM text encrypted).

    Raises ValidationError with messages a person can act on.
    """
    errors: dict[str, list[str]] = {}
    url = ""
    try:
        url = dockerhosts.endpoint_validate(endpoint)
    except dockerhosts.EndpointInvalid as exc:
        errors["endpoint"] = [str(exc)]
    if name in RESERVED_NAMES:
        errors["name"] = [f"{name!r} is reserved; choose another name."]
    elif DockerHost.objects.filter(name=name).exists():
        errors["name"] = [f"A Docker host named {name!r} already exists."]
    host = DockerHost(name=name, endpoint=url)
    try:
        tls = _tls_apply(
            host,
            paths={"ca": tls_ca_path, "cert": tls_cert_path, "key": tls_key_path},
            pems={"ca": tls_ca_pem, "cert": tls_cert_pem, "key": tls_key_pem},
            clear=set(),
        )
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
        tls = TlsChange()
    if errors:
        raise ValidationError(errors)
    try:
        info = dockerhosts.engine_info(replace(host_endpoint(host), timeout=5))
    except dockerhosts.DockerHostError as exc:
        raise ValidationError(
            {
                "endpoint": "Connection test failed: could not reach a Docker engine at "
                f"{url} ({exc}).",
            }
        ) from exc
    _info_apply(host, info)
    if instance_arn:
        instance = ContainerInstance.objects.filter(arn=instance_arn).first()
        if instance is None:
            raise ValidationError(
                {"instance": f"No container instance {instance_arn} is mirrored."}
            )
        host.container_instance = instance
        host.link_source = "operator"
    else:
        docker_host_autolink(host=host)
    host.reachable = True
    host.last_ok_at = timezone.now()
    # The watcher follows events from the moment the host was added on.
    host.events_cursor_nanos = time.time_ns()
    host.save()
    if actor is not None:
        message = f"Added Docker host {host.name} ({url}), engine {info.engine_version}"
        if tls.stored:
            message += "; TLS: " + tls.describe()
        audit_record(
            actor=actor,
            action="docker_host.add",
            message=message,
            request=request,
            object_type="docker_host",
            object_id=str(host.pk),
            details=tls.details() if tls.changed else None,
            docker_host=host.name,
        )
    return host


@sensitive_variables("tls_ca_pem", "tls_cert_pem", "tls_key_pem")
def docker_host_tls_update(
    *,
    host: DockerHost,
    tls_ca_path: str = "",
    tls_cert_path: str = "",
    tls_key_path: str = "",
    tls_ca_pem: str = "",
    tls_cert_pem: str = "",
    tls_key_pem: str = "",
    clear_tls_ca: bool = False,
    clear_tls_cert: bool = False,
    clear_tls_key: bool = False,
    actor: Any,
    request: HttpRequest | None = None,
) -> TlsChange:
    """Replace, add or clear a host's TLS material (paths and/or PEM text).

    New material must pass a connection test before it is stored (nothing is
    changed otherwise); clearing alone never needs the host. Audited, without
    the material.
    """
    clear = {
        item
        for item, ticked in (("ca", clear_tls_ca), ("cert", clear_tls_cert), ("key", clear_tls_key))
        if ticked
    }
    host = DockerHost.objects.get(pk=host.pk)  # what is stored now, not a stale copy
    change = _tls_apply(
        host,
        paths={"ca": tls_ca_path, "cert": tls_cert_path, "key": tls_key_path},
        pems={"ca": tls_ca_pem, "cert": tls_cert_pem, "key": tls_key_pem},
        clear=clear,
    )
    if not change.changed:
        return change
    if change.needs_connection_test:
        try:
            dockerhosts.engine_info(replace(host_endpoint(host), timeout=5))
        except dockerhosts.DockerHostError as exc:
            raise ValidationError(
                f"Connection test failed with this TLS material ({exc}); nothing was changed."
            ) from exc
    with transaction.atomic():
        host.save(
            update_fields=[
                *(f"tls_{item}_path" for item in TLS_ITEMS),
                *(f"encrypted_tls_{item}" for item in TLS_ITEMS),
            ]
        )
        audit_record(
            actor=actor,
            action="docker_host.tls_update",
            message=f"TLS material of Docker host {host.name}: {change.describe()}",
            request=request,
            object_type="docker_host",
            object_id=str(host.pk),
            details=change.details(),
            docker_host=host.name,
        )
    return change


# Engine labels (dockerd --label) that name the instance the machine is.
INSTANCE_LABEL_KEYS = ("com.amazonaws.ecs.instance-id", "fleetdeck.instance-id", "instance-id")


def docker_host_autolink(*, host: DockerHost) -> ContainerInstance | None:
    """Link an unlinked host to its container instance when exactly one mirrored
    instance matches: an engine label naming the instance id (mi-.../i-...), or
    the engine's hostname being the instance id. Does not save."""
    if host.container_instance_id is not None:
        return host.container_instance
    candidates: list[tuple[str, str]] = []
    for label in host.engine_labels or []:
        key, _, value = str(label).partition("=")
        if key in INSTANCE_LABEL_KEYS and value:
            candidates.append((f"auto:label {key}", value))
    if host.hostname:
        candidates.append(("auto:hostname", host.hostname))
    for rule, value in candidates:
        matches = list(
            ContainerInstance.objects.filter(ec2_instance_id=value, gone_at__isnull=True)[:2]
        )
        if len(matches) == 1:
            host.container_instance = matches[0]
            host.link_source = rule
            return matches[0]
    return None


def docker_host_link(
    *,
    host: DockerHost,
    instance: ContainerInstance | None,
    actor: Any,
    request: HttpRequest | None = None,
) -> None:
    """An operator links (or unlinks) a host and a container instance."""
    host.container_instance = instance
    host.link_source = "operator" if instance else ""
    host.save(update_fields=["container_instance", "link_source"])
    what = f"to {instance.arn}" if instance else "from its container instance"
    audit_record(
        actor=actor,
        action="docker_host.link",
        message=f"Linked Docker host {host.name} {what}",
        request=request,
        object_type="docker_host",
        object_id=str(host.pk),
        docker_host=host.name,
        instance_arn=instance.arn if instance else "",
    )


@dataclass
class HostSyncResult:
    host_id: int
    ok: bool
    calls: int = 0
    created: int = 0
    updated: int = 0
    gone: int = 0
    inspected: int = 0
    error: str = ""
    call_log: list[str] = field(default_factory=list)
    recovered: bool = False  # reachable again after being unreachable


# Not "status": its text ("Up 5 minutes") changes every sync by itself; it is
# rewritten when anything here changes.
_COMPARED = (
    "name",
    "image",
    "image_id",
    "command",
    "state",
    "health",
    "labels",
    "ports",
    "exit_code",
)


def _fingerprint(values: dict[str, Any]) -> str:
    """A digest of the listing fields that matter (not the status text)."""
    raw = json.dumps([values.get(k) for k in _COMPARED], sort_keys=True, default=str)
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _listing_values(facts: ContainerFacts) -> dict[str, Any]:
    ecs = dockerhosts.ecs_fields(facts.labels)
    values: dict[str, Any] = {
        "name": facts.name,
        "image": facts.image,
        "image_id": facts.image_id,
        "command": facts.command,
        "state": facts.state,
        "status": facts.status,
        "health": facts.health,
        "labels": facts.labels,
        "ports": sorted(facts.ports, key=lambda p: sorted((k, str(v)) for k, v in p.items())),
        "created": facts.created,
        "ecs_cluster": ecs["cluster"],
        "ecs_task_arn": ecs["task_arn"],
        "ecs_container_name": ecs["container_name"],
        "ecs_family": ecs["family"],
        "ecs_revision": ecs["revision"],
    }
    if facts.exit_code is not None:
        values["exit_code"] = facts.exit_code
    return values


def _detail_apply(row: Container, detail: ContainerDetail) -> None:
    row.started_at = detail.started_at
    row.finished_at = detail.finished_at
    row.oom_killed = detail.oom_killed
    row.restart_count = detail.restart_count
    row.health_log = detail.health_log
    row.error = detail.error
    if detail.facts.health:
        row.health = detail.facts.health
    if detail.exit_code is not None:
        row.exit_code = detail.exit_code
    row.inspected_at = timezone.now()


_HOST_SYNC_FIELDS = [
    "containers_total",
    "containers_running",
    "containers_paused",
    "containers_stopped",
    "reachable",
    "last_ok_at",
    "unreachable_since",
    "last_sync_at",
    "last_sync_ms",
]
_HOST_INFO_FIELDS = [
    "hostname",
    "engine_version",
    "os",
    "arch",
    "kernel",
    "cpus",
    "memory_bytes",
    "info_at",
    "engine_labels",
    "api_version",
]


def _lock(key: str) -> bool:
    return bool(cache.add(key, "1", timeout=LOCK_TTL))


def docker_host_sync(*, host_id: int) -> HostSyncResult | None:
    """Mirror one host's containers from one listing call.

    New and changed rows are written, vanished ones marked gone (only after a
    complete listing); an unreachable host is marked so and keeps its data.
    Returns None when the host does not exist or another sync holds its lock.
    """
    host = DockerHost.objects.filter(pk=host_id).first()
    if host is None:
        return None
    lock_key = f"fleetdeck:lock:docker-host-sync:{host_id}"
    if not _lock(lock_key):
        return None
    try:
        result = _sync(host)
    finally:
        cache.delete(lock_key)
    docker_host_synced.send(sender=DockerHost, host=host, result=result)
    return result


def _sync(host: DockerHost) -> HostSyncResult:
    counter = CallCounter()
    started = time.monotonic()
    now = timezone.now()
    try:
        endpoint = host_endpoint(host)
        info_refreshed = linked = False
        if host.info_at is None or now - host.info_at > INFO_REFRESH:
            _info_apply(host, dockerhosts.engine_info(endpoint, counter))
            info_refreshed = True
            endpoint = host_endpoint(host)
            linked = (
                host.container_instance_id is None and docker_host_autolink(host=host) is not None
            )
        listing = dockerhosts.containers_list(endpoint, counter)
    except dockerhosts.DockerHostError as exc:
        docker_host_mark_unreachable(host=host, error=str(exc))
        return HostSyncResult(
            host.pk, ok=False, calls=counter.count, error=str(exc), call_log=counter.calls
        )

    result = HostSyncResult(host.pk, ok=True)
    # Compare fingerprints, not rows: building 300 model instances per sync would
    # cost more than the listing itself. Full rows are loaded only for changes.
    existing = {
        cid: (pk, fingerprint, gone_at, inspected_at)
        for cid, pk, fingerprint, gone_at, inspected_at in Container.objects.filter(
            host=host
        ).values_list("container_id", "pk", "fingerprint", "gone_at", "inspected_at")
    }
    seen: set[str] = set()
    to_create: list[Container] = []
    to_inspect: list[Container] = []
    changed: dict[int, tuple[ContainerFacts, dict[str, Any], str]] = {}
    stale: dict[int, ContainerFacts] = {}
    for facts in listing:
        seen.add(facts.id)
        values = _listing_values(facts)
        fingerprint = _fingerprint(values)
        known = existing.get(facts.id)
        if known is None:
            row = Container(
                host=host,
                container_id=facts.id,
                first_seen_at=now,
                fingerprint=fingerprint,
                **values,
            )
            row.last_seen_at = now
            row.changed_at = now
            to_create.append(row)
            if facts.state != "created":
                to_inspect.append(row)
            continue
        pk, old_fingerprint, gone_at, inspected_at = known
        if gone_at is not None or old_fingerprint != fingerprint:
            changed[pk] = (facts, values, fingerprint)
        elif inspected_at is None and facts.state != "created":
            # Written before any inspect could run: fill it in when there is room.
            stale[pk] = facts

    to_update: list[Container] = []
    if changed or stale:
        rows = Container.objects.in_bulk([*changed, *stale])
        for pk, (facts, values, fingerprint) in changed.items():
            row = rows[pk]
            state_changed = row.state != facts.state
            for k, v in values.items():
                setattr(row, k, v)
            row.fingerprint = fingerprint
            row.gone_at = None
            row.changed_at = now
            row.last_seen_at = now
            to_update.append(row)
            if (state_changed or row.inspected_at is None) and facts.state != "created":
                to_inspect.append(row)
        for pk in stale:
            to_update.append(rows[pk])
            to_inspect.append(rows[pk])

    for row in to_inspect[:MAX_INSPECTS_PER_SYNC]:
        try:
            _detail_apply(row, dockerhosts.container_inspect(endpoint, row.container_id, counter))
            result.inspected += 1
        except dockerhosts.ContainerNotFound:
            continue
        except dockerhosts.DockerHostError as exc:
            log.warning("inspect of %s on %s failed: %s", row.container_id, host.name, exc)
            break

    gone_ids = [cid for cid, known in existing.items() if cid not in seen and known[2] is None]
    update_fields = [
        *_listing_values_fields(),
        "exit_code",
        "gone_at",
        "changed_at",
        "last_seen_at",
        "started_at",
        "finished_at",
        "oom_killed",
        "restart_count",
        "health_log",
        "error",
        "inspected_at",
        "fingerprint",
    ]
    with transaction.atomic():
        Container.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            Container.objects.bulk_update(to_update, update_fields, batch_size=200)
        if gone_ids:
            Container.objects.filter(host=host, container_id__in=gone_ids).update(
                gone_at=now, changed_at=now
            )
        # last_seen_at is refreshed in one statement at most every few minutes:
        # rewriting every row on every sync would cost more than the listing.
        # Between refreshes, host.last_ok_at is when all live rows were last seen.
        Container.objects.filter(
            host=host, gone_at__isnull=True, last_seen_at__lt=now - LAST_SEEN_REFRESH
        ).update(last_seen_at=now)
        was_unreachable = not host.reachable and host.last_ok_at is not None
        states = [f.state for f in listing]
        host.containers_total = len(listing)
        host.containers_running = states.count("running")
        host.containers_paused = states.count("paused")
        host.containers_stopped = len(states) - host.containers_running - host.containers_paused
        host.reachable = True
        host.last_ok_at = now
        host.unreachable_since = None
        host.last_sync_at = now
        host.last_sync_ms = int((time.monotonic() - started) * 1000)
        # Only the fields a sync owns: an operator's (or drift's) link written
        # meanwhile must not be overwritten with what this sync loaded.
        fields = [*_HOST_SYNC_FIELDS, *(_HOST_INFO_FIELDS if info_refreshed else [])]
        if linked:
            fields += ["container_instance", "link_source"]
        host.save(update_fields=fields)
        if was_unreachable:
            event_record(
                source=EventSource.DOCKER,
                message=f"Docker host {host.name} is reachable again",
                dedupe_key=dedupe_key("docker-host-reachable", host.pk, now.isoformat()),
                docker_host=host.name,
            )
    result.recovered = was_unreachable
    result.created = len(to_create)
    result.updated = len(to_update)
    result.gone = len(gone_ids)
    result.calls = counter.count
    result.call_log = counter.calls
    return result


def _listing_values_fields() -> list[str]:
    return [
        "name",
        "image",
        "image_id",
        "command",
        "state",
        "status",
        "health",
        "labels",
        "ports",
        "created",
        "ecs_cluster",
        "ecs_task_arn",
        "ecs_container_name",
        "ecs_family",
        "ecs_revision",
    ]


def docker_host_mark_unreachable(*, host: DockerHost, error: str) -> None:
    """Record a failed contact; containers are kept as they were last seen."""
    now = timezone.now()
    first = host.reachable or host.unreachable_since is None
    host.reachable = False
    host.last_error = error[:2000]
    host.last_error_at = now
    host.last_sync_at = now
    if host.unreachable_since is None:
        host.unreachable_since = now
    host.save(
        update_fields=[
            "reachable",
            "last_error",
            "last_error_at",
            "last_sync_at",
            "unreachable_since",
        ]
    )
    if first:
        event_record(
            source=EventSource.DOCKER,
            severity=EventSeverity.WARNING,
            message=f"Docker host {host.name} is unreachable: {error[:300]}",
            dedupe_key=dedupe_key("docker-host-unreachable", host.pk, host.unreachable_since),
            docker_host=host.name,
        )


def docker_hosts_sync_all() -> list[HostSyncResult]:
    """Sync every enabled host in turn; one host's failure never stops the others."""
    results = []
    for host_id in DockerHost.objects.filter(enabled=True).values_list("pk", flat=True):
        try:
            r = docker_host_sync(host_id=host_id)
        except Exception:
            log.exception("docker sync of host %s failed", host_id)
            continue
        if r is not None:
            results.append(r)
    return results


# --- events --------------------------------------------------------------------

# Actions that go on the timeline; exec_* (health probes) and attach/resize are noise.
TIMELINE_ACTIONS = {
    "create",
    "start",
    "die",
    "oom",
    "kill",
    "restart",
    "stop",
    "pause",
    "unpause",
    "destroy",
    "rename",
    "health_status",
}


def _event_message(host: DockerHost, event: DockerEvent) -> tuple[str, str]:
    name = event.attributes.get("name", event.container_id[:12])
    action = event.action
    severity = EventSeverity.INFO
    if action == "die":
        code = event.attributes.get("exitCode", "?")
        text = f"Container {name} on {host.name} died (exit code {code})"
        if code not in {"0", "?"}:
            severity = EventSeverity.WARNING
    elif action == "oom":
        text = f"Container {name} on {host.name} ran out of memory (OOM)"
        severity = EventSeverity.ERROR
    elif action == "kill":
        text = (
            f"Container {name} on {host.name} was sent signal {event.attributes.get('signal', '?')}"
        )
    elif action.startswith("health_status"):
        status = action.split(":", 1)[1].strip() if ":" in action else "?"
        text = f"Container {name} on {host.name} is {status}"
        if status == "unhealthy":
            severity = EventSeverity.WARNING
    else:
        verb = {
            "create": "was created",
            "start": "started",
            "restart": "restarted",
            "stop": "stopped",
            "pause": "was paused",
            "unpause": "was unpaused",
            "destroy": "was removed",
            "rename": "was renamed",
        }.get(action, action)
        text = f"Container {name} on {host.name} {verb}"
    return text, severity


def docker_event_key(host: DockerHost, event: DockerEvent) -> str:
    return dedupe_key("docker", host.pk, event.container_id, event.action, event.time_nano)


def docker_events_record(*, host: DockerHost, events: list[DockerEvent]) -> int:
    """Write a batch of engine events to the timeline (idempotent by dedupe key),
    refresh the containers they touched, and advance the host's cursor."""
    if not events:
        return 0
    rows: list[NewEvent] = []
    for event in events:
        base = event.action.split(":", 1)[0]
        if base not in TIMELINE_ACTIONS:
            continue
        text, severity = _event_message(host, event)
        details: dict[str, Any] = {"action": event.action, "attributes": event.attributes}
        rows.append(
            NewEvent(
                source=EventSource.DOCKER,
                severity=severity,
                message=text,
                dedupe_key=docker_event_key(host, event),
                occurred_at=event.occurred_at,
                docker_host=host.name,
                container_id=event.container_id,
                task_arn=event.attributes.get(dockerhosts.ECS_LABELS["task_arn"], ""),
                details=details,
            )
        )
    written = events_record(rows)
    cursor = max(e.time_nano for e in events)
    if host.events_cursor_nanos is None or cursor > host.events_cursor_nanos:
        host.events_cursor_nanos = cursor
        DockerHost.objects.filter(pk=host.pk).update(events_cursor_nanos=cursor)
    return written


def container_refresh(*, host: DockerHost, container_id: str, removed: bool = False) -> None:
    """Bring one container row up to date after an event (one inspect)."""
    now = timezone.now()
    if removed:
        Container.objects.filter(host=host, container_id=container_id, gone_at__isnull=True).update(
            gone_at=now, changed_at=now
        )
        return
    try:
        detail = dockerhosts.container_inspect(host_endpoint(host), container_id)
    except dockerhosts.ContainerNotFound:
        Container.objects.filter(host=host, container_id=container_id, gone_at__isnull=True).update(
            gone_at=now, changed_at=now
        )
        return
    facts = detail.facts
    values = _listing_values(facts)
    values.pop("ports")  # inspect's port shape differs from the listing's; sync keeps them
    values["status"] = _status_text(detail)
    row = Container.objects.filter(host=host, container_id=container_id).first()
    if row is None:
        row = Container(host=host, container_id=container_id, first_seen_at=now)
    for k, v in values.items():
        setattr(row, k, v)
    _detail_apply(row, detail)
    row.fingerprint = ""  # the next listing rewrites the listing's own fields
    row.gone_at = None
    row.last_seen_at = now
    row.changed_at = now
    row.save()


def _status_text(detail: ContainerDetail) -> str:
    state = detail.facts.state
    if state in {"exited", "dead"}:
        return f"Exited ({detail.exit_code})"
    if state == "running" and detail.facts.health:
        return f"Up ({detail.facts.health})"
    return state.capitalize()


# --- actions -------------------------------------------------------------------


class ContainerActionError(Exception):
    pass


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str


CONTAINER_ACTIONS = {"restart", "stop"}


def container_act(
    *,
    container: Container,
    action: str,
    reason: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> ActionResult:
    """Restart or stop a container on its host, audited whatever the outcome."""
    if action not in CONTAINER_ACTIONS:
        raise ContainerActionError(f"Unknown action {action!r}.")
    reason = reason.strip()
    if not reason:
        raise ContainerActionError("A reason is required.")
    host = container.host
    try:
        endpoint = host_endpoint(host)
        if action == "restart":
            dockerhosts.container_restart(endpoint, container.container_id)
        else:
            dockerhosts.container_stop(endpoint, container.container_id)
    except dockerhosts.DockerHostError as exc:
        result = ActionResult(False, f"Could not {action} {container.name}: {exc}")
    else:
        verb = "Restarted" if action == "restart" else "Stopped"
        result = ActionResult(True, f"{verb} {container.name} on {host.name}.")
    audit_record(
        actor=actor,
        action=f"container.{action}",
        message=f"{result.message} Reason: {reason}",
        request=request,
        object_type="container",
        object_id=container.container_id,
        details={"reason": reason, "ok": result.ok, "host": host.name},
        severity=EventSeverity.INFO if result.ok else EventSeverity.WARNING,
        docker_host=host.name,
        container_id=container.container_id,
        task_arn=container.ecs_task_arn,
    )
    if result.ok:
        container_refresh(host=host, container_id=container.container_id)
    return result
