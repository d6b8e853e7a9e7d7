"""Build the WSGI app (control -> counting/faults -> moto) and serve it."""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from sandbox import cloudmap_api, ecs_api, scheduler, service_deployments_api, ssm_activations
from sandbox.control import ControlApp
from sandbox.faults import AwsMiddleware
from sandbox.state import CLOCK

log = logging.getLogger(__name__)


def build_app() -> ControlApp:
    ecs_api.apply()
    service_deployments_api.apply()
    ssm_activations.apply()
    cloudmap_api.apply()
    aws = AwsMiddleware(DomainDispatcherApplication(create_backend_app))
    return ControlApp(aws, aws)


class SandboxServer:
    """moto's threaded werkzeug server with the sandbox's layers in front.

    Mirrors ``moto.moto_server.threaded_moto_server.ThreadedMotoServer`` but
    serves our wrapped app and, with the real clock, runs the scheduler loop.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, chaos: bool = False) -> None:
        self.app = build_app()
        self.server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=MotoRequestHandler
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.chaos = chaos

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def start(self) -> None:
        t = threading.Thread(target=self.server.serve_forever, name="sandbox-http", daemon=True)
        t.start()
        self._threads.append(t)
        if CLOCK.mode == "real":
            loop = threading.Thread(target=self._clock_loop, name="sandbox-clock", daemon=True)
            loop.start()
            self._threads.append(loop)

    def _clock_loop(self) -> None:
        rng = random.Random()
        while not self._stop.wait(CLOCK.tick_seconds):
            try:
                if self.chaos:
                    scheduler.chaos(rng)
                scheduler.tick(1)
            except Exception:  # keep the demo alive, say why in the log
                log.exception("scheduler tick failed")

    def stop(self, *_: Any) -> None:
        self._stop.set()
        self.server.shutdown()
        for t in self._threads:
            t.join(timeout=5)
