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
"""

from __future__ import annotations

from typing import Any

from invoke.executor import Executor
from invoke.tasks import Call, Task

from release.run import context

HANDED_DOWN = ("tag", "dry_run", "branch", "offline")


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
            for pre in self.expand_calls(call.pre):
                expanded.append(_with_arguments(pre, inherited))
            expanded.append(call)
            for post in self.expand_calls(call.post):
                expanded.append(_with_arguments(post, inherited))
        return expanded


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
