"""``invoke bump`` through the real invoke command, in real repositories with a bare remote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.repos import CHECKOUT, IDENTITY, Repo, clean_env, make_repo, run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BUMPED = {
    "demo-common/pyproject.toml",
    "demo-common/src/demo_common/__init__.py",
    "demo-node/pyproject.toml",
    "demo-node/src/demo_node/_version.py",
    "demo-node/src/demo_node/__build__",
    "docker/agent.Dockerfile",
    "docker/node.Dockerfile",
    "docker/server.Dockerfile",
    "ui/package.json",
    "ui/package-lock.json",
}


def remote_git(repo: Repo, *args: str, check: bool = True) -> str:
    return run(["git", "--git-dir", str(repo.remote), *args], repo.path, check=check).stdout.strip()


def remote_tip(repo: Repo, branch: str = "main") -> str:
    return remote_git(repo, "rev-parse", f"refs/heads/{branch}")


def assert_one_clear_line(result: subprocess.CompletedProcess[str], expected: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert expected in errors[0], errors[0]
    return errors[0]


def assert_untouched(repo: Repo, head: str, remote_head: str, branch: str = "main") -> None:
    assert repo.git("rev-parse", "HEAD") == head
    assert repo.git("status", "--porcelain") == ""
    assert remote_tip(repo, branch) == remote_head
    assert len(repo.git("worktree", "list").splitlines()) == 1


def other_clone(repo: Repo, tmp_path: Path, name: str = "other") -> Repo:
    return repo.clone(tmp_path / name)


def without_identity(extra: dict[str, str]) -> dict[str, str]:
    env = clean_env()
    for key in IDENTITY:
        env.pop(key)
    env.update(extra)
    return env


def invoke_env(repo: Repo, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), *args],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_commit_in_the_demo_monorepo_commits_once_pushes_once_then_does_nothing(demo_repo):
    demo_repo.tag("version/4.2.0rc1")
    tagged = demo_repo.git("rev-parse", "HEAD")
    result = demo_repo.invoke("bump", "--tag", "version/4.2.0rc1", "--commit")
    assert result.returncode == 0, result.stderr
    assert "pushed" in result.stderr and "to origin/main" in result.stderr
    assert '+version = "4.2.0rc1"' in result.stdout  # the diff-style summary

    tip = remote_tip(demo_repo)
    assert remote_git(demo_repo, "log", "--format=%s", f"{tagged}..{tip}") == (
        "Updated the version to 4.2.0rc1"
    )
    assert remote_git(demo_repo, "rev-parse", f"{tip}^") == tagged
    changed = set(remote_git(demo_repo, "diff", "--name-only", tagged, tip).splitlines())
    assert changed == BUMPED
    node = remote_git(demo_repo, "show", f"{tip}:demo-node/pyproject.toml")
    assert '"demo-common==4.2.0rc1",  # released in lock-step' in node
    assert remote_git(demo_repo, "show", f"{tip}:demo-node/src/demo_node/__build__") == "1"
    assert "refs/notes/release/bump" in remote_git(demo_repo, "for-each-ref", "refs/notes")
    # the local checkout of main caught up, with nothing left over
    assert demo_repo.git("rev-parse", "HEAD") == tip
    assert demo_repo.git("status", "--porcelain") == ""
    assert len(demo_repo.git("worktree", "list").splitlines()) == 1

    again = demo_repo.invoke("bump", "--tag", "version/4.2.0rc1", "--commit")
    assert again.returncode == 0, again.stderr
    assert "origin/main already holds 4.2.0rc1: nothing to do" in again.stderr
    assert remote_tip(demo_repo) == tip


def test_without_commit_writes_the_working_tree_then_commit_pushes_those_files(demo_repo):
    demo_repo.tag("version/4.2.0")
    before = remote_tip(demo_repo)

    dry = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert '+  "version": "4.2.0",' in dry.stdout
    assert "would write 4.2.0 into 9 file(s)" in dry.stderr
    assert demo_repo.git("status", "--porcelain") == ""

    result = demo_repo.invoke("bump", "--tag", "version/4.2.0")
    assert result.returncode == 0, result.stderr
    modified = set(demo_repo.git("diff", "--name-only", "HEAD").splitlines())
    assert modified == BUMPED - {"demo-node/src/demo_node/__build__"}  # 0 stays 0 for a final

    again = demo_repo.invoke("bump", "--tag", "version/4.2.0")
    assert again.returncode == 0, again.stderr
    assert "the working tree already holds 4.2.0: nothing to do" in again.stderr
    assert remote_tip(demo_repo) == before

    # the written files pass the clean-tree check; --commit then pushes the same content
    committed = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    assert committed.returncode == 0, committed.stderr
    assert "fast-forwarded your main" in committed.stderr
    assert demo_repo.git("rev-parse", "HEAD") == remote_tip(demo_repo) != before
    assert demo_repo.git("status", "--porcelain") == ""


def test_dry_run_commit_shows_the_commit_and_changes_nothing(demo_repo):
    demo_repo.tag("version/4.2.0rc1")
    head, before = demo_repo.git("rev-parse", "HEAD"), remote_tip(demo_repo)
    result = demo_repo.invoke("bump", "--tag", "version/4.2.0rc1", "--commit", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would push" in result.stderr
    assert "commit: 'Updated the version to 4.2.0rc1' by Release Tester" in result.stderr
    assert "+ARG BASE=4.2" in result.stdout
    assert_untouched(demo_repo, head, before)
    assert "refs/notes/release/bump" not in remote_git(demo_repo, "for-each-ref", "refs/notes")


def test_bump_on_a_release_branch_pushes_to_that_branch(demo_repo):
    main_before = remote_tip(demo_repo)
    demo_repo.git("switch", "-q", "-c", "release/4.2")
    demo_repo.write("CHANGELOG.md", "# Changelog\n\n## 4.2.1\n\n- a backported fix\n")
    fix = demo_repo.commit("backport a fix")
    demo_repo.push("release/4.2")
    demo_repo.tag("version/4.2.1")
    result = demo_repo.invoke("bump", "--tag", "version/4.2.1", "--commit")
    assert result.returncode == 0, result.stderr
    assert "to origin/release/4.2" in result.stderr
    tip = remote_tip(demo_repo, "release/4.2")
    assert remote_git(demo_repo, "rev-parse", f"{tip}^") == fix
    assert remote_tip(demo_repo) == main_before


def test_tag_on_main_and_a_release_branch_belongs_to_main(demo_repo):
    tagged = demo_repo.git("rev-parse", "HEAD")
    demo_repo.git("branch", "release/4.2")
    demo_repo.push("release/4.2")
    demo_repo.tag("version/4.2.0")
    result = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    assert result.returncode == 0, result.stderr
    assert remote_git(demo_repo, "rev-parse", f"{remote_tip(demo_repo)}^") == tagged
    assert remote_tip(demo_repo, "release/4.2") == tagged


def test_tag_on_two_release_branches_needs_branch_and_then_pushes_there(demo_repo):
    demo_repo.git("switch", "-q", "-c", "release/4.2")
    demo_repo.write("CHANGELOG.md", "# Changelog\n\n## 4.2.1\n")
    tagged = demo_repo.commit("changelog for 4.2.1")
    demo_repo.git("branch", "release/4.x")
    demo_repo.push("release/4.2", "release/4.x")
    demo_repo.tag("version/4.2.1")
    head, before = demo_repo.git("rev-parse", "HEAD"), remote_tip(demo_repo, "release/4.x")

    refused = demo_repo.invoke("bump", "--tag", "version/4.2.1", "--commit")
    line = assert_one_clear_line(refused, "several allowed branches (release/4.2, release/4.x)")
    assert "--branch" in line
    assert_untouched(demo_repo, head, before, "release/4.x")

    chosen = demo_repo.invoke(
        "bump", "--tag", "version/4.2.1", "--commit", "--branch", "release/4.x"
    )
    assert chosen.returncode == 0, chosen.stderr
    assert remote_git(demo_repo, "rev-parse", f"{remote_tip(demo_repo, 'release/4.x')}^") == tagged
    assert remote_tip(demo_repo, "release/4.2") == tagged


def test_a_branch_that_moved_since_the_tag_gets_the_bump_replayed_on_its_tip(demo_repo, tmp_path):
    demo_repo.tag("version/4.2.0")
    other = other_clone(demo_repo, tmp_path)
    other.write("CHANGELOG.md", "# Changelog\n\n## unreleased\n\n- work after the tag\n")
    moved = other.commit("work after the tag")
    other.push()

    result = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    assert result.returncode == 0, result.stderr
    assert "replayed onto origin/main" in result.stderr
    tip = remote_tip(demo_repo)
    assert remote_git(demo_repo, "rev-parse", f"{tip}^") == moved
    assert "work after the tag" in remote_git(demo_repo, "show", f"{tip}:CHANGELOG.md")
    assert 'version = "4.2.0"' in remote_git(demo_repo, "show", f"{tip}:demo-common/pyproject.toml")


def test_a_conflicting_move_stops_with_nothing_pushed_and_says_how_to_finish(demo_repo, tmp_path):
    demo_repo.tag("version/4.2.0")
    other = other_clone(demo_repo, tmp_path)
    path = other.path / "demo-common/pyproject.toml"
    path.write_text(path.read_text().replace('version = "1.0.0"', 'version = "4.3.0.dev0"'))
    other.commit("start 4.3")
    other.push()
    head, before = demo_repo.git("rev-parse", "HEAD"), remote_tip(demo_repo)

    result = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    line = assert_one_clear_line(result, "changed the same lines as the bump commit")
    assert "demo-common/pyproject.toml" in line
    assert "nothing was pushed" in line and "finish by hand: git switch main" in line
    assert_untouched(demo_repo, head, before)


def test_a_push_refused_by_a_server_hook_is_a_clear_error_and_loses_nothing(demo_repo):
    demo_repo.tag("version/4.2.0")
    hook = demo_repo.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'main is protected: changes need a pull request' >&2\nexit 1\n"
    )
    hook.chmod(0o755)
    head, before = demo_repo.git("rev-parse", "HEAD"), remote_tip(demo_repo)

    result = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    line = assert_one_clear_line(result, "origin refused the bump commit")
    assert "main is protected: changes need a pull request" in line
    commit = line.split("refused the bump commit ", 1)[1].split()[0]
    assert "push it by hand: git push origin" in line
    assert_untouched(demo_repo, head, before)
    # nothing lost: the commit named in the message exists and holds the version
    assert demo_repo.git("log", "-1", "--format=%s", commit) == "Updated the version to 4.2.0"


def test_a_stale_lock_on_the_remote_branch_is_named_and_loses_nothing(demo_repo):
    """A lock a crashed process left on the remote fails every try as a race would: the
    error carries the remote's words, so the person knows to remove the lock."""
    demo_repo.tag("version/4.2.0")
    lock = demo_repo.remote / "refs" / "heads" / "main.lock"
    lock.touch()
    head, before = demo_repo.git("rev-parse", "HEAD"), remote_tip(demo_repo)

    result = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    line = assert_one_clear_line(result, "origin could not lock main for the bump commit")
    assert "cannot lock ref 'refs/heads/main'" in line and "main.lock" in line
    assert "nothing was pushed" in line and "remove it on the remote" in line
    assert_untouched(demo_repo, head, before)
    lock.unlink()
    again = demo_repo.invoke("bump", "--tag", "version/4.2.0", "--commit")
    assert again.returncode == 0, again.stderr


