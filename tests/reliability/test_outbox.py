"""The job outbox (clusters.core.jobs): a job is written with the caller's change,
sent after commit, claimed once, kept when the broker refuses it, resent by the
sweep (also when a worker starts), and pruned a day after it was sent.

A refused job is what a broker outage leaves behind (attempts 1, not sent: the
Redis outage test in test_redis_outage.py produces it with Redis really stopped);
here it is written directly so the sweep can be checked on its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from celery import shared_task
from celery.exceptions import Ignore, Reject
from django.core.cache import cache
from django.utils import timezone

from clusters.core.jobs import (
    job_enqueue,
    job_refused,
    job_send,
    jobs_pending_send,
    jobs_prune,
    jobs_waiting,
    task_retry,
)
from clusters.models import QueuedJob
from console.celery import app
from console.ops.health import HEARTBEAT_KEY
from tests.peers import celery_worker_process, wait_until

RAN: list[object] = []


@shared_task(name="tests.reliability.test_outbox.record")
def record(value: object) -> None:
    """A task run in-process (eager) so a test can count how often it ran."""
    RAN.append(value)


@pytest.fixture
def eager() -> Iterator[list[object]]:
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    RAN.clear()
    yield RAN
    app.conf.task_always_eager = old


def _refused(task_name: str, *args: object, age: timedelta = timedelta(minutes=1)) -> QueuedJob:
    """The row a broker outage leaves: tried once, released, still unsent."""
    return QueuedJob.objects.create(
        task_name=task_name,
        args=list(args),
        attempts=1,
        last_error="OperationalError",
        created_at=timezone.now() - age,
    )


@pytest.mark.django_db
def test_a_job_is_written_with_the_change_and_sent_after_commit(
    eager, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = job_enqueue("tests.reliability.test_outbox.record", 7)
        assert eager == []  # nothing leaves before the commit
    assert len(callbacks) == 1 and eager == [7]
    job.refresh_from_db()
    assert job.sent_at is not None and job.attempts == 1
    assert job_send(job.pk) == "taken"  # the claim: never sent twice
    assert eager == [7]


@pytest.mark.django_db
def test_the_sweep_sends_each_refused_job_once_and_leaves_young_ones(eager) -> None:
    refused = [_refused("tests.reliability.test_outbox.record", n) for n in range(3)]
    young = _refused("tests.reliability.test_outbox.record", 99, age=timedelta(seconds=1))
    assert job_refused("tests.reliability.test_outbox.record", 1)
    # Two sweeps that listed the same rows: the second finds every claim taken.
    assert jobs_pending_send() == 3
    assert [job_send(j.pk) for j in refused] == ["taken"] * 3
    assert jobs_pending_send() == 0
    assert eager == [0, 1, 2]
    assert not job_refused("tests.reliability.test_outbox.record", 1)
    young.refresh_from_db()
    assert young.sent_at is None  # its own commit hook may still be sending it
    assert all(j.attempts == 2 for j in QueuedJob.objects.filter(pk__in=[r.pk for r in refused]))


@pytest.mark.django_db
def test_sent_jobs_are_pruned_after_a_day_and_pending_ones_never() -> None:
    now = timezone.now()
    old = _refused("x.tasks.old", age=timedelta(days=3))
    QueuedJob.objects.filter(pk=old.pk).update(sent_at=now - timedelta(days=2))
    recent = _refused("x.tasks.recent", age=timedelta(hours=2))
    QueuedJob.objects.filter(pk=recent.pk).update(sent_at=now - timedelta(hours=1))
    pending = _refused("x.tasks.pending", age=timedelta(days=5))
    assert jobs_prune() == 1
    assert set(QueuedJob.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


@pytest.mark.django_db
def test_pages_say_when_actions_wait_for_background_work(operator_client) -> None:
    # The worker has stopped reporting in (the banner is drawn only while work is paused).
    cache.set(HEARTBEAT_KEY, (timezone.now() - timedelta(minutes=10)).isoformat())
    assert "will run when background work resumes" not in operator_client.get("/").content.decode()
    _refused("deployments.tasks.sync_cluster", 1, 2, age=timedelta(seconds=5))
    assert jobs_waiting() == 0  # a moment's wait is not worth a banner
    _refused("deployments.tasks.sync_cluster", 3, 4)
    page = operator_client.get("/").content.decode()
    assert "1 action is queued; it will run when background work resumes" in page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_sends_what_waited(tmp_path) -> None:
    """After an outage the first worker up runs the sweep at once (worker_ready),
    without waiting for beat."""
    job = _refused("console.ops.tasks.echo", "after the outage")
    log = tmp_path / "worker.log"
    with celery_worker_process({}, log_path=log):
        try:
            wait_until(
                lambda: QueuedJob.objects.filter(pk=job.pk, sent_at__isnull=False).exists(),
                timeout=60,
                interval=0.5,
            )
            wait_until(lambda: "console.ops.tasks.echo" in log.read_text(), timeout=30)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    assert QueuedJob.objects.get(pk=job.pk).attempts == 2


def test_the_sweep_is_registered_and_scheduled_every_15_seconds() -> None:
    app.loader.import_default_modules()
    app.finalize()
    assert "clusters.core.tasks.jobs_resend" in app.tasks
    entry = app.conf.beat_schedule["jobs-resend"]
    assert entry["task"] == "clusters.core.tasks.jobs_resend"
    assert entry["schedule"] == timedelta(seconds=15)


@pytest.mark.django_db
def test_a_claim_whose_sender_died_goes_stale_and_the_sweep_sends_the_job_once(eager) -> None:
    """A sender killed between claiming and recording leaves a claimed, unsent row: a
    fresh claim is left alone (its sender may still be publishing), a stale one is
    taken over and sent exactly once."""
    now = timezone.now()
    job = _refused("tests.reliability.test_outbox.record", 5)
    QueuedJob.objects.filter(pk=job.pk).update(claimed_at=now - timedelta(seconds=5))
    assert not job_refused("tests.reliability.test_outbox.record", 5)  # in flight, not refused
    assert jobs_pending_send() == 0 and eager == []
    QueuedJob.objects.filter(pk=job.pk).update(claimed_at=now - timedelta(minutes=5))
    assert jobs_pending_send() == 1 and eager == [5]
    assert jobs_pending_send() == 0 and eager == [5]
    job.refresh_from_db()
    assert job.sent_at is not None and job.attempts == 2


@pytest.mark.django_db
def test_a_job_that_cannot_be_sent_for_a_reason_other_than_an_outage_holds_up_nothing(
    eager,
) -> None:
    """An unknown task (a bug, not an outage) is kept, never lost, and the jobs behind
    it still go."""
    broken = _refused("tests.reliability.test_outbox.no_such_task", 1)
    _refused("tests.reliability.test_outbox.record", 2)
    assert jobs_pending_send() == 1 and eager == [2]
    broken.refresh_from_db()
    assert broken.sent_at is None and broken.claimed_at is None
    assert broken.last_error.startswith("error") and broken.attempts == 2


@pytest.mark.django_db
def test_a_stalled_sender_cannot_release_the_claim_of_the_sweep_that_took_over(eager) -> None:
    """Sender A claimed, stalled past CLAIM_STALE; the sweep took the job over and sent
    it. A's late release (its claim value) must not reopen the row for a third send."""
    job = _refused("tests.reliability.test_outbox.record", 3)
    stale = timezone.now() - timedelta(minutes=5)
    QueuedJob.objects.filter(pk=job.pk).update(claimed_at=stale)
    assert jobs_pending_send() == 1 and eager == [3]
    # A's refusal arrives late, conditional on the claim it wrote: it matches nothing.
    assert QueuedJob.objects.filter(pk=job.pk, claimed_at=stale).update(claimed_at=None) == 0
    assert jobs_pending_send() == 0 and eager == [3]


class _RefusedRetryTask:
    """A stub for the one thing no peer produces on demand inside a running task:
    Celery's answer when the broker refuses a retry (``Reject(requeue=False)``, which
    drops the message). The Redis outage tests stop the real broker around whole
    actions; this checks what ``task_retry`` does with that answer."""

    name = "tests.reliability.test_outbox.record"

    class request:
        args = (41,)

    def retry(self, **_: object) -> None:
        raise Reject("broker refused", requeue=False)


@pytest.mark.django_db
def test_a_retry_the_broker_refuses_is_kept_in_the_outbox(eager) -> None:
    with pytest.raises(Ignore):
        task_retry(_RefusedRetryTask(), countdown=30)  # type: ignore[arg-type]
    job = QueuedJob.objects.get()
    assert (job.task_name, job.args, job.countdown) == (_RefusedRetryTask.name, [41], 30)
    with pytest.raises(Ignore):
        task_retry(_RefusedRetryTask(), countdown=5, args=(7, 8))  # type: ignore[arg-type]
    assert QueuedJob.objects.filter(args=[7, 8], countdown=5).exists()
