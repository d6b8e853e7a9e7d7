"""Settings come from the environment; production mode is strict."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from console.env import ConfigError, env_bool, env_int, env_secret
from tests.peers import REPO


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FLEETDECK_", "SECRET_KEY"))
    }
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "console.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_mode_passes_check_deploy_with_zero_warnings(tmp_path) -> None:
    result = _manage(
        {
            "SECRET_KEY": "a" * 20 + "-production-secret-" + "Zq9#xK" * 5,
            "DJANGO_DEBUG": "false",
            "FLEETDECK_DATA_DIR": str(tmp_path),
            "ALLOWED_HOSTS": "fleetdeck.example.com",
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_secret_key(tmp_path) -> None:
    result = _manage({"DJANGO_DEBUG": "false", "FLEETDECK_DATA_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file-" + "k" * 50)
    result = _manage(
        {"SECRET_KEY_FILE": str(key_file), "FLEETDECK_DATA_DIR": str(tmp_path)},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY[:12])",
    )
    assert result.stdout.strip().splitlines()[-1] == "from-a-file-", result.stderr


def test_typed_helpers_reject_garbage(monkeypatch) -> None:
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ConfigError, match="X_BOOL"):
        env_bool("X_BOOL")
    monkeypatch.setenv("X_INT", "3")
    with pytest.raises(ConfigError, match="at least 5"):
        env_int("X_INT", 10, minimum=5)
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ConfigError, match="integer"):
        env_int("X_INT", 10)
    monkeypatch.setenv("X_SECRET_FILE", "/nonexistent/secret")
    with pytest.raises(ConfigError, match="X_SECRET_FILE"):
        env_secret("X_SECRET")
    monkeypatch.setenv("X_BOOL", "Yes")
    assert env_bool("X_BOOL") is True
