"""What ``release.core.git.Git`` remembers within a process, and what it must not."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from release.core.errors import ReleaseError
from release.core.git import Git
from release.core.writers.trees import CommitTree
from tests.integration.test_startup_imports import credentials
from tests.repos import Repo, make_repo


def test_a_file_of_a_commit_fetched_later_is_shown_once_fetched(tmp_path: Path):
    upstream = make_repo(tmp_path / "upstream", source=None, files={"a.txt": "one\n"})
    clone = upstream.clone(tmp_path / "clone")
    upstream.write("b.txt", "two\n")
    commit = upstream.commit("add b")
    upstream.push()
    git = Git(clone.path, clone.env)
    assert git.show(commit, "b.txt") is None  # not fetched yet: not remembered as missing
    clone.git("fetch", "-q", "origin")
    assert git.show(commit, "b.txt") == "two\n"
    assert "b.txt" in git.files(commit)


def test_files_of_a_branch_name_follow_the_branch(tmp_path: Path):
    repo = make_repo(tmp_path, source=None, files={"a.txt": "one\n"})
    git = Git(repo.path, repo.env)
    assert git.files("main") == ["a.txt"]
    assert git.show("main", "a.txt") == "one\n"
    repo.write("a.txt", "changed\n")
    repo.write("b.txt", "two\n")
    repo.commit("more")
    assert git.files("main") == ["a.txt", "b.txt"]  # a name is read again, never remembered
    assert git.show("main", "a.txt") == "changed\n"


def test_the_common_git_dir_is_the_same_from_a_worktree(tmp_path: Path):
    repo = make_repo(tmp_path, source=None, files={"a.txt": "one\n"})
    repo.git("worktree", "add", "-q", str(tmp_path / "tree"), "HEAD")
    main_dir = Git(repo.path, repo.env).git_dir()
    assert Git(tmp_path / "tree", repo.env).git_dir() == main_dir
    assert main_dir == (repo.path / ".git").resolve()


class GitCalls:
    """The git commands run while it is installed (``subprocess.run`` counted, then run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[list[str]] = []
        real = subprocess.run

        def counted(args: Any, *rest: Any, **options: Any) -> Any:
            if isinstance(args, list) and args[:1] == ["git"]:
                self.commands.append(list(args[1:]))
            return real(args, *rest, **options)

        monkeypatch.setattr(subprocess, "run", counted)

    def named(self, *prefix: str) -> list[list[str]]:
        return [c for c in self.commands if c[: len(prefix)] == list(prefix)]


def test_the_remote_url_is_read_once_and_again_after_the_wrapper_changes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = make_repo(tmp_path, source=None, files={"a.txt": "one\n"})
    git = Git(repo.path, repo.env)
    calls = GitCalls(monkeypatch)
    assert git.remote_url("origin") == str(repo.remote)
    assert git.remote_url("origin") == str(repo.remote)
    assert git.remote_url("fork") is None
    assert git.remote_url("fork") is None
    assert len(calls.named("remote", "get-url")) == 2  # one per remote
    git.run("remote", "set-url", "origin", "https://example.org/moved.git")
    assert git.remote_url("origin") == "https://example.org/moved.git"
    git.run("remote", "add", "fork", str(repo.remote))
    assert git.remote_url("fork") == str(repo.remote)
    git.run("config", "remote.fork.url", "https://example.org/fork.git")
    assert git.remote_url("fork") == "https://example.org/fork.git"
    git.config("user.name")  # a read: nothing forgotten
    before = len(calls.named("remote", "get-url"))
    assert git.remote_url("fork") == "https://example.org/fork.git"
    assert len(calls.named("remote", "get-url")) == before


def test_one_listing_of_a_commit_serves_its_names_and_its_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    repo = make_repo(tmp_path, source=None, files={"a.txt": "one\n", "sub/b.txt": "two\n"})
    (repo.path / "link").symlink_to("a.txt")
    commit = repo.commit("a link")
    git = Git(repo.path, repo.env)
    calls = GitCalls(monkeypatch)
    tree = CommitTree(git, commit)
    assert git.files(commit) == ["a.txt", "link", "sub/b.txt"]
    assert tree.listing() == ["a.txt", "link", "sub/b.txt"]
    assert tree.links() == {"link"}
    assert ("120000", "link") in git.entries(commit)
    assert len(calls.named("ls-tree")) == 1


def test_show_many_reads_several_files_with_one_git_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    files = {"a.txt": "one\n", "with space.txt": "two\n", "sub/c.txt": "", "é.txt": "ü\n"}
    repo = make_repo(tmp_path, source=None, files=files)
    (repo.path / "latin1.txt").write_bytes(b"caf\xe9\n")
    commit = repo.commit("more")
    git = Git(repo.path, repo.env)
    calls = GitCalls(monkeypatch)
    paths = [*files, "missing.txt", "sub", "latin1.txt", "a.txt"]
    texts = git.show_many(commit, paths, strict=False)
    assert texts == {**files, "missing.txt": None, "sub": None, "latin1.txt": None}
    assert len(calls.commands) == 1 and calls.commands[0][:2] == ["cat-file", "--batch"]
    assert git.show(commit, "a.txt") == "one\n"
    assert git.blob(commit, "latin1.txt") == b"caf\xe9\n"
    assert len(calls.commands) == 1  # remembered: a full hash names files that never change
    with pytest.raises(ReleaseError, match=r"latin1\.txt in commit .* is not UTF-8 text"):
        git.show_many(commit, paths)
    assert calls.commands[1:] == [["cat-file", "--batch"]]  # what is not a file: asked again
    assert git.show_many(commit, ["missing.txt"]) == {"missing.txt": None}
    assert calls.commands[2][:2] == ["cat-file", "blob"]  # one file alone: its own read
    # A name is read again every time, never remembered.
    assert git.show_many("main", ["a.txt", "sub/c.txt"]) == {"a.txt": "one\n", "sub/c.txt": ""}
    repo.write("a.txt", "changed\n")
    repo.commit("change a")
    assert git.show_many("main", ["a.txt", "sub/c.txt"])["a.txt"] == "changed\n"


def test_a_name_a_batch_cannot_carry_is_read_on_its_own(tmp_path: Path):
    repo = make_repo(tmp_path, source=None, files={"a.txt": "one\n", "line\nbreak.txt": "two\n"})
    commit = repo.git("rev-parse", "HEAD")
    git = Git(repo.path, repo.env)
    texts = git.show_many(commit, ["line\nbreak.txt", "a.txt"])
    assert texts == {"line\nbreak.txt": "two\n", "a.txt": "one\n"}


def test_check_version_asks_git_each_question_once(demo_repo: Repo, tmp_path: Path):
    """Start-up (``bench/startup.py``): every git command of ``check-version --offline``
    with every step configured is a different one (no URL, listing or file read twice)."""
    demo_repo.tag("version/1.0.0")
    home = tmp_path / "home"
    home.mkdir()
    trace = tmp_path / "git-trace.log"
    env = {**credentials(), "HOME": str(home), "GIT_TRACE": str(trace)}
    env.pop("PYTHONPROFILEIMPORTTIME")
    result = demo_repo.invoke("check-version", "--tag", "version/1.0.0", "--offline", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    commands = [
        line.split("trace: built-in: ", 1)[1]
        for line in trace.read_text().splitlines()
        if "trace: built-in: " in line
    ]
    repeated = sorted({c for c in commands if commands.count(c) > 1})
    assert commands and repeated == []
    assert sum("cat-file blob" in c and "Dockerfile" in c for c in commands) == 0
