"""``invoke status`` of real releases, from a fresh clone of the remote (issue 21).

A release that finished, one whose announcement failed (Discord answers 503 to every post)
and one killed while its upload was halfway, each released into the world's real services;
then ``status`` runs in a fresh clone of the bare remote, where only the state notes tell
what happened. It must show every step of the catalog with what it published (files with
sha256 and URLs as on the index, image digests as in the registry, the Discord message, the
UI deployment, the bump commit on the remote), which step failed and why, which was stopped
with the files that had landed, and the command that finishes the release; exit 0 each
time, nothing changed anywhere, no secret in any output or note. The records behind it are
the lifecycle marks every step writes around its work: ``running``, then ``done`` or
``failed`` with the error (docs/design.md "Re-runs and state").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from release.run import catalog
from tests.reliability.conftest import MakeWorld, assert_clean
from tests.reliability.world import STEPS, TAG, VERSION, Outcome, World
from tests.repos import Repo

FINISH = f"invoke release --tag {TAG}"


def fresh_clone(world: World, name: str) -> Repo:
    return world.fresh_clone(name)


def status(world: World, clone: Repo, *args: str) -> Outcome:
    """``invoke status`` in ``clone`` (no credentials: anyone may look), kept for the leak search."""
    result = clone.invoke("status", "--tag", TAG, *args)
    outcome = Outcome(("status", *args), result.returncode, result.stdout, result.stderr)
    world.outcomes.append(outcome)
    return outcome


def status_json(world: World, clone: Repo) -> dict[str, Any]:
    outcome = status(world, clone, "--json")
    assert outcome.returncode == 0, outcome
    data: dict[str, Any] = json.loads(outcome.stdout)
    assert data["tag"] == TAG and data["version"] == VERSION
    assert list(data["steps"]) == list(catalog.NAMES)  # every step of the catalog, in order
    for name, step in data["steps"].items():
        assert set(step) == {"status", "reason", "published"}, name
        if name not in STEPS:  # a step the demo does not configure (github-release)
            assert step["status"] == "skipped", (name, step)
    return data


def on_index(world: World) -> dict[str, str]:
    """The index's files: {name: sha256 of their bytes}."""
    assert world.index_server is not None
    folder = world.index_server.packages_dir
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def lifecycles(world: World) -> dict[str, Any]:
    return {step: (note or {}).get("step_status") for step, note in world.remote_notes().items()}


def assert_read_only(world: World, clone: Repo, refs: str) -> None:
    assert world.side_effects() == []  # nothing pushed, uploaded, posted or deployed
    assert clone.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads") == refs
    assert clone.git("status", "--porcelain") == ""


def test_a_finished_release_shows_everything_it_published(make_world: MakeWorld) -> None:
    world = make_world()
    released = world.release()
    assert released.returncode == 0, released
    assert lifecycles(world) == {step: "done" for step in STEPS}
    world.mark()
    clone = fresh_clone(world, "fresh")
    heads = clone.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")

    data = status_json(world, clone)
    plain = status(world, clone)

    steps = data["steps"]
    assert {name: steps[name]["status"] for name in STEPS} == {name: "done" for name in STEPS}
    assert data["finish"] is None
    # the files on the index, with their sha256 and URLs
    files = {f["filename"]: f for f in steps["upload"]["published"]["files"]}
    assert {name: f["sha256"] for name, f in files.items()} == on_index(world)
    for name, item in files.items():
        assert item["url"].startswith(world.index.url) and item["url"].endswith(name)
    # the images' digests and tags, as the registry holds them
    registry = world.registry_tags()
    images = steps["push-image"]["published"]["images"]
    for name, held in registry.items():
        assert images[name]["digest"] == held[VERSION]
        assert VERSION in images[name]["tags"]
    # the Discord message, the UI deployment, the bump commit
    (message,) = world.discord_messages()
    assert steps["notify"]["published"]["message_id"] == message["id"]
    (deployment,) = [d for d in world.deployments() if d.outcome == "success"]
    assert steps["deploy-ui"]["published"]["deployment_id"] == deployment.id
    assert steps["bump"]["published"]["commit"] == world.bump_commits()[0]

    assert plain.returncode == 0, plain
    text = plain.stdout
    for name, digest in on_index(world).items():
        assert f"  {name}: uploaded, sha256 {digest}" in text
    for name, held in registry.items():
        assert f"{name}@{held[VERSION]}" in text
    assert f"Discord message {message['id']}" in text
    assert f"{TAG} is released: nothing is pending or failed" in text
    assert_read_only(world, clone, heads)
    assert_clean(world)


def test_a_failed_announcement_is_shown_with_its_error_and_the_command_that_finishes_it(
    make_world: MakeWorld,
) -> None:
    world = make_world()
    world.discord.fault("status", "POST", r"/webhooks/", status=503, count=None)
    failed = world.release()
    assert failed.returncode == 1, failed
    notify = world.remote_notes()["notify"]
    assert notify["step_status"] == "failed" and "503" in notify["step_error"]
    assert notify["status"] == "failed"  # its own status, as notify writes it
    world.mark()
    clone = fresh_clone(world, "fresh")
    heads = clone.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")

    data = status_json(world, clone)
    plain = status(world, clone)

    steps = data["steps"]
    for name in ("bump", "build", "upload", "push-image", "deploy-ui"):
        assert steps[name]["status"] == "done", (name, steps[name])
    assert steps["notify"]["status"] == "failed"
    assert "Discord answered 503" in steps["notify"]["reason"]
    assert data["finish"] == FINISH
    assert plain.returncode == 0, plain
    assert "notify: failed: Discord answered 503" in plain.stdout
    assert f"to finish it: {FINISH}" in plain.stdout
    assert_read_only(world, clone, heads)

    world.discord.clear()
    finished = world.release()
    assert finished.returncode == 0, finished
    assert lifecycles(world)["notify"] == "done"
    again = status_json(world, fresh_clone(world, "fresh-after"))
    assert again["steps"]["notify"]["status"] == "done" and again["finish"] is None
    assert_clean(world)


def test_a_release_killed_during_its_upload_shows_the_files_that_landed(
    make_world: MakeWorld,
) -> None:
    world = make_world()
    held = world.index.fault("hold", "POST", r"^/$", skip=1, hold_seconds=300)
    running = world.spawn("release", "--tag", TAG, "--yes")
    running.wait_for(lambda: held.holding >= 1, "the second file's upload")
    killed = running.kill()
    world.index.clear()
    world.await_remote()
    assert killed.returncode == -9, killed
    landed = on_index(world)
    assert len(landed) == 1
    world.mark()
    clone = fresh_clone(world, "fresh")

    data = status_json(world, clone)
    plain = status(world, clone)

    steps = data["steps"]
    assert steps["bump"]["status"] == "done"
    upload = steps["upload"]
    assert upload["status"] == "pending"
    assert "not finished: still running, or its run was stopped" in upload["reason"]
    files = upload["published"]["files"]
    assert {f["filename"]: f["sha256"] for f in files} == landed  # recorded as it landed
    assert steps["notify"]["status"] == "pending"
    assert steps["notify"]["reason"].startswith("not started: it waits for upload (pending)")
    assert data["finish"] == FINISH
    assert plain.returncode == 0, plain
    assert "upload: pending: started at " in plain.stdout
    assert world.side_effects() == []

    finished = world.release()
    assert finished.returncode == 0, finished
    after = status_json(world, fresh_clone(world, "fresh-after"))
    assert {name: after["steps"][name]["status"] for name in STEPS} == {n: "done" for n in STEPS}
    assert after["finish"] is None
    assert_clean(world)
