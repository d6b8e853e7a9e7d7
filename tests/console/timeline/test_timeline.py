"""The fleet timeline: selector (fixed queries, filters, keyset paging, grouping),
page fragments (older, live, embed), exports and roles."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from clusters.core.timeline import NewEvent, events_record
from clusters.models import Event
from console.timeline.selectors import (
    Cursor,
    TimelineFilters,
    message_template,
    timeline_events,
    timeline_group,
)

ACCOUNT = "123456789012"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"
OTHER_CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/edge"
WEB = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web"
API = f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/api"
INSTANCE = f"arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/prod/mi-0123456789abcdef0"
TASK = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
_keys = count()


def ev(message: str = "something happened", *, at: datetime = T0, **fields: object) -> NewEvent:
    fields.setdefault("source", "task")
    return NewEvent(message=message, dedupe_key=f"t|{next(_keys)}", occurred_at=at, **fields)  # type: ignore[arg-type]


def store(*events: NewEvent) -> None:
    events_record(events)


def messages(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in page.events]


@pytest.fixture
def fleet(db) -> None:
    """A small, varied timeline: one event per subject kind, spaced a minute apart."""
    store(
        ev("web task stopped", at=T0, service_arn=WEB, cluster_arn=CLUSTER, task_arn=TASK),
        ev(
            "api deployment failed",
            at=T0 + timedelta(minutes=1),
            source="deployment",
            severity="error",
            service_arn=API,
            cluster_arn=CLUSTER,
        ),
        ev(
            "instance agent disconnected",
            at=T0 + timedelta(minutes=2),
            source="container-instance",
            severity="warning",
            instance_arn=INSTANCE,
            cluster_arn=CLUSTER,
        ),
        ev(
            "container died (exit 137)",
            at=T0 + timedelta(minutes=3),
            source="docker",
            severity="warning",
            docker_host="edge-01",
            container_id="4f3c2b1a0d9e8f7a6b5c",
        ),
        ev(
            "edge cluster synced",
            at=T0 + timedelta(minutes=4),
            source="sync",
            cluster_arn=OTHER_CLUSTER,
        ),
    )


FILTER_CASES = [
    (TimelineFilters(), 5),
    (TimelineFilters(source="docker"), 1),
    (TimelineFilters(severity="warning"), 2),
    (TimelineFilters(cluster=CLUSTER), 3),
    (TimelineFilters(cluster="prod"), 3),
    (TimelineFilters(cluster="edge"), 1),
    (TimelineFilters(service="web"), 1),
    (TimelineFilters(service=API), 1),
    (TimelineFilters(instance="mi-0123456789abcdef0"), 1),
    (TimelineFilters(task="0f1e2d3c4b5a69788796a5b4c3d2e1f0"), 1),
    (TimelineFilters(host="edge-01"), 1),
    (TimelineFilters(container="4f3c2b"), 1),
    (TimelineFilters(since=T0 + timedelta(minutes=2)), 3),
    (TimelineFilters(until=T0 + timedelta(minutes=2)), 2),
    (TimelineFilters(q="DEPLOYMENT"), 1),
    (TimelineFilters(q="100%_not_there"), 0),
    (
        TimelineFilters(
            source="deployment",
            severity="error",
            cluster="prod",
            service="api",
            since=T0,
            until=T0 + timedelta(hours=1),
            q="failed",
        ),
        1,
    ),
]


@pytest.mark.parametrize("filters,expected", FILTER_CASES)
def test_filters_select_the_right_events_in_fixed_queries(
    fleet, django_assert_num_queries, filters: TimelineFilters, expected: int
) -> None:
    with django_assert_num_queries(2):  # the page + the newest id for the live poller
        page = timeline_events(filters)
        list(page.rows)
    assert len(page.events) == expected
    if expected:
        assert page.events == sorted(page.events, key=lambda e: (e.occurred_at, e.pk), reverse=True)


def test_query_count_is_fixed_for_cursor_after_and_actors(
    db, operator, django_assert_num_queries
) -> None:
    store(*(ev(f"e{i}", at=T0 + timedelta(seconds=i), actor_id=operator.pk) for i in range(120)))
    first = timeline_events(TimelineFilters(), limit=50)
    with django_assert_num_queries(1):
        page = timeline_events(TimelineFilters(service="web", q="e"), cursor=first.next_cursor)
        [e.actor.username if e.actor else "" for e in page.events]
    with django_assert_num_queries(1):
        page = timeline_events(TimelineFilters(), cursor=first.next_cursor)
        assert all(e.actor.username == "otto-operator" for e in page.events)  # type: ignore[union-attr]
    with django_assert_num_queries(1):
        timeline_events(TimelineFilters(severity="error"), after=first.newest_id)
    with django_assert_num_queries(2):  # a malformed cursor is the first page
        timeline_events(TimelineFilters(), cursor="garbage")


def test_keyset_pagination_has_no_gaps_or_duplicates_across_ties_and_new_writes(db) -> None:
    # 7 events share every timestamp, so the id tie-breaker decides page edges.
    store(*(ev(f"e{i}", at=T0 + timedelta(seconds=i // 7)) for i in range(130)))
    expected = [e.pk for e in Event.objects.order_by("-occurred_at", "-id")]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = timeline_events(TimelineFilters(), cursor=cursor, limit=20)
        seen.extend(e.pk for e in page.events)
        pages += 1
        if pages == 2:
            # New events arriving mid-walk land above the cursor: no dupes below it.
            store(ev("late news", at=T0 + timedelta(days=1)))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    assert pages == 7


def test_bad_cursor_shows_the_first_page(db) -> None:
    store(ev("only"))
    for raw in ("garbage", "12_x", "_", "99999999999999999999999_1"):
        assert messages(timeline_events(TimelineFilters(), cursor=raw)) == ["only"]


def test_cursor_round_trips_microseconds() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert Cursor.decode(Cursor(occurred_at=when, id=42).encode()) == Cursor(when, 42)


def test_after_returns_events_recorded_since_even_with_older_timestamps(db) -> None:
    store(ev("first", at=T0))
    newest = timeline_events(TimelineFilters()).newest_id
    assert timeline_events(TimelineFilters(), after=newest).events == []
    store(ev("imported late", at=T0 - timedelta(hours=1)), ev("fresh", at=T0 + timedelta(1)))
    page = timeline_events(TimelineFilters(), after=newest)
    assert messages(page) == ["fresh", "imported late"]
    assert page.newest_id is not None and page.newest_id > newest  # type: ignore[operator]


def test_first_page_and_live_polls_show_each_event_exactly_once(db) -> None:
    # Written newest first, so the older events carry the higher ids.
    store(*(ev(f"e{i:02d}", at=T0 - timedelta(minutes=i)) for i in range(60)))
    first = timeline_events(TimelineFilters())
    assert first.newest_id == Event.objects.order_by("-id").first().pk  # type: ignore[union-attr]
    # Older events below the first page are not "new" to the poller.
    assert timeline_events(TimelineFilters(), after=first.newest_id).events == []
    store(ev("brand new", at=T0 + timedelta(minutes=1)))
    assert messages(timeline_events(TimelineFilters(), after=first.newest_id)) == ["brand new"]


def test_message_template_blanks_ids_and_numbers() -> None:
    a = message_template(
        "(service web) has stopped 1 running tasks: (task 0f1e2d3c4b5a69788796a5b4c3d2e1f0)."
    )
    b = message_template(
        "(service web) has stopped 2 running tasks: (task aaaabbbbccccdddd1111222233334444)."
    )
    assert a == b
    assert message_template("arn:aws:ecs:us-east-1:1:task/x/1 exited 137") == "<arn> exited <n>"


def test_bursts_collapse_into_one_row(db) -> None:
    burst = [
        ev(f"Task {i:032x} stopped: exit 137", at=T0 + timedelta(seconds=i), service_arn=WEB)
        for i in range(40)
    ]
    # Interleaved: other services and other sources do not join the burst.
    others = [
        ev("api task stopped", at=T0 + timedelta(seconds=10), service_arn=API),
        ev(f"Task {1:032x} stopped: exit 137", at=T0 + timedelta(seconds=20), service_arn=API),
        ev("deployment started", at=T0 + timedelta(seconds=30), source="deployment"),
    ]
    # Only four similar ones: below the threshold, stay separate.
    small = [
        ev(f"agent reconnect {i}", at=T0 + timedelta(seconds=100 + i), instance_arn=INSTANCE)
        for i in range(4)
    ]
    store(*burst, *others, *small)
    page = timeline_events(TimelineFilters(), limit=200)
    groups = [row for row in page.rows if row.is_group]
    assert len(groups) == 1
    assert groups[0].count == 40
    assert groups[0].event.message.startswith(f"Task {39:032x}")  # the newest leads
    assert groups[0].oldest.occurred_at == T0
    assert len(page.rows) == 1 + len(others) + len(small)
    # The group row sits where its newest event is: after the 4 reconnects.
    assert page.rows[4] is groups[0]


def test_a_burst_spread_over_more_than_a_minute_splits(db) -> None:
    store(
        *(ev("Task stopped", at=T0 + timedelta(seconds=i * 20), service_arn=WEB) for i in range(10))
    )
    rows = timeline_group(list(Event.objects.order_by("-occurred_at", "-id")))
    # Each window of one minute holds 4 events (0, 20, 40, 60 s): nothing reaches 5.
    assert not any(row.is_group for row in rows)
    assert len(rows) == 10


# ---------------------------------------------------------------- the page


def test_page_renders_filters_in_the_form_and_links(fleet, viewer_client) -> None:
    response = viewer_client.get("/timeline/", {"service": "web", "severity": "info"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "web task stopped" in html
    assert "api deployment failed" not in html
    assert 'value="web"' in html  # the filter is kept in the form
    assert "/timeline/export.csv?severity=info&amp;service=web" in html
    assert "after=" in html and "every 5s" in html


def test_time_presets_keep_the_other_filters(fleet, viewer_client) -> None:
    html = viewer_client.get("/timeline/", {"service": "web", "since": "2020-01-01T00:00"})
    presets = re.findall(
        r'href="/timeline/\?([^"]+)">(?:15 min|1 hour|24 hours|7 days)<', html.content.decode()
    )
    assert len(presets) == 4
    for query in presets:
        assert query.startswith("service=web&amp;since=") and "2020-01-01" not in query


def test_invalid_filter_value_is_reported_not_a_500(fleet, viewer_client) -> None:
    response = viewer_client.get("/timeline/", {"since": "not a date", "source": "nope"})
    assert response.status_code == 200
    assert response.content.decode().count('class="error"') == 2
    assert b"edge cluster synced" in response.content


def test_older_button_loads_the_next_page_as_a_fragment(db, viewer_client) -> None:
    store(
        *(ev(f"event {i:03d}", at=T0 + timedelta(seconds=i), severity="error") for i in range(60))
    )
    page = viewer_client.get("/timeline/", {"severity": "error"}).content.decode()
    assert "event 059" in page and "event 009" not in page
    first = timeline_events(TimelineFilters(severity="error"))
    url = f"/timeline/?severity=error&cursor={first.next_cursor}"
    assert url.replace("&", "&amp;") in page
    response = viewer_client.get(url, headers={"HX-Request": "true"})
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "event 009" in fragment and "event 010" not in fragment
    assert "event 000" in fragment
    assert "No older events" in fragment
    # Without htmx the same URL is a full page (links keep working without JS).
    full = viewer_client.get(url).content.decode()
    assert "<html" in full and "event 009" in full


def test_live_poll_returns_204_then_new_rows_and_a_new_poller(db, viewer_client) -> None:
    store(ev("old news", service_arn=WEB))
    newest = timeline_events(TimelineFilters()).newest_id
    url = f"/timeline/?service=web&after={newest}"
    assert viewer_client.get(url).status_code == 204
    store(ev("web fresh", service_arn=WEB), ev("api fresh", service_arn=API))
    response = viewer_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "web fresh" in html and "api fresh" not in html and "old news" not in html
    assert "event-new" in html
    new_newest = Event.objects.get(message="web fresh").pk
    assert f"/timeline/?service=web&amp;after={new_newest}" in html
    assert 'hx-swap="outerHTML"' in html


def test_embed_returns_only_the_feed_for_other_pages(fleet, viewer_client) -> None:
    response = viewer_client.get("/timeline/", {"cluster": CLUSTER, "embed": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<form" not in html
    assert 'class="timeline-feed"' in html
    assert "instance agent disconnected" in html and "edge cluster synced" not in html
    # The embedded feed's own poller keeps the filter and the embed flag.
    assert "embed=1" in html and "cluster=arn%3Aaws%3Aecs" in html
    assert "Open in the timeline" in html


# ---------------------------------------------------------------- exports


def test_csv_export_streams_the_filtered_view(fleet, viewer_client) -> None:
    store(ev('=HYPERLINK("http://evil")', at=T0 + timedelta(hours=1), service_arn=WEB))
    response = viewer_client.get("/timeline/export.csv", {"service": "web"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["message"] for r in rows] == ['\'=HYPERLINK("http://evil")', "web task stopped"]
    assert rows[1]["service_arn"] == WEB and rows[1]["task_arn"] == TASK
    assert rows[1]["occurred_at"] == T0.isoformat()


def test_json_export_includes_details_and_actor(db, operator, viewer_client) -> None:
    store(ev("redeployed", actor_id=operator.pk, details={"reason": "hotfix"}, source="audit"))
    response = viewer_client.get("/timeline/export.json", {"source": "audit"})
    body = json.loads(b"".join(response.streaming_content))
    assert [row["message"] for row in body] == ["redeployed"]
    assert body[0]["actor"] == "otto-operator"
    assert body[0]["details"] == {"reason": "hotfix"}


def test_exports_are_capped(db, viewer_client, settings) -> None:
    settings.FLEETDECK_TIMELINE_EXPORT_MAX = 7
    store(*(ev(f"e{i}", at=T0 + timedelta(seconds=i)) for i in range(30)))
    body = json.loads(b"".join(viewer_client.get("/timeline/export.json").streaming_content))
    assert [row["message"] for row in body] == [f"e{i}" for i in range(29, 22, -1)]
    text = b"".join(viewer_client.get("/timeline/export.csv").streaming_content).decode()
    assert len(text.strip().splitlines()) == 1 + 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "nope"}, "source"),
        ({"severity": "fatal"}, "severity"),
        ({"since": "2026-13-45T99:99"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"q": "x" * 201}, "q"),
        ({"service": "web", "severity": "<script>alert(1)</script>"}, "severity"),
    ],
)
def test_an_export_with_an_invalid_filter_is_a_400_not_everything(
    fleet, viewer_client, params, field
) -> None:
    response = viewer_client.get("/timeline/export.json", params)
    assert response.status_code == 400
    assert not response.streaming and "Content-Disposition" not in response
    body = json.loads(response.content)
    assert list(body["errors"]) == [field]
    assert body["message"].startswith(f"Invalid filter ({field}: ")
    assert body["message"].endswith("Nothing was exported.")
    assert "<script>" not in response.content.decode()  # the value is never echoed

    response = viewer_client.get("/timeline/export.csv", params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert text.startswith(f"Invalid filter ({field}: ") and "Nothing was exported." in text
    assert "web task stopped" not in text and "<script>" not in text


def test_export_400_lists_the_accepted_values(fleet, viewer_client) -> None:
    response = viewer_client.get("/timeline/export.csv", {"severity": "fatal", "source": "x"})
    text = response.content.decode()
    assert "severity: Must be one of info, warning, error." in text
    assert "source: Must be one of ecs-service-event, task," in text


def test_the_page_offers_no_export_of_an_invalid_view(fleet, viewer_client) -> None:
    html = viewer_client.get("/timeline/", {"severity": "fatal"}).content.decode()
    assert "/timeline/export.csv" not in html
    assert "Fix the filters marked above to export this view" in html
    assert "Must be one of info, warning, error." in html


def test_export_iterates_in_keyset_batches(db) -> None:
    from console.timeline.selectors import timeline_export_iter

    store(*(ev(f"e{i}", at=T0 + timedelta(seconds=i // 3)) for i in range(25)))
    got = [e.pk for e in timeline_export_iter(TimelineFilters(), cap=100, batch_size=4)]
    assert got == [e.pk for e in Event.objects.order_by("-occurred_at", "-id")]


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize(
    "path", ["/timeline/", "/timeline/?embed=1", "/timeline/export.csv", "/timeline/export.json"]
)
def test_every_role_may_read_the_timeline(fleet, viewer_client, operator_client, path) -> None:
    assert viewer_client.get(path).status_code == 200
    assert operator_client.get(path).status_code == 200


def test_a_user_without_a_role_is_refused(db, client, django_user_model) -> None:
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get("/timeline/").status_code == 403
    assert client.get("/timeline/export.csv").status_code == 403


def test_timeline_is_post_proof(db, viewer_client) -> None:
    assert viewer_client.post("/timeline/").status_code in (403, 405)
