"""Docker hosts: how to reach one (TLS material, decrypted per client), adding one
with a connection test, changing its TLS material, linking it to its container
instance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
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
    encrypt_secret,
    encryption_configured,
)
from clusters.docker_hosts import engine as dockerhosts
from clusters.docker_hosts import tls_material
from clusters.docker_hosts.engine import Endpoint
from clusters.models import ContainerInstance, DockerHost
from clusters.models.hosts import TLS_ITEMS

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
    if new_pems and not encryption_configured():
        first = next(iter(new_pems))
        raise ValidationError(
            {
                f"tls_{first}_pem": "FLEETDECK_ENCRYPTION_KEYS holds no usable key, so PEM text "
                "cannot be stored encrypted: set a key, or give file paths instead."
            }
        )
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
        except (DecryptionError, ImproperlyConfigured, ValidationError):
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
