"""bench/load.py's report: locust's figures per request name against the
baseline of the same run, the polls by answer and by whether a sync was
running, the syncs' durations, each process's CPU time, and the verdict
against the issue's target (p95 <= 300 ms, no failure of any request).

Runs in bench/load.py's process, after it has set Django up."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _load_names as names

POLLS = (names.DASHBOARD_POLL, names.TIMELINE_POLL)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def hist_pct(hist: dict[str, int], q: float) -> float:
    """Percentile of locust's response-time histogram ({ms: count}; locust keeps
    ms below 100, then 10 ms steps, then 100 ms steps), nearest rank as ``pct``."""
    ordered = sorted((float(ms), n) for ms, n in hist.items())
    total = sum(n for _, n in ordered)
    if not total:
        return float("nan")
    rank = min(total - 1, round(q * (total - 1)))
    seen = 0
    for ms, n in ordered:
        seen += n
        if seen > rank:
            return ms
    return ordered[-1][0]


def report(
    args: Any,
    work: Path,
    load_at: float,
    end: float,
    sender: Any,
    code: int,
    cpu: dict[str, float],
) -> None:
    from clusters.models import SyncRun

    stats = {e["name"]: e for e in json.loads((work / "locust.json").read_text())}
    base = stats.get(names.BASELINE)
    base_p95 = hist_pct(base["response_times"], 0.95) if base else float("nan")

    def line(label: str, entry: dict[str, Any] | None, ratio: bool = True) -> str:
        if entry is None:
            return f"  {label:44} (no requests)"
        hist = entry["response_times"]
        p95 = hist_pct(hist, 0.95)
        x = f"  p95 {p95 / base_p95:5.1f}x baseline" if ratio and base_p95 else ""
        return (
            f"  {label:44} n={entry['num_requests']:5}  p50 {hist_pct(hist, 0.5):6.0f}  "
            f"p95 {p95:6.0f}  p99 {hist_pct(hist, 0.99):6.0f} ms  "
            f"failures {entry['num_failures']}{x}"
        )

    print(f"baseline ({args.baseline_seconds:g} s, every request of the pattern to /healthz):")
    print(line(names.BASELINE, base, ratio=False))
    print(f"load ({end - load_at:g} s):")
    for name in (*POLLS, names.DASHBOARD_PAGE, names.TIMELINE_PAGE, names.TRENDS):
        print(line(name, stats.get(name)))
    merged: dict[str, Any] = {"num_requests": 0, "num_failures": 0, "response_times": {}}
    for name in POLLS:
        entry = stats.get(name) or {"num_requests": 0, "num_failures": 0, "response_times": {}}
        merged["num_requests"] += entry["num_requests"]
        merged["num_failures"] += entry["num_failures"]
        for ms, n in entry["response_times"].items():
            merged["response_times"][ms] = merged["response_times"].get(ms, 0) + n
    print(line("all polls", merged))
    print(line(names.LOGIN + " (before the baseline)", stats.get(names.LOGIN), ratio=False))
    failures = sum(e["num_failures"] for e in stats.values())

    runs = list(
        SyncRun.objects.filter(
            cluster__isnull=False, started_at__gte=datetime.fromtimestamp(load_at - 1, UTC)
        ).values_list("started_at", "finished_at", "status", "duration_ms")
    )
    windows = [(s.timestamp(), (f or s).timestamp()) for s, f, _, _ in runs]
    during: list[float] = []
    outside: list[float] = []
    answers: dict[str, list[float]] = {}
    for row in (work / "samples.csv").read_text().splitlines():
        started, rest = row.split(",", 1)
        name, ms, size, _ok = rest.rsplit(",", 3)
        if name in POLLS and load_at <= float(started) < end:
            busy = any(a <= float(started) <= b for a, b in windows)
            (during if busy else outside).append(float(ms))
            kind = "204 nothing new" if size == "0" else "200 with rows/fragments"
            answers.setdefault(f"{name}, {kind}", []).append(float(ms))
    for label, values in [
        *sorted(answers.items()),
        ("polls that started while a sync ran", during),
        ("polls that started with no sync running", outside),
    ]:
        print(
            f"  {label:44} n={len(values):5}  p50 {pct(values, 0.5):6.0f}  "
            f"p95 {pct(values, 0.95):6.0f}  p99 {pct(values, 0.99):6.0f} ms"
        )
    durations = [d / 1000 for _, _, status, d in runs if d is not None]
    failed = sum(1 for _, _, status, _ in runs if status != "succeeded")
    print(
        f"syncs on the worker: {len(sender.sent)} sent, {len(runs)} ran (failed {failed}), "
        f"p50 {pct(durations, 0.5):.1f} s, max {max(durations, default=float('nan')):.1f} s"
        + (f"; fleet churn errors {sender.churn_errors}" if sender.churn_errors else "")
    )
    seconds = end - load_at
    print(
        f"CPU seconds used during the load phase ({os.cpu_count()} cores x {seconds:g} s): "
        + ", ".join(f"{label} {value:.1f}" for label, value in cpu.items())
    )
    if failures:
        print(f"locust failures (exit {code}):")
        failures_csv = work / "locust_failures.csv"
        if failures_csv.exists():
            for row in failures_csv.read_text().splitlines()[1:]:
                print(f"  {row}")
    # Any failure counts (page loads, trends and logins too), not only the polls'.
    target = hist_pct(merged["response_times"], 0.95) <= 300 and failures == 0
    print(f"target p95 <= 300 ms and 0 errors: {'met' if target else 'NOT met'}")
