"""`make run`'s access log leaves out successful htmx polls (console/access_log.py)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

from console.access_log import QuietPollsLogger, is_quiet_poll

POLL = {"REQUEST_METHOD": "GET", "HTTP_HX_REQUEST": "true"}


def test_only_successful_htmx_gets_are_quiet() -> None:
    assert is_quiet_poll(POLL, 200) and is_quiet_poll(POLL, 286) and is_quiet_poll(POLL, 304)
    assert not is_quiet_poll(POLL, 500) and not is_quiet_poll(POLL, 403)
    assert not is_quiet_poll({**POLL, "REQUEST_METHOD": "POST"}, 200)
    assert not is_quiet_poll({"REQUEST_METHOD": "GET"}, 200)  # a page load


def _logged(monkeypatch: pytest.MonkeyPatch, environ: dict[str, Any], status: int) -> list[str]:
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = QuietPollsLogger(cfg)
    lines: list[str] = []
    monkeypatch.setattr(logger.access_log, "info", lambda fmt, atoms: lines.append(fmt % atoms))
    req = SimpleNamespace(headers=[], method=environ["REQUEST_METHOD"], path="/x", query="")
    resp = SimpleNamespace(status=f"{status} X", status_code=status, sent=10, headers=[])
    env = {"RAW_URI": "/x", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", **environ}
    logger.access(resp, req, env, SimpleNamespace(seconds=0, microseconds=1000))
    return lines


def test_the_logger_class_drops_polls_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETDECK_LOG_LEVEL", raising=False)
    assert _logged(monkeypatch, POLL, 200) == []
    assert len(_logged(monkeypatch, POLL, 500)) == 1
    assert len(_logged(monkeypatch, {"REQUEST_METHOD": "GET"}, 200)) == 1
    monkeypatch.setenv("FLEETDECK_LOG_LEVEL", "DEBUG")
    assert len(_logged(monkeypatch, POLL, 200)) == 1
    logging.getLogger("gunicorn.access").handlers.clear()
