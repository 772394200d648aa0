"""``invoke check-version`` through the real invoke command in real git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devservices.azure import publish_profile
from tests.repos import Repo, make_repo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def assert_one_clear_line(result, code: int, expected: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert expected in errors[0], errors[0]


def test_json_prints_exactly_the_design_object(demo_repo: Repo):
    demo_repo.tag("version/3.1.0rc1")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/3.1.0rc1", "--json", "--offline", "--skip-credentials"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "tag": "version/3.1.0rc1",
        "version": "3.1.0rc1",
        "kind": "pre",
        "major": 3,
        "minor": 1,
        "patch": 0,
        "pre": ["rc", 1],
        "post": None,
        "npm_version": "3.1.0-rc.1",
        "docker_tag": "3.1.0rc1",
        "codename": "petronas",
        "image_tags": {
            "demo/node": ["3.1.0rc1"],
            "demo/server": ["3.1.0rc1"],
            "demo/agent": ["3.1.0rc1"],
        },
        "steps": {
            "bump": "run",
            "build": "run",
            "upload": "run",
            "push-image": "run",
            "notify": "skip: pre-releases are not announced",
            "deploy-ui": "skip: pre-releases are built, not deployed",
            "github-release": "skip: not configured",
        },
    }


def test_plan_table_lists_every_step_with_its_reason(demo_repo: Repo):
    demo_repo.tag("version/1.0.0")
    demo_repo.write("CHANGELOG.md", "# Changelog\n\n## 1.0.0.post1\n\n- rebuilt\n")
    demo_repo.commit("changelog")
    demo_repo.push()
    demo_repo.tag("version/1.0.0-post1")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.0.0-post1", "--offline", "--skip-credentials"
    )
    assert result.returncode == 0, result.stderr
    for step in ("bump", "build", "upload", "push-image", "notify", "deploy-ui", "github-release"):
        assert step in result.stdout
    assert "post releases are Docker-only" in result.stdout
    assert "rebuild of demo 1.0.0.post1" in result.stdout


def test_github_output_gets_the_same_keys(demo_repo: Repo, tmp_path: Path):
    demo_repo.tag("version/4.0.0")
    output = tmp_path / "github_output"
    result = demo_repo.invoke(
        "check-version",
        "--github-output",
        "--offline",
        "--skip-credentials",
        "--skip-credentials",
        env={"GITHUB_OUTPUT": str(output), "RELEASE_TAG": "version/4.0.0"},
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert lines["version"] == "4.0.0"
    assert lines["pre"] == ""
    assert lines["major"] == "4"
    assert lines["codename"] == "uluru"
    assert json.loads(lines["steps"])["notify"] == "run"
    assert lines["image_tags"] == (
        '{"demo/node":["4.0.0"],"demo/server":["4.0.0"],"demo/agent":["4.0.0"]}'
    )


def test_tag_comes_from_the_environment_then_head(demo_repo: Repo):
    demo_repo.tag("version/1.2.0")
    on_head = demo_repo.invoke("check-version", "--json", "--offline", "--skip-credentials")
    assert json.loads(on_head.stdout)["version"] == "1.2.0"
    push = demo_repo.invoke(
        "check-version",
        "--json",
        "--offline",
        "--skip-credentials",
        env={"GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "version/1.2.0"},
    )
    assert json.loads(push.stdout)["tag"] == "version/1.2.0"
    explicit = demo_repo.invoke(
        "check-version",
        "--json",
        "--offline",
        "--skip-credentials",
        env={"RELEASE_TAG": "version/9.9.9"},
    )
    assert_one_clear_line(explicit, 1, "tag version/9.9.9 does not exist")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("version/v1.2.3", "drop the v: write version/1.2.3"),
        ("version/1.2.3-rc1", "write version/1.2.3rc1"),
        ("version/1.2", "three numbers needed"),
        ("1.2.3", "write version/1.2.3"),
    ],
)
def test_malformed_tags_exit_2_with_the_fix(demo_repo: Repo, tag: str, expected: str):
    assert_one_clear_line(demo_repo.invoke("check-version", "--tag", tag), 2, expected)


def test_missing_tag_exits_1(demo_repo: Repo):
    result = demo_repo.invoke("check-version", "--tag", "version/2.0.0")
    assert_one_clear_line(result, 1, "tag version/2.0.0 does not exist")


def test_malformed_config_names_the_key(demo_repo: Repo):
    text = (demo_repo.path / "pyproject.toml").read_text()
    demo_repo.write("pyproject.toml", text.replace('path = "demo-node"', 'path = "demo-nod"'))
    demo_repo.commit("typo")
    demo_repo.push()
    demo_repo.tag("version/1.1.0")
    result = demo_repo.invoke("check-version", "--tag", "version/1.1.0")
    assert_one_clear_line(
        result, 1, "tool.release.packages[1].path: folder demo-nod does not exist"
    )


def test_invalid_toml_names_the_line(demo_repo: Repo):
    demo_repo.write("pyproject.toml", "[tool.release]\nremote = \nbranches = []\n")
    demo_repo.commit("broken")
    demo_repo.tag("version/1.1.0", push=False)
    result = demo_repo.invoke("check-version", "--tag", "version/1.1.0")
    assert_one_clear_line(result, 1, "is not valid TOML")
    assert "line 2" in result.stderr


def test_tag_on_a_branch_that_is_not_allowed_is_refused(demo_repo: Repo):
    demo_repo.git("checkout", "-q", "-b", "feature/x")
    demo_repo.write("demo-common/src/demo_common/extra.py", "X = 1\n")
    demo_repo.commit("feature")
    demo_repo.push("feature/x")
    demo_repo.tag("version/1.1.0")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--offline", "--skip-credentials"
    )
    assert_one_clear_line(result, 1, "is not on an allowed branch (main, release/*)")


def test_dirty_tree_is_refused(demo_repo: Repo):
    demo_repo.tag("version/1.1.0")
    demo_repo.write("demo-common/src/demo_common/__init__.py", "__version__ = 'hacked'\nX = 1\n")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--offline", "--skip-credentials"
    )
    assert_one_clear_line(
        result, 1, "uncommitted changes (demo-common/src/demo_common/__init__.py)"
    )


def test_untracked_files_do_not_make_the_tree_dirty(demo_repo: Repo):
    demo_repo.tag("version/1.1.0")
    demo_repo.write("notes.txt", "scratch\n")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--offline", "--skip-credentials"
    )
    assert result.returncode == 0, result.stderr


def test_post_release_without_its_base_is_refused(demo_repo: Repo):
    demo_repo.tag("version/1.1.0.post1")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0.post1", "--offline", "--skip-credentials"
    )
    assert_one_clear_line(result, 1, "needs its base tag version/1.1.0, which does not exist")


def test_post_release_with_a_code_change_is_refused(demo_repo: Repo):
    demo_repo.tag("version/1.1.0")
    demo_repo.write("demo-common/src/demo_common/extra.py", "X = 1\n")
    demo_repo.write("docker/node.Dockerfile", "FROM scratch\n")
    demo_repo.commit("a code change")
    demo_repo.push()
    demo_repo.tag("version/1.1.0-post1")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0-post1", "--offline", "--skip-credentials"
    )
    assert_one_clear_line(
        result, 1, "changes code since version/1.1.0 (demo-common/src/demo_common/extra.py)"
    )
    assert "node.Dockerfile" not in result.stderr


def test_post_release_with_allowed_changes_passes(demo_repo: Repo):
    demo_repo.tag("version/1.1.0")
    demo_repo.write("docker/node.Dockerfile", "FROM scratch\nARG BASE=1.1\n")
    demo_repo.write("ui/build.js", "console.log('ui only');\n")
    demo_repo.write("CHANGELOG.md", "# Changelog\n")
    demo_repo.write("requirements-dev.txt", "x==1\n")
    demo_repo.commit("rebuild")
    demo_repo.push()
    demo_repo.tag("version/1.1.0.post1")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0.post1", "--offline", "--skip-credentials"
    )
    assert result.returncode == 0, result.stderr


def test_two_spellings_of_one_post_release_are_refused(demo_repo: Repo):
    demo_repo.tag("version/1.1.0")
    demo_repo.tag("version/1.1.0.post1")
    demo_repo.tag("version/1.1.0-post1")
    result = demo_repo.invoke(
        "check-version", "--tag", "version/1.1.0-post1", "--offline", "--skip-credentials"
    )
    assert_one_clear_line(result, 1, "spell the same version 1.1.0.post1")


def test_tag_on_two_branches_belongs_to_the_default_branch_or_needs_branch(tmp_path: Path):
    repo = make_repo(tmp_path)
    repo.git("branch", "release/1.0")
    repo.push("release/1.0")
    repo.tag("version/1.0.0")
    result = repo.invoke("check-version", "--json", "--offline", "--skip-credentials")
    assert result.returncode == 0, result.stderr
    # Without the default branch among them, the choice is the user's.
    repo.git("checkout", "-q", "-b", "release/1.1")
    repo.write("NOTES.md", "a fix for 1.x\n")
    repo.commit("a fix for 1.x")
    repo.push("release/1.1")
    repo.git("push", "-q", "origin", "HEAD:refs/heads/release/1.2")
    repo.git("fetch", "-q", "origin")
    repo.tag("version/1.1.0")
    ambiguous = repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--offline", "--skip-credentials"
    )
    assert_one_clear_line(ambiguous, 1, "on several allowed branches (release/1.1, release/1.2)")
    chosen = repo.invoke(
        "check-version",
        "--tag",
        "version/1.1.0",
        "--offline",
        "--skip-credentials",
        "--branch",
        "release/1.1",
    )
    assert chosen.returncode == 0, chosen.stderr
    assert "on release/1.1" in chosen.stderr


def test_shallow_detached_clone_fetches_branches_or_refuses_offline(tmp_path: Path):
    # A repository whose steps need no service, so that only the branch fetch is online.
    source = make_repo(
        tmp_path / "source",
        source=None,
        files={
            "pyproject.toml": '[tool.release]\n[[tool.release.version-files]]\npath = "VERSION"\n'
            'kind = "regex"\npattern = "(.+)"\n',
            "VERSION": "1.0.0\n",
        },
    )
    source.write("CHANGELOG.md", "# Changelog\n\n## 1.1.0\n")
    source.commit("more history")
    source.push()
    source.tag("version/1.1.0")
    ci = source.clone(
        tmp_path / "ci", "--depth", "1", "--no-single-branch", "--branch", "version/1.1.0"
    )
    ci.git("fetch", "-q", "--depth", "1", "origin", "+refs/tags/version/*:refs/tags/version/*")
    # Like actions/checkout: a detached HEAD and no branch refs.
    ci.git("checkout", "-q", "--detach", "version/1.1.0")
    for ref in ci.git("for-each-ref", "--format=%(refname)", "refs/remotes", "refs/heads").split():
        ci.git("update-ref", "-d", ref)
    offline = ci.invoke("check-version", "--offline", "--skip-credentials")
    assert_one_clear_line(offline, 1, "fetch-depth: 0")
    online = ci.invoke("check-version", "--json")
    assert online.returncode == 0, online.stderr
    assert "fetched the branches from origin" in online.stderr
    assert json.loads(online.stdout)["version"] == "1.1.0"


def test_another_repository_is_checked_from_its_own_folder(demo_repo: Repo):
    demo_repo.tag("version/1.0.0")
    result = demo_repo.invoke("check-version", "--json", "--offline", "--skip-credentials")
    assert json.loads(result.stdout)["image_tags"] == {
        "demo/node": ["1.0.0"],
        "demo/server": ["1.0.0"],
        "demo/agent": ["1.0.0"],
    }


def test_help_documents_every_flag(demo_repo: Repo):
    result = demo_repo.invoke("check-version", "--help")
    for flag in (
        "--tag",
        "--json",
        "--github-output",
        "--offline",
        "--skip-credentials",
        "--skip-credentials",
        "--branch",
    ):
        assert flag in result.stdout
    listing = demo_repo.invoke("--list")
    assert "check-version" in listing.stdout and "Validate the tag" in listing.stdout


def test_json_in_github_actions_keeps_stdout_for_the_json_and_masks_on_stderr(demo_repo: Repo):
    """A step doing plan=$(invoke check-version --json) gets the object and nothing else,
    while the secrets are still registered with the runner (which reads stderr too)."""
    demo_repo.tag("version/1.0.0")
    secret = "json-in-actions-secret"
    result = demo_repo.invoke(
        "check-version",
        "--json",
        "--offline",
        env={
            "GITHUB_ACTIONS": "true",
            "TWINE_USERNAME": "ci",
            "TWINE_PASSWORD": secret,
            "DISCORD_WEBHOOK_URL": f"https://discord.com/api/webhooks/1/{secret}",
            "AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile("demo-ui", secret),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["version"] == "1.0.0"
    assert f"::add-mask::{secret}" in result.stderr.splitlines()
    assert secret not in result.stdout
    leaked = [line for line in result.stderr.splitlines() if secret in line]
    assert all(line.startswith("::add-mask::") for line in leaked), leaked
