"""The tag resolved once per process, and the plan printed once: shared by every command.

A task and its prerequisites (``upload`` after ``check-version`` and ``build``) run in one
process; they share one read-only resolution of the tag and print its plan once.
"""

from __future__ import annotations

import os
from typing import Any

from release.core import console
from release.pipeline.preflight import resolve
from release.run.context import Options, ReleaseContext
from release.run.plan import Plan

# One resolution per process: a task and its prerequisites share it.
_resolved: dict[tuple[Any, ...], ReleaseContext] = {}
_printed: set[str] = set()


def context_for(tag: str | None, options: Options) -> ReleaseContext:
    """Resolve ``tag`` once per process (prerequisites and the task share the result)."""
    key = (
        os.getcwd(),
        tag,
        options.offline,
        options.branch,
        options.dry_run,
        options.skip_credentials,
        options.yes,
    )
    if key not in _resolved:
        _resolved[key] = resolve(tag, options)
    return _resolved[key]


def print_plan(plan: Plan) -> None:
    """The plan as a table: every step, run or skipped and why (once per process)."""
    if plan.tag in _printed:
        return
    _printed.add(plan.tag)
    v = plan.version
    codename = f", codename {plan.codename}" if plan.codename else ""
    console.info(
        f"{plan.tag}: {v.kind.value} release {v.pep440} of commit {plan.commit[:12]} "
        f"on {plan.branch}{codename}"
    )
    rows = [
        [a.step, "run" if a.runs else "skip", a.summary if a.runs else (a.skipped or "")]
        for a in plan.actions
    ]
    console.table(f"Plan for {plan.tag}", ["step", "", "what it does / why not"], rows)
