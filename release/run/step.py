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

from release.run import catalog

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


def run_staged(step: Step[P], ctx: ReleaseContext) -> StepResult:
    """The step as its own task: prepare, then describe (dry run) or publish, then clean up."""
    prepared = step.prepare(ctx)
    try:
        if ctx.options.dry_run:
            return step.describe(ctx, prepared)
        return step.publish(ctx, prepared)
    finally:
        step.cleanup(prepared)


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
