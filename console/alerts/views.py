"""Notification channel pages (admin role): list, create, edit, test, deliveries."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clusters.core.audit import audit_record
from clusters.core.jobs import QUEUED_WHILE_PAUSED
from clusters.core.roles import ADMIN, role_required
from console.alerts.notifications import channel_test_send, delivery_waiting
from console.models import NotificationChannel

# Sources of "needs attention" items: the health model's subject kinds
# (console.dashboard.rules.rule_health), then the extension rules'.
SOURCES = [
    ("service", "Services (failed or stuck rollouts, tasks not running, crash loops, placement)"),
    ("instance", "Container instances (agent disconnected, draining, waiting room)"),
    ("host", "Docker hosts (unreachable, containers restarting)"),
    ("cluster", "Clusters (sync failing, stale data)"),
    ("account", "Accounts (sync failing)"),
    ("drift", "Drift findings"),
    ("registration", "Registration requests"),
    ("activation", "Expiring activations"),
]


class ChannelForm(forms.ModelForm):  # type: ignore[type-arg]
    sources = forms.MultipleChoiceField(
        choices=SOURCES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked = every source.",
    )
    clusters = forms.CharField(
        required=False,
        help_text="Cluster names or ARNs, comma-separated. Empty = every cluster.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "target", "min_severity", "sources", "clusters", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["clusters"] = ", ".join(self.instance.clusters or [])

    def clean_clusters(self) -> list[str]:
        raw = self.cleaned_data.get("clusters") or ""
        return [c.strip() for c in raw.split(",") if c.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, target = data.get("kind"), (data.get("target") or "").strip()
        try:
            if kind in ("webhook", "slack"):
                forms.URLField(assume_scheme="https").clean(target)
            elif kind == "email":
                for address in [a.strip() for a in target.split(",") if a.strip()] or [""]:
                    forms.EmailField().clean(address)
        except forms.ValidationError as error:
            self.add_error("target", error)  # shown under the field, like every form's errors
        data["target"] = target
        return data


@require_http_methods(["GET"])
@role_required(ADMIN)
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = NotificationChannel.objects.all()
    return render(
        request, "console/alerts/channels.html", {"section": "dashboard", "channels": channels}
    )


def _save(request: HttpRequest, form: ChannelForm, *, created: bool) -> NotificationChannel:
    channel = form.save()
    audit_record(
        actor=request.user,
        action="alerts.channel_create" if created else "alerts.channel_update",
        message=f"{'Created' if created else 'Updated'} notification channel {channel.name}",
        request=request,
        object_type="notification_channel",
        object_id=str(channel.pk),
        details={"kind": channel.kind, "enabled": channel.enabled},
    )
    messages.success(request, f"Saved channel {channel.name}.")
    return channel


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def channel_create(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel = _save(request, form, created=True)
        return redirect("alert-channel", pk=channel.pk)
    return render(
        request,
        "console/alerts/channel_form.html",
        {"section": "dashboard", "form": form, "channel": None},
    )


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, pk=pk)
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        _save(request, form, created=False)
        return redirect("alert-channel", pk=channel.pk)
    deliveries = channel.deliveries.all()[:50]
    return render(
        request,
        "console/alerts/channel_form.html",
        {"section": "dashboard", "form": form, "channel": channel, "deliveries": deliveries},
    )


@require_POST
@role_required(ADMIN)
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, pk=pk)
    delivery = channel_test_send(channel=channel, actor_name=request.user.get_username())
    audit_record(
        actor=request.user,
        action="alerts.channel_test",
        message=f"Sent a test notification to channel {channel.name}",
        request=request,
        object_type="notification_channel",
        object_id=str(channel.pk),
        details={"delivery": delivery.pk},
    )
    if delivery_waiting(delivery.pk):
        messages.warning(request, f"Test notification recorded and {QUEUED_WHILE_PAUSED}")
    else:
        messages.info(request, "Test notification queued; its attempts appear below.")
    return redirect("alert-channel", pk=channel.pk)
