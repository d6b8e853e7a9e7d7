"""Docker hosts: how to reach one (TLS material, decrypted per client), adding one
with a connection test, changing its TLS material (checked in ``tls``), linking it
to its container instance."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from clusters.core.audit import audit_record
from clusters.core.crypto import (
    DecryptionError,
    decrypt_secret,
)
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts.engine import Endpoint
from clusters.docker_hosts.tls import TlsChange, tls_apply
from clusters.models import ContainerInstance, DockerHost
from clusters.models.hosts import TLS_ITEMS


@sensitive_variables("pems")
def host_endpoint(host: DockerHost) -> Endpoint:
    """How to reach the host; stored PEM text is decrypted here, for one client's
    life (the adapter writes it to private files and removes them)."""
    try:
        pems = {
            item: decrypt_secret(token) if (token := getattr(host, f"encrypted_tls_{item}")) else ""
            for item in TLS_ITEMS
        }
    except (DecryptionError, ImproperlyConfigured):  # a wrong key, or no key at all
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
    url, errors = _endpoint_and_name_check(name=name, endpoint=endpoint)
    host = DockerHost(name=name, endpoint=url)
    try:
        tls = tls_apply(
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
    _instance_link(host, instance_arn)
    host.reachable = True
    host.last_ok_at = timezone.now()
    # The watcher follows events from the moment the host was added on.
    host.events_cursor_nanos = time.time_ns()
    host.save()
    if actor is not None:
        _create_audit(host, url=url, info=info, tls=tls, actor=actor, request=request)
    return host


def _endpoint_and_name_check(*, name: str, endpoint: str) -> tuple[str, dict[str, list[str]]]:
    """The endpoint's URL and the errors found in it and in the name."""
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
    return url, errors


def _instance_link(host: DockerHost, instance_arn: str) -> None:
    """Link a new host to the instance the operator named, or else find it."""
    if not instance_arn:
        docker_host_autolink(host=host)
        return
    instance = ContainerInstance.objects.filter(arn=instance_arn).first()
    if instance is None:
        raise ValidationError({"instance": f"No container instance {instance_arn} is mirrored."})
    host.container_instance = instance
    host.link_source = "operator"


def _create_audit(
    host: DockerHost,
    *,
    url: str,
    info: dockerhosts.EngineInfo,
    tls: TlsChange,
    actor: Any,
    request: HttpRequest | None,
) -> None:
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
    change = tls_apply(
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
    _tls_save(host, change, actor=actor, request=request)
    return change


def _tls_save(
    host: DockerHost, change: TlsChange, *, actor: Any, request: HttpRequest | None
) -> None:
    """Store the host's TLS fields and audit what changed, together."""
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
