"""Every ECS browsing page: clusters (list and detail tabs), container instances, services,
tasks, and "Sync now" with its progress fragment."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from clusters.core.audit import audit_record
from clusters.core.htmx import HtmxHttpRequest, flash
from clusters.core.inputs import db_id
from clusters.core.jobs import QUEUED_WHILE_PAUSED, job_enqueue, job_refused
from clusters.core.roles import OPERATOR, VIEWER, has_role, role_required
from clusters.mirror.selectors import clusters_overview, instances_query, paginate
from clusters.mirror.sync import sync_run_start
from clusters.models import AwsAccount, Cluster, ContainerInstance, Event, EventSource, SyncRun
from clusters.stream.selectors import account_modes, streams_by_account
from deployments.diagnosis import (
    external_unsupported,
    instance_diagnose,
    service_diagnose,
    task_diagnose,
)
from deployments.logs import logs_may_read, task_logs_panels
from deployments.models import Deployment, Service, Task
from deployments.revisions.selectors import changes_attach, with_previous
from deployments.selectors import (
    HISTORY_ROWS,
    TASK_STATUSES,
    service_deployment_history,
    service_in_flight,
    service_last_placement_failure,
    service_recent_stops,
    services_query,
    tasks_query,
)
from deployments.service_map import service_networking_flags

TABS = ("services", "tasks", "instances")


def _task_status(request: HttpRequest) -> str:
    status = request.GET.get("status", "running")
    return status if status in TASK_STATUSES else "running"


@require_GET
@role_required(VIEWER)
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.select_related("account"), pk=pk)
    tab = request.GET.get("tab", "services")
    tab = tab if tab in TABS else "services"
    q = request.GET.get("q", "").strip()
    ctx: dict[str, object] = {
        "section": "clusters",
        "cluster": cluster,
        "tab": tab,
        "q": q,
        "can_operate": has_role(request.user, OPERATOR),
        "last_run": SyncRun.objects.filter(cluster=cluster).first(),
    }
    if tab == "services":
        state = request.GET.get("state", "")
        ctx["state"] = state
        ctx["page"] = paginate(
            services_query(cluster=cluster, q=q, state=state), request.GET.get("page")
        )
    elif tab == "tasks":
        status = _task_status(request)
        ctx["status"] = status
        ctx["page"] = paginate(
            tasks_query(cluster=cluster, status=status, q=q), request.GET.get("page")
        )
    else:
        status = request.GET.get("status", "")
        ctx["status"] = status
        ctx["page"] = paginate(
            instances_query(cluster=cluster, status=status, q=q), request.GET.get("page")
        )
    return render(request, "deployments/cluster_detail.html", ctx)


@require_GET
@role_required(VIEWER)
def service_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    state = request.GET.get("state", "")
    page = paginate(services_query(q=q, state=state), request.GET.get("page"))
    return render(
        request,
        "deployments/services.html",
        {"section": "services", "page": page, "q": q, "state": state},
    )


@require_GET
@role_required(VIEWER)
def service_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The service page. Its deployments, events and tasks poll themselves
    (``?part=live``) while anything is in flight and reload at once when a redeploy
    starts or ends (the ``redeploy-changed`` client event); ``?part=actions`` is the
    redeploy panel alone."""
    service = get_object_or_404(
        Service.objects.select_related("cluster", "cluster__account", "task_definition"), pk=pk
    )
    can_operate = has_role(request.user, OPERATOR)
    part = request.GET.get("part") if request.htmx else None
    if part == "actions":
        context = {"service": service, "can_operate": can_operate}
        return render(request, "deployments/_service_actions.html", context)
    deployments = list(
        with_previous(Deployment.objects.filter(service=service)).select_related("task_definition")[
            :20
        ]
    )
    changes_attach(deployments)
    status = _task_status(request)
    page = paginate(tasks_query(service=service, status=status), request.GET.get("page"))
    events = list(
        Event.objects.filter(
            service_arn=service.arn, source=EventSource.ECS_SERVICE_EVENT
        ).order_by("-occurred_at", "-id")[:20]
    )
    context = {
        "section": "services",
        "service": service,
        "cluster": service.cluster,
        "deployments": deployments,
        "events": events,
        "page": page,
        "status": status,
        "in_flight": service_in_flight(service=service, deployments=deployments),
        "can_operate": can_operate,
        "recent_stops": service_recent_stops(service),
        "placement": service_last_placement_failure(service),
        "diagnosis": service_diagnose(service),
        "external_findings": external_unsupported(service=service, cluster=service.cluster),
        "part": part,
        "networking_flags": service_networking_flags(service=service) if not part else [],
        "history": service_deployment_history(service) if not part else [],
        "history_limit": HISTORY_ROWS,
    }
    if part in ("live", "incident"):
        return render(request, f"deployments/service_detail.html#{part}", context)
    return render(request, "deployments/service_detail.html", context)


