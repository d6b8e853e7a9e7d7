from __future__ import annotations

from django import forms

from .docker_sync import CONTAINER_ACTIONS


class DockerHostForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="A short name: letters, digits, - and _.")
    endpoint = forms.CharField(
        max_length=500,
        help_text="unix:///var/run/docker.sock, tcp://HOST:2376 (TLS below) or ssh://USER@HOST",
    )
    tls_ca_path = forms.CharField(max_length=500, required=False, label="TLS CA file")
    tls_cert_path = forms.CharField(max_length=500, required=False, label="TLS client cert file")
    tls_key_path = forms.CharField(max_length=500, required=False, label="TLS client key file")


class ContainerActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in sorted(CONTAINER_ACTIONS)])
    reason = forms.CharField(max_length=500, strip=True)
    confirm = forms.BooleanField(
        required=True,
        label="I understand this acts on the live container",
        error_messages={"required": "Tick the confirmation box to go ahead."},
    )
