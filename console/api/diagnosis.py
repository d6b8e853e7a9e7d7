"""The ``diagnosis`` object on the API's task and service details
(deployments.diagnosis): null when nothing is wrong."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.diagnosis import Diagnosis, service_diagnose, task_diagnose
from deployments.models import Service, Task


class DiagnosisSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(help_text="the catalogue entry (docs/troubleshooting.md)")
    title = serializers.CharField()
    cause = serializers.CharField()
    fix = serializers.CharField()
    evidence = serializers.DictField(help_text="what the mirror shows for this case")
    docs_url = serializers.URLField()


def diagnosis_payload(found: Diagnosis | None) -> dict[str, Any] | None:
    """Only a problem: a task a deployment replaced has a diagnosis on its page
    (informational) but nothing wrong, so null here."""
    if found is None or not found.problem:
        return None
    return DiagnosisSerializer(found.as_dict()).data


class WithTaskDiagnosis(serializers.Serializer[Task]):
    diagnosis = serializers.SerializerMethodField()

    @extend_schema_field(DiagnosisSerializer(allow_null=True))
    def get_diagnosis(self, obj: Task) -> dict[str, Any] | None:
        return diagnosis_payload(task_diagnose(obj, containers=list(obj.containers.all())))


class WithServiceDiagnosis(serializers.Serializer[Service]):
    diagnosis = serializers.SerializerMethodField()

    @extend_schema_field(DiagnosisSerializer(allow_null=True))
    def get_diagnosis(self, obj: Service) -> dict[str, Any] | None:
        return diagnosis_payload(service_diagnose(obj))
