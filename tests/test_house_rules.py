"""House rules the code keeps (DESIGN.md, issue 13): no app function over 60 lines,
no app module over 400. Read with ``ast``, so a function's length is from its
``def`` (decorators not counted) to its last line, docstring and comments included."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.peers import REPO

APPS = ("clusters", "deployments", "console")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _app_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (REPO / app).rglob("*.py")
        if "migrations" not in path.relative_to(REPO).parts
    )


def _breaches(path: Path) -> list[str]:
    source = path.read_text()
    name = path.relative_to(REPO).as_posix()
    found = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: module of {lines} lines")
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    return found


def test_the_walk_sees_the_apps() -> None:
    modules = _app_modules()
    assert len(modules) > 100
    assert not [p for p in modules if "migrations" in p.parts]


def test_no_long_functions_or_modules() -> None:
    breaches = [b for path in _app_modules() for b in _breaches(path)]
    assert not breaches, "over the house limits:\n" + "\n".join(breaches)
