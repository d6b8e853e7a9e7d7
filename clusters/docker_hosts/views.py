"""Docker host pages: list, add, host detail (live containers), container detail
and the operator actions on a container."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from clusters.core.audit import audit_record
from clusters.core.htmx import HtmxHttpRequest, flash
from clusters.core.inputs import db_id
from clusters.core.jobs import QUEUED_WHILE_PAUSED, job_enqueue, job_refused
from clusters.core.roles import ADMIN, OPERATOR, VIEWER, has_role, role_required
from clusters.docker_hosts import (
    ContainerActionError,
    container_act,
    docker_host_create,
    docker_host_link,
    docker_host_tls_update,
)
from clusters.docker_hosts.actions import ACTION_TASK
from clusters.docker_hosts.forms import ContainerActionForm, DockerHostForm, DockerHostTlsForm
from clusters.docker_hosts.selectors import (
    CONTAINER_STATES,
    ContainerFilters,
    container_events,
    docker_host_containers,
    docker_host_events,
    docker_hosts_list,
    link_candidates,
)
from clusters.models import Container, ContainerAction, ContainerInstance, DockerHost
from clusters.models.hosts import TLS_ITEMS

SECTION = "docker-hosts"

SYNC_HOST_TASK = "clusters.docker_hosts.tasks.sync_docker_host"


@require_GET
@role_required(VIEWER)
def host_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "clusters/docker/hosts.html",
        {
            "section": SECTION,
            "hosts": docker_hosts_list(),
            "can_add": has_role(request.user, ADMIN),
        },
    )


# Error reports (ADMINS e-mail, DEBUG pages) must not show pasted PEM text.
PEM_FIELDS = ("tls_ca_pem", "tls_cert_pem", "tls_key_pem")


def _errors_to_form(form: forms.Form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        for error in exc.messages:
            form.add_error(None, error)
        return
    for field, errors in exc.message_dict.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
@sensitive_post_parameters(*PEM_FIELDS)
def host_add(request: HtmxHttpRequest) -> HttpResponse:
    form = DockerHostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            host = docker_host_create(**form.cleaned_data, actor=request.user, request=request)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(
                request, f"Docker host {host.name} added: engine {host.engine_version}."
            )
            return redirect("clusters:docker-host", name=host.name)
    return render(request, "clusters/docker/host_add.html", {"section": SECTION, "form": form})


@require_http_methods(["GET", "POST"])
@role_required(ADMIN)
@sensitive_post_parameters(*PEM_FIELDS)
def host_tls(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """Change a host's TLS material: file paths and/or PEM text stored encrypted.
    Stored PEM text is never rendered; the page says "stored" and offers "clear"."""
    host = get_object_or_404(DockerHost, name=name)
    form = DockerHostTlsForm(
        request.POST if request.method == "POST" else None,
        stored=host.tls_stored,
        initial={f"tls_{item}_path": getattr(host, f"tls_{item}_path") for item in TLS_ITEMS},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                change = docker_host_tls_update(
                    host=host, **form.cleaned_data, actor=request.user, request=request
                )
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                if change.changed:
                    messages.success(request, f"TLS material of {host.name}: {change.describe()}.")
                else:
                    messages.info(request, f"Nothing changed for {host.name}.")
                return redirect("clusters:docker-host", name=host.name)
        status = 400
    return render(
        request,
        "clusters/docker/host_tls.html",
        {"section": SECTION, "host": host, "form": form},
        status=status,
    )


@require_GET
@role_required(VIEWER)
def host_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    host = get_object_or_404(DockerHost.objects.select_related("container_instance"), name=name)
    filters = ContainerFilters.from_query(request.GET.dict())
    context = {
        "section": SECTION,
        "host": host,
        "filters": filters,
        "states": CONTAINER_STATES,
        "containers": docker_host_containers(host=host, filters=filters),
        "query": request.GET.urlencode(),
    }
    if request.htmx:
        return render(request, "clusters/docker/host_detail.html#containers", context)
    context["events"] = docker_host_events(host=host)
    context["can_link"] = has_role(request.user, OPERATOR)
    context["can_edit_tls"] = has_role(request.user, ADMIN)
    if context["can_link"]:
        context["instances"] = link_candidates()
    context["extra_panels"] = host_panels(request, host)
    return render(request, "clusters/docker/host_detail.html", context)


def host_panels(request: HtmxHttpRequest, host: DockerHost) -> list[str]:
    """HTML panels other apps add to the host page (drift findings), rendered by
    receivers of ``docker_host_page``; keeps clusters from importing deployments."""
    from clusters.docker_hosts import docker_host_page

    out: list[str] = []
    for _, html in docker_host_page.send(sender=DockerHost, host=host, request=request):
        if html:
            out.append(str(html))
    return out


def _container_page(
    request: HttpRequest, host: DockerHost, container: Container, form: forms.Form
) -> dict[str, object]:
    return {
        "section": SECTION,
        "host": host,
        "container": container,
        "events": container_events(container=container),
        "can_act": has_role(request.user, OPERATOR),
        "form": form,
        "labels": sorted(container.labels.items()),
        "actions": list(container.actions.select_related("requested_by")[:5]),  # type: ignore[attr-defined]
    }


def _action_progress(
    request: HtmxHttpRequest, host: DockerHost, container: Container
) -> HttpResponse:
    """One queued restart/stop, polled until it finished; then its outcome (and
    the flash, swapped in out of band) with the status that stops the polling."""
    action = ContainerAction.objects.filter(
        pk=db_id(request.GET.get("pk")) or 0, container=container
    ).first()
    if action is None:
        return HttpResponseStopPolling("")
    level = {"done": "success", "failed": "error"}.get(action.status)
    html = render_to_string(
        "clusters/docker/container_detail.html#action-progress",
        {"host": host, "container": container, "a": action, "flash": level},
        request,
    )
    if level is None:
        return HttpResponse(html)
    return flash(HttpResponseStopPolling(html), level, action.message)


@require_GET
@role_required(VIEWER)
def container_detail(request: HtmxHttpRequest, name: str, container_id: str) -> HttpResponse:
    host = get_object_or_404(DockerHost, name=name)
    container = get_object_or_404(Container, host=host, container_id=container_id)
    if request.htmx and request.GET.get("part") == "action":
        return _action_progress(request, host, container)
    if request.htmx:
        # The live state cards; a removed container stops the polling.
        html = render_to_string(
            "clusters/docker/container_detail.html#live",
            {"host": host, "container": container},
            request,
        )
        return HttpResponseStopPolling(html) if container.is_gone else HttpResponse(html)
    context = _container_page(request, host, container, ContainerActionForm())
    return render(request, "clusters/docker/container_detail.html", context)


@require_POST
@role_required(OPERATOR)
def container_action(request: HtmxHttpRequest, name: str, container_id: str) -> HttpResponse:
    """Queue a restart or stop; a worker makes the Docker call and the container
    page follows it."""
    host = get_object_or_404(DockerHost, name=name)
    container = get_object_or_404(Container, host=host, container_id=container_id)
    form = ContainerActionForm(request.POST)
    if not form.is_valid():
        context = _container_page(request, host, container, form)
        return render(request, "clusters/docker/container_detail.html", context, status=400)
    try:
        action = container_act(
            container=container,
            action=form.cleaned_data["action"],
            reason=form.cleaned_data["reason"],
            actor=request.user,
            request=request,
        )
    except ContainerActionError as exc:
        messages.error(request, str(exc))
    else:
        what = f"{action.get_action_display()} of {container.name}"
        # The one outage policy: the action is kept; say so when the broker refused it.
        if job_refused(ACTION_TASK, action.pk):
            messages.warning(request, f"{what}: {QUEUED_WHILE_PAUSED}")
        else:
            messages.info(request, f"{what} queued for a background worker.")
    return redirect("clusters:docker-container", name=host.name, container_id=container_id)


@require_POST
@role_required(OPERATOR)
def host_link(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """An operator chooses the container instance this host is (or none)."""
    host = get_object_or_404(DockerHost, name=name)
    raw = request.POST.get("instance", "")
    instance = None
    if raw:
        instance = ContainerInstance.objects.filter(pk=db_id(raw) or 0).first()
        if instance is None:
            messages.error(request, "That container instance is not mirrored.")
            return redirect("clusters:docker-host", name=host.name)
    docker_host_link(host=host, instance=instance, actor=request.user, request=request)
    messages.success(
        request, f"Linked {host.name} to {instance}." if instance else f"Unlinked {host.name}."
    )
    return redirect("clusters:docker-host", name=host.name)


@require_POST
@role_required(OPERATOR)
def host_sync_now(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """Queue a sync of one host (a worker lists its containers), audited; the page
    shows the outcome on the host once the worker wrote it."""
    host = get_object_or_404(DockerHost, name=name)
    with transaction.atomic():  # the audit entry and its job are kept together
        audit_record(
            actor=request.user,
            action="docker_host.sync",
            message=f"Asked for a sync of Docker host {host.name}",
            request=request,
            object_type="docker_host",
            object_id=str(host.pk),
            details={},
            docker_host=host.name,
        )
        job_enqueue(SYNC_HOST_TASK, host.pk)
    if job_refused(SYNC_HOST_TASK, host.pk):
        messages.warning(request, f"Sync of {host.name} {QUEUED_WHILE_PAUSED}")
    else:
        messages.info(request, f"Sync of {host.name} started; reload to see what it found.")
    return redirect("clusters:docker-host", name=host.name)
