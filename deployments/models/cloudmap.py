"""Cloud Map mirrored from AWS: namespaces, their services, the instances registered in
them with their health. What the service map draws behind each logical name."""

from __future__ import annotations

from django.db import models

from clusters.models import AwsAccount, MirroredModel


class CloudMapListing(models.Model):
    """When the catalogue (namespaces and services) of an account's region was last
    listed completely: the slow schedule's clock."""

    account = models.ForeignKey(AwsAccount, on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=32)
    listed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "region"], name="cloudmap_listing_uniq")
        ]

    def __str__(self) -> str:
        return f"Cloud Map catalogue of {self.region}"


class CloudMapNamespace(MirroredModel):
    account = models.ForeignKey(AwsAccount, on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=32)
    namespace_id = models.CharField(max_length=64, unique=True)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=1024)
    type = models.CharField(max_length=16, blank=True)  # HTTP | DNS_PRIVATE | DNS_PUBLIC
    created_at_aws = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class CloudMapService(MirroredModel):
    namespace = models.ForeignKey(
        CloudMapNamespace, on_delete=models.CASCADE, related_name="services"
    )
    service_id = models.CharField(max_length=64, unique=True)
    arn = models.CharField(max_length=2048, blank=True)
    name = models.CharField(max_length=1024)
    # [{"Type": "A"|"AAAA"|"SRV"|"CNAME", "TTL": n}]; empty in an HTTP namespace.
    dns_records = models.JSONField(default=list, blank=True)
    has_health_check = models.BooleanField(default=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def record_types(self) -> list[str]:
        return [str(r.get("Type") or "") for r in self.dns_records]


class CloudMapInstance(MirroredModel):
    service = models.ForeignKey(CloudMapService, on_delete=models.CASCADE, related_name="instances")
    instance_id = models.CharField(max_length=255)
    attributes = models.JSONField(default=dict, blank=True)
    health = models.CharField(max_length=16, default="UNKNOWN")  # HEALTHY | UNHEALTHY | UNKNOWN

    class Meta:
        ordering = ["instance_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "instance_id"], name="cloudmap_instance_uniq"
            )
        ]
