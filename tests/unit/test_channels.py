"""The channel rules (docs/design.md "Channels") as pure decisions: tables and properties.

A registry is modelled as a dict {tag: digest}; a version's image has the digest
``d-<version>``. The model only stores what the decisions say; the real registry
scenario is in tests/integration/test_channels_registry.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release.core.config import DEFAULT_CODENAMES, Image
from release.core.version import Kind, ReleaseVersion, parse_version
from release.steps.images.channels import (
    Channel,
    Current,
    Move,
    Scope,
    channel_target,
    decide,
    image_channels,
    release_channels,
    release_decisions,
    template_scope,
    versioned_tags,
)

IMAGE = Image(name="demo/node", dockerfile="Dockerfile")
EXTRAS = Image(
    name="demo/server",
    dockerfile="Dockerfile",
    extra_tags=("{codename}-live", "{major}.{minor}-stable", "stable", "{version}-fixed"),
)
CODENAMES = dict(DEFAULT_CODENAMES)


def v(text: str) -> ReleaseVersion:
    return parse_version(text)


def digest(version: ReleaseVersion) -> str:
    return f"d-{version}"


class ModelRegistry:
    """Tags -> digests, and a release/apply that follows the decisions exactly."""

    def __init__(self, image: Image = IMAGE) -> None:
        self.image = image
        self.tags: dict[str, str] = {}

    def versions(self) -> dict[ReleaseVersion, str]:
        return versioned_tags(self.tags)

    def current(self, tag: str) -> Current:
        found = self.tags.get(tag)
        if found is None:
            return Current()
        versions = self.versions()
        match = next((ver for ver in versions if digest(ver) == found), None)
        return Current(found, match)

    def point(self, tag: str, version: ReleaseVersion) -> None:
        self.tags[tag] = digest(version)

    def release(self, version: ReleaseVersion, yanked: Iterable[str] = ()) -> list:
        self.tags[version.docker_tag] = digest(version)
        channels, _ = release_channels(self.image, version, CODENAMES)
        currents = {c.tag: self.current(c.tag) for c in channels}
        yanked_set = {v(y) for y in yanked}
        decisions = release_decisions(channels, version, currents, self.versions(), yanked_set)
        for decision in decisions:
            if decision.moves:
                assert decision.target is not None
                self.point(decision.channel.tag, decision.target)
        return decisions

    def apply(self, yanked: Iterable[str] = ()) -> list:
        yanked_set = {v(y) for y in yanked}
        channels = image_channels(self.image, self.versions(), CODENAMES)
        decisions = [
            decide(c, self.current(c.tag), self.versions(), yanked_set, backwards=True)
            for c in channels
        ]
        for decision in decisions:
            if decision.moves:
                assert decision.target is not None
                self.point(decision.channel.tag, decision.target)
        return decisions

    def on(self, tag: str) -> str | None:
        """The version a channel tag holds, or None."""
        version = self.current(tag).version
        return None if version is None else str(version)


# -- scopes and channels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "scope"),
    [
        ("{version}", Scope.FIXED),
        ("{docker_tag}-slim", Scope.FIXED),
        ("{codename}-live", Scope.MAJOR),
        ("{major}", Scope.MAJOR),
        ("{major}.{minor}-stable", Scope.MINOR),
        ("stable", Scope.GLOBAL),
    ],
)
def test_template_scope_follows_its_fields(template: str, scope: Scope) -> None:
    assert template_scope(template) is scope


def test_a_release_concerns_codename_minor_latest_and_channel_extra_tags() -> None:
    channels, skipped = release_channels(EXTRAS, v("3.1.0"), CODENAMES)
    assert [c.tag for c in channels] == [
        "petronas",
        "3.1",
        "latest",
        "petronas-live",
        "3.1-stable",
        "stable",
    ]
    assert skipped == ()
    assert [c.scope for c in channels] == [
        Scope.MAJOR,
        Scope.MINOR,
        Scope.GLOBAL,
        Scope.MAJOR,
        Scope.MINOR,
        Scope.GLOBAL,
    ]


def test_a_major_without_codename_skips_the_codename_channels_and_says_why() -> None:
    channels, skipped = release_channels(EXTRAS, v("5.0.0"), CODENAMES)
    assert [c.tag for c in channels] == ["5.0", "latest", "5.0-stable", "stable"]
    assert len(skipped) == 2
    assert all("major 5 has no codename" in reason for reason in skipped)


def test_the_fourth_major_moves_cotopaxi_by_default() -> None:
    channels, skipped = release_channels(EXTRAS, v("4.0.0"), CODENAMES)
    assert [c.tag for c in channels] == [
        "cotopaxi",
        "4.0",
        "latest",
        "cotopaxi-live",
        "4.0-stable",
        "stable",
    ]
    assert skipped == ()


def test_only_the_configured_channel_kinds_are_used() -> None:
    image = Image(name="x", dockerfile="D", channels=("latest",))
    channels, _ = release_channels(image, v("2.4.1"), CODENAMES)
    assert [c.tag for c in channels] == ["latest"]


def test_versioned_tags_ignores_other_tags_and_prefers_the_docker_spelling() -> None:
    tags = [
        "latest",
        "petronas",
        "3.1",
        "3.0.0",
        "3.1.0-post1",
        "3.1.0.post1",
        "v3.2.0",
        "3.1.0rc1",
    ]
    found = versioned_tags(tags)
    assert found == {
        v("3.0.0"): "3.0.0",
        v("3.1.0.post1"): "3.1.0.post1",
        v("3.1.0rc1"): "3.1.0rc1",
    }


def test_the_target_is_the_highest_final_or_post_not_yanked_in_scope() -> None:
    versions = [v(t) for t in ("3.0.0", "3.0.5", "3.1.0", "3.1.0.post1", "3.2.0rc1", "2.4.1")]
    petronas = Channel("petronas", Scope.MAJOR, 3)
    assert channel_target(petronas, versions, []) == v("3.1.0.post1")
    assert channel_target(petronas, versions, [v("3.1.0.post1")]) == v("3.1.0")
    assert channel_target(Channel("3.0", Scope.MINOR, 3, 0), versions, []) == v("3.0.5")
    assert channel_target(Channel("harukas", Scope.MAJOR, 2), versions, []) == v("2.4.1")
    assert channel_target(Channel("3.2", Scope.MINOR, 3, 2), versions, []) is None


# -- the scenario, as a table -----------------------------------------------------

SCENARIO = [
    # (release, yanked, {channel: version it holds afterwards})
    ("3.0.0", [], {"petronas": "3.0.0", "3.0": "3.0.0", "latest": "3.0.0"}),
    ("3.1.0rc1", [], {"petronas": "3.0.0", "3.0": "3.0.0", "latest": "3.0.0", "3.1": None}),
    ("3.1.0", [], {"petronas": "3.1.0", "3.1": "3.1.0", "latest": "3.1.0", "3.0": "3.0.0"}),
    ("3.0.5", [], {"petronas": "3.1.0", "3.1": "3.1.0", "latest": "3.1.0", "3.0": "3.0.5"}),
    ("3.1.0.post1", [], {"petronas": "3.1.0.post1", "3.1": "3.1.0.post1", "latest": "3.1.0.post1"}),
    ("2.4.1", [], {"harukas": "2.4.1", "2.4": "2.4.1", "latest": "3.1.0.post1"}),
    # A re-run of the yanked version after the rollback leaves the channels where they are.
    ("3.1.0.post1", ["3.1.0.post1"], {"petronas": "3.1.0", "3.1": "3.1.0", "latest": "3.1.0"}),
]


def test_the_scenario_moves_exactly_the_expected_channels() -> None:
    registry = ModelRegistry()
    for release, yanked, expected in SCENARIO[:-1]:
        registry.release(v(release), yanked)
        assert {tag: registry.on(tag) for tag in expected} == expected, release
    registry.apply(yanked=["3.1.0.post1"])
    assert {tag: registry.on(tag) for tag in ("petronas", "3.1", "latest", "3.0", "harukas")} == {
        "petronas": "3.1.0",
        "3.1": "3.1.0",
        "latest": "3.1.0",
        "3.0": "3.0.5",
        "harukas": "2.4.1",
    }
    release, yanked, expected = SCENARIO[-1]
    decisions = registry.release(v(release), yanked)
    assert not any(d.moves for d in decisions)
    assert {tag: registry.on(tag) for tag in expected} == expected


def test_a_backport_leaves_latest_and_the_codename_on_the_newer_minor() -> None:
    registry = ModelRegistry()
    registry.release(v("3.0.0"))
    registry.release(v("3.1.0"))
    decisions = {d.channel.tag: d for d in registry.release(v("3.0.5"))}
    assert decisions["petronas"].move is Move.STAY
    assert "3.1.0" in decisions["petronas"].reason
    assert decisions["latest"].move is Move.STAY
    assert decisions["3.0"].move is Move.FORWARD


def test_a_release_does_not_move_a_channel_back_from_a_yanked_version() -> None:
    registry = ModelRegistry()
    registry.release(v("3.1.0"))
    registry.release(v("3.1.1"))
    decisions = {d.channel.tag: d for d in registry.release(v("3.0.9"), yanked=["3.1.1"])}
    assert decisions["latest"].move is Move.STAY
    assert "never moves a channel backwards" in decisions["latest"].reason
    assert "3.1.1 is yanked" in decisions["latest"].reason
    assert registry.on("latest") == "3.1.1"


def test_apply_rolls_back_and_says_why() -> None:
    registry = ModelRegistry()
    registry.release(v("3.1.0"))
    registry.release(v("3.1.1"))
    decisions = {d.channel.tag: d for d in registry.apply(yanked=["3.1.1"])}
    assert decisions["latest"].move is Move.BACKWARD
    assert decisions["latest"].reason == "3.1.1 is yanked"
    assert "backward: 3.1.1 -> 3.1.0" in decisions["latest"].describe()
    assert registry.on("latest") == "3.1.0"


def test_a_channel_holding_an_unknown_image_is_replaced_only_by_apply() -> None:
    registry = ModelRegistry()
    registry.release(v("3.1.0"))
    registry.tags["latest"] = "d-hand-pushed"
    decisions = {d.channel.tag: d for d in registry.release(v("3.1.1"))}
    assert decisions["latest"].move is Move.STAY
    assert registry.tags["latest"] == "d-hand-pushed"
    decisions = {d.channel.tag: d for d in registry.apply()}
    assert decisions["latest"].move is Move.REPLACE
    assert registry.on("latest") == "3.1.1"


def test_a_channel_with_nothing_to_point_to_stays() -> None:
    channel = Channel("3.2", Scope.MINOR, 3, 2)
    decision = decide(channel, Current(), [v("3.2.0rc1")], [], backwards=True)
    assert decision.move is Move.STAY
    assert decision.target is None


def test_a_new_channel_is_created() -> None:
    decision = decide(Channel("latest", Scope.GLOBAL), Current(), [v("1.0.0")], [], backwards=False)
    assert decision.move is Move.CREATE
    assert decision.target == v("1.0.0")


# -- properties ----------------------------------------------------------------------------

versions_st = st.builds(
    lambda major, minor, patch, kind, n: ReleaseVersion(
        major,
        minor,
        patch,
        pre=(kind, n) if kind in ("a", "b", "rc") else None,
        post=n if kind == "post" else None,
    ),
    st.integers(1, 4),  # 4 has no codename
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from(["final", "final", "post", "a", "b", "rc"]),
    st.integers(1, 2),
)
orders_st = st.lists(versions_st, min_size=1, max_size=12, unique=True)


def all_channels(image: Image, versions: Iterable[ReleaseVersion]) -> Sequence[Channel]:
    return image_channels(image, versions, CODENAMES)


@settings(max_examples=150, deadline=None)
@given(order=orders_st, data=st.data(), image=st.sampled_from([IMAGE, EXTRAS]))
def test_every_channel_ends_on_the_highest_release_of_its_scope(
    order: list[ReleaseVersion], data: st.DataObject, image: Image
) -> None:
    yanked = data.draw(st.lists(st.sampled_from(order), unique=True), label="yanked")
    registry = ModelRegistry(image)
    for version in order:
        registry.release(version, [str(y) for y in yanked])
    for channel in all_channels(image, order):
        target = channel_target(channel, order, yanked)
        assert registry.on(channel.tag) == (None if target is None else str(target)), channel


@settings(max_examples=150, deadline=None)
@given(order=orders_st, data=st.data())
def test_a_release_never_moves_a_channel_backwards(
    order: list[ReleaseVersion], data: st.DataObject
) -> None:
    registry = ModelRegistry(EXTRAS)
    for version in order:
        # The yanked list may change between releases (a rollback decided halfway).
        yanked = data.draw(st.lists(st.sampled_from(order), unique=True), label="yanked")
        before = {tag: registry.current(tag) for tag in list(registry.tags)}
        for decision in registry.release(version, [str(y) for y in yanked]):
            if not decision.moves:
                continue
            old = before.get(decision.channel.tag, Current())
            assert decision.move in (Move.CREATE, Move.FORWARD)
            assert old.digest is None or (
                old.version is not None and decision.target is not None
                and decision.target > old.version
            )  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(order=orders_st, pre=versions_st.filter(lambda ver: ver.kind is Kind.PRE))
def test_a_pre_release_moves_nothing(order: list[ReleaseVersion], pre: ReleaseVersion) -> None:
    registry = ModelRegistry(EXTRAS)
    for version in order:
        registry.release(version)
    before = dict(registry.tags)
    decisions = registry.release(pre)
    assert not any(d.moves for d in decisions)
    assert {k: val for k, val in registry.tags.items() if k != pre.docker_tag} == {
        k: val for k, val in before.items() if k != pre.docker_tag
    }


@settings(max_examples=100, deadline=None)
@given(order=orders_st, data=st.data())
def test_apply_puts_every_channel_on_its_target_even_backwards(
    order: list[ReleaseVersion], data: st.DataObject
) -> None:
    registry = ModelRegistry(EXTRAS)
    for version in order:
        registry.release(version)
    yanked = data.draw(st.lists(st.sampled_from(order), unique=True), label="yanked")
    registry.apply([str(y) for y in yanked])
    for channel in all_channels(EXTRAS, order):
        target = channel_target(channel, order, yanked)
        if target is not None:
            assert registry.on(channel.tag) == str(target)
    # Releases after the rollback respect it, and a second apply has nothing to do.
    assert not any(d.moves for d in registry.apply([str(y) for y in yanked]))


@settings(max_examples=300, deadline=None)
@given(order=st.lists(versions_st, min_size=2, max_size=4, unique=True), data=st.data())
def test_concurrent_releases_converge_on_the_highest(
    order: list[ReleaseVersion], data: st.DataObject
) -> None:
    """Releases interleave their phases: push, read, moves from that (maybe stale) read,
    then read-and-move rounds until nothing moves (as ``move_channels_after_push`` does)."""
    registry = ModelRegistry(IMAGE)
    programs = {index: _release_program(registry, ver) for index, ver in enumerate(order)}
    while programs:
        index = data.draw(st.sampled_from(sorted(programs)), label="who runs next")
        if next(programs[index], "done") == "done":
            del programs[index]
    for channel in all_channels(IMAGE, order):
        target = channel_target(channel, order, [])
        assert registry.on(channel.tag) == (None if target is None else str(target)), channel


def _release_program(registry: ModelRegistry, version: ReleaseVersion) -> Iterator[str]:
    """One release as a generator: each ``yield`` lets another release run in between."""
    registry.tags[version.docker_tag] = digest(version)
    yield "pushed"
    channels, _ = release_channels(registry.image, version, CODENAMES)
    for _ in range(10):
        currents = {c.tag: registry.current(c.tag) for c in channels}
        versions = registry.versions()
        yield "read"  # the read may be stale by the time the moves happen
        decisions = release_decisions(channels, version, currents, versions, [])
        moving = [d for d in decisions if d.moves]
        if not moving:
            return
        for decision in moving:
            assert decision.target is not None
            registry.point(decision.channel.tag, decision.target)
            yield "moved"
    raise AssertionError("did not converge in 10 rounds")
