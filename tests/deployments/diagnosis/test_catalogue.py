"""The catalogue, signature by signature: every entry's example (copied from AWS's
documentation, or the stop code / state AWS names) is diagnosed as that entry and
no earlier one; the entries the issue asks for are all there; the rendered
troubleshooting page is current."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command

from deployments.diagnosis.catalogue import Signal, catalogue, entry_by_code, entry_for

REQUIRED = {
    "oom-killed", "sigkill", "segfault", "sigterm", "app-error", "not-executable",
    "command-not-found", "pull-not-found", "pull-access-denied", "pull-timeout",
    "init-secrets", "init-registry-auth", "init-log-driver", "init-timeout", "cannot-start",
    "failed-to-start", "essential-exited", "scheduler-stopped", "spot-interruption",
    "termination-notice", "user-stopped", "infrastructure-health", "place-memory",
    "place-cpu", "place-ports", "place-agent", "place-attribute",
    "anywhere-agent-disconnected", "anywhere-register-denied", "anywhere-activation-expired",
    "anywhere-activation-exhausted", "anywhere-activation-reused",
}  # fmt: skip


@pytest.mark.parametrize("entry", catalogue(), ids=lambda e: e.code)
def test_every_example_is_diagnosed_as_its_own_entry(entry) -> None:  # type: ignore[no-untyped-def]
    signal = entry.example_signal()
    assert entry.matches(signal), f"{entry.code} does not match its own example"
    assert entry_for(signal) is entry, (
        f"{entry.code}'s example is taken by {entry_for(signal).code} first"  # type: ignore[union-attr]
    )


@pytest.mark.parametrize("entry", catalogue(), ids=lambda e: e.code)
def test_every_entry_is_complete(entry) -> None:  # type: ignore[no-untyped-def]
    assert entry.title and entry.cause and entry.fix and entry.example
    assert re.match(r"https://(docs\.aws\.amazon\.com|repost\.aws)/", entry.docs_url)
    assert entry.evidence in {
        "memory", "stop_timeout", "image", "execution_role", "placement", "agent",
        "activation", "none",
    }  # fmt: skip


def test_the_issue_s_entries_are_all_there() -> None:
    assert {e.code for e in catalogue()} >= REQUIRED


def test_specific_before_general() -> None:
    oom = Signal("EssentialContainerExited", "Essential container in task exited",
                 "OutOfMemoryError: Container killed due to memory usage", 137)  # fmt: skip
    assert entry_for(oom) is entry_by_code("oom-killed")
    killed = Signal("ServiceSchedulerInitiated", "Task stopped by scheduler", "", 137)
    assert entry_for(killed) is entry_by_code("sigkill")
    graceful = Signal("ServiceSchedulerInitiated", "Scaling activity initiated", "", 143)
    assert entry_for(graceful) is entry_by_code("scheduler-stopped")
    assert not entry_by_code("scheduler-stopped").problem
    assert entry_for(Signal(exit_code=0)) is None
    assert entry_for(Signal()) is None


def test_the_troubleshooting_page_is_rendered_from_the_catalogue() -> None:
    call_command("troubleshooting_docs", "--check")
    from deployments.diagnosis.docs import troubleshooting_markdown

    text = troubleshooting_markdown()
    for entry in catalogue():
        assert f"### {entry.title}" in text and entry.example in text and entry.docs_url in text


def test_a_stale_troubleshooting_page_fails_the_check(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "troubleshooting.md").write_text("old\n")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match="stale"):
        call_command("troubleshooting_docs", "--check")
