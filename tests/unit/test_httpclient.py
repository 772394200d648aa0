"""What the HTTP clients share: loopback and same-origin decisions, masked Basic credentials."""

from __future__ import annotations

import base64

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
