"""Alerts out, against a real HTTP receiver started by the test (http.server on
127.0.0.1): delivered once, retried on 500, resolution sent; channel pages."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from clusters.models import Cluster
from console.alerts.notifications import alerts_evaluate
from console.celery import app
from console.models import AlertState, NotificationChannel, NotificationDelivery
from deployments.models import Service
from tests.peers import celery_worker_process, wait_until

from . import fleet


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    received: list[dict] = field(default_factory=list)  # type: ignore[type-arg]

    def bodies(self, kind: str | None = None) -> list[dict]:  # type: ignore[type-arg]
        return [b for b in self.received if kind is None or b.get("kind") == kind]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state.received.append(body)
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def eager() -> Iterator[None]:
    """Run Celery tasks in-process (retries included) for the unit-level tests; the
    real-worker test below runs them in a worker process."""
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


@pytest.fixture
def broken(db) -> Cluster:  # type: ignore[no-untyped-def]
    c = fleet.cluster(fleet.account(), name="prod")
    fleet.service(c, "worker", desired=3, running=0)
    return c


def _evaluate(capture) -> list[int]:  # type: ignore[no-untyped-def]
    """The health beat, then the alerts beat: alerts read what the refresh stored."""
    fleet.health()
    with capture(execute=True):
        return alerts_evaluate().deliveries


@pytest.mark.django_db
def test_delivered_once_then_resolved_then_fires_again(
    receiver, broken, eager, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    channel = NotificationChannel.objects.create(
        name="ops", kind="webhook", target=receiver.url, min_severity="warning"
    )
    assert len(_evaluate(django_capture_on_commit_callbacks)) == 1
    assert _evaluate(django_capture_on_commit_callbacks) == []  # same fact: nothing new
    [fire] = receiver.bodies("fire")
    worker = Service.objects.get(name="worker")
    assert fire["fingerprint"] == f"health:service:{worker.arn}"
    assert fire["title"] == "Service worker is down" and fire["severity"] == "error"
    assert fire["source"] == "service" and fire["detail"] == "0 of 3 tasks running"
    assert fire["url"].endswith(f"/services/{worker.pk}/")
    delivery = NotificationDelivery.objects.get(channel=channel, kind="fire")
    assert (delivery.status, delivery.attempts) == ("sent", 1)

    Service.objects.filter(name="worker").update(running_count=3)
    _evaluate(django_capture_on_commit_callbacks)
    _evaluate(django_capture_on_commit_callbacks)
    [resolve] = receiver.bodies("resolve")
    assert resolve["fingerprint"] == fire["fingerprint"] and resolve["fire_seq"] == 1
    assert not AlertState.objects.get().firing

    Service.objects.filter(name="worker").update(running_count=0)
    _evaluate(django_capture_on_commit_callbacks)
    assert [b["fire_seq"] for b in receiver.bodies("fire")] == [1, 2]
    assert len(receiver.received) == 3


@pytest.mark.django_db
def test_retried_on_500_until_delivered(
    receiver, broken, eager, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    NotificationChannel.objects.create(name="ops", kind="webhook", target=receiver.url)
    receiver.statuses = [500, 503]
    _evaluate(django_capture_on_commit_callbacks)
    assert len(receiver.bodies("fire")) == 3
    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")


@pytest.mark.django_db
def test_4xx_fails_without_retry_and_rules_filter(
    receiver, broken, eager, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    NotificationChannel.objects.create(name="bad", kind="webhook", target=receiver.url)
    NotificationChannel.objects.create(
        name="only-registrations", kind="webhook", target=receiver.url, sources=["registration"]
    )
    NotificationChannel.objects.create(
        name="other-cluster", kind="webhook", target=receiver.url, clusters=["staging"]
    )
    receiver.statuses = [404]
    _evaluate(django_capture_on_commit_callbacks)
    delivery = NotificationDelivery.objects.get()
    assert delivery.channel.name == "bad"
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, "HTTP 404")
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_slack_and_email_channels(
    receiver, broken, eager, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    NotificationChannel.objects.create(name="slack", kind="slack", target=receiver.url)
    NotificationChannel.objects.create(
        name="mail", kind="email", target="oncall@example.com, lead@example.com"
    )
    _evaluate(django_capture_on_commit_callbacks)
    [slack] = receiver.received
    assert set(slack) == {"text"} and "*FIRING*" in slack["text"]
    [message] = mail.outbox
    assert message.subject == "[Fleetdeck] FIRING Service worker is down"
    assert message.to == ["oncall@example.com", "lead@example.com"]


@pytest.mark.django_db
def test_channel_pages_for_admins_only(
    receiver, admin_client_, operator_client, eager, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    assert operator_client.get("/alerts/channels/").status_code == 403
    assert admin_client_.get("/alerts/channels/new/").status_code == 200
    token = admin_client_.cookies["csrftoken"].value
    response = admin_client_.post(
        "/alerts/channels/new/",
        {
            "name": "ops",
            "kind": "webhook",
            "target": "not a url",
            "min_severity": "warning",
            "enabled": "on",
        },
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200 and "Enter a valid URL" in response.content.decode()
    response = admin_client_.post(
        "/alerts/channels/new/",
        {
            "name": "ops",
            "kind": "webhook",
            "target": receiver.url,
            "min_severity": "error",
            "sources": ["service", "instance"],
            "clusters": "prod, staging",
            "enabled": "on",
        },
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 302
    channel = NotificationChannel.objects.get()
    assert channel.sources == ["service", "instance"] and channel.clusters == ["prod", "staging"]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            f"/alerts/channels/{channel.pk}/test/", HTTP_X_CSRFTOKEN=token
        )
    assert response.status_code == 302
    [body] = receiver.received
    assert body["kind"] == "test"
    page = admin_client_.get(f"/alerts/channels/{channel.pk}/").content.decode()
    assert "Delivery attempts" in page and "sent" in page
    assert operator_client.post(f"/alerts/channels/{channel.pk}/test/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_real_worker_retries_a_500_and_delivers(receiver, redis_url) -> None:  # type: ignore[no-untyped-def]
    """The same path through a real `celery worker` process on Redis."""
    from clusters.core.roles import role_groups_ensure

    role_groups_ensure()
    c = fleet.cluster(fleet.account(), name="prod")
    fleet.service(c, "worker", desired=3, running=0)
    NotificationChannel.objects.create(name="ops", kind="webhook", target=receiver.url)
    receiver.statuses = [500]
    fleet.health()
    with celery_worker_process({"REDIS_URL": redis_url}):
        alerts_evaluate()  # enqueues on commit (autocommit here: at once)
        assert wait_until(
            lambda: NotificationDelivery.objects.filter(status="sent").exists(), timeout=30
        )
    delivery = NotificationDelivery.objects.get()
    assert delivery.attempts == 2
    assert len(receiver.bodies("fire")) == 2


@pytest.mark.django_db
def test_evaluate_task_prunes_old_resolved_states_and_deliveries(settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from console.alerts.tasks import evaluate_alerts

    settings.FLEETDECK_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=40)
    AlertState.objects.create(
        fingerprint="gone", firing=False, severity="error", source="service", title="t",
        resolved_at=old,
    )  # fmt: skip
    AlertState.objects.create(
        fingerprint="still-firing", firing=True, severity="error", source="service", title="t",
        fired_at=old,
    )  # fmt: skip
    channel = NotificationChannel.objects.create(name="c", kind="webhook", target="http://x")
    NotificationDelivery.objects.create(
        channel=channel, fingerprint="gone", kind="fire", created_at=old
    )
    evaluate_alerts()
    assert set(AlertState.objects.values_list("fingerprint", flat=True)) == {"still-firing"}
    assert not NotificationDelivery.objects.exists()


def _recorded_not_sent() -> int:
    fleet.health()
    [pk] = alerts_evaluate(enqueue=lambda pk: None).deliveries
    return pk


@pytest.mark.django_db
def test_a_redelivered_task_message_sends_once(receiver, broken) -> None:  # type: ignore[no-untyped-def]
    """acks_late: the broker can hand the same message to a worker twice."""
    from console.alerts.tasks import deliver

    NotificationChannel.objects.create(name="ops", kind="webhook", target=receiver.url)
    pk = _recorded_not_sent()
    deliver.apply(args=(pk,))
    deliver.apply(args=(pk,))
    assert len(receiver.bodies("fire")) == 1
    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.claim_token and delivery.claimed_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_attempts_send_once(receiver, broken) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from console.alerts.notifications import DeliveryClaimBusy, delivery_attempt

    NotificationChannel.objects.create(name="ops", kind="webhook", target=receiver.url)
    pk = _recorded_not_sent()
    start = threading.Barrier(3)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            delivery = delivery_attempt(delivery_id=pk)
            outcomes.append(delivery.status if delivery else "missing")
        except DeliveryClaimBusy:
            outcomes.append("busy")  # the other worker is sending it right now
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 3 and outcomes.count("sent") >= 1
    assert len(receiver.received) == 1
    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


@pytest.mark.django_db
def test_a_claim_of_a_dead_worker_is_taken_over_once_stale(receiver, broken) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from console.alerts.notifications import (
        DeliveryClaimBusy,
        claim_stale_after,
        delivery_attempt,
    )
    from console.alerts.tasks import deliver

    NotificationChannel.objects.create(name="ops", kind="webhook", target=receiver.url)
    pk = _recorded_not_sent()
    claimed_at = timezone.now()
    # Another worker claimed it and may be sending it now.
    NotificationDelivery.objects.filter(pk=pk).update(
        status="sending", claim_token="another-worker", claimed_at=claimed_at, attempts=1
    )
    with pytest.raises(DeliveryClaimBusy) as busy:
        delivery_attempt(delivery_id=pk)
    stale_in = claim_stale_after().total_seconds()
    assert stale_in - 5 < busy.value.retry_in <= stale_in
    deliver.apply(args=(pk,))  # the task retries (eager here: at once) and gives up
    assert receiver.received == []
    assert NotificationDelivery.objects.get().claim_token == "another-worker"

    # That worker was killed mid-send: once past the task time limit its claim is stale.
    NotificationDelivery.objects.filter(pk=pk).update(
        claimed_at=claimed_at - claim_stale_after() - timedelta(seconds=1)
    )
    deliver.apply(args=(pk,))
    deliver.apply(args=(pk,))
    assert len(receiver.bodies("fire")) == 1
    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert delivery.claim_token != "another-worker"
