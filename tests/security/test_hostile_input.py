"""Hostile input on every list filter, API filter and form: never a 500, never
rendered unescaped, and a clear message where the input is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusters.models import AwsAccount, Cluster, RegistrationRequest
from console.api.resources import RESOURCES
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
    "reachable",
    "enabled",
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
API = list(RESOURCES)  # every API list, hosts included
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


# Every query-string name a view reads (grep request.GET / query_params), plus the
# names a page might plausibly grow: a view must shrug off ones it does not use.
EVERY_PARAM = sorted(
    {
        *PARAMS,
        *("limit", "offset", "format", "ordering", "search", "next"),
        *("ecs", "health", "gone"),  # a Docker host's container filters
        *("v_summary", "v_attention", "v_tv-summary", "v_tv-attention"),  # dashboard polls
    }
)
# Values that once got past a check and into int()/a query: superscript and Arabic
# digits pass str.isdigit(); huge numbers overflow a database integer.
HOSTILE_VALUES = [
    "\u00b9",
    "\u0663",
    "99999999999999999999",
    str(2**63),
    "-1",
    "0",
    "1e309",
    "NaN",
    "%00",
    "../../../../etc/passwd",
    "2026-13-45T99:99",
    "x" * 5000,
    "\u202e\U0001d571\ufffd",
    SCRIPT,
]
# Path segments: the same, each percent-quoted so it stays one segment.
HOSTILE_SEGMENTS = [*HOSTILE_VALUES, "..", "%2e%2e", "a\x00b"]
_PARAM_IN_ROUTE = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def _routes(patterns=None, prefix: str = "") -> Iterator[str]:
    """Every URL pattern in the resolver, includes flattened, as one route string."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(p.pattern).lstrip("^").rstrip("$").replace("\\", "")
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, route)
        else:
            yield route


def _fill(route: str, value: Callable[[str], str]) -> str:
    return "/" + _PARAM_IN_ROUTE.sub(lambda m: value(m.group(2) or m.group(3)), route)


@pytest.fixture
def fleet_values(a_cluster) -> dict[str, list[str]]:
    """A real row behind every kind of path parameter."""
    from clusters.models import Container, DockerHost
    from tests.console import fleet

    svc = fleet.service(a_cluster)
    task = fleet.stopped_task(svc)
    inst = fleet.instance(a_cluster)
    host = DockerHost.objects.create(name="hostile-host", endpoint="tcp://127.0.0.1:9")
    box = Container.objects.create(host=host, container_id="c0ffee" * 4, name="box", state="exited")
    pks = sorted({str(o.pk) for o in (a_cluster, a_cluster.account, svc, task, inst)})
    return {
        "pk": pks,
        "instance_pk": [str(inst.pk)],
        "name": [host.name],
        "container_id": [box.container_id],
        "app_label": ["clusters"],
        "model_name": ["cluster"],
        "object_id": [str(a_cluster.pk)],
        "content_type_id": ["1"],
        "url": ["clusters/"],
    }


def _real_urls(route: str, values: dict[str, list[str]]) -> list[str]:
    """The route filled with each real row's value in turn."""

    def nth(i: int) -> Callable[[str], str]:
        return lambda name: (choices := values.get(name, ["1"]))[min(i, len(choices) - 1)]

    widest = max(len(v) for v in values.values())
    return sorted({_fill(route, nth(i)) for i in range(widest)})


def test_every_get_route_survives_hostile_paths_and_query_strings(
    admin_plain, fleet_values
) -> None:
    """Walks the resolver, so a new route is covered the day it is added: each
    route with real values, with hostile path values, and with each hostile
    value in every query parameter at once. A 404/400/405 is fine; a 500 is not.
    Django's own admin gets the path sweep only."""
    failures: list[tuple[str, dict[str, str], int]] = []

    def get(url: str, params: dict[str, str] | None = None) -> None:
        status = admin_plain.get(url, params or {}).status_code
        if status >= 500:
            shown = {k: v[:40] for k, v in (params or {}).items()}
            failures.append((url[:120], dict(list(shown.items())[:3]), status))

    routes = sorted(set(_routes()))
    assert "instances/" in routes and "docker-hosts/<slug:name>/" in routes
    for route in routes:
        urls = _real_urls(route, fleet_values)
        for url in urls:
            get(url)
        if not route.startswith("admin/"):
            for value in HOSTILE_VALUES:
                get(urls[0], dict.fromkeys(EVERY_PARAM, value))
        if _PARAM_IN_ROUTE.search(route):
            for segment in HOSTILE_SEGMENTS:
                get(_fill(route, lambda n: quote(segment, safe="")))
    assert not failures, failures
