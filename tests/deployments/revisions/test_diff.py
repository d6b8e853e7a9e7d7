"""The diff engine (deployments/revisions/diff.py, fields.py): one test per field
kind, over containers parsed the way the mirror parses DescribeTaskDefinition."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.aws.ecs_task_definitions import _container_definition
from deployments.revisions import NOT_RECORDED, Revision, revision_diff, revision_lines
from deployments.revisions.fields import image_parts


def web(**kw: Any) -> dict[str, Any]:
    raw = {"name": "web", "image": "example/web:1", "cpu": 128, "memory": 256, **kw}
    return _container_definition(raw)


def rev(*containers: dict[str, Any], **task: Any) -> Revision:
    return Revision(label="x", containers=list(containers or [web()]), **task)


def diff(before: Revision, after: Revision) -> list[tuple[str, Any, Any]]:
    return [(c.field, c.before, c.after) for c in revision_diff(before, after)]


def test_the_same_revision_has_no_change() -> None:
    full = web(
        command=["serve"],
        environment=[{"name": "A", "value": "1"}],
        secrets=[{"name": "P", "valueFrom": "arn:aws:ssm:p"}],
        healthCheck={"command": ["CMD", "true"], "interval": 30},
        logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
    )
    assert diff(rev(full), rev(dict(full))) == []


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("nginx", ("nginx", None, None)),
        ("nginx:1.27", ("nginx", "1.27", None)),
        ("registry:5000/team/app", ("registry:5000/team/app", None, None)),
        ("registry:5000/team/app:v2", ("registry:5000/team/app", "v2", None)),
        ("app@sha256:abc", ("app", None, "sha256:abc")),
        (
            "1.dkr.ecr.eu-west-1.amazonaws.com/app:v1@sha256:ff",
            ("1.dkr.ecr.eu-west-1.amazonaws.com/app", "v1", "sha256:ff"),
        ),
    ],
)
def test_image_parts(image: str, parts: tuple[str, str | None, str | None]) -> None:
    assert image_parts(image) == parts


def test_image_tag_and_digest_are_separate_fields() -> None:
    before = rev(web(image="example/web:1@sha256:aaa"))
    after = rev(web(image="example/web:2@sha256:bbb"))
    assert diff(before, after) == [
        ("container web: image tag", "1", "2"),
        ("container web: image digest", "sha256:aaa", "sha256:bbb"),
    ]
    assert diff(rev(web(image="example/web:1")), rev(web(image="other/web:1"))) == [
        ("container web: image", "example/web", "other/web")
    ]


def test_command_and_entry_point() -> None:
    before = rev(web(command=["serve", "--port", "80"]))
    after = rev(web(command=["serve", "--port", "8080"], entryPoint=["/init"]))
    assert diff(before, after) == [
        ("container web: command", '["serve", "--port", "80"]', '["serve", "--port", "8080"]'),
        ("container web: entry point", None, '["/init"]'),
    ]


def test_environment_by_name_and_value() -> None:
    before = rev(web(environment=[{"name": "A", "value": "1"}, {"name": "GONE", "value": "x"}]))
    after = rev(web(environment=[{"name": "A", "value": "2"}, {"name": "NEW", "value": ""}]))
    assert diff(before, after) == [
        ("container web: environment A", "1", "2"),
        ("container web: environment GONE", "x", None),
        ("container web: environment NEW", None, ""),
    ]


def test_secrets_by_name_and_value_from_never_a_value() -> None:
    raw = {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:::parameter/db", "value": "hunter2"}
    before = rev(web(secrets=[raw]))
    after = rev(web(secrets=[{**raw, "valueFrom": "arn:aws:secretsmanager:::secret:db"}]))
    assert "value" not in before.containers[0]["secrets"][0]  # the mirror keeps no value
    changes = diff(before, after)
    assert changes == [
        (
            "container web: secret DB_PASSWORD (valueFrom)",
            "arn:aws:ssm:::parameter/db",
            "arn:aws:secretsmanager:::secret:db",
        )
    ]
    assert "hunter2" not in repr(revision_lines(before, after))


def test_cpu_and_memory_hard_and_soft() -> None:
    before = rev(web())
    after = rev(web(cpu=256, memory=512, memoryReservation=128))
    assert diff(before, after) == [
        ("container web: cpu", "128", "256"),
        ("container web: memory (hard)", "256", "512"),
        ("container web: memory (soft)", None, "128"),
    ]


def test_ports() -> None:
    before = rev(web(portMappings=[{"containerPort": 80, "hostPort": 0}]))
    after = rev(
        web(
            portMappings=[
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "protocol": "udp"},
            ]
        )
    )
    assert diff(before, after) == [
        ("container web: port 53/udp", None, "host dynamic"),
        ("container web: port 80/tcp", "host dynamic", "host 8080"),
    ]


def test_health_check_log_configuration_and_essential() -> None:
    hc = {"command": ["CMD-SHELL", "curl -f localhost"], "interval": 30, "retries": 3}
    before = rev(
        web(
            healthCheck=hc,
            logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "a"}},
        )
    )
    after = rev(
        web(
            healthCheck={**hc, "retries": 5},
            logConfiguration={"logDriver": "awslogs", "options": {"awslogs-group": "b"}},
            essential=False,
        )
    )
    assert diff(before, after) == [
        ("container web: essential", "yes", "no"),
        (
            "container web: health check",
            "CMD-SHELL curl -f localhost · interval 30 s · retries 3",
            "CMD-SHELL curl -f localhost · interval 30 s · retries 5",
        ),
        ("container web: log option awslogs-group", "a", "b"),
    ]


def test_stop_timeout_working_directory_user_ulimits() -> None:
    before = rev(web(ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}]))
    after = rev(
        web(
            stopTimeout=30,
            workingDirectory="/srv",
            user="1000",
            ulimits=[{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
        )
    )
    assert diff(before, after) == [
        ("container web: stop timeout", None, "30 s"),
        ("container web: working directory", None, "/srv"),
        ("container web: user", None, "1000"),
        ("container web: ulimit nofile", "soft 1024, hard 4096", "soft 65536, hard 65536"),
    ]


def test_task_level_fields() -> None:
    before = rev(cpu="256", memory="512", network_mode="bridge", execution_role_arn="arn:exec:1")
    after = rev(
        cpu="512",
        memory="1024",
        network_mode="awsvpc",
        task_role_arn="arn:task",
        execution_role_arn="arn:exec:2",
    )
    assert diff(before, after) == [
        ("task: cpu", "256", "512"),
        ("task: memory", "512", "1024"),
        ("task: network mode", "bridge", "awsvpc"),
        ("task: task role", None, "arn:task"),
        ("task: execution role", "arn:exec:1", "arn:exec:2"),
    ]


def test_added_and_removed_containers_are_one_change_each() -> None:
    sidecar = _container_definition({"name": "sidecar", "image": "envoy:1.30"})
    worker = _container_definition({"name": "worker", "image": "example/worker:3"})
    changes = diff(rev(web(), worker), rev(web(), sidecar))
    assert changes == [
        ("container worker", "example/worker:3", None),
        ("container sidecar", None, "envoy:1.30"),
    ]
    # The side-by-side still shows every field of each, on its side only.
    lines = revision_lines(rev(web(), worker), rev(web(), sidecar))
    assert ("container sidecar: image tag", None, "1.30") in [
        (x.field, x.before, x.after) for x in lines
    ]


def test_service_settings_only_when_both_sides_have_them() -> None:
    conf = {
        "minimumHealthyPercent": 100,
        "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": True, "rollback": False},
    }
    before = rev(desired_count=2, deployment_configuration=conf)
    after = rev(
        desired_count=4,
        deployment_configuration={
            **conf,
            "minimumHealthyPercent": 50,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    assert diff(before, after) == [
        ("service: desired count", "2", "4"),
        ("service: minimum healthy percent", "100", "50"),
        ("service: circuit breaker", "on", "on, with rollback"),
    ]
    assert diff(rev(), after) == []


def test_details_mirrored_before_they_were_kept_are_not_recorded() -> None:
    """A task definition mirrored by an older Fleetdeck has no command, environment,
    secrets...: the diff says "not recorded" instead of claiming no change."""
    legacy = {
        k: v
        for k, v in web().items()
        if k in ("name", "image", "cpu", "memory", "memoryReservation", "essential", "portMappings")
    }
    after = rev(web(image="example/web:2", environment=[{"name": "A", "value": "1"}]))
    changes = {c.field: (c.before, c.after) for c in revision_diff(rev(legacy), after)}
    assert changes["container web: image tag"] == ("1", "2")
    assert changes["container web: environment"] == (NOT_RECORDED, "A=1")
    assert changes["container web: command"] == (NOT_RECORDED, None)
    assert changes["container web: secrets"] == (NOT_RECORDED, None)
    assert "container web: cpu" not in changes  # kept by the old mirror too: same
    # Both sides old: still "not recorded", never "no change".
    both = {c.field: (c.before, c.after) for c in revision_diff(rev(legacy), rev(dict(legacy)))}
    assert both["container web: environment"] == (NOT_RECORDED, NOT_RECORDED)
    states = {x.field: x.state for x in revision_lines(rev(legacy), after)}
    assert states["container web: environment"] == "unknown"
    assert states["container web: image"] == "same"
