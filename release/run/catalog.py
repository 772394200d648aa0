"""The step catalog: the one ordered list of the release's steps, as plain data.

Everything that knows of steps reads it: ``tasks.py`` (one task per step, of the same
name), the plan (which steps run, and why the others do not), the scheduler (order and
dependencies), the report and ``check-version --json`` (the ``steps`` keys, in this order).
Adding a step is one entry here plus one package under ``release/steps/``.

The entries name their code as ``"module:attribute"`` strings, loaded only when used, so
this module imports nothing: ``invoke --list`` and ``check-version`` stay cheap, and the
catalog (on the ``run`` floor) never imports a step (the floor above it).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class StepSpec:
    """One step: its identity, when it runs, and where its code lives.

    - ``name``: the step's and its task's name (``invoke push-image``);
    - ``depends``: the steps whose side effects must have succeeded before its own start;
    - ``skipped_for``: release kinds (``"final"``, ``"pre"``, ``"post"``) it does not run
      for, each with the reason the plan shows;
    - ``configured_by``: the ``Config`` attribute that turns it on; empty (no version files,
      no packages, no table) means "not configured";
    - ``implementation``: the step object (see ``release.run.step.Step``);
    - ``checks``: its pre-flight ``problems(ctx)``, in a light module;
    - ``planned``: ``(version, config, branch) -> str``, the plan's line for it, light too;
    - ``published``: ``(record) -> list[str]``, what its state record says it published,
      for the summary (None: its summary line says it all).
    """

    name: str
    depends: tuple[str, ...]
    skipped_for: Mapping[str, str]
    configured_by: str
    implementation: str
    checks: str | None
    planned: str
    published: str | None = None
    description: str = field(default="", compare=False)

    @property
    def task(self) -> str:
        """The task's function name in ``tasks.py`` (invoke shows it with dashes)."""
        return self.name.replace("-", "_")


CATALOG: tuple[StepSpec, ...] = (
    StepSpec(
        name="bump",
        depends=(),
        skipped_for={"post": "post releases commit nothing: the code is not re-released"},
        configured_by="version_files",
        implementation="release.steps.bump.step:BUMP",
        checks="release.steps.bump.checks:problems",
        planned="release.steps.bump.checks:planned",
        description="the version written into the code, committed and pushed",
    ),
    StepSpec(
        name="build",
        depends=(),
        skipped_for={"post": "post releases are Docker-only"},
        configured_by="packages",
        implementation="release.steps.pypi.build:BUILD",
        checks=None,
        planned="release.steps.pypi.checks:build_planned",
        description="sdists and wheels built and verified (local work only)",
    ),
    StepSpec(
        name="upload",
        depends=("build", "bump"),
        skipped_for={"post": "post releases are Docker-only"},
        configured_by="packages",
        implementation="release.steps.pypi.upload:UPLOAD",
        checks="release.steps.pypi.checks:problems",
        planned="release.steps.pypi.checks:upload_planned",
        published="release.steps.pypi.checks:uploaded",
        description="the built files uploaded to the package index",
    ),
    StepSpec(
        name="push-image",
        depends=("bump",),
        skipped_for={},
        configured_by="images",
        implementation="release.steps.images.step:PUSH_IMAGE",
        checks="release.steps.images.checks:problems",
        planned="release.steps.images.checks:planned",
        published="release.steps.images.checks:published",
        description="images built, pushed under their version tags, channels moved",
    ),
    StepSpec(
        name="deploy-ui",
        depends=("bump",),
        skipped_for={"pre": "pre-releases are built, not deployed"},
        configured_by="ui",
        implementation="release.steps.deploy_ui.step:DEPLOY_UI",
        checks="release.steps.deploy_ui.checks:problems",
        planned="release.steps.deploy_ui.checks:planned",
        published="release.steps.deploy_ui.checks:published",
        description="the web UI built and deployed to its Azure App Service",
    ),
    StepSpec(
        name="github-release",
        depends=("upload", "push-image", "deploy-ui"),
        skipped_for={},
        configured_by="github",
        implementation="release.steps.github_release.step:GITHUB_RELEASE",
        checks="release.steps.github_release.checks:problems",
        planned="release.steps.github_release.checks:planned",
        published="release.steps.github_release.checks:published",
        description="the GitHub release of the tag, with the built files attached",
    ),
    StepSpec(
        name="notify",
        depends=("upload", "push-image", "deploy-ui", "github-release"),
        skipped_for={"pre": "pre-releases are not announced"},
        configured_by="discord",
        implementation="release.steps.notify.step:NOTIFY",
        checks="release.steps.notify.checks:problems",
        planned="release.steps.notify.checks:planned",
        published="release.steps.notify.checks:published",
        description="the release announced on Discord (last: it links what the others did)",
    ),
)

NAMES: tuple[str, ...] = tuple(spec.name for spec in CATALOG)
_BY_NAME: dict[str, StepSpec] = {spec.name: spec for spec in CATALOG}


def spec(name: str) -> StepSpec:
    """The catalog entry of step ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown step {name!r} (steps: {', '.join(NAMES)})") from None


def skip_reason(entry: StepSpec, kind: str, config: Any) -> str | None:
    """Why ``entry`` does not run for a release of ``kind`` (a ``Kind`` value) and ``config``;
    None when it runs. The kind decides first: a post release never uploads, configured or not."""
    if kind in entry.skipped_for:
        return entry.skipped_for[kind]
    return None if getattr(config, entry.configured_by) else NOT_CONFIGURED


def load(reference: str) -> Any:
    """The object a ``"module:attribute"`` reference names (its module imported now)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
