"""What a run of ``notify`` does, from the step's record and the flags: pure.

- nothing recorded (or a failed post): post, and record the message id;
- a message recorded: edit it, never post again, also from a fresh clone that only has
  the git note;
- ``sending`` or ``unknown`` recorded (an answer lost after the request was sent, or a
  run killed while sending): refuse until ``--repost`` (post again) or
  ``--assume-posted`` (mark it done) says which it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from release.core.errors import ReleaseError, UsageError
from release.steps.notify.checks import channel_of, lost_answer_error
from release.steps.notify.webhook import WEBHOOK_ENV


def notify_flags(repost: bool, assume_posted: bool) -> dict[str, bool]:
    """The step's flags for ``run_step(extra=...)``; refuses the contradictory pair (exit 2)."""
    if repost and assume_posted:
        raise UsageError("--repost and --assume-posted contradict each other: give one")
    return {"repost": repost, "assume_posted": assume_posted}


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
    notify_flags(repost, assume_posted)
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


def payload_digest(payload: Mapping[str, Any]) -> str:
    """What was sent, recorded to tell one rendering from another."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
