"""Runs the steps of ``invoke release`` in dependency order (DESIGN.md "Tasks").

All local work first, then the side effects:

1. **local**: every running step's ``prepare(ctx)`` (the worktree, package builds and their
   verification, image builds, the UI build, the comparison with what the index and registry
   hold), concurrently. A problem here stops the release with nothing changed anywhere.
2. **publish**: the bump commit; then upload, image push with channels and the UI deploy
   concurrently; ``notify`` last, only after everything it reports has succeeded. A failed step
   stops the steps that depend on it and lets independent ones finish.

A step that offers ``prepare``/``publish`` is split across the two phases; a step that only
has ``run`` does all of its work in the publish phase (its own ``run`` still checks before
its first side effect).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from release.context import ReleaseContext, Step, StepResult, load_step
from release.errors import ReleaseError, StepError

# What each side effect waits for. Build is local work only; upload needs its files.
DEPENDS: Mapping[str, tuple[str, ...]] = {
    "bump": (),
    "build": (),
    "upload": ("build", "bump"),
    "push-image": ("bump",),
    "deploy-ui": ("bump",),
    "notify": ("upload", "push-image", "deploy-ui"),
}
ORDER = ("bump", "build", "upload", "push-image", "deploy-ui", "notify")


@dataclass
class Outcome:
    """Where one step stands during and after the release."""

    step: str
    state: str = "pending"  # pending, preparing, prepared, running, done, skipped, failed, blocked
    summary: str = ""
    details: tuple[str, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Report:
    """The result of the whole release, for the summary table and ``$GITHUB_STEP_SUMMARY``."""

    tag: str
    dry_run: bool
    outcomes: dict[str, Outcome]

    @property
    def failed(self) -> list[str]:
        return [name for name, o in self.outcomes.items() if o.state in ("failed", "blocked")]

    @property
    def ok(self) -> bool:
        return not self.failed


class Scheduler:
    """Runs the plan's steps: local work first, then side effects by their dependencies."""

    def __init__(
        self,
        ctx: ReleaseContext,
        *,
        confirm: Callable[[], bool] | None = None,
        on_change: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.confirm = confirm
        self.on_change = on_change or (lambda outcome: None)
        self.steps: dict[str, Step] = {}
        self.outcomes: dict[str, Outcome] = {name: Outcome(name) for name in ORDER}
        self.prepared: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _set(self, name: str, **changes: Any) -> None:
        with self._lock:
            outcome = self.outcomes[name]
            for key, value in changes.items():
                setattr(outcome, key, value)
        self.on_change(outcome)

    def run(self) -> Report:
        for action in self.ctx.plan.actions:
            if not action.runs:
                self._set(action.step, state="skipped", summary=action.skipped or "")
                continue
            step = load_step(action.step)
            if step is None:
                raise ReleaseError(f"step {action.step} is not available in this version")
            self.steps[action.step] = step
        from release.worktree import release_tree

        # One worktree of the tagged commit, with the version written, for every build of
        # both phases (steps open it too; it is reference-counted and removed at the end).
        with release_tree(self.ctx):
            self._local_phase()
            if self.ctx.options.dry_run:
                self._dry_run_phase()
            else:
                if self.confirm is not None and not self.confirm():
                    raise ReleaseError(
                        "release cancelled before any side effect: nothing was changed"
                    )
                self._publish_phase()
        return Report(self.ctx.plan.tag, self.ctx.options.dry_run, self.outcomes)

    # -- phase 1: local work, all or nothing --------------------------------

    def _local_phase(self) -> None:
        preparing = {n: s for n, s in self.steps.items() if hasattr(s, "prepare")}
        if not preparing:
            return
        errors: dict[str, BaseException] = {}
        with ThreadPoolExecutor(max_workers=len(preparing)) as pool:
            futures = {name: pool.submit(self._prepare, name, s) for name, s in preparing.items()}
            for name, future in futures.items():
                error = future.exception()
                if error is not None:
                    errors[name] = error
        if errors:
            lines = [f"{name}: {_message(error)}" for name, error in errors.items()]
            raise ReleaseError(
                "the release stopped during local work, before any side effect: "
                + "; ".join(lines),
                "nothing was changed anywhere; fix the problem and run the same command again",
            )

    def _prepare(self, name: str, step: Step) -> None:
        self._set(name, state="preparing")
        started = time.monotonic()
        try:
            self.prepared[name] = step.prepare(self.ctx)  # type: ignore[attr-defined]
        except BaseException as error:
            self._set(name, state="failed", error=_message(error))
            raise
        self._set(name, state="prepared", seconds=time.monotonic() - started)

    # -- dry run: show what would be done ------------------------------------

    def _dry_run_phase(self) -> None:
        for name in ORDER:
            step = self.steps.get(name)
            if step is None:
                continue
            if name in self.prepared and hasattr(step, "describe"):
                result: StepResult = step.describe(self.ctx, self.prepared[name])
            else:
                result = step.run(self.ctx)
            self._finish(name, result)

    # -- phase 2: side effects by dependency ---------------------------------

    def _publish_phase(self) -> None:
        futures: dict[str, Future[StepResult]] = {}
        with ThreadPoolExecutor(max_workers=len(ORDER)) as pool:
            pending = [name for name in ORDER if name in self.steps]
            while pending:
                progressed = False
                for name in list(pending):
                    deps = [d for d in DEPENDS[name] if d in self.steps]
                    states = [self.outcomes[d].state for d in deps]
                    if any(s in ("failed", "blocked") for s in states):
                        blockers = [
                            d for d in deps if self.outcomes[d].state in ("failed", "blocked")
                        ]
                        self._set(
                            name, state="blocked", error=f"not run: {', '.join(blockers)} failed"
                        )
                        pending.remove(name)
                        progressed = True
                    elif all(s == "done" for s in states):
                        self._set(name, state="running")
                        futures[name] = pool.submit(self._publish, name)
                        pending.remove(name)
                        progressed = True
                if not progressed:
                    running = [f for n, f in futures.items() if self.outcomes[n].state == "running"]
                    if not running:
                        break
                    _wait_any(running)
            for future in futures.values():
                future.exception()

    def _publish(self, name: str) -> StepResult:
        step = self.steps[name]
        started = time.monotonic()
        try:
            if name in self.prepared and hasattr(step, "publish"):
                result: StepResult = step.publish(self.ctx, self.prepared[name])
            else:
                result = step.run(self.ctx)
        except BaseException as error:
            self._set(
                name, state="failed", error=_message(error), seconds=time.monotonic() - started
            )
            raise
        self._finish(name, result, seconds=time.monotonic() - started)
        return result

    def _finish(self, name: str, result: StepResult, seconds: float = 0.0) -> None:
        self._set(
            name,
            state="done" if result.status != "dry-run" else "dry-run",
            summary=result.summary,
            details=result.details,
            record=result.record,
            seconds=seconds,
        )


def _wait_any(futures: list[Future[StepResult]]) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait

    wait(futures, return_when=FIRST_COMPLETED)


def _message(error: BaseException) -> str:
    if isinstance(error, ReleaseError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def failure(report: Report) -> StepError:
    """The error that ends a release that did not finish: what was done, what not, how to finish."""
    done = [n for n, o in report.outcomes.items() if o.state == "done"]
    failed = [f"{n} ({o.error})" for n, o in report.outcomes.items() if o.state == "failed"]
    blocked = [n for n, o in report.outcomes.items() if o.state == "blocked"]
    parts = [f"failed: {'; '.join(failed)}"]
    if blocked:
        parts.append(f"not run: {', '.join(blocked)}")
    parts.append(f"done: {', '.join(done) or 'nothing'}")
    return StepError(
        f"release {report.tag} did not finish: " + "; ".join(parts),
        "run the same command again to finish it",
    )


def with_options(ctx: ReleaseContext, **changes: Any) -> ReleaseContext:
    return dataclasses.replace(ctx, options=dataclasses.replace(ctx.options, **changes))
