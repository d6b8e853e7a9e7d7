"""``python -m sandbox serve|register-instance`` (see docs/sandbox.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def _serve(args: argparse.Namespace) -> int:
    # Fake credentials: the sandbox never talks to real AWS, and moto's
    # in-process calls (seeding) need some to sign with.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import logging

    # One line per request is noise for tests and the demo; keep warnings.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from sandbox.server import SandboxServer
    from sandbox.state import CLOCK, SETTINGS

    CLOCK.mode = args.clock
    CLOCK.tick_seconds = args.tick_seconds
    SETTINGS.docker_host = args.docker_host
    # Handlers first: a SIGTERM during seeding must still exit cleanly.
    done = threading.Event()

    def _stop(*_: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    server = SandboxServer(args.host, args.port, chaos=args.clock == "real" and args.seed == "demo")
    if args.seed == "demo":
        from sandbox import seed

        seed.seed("demo")
    if done.is_set():
        server.server.server_close()
        return 0
    server.start()
    print(f"sandbox listening on {server.url}", flush=True)
    done.wait()
    # Stop within a bounded time whatever a request or a tick is doing: once seen in a
    # loaded CI run, the process outlived `make run`'s 30 s grace and was SIGKILLed.
    # This is a test and demo peer with nothing to flush, so a hard exit is safe.
    stopper = threading.Thread(target=server.stop, name="sandbox-stop", daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    sys.stdout.flush()
    os._exit(0)


def _register(args: argparse.Namespace) -> int:
    from sandbox.client import SandboxClient

    client = SandboxClient(args.endpoint_url)
    out = client.register_instance(
        activation_id=args.activation_id,
        activation_code=args.activation_code,
        cluster=args.cluster,
        region=args.region,
        hostname=args.hostname,
        ip=args.ip,
        cpu=args.cpu,
        memory=args.memory,
    )
    print(out["instanceId"])
    print(out["containerInstanceArn"])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the local AWS peer")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--seed", choices=["demo", "none"], default="none")
    serve.add_argument("--clock", choices=["real", "manual"], default="real")
    serve.add_argument("--tick-seconds", type=float, default=2.0)
    serve.add_argument("--docker-host", default=None)
    serve.set_defaults(func=_serve)
    reg = sub.add_parser("register-instance", help="play ECS Anywhere's install script")
    reg.add_argument("--endpoint-url", required=True)
    reg.add_argument("--activation-id", required=True)
    reg.add_argument("--activation-code", required=True)
    reg.add_argument("--cluster", required=True)
    reg.add_argument("--region", default="us-east-1")
    reg.add_argument("--hostname")
    reg.add_argument("--ip")
    reg.add_argument("--cpu", type=int, default=2048)
    reg.add_argument("--memory", type=int, default=4096)
    reg.set_defaults(func=_register)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
