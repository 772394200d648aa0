"""Release state: local file and per-step git notes, shared through a bare remote."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from release.core import console
from release.core.errors import ReleaseError
from release.core.git import Git
from release.run.state import ReleaseState
from tests.repos import Repo, clean_env, make_repo


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    for key, value in clean_env().items():
        monkeypatch.setenv(key, value)
    return make_repo(tmp_path / "a", files={"pyproject.toml": "[tool.release]\n"}, source=None)


def state(repo: Repo, version: str = "1.0.0", remote: str | None = "origin") -> ReleaseState:
    git = Git(repo.path)
    return ReleaseState(git, git.out("rev-parse", "HEAD"), version, remote, mask=console.mask)


def test_a_record_reaches_a_fresh_clone_through_the_remote(repo: Repo, tmp_path: Path):
    state(repo).record("upload", {"files": ["a.whl"]})
    fresh = repo.clone(tmp_path / "fresh")
    record = state(fresh).get("upload")
    assert record is not None and record["files"] == ["a.whl"]
    assert record["version"] == "1.0.0"
    assert state(fresh).get("notify") is None


def test_the_local_file_lives_in_the_git_directory(repo: Repo):
    state(repo).record("bump", {"commit": "abc"})
    path = repo.path / ".git" / "release-state" / "1.0.0.json"
    assert json.loads(path.read_text())["bump"]["commit"] == "abc"
    assert repo.git("status", "--porcelain") == ""


def test_versions_on_one_commit_keep_separate_records(repo: Repo, tmp_path: Path):
    state(repo, "1.0.0rc1").record("upload", {"n": 1})
    state(repo, "1.0.0").record("upload", {"n": 2})
    fresh = repo.clone(tmp_path / "fresh")
    assert state(fresh, "1.0.0rc1").get("upload")["n"] == 1
    assert state(fresh, "1.0.0").get("upload")["n"] == 2


def test_a_note_push_that_lost_a_race_merges_and_retries(repo: Repo, tmp_path: Path):
    other = repo.clone(tmp_path / "other")
    state(repo, "1.0.0").record("push-image", {"who": "a"})
    state(other, "2.0.0").record("push-image", {"who": "b"})  # lost the race, then merged
    fresh = repo.clone(tmp_path / "fresh")
    assert state(fresh, "1.0.0").get("push-image")["who"] == "a"
    assert state(fresh, "2.0.0").get("push-image")["who"] == "b"


def test_concurrent_steps_write_separate_refs(repo: Repo, tmp_path: Path):
    steps = ["upload", "push-image", "deploy-ui"]
    threads = [
        threading.Thread(target=state(repo).record, args=(step, {"ok": True})) for step in steps
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refs = repo.git("ls-remote", "origin", "refs/notes/release/*")
    assert sorted(line.split("\t")[1] for line in refs.splitlines()) == sorted(
        f"refs/notes/release/{s}" for s in steps
    )


def test_offline_state_stays_local(repo: Repo):
    state(repo, remote=None).record("bump", {"x": 1})
    assert repo.git("ls-remote", "origin", "refs/notes/*") == ""
    assert state(repo, remote=None).get("bump")["x"] == 1


def test_a_secret_is_never_recorded(repo: Repo):
    console.register_secret("s3cret-value-123")
    with pytest.raises(ReleaseError, match="refusing to record a secret"):
        state(repo).record("notify", {"url": "https://x/s3cret-value-123"})
    assert not (repo.path / ".git" / "release-state" / "1.0.0.json").exists()


@pytest.mark.parametrize(
    ("bot", "committer"),
    [
        ({}, "release-tasks <release-tasks@localhost>"),
        (
            {"RELEASE_GIT_AUTHOR": "Release Bot", "RELEASE_GIT_EMAIL": "bot@example.org"},
            "Release Bot <bot@example.org>",
        ),
    ],
)
def test_on_a_runner_without_git_identity_notes_are_by_the_bump_commits_author(
    repo: Repo, monkeypatch: pytest.MonkeyPatch, bot: dict[str, str], committer: str
):
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in bot.items():
        monkeypatch.setenv(key, value)
    state(repo).record("notify", {"message": "1"})
    assert repo.git("log", "-1", "--format=%cn <%ce>", "refs/notes/release/notify") == committer
