"""Runs the steps of ``invoke release`` in the catalog's order and by its dependencies.

All local work first, then the side effects:

1. **local**: every running step's ``prepare(ctx)`` (the worktree, package builds and their
   verification, image builds, the UI build, the comparison with what the index and registry
   hold), concurrently. A problem here stops the release with nothing changed anywhere.
2. **confirmation** (``confirm``, when given): after the local work, before the first side
   effect; a "no" stops the release with nothing changed.
3. **publish**: each step's ``publish`` once the steps it depends on succeeded (the bump
   commit first; upload, image push with channels and the UI deploy concurrently; ``notify``
   last, after everything it reports). A failed step stops the steps that depend on it and
   lets independent ones finish. Each step's record is marked ``running`` before its
   ``publish`` and ``done`` or ``failed`` after (``release.run.step.recorded``); the local
   work records nothing. A dry run calls ``describe`` instead, in catalog order.

Every step has the same four calls (``release.run.step.Step``); ``cleanup`` releases what a
preparation holds, after the release whatever happened. The scheduler never raises for a
step's failure: it returns a ``Report`` saying where it stopped, and ``failure(report)``
turns that into the error the task ends with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from release.core import console
from release.core.errors import ReleaseError, StepError
from release.run import catalog
from release.run.context import ReleaseContext
from release.run.step import Step, StepResult, failure_text, load_step, recorded

# What each side effect waits for, and the order of everything: the catalog's.
DEPENDS: Mapping[str, tuple[str, ...]] = {entry.name: entry.depends for entry in catalog.CATALOG}
ORDER = catalog.NAMES

# Where a release can end (``Report.stage``).
LOCAL = "local"  # local work failed: nothing was changed anywhere
CANCELLED = "cancelled"  # the confirmation was refused: nothing was changed
DRY_RUN = "dry-run"  # everything was checked, built and described; nothing published
PUBLISHED = "published"  # the side effects ran (``Report.ok`` says whether all succeeded)

ACTIVE = ("preparing", "running", "describing")
STOPPED = ("failed", "blocked")


@dataclass
class Outcome:
    """Where one step stands during and after the release."""

    step: str
    # pending, preparing, prepared, running (describing in a dry run), done, dry-run, skipped,
    # failed, blocked
    state: str = "pending"
    summary: str = ""
    details: tuple[str, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: float | None = None  # time.monotonic() when the current phase began
    seconds: float = 0.0  # time spent so far, local work and publishing together

    def elapsed(self, now: float | None = None) -> float:
        """Seconds spent, counting the phase in progress."""
        if self.state in ACTIVE and self.started is not None:
            return self.seconds + max(0.0, (now or time.monotonic()) - self.started)
        return self.seconds


@dataclass
class Report:
    """The result of the whole release, for the summary table and ``$GITHUB_STEP_SUMMARY``."""

    tag: str
    dry_run: bool
    outcomes: dict[str, Outcome]
    stage: str = PUBLISHED

    @property
    def failed(self) -> list[str]:
        return [name for name, o in self.outcomes.items() if o.state in STOPPED]

    @property
    def ok(self) -> bool:
        return self.stage in (PUBLISHED, DRY_RUN) and not self.failed

    def named(self, *states: str) -> list[str]:
        return [name for name, o in self.outcomes.items() if o.state in states]


class Scheduler:
    """Runs the plan's steps: local work first, then side effects by their dependencies.

    ``confirm`` is asked after the local work and before the first side effect (not in a
    dry run); ``on_change`` hears every change of a step's state (the live view).
    """

    def __init__(
        self,
        ctx: ReleaseContext,
        *,
        confirm: Callable[[Report], bool] | None = None,
        on_change: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.confirm = confirm
        self.on_change = on_change or (lambda outcome: None)
        self.steps: dict[str, Step[Any]] = {}
        self.outcomes: dict[str, Outcome] = {name: Outcome(name) for name in ORDER}
        self.prepared: dict[str, Any] = {}
        self._lock = threading.Lock()

    def report(self, stage: str) -> Report:
        return Report(self.ctx.tag, self.ctx.options.dry_run, self.outcomes, stage)

    def load(self) -> None:
        """The step objects of the plan's running steps; skipped ones say why."""
        for action in self.ctx.plan.actions:
            if not action.runs:
                self._set(action.step, state="skipped", summary=action.skipped or "")
                continue
            self.steps[action.step] = load_step(action.step)

    def run(self) -> Report:
        from release.run.worktree import release_tree

        if not self.steps:
            self.load()
        # What earlier runs recorded, read once before the steps' threads share the state.
        self.ctx.state.fetch()
        try:
            # One worktree of the tagged commit, with the version written, for every build of
            # both phases (it is reference-counted: steps open it too, and the last one out
            # removes it).
            with release_tree(self.ctx):
                if not self._local_phase():
                    return self.report(LOCAL)
                if self.ctx.options.dry_run:
                    self._dry_run_phase()
                    return self.report(DRY_RUN)
                if self.confirm is not None and not self.confirm(self.report(PUBLISHED)):
                    return self.report(CANCELLED)
                self._publish_phase()
                return self.report(PUBLISHED)
        finally:
            self._cleanup()

    # -- state changes ------------------------------------------------------------------

    def _set(self, name: str, **changes: Any) -> None:
        with self._lock:
            outcome = self.outcomes[name]
            now = time.monotonic()
            state = changes.get("state")
            if state in ACTIVE:
                changes.setdefault("started", now)
            elif state is not None and outcome.state in ACTIVE and outcome.started is not None:
                changes.setdefault("seconds", outcome.seconds + now - outcome.started)
                changes.setdefault("started", None)
            for key, value in changes.items():
                setattr(outcome, key, value)
        self.on_change(outcome)

    def _fail(self, name: str, error: BaseException) -> None:
        self._set(name, state="failed", error=_message(error))

    # -- phase 1: local work, all or nothing --------------------------------------------

    def _local_phase(self) -> bool:
        """Every step's ``prepare``, concurrently; False when any of them failed."""
        if not self.steps:
            return True
        with ThreadPoolExecutor(max_workers=len(self.steps), thread_name_prefix="prepare") as pool:
            futures = [pool.submit(self._prepare, name, s) for name, s in self.steps.items()]
            results = [future.result() for future in futures]
        return all(results)

    def _prepare(self, name: str, step: Step[Any]) -> bool:
        self._set(name, state="preparing")
        try:
            # A record release-tasks did not write stops the release here, before any side
            # effect, also for a step that reads no record of its own before its lifecycle mark.
            self.ctx.state.entry(name)
            self.prepared[name] = step.prepare(self.ctx)
        except BaseException as error:  # noqa: BLE001 - reported in the release's outcome
            self._fail(name, error)
            return False
        self._set(name, state="prepared")
        return True

    def _cleanup(self) -> None:
        """Release what preparations hold that their publish did not (a scratch folder)."""
        for name, prepared in self.prepared.items():
            try:
                self.steps[name].cleanup(prepared)
            except Exception as error:  # noqa: BLE001 - the release's outcome is already known
                console.warn(f"{name}: cleaning up failed: {error}")

    # -- dry run: show what would be done -----------------------------------------------

    def _dry_run_phase(self) -> None:
        for name in ORDER:
            if name in self.steps:
                self._set(name, state="describing")
                self._complete(name, dry_run=True)

    # -- phase 2: side effects by dependency --------------------------------------------

    def _publish_phase(self) -> None:
        pending = [name for name in ORDER if name in self.steps]
        running: dict[str, Future[None]] = {}
        with ThreadPoolExecutor(max_workers=len(ORDER), thread_name_prefix="publish") as pool:
            while pending or running:
                for name in list(pending):
                    deps = [d for d in DEPENDS[name] if d in self.steps]
                    stopped = [d for d in deps if self.outcomes[d].state in STOPPED]
                    if stopped:
                        self._set(name, state="blocked", error=f"needs {', '.join(stopped)}")
                        pending.remove(name)
                    elif all(self.outcomes[d].state == "done" for d in deps):
                        self._set(name, state="running")
                        running[name] = pool.submit(self._complete, name)
                        pending.remove(name)
                if not running:
                    break  # nothing left can start (it cannot happen: the graph has no cycle)
                finished, _ = wait(running.values(), return_when=FIRST_COMPLETED)
                running = {n: f for n, f in running.items() if f not in finished}

    # -- both: finishing a step -------------------------------------------------------

    def _complete(self, name: str, *, dry_run: bool = False) -> None:
        """The step's ``describe`` (``dry_run``) or ``publish`` of what it prepared; the
        outcome is recorded either way."""
        step = self.steps[name]
        prepared = self.prepared[name]
        try:
            if dry_run:
                result = step.describe(self.ctx, prepared)
            else:  # its record says running, then done or failed (the local phase records nothing)
                result = recorded(self.ctx, name, lambda: step.publish(self.ctx, prepared))
        except BaseException as error:  # noqa: BLE001 - reported in the release's outcome
            self._fail(name, error)
            return
        self._finish(name, result)

    def _finish(self, name: str, result: StepResult) -> None:
        self._set(
            name,
            state=_state_of(result),
            summary=result.summary,
            details=tuple(result.details),
            record=result.record,
        )


