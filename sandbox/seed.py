"""Seed data: ``demo`` is a believable hybrid fleet in us-east-1 and eu-west-1.

Seeding talks to the moto backends in-process (no HTTP round trips) and then
runs the scheduler so the fleet starts out settled, with history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.ssm.models import ssm_backends

from sandbox import docker_agent, ecs_anywhere, ecs_api, scheduler, ssm_activations
from sandbox.cloudmap_seed import seed_service_networking
from sandbox.ecs_model import Deployment, SandboxService, cluster_tasks, deployment_id
from sandbox.state import ACCOUNT_ID, CLOCK, SETTINGS

ROLE = "ecsAnywhereRole"


def _td(
    backend: EC2ContainerServiceBackend,
    family: str,
    *,
    external: bool,
    cpu: int,
    memory: int,
    image: str,
    port: int | None = None,
    awslogs: bool = True,
    command: list[str] | None = None,
) -> Any:
    container: dict[str, Any] = {
        "name": family.split("-")[-1] if "-" in family else family,
        "image": image,
        "cpu": cpu,
        "memory": memory,
        "essential": True,
        # Named: Service Connect's portName refers to a port mapping by its name.
        "portMappings": (
            [{"containerPort": port, "hostPort": 0, "protocol": "tcp", "name": "http"}]
            if port
            else []
        ),
    }
    if awslogs:
        container["logConfiguration"] = {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{family}",
                "awslogs-region": backend.region_name,
                "awslogs-stream-prefix": "ecs",
            },
        }
    if command:
        container["command"] = command
    return backend.register_task_definition(
        family,
        [container],
        volumes=None,
        network_mode="bridge",
        tags=[{"key": "team", "value": "platform"}],
        requires_compatibilities=["EXTERNAL"] if external else ["EC2"],
        execution_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/ecsTaskExecutionRole",
    )


def _service(
    backend: EC2ContainerServiceBackend,
    cluster: str,
    name: str,
    td: Any,
    desired: int,
    launch_type: str,
    circuit_breaker: bool = False,
    rollback: bool = True,
) -> SandboxService:
    c = backend._get_cluster(cluster)
    svc = SandboxService(
        cluster_name=c.name,
        cluster_arn=c.arn,
        region_name=backend.region_name,
        account_id=backend.account_id,
        name=name,
        desired_count=desired,
        launch_type=launch_type,
        deployment_configuration={
            "deploymentCircuitBreaker": {
                "enable": circuit_breaker,
                "rollback": circuit_breaker and rollback,
            },
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
        deployments=[Deployment(deployment_id(), td, desired, launch_type)],
        tags=[{"key": "app", "value": name}],
    )
    backend.services[f"{c.name}:{name}"] = svc  # type: ignore[assignment]
    return svc


# How long ago each edge machine registered (days), so that the ECS Anywhere bill
# has intervals to add up that start in this month and in the ones before it.
# us-east-1's fifth is a spare, drained since it joined: it never runs a task and
# is billed all the same (the bill's idle instance).
EDGE_AGES_DAYS = {"us-east-1": (45.0, 20.0, 9.0, 2.5, 12.0), "eu-west-1": (33.0, 0.5)}


def _backdate(region: str, edge: list[dict[str, Any]], ages: tuple[float, ...]) -> None:
    """Set the machines' registration times in the past, oldest first (the order
    they registered in, which the scheduler's placement follows). ECS's
    ``registeredAt`` and SSM's ``RegistrationDate`` say the same moment."""
    ssm = ssm_activations.ext(ssm_backends[ACCOUNT_ID][region])
    for out, days in zip(edge, ages, strict=False):
        at = CLOCK.timestamp() - days * 86400
        for _backend, ci in ecs_anywhere.find_instances(out["containerInstanceArn"]):
            ci.registered_at = at
        managed = ssm.instances.get(out["instanceId"])
        if managed is not None:
            managed.registered = at


