"""boto3 clients for an ``AwsAccount``.

Sessions are cached per account settings because building the first client of
a session costs tens of milliseconds (credentials, service models); a client
made from a cached session costs about 2 ms. Clients are cached per (account
settings, region, service); boto3 clients are thread-safe.

A sync asks for a *fresh* client instead (``fresh=True``). botocore's standard
and adaptive retry modes keep a retry quota per client: every retry that ends
in failure spends tokens, and only successes give them back, one at a time. In
a long-lived worker, a cached client that lived through an outage has an empty
quota for a long while afterwards, and then a single 500 or throttle is no
longer retried at all (measured: after four exhausted listings, every later
recoverable 500 failed; ``tests/reliability/test_aws_faults.py``'s soak
variant). One client per sync keeps the quota's protection against retry
storms inside a sync, without carrying an old outage into the next one.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from django.conf import settings

from clusters.aws.budget import budget_attach
from clusters.aws.errors import aws_call_errors

if TYPE_CHECKING:
    from clusters.models import AwsAccount

MAX_POOL_CONNECTIONS = 20
MAX_ATTEMPTS = 5

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}
_sessions: dict[tuple[Any, ...], boto3.session.Session] = {}


def client_config(*, max_attempts: int = MAX_ATTEMPTS) -> Config:
    """Adaptive retries (client-side rate limiting + backoff on throttling/5xx)."""
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        max_pool_connections=MAX_POOL_CONNECTIONS,
        connect_timeout=5,
        read_timeout=30,
        # Cloud Map and friends prepend hosts to the endpoint; a sandbox cannot serve that.
        inject_host_prefix=False,
    )


def _endpoint_url(account: AwsAccount) -> str | None:
    if account.auth_mode == "endpoint":
        return account.endpoint_url or settings.FLEETDECK_AWS_ENDPOINT_URL or None
    return account.endpoint_url or None


def _session_key(account: AwsAccount) -> tuple[Any, ...]:
    return (
        account.pk,
        account.auth_mode,
        account.profile_name,
        account.role_arn,
        account.external_id,
        account.endpoint_url,
    )


def _base_session(account: AwsAccount) -> boto3.session.Session:
    if account.auth_mode == "profile" and account.profile_name:
        return boto3.session.Session(profile_name=account.profile_name)
    if account.auth_mode == "endpoint" and not (
        os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")
    ):
        # An endpoint (the sandbox) accepts any credentials; do not require real ones.
        return boto3.session.Session(aws_access_key_id="fleetdeck", aws_secret_access_key="sandbox")
    return boto3.session.Session()


def _assumed_session(account: AwsAccount, base: boto3.session.Session) -> boto3.session.Session:
    """A session whose credentials refresh themselves by calling sts:AssumeRole."""
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        DeferredRefreshableCredentials,
    )
    from botocore.session import Session as CoreSession

    extra: dict[str, Any] = {"RoleSessionName": "fleetdeck"}
    if account.external_id:
        extra["ExternalId"] = account.external_id
    endpoint = account.endpoint_url or None

    def sts_client(service: str, **kwargs: Any) -> Any:
        # The STS call goes to the account's endpoint too (the sandbox in tests).
        return base._session.create_client(service, endpoint_url=endpoint, **kwargs)

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=base.get_credentials(),
        role_arn=account.role_arn,
        extra_args=extra,
    )
    core = CoreSession()
    core._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.session.Session(botocore_session=core)


def account_session(account: AwsAccount) -> boto3.session.Session:
    key = _session_key(account)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _base_session(account)
            if account.auth_mode == "assume_role" and account.role_arn:
                session = _assumed_session(account, session)
            _sessions[key] = session
        return session


def aws_client(
    *, account: AwsAccount, region: str, service: str, max_attempts: int = 0, fresh: bool = False
) -> Any:
    """A boto3 client for ``service`` in ``region`` of ``account``: the cached one,
    or with ``fresh`` a new one (its own retry quota and rate limiter) that is not
    cached, for one unit of work such as a sync."""
    attempts = max_attempts or MAX_ATTEMPTS
    key = (*_session_key(account), region, service, attempts)
    if not fresh:
        with _lock:
            client = _clients.get(key)
        if client is not None:
            return client
    session = account_session(account)
    with aws_call_errors():
        # service is a runtime string; boto3-stubs only types literal service names.
        client = session.client(  # type: ignore[call-overload]
            service,
            region_name=region,
            endpoint_url=_endpoint_url(account),
            config=client_config(max_attempts=attempts),
        )
    # Every request of every client takes from the account's shared API budget.
    budget_attach(client, account_key=_budget_key(account), region=region)
    if fresh:
        return client
    with _lock:
        _clients.setdefault(key, client)
        return _clients[key]


def _budget_key(account: AwsAccount) -> str:
    """AWS throttles per account: rows naming the same account id share its budget."""
    return account.account_id or f"account-{account.pk}"


def clients_forget() -> None:
    """Drop cached clients and sessions (after an account's settings change; tests)."""
    with _lock:
        _clients.clear()
        _sessions.clear()


def account_discover_id(*, account: AwsAccount, region: str) -> str:
    """The 12-digit account id, from sts:GetCallerIdentity."""
    sts = aws_client(account=account, region=region, service="sts")
    with aws_call_errors():
        return str(sts.get_caller_identity()["Account"])
