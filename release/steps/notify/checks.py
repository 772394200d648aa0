"""Pre-flight checks of ``notify``: the changelog it would quote, the webhook URL, and
an announcement whose answer an earlier run lost.

Also here, because the checks need them and the step reuses them: the refusal of a lost answer
(``lost_answer_error``), and what Discord says of the webhook (``webhook_info``, asked
once per run; the Discord client is imported only there, after ``--offline`` has had
its say). The webhook URL itself is parsed in ``release.steps.notify.webhook``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from release.core.errors import ReleaseError
from release.run.notes import changelog_problems
from release.steps.notify.webhook import (
    EXPECTED_URL,
    WEBHOOK_ENV,
    Webhook,
    parse_webhook,
    register_webhook_secrets,
)

if TYPE_CHECKING:
    from release.core.config import Config
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext
    from release.steps.notify.discord import DiscordClient

STEP = "notify"


# -- what Discord says of the webhook -----------------------------------------

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
            from release.steps.notify.discord import DiscordClient, discord_timeout

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