def _region(region: str, big: bool) -> dict[str, Any]:
    ecs = ecs_backends[ACCOUNT_ID][region]
    ssm = ssm_backends[ACCOUNT_ID][region]
    ecs.create_cluster("prod-ec2", tags=[{"key": "env", "value": "prod"}])
    ecs.create_cluster("onprem-edge", tags=[{"key": "env", "value": "edge"}])
    for i in range(3 if big else 2):
        ecs_api.register_instance(
            ecs, "prod-ec2", f"i-0{region[-1]}{i:015x}", cpu=4096, memory=7680
        )
    act = ssm_activations.create_activation(
        ssm,
        iam_role=ROLE,
        registration_limit=10,
        expiration=CLOCK.timestamp() + 30 * 24 * 3600 - 120,
        description=f"edge fleet {region}",
        default_instance_name="edge",
        tags=[{"Key": "site", "Value": "factory"}],
    )
    edge = []
    for i in range(5 if big else 2):
        out = ecs_anywhere.register_instance(
            region=region,
            activation_id=act.id,
            activation_code=act.code,
            cluster="onprem-edge",
            hostname=f"edge-{region[:2]}-{i + 1:02d}",
            ip=f"192.168.{10 + i}.{20 + i}",
            cpu=2048,
            memory=4096,
        )
        edge.append(out)
    _backdate(region, edge, EDGE_AGES_DAYS[region])
    if big:
        for _backend, ci in ecs_anywhere.find_instances(edge[4]["instanceId"]):
            ci.status = "DRAINING"
            ci.version += 1
    # A fresh activation waiting for its machine, expiring within a day.
    soon = ssm_activations.create_activation(
        ssm,
        iam_role=ROLE,
        registration_limit=2,
        expiration=CLOCK.timestamp() + 20 * 3600,
        description="new line controller (awaiting install)",
        default_instance_name="line-controller",
    )
    return {"ecs": ecs, "ssm": ssm, "edge": edge, "activation": act, "soon": soon}


METRICS_LOOP = (
    # Bounded like the agent's default `sleep 3600`: a container outliving the demo ends.
    'i=0; while [ $i -lt 720 ]; do i=$((i+1)); echo "scrape $i ok: 412 series"; '
    '[ $((i % 5)) -eq 0 ] && echo "slow collector: textfile took 1.2s" >&2; sleep 5; done'
)


def _link_docker_host(instance_id: str) -> None:
    """With ``--docker-host`` (``make run`` passes the local engine), the first edge
    machine runs its tasks as real containers there (sandbox.docker_agent)."""
    url = SETTINGS.docker_host
    if url and docker_agent.available(url):
        SETTINGS.docker_links[instance_id] = url


def seed(name: str) -> dict[str, Any]:
    if name == "none":
        return {"seeded": "none"}
    if name != "demo":
        raise ValueError(f"unknown seed {name!r}")
    # Write the history over the last ~40 minutes (2 minutes per step) rather than
    # in one instant, so timelines look lived-in; stopped tasks stay within the
    # hour AWS keeps them.
    saved = (CLOCK.mode, CLOCK.tick_seconds, CLOCK.offset)
    CLOCK.mode, CLOCK.tick_seconds, CLOCK.offset = "manual", 120.0, saved[2] - 40 * 60
    try:
        return _demo()
    finally:
        CLOCK.mode, CLOCK.tick_seconds, CLOCK.offset = saved


