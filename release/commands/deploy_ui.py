"""``deploy-ui``: the step as its own task, and a pre-release's UI built without deploying it.

With ``--from DIR`` the zip comes from a build output (``release.commands.handoff``): it is
verified first and nothing is built.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from release.commands.resolve import context_for
from release.commands.step import run_step
from release.core import console
from release.core.version import Kind
from release.pipeline.preflight import check
from release.run.context import Options
from release.run.handoff import EXTRA_KEY
from release.run.step import StepResult
from release.steps.deploy_ui.archive import build_archive
from release.steps.deploy_ui.handed import archive_from
from release.steps.deploy_ui.step import STEP


def deploy_ui(
    tag: str | None,
    *,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
    from_: str | None = None,
) -> StepResult:
    """``invoke deploy-ui``: build and deploy; a pre-release is built and not deployed."""
    from release.commands.handoff import take_handoff

    options = Options(dry_run=dry_run, offline=offline, branch=branch, env=dict(os.environ))
    ctx = context_for(tag, options)
    handoff = take_handoff(ctx, from_) if from_ is not None else None
    extra = {EXTRA_KEY: handoff} if handoff is not None else None
    if ctx.version.kind is not Kind.PRE or ctx.config.ui is None:
        return run_step(STEP, tag, dry_run=dry_run, offline=offline, branch=branch, extra=extra)
    check(ctx, steps=False)
    reason = ctx.plan.action(STEP).skipped or "pre-releases are built, not deployed"
    if handoff is not None:
        archive = archive_from(handoff)
        made = "handed over"
    else:
        with tempfile.TemporaryDirectory(prefix="release-ui-") as scratch:
            archive = build_archive(ctx, Path(scratch))
        made = "built"
    result = StepResult(
        step=STEP,
        status="skipped",
        summary=f"{made} {ctx.config.ui.path} {ctx.version.npm} ({archive.describe()}); "
        f"not deployed: {reason}",
    )
    console.info(f"{STEP}: {result.status}: {result.summary}")
    return result