def test_two_bumps_racing_for_the_branch_push_one_commit(demo_repo, tmp_path):
    demo_repo.tag("version/4.2.0")
    tagged = demo_repo.git("rev-parse", "HEAD")
    clones = [other_clone(demo_repo, tmp_path, f"racer{n}") for n in range(2)]
    command = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT)]
    args = ["bump", "--tag", "version/4.2.0", "--commit"]
    racers = [
        subprocess.Popen(
            [*command, *args],
            cwd=clone.path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone in clones
    ]
    outputs = [racer.communicate(timeout=300) for racer in racers]
    for racer, (_, err) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, err
    pushed = [err for _, err in outputs if "bump: done: pushed" in err]
    held = [err for _, err in outputs if "already holds 4.2.0" in err]
    assert len(pushed) == 1 and len(held) == 1, outputs
    tip = remote_tip(demo_repo)
    assert remote_git(demo_repo, "rev-list", "--count", f"{tagged}..{tip}") == "1"


def test_a_detached_shallow_ci_clone_commits_onto_the_moved_branch(demo_repo, tmp_path):
    demo_repo.tag("version/4.2.0rc2")
    other = other_clone(demo_repo, tmp_path)
    other.write("README.md", "work after the tag\n")
    moved = other.commit("work after the tag")
    other.push()

    ci = demo_repo.clone(tmp_path / "ci", "--depth", "1", "--branch", "version/4.2.0rc2")
    assert ci.git("rev-parse", "--is-shallow-repository") == "true"
    assert ci.git("symbolic-ref", "-q", "HEAD", check=False) == ""  # detached at the tag
    env = without_identity(
        {
            "RELEASE_GIT_AUTHOR": "Release Bot",
            "RELEASE_GIT_EMAIL": "bot@example.org",
            "GITHUB_REF": "refs/tags/version/4.2.0rc2",
            "GITHUB_REF_TYPE": "tag",
            "GITHUB_REF_NAME": "version/4.2.0rc2",
        }
    )
    result = invoke_env(ci, env, "bump", "--commit")
    assert result.returncode == 0, result.stderr
    tip = remote_tip(demo_repo)
    assert remote_git(demo_repo, "rev-parse", f"{tip}^") == moved
    assert remote_git(demo_repo, "log", "-1", "--format=%an <%ae>", tip) == (
        "Release Bot <bot@example.org>"
    )
    assert ci.git("status", "--porcelain") == ""


def test_no_author_identity_is_a_clear_error_before_anything_happens(demo_repo):
    demo_repo.tag("version/4.2.0")
    head, before = demo_repo.git("rev-parse", "HEAD"), remote_tip(demo_repo)
    result = invoke_env(
        demo_repo, without_identity({}), "bump", "--tag", "version/4.2.0", "--commit"
    )
    line = assert_one_clear_line(result, "no author name and e-mail for the bump commit")
    assert "RELEASE_GIT_AUTHOR and RELEASE_GIT_EMAIL" in line
    assert_untouched(demo_repo, head, before)


def test_a_post_release_writes_and_commits_nothing(demo_repo):
    demo_repo.tag("version/4.2.0")
    demo_repo.tag("version/4.2.0.post1")
    before = remote_tip(demo_repo)
    result = demo_repo.invoke("bump", "--tag", "version/4.2.0.post1", "--commit")
    assert result.returncode == 0, result.stderr
    assert "bump: skipped: post releases commit nothing" in result.stderr
    assert demo_repo.git("status", "--porcelain") == ""
    assert remote_tip(demo_repo) == before


def test_a_version_file_without_its_marker_stops_before_anything_is_written(tmp_path):
    files = {
        "pyproject.toml": (
            '[tool.release]\n\n[[tool.release.version-files]]\npath = "pkg/__init__.py"\n'
            'kind = "dunder"\n\n[[tool.release.version-files]]\npath = "pkg/about.py"\n'
            'kind = "dunder"\n'
        ),
        "pkg/__init__.py": '__version__ = "0.1.0"\n',
        "pkg/about.py": "VERSION = get_version()\n",
    }
    repo = make_repo(tmp_path, source=None, files=files)
    repo.tag("version/1.0.0")
    result = repo.invoke("bump", "--tag", "version/1.0.0")
    assert_one_clear_line(result, 'pkg/about.py has no module-level __version__ = "..." assignment')
    assert repo.git("status", "--porcelain") == ""
