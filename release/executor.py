"""The invoke ``Executor`` that hands the caller's ``--tag`` and ``--dry-run`` to prerequisites.

invoke calls ``pre=`` tasks without the caller's arguments and deduplicates calls
only when their arguments are equal. ``ReleaseExecutor`` copies ``tag`` and ``dry_run``
(and ``branch`` and ``offline``) from the task named on the command line into every
prerequisite that accepts them, so ``invoke upload --tag version/1.2.3`` checks and builds
that tag, and a prerequisite shared by two requested tasks still runs once.

invoke picks it up from ``tasks.executor_class`` in the ``invoke.yaml`` beside
``tasks.py``; the ``release-tasks`` program passes it to its ``Program``.
It also records which tasks were named on the command line
(``release.run.context.DIRECT_TASKS``) so ``check-version`` knows whether it runs as
itself (all step checks) or as a prerequisite (the common checks only).

A task given ``--from DIR`` (``upload --from``) takes its files from a build output made by
another job: its ``build`` prerequisite does not run (its own prerequisites, the
``check-version``, still do). That job holds the publishing secrets, and a build runs the
released project's code (docs/protection.md).
"""

from __future__ import annotations

from typing import Any

from invoke.executor import Executor
from invoke.tasks import Call, Task

from release.run import context

HANDED_DOWN = ("tag", "dry_run", "branch", "offline")
# The prerequisites a task given --from (the ``from_`` argument) does without.
BUILT_ELSEWHERE = ("build",)


class ReleaseExecutor(Executor):
    """An ``Executor`` whose prerequisites inherit the caller's ``tag`` and ``dry_run``."""

    def normalize(self, tasks: Any) -> list[Call]:
        calls: list[Call] = super().normalize(tasks)
        # invoke shows task names with dashes (check_version -> check-version).
        context.DIRECT_TASKS.update(call.task.name.replace("_", "-") for call in calls)
        return calls

    def expand_calls(self, calls: list[Any]) -> list[Call]:
        expanded: list[Call] = []
        for call in calls:
            if isinstance(call, Task):
                call = Call(call)
            inherited = {k: v for k, v in call.kwargs.items() if k in HANDED_DOWN}
            for pre in self.expand_calls(_prerequisites(call)):
                expanded.append(_with_arguments(pre, inherited))
            expanded.append(call)
            for post in self.expand_calls(call.post):
                expanded.append(_with_arguments(post, inherited))
        return expanded


def _prerequisites(call: Call) -> list[Any]:
    """``call``'s prerequisites; with ``--from``, a build among them is replaced by its own."""
    if call.kwargs.get("from_") is None:
        return list(call.pre)
    found: list[Any] = []
    pending = list(call.pre)
    while pending:
        pre = pending.pop(0)
        task = pre.task if isinstance(pre, Call) else pre
        if task.name in BUILT_ELSEWHERE:
            pending[:0] = list(task.pre)
        else:
            found.append(pre)
    return found


def _with_arguments(call: Call, inherited: dict[str, Any]) -> Call:
    names = {argument.name for argument in call.task.get_arguments()}
    extra = {k: v for k, v in inherited.items() if k in names and k not in call.kwargs}
    if not extra:
        return call
    return Call(
        call.task,
        called_as=call.called_as,
        args=call.args,
        kwargs={**call.kwargs, **extra},
    )