def _demo() -> dict[str, Any]:
    regions = {
        "us-east-1": _region("us-east-1", big=True),
        "eu-west-1": _region("eu-west-1", big=False),
    }

    east = regions["us-east-1"]["ecs"]
    web = _td(east, "web", external=False, cpu=256, memory=512, image="nginx:1.27", port=80)
    api = _td(
        east, "api", external=False, cpu=512, memory=1024, image="ghcr.io/acme/api:2.4.1", port=8080
    )
    worker = _td(
        east, "worker", external=False, cpu=256, memory=512, image="ghcr.io/acme/worker:2.4.1"
    )
    cron = _td(
        east, "reports", external=False, cpu=128, memory=256, image="ghcr.io/acme/reports:1.0"
    )
    cam = _td(
        east,
        "edge-camera",
        external=True,
        cpu=256,
        memory=256,
        image="ghcr.io/acme/camera-agent:5.1",
    )
    plc = _td(
        east,
        "edge-plc-bridge",
        external=True,
        cpu=128,
        memory=256,
        image="ghcr.io/acme/plc-bridge:0.9",
    )
    # edge-metrics logs to the machine's Docker (json-file, no awslogs): on a linked
    # Docker host its lines are the engine's; elsewhere the console says why it has none.
    metrics = _td(
        east,
        "edge-metrics",
        external=True,
        cpu=128,
        memory=128,
        image="prom/node-exporter:1.8",
        awslogs=False,
        command=["sh", "-c", METRICS_LOOP],
    )
    _service(east, "prod-ec2", "web", web, 3, "EC2")
    _service(east, "prod-ec2", "api", api, 2, "EC2", circuit_breaker=True, rollback=False)
    _service(east, "prod-ec2", "worker", worker, 2, "EC2")
    _service(east, "prod-ec2", "reports", cron, 0, "EC2")
    _service(east, "onprem-edge", "camera-agent", cam, 3, "EXTERNAL", circuit_breaker=True)
    _service(east, "onprem-edge", "plc-bridge", plc, 2, "EXTERNAL")
    _service(east, "onprem-edge", "metrics", metrics, 2, "EXTERNAL")

    west = regions["eu-west-1"]["ecs"]
    wweb = _td(west, "web", external=False, cpu=256, memory=512, image="nginx:1.27", port=80)
    wcam = _td(
        west,
        "edge-camera",
        external=True,
        cpu=256,
        memory=256,
        image="ghcr.io/acme/camera-agent:5.1",
    )
    _service(west, "prod-ec2", "web", wweb, 2, "EC2")
    _service(west, "onprem-edge", "camera-agent", wcam, 2, "EXTERNAL")

    _link_docker_host(regions["us-east-1"]["edge"][0]["instanceId"])
    # Settle everything, then write some history.
    scheduler.tick(4)
    # A worker crashed twice with OOM (replaced by the scheduler).
    for t in [t for t in cluster_tasks(east, "prod-ec2") if t.group == "service:worker" and t.live][
        :2
    ]:
        scheduler.kill(t, 137, "OutOfMemoryError: Container killed due to memory usage")
    scheduler.tick(2)
    # api: a bad release whose deployment FAILED (breaker on, no rollback): the old
    # deployment keeps serving while the failed one stays PRIMARY.
    api2 = _td(
        east,
        "api",
        external=False,
        cpu=512,
        memory=1024,
        image="ghcr.io/acme/api:2.5.0-rc1",
        port=8080,
    )
    scheduler.CRASHES[api2.arn] = (1, "Error: missing env DATABASE_URL")
    api_svc = ecs_api.find_service(east, "prod-ec2", "api")
    assert api_svc is not None
    scheduler.new_deployment(api_svc, api2)
    scheduler.tick(6)
    # Edge: one machine drained for maintenance, one with its agent unplugged.
    edge = regions["us-east-1"]["edge"]
    for _backend, ci in ecs_anywhere.find_instances(edge[2]["instanceId"]):
        ci.status = "DRAINING"
        ci.version += 1
    ecs_anywhere.set_agent_connected(edge[3]["instanceId"], False)
    scheduler.tick(3)
    # plc-bridge: a new revision that asks for more memory than any edge box has,
    # so its deployment stays IN_PROGRESS with a placement-failure event.
    plc2 = _td(
        east,
        "edge-plc-bridge",
        external=True,
        cpu=128,
        memory=6144,
        image="ghcr.io/acme/plc-bridge:1.0",
    )
    plc_svc = ecs_api.find_service(east, "onprem-edge", "plc-bridge")
    assert plc_svc is not None
    scheduler.new_deployment(plc_svc, plc2)
    # web: mid-deployment (new image rolling out) when the demo opens.
    web2 = _td(east, "web", external=False, cpu=256, memory=512, image="nginx:1.27.3", port=80)
    web_svc = ecs_api.find_service(east, "prod-ec2", "web")
    assert web_svc is not None
    scheduler.new_deployment(web_svc, web2)
    scheduler.tick(1)
    namespaces = seed_service_networking(east)
    return {
        "seeded": "demo",
        "namespaces": namespaces,
        "regions": sorted(regions),
        "activation": {"id": regions["us-east-1"]["soon"].id},
        "at": datetime.now(UTC).isoformat(),
    }
