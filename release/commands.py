"""What each task does, one function per task, so that ``tasks.py`` stays a page of thin tasks.

Each function takes plain arguments, resolves the tag into a context (read only),
checks, and then acts. Errors propagate to ``release.console.boundary``, which
turns them into one line and an exit code.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from release import console
from release.context import DIRECT_TASKS, Options, ReleaseContext, StepResult, load_step
from release.errors import ReleaseError, UsageError
from release.plan import Plan, github_output_lines
from release.preflight import check, resolve

# One resolution per process: a task and its prerequisites share it.
_resolved: dict[tuple[Any, ...], ReleaseContext] = {}


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


_printed: set[str] = set()


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


def check_version(
    tag: str | None,
    *,
    as_json: bool = False,
    github_output: bool = False,
    offline: bool = False,
    skip_credentials: bool = False,
    branch: str | None = None,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Validate the tag, run the pre-flight checks and print the plan.

    Called directly it also runs the checks of every step the plan will run;
    as the prerequisite of one step it runs the common checks (the step runs its own).
    """
    if as_json:
        console.reserve_stdout()  # the JSON object alone, even in GitHub Actions
    options = Options(
        dry_run=dry_run,
        offline=offline,
        skip_credentials=skip_credentials,
        branch=branch,
        env=dict(env if env is not None else os.environ),
    )
    ctx = context_for(tag, options)
    direct = "check-version" in DIRECT_TASKS or not DIRECT_TASKS
    if as_json:
        check(ctx, steps=direct)
        console.write_json(ctx.plan.to_json())
    else:
        print_plan(ctx.plan)
        check(ctx, steps=direct)
    if github_output:
        write_github_output(ctx.plan.to_json(), options.env)
    return ctx.plan


def write_github_output(data: Mapping[str, Any], env: Mapping[str, str]) -> None:
    path = env.get("GITHUB_OUTPUT")
    if not path:
        raise UsageError(
            "--github-output needs GITHUB_OUTPUT to name a file (GitHub Actions sets it)"
        )
    with Path(path).open("a", encoding="utf-8") as handle:
        for line in github_output_lines(data):
            handle.write(console.mask(line) + "\n")


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
    if step is None:
        raise ReleaseError(f"step {name} is not available in this version of release-tasks")
    check(ctx, steps=False)
    problems = step.problems(ctx)
    if problems:
        from release.errors import PreflightError

        raise PreflightError([f"{name}: {p}" for p in problems])
    result = step.run(ctx)
    console.info(f"{name}: {result.status}: {result.summary}")
    for line in result.details:
        console.info(f"  {line}")
    return result


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

    from release import report
    from release.scheduler import CANCELLED, Scheduler, failure

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
    workflows = [
        name
        for name in ctx.git.files(ctx.commit)
        if name.startswith(".github/workflows/") and name.endswith((".yml", ".yaml"))
    ]
    prefix = ctx.config.tag_prefix
    for name in workflows:
        text = ctx.git.show(ctx.commit, name) or ""
        if "tags" in text and prefix in text:
            raise ReleaseError(
                f"{name} releases {prefix}* tags in CI, so a local release would release "
                f"{ctx.tag} twice",
                "push the tag and let CI release it, or pass --local to release from here anyway",
            )
