"""Real services on 127.0.0.1 for the tests: the pieces every launcher shares.

The release tool talks to a package index, an OCI registry and a Docker engine; the tests
run the real programs (``pypiserver``, Debian's ``docker-registry``, ``dockerd``) rather than
mocks. Each launcher in this package (``pypi``, ``registry``, ``engine``) starts its service
as a child process in a temporary directory, polls until it answers, and stops it for sure:
terminate, wait, kill its whole process group, also when the start failed and, through
``atexit``, when the test session forgot to.

This module holds what they share: picking a free port, polling, the child-process handle,
the error type, the htpasswd writer, and serving an in-process HTTP server on a thread (the
contract servers: Discord, GitHub, Azure, trusted publishing, the token server). It imports
no launcher, so importing it stays cheap and the launchers can import it without a cycle.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

import requests

__all__ = [
    "LOCALHOST",
    "LocalService",
    "ServiceError",
    "ServiceProcess",
    "ThreadedHttpService",
    "free_port",
    "serve_http",
    "start_http_service",
    "stop_http",
    "wait_for_http",
    "wait_until",
    "write_htpasswd",
]

LOCALHOST = "127.0.0.1"
"""The only address a service binds to or a test talks to."""

_POLL_INTERVAL = 0.1
_T = TypeVar("_T")


class ServiceError(RuntimeError):
    """A local service did not start or answer; the message names the binary and its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now.

    The kernel picks it, so parallel test workers do not collide; another process may still
    take it before the service binds, which is why the launchers retry on "address in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    probe: Callable[[], _T | None],
    timeout: float,
    *,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> _T:
    """Call ``probe`` until it returns something other than None, and return that.

    Polls every 0.1 s. Fails fast with :class:`ServiceError` when ``process`` exits first
    (a crashed service never answers), and with :class:`TimeoutError` after ``timeout``
    seconds; both messages name ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"{what}: the process exited with code {process.returncode}")
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: no answer within {timeout:g} s")
        time.sleep(_POLL_INTERVAL)


def wait_for_http(
    url: str, timeout: float = 30.0, *, process: subprocess.Popen[bytes] | None = None
) -> requests.Response:
    """Poll ``url`` with GET until the server answers at all, and return that response.

    Any status counts as an answer (a registry with authentication says 401 on ``/v2/``).
    The session ignores proxy variables (``trust_env`` off): every target is 127.0.0.1.
    Raises like :func:`wait_until`.
    """
    with requests.Session() as session:
        session.trust_env = False

        def probe() -> requests.Response | None:
            try:
                return session.get(url, timeout=1, allow_redirects=False)
            except requests.RequestException:
                return None

        return wait_until(probe, timeout, what=f"waiting for {url}", process=process)


def write_htpasswd(path: Path, username: str, password: str) -> Path:
    """Write an htpasswd file with one bcrypt entry, and return its path.

    bcrypt is the only scheme Docker's registry accepts, and pypiserver (through passlib)
    reads it too. The cost is bcrypt's minimum (4): these are throw-away test secrets and
    the registry checks the password on every request of a push.
    """
    # Passlib 1.7.4 logs a traceback at WARNING while probing bcrypt >= 4.1's version;
    # the probe's failure is harmless and the noise would land in every test's log.
    logging.getLogger("passlib.handlers.bcrypt").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # passlib imports the stdlib crypt module, deprecated since Python 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile
        from passlib.context import CryptContext

    context = CryptContext(schemes=["bcrypt"], bcrypt__rounds=4, bcrypt__ident="2y")
    htpasswd = HtpasswdFile(str(path), new=True, context=context)
    htpasswd.set_password(username, password)
    htpasswd.save()
    return path


class ServiceProcess:
    """One service's child process: its own process group, output in a log file.

    ``stop`` sends SIGTERM, waits, then SIGKILLs the whole group (helpers such as dockerd's
    containerd included). Every started process is also stopped at interpreter exit, so a
    session that dies between start and its finalizer leaves nothing running.
    """

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = tuple(argv)
        self.name = name or argv[0]
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The running child, or None before ``start`` and after ``stop``."""
        return self._process

    def start(self) -> subprocess.Popen[bytes]:
        """Start the child with stdin closed and stdout/stderr appended to the log."""
        if self._process is not None:
            raise ServiceError(f"{self.name} is already running (pid {self._process.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        try:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        except OSError as error:
            self._close_log()
            raise ServiceError(f"cannot run {self.name}: {error}") from error
        _RUNNING.add(self)
        return self._process

    def stop(self, grace: float = 15.0) -> None:
        """Terminate, wait up to ``grace`` seconds, then kill the process group. Idempotent."""
        process, self._process = self._process, None
        _RUNNING.discard(self)
        if process is not None:
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=grace)
            # The group outlives its leader when helpers ignore SIGTERM or were orphaned.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self._close_log()

    def output(self) -> str:
        """What the child wrote to the log since its last start."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError as error:
            return f"(no log: {error})"

    def failure(self, what: str, lines: int = 20, noise: str | None = None) -> ServiceError:
        """An error for a failed start: the binary, what went wrong, its log and the log's end.

        Lines containing ``noise`` are left out of the tail (dockerd's grpc chatter).
        """
        kept = [line for line in self.output().splitlines() if not (noise and noise in line)]
        tail = "\n".join(kept[-lines:]).strip() or "(nothing logged)"
        return ServiceError(f"{self.name} {what}; its log {self.log_path} ends with:\n{tail}")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


_RUNNING: set[ServiceProcess] = set()


@atexit.register
def _stop_all() -> None:
    """Stop every child a session started and did not stop (a crash, a missed finalizer)."""
    for service in list(_RUNNING):
        service.stop(grace=5.0)


class LocalService:
    """The launchers' shape: ``start()`` returns the started service, ``stop()`` is idempotent.

    Used as a context manager, the service is stopped however the block ends.
    """

    def start(self) -> Self:
        """Start the service and wait until it answers."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the service; does nothing when it is not running."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_http_service(
    argv_for: Callable[[int], Sequence[str]],
    *,
    name: str,
    log_path: Path,
    ready_path: str,
    port: int | None = None,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> tuple[ServiceProcess, int]:
    """Start ``argv_for(port)`` and wait until ``http://127.0.0.1:PORT{ready_path}`` answers.

    Without a fixed ``port`` it takes a free one, and retries twice with another when the
    service reports "address already in use" (the port was taken between :func:`free_port`
    and the bind). On failure the process is stopped and a :class:`ServiceError` names the
    binary and ends with its log.
    """
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        chosen = port if port is not None else free_port()
        process = ServiceProcess(argv_for(chosen), log_path, name=name, env=env)
        popen = process.start()
        try:
            wait_for_http(f"http://{LOCALHOST}:{chosen}{ready_path}", timeout, process=popen)
        except (ServiceError, TimeoutError) as error:
            output = process.output()
            process.stop()
            if attempt < attempts and "address already in use" in output.lower():
                continue
            raise process.failure(f"did not start ({error})") from error
        except BaseException:
            process.stop()
            raise
        return process, chosen
    raise AssertionError("unreachable")  # pragma: no cover


def serve_http(
    handler: type[BaseHTTPRequestHandler], name: str
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``handler`` on a free port of 127.0.0.1 from a daemon thread named ``name``.

    Each request gets its own daemon thread. The loop polls every 50 ms, which is as long as
    :func:`stop_http` waits for it.
    """
    server = ThreadingHTTPServer((LOCALHOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return server, thread


def stop_http(server: ThreadingHTTPServer | None, thread: threading.Thread | None) -> None:
    """Stop what :func:`serve_http` started: the loop, the socket, then the thread."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=10)


class ThreadedHttpService(LocalService):
    """A contract server: the handler of ``_handler_class`` served on a thread of this process.

    ``name`` names the thread and the "not started" error. ``start`` serves a new handler
    class on a free port unless already serving; ``stop`` is idempotent.
    """

    name = "http"

    def __init__(self) -> None:
        self._served: tuple[ThreadingHTTPServer, threading.Thread] | None = None

    @property
    def port(self) -> int:
        """The port it listens on; only while started."""
        if self._served is None:
            raise ServiceError(f"the {self.name} server is not started")
        return int(self._served[0].server_address[1])

    @property
    def running(self) -> bool:
        return self._served is not None

    def start(self) -> Self:
        if self._served is None:
            self._served = serve_http(self._handler_class(), self.name)
        return self

    def stop(self) -> None:
        served, self._served = self._served, None
        if served is not None:
            stop_http(*served)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError
