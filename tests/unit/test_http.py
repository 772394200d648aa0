"""The one HTTP policy and what the clients share: retries, loopback, masked Basic credentials."""

from __future__ import annotations

import base64
import time

import pytest

from release.core import console
from release.core.http import USER_AGENT, basic_authorization, is_loopback, same_origin, session


@pytest.mark.parametrize(
    ("hostname", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.1.example.org", False),
        ("registry.example.org", False),
        ("", False),
        (None, False),
    ],
)
def test_only_this_machine_is_loopback(hostname, loopback):
    assert is_loopback(hostname) is loopback


@pytest.mark.parametrize(
    ("url", "other", "same"),
    [
        ("http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/x/tags/list?n=2", True),
        ("https://pypi.org/simple/a/", "https://PYPI.org/simple/b/", True),
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5001/", False),
        ("https://harbor.example.org/", "http://harbor.example.org/", False),
        ("https://harbor.example.org/", "https://evil.example.org/", False),
    ],
)
def test_a_redirect_may_only_stay_on_the_same_scheme_host_and_port(url, other, same):
    assert same_origin(url, other) is same


def test_basic_credentials_are_masked_as_soon_as_they_exist():
    header = basic_authorization("robot", "hunter2-basic")
    encoded = base64.b64encode(b"robot:hunter2-basic").decode()
    assert header == f"Basic {encoded}"
    assert console.mask(f"Authorization: {header}") == "Authorization: Basic ***"


def test_a_direct_session_ignores_proxies_and_says_who_asks():
    with session(direct=True) as direct, session() as proxied:
        assert direct.trust_env is False and proxied.trust_env is True
        assert direct.headers["User-Agent"] == USER_AGENT


# -- the one retry policy, against a real HTTP server on 127.0.0.1 ---------------------------


class Answers:
    """A local server that answers each request with the next (status, headers) of a script."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.script = list(script)
        self.seen: list[str] = []
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                answers.seen.append(self.command)
                status, headers = answers.script.pop(0) if answers.script else (200, {})
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(key, value)
                self.end_headers()

            do_GET = do_PUT = do_POST = answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/x"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits urllib3 makes between tries, recorded instead of slept."""
    import urllib3.util.retry

    waited: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", waited.append)
    return waited


def test_the_policy_waits_one_two_four_seconds_and_never_more_than_the_cap():
    from release.core.http import POLICY

    assert [POLICY.wait(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert POLICY.wait(1, retry_after=3600) == POLICY.max_wait == 60.0
    assert POLICY.wait(20) == POLICY.max_wait


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3600", 3600.0), (" 5 ", 5.0), ("", None), (None, None), ("soon", None), ("-3", 0.0)],
)
def test_retry_after_is_read_in_seconds(value, seconds):
    from release.core.http import parse_retry_after

    assert parse_retry_after(value) == seconds


def test_an_http_date_retry_after_is_read_as_the_seconds_until_then():
    from email.utils import formatdate

    from release.core.http import parse_retry_after

    seconds = parse_retry_after(formatdate(time.time() + 120, usegmt=True))
    assert seconds is not None and 100 < seconds <= 120


def test_a_session_retries_a_503_with_the_policys_backoff(sleeps: list[float]):
    from release.core.http import POLICY

    server = Answers([(503, {})] * 3)
    try:
        response = session(direct=True).get(server.url, timeout=5)
    finally:
        server.close()
    assert response.status_code == 200
    assert server.seen == ["GET"] * 4
    assert sleeps == [POLICY.wait(1), POLICY.wait(2), POLICY.wait(3)]


def test_a_retry_after_of_an_hour_delays_a_request_by_at_most_the_cap(sleeps: list[float]):
    from release.core.http import POLICY

    server = Answers([(429, {"Retry-After": "3600"})] * 10)
    try:
        response = session(direct=True).get(server.url, timeout=5)
    finally:
        server.close()
    assert response.status_code == 429  # the last answer, once the attempts are spent
    assert len(server.seen) == POLICY.attempts
    assert sleeps and max(sleeps) == POLICY.max_wait


def test_a_post_is_never_repeated_by_the_session(sleeps: list[float]):
    server = Answers([(503, {})])
    try:
        response = session(direct=True).post(server.url, data=b"x", timeout=5)
    finally:
        server.close()
    assert (response.status_code, server.seen, sleeps) == (503, ["POST"], [])


def test_no_retry_starts_after_the_deadline(sleeps: list[float]):
    from dataclasses import replace

    from release.core.http import POLICY

    server = Answers([(503, {})] * 10)
    try:
        response = session(direct=True, policy=replace(POLICY, deadline=0.0)).get(
            server.url, timeout=5
        )
    finally:
        server.close()
    assert (response.status_code, server.seen) == (503, ["GET"])


def test_a_short_retry_after_waits_the_backoff_and_each_retry_is_said(
    sleeps: list[float], capsys: pytest.CaptureFixture[str]
):
    from release.core.http import POLICY

    server = Answers([(503, {"Retry-After": "0.25"}), (503, {"Retry-After": "30"})])
    try:
        response = session(direct=True).get(server.url + "?token=abc", timeout=5)
    finally:
        server.close()
    assert response.status_code == 200
    assert sleeps == [POLICY.wait(1), 30.0]
    said = capsys.readouterr().err
    assert "GET 127.0.0.1/x: HTTP 503; trying again in 1 s" in said
    assert "trying again in 30 s" in said
    assert "token" not in said  # the query string is not shown
