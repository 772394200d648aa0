"""Who releases and signed tags: the pure decisions of ``release.run.protect``."""

from __future__ import annotations

import pytest

from release.core.config import Config
from release.core.git import TagInfo
from release.run.protect import (
    Releaser,
    Verification,
    is_signed,
    maintainer_problems,
    moved_tag_problem,
    releasers,
    signature_problems,
)
from release.run.rules import Policy, default_branch_rules

TAG = "version/1.2.0"
ANNOTATED = TagInfo(TAG, "c0ffee", True, "Alice Smith", "alice@example.org")
LIGHTWEIGHT = TagInfo(TAG, "c0ffee", False)
ACTIONS = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "alice"}


def test_in_github_actions_the_actor_releases_not_the_tagger() -> None:
    people = releasers(ACTIONS, TAG, ANNOTATED, "someone@example.org")
    assert people == [Releaser("GITHUB_ACTOR", ("alice",))]


def test_a_rerun_by_someone_else_makes_both_actors_releasers() -> None:
    env = {**ACTIONS, "GITHUB_TRIGGERING_ACTOR": "eve"}
    people = releasers(env, TAG, ANNOTATED, None)
    assert [p.identities for p in people] == [("alice",), ("eve",)]
    assert maintainer_problems(people, ("alice",), "origin/main") == [
        "eve (GITHUB_TRIGGERING_ACTOR) may not release: not in tool.release.maintainers on "
        "origin/main (alice); ask a maintainer to release, or get added there by a reviewed "
        "change to main"
    ]


def test_the_same_triggering_actor_is_not_counted_twice() -> None:
    env = {**ACTIONS, "GITHUB_TRIGGERING_ACTOR": "alice"}
    assert len(releasers(env, TAG, ANNOTATED, None)) == 1


def test_outside_actions_the_tagger_of_an_annotated_tag_releases() -> None:
    (person,) = releasers({}, TAG, ANNOTATED, "someone@example.org")
    assert person.identities == ("Alice Smith", "alice@example.org")
    assert person.source == f"the tagger of {TAG}"


def test_a_lightweight_tag_falls_back_to_the_git_user_email() -> None:
    (person,) = releasers({}, TAG, LIGHTWEIGHT, "bob@example.org")
    assert person == Releaser("git config user.email", ("bob@example.org",))


@pytest.mark.parametrize(
    ("identities", "maintainers", "allowed"),
    [
        (("alice",), ("alice", "bob@example.org"), True),
        (("Alice",), ("alice",), True),  # GitHub logins ignore case
        (("alice",), ("@alice",), True),
        (("Alice Smith", "alice@example.org"), ("ALICE@example.org",), True),
        (("Alice Smith", "alice@example.org"), ("Alice Smith",), True),
        (("mallory",), ("alice", "bob@example.org"), False),
        (("alice2",), ("alice",), False),
    ],
)
def test_a_maintainer_entry_matches_a_login_name_or_email_ignoring_case(
    identities: tuple[str, ...], maintainers: tuple[str, ...], allowed: bool
) -> None:
    problems = maintainer_problems([Releaser("x", identities)], maintainers, "origin/main")
    assert (problems == []) is allowed


def test_an_empty_maintainer_list_lets_anyone_release() -> None:
    assert maintainer_problems([Releaser("GITHUB_ACTOR", ("mallory",))], (), "origin/main") == []


def test_a_refusal_names_who_and_where_the_list_lives() -> None:
    people = [Releaser(f"the tagger of {TAG}", ("Mallory", "m@example.org"))]
    (problem,) = maintainer_problems(people, ("alice",), "upstream/trunk")
    assert problem.startswith("Mallory <m@example.org> (the tagger of version/1.2.0) may not")
    assert "tool.release.maintainers on upstream/trunk (alice)" in problem


def test_an_unknown_releaser_is_refused_when_maintainers_are_set() -> None:
    (problem,) = maintainer_problems(
        [Releaser("git config user.email", ())], ("alice",), "origin/main"
    )
    assert "cannot tell who is releasing (git config user.email is not set)" in problem


SIGNED = (
    "object c0ffee\ntype commit\ntag version/1.2.0\ntagger A <a@x> 1 +0000\n\nRelease\n"
    "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
)


