"""What a tag will do: a pure function of (version, config, what was observed).

The plan is computed before anything happens and printed by ``check-version``,
``--dry-run`` and ``release``. It names every step of the catalog (``release.run.catalog``),
in its order, says whether it runs or why it is skipped, and carries the pre-flight
problems and notices so that they are reported all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release.core.config import Config, Image
from release.core.templates import Scope, template_scope
from release.core.version import Kind, ReleaseVersion
from release.run import catalog
from release.run.catalog import NOT_CONFIGURED as NOT_CONFIGURED


@dataclass(frozen=True)
class Action:
    """One step of the plan: what it will do, or why it is skipped."""

    step: str
    summary: str
    skipped: str | None = None

    @property
    def runs(self) -> bool:
        return self.skipped is None

    @property
    def status(self) -> str:
        return "run" if self.skipped is None else f"skip: {self.skipped}"


@dataclass(frozen=True)
class Observed:
    """What the read-only look at the world found (git now; later steps add more)."""

    tag: str
    commit: str
    branch: str
    notices: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    version: ReleaseVersion
    tag: str
    commit: str
    branch: str
    codename: str | None
    actions: tuple[Action, ...]
    image_tags: Mapping[str, tuple[str, ...]]
    problems: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def action(self, step: str) -> Action:
        return next(a for a in self.actions if a.step == step)

    def runs(self, step: str) -> bool:
        return self.action(step).runs

    def to_json(self) -> dict[str, Any]:
        """The object of docs/tasks.md "Tasks" (``check-version --json``), keys in that order."""
        v = self.version
        return {
            "tag": self.tag,
            "version": v.pep440,
            "kind": v.kind.value,
            "major": v.major,
            "minor": v.minor,
            "patch": v.patch,
            "pre": list(v.pre) if v.pre else None,
            "post": v.post,
            "npm_version": v.npm,
            "docker_tag": v.docker_tag,
            "codename": self.codename,
            "image_tags": {name: list(tags) for name, tags in self.image_tags.items()},
            "steps": {a.step: a.status for a in self.actions},
        }


@dataclass(frozen=True)
class Skip:
    """What a step's ``planned`` returns instead of its line when this release skips it for
    a reason only the step knows (every image is ``release-on = "minor"`` in a patch release)."""

    reason: str


def skip_reason(step: str, version: ReleaseVersion, config: Config) -> str | None:
    """Why ``step`` does not run for this version and configuration (None: it runs)."""
    return catalog.skip_reason(catalog.spec(step), version.kind.value, config)


def fixed_image_tags(
    image: Image, version: ReleaseVersion, codename: str | None
) -> tuple[str, ...]:
    """The version tag and the ``{version}`` extra tags: tags that never move."""
    fields = version.fields(codename)
    tags = [version.docker_tag]
    for template in image.extra_tags:
        if template_scope(template) is Scope.FIXED:
            tag = template.format(**fields)
            if tag not in tags:
                tags.append(tag)
    return tuple(tags)


def image_skip_reason(image: Image, version: ReleaseVersion) -> str | None:
    """Why ``image`` is not built for ``version`` (None: it is).

    ``release-on = "minor"`` builds an image only when a minor opens: releases whose patch
    is 0 (``X.Y.0``, its pre-releases and its post releases).
    """
    if image.release_on == "minor" and version.patch != 0:
        return (
            f'release-on = "minor": built only for {version.major}.{version.minor}.0 '
            f"(and its pre and post releases), not for the patch release {version.pep440}"
        )
    return None


def released_images(config: Config, version: ReleaseVersion) -> tuple[Image, ...]:
    """The configured images this release builds and pushes, in their configured order."""
    return tuple(i for i in config.images if image_skip_reason(i, version) is None)


def make_plan(version: ReleaseVersion, config: Config, observed: Observed) -> Plan:
    """The plan for ``version``: pure, so it can be printed before anything happens."""
    codename = config.codename(version.major)
    actions = []
    for entry in catalog.CATALOG:
        reason = catalog.skip_reason(entry, version.kind.value, config)
        summary = ""
        if reason is None:
            planned = catalog.load(entry.planned)(version, config, observed.branch)
            if isinstance(planned, Skip):
                reason = planned.reason
            else:
                summary = planned
        actions.append(Action(step=entry.name, summary=summary, skipped=reason))
    images = released_images(config, version)
    image_tags = {image.name: fixed_image_tags(image, version, codename) for image in images}
    notices = list(observed.notices)
    if images and codename is None and version.kind is not Kind.PRE:
        notices.append(
            f"major {version.major} has no codename: the codename channel is skipped "
            "(add it under [tool.release.codenames])"
        )
    return Plan(
        version=version,
        tag=observed.tag,
        commit=observed.commit,
        branch=observed.branch,
        codename=codename,
        actions=tuple(actions),
        image_tags=image_tags,
        problems=observed.problems,
        notices=tuple(notices),
    )


def github_output_lines(data: Mapping[str, Any]) -> list[str]:
    """``key=value`` lines for ``$GITHUB_OUTPUT``: null as empty, lists/objects as compact JSON."""
    import json

    lines = []
    for key, value in data.items():
        if value is None:
            text = ""
        elif isinstance(value, (list, dict)):
            text = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        lines.append(f"{key}={text}")
    return lines
