"""A real Celery worker process runs a task, over Redis and over the no-server
filesystem broker that `make run` uses by default."""

from __future__ import annotations

import pytest
from celery import Celery

from tests.peers import celery_worker_process


def _client_app(broker: str, backend: str, transport_options: dict[str, str]) -> Celery:
    app = Celery("fleetdeck-test-client", broker=broker, backend=backend, set_as_current=False)
    app.conf.broker_transport_options = transport_options
    app.conf.task_serializer = "json"
    app.conf.result_serializer = "json"
    return app


@pytest.mark.django_db(transaction=True)
def test_real_worker_over_redis(redis_url, tmp_path) -> None:
    with celery_worker_process({"REDIS_URL": redis_url}, log_path=tmp_path / "worker.log"):
        app = _client_app(redis_url, redis_url, {})
        result = app.send_task("console.ops.tasks.echo", args=["over redis"])
        assert result.get(timeout=60) == "over redis"


@pytest.mark.django_db(transaction=True)
def test_real_worker_over_filesystem_broker(tmp_path) -> None:
    data_dir = tmp_path / "data"
    broker = data_dir / "broker"
    for folder in ("out", "processed", "results"):
        (broker / folder).mkdir(parents=True)
    env = {"REDIS_URL": "", "FLEETDECK_DATA_DIR": str(data_dir)}
    with celery_worker_process(env, log_path=tmp_path / "worker.log"):
        app = _client_app(
            "filesystem://",
            f"file://{broker / 'results'}",
            {
                "data_folder_in": str(broker / "out"),
                "data_folder_out": str(broker / "out"),
                "processed_folder": str(broker / "processed"),
            },
        )
        result = app.send_task("console.ops.tasks.echo", args=["no server needed"])
        assert result.get(timeout=60) == "no server needed"