def test_a_signature_block_marks_a_tag_signed() -> None:
    assert is_signed(SIGNED)
    assert is_signed(SIGNED.replace("SSH SIGNATURE", "PGP SIGNATURE"))
    assert not is_signed("object c0ffee\ntype commit\ntag t\n\nRelease\n")


REQUIRED = Config(require_signed_tags=True, allowed_signers=".github/allowed_signers")


@pytest.mark.parametrize(
    ("verification", "start"),
    [
        (Verification(False, False, False), f"{TAG} is a lightweight tag, but"),
        (Verification(True, False, False), f"{TAG} is not signed, but"),
        (Verification(True, True, False, "No principal matched."), "git verify-tag refused"),
    ],
)
def test_tags_that_do_not_verify_are_refused_with_how_to_sign(
    verification: Verification, start: str
) -> None:
    (problem,) = signature_problems(TAG, verification, REQUIRED, "origin/main", "origin")
    assert problem.startswith(start)
    if verification.signed:
        assert "No principal matched." in problem
        assert ".github/allowed_signers on origin/main" in problem
    else:
        assert "git tag -s" in problem
        assert "gpg.format ssh" in problem
        assert "invoke tag --version 1.2.0 --sign" in problem


def test_signatures_are_not_checked_unless_required() -> None:
    unsigned = Verification(False, False, False)
    assert signature_problems(TAG, unsigned, Config(), "origin/main", "origin") == []
    accepted = Verification(True, True, True)
    assert signature_problems(TAG, accepted, REQUIRED, "origin/main", "origin") == []


def test_the_default_branch_rules_replace_those_of_the_tagged_commit() -> None:
    tagged = Config(maintainers=("mallory",), yanked=(), require_signed_tags=False)
    main = Config(maintainers=("alice",), yanked=("1.0.0",), require_signed_tags=True)
    governed, _ = Policy("origin/main", "c0ffee", main).effective(tagged)
    assert governed.maintainers == ("alice",)
    assert governed.yanked == ("1.0.0",)
    assert governed.require_signed_tags is True


def test_a_default_branch_without_a_release_table_restricts_nobody() -> None:
    assert default_branch_rules(None, {}, "origin/main") == Config()
    assert default_branch_rules("[project]\nname = 'x'\n", {}, "origin/main") == Config()
    rules = default_branch_rules('[tool.release]\nmaintainers = ["alice"]\n', {}, "origin/main")
    assert rules.maintainers == ("alice",)


def test_a_default_branch_with_invalid_toml_is_an_error_not_the_defaults() -> None:
    from release.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"pyproject\.toml on origin/main is not valid TOML"):
        default_branch_rules("[tool.release\n", {}, "origin/main")


PUSHED = {"GITHUB_ACTIONS": "true", "GITHUB_REF": f"refs/tags/{TAG}", "GITHUB_SHA": "c0ffee"}


def test_a_tag_that_still_points_where_it_was_pushed_passes() -> None:
    assert moved_tag_problem(PUSHED, TAG, ANNOTATED) is None
    tag_object = TagInfo(TAG, "c0ffee", True, object_id="7a90b1")
    assert moved_tag_problem({**PUSHED, "GITHUB_SHA": "7A90B1"}, TAG, tag_object) is None


def test_a_moved_tag_is_refused_naming_both_commits() -> None:
    moved = moved_tag_problem({**PUSHED, "GITHUB_SHA": "badc0de"}, TAG, ANNOTATED)
    assert moved is not None
    problem, fix = moved
    assert "version/1.2.0 points to commit c0ffee" in problem
    assert "at commit badc0de (GITHUB_SHA)" in problem
    assert "never moves" in fix


MOVED = {**PUSHED, "GITHUB_SHA": "badc0de"}


@pytest.mark.parametrize(
    "env",
    [
        {**MOVED, "GITHUB_ACTIONS": ""},  # not in GitHub Actions
        {**MOVED, "GITHUB_REF": "refs/heads/main"},  # a run that is not the tag's push
        {**MOVED, "GITHUB_REF": "refs/tags/version/1.2.1"},  # another tag's push
        {**MOVED, "GITHUB_SHA": ""},  # nothing to compare with
    ],
)
def test_the_moved_tag_check_applies_only_to_the_run_of_the_tags_push(
    env: dict[str, str],
) -> None:
    assert moved_tag_problem(env, TAG, ANNOTATED) is None
