"""``deploy-ui``: the step as its own task, and a pre-release's UI built without deploying it."""

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
from release.run.step import StepResult
from release.steps.deploy_ui.archive import build_archive
from release.steps.deploy_ui.step import STEP


def deploy_ui(
    tag: str | None,
    *,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> StepResult:
    """``invoke deploy-ui``: build and deploy; a pre-release is built and not deployed."""
    options = Options(dry_run=dry_run, offline=offline, branch=branch, env=dict(os.environ))
    ctx = context_for(tag, options)
    if ctx.version.kind is not Kind.PRE or ctx.config.ui is None:
        return run_step(STEP, tag, dry_run=dry_run, offline=offline, branch=branch)
    check(ctx, steps=False)
    reason = ctx.plan.action(STEP).skipped or "pre-releases are built, not deployed"
    with tempfile.TemporaryDirectory(prefix="release-ui-") as scratch:
        archive = build_archive(ctx, Path(scratch))
    result = StepResult(
        step=STEP,
        status="skipped",
        summary=f"built {ctx.config.ui.path} {ctx.version.npm} ({archive.describe()}); "
        f"not deployed: {reason}",
    )
    console.info(f"{STEP}: {result.status}: {result.summary}")
    return result
