"""The community announcement on Discord (seed step 6): one message per release.

What is said is decided by the pure functions of ``release.steps.notify.announcement``
(``render_message``: the payload within Discord's limits); this module gathers
their input: ``release_notes`` reads the changelog section of the version from
the tagged commit (Markdown ``## 4.2.0`` / ``## [4.2.0] - date`` or an underlined
heading, as in reStructuredText; ``discord.changelog``, else the usual file
names), or else the subjects of the commits since the previous release of the
same line (the highest final or post release tag in the tagged commit's history,
bump commits left out); ``gather`` adds the links from the configuration and the
release's state.

What is done is decided by ``decide`` over the step's record
(``refs/notes/release/notify``, DESIGN.md "Re-runs and state"):

- nothing recorded: post with ``?wait=true`` and record the message id;
- a message recorded: edit it (``PATCH .../messages/<id>``), never post again,
  also from a fresh clone that only has the git note;
- ``sending`` or ``unknown`` recorded (an answer lost after the request was sent,
  or a run killed while sending): refuse until ``--repost`` (post again) or
  ``--assume-posted`` (mark it done) says which it is.

The record (no secret in it): ``{"status": "posted" | "sending" | "unknown" |
"failed" | "assumed-posted", "message_id", "channel_id", "guild_id",
"webhook_id", "tag", "digest", "posted_at", "edited_at"}``.

Links come from the records of other steps when they exist, and otherwise from
the configuration: ``upload`` (``files``: file names or ``{"name"|"filename"|
"path": ...}``; ``projects``/``distributions``/``packages``: names) gives the
project pages on the index; ``push-image`` (``images``: a list of, or a map of
names to, ``{"name", "tags"|"references", "channels"|"moves"}``, a move being
``{"channel"|"tag", "from"|"old", "to"|"new"}``) gives the image tags and channel
moves. A GitHub remote adds the compare view from the previous release.

The webhook URL (``DISCORD_WEBHOOK_URL``) holds a token: it is registered with
the console's mask as soon as it is read and never reaches output, errors, the
state or the notes. ``RELEASE_DISCORD_TIMEOUT`` (seconds, default 30) is how
long an answer is awaited after sending.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError, StepError, UsageError
from release.core.http import session
from release.core.version import Kind, ReleaseVersion, try_parse_tag
from release.run.step import StepResult
from release.steps.notify import checks
from release.steps.notify.announcement import (
    MAX_COMMITS,
    Announcement,
    ImageLinks,
    Notes,
    announcement_links,
    changelog_section,
    commit_message_pattern,
    distribution_names,
    github_anchor,
    github_repository,
    limit_problems,
    pushed_images,
    render_message,
)

# Shared with the checks; tasks.py and tests import some here.
from release.steps.notify.checks import (
    CHANGELOG_CANDIDATES,
    EXPECTED_URL,
    STEP,
    WEBHOOK_ENV,
    Webhook,
    channel_of,
    check_channel_hint,
    lost_answer_error,
    parse_webhook,
    register_webhook_secrets,
)

if TYPE_CHECKING:
    import requests

    from release.core.config import Config
    from release.core.git import Git
    from release.run.context import ReleaseContext

TIMEOUT_ENV = "RELEASE_DISCORD_TIMEOUT"


# -- gathering (reads git and the state) --------------------------------------


def previous_release(git: Git, commit: str, version: ReleaseVersion, prefix: str) -> str | None:
    """The tag of the previous release of the same line: the highest final or post
    release below ``version`` in the history of ``commit`` (pre-releases are not announced)."""
    merged = git.run("tag", "--merged", commit, "--list", f"{prefix}*", check=False)
    best: tuple[ReleaseVersion, str] | None = None
    for tag in merged.stdout.split():
        found = try_parse_tag(tag, prefix)
        if found is None or found.kind is Kind.PRE or not found < version:
            continue
        if best is None or best[0] < found:
            best = (found, tag)
    return best[1] if best else None


def commit_subjects(git: Git, commit: str, since: str | None, bump: re.Pattern[str]) -> list[str]:
    """The subjects of the commits since ``since`` (newest first), bump commits left out."""
    span = f"{since}..{commit}" if since else commit
    result = git.run(
        "log", "--no-merges", f"--max-count={MAX_COMMITS}", "--format=%s", span, check=False
    )
    if result.returncode != 0:
        return []
    return [s for s in result.stdout.splitlines() if s.strip() and not bump.fullmatch(s.strip())]


def release_notes(
    git: Git,
    commit: str,
    version: ReleaseVersion,
    config: Config,
    previous_tag: str | None,
    github: str | None,
) -> Notes:
    """The changelog section of ``version``, else the commit subjects since the previous release."""
    changelog = config.discord.changelog if config.discord else None
    candidates = [changelog] if changelog else list(CHANGELOG_CANDIDATES)
    for path in candidates:
        text = git.show(commit, path)
        if text is None:
            continue
        markdown = not path.lower().endswith((".rst", ".txt"))
        found = changelog_section(text, version.pep440, markdown)
        if found is None and not path.lower().endswith((".md", ".markdown", ".rst")):
            found = changelog_section(text, version.pep440, not markdown)
        if found is None:
            if changelog:
                console.notice(
                    f"{path} has no section for {version.pep440}: the announcement lists "
                    "the commits since the previous release"
                )
            continue
        body, heading = found
        url = None
        if github:
            url = f"{github}/blob/{commit}/{path}"
            if markdown:
                url += f"#{github_anchor(heading.text)}"
        return Notes(text=body, source=path, url=url)
    subjects = commit_subjects(
        git, commit, previous_tag, commit_message_pattern(config.commit_message)
    )
    since = f"the commits since {previous_tag}" if previous_tag else "the commits of this release"
    url = f"{github}/compare/{previous_tag}...{commit}" if github and previous_tag else None
    return Notes(text="\n".join(f"- {s}" for s in subjects), source=since, url=url)


def package_names_from_config(git: Git, commit: str, config: Config) -> list[str]:
    """The ``[project] name`` of every configured package (the folder name when there is none)."""
    import tomllib

    names = []
    for package in config.packages:
        name = PurePosixPath(package.path).name
        text = git.show(commit, str(PurePosixPath(package.path) / "pyproject.toml"))
        if text:
            try:
                name = str(tomllib.loads(text).get("project", {}).get("name") or name)
            except tomllib.TOMLDecodeError:
                pass
        names.append(name)
    return names


def changed_since_base(
    git: Git, commit: str, version: ReleaseVersion, config: Config
) -> list[str] | None:
    """The files a post release changed since its base ``X.Y.Z`` (None: no base tag here)."""
    base = git.rev(version.base.tag(config.tag_prefix))
    return None if base is None else git.changed_files(base, commit)


def gather(ctx: ReleaseContext) -> Announcement:
    """What the announcement of ``ctx``'s release says: notes, links, title."""
    config = ctx.config
    project = config.discord.project_name if config.discord else ctx.git.root.name
    previous = previous_release(ctx.git, ctx.commit, ctx.version, config.tag_prefix)
    github = github_repository(ctx.git.remote_url(config.remote))
    notes = release_notes(ctx.git, ctx.commit, ctx.version, config, previous, github)
    distributions = distribution_names(ctx.state.get("upload"))
    if not distributions and ctx.plan.runs("upload"):
        distributions = package_names_from_config(ctx.git, ctx.commit, config)
    host = config.registry.host if config.registry else None
    images = pushed_images(ctx.state.get("push-image"), host)
    if not images and ctx.plan.runs("push-image"):
        images = [
            ImageLinks(f"{host}/{name}" if host else name, tags)
            for name, tags in ctx.plan.image_tags.items()
        ]
    sections, url = announcement_links(
        version=ctx.version,
        tag=ctx.tag,
        previous_tag=previous,
        index_url=config.pypi.index_url,
        distributions=distributions,
        images=images,
        github=github,
    )
    stamp = datetime.fromtimestamp(ctx.git.commit_time(ctx.commit), tz=UTC).isoformat()
    rebuilt_with = "updated dependencies"
    if ctx.version.kind is Kind.POST and config.ui is not None:
        changed = changed_since_base(ctx.git, ctx.commit, ctx.version, config)
        ui = f"{config.ui.path.rstrip('/')}/"
        if changed and all(name.startswith(ui) for name in changed):
            rebuilt_with = "an updated UI"
    return Announcement(
        project=project,
        version=ctx.version,
        tag=ctx.tag,
        commit=ctx.commit,
        notes=notes,
        sections=sections,
        url=url,
        timestamp=stamp,
        rebuilt_with=rebuilt_with,
    )


