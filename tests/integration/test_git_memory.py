"""What ``release.core.git.Git`` remembers within a process, and what it must not."""

from __future__ import annotations

from pathlib import Path

from release.core.git import Git
from tests.repos import make_repo


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