@require_GET
@role_required(VIEWER)
def task_list(request: HttpRequest) -> HttpResponse:
    status = _task_status(request)
    q = request.GET.get("q", "").strip()
    page = paginate(tasks_query(status=status, q=q), request.GET.get("page"))
    return render(
        request,
        "deployments/tasks.html",
        {"section": "tasks", "page": page, "status": status, "q": q},
    )


@require_GET
@role_required(VIEWER)
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(
        Task.objects.select_related(
            "cluster", "cluster__account", "service", "container_instance", "task_definition"
        ),
        pk=pk,
    )
    containers = list(task.containers.all())
    allowed = logs_may_read(request.user)
    return render(
        request,
        "deployments/task_detail.html",
        {
            "section": "tasks",
            "task": task,
            "containers": containers,
            "diagnosis": task_diagnose(task, containers=containers),
            "logs_allowed": allowed,
            "logs_min_role": settings.FLEETDECK_LOGS_MIN_ROLE,
            "logs_panels": task_logs_panels(task, containers) if allowed else [],
        },
    )


# Attributes every agent reports for each thing it can do: dozens of them, folded on
# the instance page below the ones an operator set or looks for (os, arch, ami, ...).
CAPABILITY_PREFIXES = ("ecs.capability.", "com.amazonaws.ecs.capability.")


def _attributes_split(attributes: dict[str, str]) -> tuple[list[tuple[str, str]], ...]:
    """(useful, capabilities), each sorted by name."""
    items = sorted(attributes.items())
    useful = [(k, v) for k, v in items if not k.startswith(CAPABILITY_PREFIXES)]
    return useful, [(k, v) for k, v in items if k.startswith(CAPABILITY_PREFIXES)]


@require_GET
@role_required(VIEWER)
def instance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    instance = get_object_or_404(
        ContainerInstance.objects.select_related(
            "cluster", "cluster__account", "admission"
        ).prefetch_related("docker_hosts"),
        pk=pk,
    )
    status = _task_status(request)
    page = paginate(tasks_query(instance=instance, status=status), request.GET.get("page"))
    attributes, capabilities = _attributes_split(instance.attributes)
    return render(
        request,
        "deployments/instance_detail.html",
        {
            "section": "instances",
            "instance": instance,
            "attributes": attributes,
            "capabilities": capabilities,
            "tags": sorted(instance.tags.items()),
            "page": page,
            "status": status,
            "diagnosis": instance_diagnose(instance),
        },
    )


SYNC_CLUSTER_TASK = "deployments.tasks.sync_cluster"
SYNC_ACCOUNT_TASK = "deployments.tasks.sync_account"


def _sync_queued(request: HtmxHttpRequest, run: SyncRun, back: str, task_name: str) -> HttpResponse:
    """The one outage policy: the run is kept (phase "queued"); when the broker did
    not take the job, the page says it runs once background work resumes, and the
    outbox sweep sends it then."""
    waiting = job_refused(task_name, *_sync_args(run))
    text = f"Sync {QUEUED_WHILE_PAUSED}" if waiting else "Sync started."
    if request.htmx:
        response = render(request, "clusters/_sync_run.html", {"run": run})
        if waiting:
            flash(response, "warning", text)
        return response
    if waiting:
        messages.warning(request, text)
    else:
        messages.info(request, text)
    return redirect(back)


