"""/api/v1/hosts: the Docker hosts, read-only, list and detail, with no TLS material."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from clusters.core.crypto import encrypt_secret
from clusters.models import AwsAccount, Cluster, ContainerInstance, DockerHost

pytestmark = pytest.mark.django_db

ARN = "arn:aws:ecs:us-east-1:123456789012"
KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
)


@pytest.fixture
def hosts() -> tuple[DockerHost, DockerHost]:
    account = AwsAccount.objects.create(name="acct", regions=["us-east-1"], auth_mode="endpoint")
    cluster = Cluster.objects.create(
        account=account, region="us-east-1", arn=f"{ARN}:cluster/edge", name="edge"
    )
    instance = ContainerInstance.objects.create(
        cluster=cluster, arn=f"{ARN}:container-instance/edge/1", ec2_instance_id="mi-0abc"
    )
    linked = DockerHost.objects.create(
        name="plant-3",
        endpoint="tcp://10.0.0.5:2376",
        encrypted_tls_key=encrypt_secret(KEY_PEM),
        encrypted_tls_cert=encrypt_secret("cert-pem-text"),
        tls_ca_path="/etc/fleetdeck/secret-ca-dir/ca.pem",
        container_instance=instance,
        link_source="operator",
        reachable=True,
        hostname="plant-3.local",
        engine_version="27.1.1",
        containers_total=4,
        containers_running=3,
    )
    alone = DockerHost.objects.create(name="lab", endpoint="unix:///var/run/docker.sock")
    return linked, alone


def test_hosts_list_and_detail(hosts, viewer_client: Client) -> None:
    linked, alone = hosts
    response = viewer_client.get("/api/v1/hosts")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["count"] == 2
    assert [h["name"] for h in body["results"]] == ["lab", "plant-3"]
    detail = json.loads(viewer_client.get(f"/api/v1/hosts/{linked.pk}").content)
    assert detail["endpoint"] == "tcp://10.0.0.5:2376"
    assert detail["container_instance"] == f"{ARN}:container-instance/edge/1"
    assert detail["cluster"] == f"{ARN}:cluster/edge"
    assert detail["reachable"] is True and detail["containers_running"] == 3
    assert detail["tls"] is True
    lab = json.loads(viewer_client.get(f"/api/v1/hosts/{alone.pk}").content)
    assert lab["tls"] is False and lab["container_instance"] is None and lab["cluster"] is None
    assert viewer_client.get("/api/v1/hosts/999999").status_code == 404


def test_hosts_never_show_tls_material(hosts, viewer_client: Client) -> None:
    linked, _ = hosts
    for url in ("/api/v1/hosts", f"/api/v1/hosts/{linked.pk}"):
        text = viewer_client.get(url).content.decode()
        assert "encrypted" not in text and "tls_" not in text
        for secret in (
            linked.encrypted_tls_key,
            linked.encrypted_tls_cert,
            "PRIVATE KEY",
            "cert-pem-text",
            "secret-ca-dir",
        ):
            assert secret not in text, (url, secret)


def test_hosts_filter_by_cluster(hosts, viewer_client: Client) -> None:
    linked, _ = hosts
    for ref in ("edge", f"{ARN}:cluster/edge", str(linked.container_instance.cluster_id)):
        response = viewer_client.get("/api/v1/hosts", {"cluster": ref})
        assert [h["name"] for h in json.loads(response.content)["results"]] == ["plant-3"]
    response = viewer_client.get("/api/v1/hosts", {"cluster": "elsewhere"})
    assert json.loads(response.content)["results"] == []


def test_hosts_are_read_only(hosts, viewer_client: Client, admin_client_: Client) -> None:
    linked, _ = hosts
    for client in (viewer_client, admin_client_):
        assert client.post("/api/v1/hosts", {}).status_code in (403, 405)
        assert client.delete(f"/api/v1/hosts/{linked.pk}").status_code in (403, 405)
    assert DockerHost.objects.count() == 2
