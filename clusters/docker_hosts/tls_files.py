"""TLS client material as files, for as long as one Docker client lives.

``docker.tls.TLSConfig`` wants files, so PEM text (decrypted by the caller from
what the database holds encrypted) is written to a private directory (0700, files
0600, in RAM under /dev/shm where there is one) that is removed when the client
closes. Material given as file paths passes through. No Docker SDK here: only
``clusters.docker_hosts.engine`` imports it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass


class MaterialError(Exception):
    """The material could not be written to private files (the message quotes none
    of it); the adapter reports it as a DockerHostError."""


# Where PEM text is materialised: RAM when the machine has it, so a key never
# reaches a disk; the system temporary directory otherwise.
_RAM_DIR = "/dev/shm"
_MATERIAL_PREFIX = "fleetdeck-tls-"
_MATERIAL_NAMES = ("ca.pem", "cert.pem", "key.pem")
_orphans_swept = False


def material_root() -> str:
    """The directory under which PEM text is materialised (per client)."""
    if os.path.isdir(_RAM_DIR) and os.access(_RAM_DIR, os.W_OK | os.X_OK):
        return _RAM_DIR
    return tempfile.gettempdir()


def _orphans_sweep(root: str) -> None:
    """Remove material directories left by processes that died without closing
    their clients (a SIGKILLed worker); once per process."""
    global _orphans_swept
    if _orphans_swept:
        return
    _orphans_swept = True
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            m = re.fullmatch(rf"{_MATERIAL_PREFIX}(\d+)-\w+", entry.name)
            if not m or not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            try:
                os.kill(int(m.group(1)), 0)
            except ProcessLookupError:
                shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                continue  # alive (or not ours to signal): keep it


def _material_write(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii", errors="strict") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    return path


@dataclass(frozen=True)
class TlsFiles:
    ca: str
    cert: str
    key: str
    directory: str | None  # the private directory PEM text was written to


@contextlib.contextmanager
def materialise(*, pems: tuple[str, str, str], paths: tuple[str, str, str]) -> Iterator[TlsFiles]:
    """File paths for TLS material (CA, client certificate, client key): PEM text is
    written to a private directory removed on exit; material given as paths passes
    through. Each PEM wins over the matching path."""
    if not any(pems):
        yield TlsFiles(*paths, directory=None)
        return
    root = material_root()
    _orphans_sweep(root)
    try:
        # mkdtemp makes the directory 0700: this user only.
        directory = tempfile.mkdtemp(prefix=f"{_MATERIAL_PREFIX}{os.getpid()}-", dir=root)
    except OSError as exc:
        raise MaterialError(f"Could not prepare the TLS material: {exc.strerror}") from None
    try:
        try:
            ca, cert, key = (
                _material_write(directory, name, pem) if pem else path
                for name, pem, path in zip(_MATERIAL_NAMES, pems, paths, strict=True)
            )
        except (OSError, UnicodeError):
            # Not chained: an encoding error would carry the text being written.
            raise MaterialError("Could not write the TLS material to a private file.") from None
        yield TlsFiles(ca, cert, key, directory=directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
