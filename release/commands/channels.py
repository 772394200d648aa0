"""``invoke channels``: where every channel tag points, where the rules say it should, and
``--apply`` to move it there (backwards included: the rollback of a yanked release).

The configuration, and above all ``yanked``, comes from the tip of the remote's default
branch (``origin/main:pyproject.toml`` after a fetch of that branch, named and read as
``release.run.rules`` does for every release), so a rollback is a reviewed commit to the
default branch followed by ``invoke channels --apply``. When that branch configures no
images, the working tree's images stand in with the default branch's rules in force (an
image it does not list moves the default channels), and the task says so; when the branch
cannot be named or read, the task refuses.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from release.core import console
from release.core.config import Config, Image, load_config
from release.core.errors import PreflightError, ReleaseError
from release.core.git import Git
from release.core.version import ReleaseVersion
from release.steps.images.channel_moves import observe
from release.steps.images.channels import (
    Decision,
    Move,
    channel_target,
    decide,
    image_channels,
    short_digest,
    versioned_tags,
    yanked_versions,
)
from release.steps.images.credentials import registry_credentials
from release.steps.images.provenance import index_platforms
from release.steps.images.registry import RegistryClient


def channel_config(git: Git, env: Mapping[str, str], *, offline: bool) -> Config:
    """The ``[tool.release]`` of the remote default branch's tip, ``yanked`` included.

    ``release.run.rules.read_policy`` names the default branch outside any commit's
    configuration, fetches it (unless ``offline``) and reads it; the working tree's
    configuration names the remote (outside GitHub Actions) and stands in, with the default
    branch's rules in force, when that branch configures no images. Raises
    ``PreflightError`` when the default branch cannot be named or read.
    """
    from release.run import rules

    working = load_config(git.root, env, check_paths=False)
    policy = rules.read_policy(
        git,
        env,
        offline,
        remote=rules.rules_remote(env, working),
        fallback=working.default_branch,
    )
    for line in policy.notices:
        console.notice(line)
    if policy.problems or policy.config is None:
        raise PreflightError(list(policy.problems))
    if policy.config.images:
        return policy.config
    console.notice(f"{policy.where} configures no images: using the working tree's images")
    config, notices = policy.effective(working)
    for line in notices:
        console.notice(line)
    return config


@dataclass(frozen=True)
class ImageChannels:
    """One image's channels as observed, with the decision of ``--apply`` for each."""

    image: Image
    versions: Mapping[ReleaseVersion, str]
    decisions: tuple[Decision, ...]
    platforms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # digest -> index


def show_channels(
    *,
    apply: bool = False,
    yes: bool = False,
    offline: bool = False,
    env: Mapping[str, str],
    start: Path | None = None,
) -> list[ImageChannels]:
    """Print a table per image (channel, points to, target, action); with ``apply``, move.

    ``apply`` moves every channel to its target. A move that is not forward (backwards,
    or replacing a tag that holds no version) asks on a terminal; without one it needs
    ``yes``, else nothing moves and the error says so.
    """
    git = Git.discover(start)
    config = channel_config(git, env, offline=offline)
    if not config.images or config.registry is None:
        console.info("no images are configured in [tool.release]: there are no channels")
        return []
    username, password = registry_credentials(config.registry, env)
    yanked = yanked_versions(config.yanked)
    with RegistryClient(config.registry, username, password) as client:
        client.ping()
        found = [_observe_image(client, image, config, yanked) for image in config.images]
        for entry in found:
            _print_table(config.registry.host, entry)
        if not apply:
            return found
        moves = [d for entry in found for d in entry.decisions if d.moves]
        if not moves:
            console.info("every channel is on its target: nothing to move")
            return found
        _confirm([d for d in moves if d.move in (Move.BACKWARD, Move.REPLACE)], yes)
        return [_apply(client, entry, config, yanked) for entry in found]


def _observe_image(
    client: RegistryClient, image: Image, config: Config, yanked: frozenset[ReleaseVersion]
) -> ImageChannels:
    versions = versioned_tags(client.tags(image.name))
    channels = image_channels(image, versions, config.codenames)
    seen = observe(client, image.name, channels, yanked)
    decisions = []
    for channel in channels:
        current = seen.currents[channel.tag]
        if current.digest is None and channel_target(channel, seen.versions, yanked) is None:
            continue  # a channel of pre-releases only: nothing to show
        decisions.append(decide(channel, current, seen.versions, yanked, backwards=True))
    platforms = {}  # a multi-platform image: what each channel's index holds
    for digest in {d.current.digest for d in decisions if image.platforms and d.current.digest}:
        platforms[digest] = index_platforms(client.manifest(image.name, digest))
    return ImageChannels(image, dict(seen.versions), tuple(decisions), platforms)


def _print_table(host: str, entry: ImageChannels) -> None:
    rows = [
        [d.channel.tag, d.current.describe(), str(d.target or "-"), d.describe()]
        for d in entry.decisions
    ]
    if not rows:
        console.info(f"{host}/{entry.image.name}: no final or post release yet: no channels")
        return
    columns = ["channel", "points to", "target", "action"]
    if entry.image.platforms:  # the platforms of the index each channel points to
        columns.append("platforms")
        for row, decision in zip(rows, entry.decisions, strict=True):
            held = entry.platforms.get(decision.current.digest or "", {})
            row.append(", ".join(f"{p} {short_digest(d)}" for p, d in held.items()) or "-")
    console.table(f"Channels of {host}/{entry.image.name}", columns, rows)


def _confirm(risky: list[Decision], yes: bool) -> None:
    if not risky:
        return
    listed = ", ".join(f"{d.channel.tag} -> {d.target}" for d in risky)
    what = f"{len(risky)} channel move(s) that are not forward ({listed})"
    if yes:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ReleaseError(
            f"channels --apply would make {what} and there is no terminal to confirm on",
            "run `invoke channels --apply --yes` to make them",
        )
    from rich.prompt import Confirm

    if not Confirm.ask(f"Make {what}?", console=console.err(), default=False):
        raise ReleaseError("nothing moved: not confirmed")


def _apply(
    client: RegistryClient, entry: ImageChannels, config: Config, yanked: frozenset[ReleaseVersion]
) -> ImageChannels:
    """Move the image's channels to their targets, re-reading the registry first.

    A channel whose decision changed since the table was shown (another release moved it
    meanwhile) is left alone, with a warning: the confirmation was for the old decision.
    """
    name = entry.image.name
    shown = {d.channel.tag: d for d in entry.decisions}
    fresh = _observe_image(client, entry.image, config, yanked)
    for decision in fresh.decisions:
        before = shown.get(decision.channel.tag)
        if not decision.moves:
            continue
        if before is None or (before.target, before.current) != (
            decision.target,
            decision.current,
        ):
            console.warn(
                f"{name}: {decision.channel.tag} changed since the table was shown: "
                "not moved; run `invoke channels` again"
            )
            continue
        assert decision.target is not None
        manifest = client.copy_manifest(name, fresh.versions[decision.target], decision.channel.tag)
        console.info(
            f"{name}: moved {decision.channel.tag} {decision.current.version or '-'} -> "
            f"{decision.target} ({decision.move.value}, {short_digest(manifest.digest)})"
        )
    return fresh
