"""A fault-injecting HTTP proxy on 127.0.0.1, put in front of one real (or contract) service.

The release tool is pointed at the proxy instead of the service (the same environment
variables ``invoke demo`` uses: ``TWINE_REPOSITORY_URL``/``RELEASE_INDEX_URL``,
``RELEASE_REGISTRY``, ``DISCORD_WEBHOOK_URL``, ``RELEASE_AZURE_SCM_URL``). Every request is
forwarded unchanged (the ``Host`` header included, so a registry builds its upload
``Location`` URLs on the proxy) unless a rule chooses it for a fault:

- ``status``: answer 500, 503, 429 (with ``Retry-After``) ... instead of the service; with
  ``forward`` the service handles the request first and only its answer is replaced;
- ``reset``: close the connection without an answer (``forward``: after the service
  handled it, as when the answer is lost on the way back);
- ``hold``: keep the connection open without an answer until the client gives up (its
  read timeout), the test releases it, or ``hold_seconds`` pass, then close it. While a
  request is held the client process is blocked inside that request: the kill tests
  wait for it (``wait_held``) and SIGKILL the release there, deterministically;
- ``down()``/``up()``: the listener itself goes away, so new connections are refused
  (ECONNREFUSED) and open ones are cut, as when the service is not running.

A rule picks requests by method and a regular expression searched in the path (with the
query), lets ``skip`` matching requests through first, and then applies to ``count`` of
them (None: every one, a persistent fault). ``hits`` counts the requests it chose, so a
scenario can assert that its fault really happened. Every request is kept in ``seen``.

Bodies are read whole (chunked requests are de-chunked and forwarded with a length): the
test artifacts are small. Standard library only, one thread per connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

LOCALHOST = "127.0.0.1"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
FAULT_KINDS = ("status", "reset", "hold")


@dataclass
class Rule:
    """Which requests get which fault (see the module docstring)."""

    kind: str  # "status", "reset" or "hold"
    method: str | None = None  # None: any method
    path: str = ""  # a regular expression searched in the path and query
    status: int = 503
    retry_after: float | None = None  # 429/503: the Retry-After header (and Discord's body)
    count: int | None = 1  # None: persistent
    skip: int = 0  # matching requests let through before the fault applies
    forward: bool = False  # the service handles the request before the fault
    hold_seconds: float = 120.0
    hits: int = 0
    seen: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    held: threading.Condition = field(default_factory=threading.Condition)
    holding: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: one of {FAULT_KINDS}")

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return re.search(self.path, path) is not None

    @property
    def spent(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def describe(self) -> str:
        what = f"{self.status}" if self.kind == "status" else self.kind
        scope = f"{self.method or 'any'} {self.path or '/'}"
        times = "always" if self.count is None else f"x{self.count}"
        return f"{what} on {scope} {times}" + (" after forwarding" if self.forward else "")


@dataclass(frozen=True)
class Seen:
    """A request as the proxy saw it: what the client got (0: no answer), what the service
    answered (None: not forwarded), the body's sha256 and, for a package upload, its file."""

    method: str
    path: str
    status: int
    fault: str | None
    upstream: int | None
    body_sha256: str | None = None
    upload: str | None = None


