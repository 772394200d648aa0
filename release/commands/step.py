"""One step as its own task (``invoke upload``): its pre-flight, then the step itself."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from release.commands.resolve import context_for
from release.core import console
from release.core.errors import PreflightError
from release.pipeline.preflight import check
from release.run.context import Options
from release.run.step import StepResult, load_checks, load_step, recorded


def run_step(
    name: str,
    tag: str | None,
    *,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> StepResult:
    """Run one step as its own task: its pre-flight, then the step itself."""
    options = Options(dry_run=dry_run, offline=offline, branch=branch, env=dict(os.environ))
    ctx = context_for(tag, options)
    if extra:
        ctx = dataclasses.replace(ctx, options=dataclasses.replace(options, extra=dict(extra)))
    action = ctx.plan.action(name)
    if not action.runs:
        console.info(f"{name}: skipped: {action.skipped}")
        return StepResult(step=name, status="skipped", summary=action.skipped or "")
    step = load_step(name)
    check(ctx, steps=False)
    checks = load_checks(name)
    problems = checks(ctx) if checks is not None else []
    if problems:
        raise PreflightError([f"{name}: {p}" for p in problems])
    if step.local_only(ctx):
        result = step.run(ctx)
    else:  # its record says running, then done or failed (docs/design.md "Re-runs and state")
        result = recorded(ctx, name, lambda: step.run(ctx))
    console.info(f"{name}: {result.status}: {result.summary}")
    for line in result.details:
        console.info(f"  {line}")
    return result
