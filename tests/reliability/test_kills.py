"""The release killed with SIGKILL at every step boundary and inside an upload and a push.

A runner that is shut down takes the whole process group with it, without a chance to
clean up: the tool is started in its own process group and ``killpg(SIGKILL)`` ends it.
Each kill point is reached deterministically, never by a timer: the process is blocked in
a request the proxy holds, or in a push that a pre-receive hook of the remote holds, at
exactly the point in question, and the kill lands while it waits there. Then **the same
command** is run again and must complete the release, and the end state must equal that
of an uninterrupted release (``World.snapshot``: the index's files, the registry's tags
and digests, the remote's branch and tag, the Discord message, the deployed files, the
state notes), with every invariant, no leak and nothing done twice.

Kill points (the publish order is bump; upload, push-image and deploy-ui concurrently;
notify):

- ``local-work``: while the local phase reads the registry (no side effect yet: nothing may
  have changed);
- ``inside-bump-push``: while the remote's hook holds the bump commit's push;
- ``after-bump``: the bump is pushed and recorded, and upload, push-image and deploy-ui
  each wait in their first request;
- ``inside-upload``: one file is on the index, the second upload is held;
- ``inside-image-push``: the node image's layers are pushed, its manifest PUT is held;
- ``before-notify``: push-image and deploy-ui are done and recorded on the remote, upload
  is done locally and the push of its final record (after its ``running`` mark and one
  record per file as it landed) is held: notify has not started;
- ``after-deploy``: the UI deployment succeeded and is recorded locally, the push of its
  note (the third deploy-ui note, after the ``running`` mark and "deploying") is held;
- ``after-notify``: the message is posted and recorded locally, the push of its note
  (the third notify note, after the ``running`` mark and "sending") is held: the re-run
  edits it, never reposts
  (on another runner, whose remote note still says "sending", the answer is unknown by
  design, and ``--assume-posted`` settles it);
- ``inside-notify``: the post itself is held, never delivered. The state says "sending",
  so by design the re-run cannot know and refuses (exit 1) with the two ways out; the
  message is not in the channel, so ``invoke notify --repost`` posts it once.

``RELEASE_RELIABILITY_FULL=1`` adds kills inside a layer upload, a channel move and the UI
deployment's status poll, and runs every kill point also in GitHub Actions mode and with
the same command run on another runner (a fresh clone: only the state notes on the remote
tell it what the killed run did).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devservices.engine import DockerEngine
from tests.reliability.conftest import MakeWorld, assert_clean
from tests.reliability.summary import full_matrix
from tests.reliability.world import SHORT_DISCORD_TIMEOUT, TAG, Running, World


@pytest.fixture(scope="session")
def reference(
    tmp_path_factory: pytest.TempPathFactory, template: Path, docker_engine: DockerEngine
) -> dict[str, Any]:
    """The end state of an uninterrupted release (once per worker)."""
    root = tmp_path_factory.mktemp("reliability-reference") / "world"
    with World.create(template, root, docker_engine.docker_host) as world:
        outcome = world.release()
        assert outcome.returncode == 0, outcome
        assert world.violations() == []
        return world.snapshot()


HOLD_HOOK = """#!/bin/sh
# Holds the {nth}th push of {ref} until the test lets it go (then refuses it), so that the
# pusher can be killed inside that push.
while read old new ref; do
    if [ "$ref" = "{ref}" ]; then
        n=$(( $(cat "{folder}/count" 2>/dev/null || echo 0) + 1 ))
        echo "$n" > "{folder}/count"
        if [ "$n" -ge {nth} ]; then
            touch "{folder}/holding"
            i=0
            while [ ! -e "{folder}/go" ] && [ "$i" -lt 2400 ]; do sleep 0.05; i=$((i + 1)); done
            echo "the test held this push" >&2
            exit 1
        fi
    fi