class FaultProxy:
    """One proxy in front of ``upstream`` (``http://127.0.0.1:PORT``), named for messages."""

    def __init__(self, upstream: str, name: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in (LOCALHOST, "localhost") or parts.port is None:
            raise ValueError(f"the proxy forwards to 127.0.0.1 only, not {upstream}")
        self.name = name
        self.upstream = (parts.hostname, parts.port)
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self._port: int | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> FaultProxy:
        if self._server is None:
            self._listen()
        return self

    def stop(self) -> None:
        self.release()
        self._close_listener()

    def down(self) -> None:
        """Refuse every connection (the listener is closed) and cut the open ones."""
        self._close_listener()

    def up(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self._listen()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def _listen(self) -> None:
        handler = type("Handler", (_Handler,), {"proxy": self})
        server = ThreadingHTTPServer((LOCALHOST, self._port or 0), handler)
        server.daemon_threads = True
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fault-proxy-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self.lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    # -- what tests use --------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"the {self.name} proxy was never started")
        return self._port

    @property
    def host(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def fault(self, kind: str, method: str | None = None, path: str = "", **options: Any) -> Rule:
        """Add a rule (first added, first matched) and return it."""
        rule = Rule(kind, method, path, **options)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule (held requests are let go: their connections close)."""
        self.release()
        with self.lock:
            self.rules.clear()

    def release(self) -> None:
        """Let every held request go (closed without an answer, or answered if forwarded)."""
        with self.lock:
            rules = list(self.rules)
        for rule in rules:
            rule.released.set()

    def wait_held(self, rule: Rule, timeout: float = 120.0, count: int = 1) -> None:
        """Block until ``rule`` holds ``count`` requests at once (the client waits in them)."""
        with rule.held:
            if not rule.held.wait_for(lambda: rule.holding >= count, timeout=timeout):
                raise TimeoutError(
                    f"the {self.name} proxy held {rule.holding} request(s) for "
                    f"{rule.describe()} within {timeout:g} s, not {count}"
                )

    def requests(self, method: str | None = None, path: str = "") -> list[Seen]:
        with self.lock:
            seen = list(self.seen)
        return [
            s
            for s in seen
            if (method is None or s.method == method) and re.search(path, s.path) is not None
        ]

    # -- used by the handler -----------------------------------------------------------

    def choose(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.spent or not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.hits += 1
                return rule
        return None

    def note(self, seen: Seen) -> None:
        with self.lock:
            self.seen.append(seen)

    def track(self, connection: socket.socket, active: bool) -> None:
        with self.lock:
            if active:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.proxy.track(self.connection, True)

    def finish(self) -> None:
        self.proxy.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read proxy.seen

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _proxy(self) -> None:
        method, path = self.command, self.path
        body = self._body()
        digest = hashlib.sha256(body).hexdigest() if body else None
        upload = _upload_name(body) if method == "POST" else None

        def note(status: int, fault: str | None, upstream: int | None) -> None:
            self.proxy.note(Seen(method, path, status, fault, upstream, digest, upload))

        rule = self.proxy.choose(method, path)
        answer = None
        if rule is None or rule.forward:
            try:
                answer = self._forward(method, path, body)
            except OSError:
                answer = None
            if answer is None:  # the service itself is gone: as a refused connection
                note(0, "service unreachable", None)
                self._drop()
                return
        upstream = answer[0] if answer is not None else None
        # Noted before the answer is sent: once the client has it, it may send its next
        # request on another connection (another thread), which must be noted after this one.
        if rule is None:
            assert answer is not None
            note(answer[0], None, upstream)
            self._relay(method, *answer)
            return
        label = rule.describe()
        if rule.kind == "status":
            note(rule.status, label, upstream)
            self._status(rule)
            return
        if rule.kind == "hold":
            with rule.held:
                rule.holding += 1
                rule.held.notify_all()
            try:
                self._hold(rule)
            finally:
                with rule.held:
                    rule.holding -= 1
                    rule.held.notify_all()
        note(0, label, upstream)
        self._drop()

    def _hold(self, rule: Rule) -> None:
        """Wait until released, the timeout passes, or the client hangs up."""
        deadline = rule.hold_seconds
        step = 0.05
        waited = 0.0
        while waited < deadline and not rule.released.is_set():
            if self._client_gone():
                return
            rule.released.wait(step)
            waited += step

    def _client_gone(self) -> bool:
        try:
            self.connection.setblocking(False)
            try:
                data = self.connection.recv(1, socket.MSG_PEEK)
            finally:
                self.connection.setblocking(True)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return data == b""

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _forward(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
        host, port = self.proxy.upstream
        connection = http.client.HTTPConnection(host, port, timeout=300)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        except ConnectionRefusedError:
            return None
        finally:
            connection.close()

    def _relay(
        self, method: str, status: int, reason: str, headers: list[tuple[str, str]], data: bytes
    ) -> None:
        self.send_response_only(status, reason)
        length = None
        for name, value in headers:
            if name.lower() == "content-length":
                length = value
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if status >= 200 and status not in (204, 304):
            self.send_header(
                "Content-Length", length if method == "HEAD" and length else str(len(data))
            )
        self.end_headers()
        if method != "HEAD" and data:
            self.wfile.write(data)
        self.wfile.flush()

    def _status(self, rule: Rule) -> None:
        headers: dict[str, str] = {"Content-Type": "application/json"}
        body = json.dumps({"message": f"injected fault {rule.status}"})
        if rule.retry_after is not None:
            headers["Retry-After"] = f"{rule.retry_after:g}"
            if rule.status == 429:
                body = json.dumps(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": rule.retry_after,
                        "global": False,
                    }
                )
        data = body.encode()
        self.send_response_only(rule.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()


_FILENAME = re.compile(rb'name="content"; filename="([^"]+)"')


def _upload_name(body: bytes) -> str | None:
    """The file of a package upload (the multipart field ``content``), if this is one."""
    found = _FILENAME.search(body)
    return found.group(1).decode() if found else None
