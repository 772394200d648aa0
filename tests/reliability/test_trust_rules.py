"""Trust: the tagged commit does not choose its rules, and a moved tag is not released
(issue 19, holes 1 and 2).

Each scenario drives the real ``invoke release --yes`` in GitHub Actions mode
(``GITHUB_ACTOR=release-bot``) against the world's real services (pypiserver, registry,
the Discord and Kudu contract servers, the bare git remote), and asserts the refusal
(exit 1, the ``error:`` lines that name the problem and the fix, no traceback), that
nothing was uploaded, pushed, posted or deployed (``World.side_effects``), that no state
was written, and that no secret appears anywhere (``World.leaks``):

- a branch ``evil`` whose ``pyproject.toml`` makes ``release-bot`` a maintainer, allows
  ``evil``, names itself the default branch and widens an image's tags is refused: main's
  ``maintainers`` and ``branches`` decide;
- a CI checkout of a tag whose ``pyproject.toml`` names a default branch that does not
  exist, on a remote whose ``HEAD`` names no branch, is refused (it was a notice);
- a tag moved after its push (``GITHUB_SHA`` is the pushed commit, the tag now points at
  another) is refused, naming both commits.
"""

from __future__ import annotations

from typing import Any

import tomlkit

from tests.reliability.conftest import MakeWorld
from tests.reliability.world import TAG, Outcome, World
from tests.repos import run

EVIL_TAG = "version/1.2.0"


def edit_release_table(world: World, edit: Any) -> None:
    """Apply ``edit`` to the checkout's ``[tool.release]`` table (not committed)."""
    path = world.repo.path / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    edit(document["tool"]["release"])  # type: ignore[index]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


def local_state(world: World) -> dict[str, bytes]:
    """The clone's local release state (the template's build of 1.1.0 is in it)."""
    folder = world.repo.path / ".git" / "release-state"
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def mark(world: World) -> dict[str, bytes]:
    """From here on every change is the tool's: the world's mark, and the local state."""
    world.mark()
    return local_state(world)


def assert_refused(world: World, state: dict[str, bytes], outcome: Outcome, *says: str) -> None:
    """Exit 1, every piece in an ``error:`` line, nothing changed, no state, no secret."""
    assert outcome.returncode == 1, outcome
    errors = "\n".join(outcome.errors())
    for piece in says:
        assert piece in errors, outcome
    assert "internal error" not in errors and "Traceback" not in outcome.output, outcome
    assert world.side_effects() == [], outcome
    assert world.deployments() == []
    assert world.discord_messages() == []
    assert local_state(world) == state
    assert world.leaks() == []


def test_a_branch_that_grants_itself_a_release_is_refused_by_mains_rules(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    repo = world.repo

    def main_rules(table: Any) -> None:
        table["maintainers"] = ["alice"]

    edit_release_table(world, main_rules)
    repo.commit("only alice releases")
    repo.push("main")

    def evil_rules(table: Any) -> None:
        table["maintainers"] = ["release-bot"]
        table["branches"] = ["evil"]
        table["default-branch"] = "evil"
        table["images"][0]["extra-tags"] = ["stable"]

    repo.git("checkout", "-q", "-b", "evil")
    edit_release_table(world, evil_rules)
    repo.commit("release-bot may release from evil")
    repo.push("evil")
    repo.tag(EVIL_TAG)  # the CI checkout of the tag: its working tree says "evil" too
    state = mark(world)
    outcome = world.invoke("release", "--tag", EVIL_TAG, "--yes")
    assert_refused(
        world,
        state,
        outcome,
        "release-bot (GITHUB_ACTOR) may not release: not in tool.release.maintainers on "
        "origin/main (alice)",
        "is not on an allowed branch (main, release/*), as tool.release.branches on "
        "origin/main says",
    )


def test_a_default_branch_that_does_not_exist_is_refused_not_a_notice(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    repo = world.repo

    def elsewhere(table: Any) -> None:
        table["default-branch"] = "does-not-exist"

    repo.git("checkout", "-q", "-b", "release/1.x")
    edit_release_table(world, elsewhere)
    repo.commit("the rules live nowhere")
    repo.push("release/1.x")
    repo.tag(EVIL_TAG)
    # A remote whose HEAD names no branch: nothing but the key names the default branch.
    run(["git", "symbolic-ref", "HEAD", "refs/heads/unborn"], repo.remote)
    state = mark(world)
    outcome = world.invoke("release", "--tag", EVIL_TAG, "--yes")
    assert_refused(
        world,
        state,
        outcome,
        "origin has no branch does-not-exist (named by tool.release.default-branch of the "
        "working tree)",
    )


def test_a_tag_moved_after_its_push_is_refused_naming_both_commits(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    repo = world.repo
    pushed = world.tagged
    repo.write("README.md", "a change the reviewers of the tag never saw\n")
    moved = repo.commit("after the tag")
    repo.push("main")
    repo.git("tag", "-f", "-a", "-m", "moved", TAG, moved)
    repo.git("push", "-q", "-f", "origin", f"refs/tags/{TAG}")
    state = mark(world)
    outcome = world.release(env={"GITHUB_REF": f"refs/tags/{TAG}", "GITHUB_SHA": pushed})
    assert_refused(
        world,
        state,
        outcome,
        f"{TAG} points to commit {moved}",
        f"at commit {pushed} (GITHUB_SHA)",
        "a pushed version tag never moves",
    )
    assert len(outcome.errors()) == 1, outcome
