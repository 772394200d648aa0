"""``release``: the whole release, each step once: all local work first, then side effects."""

from __future__ import annotations

import os

from release.commands.resolve import context_for, print_plan
from release.core import console
from release.core.errors import ReleaseError
from release.core.git import Git
from release.pipeline.preflight import check
from release.run.context import Options, ReleaseContext


def release_all(
    tag: str | None,
    *,
    dry_run: bool = False,
    yes: bool = False,
    local: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> None:
    """The whole release: the guard, every step's pre-flight, the plan, then the scheduler.

    The scheduler does all local work first; then, on a terminal and without ``--yes``, the
    maintainer confirms before the first side effect (without a terminal the release
    proceeds: the plan was printed). The summary table ends every run that got that far,
    and is appended to ``$GITHUB_STEP_SUMMARY`` when that names a file.
    """
    import sys

    from release.pipeline import report
    from release.pipeline.scheduler import CANCELLED, Scheduler, failure

    options = Options(
        dry_run=dry_run, offline=offline, yes=yes, branch=branch, env=dict(os.environ)
    )
    ctx = context_for(tag, options)
    print_plan(ctx.plan)
    guard_local_release(ctx, local=local)
    check(ctx, steps=True)
    scheduler = Scheduler(ctx)
    scheduler.load()
    view = report.view_for(ctx.tag, scheduler.outcomes, dry_run=dry_run)
    scheduler.on_change = view.on_change
    if not yes and sys.stdin.isatty() and sys.stdout.isatty():

        def confirm(_: object) -> bool:
            with view.paused():
                return ask(f"The local work is done. Publish {ctx.tag} as planned above?")

        scheduler.confirm = confirm
    with view:
        outcome = scheduler.run()
    if outcome.stage != CANCELLED:
        report.print_summary(outcome)
        report.write_step_summary(outcome, options.env)
    if not outcome.ok:
        raise failure(outcome)


def ask(question: str) -> bool:
    """Ask a yes/no question on the terminal; no answer (end of input) is a no."""
    from rich.prompt import Confirm

    try:
        return Confirm.ask(question, default=False, console=console.out())
    except EOFError:
        return False


def guard_local_release(ctx: ReleaseContext, *, local: bool) -> None:
    """Refuse a laptop release when CI releases version tags too, unless --local says so."""
    in_ci = (
        ctx.env.get("CI", "").lower() in ("true", "1") or ctx.env.get("GITHUB_ACTIONS") == "true"
    )
    if local or ctx.options.dry_run or in_ci:
        return
    prefix = ctx.config.tag_prefix
    name = releasing_workflow(ctx.git, ctx.commit, prefix)
    if name is not None:
        raise ReleaseError(
            f"{name} releases {prefix}* tags in CI, so a local release would release "
            f"{ctx.tag} twice",
            "push the tag and let CI release it, or pass --local to release from here anyway",
        )


def releasing_workflow(git: Git, commit: str, prefix: str) -> str | None:
    """The GitHub Actions workflow of ``commit`` that releases ``prefix``* tags, if any."""
    workflows = [
        name
        for name in git.files(commit)
        if name.startswith(".github/workflows/") and name.endswith((".yml", ".yaml"))
    ]
    git.blobs(commit, workflows)  # every workflow by one git process; ``show`` reuses them
    for name in workflows:
        text = git.show(commit, name) or ""
        if "tags" in text and prefix in text:
            return name
    return None