# -- the webhook ----------------------------------------------------------------


class AnswerLost(ReleaseError):
    """The request was sent and no answer came: Discord may have acted on it."""


class DiscordError(ReleaseError):
    """Discord refused a request (4xx) and said why."""

    def __init__(self, status: int, code: Any, text: str, details: Sequence[str]) -> None:
        detail = f": {'; '.join(details[:3])}" if details else ""
        code_text = f", code {code}" if code not in (None, "") else ""
        super().__init__(f"Discord answered {status} ({text}{code_text}){detail}")
        self.status = status
        self.code = code


def error_details(errors: Any, path: str = "") -> list[str]:
    """Discord's nested ``errors`` object as ``embeds.0.description: message`` lines."""
    found: list[str] = []
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            if key == "_errors" and isinstance(value, list):
                for item in value:
                    if isinstance(item, Mapping):
                        found.append(
                            f"{path or 'message'}: {item.get('message', item.get('code'))}"
                        )
            else:
                found += error_details(value, f"{path}.{key}" if path else str(key))
    return found


def retry_delay(headers: Mapping[str, str], body: Any) -> float | None:
    """How long a 429 asks to wait: ``retry_after`` in the JSON body, else ``Retry-After``."""
    if isinstance(body, Mapping):
        value = body.get("retry_after")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
    header = headers.get("Retry-After") or headers.get("retry-after")
    if header:
        try:
            seconds = float(header)
        except ValueError:
            return None
        return seconds if seconds >= 0 else None
    return None


