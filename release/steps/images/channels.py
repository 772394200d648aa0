"""Which channel tags move where: pure decisions over a registry's tags (docs/design.md "Channels").

Nodes and servers upgrade by pulling a channel tag: the codename of their major
(``petronas``), ``X.Y``, ``latest``, and the ``extra-tags`` templates whose scope follows
their fields. The rule is one pure function: a channel's **target** is the highest
final-or-post, non-yanked version in its scope among the image's versioned tags. A
release moves each of its channels to that target, but never backwards; pre-releases
move nothing. ``invoke channels --apply`` moves every channel to its target, backwards
included (the rollback of a yanked version).

This module is pure (tables and hypothesis test it); the thin I/O around it, which reads
the registry and moves channels by copying manifests, is ``release.steps.images.channel_moves``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from release.core.templates import Scope, template_fields, template_scope
from release.core.version import Kind, ReleaseVersion

if TYPE_CHECKING:
    from release.core.config import Image


# -- channels ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Channel:
    """A moving tag and the versions it may point to (its scope)."""

    tag: str
    scope: Scope
    major: int | None = None  # MAJOR and MINOR scopes
    minor: int | None = None  # MINOR scope

    def covers(self, version: ReleaseVersion) -> bool:
        """Whether ``version`` is in this channel's scope."""
        if self.scope is Scope.GLOBAL:
            return True
        if self.scope is Scope.MAJOR:
            return version.major == self.major
        return (version.major, version.minor) == (self.major, self.minor)

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        """latest first, then per major (newest first), then per minor (newest first)."""
        rank = {Scope.GLOBAL: 0, Scope.MAJOR: 1, Scope.MINOR: 2}.get(self.scope, 3)
        return (rank, -(self.major or 0), -(self.minor or 0), self.tag)


def no_codename_reason(major: int) -> str:
    return (
        f"major {major} has no codename: the codename channel is skipped "
        "(add it under [tool.release.codenames])"
    )


def release_channels(
    image: Image, version: ReleaseVersion, codenames: Mapping[int, str]
) -> tuple[tuple[Channel, ...], tuple[str, ...]]:
    """The channels a release of ``version`` concerns, and why any configured one is skipped.

    ``codename`` (when the major has one), ``X.Y``, ``latest`` as configured in
    ``image.channels``, then every ``extra-tags`` template that is a channel (not a fixed
    ``{version}`` tag), formatted with the version's fields. Duplicates are dropped.
    """
    codename = codenames.get(version.major)
    major, minor = version.major, version.minor
    found: dict[str, Channel] = {}
    skipped: list[str] = []
    for kind in image.channels:
        if kind == "codename":
            if codename is None:
                skipped.append(no_codename_reason(major))
                continue
            found.setdefault(codename, Channel(codename, Scope.MAJOR, major))
        elif kind == "minor":
            tag = f"{major}.{minor}"
            found.setdefault(tag, Channel(tag, Scope.MINOR, major, minor))
        elif kind == "latest":
            found.setdefault("latest", Channel("latest", Scope.GLOBAL))
    fields = version.fields(codename)
    for template in image.extra_tags:
        scope = template_scope(template)
        if scope is Scope.FIXED:
            continue
        if "codename" in template_fields(template) and codename is None:
            skipped.append(f"extra tag {template!r}: {no_codename_reason(major)}")
            continue
        tag = template.format(**fields)
        if scope is Scope.GLOBAL:
            channel = Channel(tag, scope)
        elif scope is Scope.MAJOR:
            channel = Channel(tag, scope, major)
        else:
            channel = Channel(tag, scope, major, minor)
        found.setdefault(tag, channel)
    return tuple(found.values()), tuple(skipped)


def image_channels(
    image: Image, versions: Iterable[ReleaseVersion], codenames: Mapping[int, str]
) -> tuple[Channel, ...]:
    """Every channel some version of the image concerns, latest first (``invoke channels``)."""
    found: dict[str, Channel] = {}
    for version in versions:
        for channel in release_channels(image, version, codenames)[0]:
            found.setdefault(channel.tag, channel)
    return tuple(sorted(found.values(), key=lambda c: c.sort_key))


def versioned_tags(tags: Iterable[str]) -> dict[ReleaseVersion, str]:
    """The registry tags that are versions: {version: tag}; every other tag is ignored.

    A version spelled twice (``3.1.0.post1`` and ``3.1.0-post1``) keeps its Docker form.
    """
    from release.core.errors import ReleaseError
    from release.core.version import parse_version

    found: dict[ReleaseVersion, str] = {}
    for tag in tags:
        try:
            version = parse_version(tag)
        except ReleaseError:
            continue
        if version not in found or tag == version.docker_tag:
            found[version] = tag
    return found


def yanked_versions(yanked: Iterable[str]) -> frozenset[ReleaseVersion]:
    """The ``yanked`` list as versions (the configuration has already validated it)."""
    from release.core.version import parse_version

    return frozenset(parse_version(text) for text in yanked)


