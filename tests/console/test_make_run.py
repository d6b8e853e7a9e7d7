"""`make run` starts the whole console and stops cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.peers import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _assert_password_once_in_the_final_block(output: str, password_file) -> None:  # type: ignore[no-untyped-def]
    """The first run prints the admin password once, in the block that says where to
    go, not earlier where the process logs scroll it away."""
    password = password_file.read_text().strip()
    assert output.count(password) == 1, output[-3000:]
    block = output.split("Fleetdeck is starting", 1)[1].split("Press Ctrl-C", 1)[0]
    assert f"Log in as 'admin' with password: {password}" in block


def _assert_polls_leave_no_access_log_line(port: int, log_path) -> None:  # type: ignore[no-untyped-def]
    """htmx polls (HX-Request) are not logged at INFO; a page load still is."""
    base = f"http://127.0.0.1:{port}/healthz"
    for url, headers in ((f"{base}?poll=1", {"HX-Request": "true"}), (f"{base}?page=1", {})):
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            assert r.status == 200
    deadline = time.monotonic() + 10
    while '"GET /healthz?page=1 ' not in log_path.read_text():
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.2)
    assert "/healthz?poll=1" not in log_path.read_text()


@pytest.mark.slow
def test_make_run_serves_healthz_and_stops_on_sigint(tmp_path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FLEETDECK_"))}
    env.update(
        {
            "PORT": str(port),
            "FLEETDECK_DATA_DIR": str(tmp_path / "data"),
            "FLEETDECK_SANDBOX_PORT": str(_free_port()),
            "REDIS_URL": "",
            "DATABASE_URL": "",
        }
    )
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            body = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and body is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        assert r.status == 200
                        body = json.loads(r.read())
                except OSError:
                    time.sleep(0.5)
            assert body is not None, log_path.read_text()[-3000:]
            assert body["database"]["ok"] and body["broker"]["ok"]
            output = log_path.read_text()
            assert f"http://127.0.0.1:{port}/" in output  # the URL to open is printed
            assert "admin-password" in output
            assert (tmp_path / "data" / "admin-password").exists()
            _assert_password_once_in_the_final_block(output, tmp_path / "data" / "admin-password")
            _assert_polls_leave_no_access_log_line(port, log_path)
            if os.path.exists("/var/run/docker.sock"):
                # The local engine is registered as a Docker host and watched.
                assert "registered local Docker host" in output, output[-3000:]
                deadline = time.monotonic() + 20
                while "following events" not in log_path.read_text():
                    assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                    time.sleep(0.5)
            # The demo streams its ECS events (follow_events makes the demo's stream
            # once the sandbox answers), so its pages show changes within a second.
            deadline = time.monotonic() + 60
            while "follow_events: demo stream ready" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.5)
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
    # Nothing of the process group survives.
    time.sleep(0.5)
    leftover = subprocess.run(
        ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert leftover == [], f"processes still running: {leftover}"
    # Every process stopped on its own: nothing had to be killed, nothing crashed.
    output = log_path.read_text()
    assert "sending SIGKILL" not in output, output[-3000:]
    assert "Traceback" not in output and "TypeError" not in output, output[-3000:]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
