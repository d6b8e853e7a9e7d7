#!/usr/bin/env python3
"""Start the real peers the tests need, run a command, stop the peers.

    python scripts/services.py -- pytest -q

Starts a throwaway redis-server and PostgreSQL cluster on free loopback ports in
a temporary directory, exports REDIS_URL and FLEETDECK_TEST_POSTGRES_URL to the
command, and removes everything afterwards. Each run is private, so several
checkouts can run their suites at once. Standard library only: it runs before
the virtualenv matters.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"{name} did not open port {port} within {timeout:.0f}s")


@contextlib.contextmanager
def redis_server(workdir: str) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is missing: run `make system-deps`")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 15, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _pg_bindir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise SystemExit("PostgreSQL is missing: run `make system-deps`")
    return os.path.dirname(candidates[-1])


@contextlib.contextmanager
def postgres_server(workdir: str) -> Iterator[str]:
    bindir = _pg_bindir()
    datadir = os.path.join(workdir, "pg")
    os.makedirs(datadir)
    # initdb refuses to run as root; run the cluster as the postgres system user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        os.chown(datadir, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_user,
            f"{bindir}/initdb",
            "-D",
            datadir,
            "-U",
            "fleetdeck",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            *as_user,
            f"{bindir}/postgres",
            "-D",
            datadir,
            "-p",
            str(port),
            "-k",
            datadir,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30, proc, "postgres")
        for _ in range(50):  # the port opens a moment before connections are accepted
            ready = subprocess.run(
                [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                check=False,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        subprocess.run(
            [
                f"{bindir}/createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "fleetdeck",
                "fleetdeck",
            ],
            check=True,
        )
        yield f"postgres://fleetdeck@127.0.0.1:{port}/fleetdeck"
    finally:
        # pg_ctl reaches the postmaster itself: a signal sent to `runuser` is not
        # always passed on, and a stray postgres would outlive the run.
        subprocess.run(
            [*as_user, f"{bindir}/pg_ctl", "stop", "-D", datadir, "-m", "fast", "-w", "-t", "15"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    # `timeout` and CI runners stop us with SIGTERM: unwind, so the servers stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix="fleetdeck-peers-")
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    try:
        with redis_server(workdir) as redis_url, postgres_server(workdir) as pg_url:
            env = dict(os.environ, REDIS_URL=redis_url, FLEETDECK_TEST_POSTGRES_URL=pg_url)
            print(f"peers: redis {redis_url}  postgres {pg_url}", flush=True)
            return subprocess.call(command, env=env)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
