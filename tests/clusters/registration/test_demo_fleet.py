"""Against the sandbox's demo fleet (activations and external instances that
existed before Fleetdeck): nothing is drained, nothing is flagged, and the
activations are listed as created outside Fleetdeck."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clusters import registration as svc
from clusters.models import Activation, Cluster, ContainerInstance, InstanceAdmission

from .conftest import make_fleet

pytestmark = pytest.mark.django_db


def test_installing_fleetdeck_on_a_running_fleet_changes_nothing(sandbox, viewer_client) -> None:
    sandbox.client.seed("demo")
    fleet = make_fleet(sandbox, name="scratch")
    ecs = fleet.boto("ecs")
    arn = ecs.describe_clusters(clusters=["onprem-edge"])["clusters"][0]["clusterArn"]
    edge = Cluster.objects.create(
        account=fleet.account, region="us-east-1", arn=arn, name="onprem-edge"
    )
    before = {
        i["containerInstanceArn"]: i["status"]
        for i in ecs.describe_container_instances(
            cluster=arn,
            containerInstances=ecs.list_container_instances(cluster=arn)["containerInstanceArns"],
        )["containerInstances"]
    }
    assert "DRAINING" in before.values() and "ACTIVE" in before.values()

    svc.activations_refresh(account=fleet.account, region="us-east-1")
    admissions = svc.waiting_room_scan(cluster=edge)

    assert Activation.objects.filter(created_outside_fleetdeck=True).count() >= 2
    assert not Activation.objects.filter(created_outside_fleetdeck=False).exists()
    assert len(admissions) == len(before)
    assert {a.state for a in admissions} == {InstanceAdmission.State.ADMITTED}
    assert not any(a.flagged_unknown_activation or a.held for a in admissions)
    after = {
        i["containerInstanceArn"]: i["status"]
        for i in ecs.describe_container_instances(cluster=arn, containerInstances=list(before))[
            "containerInstances"
        ]
    }
    assert after == before
    assert ContainerInstance.objects.filter(cluster=edge, is_external=True).count() == len(before)
    activations_page = viewer_client.get(reverse("clusters:activations")).content.decode()
    assert activations_page.count("created outside Fleetdeck") >= 2
    room = viewer_client.get(reverse("clusters:waiting-room")).content.decode()
    assert "No machine is waiting." in room
    assert "Registered before Fleetdeck watched this cluster." in room
