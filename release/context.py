"""The shared context of one release run, and the shape every step has.

``ReleaseContext`` is what the read-only resolution of a tag produced (the tag,
its version and commit, the branch it belongs to, the configuration of the tagged
commit) plus the options of the command line. Steps receive it and nothing else.

A step (STYLE.md "Every step has the same small shape") has a name, lists its own
pre-flight problems without changing anything, and runs idempotently, reporting
finished work as done.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from release.config import Config
from release.git import Git
from release.plan import Plan
from release.version import ReleaseVersion

if TYPE_CHECKING:
    from release.state import ReleaseState


@dataclass(frozen=True)
class Options:
    """Command-line options every releasing task shares."""

    dry_run: bool = False
    offline: bool = False
    skip_credentials: bool = False
    yes: bool = False
    branch: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    extra: Mapping[str, Any] = field(default_factory=dict)  # step-specific flags (--repost)


@dataclass
class ReleaseContext:
    git: Git
    tag: str
    version: ReleaseVersion
    commit: str
    branch: str
    config: Config
    plan: Plan
    options: Options

    @cached_property
    def state(self) -> ReleaseState:
        from release.console import mask
        from release.state import ReleaseState

        remote = None if self.options.offline else self.config.remote
        if remote is not None and self.git.remote_url(remote) is None:
            remote = None
        return ReleaseState(self.git, self.commit, self.version.pep440, remote, mask=mask)

    @property
    def env(self) -> Mapping[str, str]:
        return self.options.env


@dataclass(frozen=True)
class StepResult:
    """What a step did: ``done`` (also when the work was already there), or ``dry-run``."""

    step: str
    status: str
    summary: str
    details: tuple[str, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict)


class Step(Protocol):
    name: str

    def problems(self, ctx: ReleaseContext) -> list[str]:
        """Pre-flight problems of this step, found without changing anything."""
        ...

    def run(self, ctx: ReleaseContext) -> StepResult:
        """Do the step, recognising work that is already done."""
        ...


# The tasks named on the command line (set by release.executor.ReleaseExecutor).
DIRECT_TASKS: set[str] = set()

# Where each step's implementation lives: (module, attribute).
STEP_IMPLEMENTATIONS: dict[str, tuple[str, str]] = {
    "bump": ("release.bump", "BUMP"),
    "build": ("release.pypi", "BUILD"),
    "upload": ("release.pypi", "UPLOAD"),
    "push-image": ("release.images", "PUSH_IMAGE"),
    "notify": ("release.notify", "NOTIFY"),
    "deploy-ui": ("release.ui", "DEPLOY_UI"),
}


# Where each step's pre-flight checks live: a module of ``release.checks`` with a
# ``problems(ctx)`` function. They are kept apart from the steps so that ``check-version``
# imports none of the build, upload, image, Discord or Azure machinery (issue "Benchmarks":
# start-up). A step's ``problems`` method delegates to the same function. No entry: none.
STEP_CHECKS: dict[str, str] = {
    "bump": "release.checks.bump",
    "upload": "release.checks.upload",
    "push-image": "release.checks.push_image",
    "notify": "release.checks.notify",
    "deploy-ui": "release.checks.deploy_ui",
}


def step_checks(name: str) -> Callable[[ReleaseContext], list[str]] | None:
    """The pre-flight check function of step ``name`` (imported lazily), or None."""
    module_name = STEP_CHECKS.get(name)
    if module_name is None:
        return None
    checks: Callable[[ReleaseContext], list[str]] = importlib.import_module(module_name).problems
    return checks


def load_step(name: str) -> Step | None:
    """The step object for ``name`` (imported lazily: heavy libraries load only when used)."""
    module_name, attribute = STEP_IMPLEMENTATIONS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise
    step: Step | None = getattr(module, attribute, None)
    return step
