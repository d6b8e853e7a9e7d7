"""Locust user for bench/load.py: an on-call viewer with the dashboard and the
timeline open, doing what the browser does (templates/console/dashboard.html,
templates/console/timeline.html, htmx 2).

Each user logs in once through the login form (its CSRF token from the form),
opens the dashboard (the page, then ``?part=trends`` which htmx loads on page
load) and the timeline, then every ``FLEETDECK_LOAD_INTERVAL`` seconds sends the
two polls the browser sends:

- the dashboard's live poll, ``/?part=live&v_summary=…&v_attention=…`` (the
  ``#live-versions`` inputs htmx includes); a 200 carries new versions out of
  band, which the next poll sends, as the page would; 204 = nothing changed;
- the timeline's poll, ``/timeline/?after=N``; a 200 replaces the poller with one
  for the newest id it shows; 204 = nothing new;

and ``?part=trends`` every 60 s. Headers are htmx's (``HX-Request``,
``HX-Current-URL``, ``HX-Trigger``/``HX-Target`` where the element has an id) plus
the ``X-CSRFToken`` of ``hx-headers`` on ``<body>``.

Phases, when bench/load.py sets ``FLEETDECK_LOAD_GO`` (a file): users log in,
then wait until the file exists; it holds three epoch times, written once every
user has logged in. From the first to the second, every request the pattern
would send goes to ``/healthz`` instead (the baseline: same users, same cadence,
same count); from the second to the third, the real pattern; then nothing.
Without ``FLEETDECK_LOAD_GO`` the real pattern starts at once
(``locust -f bench/locustfile.py --host URL`` by hand).

``FLEETDECK_LOAD_SAMPLES``: a file to which every request is appended as
``start_epoch,name,ms,bytes,ok`` (bench/load.py splits polls by whether a sync ran).
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._load_names import (
    BASELINE,
    DASHBOARD_PAGE,
    DASHBOARD_POLL,
    LOGIN,
    LOGIN_FORM,
    TIMELINE_PAGE,
    TIMELINE_POLL,
    TRENDS,
    USERNAME,
)

INTERVAL = float(os.environ.get("FLEETDECK_LOAD_INTERVAL", "5"))
TRENDS_EVERY = 60.0  # hx-trigger="load, every 60s" on #trends
PASSWORD = os.environ.get("FLEETDECK_LOAD_PASSWORD", "")
USERS = int(os.environ.get("FLEETDECK_LOAD_USERS", "50"))
GO_FILE = os.environ.get("FLEETDECK_LOAD_GO", "")

_index = itertools.count()
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
_VERSION = re.compile(r'name="(v_[\w-]+)" value="([0-9a-f]+)"')
_POLLER = re.compile(r'class="timeline-poller"[^>]*hx-get="([^"]+)"')


_schedule: list[float] = []  # baseline from, load from, end (from GO_FILE)


def phase(now: float) -> str:
    if not GO_FILE:
        return "load"
    if not _schedule:
        try:
            _schedule.extend(float(t) for t in Path(GO_FILE).read_text().split())
        except (OSError, ValueError):
            _schedule.clear()
            return "settle"  # not written yet
    baseline_at, load_at, end = _schedule
    if now < baseline_at:
        return "settle"
    if now < load_at:
        return "baseline"
    return "load" if now < end else "done"


_SAMPLES_PATH = os.environ.get("FLEETDECK_LOAD_SAMPLES", "")
# Line-buffered: bench/load.py reads it while locust runs (it counts the logins).
_samples = open(_SAMPLES_PATH, "a", buffering=1) if _SAMPLES_PATH else None  # noqa: SIM115


@events.request.add_listener
def _sample(
    name: str,
    response_time: float,
    response_length: int,
    exception: Any,
    start_time: float = 0.0,
    **_: Any,
) -> None:
    if _samples is not None:
        ok = int(exception is None)
        _samples.write(f"{start_time:.3f},{name},{response_time:.1f},{response_length},{ok}\n")


@events.quitting.add_listener
def _close(**_: Any) -> None:
    if _samples is not None:
        _samples.close()


class OnCallViewer(FastHttpUser):
    def wait_time(self) -> float:
        """Until this user's next slot on its own grid (every INTERVAL s from its
        offset). The users' offsets are spread over the period as the moments at
        which people opened their tabs would be, and stay so: pacing from each
        user's start lined up every user whose login returned at the same moment,
        and their polls then arrived in bursts."""
        now = time.time()
        return self.offset + (math.floor((now - self.offset) / INTERVAL) + 1) * INTERVAL - now

    def on_start(self) -> None:
        n = next(_index)
        self.offset = random.Random(n).uniform(0, INTERVAL)  # the same in every run
        gevent.sleep(self.offset)  # logins spread out too
        self.username = USERNAME.format(n=n % USERS)
        self.csrf = ""
        self.opened = False  # dashboard and timeline loaded (real pattern)
        self.baseline_opened = False
        self.versions: dict[str, str] = {}
        self.timeline_poll = "/timeline/?after=0"
        self.trends_at = 0.0
        self.login()

    def login(self) -> None:
        with self.client.get("/login/", name=LOGIN_FORM, catch_response=True) as r:
            token = _CSRF_INPUT.search(r.text or "")
            if r.status_code != 200 or token is None:
                r.failure(f"login form: {r.status_code}, token found: {token is not None}")
                return
        form = {
            "csrfmiddlewaretoken": token.group(1),
            "username": self.username,
            "password": PASSWORD,
            "next": "",
        }
        with self.client.post(
            "/login/", data=form, name=LOGIN, allow_redirects=False, catch_response=True,
            headers={"Referer": f"{self.host}/login/"},
        ) as r:  # fmt: skip
            if r.status_code != 302:
                r.failure(f"login: {r.status_code} (expected a redirect)")

    def _get(self, path: str, name: str, headers: dict[str, str], ok: tuple[int, ...]) -> str:
        if phase(time.time()) == "baseline":
            path, name, headers = "/healthz", BASELINE, {}
        with self.client.get(
            path, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code not in ok:
                r.failure(f"{r.status_code}")
                return ""
            return r.text or ""

    def _htmx(self, page: str, elt_id: str | None = None) -> dict[str, str]:
        headers = {"HX-Request": "true", "HX-Current-URL": f"{self.host}{page}"}
        if elt_id:  # htmx sends these only for an element with an id
            headers["HX-Trigger"] = elt_id
            headers["HX-Target"] = elt_id
        if self.csrf:
            headers["X-CSRFToken"] = self.csrf
        return headers

    @task
    def on_call(self) -> None:
        now = time.time()
        current = phase(now)
        if current in ("settle", "done"):
            return
        if current == "baseline" and not self.baseline_opened:
            self.baseline_opened = True
            self.open_pages(record=False)
            return
        if current == "load" and not self.opened:
            self.opened = True
            self.open_pages(record=True)
            return
        self.poll(now)

    def open_pages(self, *, record: bool) -> None:
        body = self._get("/", DASHBOARD_PAGE, {}, (200,))
        if record:
            token = _CSRF_HEADER.search(body)
            self.csrf = token.group(1) if token else ""
            self.versions = dict(_VERSION.findall(body))
        self._get("/?part=trends", TRENDS, self._htmx("/", "trends"), (200,))
        self.trends_at = time.time()
        body = self._get("/timeline/", TIMELINE_PAGE, {}, (200,))
        if record:
            poller = _POLLER.search(body)
            self.timeline_poll = poller.group(1).replace("&amp;", "&") if poller else ""

    def poll(self, now: float) -> None:
        query = "".join(f"&{k}={v}" for k, v in self.versions.items())
        body = self._get(
            f"/?part=live{query}", DASHBOARD_POLL, self._htmx("/", "live"), (200, 204, 286)
        )
        # Changed fragments come with their new version inputs (hx-swap-oob).
        self.versions.update(_VERSION.findall(body))
        if self.timeline_poll:
            body = self._get(
                self.timeline_poll, TIMELINE_POLL, self._htmx("/timeline/"), (200, 204, 286)
            )
            poller = _POLLER.search(body)  # 200: the new poller replaces the old one
            if poller:
                self.timeline_poll = poller.group(1).replace("&amp;", "&")
        if now - self.trends_at >= TRENDS_EVERY:
            self.trends_at = now
            self._get("/?part=trends", TRENDS, self._htmx("/", "trends"), (200,))