done
exit 0
"""


class HeldPush:
    """A pre-receive hook of the remote that holds the ``nth`` push of ``ref``."""

    def __init__(self, world: World, ref: str, nth: int = 1) -> None:
        self.folder = world.root / f"hook-{ref.replace('/', '-')}"
        self.folder.mkdir()
        self.hook = world.repo.remote / "hooks" / "pre-receive"
        self.hook.write_text(HOLD_HOOK.format(ref=ref, nth=nth, folder=self.folder))
        self.hook.chmod(0o755)

    @property
    def holding(self) -> bool:
        return (self.folder / "holding").exists()

    def remove(self) -> None:
        (self.folder / "go").touch()  # a hook that outlived the kill refuses and ends
        self.hook.unlink(missing_ok=True)


@dataclass(frozen=True)
class KillPoint:
    """Where the release is killed: ``arm`` prepares the hold and returns the condition
    under which the process is known to wait at that point, and what to undo after."""

    name: str
    arm: Callable[[World], tuple[Callable[[], bool], Callable[[], None]]]
    unknown_answer: bool = False  # the kill lands inside the Discord post (by design)
    nothing_changed: bool = False  # the kill lands before the first side effect
    unknown_when_fresh: bool = False  # only the local state knows the post was answered
    posted: bool = False  # the message reached Discord (the fix is --assume-posted)

    def answer_unknown(self, fresh: bool) -> bool:
        return self.unknown_answer or (fresh and self.unknown_when_fresh)


def _proxy_hold(
    service: str, method: str, path: str, *, skip: int = 0, count: int | None = 1
) -> Callable[[World], tuple[Callable[[], bool], Callable[[], None]]]:
    def arm(world: World) -> tuple[Callable[[], bool], Callable[[], None]]:
        proxy = world.proxies[service]
        rule = proxy.fault("hold", method, path, skip=skip, count=count, hold_seconds=300)
        return (lambda: rule.holding >= 1), proxy.clear

    return arm


def _git_hold(
    ref: str, nth: int | Callable[[World], int] = 1, also: Callable[[World], bool] | None = None
) -> Callable[[World], tuple[Callable[[], bool], Callable[[], None]]]:
    def arm(world: World) -> tuple[Callable[[], bool], Callable[[], None]]:
        held = HeldPush(world, ref, nth(world) if callable(nth) else nth)
        return (lambda: held.holding and (also is None or also(world))), held.remove

    return arm


def _after_bump(world: World) -> tuple[Callable[[], bool], Callable[[], None]]:
    rules = [
        world.index.fault("hold", "POST", r"^/$", count=None, hold_seconds=300),
        world.registry.fault("hold", "POST", r"/blobs/uploads/$", count=None, hold_seconds=300),
        world.azure.fault("hold", "POST", r"^/api/", count=None, hold_seconds=300),
    ]

    def undo() -> None:
        for proxy in world.proxies.values():
            proxy.clear()

    return (lambda: all(rule.holding >= 1 for rule in rules)), undo


def _upload_record(world: World) -> int:
    """Which push of the upload note carries its final record: after the ``running`` mark
    and one record per file as it landed (docs/design.md "Re-runs and state")."""
    return 1 + len(world.built) + 1


def _published_elsewhere(world: World) -> bool:
    """push-image and deploy-ui are done and their notes are on the remote."""
    notes = world.remote_notes()
    deployed = notes.get("deploy-ui") or {}
    return notes.get("push-image") is not None and deployed.get("status") == "succeeded"


KILL_POINTS = [
    KillPoint(
        "local-work",
        _proxy_hold("registry", "HEAD", r"/manifests/1\.1\.0$"),
        nothing_changed=True,
    ),
    KillPoint("inside-bump-push", _git_hold("refs/heads/main")),
    KillPoint("after-bump", _after_bump),
    KillPoint("inside-upload", _proxy_hold("index", "POST", r"^/$", skip=1)),
    KillPoint(
        "inside-image-push", _proxy_hold("registry", "PUT", r"/demo/node/manifests/1\.1\.0$")
    ),
    KillPoint(
        "before-notify",
        _git_hold("refs/notes/release/upload", nth=_upload_record, also=_published_elsewhere),
    ),
    KillPoint("after-deploy", _git_hold("refs/notes/release/deploy-ui", nth=3)),
    KillPoint(
        "after-notify",
        _git_hold("refs/notes/release/notify", nth=3),
        unknown_when_fresh=True,
        posted=True,
    ),
    KillPoint("inside-notify", _proxy_hold("discord", "POST", r"/webhooks/"), unknown_answer=True),
]
EXTRA_KILL_POINTS = [
    KillPoint("inside-layer-upload", _proxy_hold("registry", "PATCH", r"/blobs/uploads/")),
    KillPoint("inside-channel-move", _proxy_hold("registry", "PUT", r"/manifests/troltunga$")),
    KillPoint("inside-deployment", _proxy_hold("azure", "GET", r"^/api/deployments/.")),
]


def cases() -> Iterator[Any]:
    if not full_matrix():
        for point in KILL_POINTS:
            yield pytest.param(point, False, False, id=point.name)
        return
    for point in KILL_POINTS + EXTRA_KILL_POINTS:
        yield pytest.param(point, False, False, id=point.name)
        yield pytest.param(point, True, False, id=f"{point.name}-actions")
        yield pytest.param(point, False, True, id=f"{point.name}-fresh-clone")


@pytest.mark.parametrize(("point", "github_actions", "fresh"), list(cases()))
def test_killed_release_is_finished_by_the_same_command(
    make_world: MakeWorld,
    reference: dict[str, Any],
    point: KillPoint,
    github_actions: bool,
    fresh: bool,
) -> None:
    """``fresh``: the same command finishes it on another runner (a fresh clone of the
    remote, without the killed run's local state and build), from the state notes alone."""
    world = make_world(github_actions=github_actions)
    reached, undo = point.arm(world)
    running: Running = world.spawn("release", "--tag", TAG, "--yes")
    running.wait_for(reached, f"the kill point {point.name}")
    killed = running.kill()
    undo()
    world.await_remote()
    assert killed.returncode == -9, killed
    if point.nothing_changed:
        assert world.side_effects() == [], killed
    if fresh:
        world.repo = world.fresh_clone("fresh")
    again = world.release()
    if point.answer_unknown(fresh):
        assert again.returncode == 1, again
        assert "--assume-posted" in again.stderr and "--repost" in again.stderr, again
        assert len(world.discord_messages()) == int(point.posted)
        flag = "--assume-posted" if point.posted else "--repost"
        settled = world.invoke("notify", "--tag", TAG, flag)
        assert settled.returncode == 0, settled
        again = world.release()
    assert again.returncode == 0, f"{killed}\n\n{again}"
    assert_clean(world)
    snapshot = world.snapshot()
    differing = {k: {"now": snapshot.get(k), "uninterrupted": v} for k, v in reference.items()}
    assert {k: d for k, d in differing.items() if d["now"] != d["uninterrupted"]} == {}


def test_a_killed_assume_posted_is_finished_by_the_next_release(make_world: MakeWorld) -> None:
    """After a lost answer, ``notify --assume-posted`` is killed while it pushes its note:
    the next release finds the mark locally and must still bring it to the remote, or a
    fresh runner would find "answer unknown" again."""
    world = make_world()
    world.discord.fault("hold", "POST", r"/webhooks/", forward=True, hold_seconds=30)
    lost = world.release(env=SHORT_DISCORD_TIMEOUT)
    assert lost.returncode == 1 and "may have been posted" in lost.stderr, lost
    world.discord.clear()
    held = HeldPush(world, "refs/notes/release/notify", nth=2)  # after its running mark
    running = world.spawn("notify", "--tag", TAG, "--assume-posted")
    running.wait_for(lambda: held.holding, "the push of the assumed-posted note")
    killed = running.kill()
    held.remove()
    world.await_remote()
    assert killed.returncode == -9, killed
    again = world.release()
    assert again.returncode == 0, again
    assert_clean(world)
    assert world.remote_notes()["notify"]["status"] == "assumed-posted"
