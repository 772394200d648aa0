"""What a tag will do: a pure function of (version, config, what was observed).

The plan is computed before anything happens and printed by ``check-version``,
``--dry-run`` and ``release``. It names every step of DESIGN.md "Tasks", says
whether it runs or why it is skipped, and carries the pre-flight problems and
notices so that they are reported all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from release.channels import Scope, template_scope
from release.config import Config, Image
from release.version import Kind, ReleaseVersion

STEPS = ("bump", "build", "upload", "push-image", "notify", "deploy-ui")
NOT_CONFIGURED = "not configured"


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
        """The object of DESIGN.md "Tasks" (``check-version --json``), keys in that order."""
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


def skip_reason(step: str, version: ReleaseVersion, config: Config) -> str | None:
    """Why ``step`` does not run for this version and configuration (None: it runs)."""
    kind = version.kind
    if step == "bump":
        if kind is Kind.POST:
            return "post releases commit nothing: the code is not re-released"
        return None if config.version_files else NOT_CONFIGURED
    if step in ("build", "upload"):
        if kind is Kind.POST:
            return "post releases are Docker-only"
        return None if config.packages else NOT_CONFIGURED
    if step == "push-image":
        return None if config.images else NOT_CONFIGURED
    if step == "notify":
        if kind is Kind.PRE:
            return "pre-releases are not announced"
        return None if config.discord else NOT_CONFIGURED
    if step == "deploy-ui":
        if kind is Kind.PRE:
            return "pre-releases are built, not deployed"
        return None if config.ui else NOT_CONFIGURED
    raise ValueError(f"unknown step {step}")


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


def _summary(step: str, version: ReleaseVersion, config: Config, branch: str) -> str:
    v = version.pep440
    if step == "bump":
        files = sorted({m for vf in config.version_files for m in vf.matches}) or [
            vf.path for vf in config.version_files
        ]
        message = config.commit_message.format(**version.fields(config.codename(version.major)))
        return f"write {v} into {len(files)} file(s), commit {message!r}, push to {branch}"
    if step == "build":
        names = ", ".join(p.path for p in config.packages)
        return f"build sdist and wheel of {names}; twine check, version check, smoke install"
    if step == "upload":
        from release.httpclient import public_url

        target = public_url(config.pypi.repository_url)  # a URL may carry credentials
        return f"upload {len(config.packages) * 2} file(s) to {target}"
    if step == "push-image":
        host = config.registry.host if config.registry else "?"
        names = ", ".join(f"{host}/{i.name}:{version.docker_tag}" for i in config.images)
        channels = "no channel moves" if version.kind is Kind.PRE else "channels forward only"
        return f"build and push {names}; {channels}"
    if step == "notify":
        name = config.discord.project_name if config.discord else "?"
        wording = "rebuild" if version.kind is Kind.POST else "release"
        return f"announce the {wording} of {name} {v} on Discord"
    if step == "deploy-ui":
        if config.ui is None:
            return "deploy the UI"
        ui = config.ui
        target = f"{ui.azure_app} ({ui.slot})"
        return (
            f"build {ui.path} ({version.npm}), deploy {ui.path}/{ui.output} to {target}, "
            f"waiting at most {ui.deploy_timeout} s"
        )
    raise ValueError(step)


def make_plan(version: ReleaseVersion, config: Config, observed: Observed) -> Plan:
    """The plan for ``version``: pure, so it can be printed before anything happens."""
    codename = config.codename(version.major)
    actions = []
    for step in STEPS:
        reason = skip_reason(step, version, config)
        summary = _summary(step, version, config, observed.branch) if reason is None else ""
        actions.append(Action(step=step, summary=summary, skipped=reason))
    image_tags = {image.name: fixed_image_tags(image, version, codename) for image in config.images}
    notices = list(observed.notices)
    if config.images and codename is None and version.kind is not Kind.PRE:
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
