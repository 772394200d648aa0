"""The Discord webhook URL: its parsing and the masking of its token.

Light (no network library): the checks, the Discord client and ``tasks.py`` share it.
The token is a secret: ``register_webhook_secrets`` masks it the moment the URL is read,
and no message here ever repeats the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from release.core import console
from release.core.errors import ReleaseError

WEBHOOK_ENV = "DISCORD_WEBHOOK_URL"
EXPECTED_URL = "https://discord.com/api/webhooks/<id>/<token>"

_DISCORD_HOSTS = frozenset(
    {
        "discord.com",
        "discordapp.com",
        "ptb.discord.com",
        "canary.discord.com",
        "ptb.discordapp.com",
        "canary.discordapp.com",
    }
)
_DISCORD_PATH = re.compile(r"/api(?:/v\d+)?/webhooks/(?P<id>\d+)/(?P<token>[\w.-]+)/?")
_LOCAL_PATH = re.compile(r"(?P<prefix>.*)/webhooks/(?P<id>\d+)/(?P<token>[\w.-]+)/?")


def _is_loopback(hostname: str | None) -> bool:
    from release.core.http import is_loopback  # light, but not needed at start-up

    return is_loopback(hostname)


@dataclass(frozen=True)
class Webhook:
    """A parsed webhook URL. Its token is a secret: ``repr`` never shows it."""

    id: str
    base: str = field(repr=False)  # scheme://host/.../webhooks/<id>/<token>
    token: str = field(repr=False)
    query: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # thread_id

    @property
    def loopback(self) -> bool:
        return _is_loopback(urlsplit(self.base).hostname)

    @property
    def execute_url(self) -> str:
        return f"{self.base}?{urlencode([*self.query, ('wait', 'true')])}"

    def message_url(self, message_id: str) -> str:
        """The URL of a message of this webhook; ``message_id`` must be a Discord id (digits),
        never a path: it comes from the state note."""
        from release.core.text import shown
        from release.run.records import DISCORD_ID

        if not DISCORD_ID.fullmatch(message_id):
            raise ReleaseError(
                f"refusing to edit Discord message {shown(message_id)}: not a Discord id",
                "check the state note refs/notes/release/notify",
            )
        url = f"{self.base}/messages/{message_id}"
        return f"{url}?{urlencode(self.query)}" if self.query else url


def register_webhook_secrets(env: Mapping[str, str]) -> None:
    """Mask the webhook URL and its token from now on (call before anything prints)."""
    value = env.get(WEBHOOK_ENV, "").strip()
    if not value:
        return
    console.register_secret(value)
    for pattern in (_DISCORD_PATH, _LOCAL_PATH):
        match = pattern.search(urlsplit(value).path)
        if match:
            console.register_secret(match.group("token"))
    # Whatever the shape, the last path segment is where a token would be.
    last = urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]
    console.register_secret(last if len(last) >= 16 else None)


def parse_webhook(value: str) -> Webhook:
    """The webhook of ``value``; refuses anything that is not a Discord webhook URL
    (or, for tests and demos, an http(s) URL on 127.0.0.1/localhost ending in
    ``/webhooks/<id>/<token>``). The message never repeats the URL."""
    value = value.strip()
    wrong = ReleaseError(
        f"{WEBHOOK_ENV} is not a Discord webhook URL",
        f"expected {EXPECTED_URL} (Server Settings > Integrations > Webhooks > Copy Webhook URL)",
    )
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise wrong from None
    if parts.username or parts.password or parts.fragment:
        raise wrong
    if _is_loopback(host) and parts.scheme in ("http", "https"):
        match = _LOCAL_PATH.fullmatch(parts.path)
    elif host in _DISCORD_HOSTS and parts.scheme == "https":
        match = _DISCORD_PATH.fullmatch(parts.path)
    else:
        match = None
    if match is None:
        raise wrong
    query = tuple((k, v) for k, v in parse_qsl(parts.query) if k != "wait")
    path = parts.path.rstrip("/")
    base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return Webhook(id=match.group("id"), base=base, token=match.group("token"), query=query)
