"""The release tree: a temporary worktree of the tagged commit with the version written."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from release.core.config import load_config
from release.core.errors import ReleaseError
from release.core.git import Git
from release.core.version import parse_version
from release.core.writers.change import BumpError
from release.run.worktree import PREFIX, release_tree_of, tree_changes
from release.steps.bump.checks import commit_identity
from tests.repos import Repo, clean_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def git_of(repo: Repo) -> Git:
    return Git(repo.path, env=clean_env())


def worktrees(repo: Repo) -> list[str]:
    return [
        line.removeprefix("worktree ")
        for line in repo.git("worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_concurrent_users_share_one_tree_which_the_last_one_removes(demo_repo: Repo):
    git, commit = git_of(demo_repo), demo_repo.git("rev-parse", "HEAD")
    config, version = load_config(demo_repo.path), parse_version("4.2.0b3")
    seen: list[Path] = []
    entered, leave = threading.Barrier(4), threading.Event()

    def build() -> None:
        with release_tree_of(git, commit, config, version) as path:
            seen.append(path)
            entered.wait(timeout=60)
            leave.wait(timeout=60)

    threads = [threading.Thread(target=build) for _ in range(3)]
    with release_tree_of(git, commit, config, version) as tree:
        for thread in threads:
            thread.start()
        entered.wait(timeout=60)
        assert set(seen) == {tree}
        assert len(worktrees(demo_repo)) == 2
        assert 'version = "4.2.0b3"' in (tree / "demo-common/pyproject.toml").read_text()
        assert (tree / "demo-node/src/demo_node/__build__").read_text().strip() == "3"
        assert {c.path for c in tree_changes(tree) if c.changed} >= {"ui/package.json"}
        leave.set()
        for thread in threads:
            thread.join()
        assert tree.exists()  # the first user is still inside
    assert not tree.parent.exists()
    assert worktrees(demo_repo) == [str(demo_repo.path)]
    assert demo_repo.git("status", "--porcelain") == ""  # the user's tree was never touched


def test_the_tree_is_removed_when_a_build_fails(demo_repo: Repo):
    git, commit = git_of(demo_repo), demo_repo.git("rev-parse", "HEAD")
    config = load_config(demo_repo.path)
    with pytest.raises(RuntimeError, match="the build broke"):
        with release_tree_of(git, commit, config, parse_version("4.2.0")) as tree:
            (tree / "dist").mkdir()
            (tree / "dist" / "half-built.whl").write_text("partial")
            raise RuntimeError("the build broke")
    assert not tree.parent.exists()
    assert worktrees(demo_repo) == [str(demo_repo.path)]


def test_a_version_file_that_cannot_be_written_leaves_no_tree(demo_repo: Repo):
    path = demo_repo.path / "demo-common/src/demo_common/__init__.py"
    path.write_text('"""No version here any more."""\n')
    commit = demo_repo.commit("drop __version__")
    config = load_config(demo_repo.path)
    with pytest.raises(BumpError, match="has no module-level __version__"):
        with release_tree_of(git_of(demo_repo), commit, config, parse_version("4.2.0")):
            pass
    assert worktrees(demo_repo) == [str(demo_repo.path)]


def test_a_post_release_tree_carries_its_version(demo_repo: Repo):
    commit = demo_repo.git("rev-parse", "HEAD")
    config = load_config(demo_repo.path)
    with release_tree_of(git_of(demo_repo), commit, config, parse_version("4.2.0.post1")) as tree:
        assert '"version": "4.2.0-post1"' in (tree / "ui/package.json").read_text()
        assert "ARG BASE=4.2" in (tree / "docker/node.Dockerfile").read_text()


def test_a_tree_left_by_a_killed_run_is_removed_by_the_next(demo_repo: Repo, tmp_path: Path):
    commit = demo_repo.git("rev-parse", "HEAD")
    dead = subprocess.Popen(["true"])  # a process id that no longer runs
    dead.wait()
    stale = tmp_path / f"{PREFIX}{dead.pid}-killed" / "work"
    demo_repo.git("worktree", "add", "--detach", "--quiet", str(stale), commit)
    vanished = tmp_path / f"{PREFIX}{dead.pid}-vanished" / "work"
    demo_repo.git("worktree", "add", "--detach", "--quiet", str(vanished), commit)
    shutil.rmtree(vanished.parent)  # killed, and its temporary folder cleaned up since
    assert len(worktrees(demo_repo)) == 3

    config = load_config(demo_repo.path)
    with release_tree_of(git_of(demo_repo), commit, config, parse_version("4.2.0")) as tree:
        assert worktrees(demo_repo) == [str(demo_repo.path), str(tree)]
    assert not stale.parent.exists()
    assert worktrees(demo_repo) == [str(demo_repo.path)]


def test_commit_identity_prefers_git_config_then_release_variables(demo_repo: Repo):
    env = {k: v for k, v in clean_env().items() if not k.startswith("GIT_AUTHOR")}
    env = {k: v for k, v in env.items() if not k.startswith("GIT_COMMITTER")}
    git = Git(demo_repo.path, env=env)
    fallback = {"RELEASE_GIT_AUTHOR": "Release Bot", "RELEASE_GIT_EMAIL": "bot@example.org"}

    with pytest.raises(ReleaseError, match="no author name and e-mail"):
        commit_identity(git, env)
    assert commit_identity(git, {**env, **fallback})["GIT_AUTHOR_NAME"] == "Release Bot"

    demo_repo.git("config", "user.name", "Maintainer")
    demo_repo.git("config", "user.email", "maintainer@example.org")
    identity = commit_identity(git, {**env, **fallback})
    assert identity == {
        "GIT_AUTHOR_NAME": "Maintainer",
        "GIT_AUTHOR_EMAIL": "maintainer@example.org",
        "GIT_COMMITTER_NAME": "Maintainer",
        "GIT_COMMITTER_EMAIL": "maintainer@example.org",
    }
