"""compose.yaml and the Dockerfile cannot be run here (no image can be pulled),
so they are validated as far as this machine allows."""

from __future__ import annotations

import shutil
import subprocess

from tests.peers import REPO, peer_missing


def test_compose_file_is_valid(tmp_path) -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        peer_missing("docker-compose")
    shutil.copy(REPO / "compose.yaml", tmp_path / "compose.yaml")
    (tmp_path / "secrets").mkdir()
    for name in ("secret_key", "encryption_keys", "metrics_token"):
        (tmp_path / "secrets" / name).write_text("x")
    result = subprocess.run(
        [str(compose), "-f", "compose.yaml", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for service in ("web:", "worker:", "beat:", "watcher:", "redis:", "postgres:"):
        assert service in result.stdout
    assert result.stdout.count("healthcheck:") >= 4


def test_dockerfile_runs_as_non_root_on_a_slim_base() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    assert any(line.startswith("FROM python:3.11-slim") for line in lines)
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("USER root", "USER 0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)
