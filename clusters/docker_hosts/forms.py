from __future__ import annotations

from typing import Any

from django import forms

from clusters.docker_hosts import CONTAINER_ACTIONS, TLS_LABELS
from clusters.models.hosts import TLS_ITEMS


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: what was typed into it (a private
    key) is not sent back, not even when the form is shown again with errors."""

    def format_value(self, value: Any) -> None:
        return None


def _path_field(label: str) -> forms.CharField:
    return forms.CharField(max_length=500, required=False, label=label)


def _pem_field(label: str, help_text: str, *, write_only: bool = False) -> forms.CharField:
    attrs = {"rows": 4, "autocomplete": "off", "spellcheck": "false", "class": "pem"}
    widget = WriteOnlyTextarea(attrs=attrs) if write_only else forms.Textarea(attrs=attrs)
    return forms.CharField(required=False, label=label, widget=widget, help_text=help_text)


class TlsFieldsMixin(forms.Form):
    """TLS material per item: a file path on the console's machine, or PEM text
    (stored encrypted). The key's textarea is write-only."""

    tls_ca_path = _path_field("TLS CA file")
    tls_ca_pem = _pem_field(
        "…or TLS CA (PEM)",
        "-----BEGIN CERTIFICATE----- …: the CA that signed the engine's certificate.",
    )
    tls_cert_path = _path_field("TLS client cert file")
    tls_cert_pem = _pem_field(
        "…or TLS client cert (PEM)",
        "-----BEGIN CERTIFICATE----- …: the client certificate the engine trusts.",
    )
    tls_key_path = _path_field("TLS client key file")
    tls_key_pem = _pem_field(
        "…or TLS client key (PEM)",
        "-----BEGIN PRIVATE KEY----- …: stored encrypted and never shown again.",
        write_only=True,
    )


class DockerHostForm(TlsFieldsMixin):
    name = forms.SlugField(max_length=100, help_text="A short name: letters, digits, - and _.")
    endpoint = forms.CharField(
        max_length=500,
        help_text="unix:///var/run/docker.sock, tcp://HOST:2376 (TLS below) or ssh://USER@HOST",
    )

    field_order = [
        "name",
        "endpoint",
        "tls_ca_path",
        "tls_ca_pem",
        "tls_cert_path",
        "tls_cert_pem",
        "tls_key_path",
        "tls_key_pem",
    ]


class DockerHostTlsForm(TlsFieldsMixin):
    """Change a host's TLS material. Stored PEM text is never shown: its field
    says "stored" and offers a "clear" box instead."""

    clear_tls_ca = forms.BooleanField(required=False, label="Clear the stored CA")
    clear_tls_cert = forms.BooleanField(required=False, label="Clear the stored client cert")
    clear_tls_key = forms.BooleanField(required=False, label="Clear the stored client key")

    def __init__(self, *args: Any, stored: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        order: list[str] = []
        for item in TLS_ITEMS:
            order += [f"tls_{item}_path", f"tls_{item}_pem"]
            if item in stored:
                self.fields[
                    f"tls_{item}_pem"
                ].help_text = (
                    f"A {TLS_LABELS[item]} is stored (encrypted). Paste a new one to replace it."
                )
                order.append(f"clear_tls_{item}")
            else:
                del self.fields[f"clear_tls_{item}"]
        self.order_fields(order)


class ContainerActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in sorted(CONTAINER_ACTIONS)])
    reason = forms.CharField(max_length=500, strip=True)
    confirm = forms.BooleanField(
        required=True,
        label="I understand this acts on the live container",
        error_messages={"required": "Tick the confirmation box to go ahead."},
    )
