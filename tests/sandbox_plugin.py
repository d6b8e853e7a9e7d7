"""pytest plugin: a real sandbox server process for the whole session.

Fixtures: ``sandbox_server`` (session; .url, .client), ``sandbox`` (resets
state before each test) and ``aws_env`` (fake credentials + AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.client import SandboxClient

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SandboxServer:
    url: str
    client: SandboxClient
    process: subprocess.Popen[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--clock",
            "manual",
            "--seed",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    client = SandboxClient(url)
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sandbox exited early ({proc.returncode}): {line}")
        try:
            client.health()
            break
        except Exception:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("sandbox did not become healthy within 30 s")
    yield SandboxServer(url=url, client=client, process=proc)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.client.reset()
    return sandbox_server


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, sandbox_server: SandboxServer) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox_server.url)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return sandbox_server.url
