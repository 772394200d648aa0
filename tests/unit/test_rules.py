"""Where the rules are read: the pure parts of ``release.run.rules``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release.core.config import CHANNEL_KINDS, Config, Image
from release.run.rules import (
    branch_name_ok,
    effective_config,
    payload_default_branch,
    rules_remote,
)

NODE = Image("demo/node", "node.Dockerfile", channels=("minor",), extra_tags=("{major}-x",))
SERVER = Image("demo/server", "server.Dockerfile")


def test_every_rule_of_the_tagged_commit_is_replaced_by_the_default_branchs() -> None:
    tagged = Config(
        branches=("evil",),
        default_branch="evil",
        remote="elsewhere",
        maintainers=("mallory",),
        require_signed_tags=False,
        allowed_signers=None,
        yanked=(),
        post_allowed_paths=("**",),
        codenames={1: "mine"},
        commit_message="Release {version}",
    )
    main = Config(
        maintainers=("alice",),
        require_signed_tags=True,
        allowed_signers=".github/allowed_signers",
        yanked=("1.0.0",),
        codenames={1: "troltunga"},
    )
    config, notices = effective_config(tagged, main, "origin/main", remote="origin", branch="main")
    assert notices == ()
    assert config.branches == ("main", "release/*")
    assert config.maintainers == ("alice",)
    assert config.require_signed_tags is True
    assert config.allowed_signers == ".github/allowed_signers"
    assert config.yanked == ("1.0.0",)
    assert config.post_allowed_paths == Config().post_allowed_paths
    assert config.codenames == {1: "troltunga"}
    assert (config.remote, config.default_branch) == ("origin", "main")
    assert config.commit_message == "Release {version}"  # not a rule: the tagged commit's


def test_an_image_takes_the_channels_and_extra_tags_of_the_default_branch_by_name() -> None:
    widened = Image(
        "demo/node",
        "other.Dockerfile",
        build_args={"A": "{version}"},
        channels=CHANNEL_KINDS,
        extra_tags=("{major}-x", "stable"),
    )
    tagged = Config(images=(widened,))
    config, notices = effective_config(tagged, Config(images=(NODE,)), "origin/main")
    (image,) = config.images
    assert (image.channels, image.extra_tags) == (("minor",), ("{major}-x",))
    assert (image.dockerfile, image.build_args) == ("other.Dockerfile", {"A": "{version}"})
    assert notices == ()


def test_an_image_the_default_branch_does_not_list_moves_the_default_channels_only() -> None:
    added = Image("demo/new", "new.Dockerfile", channels=("latest",), extra_tags=("stable",))
    config, notices = effective_config(
        Config(images=(SERVER, added)), Config(images=(SERVER,)), "origin/main"
    )
    assert config.images[1] == Image("demo/new", "new.Dockerfile", channels=CHANNEL_KINDS)
    assert notices == (
        "image demo/new is not in tool.release.images on origin/main: it moves the default "
        "channels (codename, minor, latest) and no extra tags; list it there to choose its "
        "channels",
    )


def test_unread_rules_leave_only_the_defaults() -> None:
    tagged = Config(branches=("evil",), maintainers=("mallory",), images=(NODE,))
    config, notices = effective_config(tagged, None, "origin/main")
    assert config.branches == ("main", "release/*")
    assert config.maintainers == ()
    assert config.images[0].extra_tags == ()
    assert notices == ()  # the refusal says why the rules are missing


def test_the_remote_is_origin_in_github_actions_else_the_working_trees() -> None:
    working = Config(remote="upstream")
    assert rules_remote({"GITHUB_ACTIONS": "true"}, working) == "origin"
    assert rules_remote({}, working) == "upstream"


def test_the_event_payload_names_the_default_branch(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "trunk"}}))
    assert payload_default_branch({"GITHUB_EVENT_PATH": str(event)}) == ("trunk", None)
    assert payload_default_branch({}) == (None, None)
    event.write_text(json.dumps({"repository": {"default_branch": "-x"}}))
    assert payload_default_branch({"GITHUB_EVENT_PATH": str(event)})[0] is None
    event.write_text("not json")
    branch, notice = payload_default_branch({"GITHUB_EVENT_PATH": str(event)})
    assert branch is None and notice is not None and "not a readable JSON file" in notice


@pytest.mark.parametrize("name", ["main", "release/1.x", "feature/a-b_c.d"])
def test_plain_branch_names_are_accepted(name: str) -> None:
    assert branch_name_ok(name)


@pytest.mark.parametrize(
    "name", ["", "-x", "a..b", "a b", "a:b", "a/", "/a", "a.lock", "a//b", "@", "a@{1}", "a\\b"]
)
def test_names_git_would_not_take_as_a_branch_are_refused(name: str) -> None:
    assert not branch_name_ok(name)