def _sync_args(run: SyncRun) -> tuple[int, int]:
    return (run.cluster_id if run.cluster_id else run.account_id, run.pk)


@require_POST
@role_required(OPERATOR)
def cluster_sync_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.select_related("account"), pk=pk)
    with transaction.atomic():  # the run, its audit entry and its job are kept together
        run = sync_run_start(account=cluster.account, cluster=cluster)
        audit_record(
            actor=request.user,
            action="cluster.sync",
            message=f"{request.user} started a sync of cluster {cluster.name}",
            request=request,
            object_type="cluster",
            object_id=str(cluster.pk),
            details={"syncRun": run.pk},
            cluster_arn=cluster.arn,
            account=cluster.account.name,
            region=cluster.region,
        )
        job_enqueue(SYNC_CLUSTER_TASK, cluster.pk, run.pk)
    back = reverse("deployments:cluster", args=[cluster.pk])
    return _sync_queued(request, run, back, SYNC_CLUSTER_TASK)


@require_POST
@role_required(OPERATOR)
def account_sync_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(AwsAccount, pk=pk)
    with transaction.atomic():
        run = sync_run_start(account=account)
        audit_record(
            actor=request.user,
            action="account.sync",
            message=f"{request.user} started a sync of AWS account {account.name}",
            request=request,
            object_type="aws-account",
            object_id=str(account.pk),
            details={"syncRun": run.pk},
            account=account.name,
        )
        job_enqueue(SYNC_ACCOUNT_TASK, account.pk, run.pk)
    return _sync_queued(request, run, reverse("deployments:clusters"), SYNC_ACCOUNT_TASK)


@require_GET
@role_required(VIEWER)
def cluster_list(request: HttpRequest) -> HttpResponse:
    accounts = clusters_overview()
    streams, modes = streams_by_account(), account_modes()
    for row in accounts:  # each account's event stream and the sync mode it allows
        row.account.stream_rows = streams.get(row.account.pk, [])  # type: ignore[attr-defined]
        row.account.stream_mode = modes.get(row.account.pk)  # type: ignore[attr-defined]
    return render(
        request,
        "clusters/list.html",
        {
            "section": "clusters",
            "accounts": accounts,
            "can_operate": has_role(request.user, OPERATOR),
            "reconcile_seconds": settings.FLEETDECK_RECONCILE_SECONDS,
        },
    )


@require_GET
@role_required(VIEWER)
def instance_list(request: HttpRequest) -> HttpResponse:
    cluster_id = db_id(request.GET.get("cluster"))
    cluster = Cluster.objects.filter(pk=cluster_id).first() if cluster_id else None
    filters = {
        "status": request.GET.get("status", ""),
        "kind": request.GET.get("kind", ""),
        "q": request.GET.get("q", "").strip(),
    }
    page = paginate(instances_query(cluster=cluster, **filters), request.GET.get("page"))
    return render(
        request,
        "clusters/instances.html",
        {"section": "instances", "page": page, "filters": filters, "cluster": cluster},
    )


@require_GET
@role_required(VIEWER)
def sync_run_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The "Sync now" progress fragment; htmx polls it until the run is finished."""
    run = get_object_or_404(SyncRun.objects.select_related("cluster", "account"), pk=pk)
    html = render_to_string("clusters/_sync_run.html", {"run": run}, request=request)
    if not (run.is_finished and request.htmx):
        return HttpResponse(html)
    response = HttpResponseStopPolling(html)
    # Only a running run is polled, so this is the moment it finished: reload the
    # page to show what the sync brought (the finished run renders without polling).
    response["HX-Refresh"] = "true"
    return response
