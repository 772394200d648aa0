"""Reading a registry's channels and moving them after a push: the I/O around the pure rules
of ``release.steps.images.channels``, through a ``RegistryClient`` it is given.

A move copies the target version's manifest under the channel tag (no pull, no layer
upload); the registry is read again after the moves until concurrent releases have
converged on the highest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.version import Kind, ReleaseVersion
from release.steps.images.channels import (
    Channel,
    Current,
    Decision,
    channel_target,
    release_channels,
    release_decisions,
    short_digest,
    versioned_tags,
    yanked_versions,
)

if TYPE_CHECKING:
    from release.core.config import Image
    from release.run.context import ReleaseContext
    from release.steps.images.oci import Manifest
    from release.steps.images.registry import RegistryClient


@dataclass(frozen=True)
class Observation:
    """What the registry holds for one image: its versions and where its channels point."""

    versions: Mapping[ReleaseVersion, str]  # version -> its tag in the registry
    currents: Mapping[str, Current]  # channel tag -> where it points


def observe(
    client: RegistryClient,
    repo: str,
    channels: Sequence[Channel],
    yanked: Iterable[ReleaseVersion] = (),
) -> Observation:
    """Read ``repo``'s tags and resolve each channel tag to a version by digest.

    A channel's digest is compared with the versions' digests lazily, most likely first
    (its target, then its scope from the highest down, then the rest), so the usual case
    costs one HEAD per channel and one per version it points to.
    """
    versions = versioned_tags(client.tags(repo))
    yanked = frozenset(yanked)
    digests: dict[ReleaseVersion, str | None] = {}

    def digest_of(version: ReleaseVersion) -> str | None:
        if version not in digests:
            digests[version] = client.manifest_digest(repo, versions[version])
        return digests[version]

    currents: dict[str, Current] = {}
    for channel in channels:
        digest = client.manifest_digest(repo, channel.tag)
        if digest is None:
            currents[channel.tag] = Current()
            continue
        target = channel_target(channel, versions, yanked)
        ordered = sorted(versions, reverse=True)  # then a stable sort: target, scope, rest
        ordered.sort(key=lambda v: (v != target, not channel.covers(v)))
        match = next((v for v in ordered if digest_of(v) == digest), None)
        currents[channel.tag] = Current(digest, match)
    return Observation(versions, currents)


MAX_ROUNDS = 5
"""Rounds of read-move-read in a release before concurrent releases must have converged."""


def move_channels_after_push(
    ctx: ReleaseContext, image: Image, client: RegistryClient
) -> list[dict[str, Any]]:
    """Move ``image``'s channels after its version tag was pushed (the push-image step).

    Reads the registry just before the moves, moves each channel forward to its target by
    copying the target's manifest (no pull, no layer upload), then reads again and moves
    on to a higher version a concurrent release pushed meanwhile, until nothing moves.
    ``yanked`` is the default branch's (``resolve`` puts it in ``ctx.config``). In a dry
    run nothing is moved.
    Returns one record per channel for the state and the summary: ``channel``, ``action``
    (``moved``, ``would move``, ``stayed``, ``skipped``), ``from``, ``to`` (versions, or a
    digest that no version tag holds), ``digest``, ``reason`` and ``summary``, the line to
    show (``petronas 3.0.0 -> 3.1.0 (sha256:...)``).
    """
    version = ctx.version
    if version.kind is Kind.PRE:
        console.info(f"{image.name}: pre-releases move no channel")
        return []
    channels, skipped = release_channels(image, version, ctx.config.codenames)
    records = [
        {"channel": None, "action": "skipped", "from": None, "to": None, "digest": None,
         "reason": reason, "summary": f"skipped: {reason}"}
        for reason in skipped
    ]  # fmt: skip
    for reason in skipped:
        console.info(f"{image.name}: {reason}")
    yanked = yanked_versions(ctx.config.yanked)  # the default branch's (release.pipeline.preflight)
    first: dict[str, Decision] = {}
    last_move: dict[str, tuple[Decision, str]] = {}
    for _ in range(MAX_ROUNDS):
        seen = observe(client, image.name, channels, yanked)
        decisions = release_decisions(channels, version, seen.currents, seen.versions, yanked)
        for decision in decisions:
            first.setdefault(decision.channel.tag, decision)
        # A target without a tag is the release itself before its push (a dry run).
        moving = [d for d in decisions if d.moves and d.target in seen.versions]
        if not moving or ctx.options.dry_run:
            break
        manifests: dict[ReleaseVersion, Manifest] = {}
        for decision in moving:
            target = decision.target
            assert target is not None  # a move always has a target
            if target not in manifests:
                manifests[target] = client.manifest(image.name, seen.versions[target])
            manifest = manifests[target]
            digest = client.put_manifest(
                image.name, decision.channel.tag, manifest.data, manifest.media_type
            )
            last_move[decision.channel.tag] = (decision, digest)
            console.info(
                f"{image.name}: moved {decision.channel.tag} "
                f"{decision.current.version or '-'} -> {target} ({short_digest(digest)})"
            )
    else:
        console.warn(
            f"{image.name}: the channels were still moving after {MAX_ROUNDS} rounds "
            "(many concurrent releases?): run `invoke channels` to check them"
        )
    for channel in channels:
        records.append(_record(first[channel.tag], last_move.get(channel.tag), ctx.options.dry_run))
    return records


def _record(
    decision: Decision, moved: tuple[Decision, str] | None, dry_run: bool
) -> dict[str, Any]:
    """One channel's outcome for the state and the summary (``summary`` is its line)."""
    tag, old = decision.channel.tag, decision.current
    before = str(old.version) if old.version else old.digest
    shown = str(old.version) if old.version else short_digest(old.digest) if old.digest else "-"
    if moved is not None:
        last, digest = moved
        to = str(last.target)
        return {"channel": tag, "action": "moved", "from": before, "to": to, "digest": digest,
                "reason": last.reason,
                "summary": f"{tag} {shown} -> {to} ({short_digest(digest)})"}  # fmt: skip
    if decision.moves and dry_run:
        to = str(decision.target)
        return {"channel": tag, "action": "would move", "from": before, "to": to,
                "digest": None, "reason": decision.reason,
                "summary": f"{tag} would move {shown} -> {to}"}  # fmt: skip
    return {"channel": tag, "action": "stayed", "from": before, "to": before,
            "digest": old.digest, "reason": decision.reason,
            "summary": f"{tag} stays on {shown}: {decision.reason}"}  # fmt: skip
