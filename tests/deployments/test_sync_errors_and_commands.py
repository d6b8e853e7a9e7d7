"""Permanent AWS errors are recorded (no crash loop); management commands; 5,000-task pages."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clusters.aws.errors import AwsPermanentError, AwsTransientError, translate
from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, SyncRun
from deployments.models import Task
from deployments.sync import account_sync

pytestmark = pytest.mark.django_db


class _DenyAll(BaseHTTPRequestHandler):
    """Stub for what no real peer here can produce: IAM saying no (the sandbox does
    not emulate IAM). Every AWS JSON call is answered with AccessDeniedException."""

    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"__type": "AccessDeniedException", "message": "User is not authorized"}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def deny_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DenyAll)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_access_denied_is_recorded_once_without_retrying(deny_url: str) -> None:
    clients_forget()
    account = AwsAccount.objects.create(
        name="denied",
        regions=["us-east-1"],
        auth_mode="endpoint",
        endpoint_url=deny_url,
        account_id="123456789012",
    )
    _DenyAll.requests = 0
    run = account_sync(account_id=account.pk)  # returns; does not raise
    assert run is not None and run.status == "failed"
    assert _DenyAll.requests == 1  # a permanent error is not retried
    account.refresh_from_db()
    assert account.last_sync_status == "failed"
    assert "AccessDeniedException" in account.last_sync_error


def test_error_translation() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ListTasks"
    )
    assert isinstance(translate(throttled), AwsTransientError)
    denied = translate(
        ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeTasks")
    )
    assert isinstance(denied, AwsPermanentError)
    assert (denied.code, denied.message, denied.operation) == (
        "AccessDenied",
        "no",
        "DescribeTasks",
    )
    response: Any = {"Error": {"Code": "Weird"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
    server = ClientError(response, "X")
    assert isinstance(translate(server), AwsTransientError)
    assert isinstance(
        translate(EndpointConnectionError(endpoint_url="http://x")), AwsTransientError
    )


def test_commands_add_account_sync_and_demo_setup(sandbox: Any) -> None:
    sandbox.client.seed("demo")
    clients_forget()
    out = StringIO()
    call_command(
        "add_aws_account", "lab", "--region", "us-east-1", "--endpoint-url", sandbox.url, stdout=out
    )
    assert "added account lab" in out.getvalue()
    account = AwsAccount.objects.get(name="lab")
    assert account.auth_mode == "endpoint" and account.regions == ["us-east-1"]

    out = StringIO()
    call_command("sync_aws", "--account", "lab", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert any(line.startswith("lab/us-east-1/prod-ec2: succeeded") for line in lines)
    assert any(line.startswith("lab/us-east-1/onprem-edge: succeeded") for line in lines)
    assert "calls" in lines[0] and "created" in lines[0]

    out = StringIO()
    call_command("sync_aws", "--account", "lab", "--cluster", "prod-ec2", stdout=out)
    (line,) = out.getvalue().strip().splitlines()
    assert "created 0, updated 0, gone 0" in line

    call_command("demo_setup", "--endpoint-url", sandbox.url, stdout=StringIO())
    call_command("demo_setup", "--endpoint-url", sandbox.url, stdout=StringIO())
    demo = AwsAccount.objects.get(name="demo")
    assert demo.regions == ["us-east-1", "eu-west-1"] and demo.endpoint_url == sandbox.url

    with pytest.raises(Exception, match=r"both|not allowed"):
        call_command("add_aws_account", "x", "--region", "r", "--profile", "p", "--role-arn", "a")


def test_task_pages_stay_fast_with_5000_tasks(viewer_client: Client) -> None:
    account = AwsAccount.objects.create(name="big", regions=["us-east-1"])
    cluster = Cluster.objects.create(
        account=account, region="us-east-1", arn="arn:aws:ecs:us-east-1:1:cluster/big", name="big"
    )
    now = timezone.now()
    Task.objects.bulk_create(
        [
            Task(
                cluster=cluster,
                arn=f"arn:aws:ecs:us-east-1:1:task/big/{i:032x}",
                group="service:web",
                last_status="STOPPED" if i % 3 == 0 else "RUNNING",
                desired_status="STOPPED" if i % 3 == 0 else "RUNNING",
                stopped_reason="Essential container in task exited" if i % 3 == 0 else "",
                created_at_aws=now - timedelta(seconds=i),
            )
            for i in range(5000)
        ],
        batch_size=1000,
    )
    for url in (
        f"/clusters/{cluster.pk}/?tab=tasks",
        f"/clusters/{cluster.pk}/?tab=tasks&status=stopped&page=30",
        f"/clusters/{cluster.pk}/?tab=tasks&status=all&q=exited",
        "/tasks/?status=all&page=90",
    ):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = viewer_client.get(url)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        assert len(ctx.captured_queries) <= 12, url
        assert elapsed < 1.5, (url, elapsed)
        assert response.content.decode().count("<tr") <= 52  # one page, not 5,000 rows
    assert SyncRun.objects.count() == 0


def test_assume_role_accounts_sync_with_refreshing_role_credentials(sandbox: Any) -> None:
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="role",
        regions=["eu-west-1"],
        auth_mode="assume_role",
        role_arn="arn:aws:iam::123456789012:role/fleetdeck-read",
        external_id="xyz",
        endpoint_url=sandbox.url,
    )
    sandbox.client.reset_request_counts()
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    assert sandbox.client.request_counts().get("sts:AssumeRole") == 1
    assert Cluster.objects.filter(account=account).count() == 2