def channel_target(
    channel: Channel, versions: Iterable[ReleaseVersion], yanked: Iterable[ReleaseVersion]
) -> ReleaseVersion | None:
    """The highest final-or-post, non-yanked version in the channel's scope (None: none)."""
    excluded = set(yanked)
    candidates = [
        v for v in versions if v.kind is not Kind.PRE and v not in excluded and channel.covers(v)
    ]
    return max(candidates, default=None)


# -- decisions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """Where a channel tag points now: its digest, and the version whose tag has that digest.

    ``digest`` None: the tag does not exist. ``version`` None with a digest: no versioned tag
    holds that manifest.
    """

    digest: str | None = None
    version: ReleaseVersion | None = None

    def describe(self) -> str:
        if self.digest is None:
            return "-"
        if self.version is None:
            return f"no version ({short_digest(self.digest)})"
        return f"{self.version} ({short_digest(self.digest)})"


class Move(StrEnum):
    STAY = "stay"
    CREATE = "create"  # the channel tag does not exist yet
    FORWARD = "forward"
    BACKWARD = "backward"  # only `channels --apply`
    REPLACE = "replace"  # the tag holds no versioned manifest


@dataclass(frozen=True)
class Decision:
    """What to do with one channel: move to ``target`` or stay, and why."""

    channel: Channel
    current: Current
    target: ReleaseVersion | None
    move: Move
    reason: str

    @property
    def moves(self) -> bool:
        return self.move is not Move.STAY

    def describe(self) -> str:
        """The action column of ``invoke channels``."""
        if not self.moves:
            return f"stay: {self.reason}"
        old = self.current.version or ("-" if self.current.digest is None else "?")
        return f"{self.move.value}: {old} -> {self.target} ({self.reason})"


def decide(
    channel: Channel,
    current: Current,
    versions: Iterable[ReleaseVersion],
    yanked: Iterable[ReleaseVersion],
    *,
    backwards: bool,
) -> Decision:
    """Where ``channel`` should point and whether to move it there.

    ``backwards`` is False for a release (a channel never goes back) and True for
    ``channels --apply`` (a rollback).
    """
    yanked = frozenset(yanked)
    target = channel_target(channel, versions, yanked)
    old = current.version

    def stay(reason: str) -> Decision:
        return Decision(channel, current, target, Move.STAY, reason)

    def move(kind: Move, reason: str) -> Decision:
        return Decision(channel, current, target, kind, reason)

    if target is None:
        return stay("no final or post release in its scope that is not yanked")
    if current.digest is None:
        return move(Move.CREATE, "new channel")
    if old == target:
        return stay("already on the highest release of its scope")
    if old is None:
        if backwards:
            return move(Move.REPLACE, "it holds no versioned image")
        return stay(
            "it holds no versioned image: a release does not replace it "
            "(`invoke channels --apply` does)"
        )
    if target > old:
        return move(Move.FORWARD, f"{target} is the highest release of its scope")
    why = _why_not(old, channel, yanked)
    if backwards:
        return move(Move.BACKWARD, why)
    return stay(
        f"{target} would be a move backwards from {old} ({why}): a release never moves a "
        "channel backwards (`invoke channels --apply` does)"
    )


def _why_not(old: ReleaseVersion, channel: Channel, yanked: frozenset[ReleaseVersion]) -> str:
    """Why the version a channel holds is not its target although it is higher."""
    if old in yanked:
        return f"{old} is yanked"
    if old.kind is Kind.PRE:
        return f"{old} is a pre-release"
    if not channel.covers(old):
        return f"{old} is outside the channel's scope"
    return f"{old} is not the target"  # pragma: no cover - a higher old would be the target


def release_decisions(
    channels: Sequence[Channel],
    release: ReleaseVersion,
    currents: Mapping[str, Current],
    versions: Iterable[ReleaseVersion],
    yanked: Iterable[ReleaseVersion],
) -> list[Decision]:
    """What a release of ``release`` does to its channels: forward moves only, none for a pre.

    ``versions`` are the image's versioned tags in the registry; the release itself counts
    even when it is not there yet (a dry run).
    """
    every = {*versions, release}
    yanked = frozenset(yanked)
    decisions = []
    for channel in channels:
        current = currents.get(channel.tag, Current())
        if release.kind is Kind.PRE:
            target = channel_target(channel, every, yanked)
            decisions.append(
                Decision(channel, current, target, Move.STAY, "pre-releases move no channel")
            )
            continue
        decision = decide(channel, current, every, yanked, backwards=False)
        if not decision.moves and decision.target is not None and decision.target > release:
            reason = f"{decision.target} is newer than {release}"
            if decision.current.version != decision.target:
                reason = decision.reason
            decision = Decision(channel, current, decision.target, Move.STAY, reason)
        decisions.append(decision)
    return decisions


def short_digest(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest
