"""The shared context of one release run.

``ReleaseContext`` is what the read-only resolution of a tag produced (the tag,
its version and commit, the branch it belongs to, the configuration of the tagged
commit) plus the options of the command line. Steps receive it and nothing else
(their shape is ``release.run.step``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from release.core.config import Config
from release.core.git import Git
from release.core.version import ReleaseVersion
from release.run.plan import Plan

if TYPE_CHECKING:
    from release.run.state import ReleaseState


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
        from release.core.console import mask
        from release.run.state import ReleaseState

        remote = None if self.options.offline else self.config.remote
        if remote is not None and self.git.remote_url(remote) is None:
            remote = None
        return ReleaseState(self.git, self.commit, self.version.pep440, remote, mask=mask)

    @property
    def env(self) -> Mapping[str, str]:
        return self.options.env


# The tasks named on the command line (set by release.executor.ReleaseExecutor).
DIRECT_TASKS: set[str] = set()
