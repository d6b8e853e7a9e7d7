"""AWS credentials never touch the database: a sync with planted, unique
credentials in the environment (as a deployment would set them), then every
table is dumped and searched."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount
from deployments.sync import account_sync
from tests.deployments.redeploy_fleet import fleet_create

pytestmark = pytest.mark.django_db

ACCESS_KEY = "AKIAPLANTED7Q4Z9XK2M"
SECRET_KEY = "planted/Secret+Key9f3kQ0zX7vB2nM5pL8rT1wY4uI6oE"


def test_aws_credentials_are_not_stored(sandbox, monkeypatch, caplog) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    clients_forget()
    fleet = fleet_create(sandbox, desired=1, instances=1)
    run = account_sync(account_id=fleet.account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    assert AwsAccount.objects.count() == 1
    dump = io.StringIO()
    call_command("dumpdata", "--all", stdout=dump)
    text = dump.getvalue()
    assert "Cluster" in text or "edge" in text  # the dump holds the mirror
    for secret in (ACCESS_KEY, SECRET_KEY):
        assert secret not in text
        assert secret not in caplog.text
    clients_forget()
