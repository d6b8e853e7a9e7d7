"""A Docker host's TLS material as an operator gives it (file paths and/or PEM
text): checked, encrypted and set on the host, and what changed, for the audit.

No Docker call here: the connection test that new material must pass is the
caller's (``clusters.docker_hosts.hosts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.views.decorators.debug import sensitive_variables

from clusters.core.crypto import (
    DecryptionError,
    decrypt_secret,
    encrypt_secret,
    encryption_configured,
)
from clusters.docker_hosts import tls_material
from clusters.models import DockerHost
from clusters.models.hosts import TLS_ITEMS

TLS_LABELS = {"ca": "CA certificate", "cert": "client certificate", "key": "client key"}


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


# repr=False: it holds PEM text and a private key, which must never reach an error
# page or a log line through a repr.
@dataclass(repr=False)
class _Checked:
    """The material as given, after the per-item checks."""

    new_paths: dict[str, str]
    new_pems: dict[str, str] = field(default_factory=dict)
    cleared: list[str] = field(default_factory=list)
    certs: list[Any] | None = None  # the client certificate chain, when pasted
    key: Any = None  # the client key, when pasted
    errors: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)


@sensitive_variables("pems", "checked")
def tls_apply(
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
    checked = _Checked(new_paths={item: (paths.get(item) or "").strip() for item in TLS_ITEMS})
    for item in TLS_ITEMS:
        _item_check(host, checked, item, pems.get(item) or "", clear)
    if checked.errors:
        raise ValidationError(checked.errors)
    _storable_check(host, checked.new_pems)
    _pair_check(host, checked)
    return _tls_set(host, checked)


@sensitive_variables("raw", "text", "checked")
def _item_check(host: DockerHost, checked: _Checked, item: str, raw: str, clear: set[str]) -> None:
    label = TLS_LABELS[item]
    text = tls_material.pem_normalise(raw)
    has_token = bool(getattr(host, f"encrypted_tls_{item}"))
    if not text:
        if item in clear and has_token:
            checked.cleared.append(item)
        elif has_token and checked.new_paths[item]:
            checked.fail(
                f"tls_{item}_path",
                f"A {label} is stored for this host: tick “clear” to use a file instead.",
            )
    elif item in clear:
        checked.fail(f"tls_{item}_pem", f"Paste a new {label} or clear the stored one, not both.")
    elif checked.new_paths[item]:
        checked.fail(f"tls_{item}_path", f"Give the {label} as a file or as PEM text, not both.")
    else:
        try:
            if item == "key":
                checked.key = tls_material.pem_private_key_check(text)
            else:
                certs = tls_material.pem_certificates_check(text, what=label)
                checked.certs = certs if item == "cert" else checked.certs
        except ValidationError as exc:
            for message in exc.messages:
                checked.fail(f"tls_{item}_pem", message)
        else:
            checked.new_pems[item] = text


@sensitive_variables("new_pems")
def _storable_check(host: DockerHost, new_pems: dict[str, str]) -> None:
    """PEM text is stored encrypted, and used with tcp:// endpoints only."""
    if not new_pems:
        return
    first = next(iter(new_pems))
    if not encryption_configured():
        raise ValidationError(
            {
                f"tls_{first}_pem": "FLEETDECK_ENCRYPTION_KEYS holds no usable key, so PEM text "
                "cannot be stored encrypted: set a key, or give file paths instead."
            }
        )
    if host.endpoint and not host.endpoint.startswith("tcp://"):
        raise ValidationError({f"tls_{first}_pem": "TLS is used with tcp:// endpoints only."})


@sensitive_variables("checked", "key")
def _pair_check(host: DockerHost, checked: _Checked) -> None:
    """A client certificate and its key go together, and belong together."""
    new_pems = checked.new_pems
    # What is in effect afterwards, per item: PEM text (new or kept) or a path.
    as_pem = {
        item
        for item in TLS_ITEMS
        if item in new_pems
        or (getattr(host, f"encrypted_tls_{item}") and item not in checked.cleared)
    }
    have = {item: item in as_pem or bool(checked.new_paths[item]) for item in TLS_ITEMS}
    if have["cert"] != have["key"]:
        missing = "key" if have["cert"] else "cert"
        raise ValidationError(
            {
                f"tls_{missing}_pem": "A client certificate and its key go together: "
                f"give the {TLS_LABELS[missing]} too (as a file or as PEM text)."
            }
        )
    if not ({"cert", "key"} <= as_pem and {"cert", "key"} & new_pems.keys()):
        return
    # Both are PEM text and one is new: check they belong together (decrypting
    # the one already stored).
    try:
        key = checked.key
        if key is None:
            key = tls_material.pem_private_key_check(decrypt_secret(host.encrypted_tls_key))
        cert = (
            checked.certs
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


@sensitive_variables("checked", "text")
def _tls_set(host: DockerHost, checked: _Checked) -> TlsChange:
    new_paths, new_pems = checked.new_paths, checked.new_pems
    changed_paths = [
        item
        for item in TLS_ITEMS
        if item not in new_pems and new_paths[item] != getattr(host, f"tls_{item}_path")
    ]
    for item in TLS_ITEMS:
        setattr(host, f"tls_{item}_path", new_paths[item])
    for item, text in new_pems.items():
        setattr(host, f"encrypted_tls_{item}", encrypt_secret(text))
    for item in checked.cleared:
        setattr(host, f"encrypted_tls_{item}", "")
    certs = checked.certs
    return TlsChange(
        stored=list(new_pems),
        cleared=checked.cleared,
        paths=changed_paths,
        client_cert=tls_material.certificate_summary(certs[0]) if certs else None,
        adds_material=bool(new_pems) or any(new_paths[item] for item in changed_paths),
    )
