"""The shape every step has: what it returns, and the four calls the pipeline makes.

A step (``release.steps.<package>``) is one object with a ``name`` and four calls, typed
by :class:`Step` and checked by mypy:

- ``prepare(ctx)``: all local work and observation (builds, comparisons with what the
  index or registry holds), nothing published; its result is handed to the next two;
- ``describe(ctx, prepared)``: what ``publish`` would do (the dry run);
- ``publish(ctx, prepared)``: the side effects, idempotent: finished work is recognised
  and reported as done;
- ``cleanup(prepared)``: release what ``prepare`` holds that ``publish`` did not (a scratch
  folder), called once after either of them, also after a failure.

``run(ctx)`` is the step as its own task (``invoke upload``): the same four calls in a row
(:func:`run_staged`), which a step may refine (``bump`` without ``--commit`` writes the
working tree instead). Its pre-flight checks live apart, in the light module the catalog
names, so that ``check-version`` imports none of the step's machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from release.core import console
from release.core.errors import ReleaseError
from release.run import catalog
from release.run.records import DONE, FAILED, RUNNING

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

P = TypeVar("P")


@dataclass(frozen=True)
class StepResult:
    """What a step did: ``done`` (also when the work was already there), or ``dry-run``."""

    step: str
    status: str
    summary: str
    details: tuple[str, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict)


class Step(Protocol[P]):
    """A step's four calls over one prepared value of type ``P`` (see the module)."""

    name: str

    def prepare(self, ctx: ReleaseContext) -> P: ...

    def describe(self, ctx: ReleaseContext, prepared: P) -> StepResult: ...

    def publish(self, ctx: ReleaseContext, prepared: P) -> StepResult: ...

    def cleanup(self, prepared: P) -> None: ...

    def run(self, ctx: ReleaseContext) -> StepResult: ...

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Whether this run as its own task changes nothing outside the clone, so it records
        no lifecycle (``bump`` without ``--commit`` only writes the working tree)."""
        ...


def run_staged(step: Step[P], ctx: ReleaseContext) -> StepResult:
    """The step as its own task: prepare, then describe (dry run) or publish, then clean up."""
    prepared = step.prepare(ctx)
    try:
        if ctx.options.dry_run:
            return step.describe(ctx, prepared)
        return step.publish(ctx, prepared)
    finally:
        step.cleanup(prepared)


def recorded(ctx: ReleaseContext, name: str, work: Callable[[], StepResult]) -> StepResult:
    """``work`` (a step's ``publish`` in ``invoke release``, its whole ``run`` as its own
    task) between the lifecycle marks of its record: ``running`` before, ``done`` after,
    ``failed`` with the error when it raises (docs/design.md "Re-runs and state"). A dry
    run records nothing."""
    if ctx.options.dry_run:
        return work()
    ctx.state.mark(name, RUNNING)
    try:
        result = work()
    except BaseException as error:
        mark_failed(ctx, name, error)
        raise
    ctx.state.mark(name, DONE)
    return result


def mark_failed(ctx: ReleaseContext, name: str, error: BaseException) -> None:
    """Record that ``name`` failed and why; a failure to record it is only said: the
    step's own error is the one that counts."""
    try:
        ctx.state.mark(name, FAILED, failure_text(error))
    except Exception as problem:  # noqa: BLE001 - the step's error is reported instead
        console.warn(f"{name}: could not record its failure in the release state: {problem}")


def failure_text(error: BaseException) -> str:
    """Why a step failed, in one line: the report's words and its record's ``step_error``."""
    if isinstance(error, ReleaseError):
        return str(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {error} (a bug in release-tasks)"


def load_step(name: str) -> Step[Any]:
    """The step object of ``name``, from the catalog (its module imported now, not before)."""
    step: Step[Any] = catalog.load(catalog.spec(name).implementation)
    return step


def load_checks(name: str) -> Callable[[ReleaseContext], list[str]] | None:
    """The pre-flight ``problems(ctx)`` of step ``name``, from its light module (or None)."""
    reference = catalog.spec(name).checks
    if reference is None:
        return None
    checks: Callable[[ReleaseContext], list[str]] = catalog.load(reference)
    return checks
