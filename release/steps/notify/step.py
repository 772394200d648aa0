"""The community announcement on Discord (seed step 6): one message per release.

What is said is gathered by ``release.steps.notify.gather`` and rendered within Discord's
limits by ``release.steps.notify.announcement``; what is done (post, edit, refuse) is
decided by ``release.steps.notify.decision`` over the step's record
(``refs/notes/release/notify``); ``release.steps.notify.discord`` talks to Discord.

The record (no secret in it): ``{"status": "posted" | "sending" | "unknown" |
"failed" | "assumed-posted", "message_id", "channel_id", "guild_id",
"webhook_id", "tag", "digest", "posted_at", "edited_at"}``. A post is recorded as
``sending`` before it leaves, and as ``unknown`` when its answer is lost: Discord may
have posted it, so the next run refuses until the maintainer says which it is.

The webhook URL (``DISCORD_WEBHOOK_URL``) holds a token: it is registered with
the console's mask as soon as it is read and never reaches output, errors, the
state or the notes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError, StepError
from release.core.version import Kind
from release.run.step import Step, StepResult
from release.steps.notify import checks
from release.steps.notify.announcement import limit_problems, render_message
from release.steps.notify.checks import STEP, channel_of, check_channel_hint
from release.steps.notify.decision import Decision, decide, payload_digest
from release.steps.notify.discord import AnswerLost, DiscordClient, DiscordError, discord_timeout
from release.steps.notify.gather import gather
from release.steps.notify.webhook import (
    EXPECTED_URL,
    WEBHOOK_ENV,
    Webhook,
    parse_webhook,
    register_webhook_secrets,
)

if TYPE_CHECKING:
    from release.run.context import ReleaseContext


def show_message(payload: Mapping[str, Any], what: str) -> None:
    """Print the exact message (a rich rendering, then the JSON sent) on stdout."""
    from rich import box
    from rich.console import Group
    from rich.json import JSON
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.text import Text

    embed = payload["embeds"][0]
    parts: list[Any] = [Text(payload.get("content", ""))]
    parts.append(Text(embed.get("title", ""), style="bold"))
    if embed.get("url"):
        parts.append(Text(embed["url"], style="dim"))
    parts.append(Markdown(embed.get("description", "")))
    for item in embed.get("fields", []):
        parts.append(Text(item["name"], style="bold"))
        parts.append(Markdown(item["value"]))
    parts.append(Text(embed.get("footer", {}).get("text", ""), style="dim"))
    out = console.out()
    out.print(
        Panel(
            Group(*parts),
            title=what,
            title_align="left",
            box=box.ASCII if console.plain() else box.ROUNDED,
        )
    )
    out.print(JSON(json.dumps(payload, ensure_ascii=False)))


class NotifyStep:
    """Post the announcement once, edit it on every later run."""

    name = STEP

    # `invoke release` calls prepare before any side effect of the release, and publish (or,
    # in a dry run, describe) after the steps it announces succeeded.

    def cleanup(self, prepared: Decision | None) -> None:
        """Nothing is held after ``publish`` or ``describe``; see ``release.run.step``."""
        pass  # nothing held between prepare and publish

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Run as its own task, this step always records its lifecycle."""
        return False

    def prepare(self, ctx: ReleaseContext) -> Decision | None:
        """The local part: what this run will do, refusing now rather than after the rest of
        the release was published (a lost answer, a webhook that cannot edit the message),
        and the message rendered once and checked. None: a pre-release, nothing to announce."""
        if ctx.version.kind is Kind.PRE:
            return None
        _, _, decision = self._decide(ctx)
        if decision.action in ("post", "edit"):
            problems = limit_problems(render_message(gather(ctx)))
            if problems:
                raise ReleaseError(
                    f"the announcement breaks Discord's limits: {'; '.join(problems)}"
                )
        return decision

    def publish(self, ctx: ReleaseContext, prepared: Decision | None) -> StepResult:
        """Post or edit, rendered again with the links of what the release published."""
        return self.run(ctx)

    def describe(self, ctx: ReleaseContext, prepared: Decision | None) -> StepResult:
        """The dry run: the exact message that would be posted or edited."""
        return self.run(ctx)

    def _decide(
        self, ctx: ReleaseContext
    ) -> tuple[Webhook | None, dict[str, Any] | None, Decision]:
        register_webhook_secrets(ctx.env)
        value = ctx.env.get(WEBHOOK_ENV, "").strip()
        webhook = parse_webhook(value) if value else None
        flags = ctx.options.extra
        record = ctx.state.get(STEP)
        decision = decide(
            record,
            webhook.id if webhook else None,
            tag=ctx.tag,
            repost=bool(flags.get("repost")),
            assume_posted=bool(flags.get("assume_posted")),
        )
        return webhook, record, decision

    def run(self, ctx: ReleaseContext) -> StepResult:
        if ctx.version.kind is Kind.PRE:
            return StepResult(STEP, "skipped", "pre-releases are not announced")
        webhook, record, decision = self._decide(ctx)
        if decision.action == "nothing":
            # Recorded again: a run killed while it pushed the mark left it only locally.
            if record and not ctx.options.dry_run:
                record = ctx.state.record(STEP, record)
            return StepResult(STEP, "done", decision.reason, record=record or {})
        if decision.action == "mark":
            if ctx.options.dry_run:
                return StepResult(STEP, "dry-run", "would mark the announcement as posted")
            saved = ctx.state.record(
                STEP,
                {
                    **_kept(record),
                    "status": "assumed-posted",
                    "message_id": decision.message_id,
                    "tag": ctx.tag,
                },
            )
            return StepResult(STEP, "done", decision.reason, record=saved)
        payload = render_message(gather(ctx))
        problems = limit_problems(payload)
        if problems:  # render_message guarantees the limits; this guards the guarantee
            raise ReleaseError(f"the announcement breaks Discord's limits: {'; '.join(problems)}")
        if ctx.options.dry_run:
            what = (
                f"would edit message {decision.message_id}"
                if decision.action == "edit"
                else "would post"
            )
            show_message(payload, f"Discord message ({what})")
            summary = (
                f"would edit the announcement of {ctx.tag} (message {decision.message_id})"
                if decision.action == "edit"
                else f"would post the announcement of {ctx.tag}"
            )
            return StepResult(STEP, "dry-run", summary)
        if webhook is None:
            raise ReleaseError(f"{WEBHOOK_ENV} is not set", f"set it to {EXPECTED_URL}")
        client = DiscordClient(webhook, timeout=discord_timeout(ctx.env))
        try:
            info = checks.webhook_info(ctx, webhook, client)
            if decision.action == "edit":
                assert decision.message_id is not None
                return self._edit(ctx, client, decision.message_id, payload, record or {})
            return self._post(ctx, client, payload, info)
        finally:
            client.close()

    def _post(
        self,
        ctx: ReleaseContext,
        client: DiscordClient,
        payload: dict[str, Any],
        info: Mapping[str, Any],
    ) -> StepResult:
        base = {**info, "tag": ctx.tag, "digest": payload_digest(payload), "message_id": None}
        # Recorded before sending: a run killed while the request is out leaves
        # "sending", which the next run treats as an answer that never came.
        ctx.state.record(STEP, {**base, "status": "sending"})
        try:
            message = client.execute(payload)
        except AnswerLost as lost:
            ctx.state.record(STEP, {**base, "status": "unknown", "detail": lost.message})
            raise StepError(
                f"sent the announcement of {ctx.tag} to Discord, but {lost.message}, so the "
                "message may have been posted; until you say which, notify refuses to run again",
                check_channel_hint(ctx.tag, channel_of(base)),
            ) from None
        except ReleaseError:
            ctx.state.record(STEP, {**base, "status": "failed"})
            raise
        message_id = _text(message.get("id"))
        saved = ctx.state.record(
            STEP,
            {
                **base,
                "status": "posted",
                "message_id": message_id,
                "channel_id": _text(message.get("channel_id")) or base.get("channel_id"),
                "posted_at": _now(),
            },
        )
        return StepResult(
            STEP,
            "done",
            f"posted the announcement of {ctx.tag} (message {message_id})",
            details=_message_link(saved),
            record=saved,
        )

    def _edit(
        self,
        ctx: ReleaseContext,
        client: DiscordClient,
        message_id: str,
        payload: dict[str, Any],
        record: Mapping[str, Any],
    ) -> StepResult:
        try:
            client.edit(message_id, payload)
        except DiscordError as error:
            if error.status == 404:
                raise ReleaseError(
                    f"the announcement of {ctx.tag} (message {message_id}) is no longer in the "
                    f"channel ({error.message})",
                    f"pass --repost to post it again: `invoke notify --tag {ctx.tag} --repost`",
                ) from None
            raise
        saved = ctx.state.record(
            STEP,
            {
                **_kept(record),
                "status": "posted",
                "message_id": message_id,
                "tag": ctx.tag,
                "digest": payload_digest(payload),
                "edited_at": _now(),
            },
        )
        return StepResult(
            STEP,
            "done",
            f"already announced: edited message {message_id} (links refreshed), not posted again",
            details=_message_link(saved),
            record=saved,
        )


def _kept(record: Mapping[str, Any] | None) -> dict[str, Any]:
    keys = ("webhook_id", "channel_id", "guild_id", "message_id", "posted_at", "digest")
    return {k: record[k] for k in keys if record and k in record}


def _message_link(record: Mapping[str, Any]) -> tuple[str, ...]:
    guild, channel, message = (
        record.get("guild_id"),
        record.get("channel_id"),
        record.get("message_id"),
    )
    if guild and channel and message:
        return (f"https://discord.com/channels/{guild}/{channel}/{message}",)
    return ()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


NOTIFY: Step[Decision | None] = NotifyStep()
