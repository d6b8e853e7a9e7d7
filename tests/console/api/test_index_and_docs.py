"""/api/v1/ lists the resources; /api/v1/docs is Swagger UI served from this origin
(drf-spectacular-sidecar), working under the site's CSP and behind the login."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client

from console.api.resources import RESOURCES

pytestmark = pytest.mark.django_db


def test_index_lists_every_resource_with_a_working_url(viewer_client: Client) -> None:
    response = viewer_client.get("/api/v1/")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert [r["name"] for r in body["resources"]] == list(RESOURCES)
    assert "hosts" in RESOURCES
    for resource in body["resources"]:
        assert resource["description"] and len(resource["description"]) < 100
        url = urlsplit(resource["url"])
        assert url.path == f"/api/v1/{resource['name']}"
        listing = viewer_client.get(url.path)
        assert listing.status_code == 200, resource
        assert set(json.loads(listing.content)) == {"count", "next", "previous", "results"}
    assert urlsplit(body["schema"]).path == "/api/v1/schema"
    assert urlsplit(body["docs"]).path == "/api/v1/docs"
    tasks = next(r for r in body["resources"] if r["name"] == "tasks")
    assert tasks["filters"] == ["cluster", "service", "status"]


def test_index_and_docs_need_a_login(anon_client: Client) -> None:
    for path in ("/api/v1/", "/api/v1/docs", "/api/v1/docs?script="):
        response = anon_client.get(path)
        assert response.status_code == 401, path
        assert response["Content-Type"].startswith("application/json")
        assert json.loads(response.content)["message"]


def test_docs_refuse_a_user_without_a_role(client: Client, django_user_model) -> None:
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    response = client.get("/api/v1/docs")
    assert response.status_code == 403
    assert json.loads(response.content)["message"] == "This needs the viewer role."


class _Assets(HTMLParser):
    """Every URL a page loads (src/href), and any inline script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(found[name] or "")
        if tag == "style" or (tag == "script" and not found.get("src")):
            self.inline.append(tag)
        if any(name.startswith("on") for name in found) or "style" in found:
            self.inline.append(f"{tag} attribute")


def test_docs_render_from_this_origin_only(viewer_client: Client) -> None:
    response = viewer_client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert '<div id="swagger-ui">' in html
    page = _Assets()
    page.feed(html)
    # Nothing inline: the CSP (script-src/style-src 'self', no 'unsafe-inline') would
    # refuse it. Every asset is a path on this origin, none on a CDN.
    assert page.inline == []
    assert page.urls, html
    for url in page.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), url
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("swagger-ui-bundle.js" in s for s in scripts)
    assert "/api/v1/docs?script=" in scripts
    for url in page.urls:
        if url.startswith("/static/"):
            asset = viewer_client.get(url)
            assert asset.status_code == 200, url
            assert int(asset["Content-Length"]) > 0, url
            asset.close()


def test_docs_start_up_script_points_at_the_schema(viewer_client: Client) -> None:
    response = viewer_client.get("/api/v1/docs", {"script": ""})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert 'url: "/api/v1/schema"' in script
    assert "SwaggerUIBundle(" in script
    assert '"validatorUrl": null' in script  # no call to the public validator
    assert "http://" not in script and "https://" not in script
