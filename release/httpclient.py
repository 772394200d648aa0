"""What every HTTP client of the tool shares (the index, the registry, Discord, Azure).

- :func:`session`: a ``requests`` session that says who is asking (``User-Agent:
  release-tasks``) and, for a loopback target (the tests, the demo), ignores the proxy
  variables and ``.netrc``;
- :func:`is_loopback` and :func:`same_origin`: where a request may go (plain HTTP only to
  loopback, redirects only to the same scheme, host and port);
- :func:`public_url`: a URL without its user information, fit to be shown;
- :func:`basic_authorization`: the ``Authorization: Basic`` value, registered as a secret
  the moment it exists (it is the password, base64-encoded).

``requests`` is imported only when a session is made, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from release import console

if TYPE_CHECKING:
    import requests

USER_AGENT = "release-tasks"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(hostname: str | None) -> bool:
    """Whether ``hostname`` (``::1`` or ``[::1]`` alike) is this machine."""
    return (hostname or "").strip("[]").lower() in LOOPBACK_HOSTS


def public_url(url: str) -> str:
    """``url`` without user information (an index URL may carry credentials)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs have the same scheme, host and port (where a redirect may lead)."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def basic_authorization(username: str, password: str) -> str:
    """``Basic <base64 of user:password>``; the encoded part is masked from now on."""
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    console.register_secret(encoded)
    return f"Basic {encoded}"


def session(*, direct: bool = False) -> requests.Session:
    """A session with the tool's ``User-Agent``; ``direct`` ignores proxies and ``.netrc``.

    Pass ``direct`` for loopback targets, and where the request carries its own credentials
    that no ``.netrc`` entry may replace.
    """
    import requests

    made = requests.Session()
    made.headers["User-Agent"] = USER_AGENT
    made.trust_env = not direct
    return made
