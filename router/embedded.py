"""An embedded MongoDB-compatible server (SecantusDB) for ``demo``, ``serve`` and tests when
``MONGO_URL`` is unset, so that a fresh machine needs nothing else. Production uses real MongoDB."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError


class EmbeddedMongoError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _executable() -> str:
    candidate = Path(sys.executable).with_name("secantusd-py")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("secantusd-py")
    if found is None:
        raise EmbeddedMongoError(
            "MONGO_URL is unset and the embedded server is not installed: "
            "run `make setup` (installs the 'embedded' extra, SecantusDB) or set MONGO_URL"
        )
    return found


def _die_with_parent() -> Callable[[], object] | None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` for the child, resolved in the parent so the child only makes
    one system call between fork and exec (secantusd may not act on SIGTERM promptly, hence SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return functools.partial(prctl, 1, signal.SIGKILL)


class EmbeddedMongo:
    """A SecantusDB server process on a free loopback port, storing its files under ``storage``."""

    def __init__(self, storage: Path, port: int | None = None, log_file: Path | None = None) -> None:
        self.storage = storage
        self.port = port or free_port()
        self.log_file = log_file or storage.parent / f"secantusd-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout_s: float = 30.0) -> None:
        self.spawn()
        self.wait_ready(timeout_s)

    def spawn(self) -> None:
        """Start the server process. Call from the main thread: the child is tied to this thread's life
        (``PR_SET_PDEATHSIG``), so a killed parent never leaves an orphan holding the data directory."""
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    _executable(),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--storage-path",
                    str(self.storage),
                    "--log-level",
                    "WARNING",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509 - one prctl call, no locks taken
            )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        assert self._proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                if "already being managed by another process" in tail:
                    raise EmbeddedMongoError(
                        f"another process is using {self.storage} (a server left running?); stop it or set "
                        f"DATA_DIR to another folder"
                    )
                raise EmbeddedMongoError(
                    f"secantusd-py exited with {self._proc.returncode}; see {self.log_file}"
                )
            try:
                client: MongoClient[dict[str, object]] = MongoClient(self.url, serverSelectionTimeoutMS=500)
                with client:
                    client.admin.command("ping")
                return
            except PyMongoError:
                time.sleep(0.1)
        self.stop()
        raise EmbeddedMongoError(f"secantusd-py did not answer within {timeout_s:.0f}s; see {self.log_file}")

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout_s)

    def kill(self) -> None:
        """Hard stop (tests of a database outage)."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None


@contextlib.contextmanager
def embedded_mongo(storage: Path) -> Iterator[EmbeddedMongo]:
    server = EmbeddedMongo(storage)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def mongo_url_or_embedded(url: str | None, data_dir: Path) -> AsyncIterator[str]:
    """Yield ``url`` if set, otherwise start an embedded server under ``data_dir`` for the duration."""
    if url:
        yield url
        return
    server = EmbeddedMongo(data_dir / "mongo")
    server.spawn()
    await asyncio.to_thread(server.wait_ready)
    try:
        yield server.url
    finally:
        await asyncio.to_thread(server.stop)
