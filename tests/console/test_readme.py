"""The README's configuration table lists every variable the code reads."""

from __future__ import annotations

import re

from tests.peers import REPO

READERS = re.compile(r"env_(?:str|bool|int|list|secret|rates)\(\s*\"([A-Z0-9_]+)\"", re.S)


def test_every_environment_variable_is_documented() -> None:
    names: set[str] = set()
    for package in ("console", "clusters", "deployments"):
        for path in (REPO / package).rglob("*.py"):
            names.update(READERS.findall(path.read_text()))
    assert len(names) > 20  # the scan itself works
    readme = (REPO / "README.md").read_text()
    missing = sorted(name for name in names if f"`{name}" not in readme)
    assert missing == []


def test_readme_shows_the_two_commands_first() -> None:
    readme = (REPO / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make run" in first_block and "make test" in first_block
    assert readme.index("make run") < readme.index("## Configuration")
