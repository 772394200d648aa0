"""``invoke tag``: the pure decision of whether a version may be tagged here."""

from __future__ import annotations

import dataclasses

import pytest

from release.commands.tag import TagObservation, github_actions_url, highest_final, tag_problems
from release.core.version import parse_version

BRANCHES = ("main", "release/*")
PREFIX = "version/"
READY = TagObservation(
    remote="origin",
    branch="main",
    dirty=(),
    upstream=(0, 0),
    local_tags=frozenset({"version/4.2.0", "version/4.3.0rc1"}),
    remote_tags=frozenset({"version/4.2.0", "version/4.3.0rc1", "version/3.9.0"}),
)


def problems(version: str, backport: bool = False, **changes: object) -> list[str]:
    seen = dataclasses.replace(READY, **changes)  # type: ignore[arg-type]
    return tag_problems(parse_version(version), PREFIX, BRANCHES, seen, backport=backport)


def test_a_new_version_on_an_up_to_date_clean_branch_may_be_tagged() -> None:
    assert problems("4.3.0") == []
    assert problems("4.3.0rc2") == []
    assert problems("4.2.0.post1") == []
    assert problems("5.0.0") == []


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        ((0, 3), "main is 3 commits behind origin/main: update it (git pull --ff-only)"),
        ((1, 0), "main is 1 commit ahead of origin/main: push it first"),
        ((2, 1), "main has diverged from origin/main (2 commits ahead, 1 commit behind)"),
        (None, "main is not on origin: push it first (git push -u origin main)"),
    ],
)
def test_a_branch_that_differs_from_its_remote_tip_says_by_how_much(
    upstream: tuple[int, int] | None, expected: str
) -> None:
    (problem,) = problems("4.3.0", upstream=upstream)
    assert problem.startswith(expected)


def test_a_branch_that_is_not_allowed_is_refused() -> None:
    (problem,) = problems("4.3.0", branch="feature/x")
    assert problem.startswith("feature/x is not a release branch (tool.release.branches: main")


def test_a_detached_head_is_refused() -> None:
    (problem,) = problems("4.3.0", branch=None)
    assert problem.startswith("HEAD is detached")


def test_a_dirty_tree_is_refused_naming_the_files() -> None:
    (problem,) = problems("4.3.0", dirty=("pyproject.toml",))
    assert "uncommitted changes (pyproject.toml)" in problem


@pytest.mark.parametrize(
    ("version", "local", "remote", "expected"),
    [
        ("4.2.0", set(), {"version/4.2.0"}, "version/4.2.0 already exists on origin"),
        ("4.3.1", {"version/4.3.1"}, set(), "version/4.3.1 already exists in this clone"),
        (
            "4.2.0.post1",
            set(),
            {"version/4.2.0", "version/4.2.0-post1"},
            "version/4.2.0-post1 already exists on origin",
        ),
        (
            "4.2.0-post1",
            {"version/4.2.0", "version/4.2.0.post1"},
            {"version/4.2.0"},
            "version/4.2.0.post1 already exists in this clone",
        ),
    ],
)
def test_a_version_whose_tag_exists_in_any_spelling_is_refused(
    version: str, local: set[str], remote: set[str], expected: str
) -> None:
    found = problems(version, local_tags=frozenset(local), remote_tags=frozenset(remote))
    assert [p for p in found if p.startswith(expected)], found


def test_a_lower_final_or_post_needs_backport_on_a_release_branch() -> None:
    remote = frozenset({"version/4.3.0", "version/4.2.0"})
    (problem,) = problems("4.2.1", remote_tags=remote)
    assert problem.startswith("4.2.1 is lower than 4.3.0, the highest release of 4.x")
    assert problems("4.2.0.post1", remote_tags=remote) != []
    assert problems("4.2.1", backport=True, branch="release/4.2", remote_tags=remote) == []
    assert problems("4.2.0.post1", backport=True, branch="release/4.2", remote_tags=remote) == []


def test_backport_is_refused_outside_a_release_branch() -> None:
    remote = frozenset({"version/4.3.0"})
    (problem,) = problems("4.2.1", backport=True, remote_tags=remote)
    assert problem == "--backport tags from a release/* branch, not main"


def test_pre_releases_and_other_majors_are_not_ordered_against_the_highest_final() -> None:
    remote = frozenset({"version/4.3.0", "version/5.0.0"})
    assert problems("4.3.1rc1", remote_tags=remote) == []
    assert problems("4.4.0", remote_tags=remote) == []


def test_highest_final_ignores_pre_and_post_releases_and_other_majors() -> None:
    versions = [parse_version(v) for v in ("4.2.0", "4.3.0rc1", "4.2.0.post3", "5.0.0")]
    assert highest_final(versions, 4) == parse_version("4.2.0")
    assert highest_final(versions, 3) is None


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:acme/demo.git",
        "https://github.com/acme/demo.git",
        "https://github.com/acme/demo",
        "https://x-access-token@github.com/acme/demo.git",
        "ssh://git@github.com/acme/demo.git",
    ],
)
def test_a_github_remote_links_to_its_workflow_runs(url: str) -> None:
    assert github_actions_url(url, "release.yml") == (
        "https://github.com/acme/demo/actions/workflows/release.yml"
    )
    assert github_actions_url(url, None) == "https://github.com/acme/demo/actions"


def test_other_remotes_have_no_actions_link() -> None:
    assert github_actions_url("/srv/git/demo.git", "release.yml") is None
    assert github_actions_url("https://gitlab.com/acme/demo.git", None) is None