def _state_of(result: StepResult) -> str:
    if result.status in ("dry-run", "skipped"):
        return result.status
    return "done"


def _message(error: BaseException) -> str:
    return failure_text(error)


def failure(report: Report) -> ReleaseError:
    """The error that ends a release that did not finish: what was done, what not, how to finish."""
    failed = [f"{n} ({report.outcomes[n].error})" for n in report.named("failed")]
    if report.stage == LOCAL:
        return ReleaseError(
            "the release stopped during local work, before any side effect: " + "; ".join(failed),
            "nothing was changed anywhere; fix the problem and run the same command again",
        )
    if report.stage == CANCELLED:
        return ReleaseError(
            f"release of {report.tag} cancelled before any side effect: nothing was changed",
            "run the same command again and answer yes to publish, or pass --yes",
        )
    if report.stage == DRY_RUN:
        return ReleaseError(f"the dry run of {report.tag} failed: " + "; ".join(failed))
    blocked = [f"{n} ({report.outcomes[n].error})" for n in report.named("blocked")]
    done = report.named("done")
    parts = [f"failed: {'; '.join(failed)}"]
    if blocked:
        parts.append(f"not run: {'; '.join(blocked)}")
    parts.append(f"done: {', '.join(done) or 'nothing'}")
    return StepError(
        f"release {report.tag} did not finish: " + "; ".join(parts),
        "run the same command again to finish it (finished work is recognised, "
        "nothing is published twice)",
    )
