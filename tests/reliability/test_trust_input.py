"""Trust: a hostile record in a state note is refused, never used (issue 19, hole 8).

The release state lives in git notes on the remote (``refs/notes/release/<step>``), and
anyone who can push there can write one. Before this hole was closed, an id from a note went
into a URL path unchecked: the notify step edited "message" ``../../webhooks/x`` (a PATCH
that urllib3's dot-segment removal sent to another path of the webhook API), deploy-ui
followed "deployment" ``../../api/command`` with the publish profile's credentials, and a
note that was not a JSON object was silently taken as "nothing done".

Each scenario pushes a hostile note onto the tagged commit in the world's remote, then runs
``invoke release --yes`` against the world's real services. It must stop with exit 1 and one
``error:`` line that names the note and the commands that remove it, with nothing uploaded,
pushed, posted or deployed, no request on a path the note chose, and no secret anywhere. In
one world the printed fix is then applied as printed, and the same command completes the
release; a note rewritten after that release is refused on the next run as well, and the
posted message is left alone.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest

from tests.reliability.conftest import MakeWorld, assert_clean
from tests.reliability.world import VERSION, WEBHOOK_ID, Outcome, World
from tests.repos import run

HOSTILE_NOTIFY = {
    "message-id-is-a-path": (
        {VERSION: {"status": "posted", "message_id": "../../webhooks/x", "webhook_id": WEBHOOK_ID}},
        "message_id: '../../webhooks/x' is not a Discord id",
    ),
    "message-id-of-10-mb": (
        {VERSION: {"status": "posted", "message_id": "1" * 10_000_000}},
        "MiB long",
    ),
    "record-is-not-an-object": ({VERSION: ["posted"]}, "the record is a list, not an object"),
    "note-is-not-json": ("posted, trust me", "it is not JSON"),
}


def push_note(world: World, step: str, note: Any) -> None:
    """Write ``note`` as the state note of ``step`` on the tagged commit, in the remote itself
    (as someone with push access would), then start counting the tool's changes."""
    source = world.root / f"hostile-{step}.json"
    source.write_text(note if isinstance(note, str) else json.dumps(note), encoding="utf-8")
    run(
        ["git", "notes", "--ref", f"release/{step}", "add", "-f", "-F", str(source), world.tagged],
        world.repo.remote,
    )
    world.mark()


def assert_refused(world: World, outcome: Outcome, step: str, says: str) -> str:
    """Exit 1, one line naming the note, why, and how to remove it; nothing changed."""
    assert outcome.returncode == 1, outcome
    errors = outcome.errors()
    assert len(errors) == 1, outcome
    line = errors[0]
    ref = f"refs/notes/release/{step}"
    for piece in (
        f"the state note of {step} for {VERSION} ({ref} on commit {world.tagged[:12]})",
        "was not written by release-tasks, so nothing in it was used",
        says,
        f"git notes --ref {ref} remove {world.tagged}",
    ):
        assert piece in line, outcome
    assert len(line) < 1000 and len(outcome.output) < 20_000, outcome
    assert "internal error" not in line and "Traceback" not in outcome.output, outcome
    assert world.side_effects() == [], outcome
    assert world.leaks() == []
    return line


def no_request_chosen_by_the_note(world: World) -> None:
    """Discord saw no edit or post, and no request went to a path a note could have chosen."""
    for seen in world.discord.requests():
        assert seen.method == "GET" and "/messages" not in seen.path, seen
    for seen in world.azure.requests():
        assert "command" not in seen.path and ".." not in seen.path, seen


@pytest.mark.parametrize("case", sorted(HOSTILE_NOTIFY))
def test_a_hostile_notify_note_stops_the_release_before_anything_is_done(
    make_world: MakeWorld, case: str
) -> None:
    world = make_world(github_actions=True)
    note, says = HOSTILE_NOTIFY[case]
    push_note(world, "notify", note)
    outcome = world.release()
    assert_refused(world, outcome, "notify", says)
    no_request_chosen_by_the_note(world)
    assert world.discord_messages() == []
    assert world.deployments() == []


def test_a_hostile_deploy_ui_note_is_never_followed(make_world: MakeWorld) -> None:
    world = make_world()
    note = {VERSION: {"status": "deploying", "deployment_id": "../../api/command"}}
    push_note(world, "deploy-ui", note)
    outcome = world.release()
    assert_refused(
        world,
        outcome,
        "deploy-ui",
        "deployment_id: '../../api/command' is not a Kudu deployment id",
    )
    no_request_chosen_by_the_note(world)
    assert world.deployments() == []


def test_the_printed_fix_works_and_a_note_rewritten_later_is_refused_too(
    make_world: MakeWorld,
) -> None:
    world = make_world()
    push_note(world, "notify", HOSTILE_NOTIFY["message-id-is-a-path"][0])
    refused = world.release()
    line = assert_refused(world, refused, "notify", "is not a Discord id")

    # The fix, run as printed (in the clone, against the remote).
    commands = line.split("run the same command again: ", 1)[1]
    for command in commands.split(" && "):
        run(shlex.split(command), world.repo.path)
    done = world.release()
    assert done.returncode == 0, done
    assert_clean(world)
    posted = world.discord_messages()
    assert len(posted) == 1

    # Someone rewrites the note of the finished release: the next run edits nothing.
    note = json.loads(
        run(
            ["git", "notes", "--ref", "release/notify", "show", world.tagged], world.repo.remote
        ).stdout
    )
    note[VERSION]["message_id"] = "../../webhooks/x"
    push_note(world, "notify", note)
    first = len(world.discord.requests())
    again = world.release()
    assert_refused(world, again, "notify", "message_id: '../../webhooks/x' is not a Discord id")
    assert [s for s in world.discord.requests()[first:] if s.method != "GET"] == []
    assert world.discord_messages() == posted
    assert not any(re.search(r"/messages/", s.path) for s in world.discord.requests()[first:])
