"""Docker host sync against the machine's real engine (and the same engine over
TCP through a loopback proxy, so the multi-host path is real)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from clusters.docker_hosts import docker_host_create, docker_host_sync, docker_hosts_sync_all
from clusters.docker_hosts import engine as dockerhosts
from clusters.models import Container, DockerHost, Event
from tests.clusters.docker_helpers import DOCKER_URL, ecs_labels
from tests.peers import wait_until

pytestmark = pytest.mark.django_db

HEALTHCHECK_FAILS = {
    "test": ["CMD", "false"],
    "interval": 300_000_000,
    "timeout": 1_000_000_000,
    "retries": 1,
}


def _row(host, container) -> Container:
    return Container.objects.get(host=host, container_id=container.id)


def test_endpoint_validation_gives_clear_messages():
    assert dockerhosts.endpoint_validate("/var/run/docker.sock") == DOCKER_URL
    assert dockerhosts.endpoint_validate("tcp://10.0.0.5:2376") == "tcp://10.0.0.5:2376"
    for bad, words in [
        ("", "required"),
        ("http://example.com", "Use unix://"),
        ("tcp://10.0.0.5", "needs a port"),
        ("tcp://:2376", "host name"),
        ("tcp://host:abc", "not a number"),
    ]:
        with pytest.raises(dockerhosts.EndpointInvalid, match=words):
            dockerhosts.endpoint_validate(bad)


def test_add_host_runs_a_connection_test(engine, tcp_proxy):
    with pytest.raises(ValidationError) as err:
        docker_host_create(name="nowhere", endpoint="tcp://127.0.0.1:9")
    assert "Connection test failed" in err.value.message_dict["endpoint"][0]
    with pytest.raises(ValidationError) as err:
        docker_host_create(name="bad", endpoint="ftp://x")
    assert "Use unix://" in err.value.message_dict["endpoint"][0]
    assert not DockerHost.objects.exists()

    host = docker_host_create(name="over-tcp", endpoint=tcp_proxy.url)
    assert host.reachable and host.engine_version and host.cpus and host.memory_bytes
    with pytest.raises(ValidationError, match="already exists"):
        docker_host_create(name="over-tcp", endpoint=DOCKER_URL)


def test_sync_mirrors_containers_with_one_listing_call(engine):
    host = docker_host_create(name="local", endpoint=DOCKER_URL)
    plain = engine.run("plain")
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/edge/0123456789abcdef"
    ecs = engine.run("ecs", labels=ecs_labels(task_arn), ports={"8080/tcp": None})
    created = engine.create("created")
    dying = engine.run("dying", "exit 3")
    dying.wait(timeout=120)
    oom = engine.run("oom", "head -c 200m /dev/zero | tail", mem_limit="16m", memswap_limit="16m")
    oom.wait(timeout=150)
    sick = engine.run("sick", healthcheck=HEALTHCHECK_FAILS)
    wait_until(
        lambda: (
            sick.client.api.inspect_container(sick.id)["State"]["Health"]["Status"] == "unhealthy"
        ),
        timeout=20,
    )

    first = docker_host_sync(host_id=host.pk)
    assert first is not None and first.ok
    assert first.calls == 1 + first.inspected  # one listing; inspects only for new non-created
    assert first.call_log[0] == "GET /v1.41/containers/json"

    row = _row(host, plain)
    assert row.state == "running" and row.ecs_task_arn == "" and row.started_at is not None
    row = _row(host, ecs)
    assert row.ecs_task_arn == task_arn and row.ecs_cluster == "edge"
    assert row.ecs_container_name == "web" and (row.ecs_family, row.ecs_revision) == ("web", "1")
    assert row.ports and row.ports[0]["PrivatePort"] == 8080
    assert _row(host, created).state == "created"
    row = _row(host, dying)
    assert (row.state, row.exit_code) == ("exited", 3)
    row = _row(host, oom)
    assert row.state == "exited" and row.exit_code == 137 and row.oom_killed
    row = _row(host, sick)
    assert row.health == "unhealthy" and row.health_log
    assert row.image == "fleetdeck-busybox:latest" and row.image_id.startswith("sha256:")

    # Nothing of ours changed: one listing, none of our rows rewritten or inspected.
    # (The engine is shared: other sessions' containers may change meanwhile, and
    # each of those costs one inspect.)
    ours = {c.id for c in engine.ours()}
    before = dict(
        Container.objects.filter(container_id__in=ours).values_list("container_id", "changed_at")
    )
    second = docker_host_sync(host_id=host.pk)
    assert second is not None
    assert [c for c in second.call_log if "/containers/json" in c] == ["GET /v1.41/containers/json"]
    assert not [c for c in second.call_log if any(cid in c for cid in ours)]
    after = dict(
        Container.objects.filter(container_id__in=ours).values_list("container_id", "changed_at")
    )
    assert after == before

    # A kill and a removal show up on the next sync; removed rows are kept as gone.
    plain.kill()
    plain.wait(timeout=120)
    created.remove()
    third = docker_host_sync(host_id=host.pk)
    # Of our containers exactly the removed one is gone (the engine is shared: other
    # sessions' containers may vanish meanwhile and count in third.gone too).
    assert third is not None and third.gone >= 1
    gone = Container.objects.filter(container_id__in=ours, gone_at__isnull=False)
    assert set(gone.values_list("container_id", flat=True)) == {created.id}
    row = _row(host, plain)
    assert row.state == "exited" and row.exit_code == 137 and not row.oom_killed
    assert _row(host, created).is_gone
    host.refresh_from_db()
    assert host.containers_total >= 5 and host.last_sync_ms is not None


def test_unreachable_host_keeps_data_and_never_stops_other_hosts(engine, tcp_proxy):
    local = docker_host_create(name="local", endpoint=DOCKER_URL)
    remote = docker_host_create(name="remote", endpoint=tcp_proxy.url)
    c = engine.run("both")
    results = {r.host_id: r for r in docker_hosts_sync_all()}
    assert results[local.pk].ok and results[remote.pk].ok
    assert Container.objects.filter(container_id=c.id).count() == 2  # one row per host

    tcp_proxy.pause()
    results = {r.host_id: r for r in docker_hosts_sync_all()}
    assert results[local.pk].ok and not results[remote.pk].ok
    remote.refresh_from_db()
    assert not remote.reachable and remote.unreachable_since and remote.last_error
    assert _row(remote, c).gone_at is None  # data kept
    assert Event.objects.filter(docker_host="remote", message__contains="unreachable").count() == 1
    docker_hosts_sync_all()  # still down: no second event, since-when unchanged
    assert Event.objects.filter(docker_host="remote", message__contains="unreachable").count() == 1

    tcp_proxy.resume()
    results = {r.host_id: r for r in docker_hosts_sync_all()}
    assert results[remote.pk].ok
    remote.refresh_from_db()
    assert remote.reachable and remote.unreachable_since is None
    assert Event.objects.filter(docker_host="remote", message__contains="reachable again").exists()


def test_management_commands(engine, capsys):
    call_command("add_docker_host", "local", DOCKER_URL)
    engine.run("cmd")
    call_command("sync_docker", "--host", "local")
    out = capsys.readouterr().out
    assert "added Docker host local" in out and "local: ok, " in out
    call_command("docker_setup")  # idempotent: the socket is already registered
    assert DockerHost.objects.count() == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Connection test failed"):
        call_command("add_docker_host", "dead", "tcp://127.0.0.1:9")


def test_tcp_with_mutual_tls(engine, tls_proxy):
    """tcp:// + TLS client certificate, against the engine behind a TLS proxy."""
    proxy, tls = tls_proxy
    with pytest.raises(ValidationError) as err:  # no client certificate
        docker_host_create(name="tls", endpoint=proxy.url, tls_ca_path=str(tls["ca"]))
    assert "Connection test failed" in err.value.message_dict["endpoint"][0]
    host = docker_host_create(
        name="tls",
        endpoint=proxy.url,
        tls_ca_path=str(tls["ca"]),
        tls_cert_path=str(tls["client_cert"]),
        tls_key_path=str(tls["client_key"]),
    )
    c = engine.run("tls")
    result = docker_host_sync(host_id=host.pk)
    assert result is not None and result.ok and result.calls == 1 + result.inspected
    assert Container.objects.filter(host=host, container_id=c.id, state="running").exists()


def test_a_malformed_stored_endpoint_never_crashes_other_hosts(engine):
    """A row edited behind the form's back (admin, SQL) fails alone, with its reason."""
    local = docker_host_create(name="local", endpoint=DOCKER_URL)
    broken = DockerHost.objects.create(name="broken", endpoint="ftp://nowhere")
    results = {r.host_id: r for r in docker_hosts_sync_all()}
    assert results[local.pk].ok
    assert not results[broken.pk].ok and "Use unix://" in results[broken.pk].error
    broken.refresh_from_db()
    assert not broken.reachable and broken.unreachable_since is not None