class DiscordClient:
    """Discord's webhook endpoints, with its rate limits and faults handled.

    - 429: waits ``retry_after`` (body, else ``Retry-After``) and tries again;
    - 5xx, and connection errors before the request was sent: tries again with
      a bounded exponential backoff;
    - no answer after the request was sent: ``AnswerLost`` for a post (Discord
      may have posted it); an edit or a read is simply tried again;
    - 4xx: ``DiscordError`` with Discord's own message; redirects are not followed.
    """

    ATTEMPTS = 5
    RATE_LIMITS = 5
    MAX_WAIT = 120.0
    BACKOFF = 0.5

    def __init__(
        self,
        webhook: Webhook,
        *,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.webhook = webhook
        self.timeout = timeout
        self._sleep = sleep
        # Loopback targets (tests, demo) never go through a proxy or .netrc.
        self._session = session(direct=webhook.loopback)

    def close(self) -> None:
        self._session.close()

    def get_webhook(self) -> dict[str, Any]:
        return self._request("GET", self.webhook.base, None, replayable=True)

    def execute(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", self.webhook.execute_url, payload, replayable=False)

    def edit(self, message_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._request(
            "PATCH", self.webhook.message_url(message_id), payload, replayable=True
        )

    def _request(
        self, method: str, url: str, payload: Mapping[str, Any] | None, *, replayable: bool
    ) -> dict[str, Any]:
        import requests

        failures = 0
        rate_limited = 0
        last = ""
        while True:
            try:
                response = self._session.request(
                    method,
                    url,
                    json=payload,
                    timeout=(min(10.0, self.timeout), self.timeout),
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                sent = not _before_sending(error)
                last = _describe(error, self.timeout)
                if sent and not replayable:
                    raise AnswerLost(last) from None
                failures += 1
                if failures >= self.ATTEMPTS or not isinstance(
                    error, (requests.ConnectionError, requests.Timeout)
                ):
                    raise ReleaseError(
                        f"could not reach Discord ({last}, {failures} attempt(s))",
                        "check the network and run the same command again",
                    ) from None
                self._backoff(failures, last)
                continue
            body = _json(response)
            status = response.status_code
            if status == 429:
                rate_limited += 1
                delay = retry_delay(response.headers, body)
                if delay is None:
                    delay = self.BACKOFF * 2**rate_limited
                if rate_limited > self.RATE_LIMITS or delay > self.MAX_WAIT:
                    raise ReleaseError(
                        f"Discord keeps rate-limiting the webhook (asked to wait {delay:.0f} s)",
                        "run the same command again later",
                    )
                console.info(f"notify: Discord rate limit: waiting {delay:.2f} s, then again")
                self._sleep(delay)
                continue
            if status >= 500:
                failures += 1
                last = f"{status} {response.reason or ''}".strip()
                if failures >= self.ATTEMPTS:
                    raise ReleaseError(
                        f"Discord answered {last} {failures} times",
                        "Discord has trouble: run the same command again later",
                    )
                self._backoff(failures, last)
                continue
            if 300 <= status < 400:
                raise ReleaseError(
                    f"Discord answered with a redirect ({status}), which is not followed",
                    f"check {WEBHOOK_ENV}",
                )
            if status >= 400:
                message = body.get("message", response.reason) if isinstance(body, dict) else ""
                code = body.get("code") if isinstance(body, dict) else None
                errors = body.get("errors") if isinstance(body, dict) else None
                raise DiscordError(
                    status, code, str(message or response.reason), error_details(errors)
                )
            return body if isinstance(body, dict) else {}

    def _backoff(self, failures: int, why: str) -> None:
        delay = self.BACKOFF * 2 ** (failures - 1)
        console.info(f"notify: Discord: {why}; trying again in {delay:.1f} s")
        self._sleep(delay)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _before_sending(error: Exception) -> bool:
    """Whether ``error`` happened before any byte of the request left (safe to send again)."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.Timeout):
        reason = error.args[0] if error.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def _describe(error: Exception, timeout: float) -> str:
    """A short description of a transport error that never includes the URL."""
    import requests

    if isinstance(error, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return f"no answer came within {timeout:g} s"
    if _before_sending(error):
        return "the connection was refused or the host is unknown"
    if isinstance(error, requests.ConnectionError):
        return "the connection broke before the answer came"
    return console.mask(type(error).__name__)


# -- what to do (pure) ----------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """``post``, ``edit`` (``message_id``), ``mark`` (--assume-posted) or ``nothing``."""

    action: str
    message_id: str | None = None
    reason: str = ""


def decide(
    record: Mapping[str, Any] | None,
    webhook_id: str | None,
    *,
    tag: str,
    repost: bool = False,
    assume_posted: bool = False,
) -> Decision:
    """What this run does, from the step's record and the flags; refuses with the fix."""
    if repost and assume_posted:
        raise UsageError("--repost and --assume-posted contradict each other: give one")
    previous_id = str(record["message_id"]) if record and record.get("message_id") else None
    if assume_posted:
        return Decision("mark", previous_id, "marked as posted (--assume-posted)")
    if repost:
        return Decision("post", None, "posted again (--repost)")
    status = record.get("status") if record else None
    if record is None or status == "failed":
        return Decision("post", None, "posted")
    if status in ("sending", "unknown"):
        raise lost_answer_error(tag, channel_of(record))
    if previous_id is None:
        return Decision("nothing", None, "already announced (marked as posted; no message to edit)")
    recorded_webhook = record.get("webhook_id")
    if webhook_id and recorded_webhook and str(recorded_webhook) != webhook_id:
        raise ReleaseError(
            f"the announcement of {tag} was posted through Discord webhook {recorded_webhook}, "
            f"and {WEBHOOK_ENV} names webhook {webhook_id}, which cannot edit it",
            "use the same webhook, or pass --repost to post a new message",
        )
    return Decision("edit", previous_id, f"edited message {previous_id}")


# -- the step -------------------------------------------------------------------


def payload_digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


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


def notify_flags(repost: bool, assume_posted: bool) -> dict[str, bool]:
    """The step's flags for ``run_step(extra=...)``; refuses the contradictory pair (exit 2)."""
    if repost and assume_posted:
        raise UsageError("--repost and --assume-posted contradict each other: give one")
    return {"repost": repost, "assume_posted": assume_posted}


class NotifyStep:
    """Post the announcement once, edit it on every later run."""

    name = STEP

    # `invoke release` calls prepare before any side effect of the release, and publish (or,
    # in a dry run, describe) after the steps it announces succeeded.

    def cleanup(self, prepared: Decision | None) -> None:
        """Nothing is held after ``publish`` or ``describe``; see ``release.run.step``."""
        pass  # nothing held between prepare and publish

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


def discord_timeout(env: Mapping[str, str]) -> float:
    """How long an answer is awaited after sending (``RELEASE_DISCORD_TIMEOUT``, seconds)."""
    raw = env.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{TIMEOUT_ENV} must be more than 0 seconds")
    return value


NOTIFY = NotifyStep()
