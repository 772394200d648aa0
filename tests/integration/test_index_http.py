"""The index client and the upload over real HTTP, against small servers on 127.0.0.1.

pypiserver cannot answer 503, redirect to another host, or take a 64 MiB upload cheaply,
so these behaviours are exercised against a ``http.server`` that does exactly that. Retries
follow the one HTTP policy (``release.core.http.POLICY``); ``time.sleep`` is recorded
instead of waited (the ``sleeps`` fixture), so the waits are asserted, not spent.
"""

from __future__ import annotations

import hashlib
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from release.core.errors import ReleaseError
from release.core.http import POLICY
from release.steps.pypi.index import Index, IndexFailure
from release.steps.pypi.upload_api import post_file

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Server:
    """Answers each request with the next of ``answers`` (the last one repeats)."""

    answers: list[Callable[[BaseHTTPRequestHandler], Answer]]
    requests: list[str] = field(default_factory=list)
    received: list[tuple[int, str]] = field(default_factory=list)  # (body bytes, sha256)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[ThreadingHTTPServer] = []

    def start(*answers: Callable[[BaseHTTPRequestHandler], Answer]) -> Server:
        state = Server(list(answers))

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                state.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("content-length") or 0)
                digest = hashlib.sha256()
                left = length
                while left:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    digest.update(chunk)
                    left -= len(chunk)
                if length:
                    state.received.append((length, digest.hexdigest()))
                index = min(len(state.requests) - 1, len(state.answers) - 1)
                status, headers, body = state.answers[index](self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        state.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        return state

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of a retry (urllib3's and the upload loop's), recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


def page(*files: str) -> Callable[[BaseHTTPRequestHandler], Answer]:
    links = "".join(f'<a href="/files/{f}#sha256=00">{f}</a>' for f in files)
    return lambda _: (200, {"content-type": "text/html"}, links.encode())


def status(
    code: int, body: bytes = b"", **headers: str
) -> Callable[[BaseHTTPRequestHandler], Answer]:
    return lambda _: (code, dict(headers), body)


def test_an_unknown_project_is_not_published(serve: Callable[..., Server]) -> None:
    server = serve(status(404, b"Not Found"))
    assert Index(server.url + "simple/").files("demo-node") == []


def test_5xx_answers_are_retried_until_the_index_answers(
    serve: Callable[..., Server], sleeps: list[float]
) -> None:
    server = serve(status(503), status(502), page("demo_node-1.0.0.tar.gz"))
    files = Index(server.url + "simple/").files("Demo_Node")
    assert [f.filename for f in files] == ["demo_node-1.0.0.tar.gz"]
    assert server.requests == ["GET /simple/demo-node/"] * 3
    assert all(0 < wait <= POLICY.max_wait for wait in sleeps)


def test_an_index_that_keeps_failing_is_tried_as_often_as_the_policy_says(
    serve: Callable[..., Server], sleeps: list[float]
) -> None:
    server = serve(status(503))
    with pytest.raises(IndexFailure, match="the index answered 503"):
        Index(server.url + "simple/").files("demo-node")
    assert len(server.requests) == POLICY.attempts


def test_a_long_retry_after_from_the_index_is_cut_to_the_policy_cap(
    serve: Callable[..., Server], sleeps: list[float]
) -> None:
    server = serve(status(429, **{"Retry-After": "3600"}), page("demo_node-1.0.0.tar.gz"))
    assert len(Index(server.url + "simple/").files("demo-node")) == 1
    assert len(server.requests) == 2
    assert sleeps == [POLICY.max_wait]


def test_a_refused_connection_is_retried_and_then_reported(sleeps: list[float]) -> None:
    with pytest.raises(IndexFailure, match=f"not reachable after {POLICY.attempts} attempts"):
        Index("http://127.0.0.1:9/simple/").files("demo-node")


def test_a_redirect_on_the_same_host_is_followed(serve: Callable[..., Server]) -> None:
    server = serve(status(301, location="/simple/demo-node/"), page("demo_node-1.0.0.tar.gz"))
    files = Index(server.url + "simple/").files("demo-node")
    assert len(files) == 1
    assert server.requests[1] == "GET /simple/demo-node/"


def test_a_redirect_to_another_host_is_never_followed(serve: Callable[..., Server]) -> None:
    other = serve(page("demo_node-6.6.6.tar.gz"))
    # localhost and 127.0.0.1 are different hosts for the rule, although both are this machine.
    server = serve(status(302, location=f"http://localhost:{other.port}/simple/demo-node/"))
    with pytest.raises(IndexFailure, match="redirects to another host"):
        Index(server.url + "simple/").files("demo-node")
    assert other.requests == []


def test_a_4xx_from_the_index_is_reported_with_its_message(serve: Callable[..., Server]) -> None:
    server = serve(
        status(403, b"<h1>Forbidden: this index is private</h1>", **{"content-type": "text/html"})
    )
    with pytest.raises(IndexFailure, match="403 Forbidden: Forbidden: this index is private"):
        Index(server.url + "simple/").files("demo-node")


def test_an_upload_streams_the_file_from_disk_with_flat_memory(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    big = tmp_path / "demo_node-1.0.0.tar.gz"
    size = 64 * 1024 * 1024
    with big.open("wb") as handle:
        handle.truncate(size)
    server = serve(status(200))
    seen: list[int] = []
    session = requests.Session()
    tracemalloc.start()
    try:
        response = post_file(session, server.url, [("name", "demo-node")], big, seen.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert server.received[0][0] > size
    assert peak < 16 * 1024 * 1024  # the file is 64 MiB: it was never held in memory
    assert seen[-1] == size


def test_an_upload_is_retried_on_5xx_and_then_succeeds(
    serve: Callable[..., Server], tmp_path: Path, sleeps: list[float]
) -> None:
    dist = tmp_path / "demo_node-1.0.0.tar.gz"
    dist.write_bytes(b"x" * 1000)
    server = serve(status(503), status(200))
    response = post_file(requests.Session(), server.url, [], dist, lambda _: None)
    assert response.status_code == 200
    assert len(server.received) == 2
    assert (
        server.received[0] == server.received[1] or server.received[0][0] == server.received[1][0]
    )
    assert sleeps == [POLICY.backoff]


def test_an_upload_answered_5xx_each_time_returns_the_last_answer_after_the_policy_tries(
    serve: Callable[..., Server], tmp_path: Path, sleeps: list[float]
) -> None:
    dist = tmp_path / "demo_node-1.0.0.tar.gz"
    dist.write_bytes(b"x" * 1000)
    server = serve(status(503))
    response = post_file(requests.Session(), server.url, [], dist, lambda _: None)
    assert response.status_code == 503
    assert len(server.received) == POLICY.attempts
    assert sleeps == [POLICY.wait(n) for n in range(1, POLICY.attempts)]


def test_a_long_retry_after_on_an_upload_is_cut_to_the_policy_cap(
    serve: Callable[..., Server], tmp_path: Path, sleeps: list[float]
) -> None:
    dist = tmp_path / "demo_node-1.0.0.tar.gz"
    dist.write_bytes(b"x" * 1000)
    server = serve(status(429, **{"Retry-After": "3600"}), status(200))
    response = post_file(requests.Session(), server.url, [], dist, lambda _: None)
    assert response.status_code == 200
    assert sleeps == [POLICY.max_wait]


def test_an_upload_that_never_connects_says_how_often_it_tried(
    tmp_path: Path, sleeps: list[float]
) -> None:
    dist = tmp_path / "demo_node-1.0.0.tar.gz"
    dist.write_bytes(b"x")
    with pytest.raises(ReleaseError, match=f"failed after {POLICY.attempts} attempts"):
        post_file(requests.Session(), "http://127.0.0.1:9/", [], dist, lambda _: None)
    assert len(sleeps) == POLICY.attempts - 1
