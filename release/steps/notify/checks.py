"""Pre-flight checks of ``notify``: the changelog it would quote, the webhook URL, and
an announcement whose answer an earlier run lost.

Also here, because the checks need them and the step reuses them: the changelog's
usual file names (``CHANGELOG_CANDIDATES``), the webhook URL's parsing
(``parse_webhook``; its token is masked the moment it is read,
``register_webhook_secrets``), the refusal of a lost answer (``lost_answer_error``),
and what Discord says of the webhook (``webhook_info``, asked once per run; the
Discord client is imported only there, after ``--offline`` has had its say).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from release.core import console
from release.core.errors import ReleaseError

if TYPE_CHECKING:
    from release.core.config import Config
    from release.core.git import Git
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext
    from release.steps.notify.step import DiscordClient

STEP = "notify"
# Where the announcement looks for the notes when ``discord.changelog`` names no file.
CHANGELOG_CANDIDATES = (
    "CHANGELOG.md",
    "CHANGELOG.rst",
    "CHANGES.md",
    "CHANGES.rst",
    "HISTORY.md",
    "HISTORY.rst",
    "NEWS.md",
    "NEWS.rst",
)
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


# -- the changelog --------------------------------------------------------------


def changelog_problems(git: Git, commit: str, config: Config) -> list[str]:
    """A changelog the announcement would quote must be UTF-8 text: checked before the
    release's first side effect (the announcement itself is written last)."""
    changelog = config.discord.changelog if config.discord else None
    problems = []
    for path in [changelog] if changelog else list(CHANGELOG_CANDIDATES):
        data = git.blob(commit, path)
        if data is None:
            continue
        if b"\0" in data:
            problems.append(f"{path} is not a text file (it holds NUL bytes)")
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(
                f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                f"{error.start}): save it as UTF-8"
            )
    return problems


# -- the webhook URL ------------------------------------------------------------


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
    from urllib.parse import parse_qsl

    query = tuple((k, v) for k, v in parse_qsl(parts.query) if k != "wait")
    path = parts.path.rstrip("/")
    base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return Webhook(id=match.group("id"), base=base, token=match.group("token"), query=query)


# What Discord said of each webhook (its channel and server), asked once per run: the
# check asks, and the step's post records the answer.
_webhook_info: dict[str, dict[str, Any]] = {}


def webhook_info(
    ctx: ReleaseContext, webhook: Webhook, client: DiscordClient | None = None
) -> dict[str, Any]:
    """``{"webhook_id", "channel_id", "guild_id"}`` of ``webhook``, from a GET of it
    (through ``client``, else a client of its own); raises when Discord refuses it."""
    if webhook.base not in _webhook_info:
        own = client is None
        if client is None:
            from release.steps.notify.step import DiscordClient, discord_timeout

            client = DiscordClient(webhook, timeout=discord_timeout(ctx.env))
        try:
            found = client.get_webhook()
        finally:
            if own:
                client.close()
        _webhook_info[webhook.base] = {
            "webhook_id": webhook.id,
            "channel_id": _text(found.get("channel_id")),
            "guild_id": _text(found.get("guild_id")),
        }
    return _webhook_info[webhook.base]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# -- an answer an earlier run lost ----------------------------------------------


def check_channel_hint(tag: str, where: str) -> str:
    """How to settle a lost answer (the channel last: a URL there stays clickable)."""
    return (
        f"look for it in the channel, then run `invoke notify --tag {tag} --assume-posted` "
        f"if it is there, or `invoke notify --tag {tag} --repost` if it is not; "
        f"the channel: {where}"
    )


def lost_answer_error(tag: str, where: str) -> ReleaseError:
    """The refusal of a run after one whose answer was lost (``sending``/``unknown``)."""
    return ReleaseError(
        f"an earlier run sent the announcement of {tag} to Discord but its answer was lost, "
        "so the message may have been posted, and notify will not guess",
        check_channel_hint(tag, where),
    )


def channel_of(record: Mapping[str, Any] | None, webhook_id: str | None = None) -> str:
    """Where the message would be: its channel's URL when recorded, else the webhook."""
    record = record or {}
    guild, channel = record.get("guild_id"), record.get("channel_id")
    if guild and channel:
        return f"https://discord.com/channels/{guild}/{channel}"
    wid = record.get("webhook_id") or webhook_id
    return f"the one Discord webhook {wid} posts to" if wid else "the webhook's Discord channel"


# -- the checks -------------------------------------------------------------------


def problems(ctx: ReleaseContext) -> list[str]:
    """The changelog is text, the webhook URL is set (unless ``--skip-credentials``) and
    well-formed, Discord knows the webhook (unless ``--offline``), and no earlier run
    lost its answer (unless ``--repost`` or ``--assume-posted`` settles it)."""
    register_webhook_secrets(ctx.env)
    found: list[str] = changelog_problems(ctx.git, ctx.commit, ctx.config)
    value = ctx.env.get(WEBHOOK_ENV, "").strip()
    if not value:
        if not ctx.options.skip_credentials:
            found.append(
                f"{WEBHOOK_ENV} is not set: set it to the channel's webhook URL ({EXPECTED_URL})"
            )
        return found
    try:
        webhook = parse_webhook(value)
    except ReleaseError as error:
        return [str(error)]
    if not ctx.options.offline:
        try:
            webhook_info(ctx, webhook)
        except ReleaseError as error:
            found.append(f"the Discord webhook {webhook.id} is not usable: {error}")
    flags = ctx.options.extra
    if not flags.get("repost") and not flags.get("assume_posted"):
        record = ctx.state.get(STEP)
        if record and record.get("status") in ("sending", "unknown"):
            found.append(str(lost_answer_error(ctx.tag, channel_of(record))))
    return found


def planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``notify``."""
    name = config.discord.project_name if config.discord else "?"
    wording = "rebuild" if version.kind.value == "post" else "release"
    return f"announce the {wording} of {name} {version.pep440} on Discord"


def published(record: Mapping[str, Any]) -> list[str]:
    """The summary's line for ``notify``: the message and its link."""
    guild, channel, message = (record.get(k) for k in ("guild_id", "channel_id", "message_id"))
    if not message:
        return [f"status: {record.get('status')}"]
    link = f"https://discord.com/channels/{guild}/{channel}/{message}" if guild else ""
    return [f"Discord message {message}" + (f": {link}" if link else "")]
