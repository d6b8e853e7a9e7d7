"""Forms of the onboarding pages. The same rules run as the user types (htmx
posts the form to the validate view, which answers with one field's errors) and on
submit, and the services enforce the limits once more."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.urls import reverse

from clusters.models import Cluster, DockerInstallSource
from clusters.registration import (
    EXPIRY_MAX_HOURS,
    EXPIRY_MIN_HOURS,
    LIMIT_MAX,
    LIMIT_MIN,
    REQUEST_TAG,
    RequestSpec,
)

# IAM role names: 1-64 of [A-Za-z0-9+=,.@_-]; or a role ARN with an optional path.
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
# SSM DefaultInstanceName: letters, digits, spaces and _.:/=+-@ ; at most 256.
INSTANCE_NAME = re.compile(r"^[\w .:/=+@-]{0,256}$")
TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
TAG_VALUE = re.compile(r"^[\w .:/=+@-]{0,256}$")
MAX_TAGS = 40  # SSM allows 50; Fleetdeck adds its own.


def parse_tags(text: str) -> dict[str, str]:
    """``key=value`` per line (or comma-separated) -> dict; raises ValidationError."""
    tags: dict[str, str] = {}
    for raw in re.split(r"[\n,]", text or ""):
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise forms.ValidationError(f"“{line}” is not key=value.")
        if key.lower().startswith("aws:") or key.startswith(REQUEST_TAG.split(":")[0] + ":"):
            raise forms.ValidationError(
                f"Tag keys starting with “{key.split(':')[0]}:” are reserved."
            )
        if not TAG_KEY.match(key) or not TAG_VALUE.match(value):
            raise forms.ValidationError(
                f"Tag “{key}”: keys 1-128 and values 0-256 of letters, digits, spaces and _.:/=+-@."
            )
        if key in tags:
            raise forms.ValidationError(f"Tag “{key}” appears twice.")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise forms.ValidationError(f"At most {MAX_TAGS} tags.")
    return tags


class RegistrationRequestForm(forms.Form):
    idempotency_token = forms.UUIDField(widget=forms.HiddenInput)
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.filter(gone_at__isnull=True).select_related("account"),
        help_text="The cluster the machines join.",
    )
    registration_limit = forms.IntegerField(
        label="Number of machines",
        min_value=LIMIT_MIN,
        max_value=LIMIT_MAX,
        initial=1,
        help_text="How many machines may register with this activation (1-1000).",
    )
    expiry_hours = forms.IntegerField(
        label="Valid for (hours)",
        min_value=EXPIRY_MIN_HOURS,
        max_value=EXPIRY_MAX_HOURS,
        initial=24,
        help_text="From 1 hour to 30 days (720 hours). Default 24 hours.",
    )
    iam_role = forms.CharField(
        label="IAM role",
        required=False,
        max_length=2048,
        widget=forms.TextInput(
            attrs={"placeholder": "the account's default, e.g. ecsAnywhereRole"}
        ),
        help_text="The role the machines get (default: the account's ECS Anywhere role).",
    )
    default_instance_name = forms.CharField(
        required=False, max_length=256, help_text="Shown in SSM for each registered machine."
    )
    tags = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "site=plant-3\nowner=ops"}),
        help_text="key=value, one per line.",
    )
    gpu = forms.BooleanField(
        label="GPU support", required=False, help_text="Adds --enable-gpu to the install command."
    )
    docker_install_source = forms.ChoiceField(
        label="Docker install source",
        choices=DockerInstallSource.choices,
        initial=DockerInstallSource.DOCKER,
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        max_length=2000,
        help_text="Why these machines should join (the approver reads this).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_token", uuid.uuid4())
        validate_url = reverse("clusters:registration-validate")
        for name, field in self.fields.items():
            if name == "idempotency_token":
                continue
            field.widget.attrs.update(
                {
                    "hx-post": validate_url,
                    "hx-trigger": "input changed delay:300ms, change",
                    "hx-target": f"#err-{name}",
                    "hx-include": "closest form",
                    "hx-vals": f'{{"_field": "{name}"}}',
                    "hx-sync": "closest form:abort",
                    "aria-describedby": f"err-{name}",
                }
            )

    def clean_iam_role(self) -> str:
        role = (self.cleaned_data.get("iam_role") or "").strip()
        if role and not (ROLE_NAME.match(role) or ROLE_ARN.match(role)):
            raise forms.ValidationError(
                "Give an IAM role name (letters, digits and +=,.@_-, at most 64) or a role ARN."
            )
        return role

    def clean_default_instance_name(self) -> str:
        name = (self.cleaned_data.get("default_instance_name") or "").strip()
        if not INSTANCE_NAME.match(name):
            raise forms.ValidationError("Letters, digits, spaces and _.:/=+-@ only.")
        return name

    def clean_tags(self) -> dict[str, str]:
        return parse_tags(self.cleaned_data.get("tags") or "")

    def clean_justification(self) -> str:
        text = (self.cleaned_data.get("justification") or "").strip()
        if len(text) < 10:
            raise forms.ValidationError("Say in a sentence why (at least 10 characters).")
        return text

    def to_spec(self) -> RequestSpec:
        data = self.cleaned_data
        cluster: Cluster = data["cluster"]
        return RequestSpec(
            cluster=cluster,
            registration_limit=data["registration_limit"],
            expiry_hours=data["expiry_hours"],
            iam_role=data["iam_role"] or cluster.account.anywhere_role,
            default_instance_name=data["default_instance_name"],
            tags=data["tags"],
            gpu=data["gpu"],
            docker_install_source=data["docker_install_source"],
            justification=data["justification"],
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def clean_reason(self) -> str:
        text = (self.cleaned_data.get("reason") or "").strip()
        if not text:
            raise forms.ValidationError("A reason is required.")
        return text
