"""Run every benchmark under bench/ and rewrite docs/performance.md.

    make bench          (runs this under scripts/services.py, so Redis and
                         PostgreSQL are up and FLEETDECK_TEST_POSTGRES_URL is set)

Each benchmark prints its own figures, every one as a ratio against a baseline
measured in the same run (bare boto3, bare Docker SDK, AWS CLI, bare SQL). This
script only collects their output, with each benchmark's docstring (what it
measures and how) and the machine it ran on.
"""

from __future__ import annotations

import ast
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
DOC = REPO / "docs" / "performance.md"


def machine() -> str:
    cpus = os.cpu_count()
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown"
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {cpus} cores, {mem}, Python {platform.python_version()}"


def about(script: Path) -> str:
    """What the benchmark measures and how: its docstring (kept with the code)."""
    return (ast.get_docstring(ast.parse(script.read_text())) or "").strip()


def main() -> int:
    # locustfile.py is bench/load.py's locust user, not a benchmark of its own.
    scripts = sorted(
        p
        for p in BENCH.glob("*.py")
        if p.name not in {"run_all.py", "locustfile.py"} and not p.name.startswith("_")
    )
    sections = []
    status = 0
    for script in scripts:
        started = time.monotonic()
        print(f"== {script.name}", flush=True)
        result = subprocess.run(
            [sys.executable, str(script)], cwd=REPO, capture_output=True, text=True, timeout=1800
        )
        elapsed = time.monotonic() - started
        print(result.stdout, flush=True)
        if result.returncode != 0:
            status = 1
            print(result.stderr[-4000:], file=sys.stderr)
        body = result.stdout.strip() or "(no output)"
        outcome = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        sections.append(
            f"## {script.stem}\n\n{about(script)}\n\n"
            "Command: `make bench` (or `.venv/bin/python scripts/services.py"
            f" -- .venv/bin/python bench/{script.name}`), {elapsed:.0f} s, {outcome}.\n\n"
            f"```\n{body}\n```\n"
        )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    DOC.write_text(
        "# Performance\n\n"
        "Written by `make bench` (bench/run_all.py); do not edit by hand. Every figure is a\n"
        "ratio against a baseline measured in the same run on the same machine.\n\n"
        f"Measured {now} on: {machine()}.\n\n" + "\n".join(sections)
    )
    print(f"wrote {DOC.relative_to(REPO)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
