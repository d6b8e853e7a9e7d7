"""Real-engine helpers for the Docker tests: the engine, labelled containers, a
loopback TCP proxy to the unix socket (a second endpoint form), a watcher process.

Registered as a pytest plugin in tests/conftest.py (fixtures ``engine``, ``tcp_proxy``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

import docker
import pytest
from django.conf import settings

from tests.peers import REPO, database_url_for_subprocess, peer_missing

SOCKET_PATH = "/var/run/docker.sock"
DOCKER_URL = f"unix://{SOCKET_PATH}"
IMAGE = os.environ.get("FLEETDECK_TEST_IMAGE", "fleetdeck-busybox:latest")
TEST_LABEL = "org.fleetdeck.test"
# Exits on SIGTERM at once (a shell as PID 1 ignores it, so stop would wait 10 s).
SLEEPER = "trap 'exit 0' TERM; sleep 600 & wait"


@pytest.fixture
def engine() -> Iterator[Any]:
    """The machine's Docker engine; every container a test starts through
    ``run``/``create`` carries a per-test label and is removed at teardown."""
    try:
        client = docker.DockerClient(base_url=DOCKER_URL, version="1.41", timeout=180)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:
        peer_missing(f"the Docker engine or the test image (scripts/busybox-image.sh): {exc}")
    run_id = uuid.uuid4().hex[:10]
    client.fleetdeck_run_id = run_id  # type: ignore[attr-defined]
    yield Engine(client, run_id)
    for c in client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={run_id}"}):
        c.remove(force=True)
    client.close()


class Engine:
    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def labels(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {TEST_LABEL: self.run_id, **(extra or {})}

    def run(
        self, name: str, command: str = SLEEPER, *, raw_name: bool = False, **kwargs: Any
    ) -> Any:
        labels = self.labels(kwargs.pop("labels", None))
        return self.client.containers.run(
            IMAGE,
            ["sh", "-c", command],
            name=name if raw_name else f"fdt-{self.run_id}-{name}",
            labels=labels,
            detach=True,
            **kwargs,
        )

    def create(self, name: str, command: str = SLEEPER, **kwargs: Any) -> Any:
        labels = self.labels(kwargs.pop("labels", None))
        return self.client.containers.create(
            IMAGE, ["sh", "-c", command], name=f"fdt-{self.run_id}-{name}", labels=labels, **kwargs
        )

    def ours(self) -> list[Any]:
        return self.client.containers.list(
            all=True, filters={"label": f"{TEST_LABEL}={self.run_id}"}
        )


def ecs_labels(task_arn: str, *, cluster: str = "edge", container: str = "web") -> dict[str, str]:
    return {
        "com.amazonaws.ecs.cluster": cluster,
        "com.amazonaws.ecs.task-arn": task_arn,
        "com.amazonaws.ecs.container-name": container,
        "com.amazonaws.ecs.task-definition-family": "web",
        "com.amazonaws.ecs.task-definition-version": "1",
    }


class UnixTcpProxy:
    """Forwards 127.0.0.1:PORT to the engine's unix socket, so the same engine is
    reachable as ``tcp://127.0.0.1:PORT``. ``pause()`` drops every connection and
    refuses new ones (the host becomes unreachable); ``resume()`` listens again on
    the same port."""

    def __init__(self, socket_path: str = SOCKET_PATH, tls: Any = None) -> None:
        self.socket_path = socket_path
        self.tls = tls  # an ssl.SSLContext (server side) to speak TLS to clients
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.resume()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def resume(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def pause(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    close = pause

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.tls is not None:
                try:
                    client.settimeout(10)
                    client = self.tls.wrap_socket(client, server_side=True)
                    client.settimeout(None)
                except OSError:
                    client.close()
                    continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.socket_path)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def tcp_proxy() -> Iterator[UnixTcpProxy]:
    if not os.path.exists(SOCKET_PATH):
        peer_missing(f"the Docker socket {SOCKET_PATH}")
    proxy = UnixTcpProxy()
    yield proxy
    proxy.close()


@contextmanager
def watcher_process(log_path: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py watch_docker`` as a real process on the test database."""
    proc = watcher_start(log_path)
    try:
        yield proc
    finally:
        watcher_kill(proc, signal.SIGTERM)


def watcher_start(log_path: Path | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings_test",
            "DATABASE_URL": database_url_for_subprocess(),
            "FLEETDECK_DATA_DIR": str(settings.DATA_DIR),
        }
    )
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "watch_docker", "--rescan", "0.5"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def watcher_kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def tls_material(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject_key, cn, issuer_key, issuer_name, *, ca=False, server=False):  # type: ignore[no-untyped-def]
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer_name or name(cn))
            .public_key(subject_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        elif not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = key()
    ca_cert = cert(ca_key, "fleetdeck-test-ca", ca_key, None, ca=True)
    paths: dict[str, Path] = {}
    for label, obj in (("ca", ca_cert),):
        paths[label] = directory / f"{label}.pem"
        paths[label].write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    for label, server in (("server", True), ("client", False)):
        k = key()
        c = cert(k, f"fleetdeck-test-{label}", ca_key, ca_cert.subject, server=server)
        paths[f"{label}_cert"] = directory / f"{label}-cert.pem"
        paths[f"{label}_key"] = directory / f"{label}-key.pem"
        paths[f"{label}_cert"].write_bytes(c.public_bytes(serialization.Encoding.PEM))
        paths[f"{label}_key"].write_bytes(
            k.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return paths


def tls_server_context(paths: dict[str, Path], client_ca: Path | None = None) -> Any:
    """A server-side context with ``paths``' server certificate that requires a
    client certificate signed by ``client_ca`` (default: ``paths``' own CA).
    Assign it to ``UnixTcpProxy.tls`` to change what the proxy accepts: each new
    connection uses the context in place then."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["server_cert"], paths["server_key"])
    ctx.load_verify_locations(client_ca or paths["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class PemTexts(TypedDict):
    tls_ca_pem: str
    tls_cert_pem: str
    tls_key_pem: str


def pem_texts(paths: dict[str, Path]) -> PemTexts:
    """The CA, client certificate and client key as the form takes them."""
    return {
        "tls_ca_pem": paths["ca"].read_text(),
        "tls_cert_pem": paths["client_cert"].read_text(),
        "tls_key_pem": paths["client_key"].read_text(),
    }


@pytest.fixture
def tls_proxy(tmp_path) -> Iterator[tuple[UnixTcpProxy, dict[str, Path]]]:
    """The engine behind mutual TLS on 127.0.0.1 (client certificate required)."""
    if not os.path.exists(SOCKET_PATH):
        peer_missing(f"the Docker socket {SOCKET_PATH}")
    paths = tls_material(tmp_path)
    proxy = UnixTcpProxy(tls=tls_server_context(paths))
    yield proxy, paths
    proxy.close()
