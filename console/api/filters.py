"""The API's list filters (django-filter FilterSets).

A filter that takes an enumerated value refuses any other value with a 400 that
names the parameter and lists what it accepts (``console.api.errors`` gives the JSON
shape), where a hand-written ``qs.filter(status=value)`` answered an empty or a
full list. The messages never repeat the value given: it may be markup.
drf-spectacular documents every filter, with its enum, from these classes."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.request import Request

from clusters.core.inputs import db_id
from clusters.models import (
    Cluster,
    ContainerInstance,
    DockerHost,
    Event,
    EventSeverity,
    EventSource,
)
from deployments.models import Deployment, Service, Task

# The values ECS documents for each object's status (API reference, the `status` /
# `lastStatus` of Cluster, ContainerInstance, Service, Deployment and Task).
CLUSTER_STATUSES = ("ACTIVE", "PROVISIONING", "DEPROVISIONING", "FAILED", "INACTIVE")
INSTANCE_STATUSES = (
    "ACTIVE",
    "DRAINING",
    "INACTIVE",
    "REGISTERING",
    "REGISTRATION_FAILED",
    "DEREGISTERING",
)
SERVICE_STATUSES = ("ACTIVE", "DRAINING", "INACTIVE")
DEPLOYMENT_STATUSES = ("PRIMARY", "ACTIVE", "INACTIVE")
TASK_STATUSES = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
    "DELETED",
)


class ListFilterBackend(DjangoFilterBackend):
    """Filters apply to lists only: ``/tasks/7?status=x`` is task 7, whatever x."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        if getattr(view, "action", None) != "list":
            return queryset
        return super().filter_queryset(request, queryset, view)


class EnumField(forms.ChoiceField):
    """A choice matched without regard to case: ``status=running`` is RUNNING.
    Given empty (``?status=``) it is refused too: the schema's enum has no "", and
    an API client that sends one has a bug to hear about."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canonical = {str(v).casefold(): str(v) for v, _label in kwargs["choices"]}

    def to_python(self, value: Any) -> str:
        if value is not None and not str(value).strip():
            raise forms.ValidationError(self.error_messages["invalid_choice"], "invalid_choice")
        text = super().to_python(value).strip()
        return self.canonical.get(text.casefold(), text)


class EnumFilter(django_filters.ChoiceFilter):
    """One of a fixed list of values, else a 400 naming ``param`` and the list."""

    field_class = EnumField

    def __init__(self, *, param: str, values: tuple[str, ...], **kwargs: Any) -> None:
        accepted = ", ".join(values)
        kwargs.setdefault("help_text", "case-insensitive")
        message = f"{param} must be one of {accepted} (case-insensitive)."
        super().__init__(
            choices=[(v, v) for v in values],
            error_messages={"invalid_choice": message},
            **kwargs,
        )


@extend_schema_field(
    {"type": "string", "enum": ["true", "false"], "description": "true or false (case-insensitive)"}
)
class FlagFilter(EnumFilter):
    """A yes/no filter that refuses anything but true/false (django-filter's own
    BooleanFilter reads an unknown value as "no filter")."""

    def __init__(self, *, param: str, **kwargs: Any) -> None:
        super().__init__(param=param, values=("true", "false"), **kwargs)

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(**{self.field_name: value == "true"})


class RefFilter(django_filters.CharFilter):
    """A related object given as id, ARN or name (``field_name`` is the relation)."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        field = self.field_name
        if value.isascii() and value.isdigit():
            pk = db_id(value)
            return qs.filter(**{f"{field}_id": pk}) if pk is not None else qs.none()
        if value.startswith("arn:"):
            return qs.filter(**{f"{field}__arn": value})
        return qs.filter(**{f"{field}__name": value})


def _cluster_ref(relation: str = "cluster") -> RefFilter:
    return RefFilter(field_name=relation, help_text="cluster id, ARN or name")


def _service_ref() -> RefFilter:
    return RefFilter(field_name="service", help_text="service id, ARN or name")


class ClusterFilter(django_filters.FilterSet):
    status = EnumFilter(param="status", values=CLUSTER_STATUSES)

    class Meta:
        model = Cluster
        fields: list[str] = []


class InstanceFilter(django_filters.FilterSet):
    cluster = _cluster_ref()
    status = EnumFilter(param="status", values=INSTANCE_STATUSES)

    class Meta:
        model = ContainerInstance
        fields: list[str] = []


class ServiceFilter(django_filters.FilterSet):
    cluster = _cluster_ref()
    status = EnumFilter(param="status", values=SERVICE_STATUSES)

    class Meta:
        model = Service
        fields: list[str] = []


class DeploymentFilter(django_filters.FilterSet):
    cluster = _cluster_ref("service__cluster")
    service = _service_ref()
    status = EnumFilter(param="status", values=DEPLOYMENT_STATUSES)

    class Meta:
        model = Deployment
        fields: list[str] = []


class TaskFilter(django_filters.FilterSet):
    cluster = _cluster_ref()
    service = _service_ref()
    status = EnumFilter(
        param="status",
        values=TASK_STATUSES,
        field_name="last_status",
        help_text="the task's lastStatus (case-insensitive)",
    )

    class Meta:
        model = Task
        fields: list[str] = []


class EventFilter(django_filters.FilterSet):
    cluster = django_filters.CharFilter(field_name="cluster_arn", help_text="cluster ARN")
    service = django_filters.CharFilter(field_name="service_arn", help_text="service ARN")
    task = django_filters.CharFilter(field_name="task_arn", help_text="task ARN")
    instance = django_filters.CharFilter(field_name="instance_arn", help_text="instance ARN")
    source = EnumFilter(param="source", values=tuple(EventSource.values))
    severity = EnumFilter(param="severity", values=tuple(EventSeverity.values))

    class Meta:
        model = Event
        fields: list[str] = []


class HostFilter(django_filters.FilterSet):
    cluster = _cluster_ref("container_instance__cluster")
    reachable = FlagFilter(param="reachable")
    enabled = FlagFilter(param="enabled")

    class Meta:
        model = DockerHost
        fields: list[str] = []
