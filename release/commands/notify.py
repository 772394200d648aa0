"""``notify`` as its own task: the webhook token masked first, the flags checked, then the step."""

from __future__ import annotations

import os

from release.commands.step import run_step
from release.run.step import StepResult
from release.steps.notify.decision import notify_flags
from release.steps.notify.webhook import register_webhook_secrets


def notify(
    tag: str | None,
    *,
    dry_run: bool = False,
    repost: bool = False,
    assume_posted: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> StepResult:
    """Announce the release on Discord (``--repost`` and ``--assume-posted`` exclude each other)."""
    register_webhook_secrets(os.environ)
    flags = notify_flags(repost, assume_posted)
    return run_step("notify", tag, dry_run=dry_run, offline=offline, branch=branch, extra=flags)
