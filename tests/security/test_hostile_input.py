"""Hostile input on every list filter, API filter and form: never a 500, never
rendered unescaped, and a clear message where the input is refused."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusters.models import AwsAccount, Cluster, RegistrationRequest
from tests.security.hostile import PAYLOADS, SCRIPT, body_of, hostile_text, no_raw_script

pytestmark = pytest.mark.django_db

# Every query-string name any list page or API view reads (grep request.GET /
# query_params), sent to every page: a page must shrug off ones it does not use.
PARAMS = [
    "status",
    "cluster",
    "service",
    "q",
    "page",
    "state",
    "all",
    "tv",
    "tab",
    "mine",
    "kind",
    "instance",
    "cursor",
    "after",
    "embed",
    "part",
    "source",
    "severity",
    "task",
    "host",
    "container",
    "since",
    "until",
    "page_size",
    "reason",
]
PAGES = [
    "/",
    "/timeline/",
    "/timeline/export.csv",
    "/timeline/export.json",
    "/clusters/",
    "/instances/",
    "/services/",
    "/tasks/",
    "/redeploys/",
    "/registrations/",
    "/registrations/queue/",
    "/registrations/activations/",
    "/registrations/waiting-room/",
    "/registrations/decommissions/",
    "/docker-hosts/",
    "/alerts/channels/",
]
API = ["accounts", "clusters", "instances", "services", "deployments", "tasks", "events"]
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@pytest.fixture
def admin_plain(admin_user) -> Client:
    client = Client(raise_request_exception=False)  # a 500 must show as a status here
    client.force_login(admin_user)
    return client


@pytest.fixture
def a_cluster(db) -> Cluster:
    account = AwsAccount.objects.create(
        name="acct", regions=["us-east-1"], auth_mode="endpoint", account_id="123456789012"
    )
    return Cluster.objects.create(
        account=account,
        region="us-east-1",
        arn="arn:aws:ecs:us-east-1:123456789012:cluster/edge",
        name="edge",
    )


@pytest.mark.parametrize("page", PAGES)
def test_list_filters_survive_hostile_query_strings(admin_plain, a_cluster, page) -> None:
    @SETTINGS
    @given(st.dictionaries(st.sampled_from(PARAMS), hostile_text, min_size=1, max_size=5))
    def check(params: dict[str, str]) -> None:
        response = admin_plain.get(page, params)
        assert response.status_code < 500, (page, params, response.status_code)
        no_raw_script(body_of(response))

    check()


@pytest.mark.parametrize("resource", API)
def test_api_filters_survive_hostile_query_strings(admin_plain, a_cluster, resource) -> None:
    @SETTINGS
    @given(st.dictionaries(st.sampled_from(PARAMS), hostile_text, min_size=1, max_size=5))
    def check(params: dict[str, str]) -> None:
        response = admin_plain.get(f"/api/v1/{resource}", params)
        assert response.status_code < 500, (resource, params, response.status_code)
        assert response["Content-Type"].startswith("application/json")
        if response.status_code >= 400:
            assert response.json().get("message") or response.json().get("detail")

    check()


@given(
    justification=hostile_text,
    tags=hostile_text,
    iam_role=hostile_text,
    name=hostile_text,
    limit=hostile_text,
    hours=hostile_text,
)
@SETTINGS
def test_registration_form_refuses_or_stores_safely(
    admin_plain, a_cluster, justification, tags, iam_role, name, limit, hours
) -> None:
    data = {
        "idempotency_token": str(uuid.uuid4()),
        "cluster": a_cluster.pk,
        "registration_limit": limit,
        "expiry_hours": hours,
        "iam_role": iam_role,
        "default_instance_name": name,
        "tags": tags,
        "docker_install_source": "docker",
        "justification": justification,
    }
    response = admin_plain.post("/registrations/new/", data)
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        body = body_of(response)
        no_raw_script(body)
        # Says what is wrong: a field error, or the NUL-character refusal.
        assert 'class="errorlist' in body or "NUL character" in body
        return
    reg = RegistrationRequest.objects.order_by("-pk").first()
    assert reg is not None
    for page in (f"/registrations/{reg.pk}/", "/registrations/", "/registrations/queue/"):
        shown = admin_plain.get(page)
        assert shown.status_code == 200
        no_raw_script(body_of(shown))


@given(name=hostile_text, endpoint=hostile_text, ca=hostile_text, pem=hostile_text)
@SETTINGS
def test_docker_host_form_refuses_hostile_names_and_endpoints(
    admin_plain, name, endpoint, ca, pem
) -> None:
    response = admin_plain.post(
        "/docker-hosts/add/",
        {
            "name": name,
            "endpoint": endpoint,
            "tls_ca_path": ca,
            "tls_cert_pem": pem,
            "tls_key_pem": f"-----BEGIN PRIVATE KEY-----\n{pem}\n-----END PRIVATE KEY-----",
        },
    )
    assert response.status_code < 500
    no_raw_script(body_of(response))


@given(path=hostile_text, pem=hostile_text, clear=st.booleans())
@SETTINGS
def test_docker_host_tls_form_refuses_hostile_material(admin_plain, path, pem, clear) -> None:
    from clusters.core.crypto import encrypt_secret
    from clusters.models import DockerHost

    host, _ = DockerHost.objects.get_or_create(
        name="hostile-tls",
        defaults={"endpoint": "tcp://127.0.0.1:9", "encrypted_tls_ca": encrypt_secret("x")},
    )
    data = {"tls_ca_pem": pem, "tls_cert_path": path, "tls_key_pem": pem}
    if clear:
        data["clear_tls_ca"] = "on"
    response = admin_plain.post(f"/docker-hosts/{host.name}/tls/", data)
    assert response.status_code < 500
    body = body_of(response)
    no_raw_script(body)
    if response.status_code == 400 and pem.strip():
        assert 'class="errorlist' in body or "NUL character" in body
    shown = admin_plain.get(f"/docker-hosts/{host.name}/")
    assert shown.status_code == 200
    no_raw_script(body_of(shown))


@given(name=hostile_text, target=hostile_text, clusters=hostile_text)
@SETTINGS
def test_alert_channel_form(admin_plain, name, target, clusters) -> None:
    response = admin_plain.post(
        "/alerts/channels/new/",
        {
            "name": name,
            "kind": "webhook",
            "target": target,
            "min_severity": "warning",
            "sources": ["task"],
            "clusters": clusters,
            "enabled": "on",
        },
    )
    assert response.status_code < 500
    no_raw_script(body_of(response))
    listing = admin_plain.get("/alerts/channels/")
    assert listing.status_code == 200
    no_raw_script(body_of(listing))


@given(username=hostile_text, password=hostile_text)
@SETTINGS
def test_login_form(db, username, password) -> None:
    response = Client(raise_request_exception=False).post(
        "/login/", {"username": username, "password": password}
    )
    assert response.status_code in (200, 400, 429)
    no_raw_script(body_of(response))


def test_the_payload_really_is_escaped_where_it_is_shown(admin_plain, a_cluster) -> None:
    """The property tests' check can fail: a stored script shows as text."""
    response = admin_plain.post(
        "/registrations/new/",
        {
            "idempotency_token": str(uuid.uuid4()),
            "cluster": a_cluster.pk,
            "registration_limit": 1,
            "expiry_hours": 24,
            "docker_install_source": "docker",
            "justification": f"needed for {SCRIPT} plant 3",
        },
    )
    assert response.status_code == 302
    reg = RegistrationRequest.objects.get()
    assert SCRIPT in reg.justification  # stored as typed ...
    body = admin_plain.get(f"/registrations/{reg.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # ... shown as text
    no_raw_script(body)


@pytest.mark.parametrize("page", PAGES + [f"/api/v1/{r}" for r in API])
def test_every_payload_in_every_filter_at_once(admin_plain, a_cluster, page) -> None:
    """Deterministic sweep beside the random one: each known payload in every
    filter name at once, on every page and API list."""
    for payload in PAYLOADS:
        response = admin_plain.get(page, dict.fromkeys(PARAMS, payload))
        assert response.status_code < 500, (page, payload, response.status_code)
        no_raw_script(body_of(response))
