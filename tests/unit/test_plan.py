"""The plan: every kind of release x every configuration gives the right steps and reasons."""

from __future__ import annotations

import itertools

import pytest

from release.core.config import parse_config
from release.core.version import parse_tag
from release.run import catalog
from release.run.plan import Observed, make_plan

FILES = ["pyproject.toml", "pkg/pyproject.toml", "Dockerfile", "ui/package.json", "VERSION"]
TABLES = {
    "bump": '[[tool.release.version-files]]\npath = "VERSION"\nkind = "regex"\n'
    "pattern = '(?P<version>.+)'\n",
    "packages": '[[tool.release.packages]]\npath = "pkg"\n',
    "images": '[tool.release.registry]\nhost = "registry.example"\n'
    '[[tool.release.images]]\nname = "acme/node"\ndockerfile = "Dockerfile"\n',
    "discord": '[tool.release.discord]\nproject-name = "acme"\n',
    "ui": '[tool.release.ui]\npath = "ui"\nazure-app = "acme-ui"\n',
    "github": '[tool.release.github]\nrepository = "acme/acme"\n',
}
# Which configuration tables turn each step on.
NEEDS = {
    "bump": "bump",
    "build": "packages",
    "upload": "packages",
    "push-image": "images",
    "deploy-ui": "ui",
    "github-release": "github",
    "notify": "discord",
}
# Why a step never runs for a kind, whatever is configured.
BY_KIND = {
    ("bump", "post"): "post releases commit nothing: the code is not re-released",
    ("build", "post"): "post releases are Docker-only",
    ("upload", "post"): "post releases are Docker-only",
    ("deploy-ui", "pre"): "pre-releases are built, not deployed",
    ("notify", "pre"): "pre-releases are not announced",
}
TAGS = {"final": "version/3.1.0", "pre": "version/3.1.0rc1", "post": "version/3.1.0.post1"}
SUBSETS = [
    frozenset(chosen)
    for size in range(len(TABLES) + 1)
    for chosen in itertools.combinations(sorted(TABLES), size)
]


def plan_for(kind: str, tables: frozenset[str]):
    text = "[tool.release]\n" + "".join(TABLES[name] for name in sorted(tables))
    config = parse_config(text, FILES, {})
    tag = TAGS[kind]
    observed = Observed(tag=tag, commit="c0ffee" * 6 + "c0ff", branch="main")
    return make_plan(parse_tag(tag, "version/"), config, observed)


@pytest.mark.parametrize("kind", sorted(TAGS))
@pytest.mark.parametrize("tables", SUBSETS, ids=lambda s: "+".join(sorted(s)) or "nothing")
def test_each_step_runs_or_says_why_not(kind: str, tables: frozenset[str]):
    plan = plan_for(kind, tables)
    assert [a.step for a in plan.actions] == list(catalog.NAMES)
    for action in plan.actions:
        expected = BY_KIND.get((action.step, kind))
        if expected is None and NEEDS[action.step] not in tables:
            expected = "not configured"
        assert action.skipped == expected, action.step
        assert bool(action.summary) == (expected is None), action.step


def test_the_plan_lines_say_what_each_step_does():
    plan = plan_for("final", frozenset(TABLES))
    lines = {a.step: a.summary for a in plan.actions}
    assert lines["bump"] == (
        "write 3.1.0 into 1 file(s), commit 'Updated the version to 3.1.0', push to main"
    )
    assert lines["upload"] == "upload 2 file(s) to https://upload.pypi.org/legacy/"
    assert lines["push-image"] == (
        "build and push registry.example/acme/node:3.1.0; channels forward only"
    )
    assert lines["deploy-ui"].startswith("build ui (3.1.0), deploy ui/dist to acme-ui (production)")
    assert lines["github-release"] == (
        "create the GitHub release of version/3.1.0 in acme/acme as a draft with the built "
        "files, then publish it"
    )
    assert lines["notify"] == "announce the release of acme 3.1.0 on Discord"


def test_a_post_release_announces_a_rebuild_and_a_pre_release_moves_no_channel():
    post = plan_for("post", frozenset(TABLES))
    assert post.action("notify").summary == "announce the rebuild of acme 3.1.0.post1 on Discord"
    assert post.action("github-release").summary == (
        "create the GitHub release of version/3.1.0.post1 in acme/acme as a draft with the UI "
        "zip when one was built (a rebuild: no package files), then publish it"
    )
    pre = plan_for("pre", frozenset(TABLES))
    assert pre.action("push-image").summary.endswith("; no channel moves")
    assert pre.action("github-release").summary.endswith(", marked as a pre-release")


def test_the_json_steps_follow_the_catalog_order():
    plan = plan_for("pre", frozenset(TABLES))
    steps = plan.to_json()["steps"]
    assert list(steps) == list(catalog.NAMES)
    assert steps["notify"] == "skip: pre-releases are not announced"
    assert steps["upload"] == steps["github-release"] == "run"
    assert len(steps) == 7
