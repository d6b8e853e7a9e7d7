"""The activation code is encrypted at rest and never logged.

The flow runs to the end (create, reveal over HTTP, an instance registers, the
waiting room admits it), then every table is dumped, the SQLite files are read
byte by byte, and everything logged or printed during the run is searched.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from clusters import registration as svc
from clusters.models import Activation
from clusters.registration.tasks import activations_refresh_all, waiting_room_scan_all

from .conftest import activated, make_fleet


@pytest.mark.django_db(transaction=True)
def test_code_is_not_stored_or_logged_in_plain_text(
    sandbox, operator, admin_user, caplog, capfd
) -> None:
    caplog.set_level(logging.DEBUG)
    fleet = make_fleet(sandbox)
    activation = activated(operator, admin_user, fleet.cluster)
    client = Client()
    client.force_login(operator)
    response = client.post(reverse("clusters:activation-reveal", args=[activation.pk]))
    assert response.status_code == 200
    code = svc.activation_reveal(actor=admin_user, activation_pk=activation.pk).code
    assert len(code) == 20 and code in response.content.decode()
    sandbox.client.register_instance(
        activation_id=activation.activation_id, activation_code=code, cluster="edge"
    )
    activations_refresh_all()
    waiting_room_scan_all()

    # Every table, as Django sees it.
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert activation.activation_id in dump.getvalue()  # the dump is real
    assert code not in dump.getvalue()
    # The database files themselves (SQLite: main file + write-ahead log).
    db_name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and Path(db_name).exists():
        for path in (Path(db_name), Path(db_name + "-wal")):
            if path.exists():
                assert code.encode() not in path.read_bytes(), path
    else:
        with connection.cursor() as cursor:
            tables = connection.introspection.table_names(cursor)
            for table in tables:
                cursor.execute(f'SELECT * FROM "{table}"')  # table names come from introspection
                assert code not in repr(cursor.fetchall()), table

    # Logs and anything printed.
    assert caplog.records, "nothing was logged: the check would prove nothing"
    assert activation.activation_id in caplog.text
    assert code not in caplog.text
    for record in caplog.records:
        assert code not in record.getMessage() and code not in str(record.args)
    out, err = capfd.readouterr()
    assert code not in out and code not in err


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_code_is_not_in_a_debug_logging_worker_log(
    sandbox, operator, admin_user, redis_url, tmp_path
) -> None:
    """The activation is created the production way, by a real Celery worker, here
    logging at DEBUG (the most an operator would turn on): the worker's whole log
    holds the activation id but never the code, which only the reveal returns."""
    from console.celery import app
    from tests.peers import celery_worker_process, wait_until

    from .conftest import requested

    app.set_current()  # publish through Fleetdeck's app, to the test's Redis
    fleet = make_fleet(sandbox)
    reg = requested(operator, fleet.cluster)
    log = tmp_path / "worker.log"
    with celery_worker_process({"REDIS_URL": redis_url}, log_path=log, loglevel="DEBUG"):
        svc.registration_approve(actor=admin_user, registration_request_id=reg.pk)
        activation = wait_until(
            lambda: Activation.objects.filter(request=reg).exclude(encrypted_code="").first(),
            timeout=60,
        )
        # A refresh through the worker too (DescribeActivations answers never hold codes).
        activations_refresh_all.delay()
        time.sleep(2)
    code = svc.activation_reveal(actor=admin_user, activation_pk=activation.pk).code
    text = log.read_text()
    assert "activation_create" in text and activation.activation_id in text, text[-2000:]
    assert code not in text
