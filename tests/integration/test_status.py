"""``invoke status`` over real git repositories, and the lifecycle marks of the state records.

The releases themselves (finished, failed halfway, killed) run against real services in
``tests/reliability/test_trust_status.py``; here the records are written by the state's own
calls, and ``status`` is always run from a fresh clone of the bare remote.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from release.core import console
from release.core.errors import ReleaseError
from release.core.git import Git
from release.run import catalog
from release.run.state import ReleaseState
from release.run.step import StepResult, recorded
from tests.repos import Repo, clean_env, make_repo

TAG = "version/4.2.0"
VERSION = "4.2.0"
SECRET = "lifecycleSecret-93f1c0de"


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    for key, value in clean_env().items():
        monkeypatch.setenv(key, value)
    repo = make_repo(tmp_path / "demo")
    repo.tag(TAG)
    return repo


def state_of(repo: Repo, version: str = VERSION, remote: str | None = "origin") -> ReleaseState:
    git = Git(repo.path)
    commit = git.out("rev-parse", f"{TAG}^{{commit}}")
    return ReleaseState(git, commit, version, remote, mask=console.mask)


def status(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    return repo.invoke("status", *args)


def as_json(repo: Repo, *args: str) -> dict[str, Any]:
    result = status(repo, "--json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def remote_refs(repo: Repo) -> str:
    return repo.git("ls-remote", "origin")


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


# -- the lifecycle marks ------------------------------------------------------------------


def test_a_step_reads_its_own_record_unchanged_while_the_lifecycle_is_marked(demo: Repo):
    state = state_of(demo)
    state.record("deploy-ui", {"status": "deploying", "deployment_id": "temp-1a2b"})
    before = state.get("deploy-ui")
    state.mark("deploy-ui", "running")
    # the step's re-run logic sees exactly its own fields, without the lifecycle
    now = state.get("deploy-ui")
    assert now is not None and before is not None
    assert {k: v for k, v in now.items() if k != "recorded_at"} == {
        k: v for k, v in before.items() if k != "recorded_at"
    }
    assert "step_status" not in now
    entry = state.entry("deploy-ui")
    assert entry is not None and entry["step_status"] == "running"
    assert entry["status"] == "deploying"  # its own status is untouched


def test_a_mark_before_the_first_record_is_no_record_for_the_step(demo: Repo, tmp_path: Path):
    state_of(demo).mark("notify", "running")
    fresh = demo.clone(tmp_path / "fresh")
    seen = state_of(fresh)
    assert seen.get("notify") is None  # notify decides as if nothing was recorded
    entry = seen.entry("notify")
    assert entry is not None and entry["step_status"] == "running"  # from the remote's note


def test_records_written_while_running_carry_the_mark_then_done_replaces_it(demo: Repo):
    state = state_of(demo)
    state.mark("upload", "running")
    written = state.record("upload", {"files": [{"filename": "a-1.0.tar.gz"}]})
    assert written["step_status"] == "running"
    state.mark("upload", "done")
    entry = state.entry("upload")
    assert entry is not None
    assert entry["step_status"] == "done" and entry["files"] == [{"filename": "a-1.0.tar.gz"}]
    assert entry["step_started_at"] <= entry["recorded_at"]


def test_recorded_marks_running_done_and_failed_with_the_masked_error(demo: Repo):
    console.register_secret(SECRET)
    state = state_of(demo)
    ctx = SimpleNamespace(options=SimpleNamespace(dry_run=False), state=state)
    seen: list[str | None] = []

    def work() -> StepResult:
        entry = state.entry("bump")
        seen.append(entry["step_status"] if entry else None)
        return StepResult("bump", "done", "pushed")

    recorded(ctx, "bump", work)  # type: ignore[arg-type]
    assert seen == ["running"]
    assert (state.entry("bump") or {})["step_status"] == "done"

    def fail() -> StepResult:
        raise ReleaseError(f"origin refused the push (token {SECRET})", "allow the push")

    with pytest.raises(ReleaseError):
        recorded(ctx, "bump", fail)  # type: ignore[arg-type]
    entry = state.entry("bump") or {}
    assert entry["step_status"] == "failed"
    assert entry["step_error"] == "origin refused the push (token ***): allow the push"
    stored = (demo.path / ".git" / "release-state" / f"{VERSION}.json").read_text()
    notes = demo.git("log", "-p", "refs/notes/release/bump")
    remote = subprocess.run(
        ["git", "--git-dir", str(demo.remote), "log", "-p", "refs/notes/release/bump"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for text in (stored, notes, remote):
        assert SECRET not in text and "***" in text


def test_a_dry_run_records_no_lifecycle(demo: Repo):
    state = state_of(demo)
    ctx = SimpleNamespace(options=SimpleNamespace(dry_run=True), state=state)
    recorded(ctx, "bump", lambda: StepResult("bump", "dry-run", "would push"))  # type: ignore[arg-type]
    assert state.entry("bump") is None
    assert demo.git("ls-remote", "origin", "refs/notes/*") == ""


def test_a_mark_the_remote_refuses_is_a_warning_and_a_record_still_an_error(
    demo: Repo, capsys: pytest.CaptureFixture[str]
):
    hook = demo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'notes are read-only here' >&2\nexit 1\n")
    hook.chmod(0o755)
    state = state_of(demo)
    state.mark("bump", "running")  # recorded locally, not pushed: said, not fatal
    assert "warning: recorded step bump locally but could not push" in capsys.readouterr().err
    assert (state.entry("bump") or {})["step_status"] == "running"
    with pytest.raises(ReleaseError, match="could not push its state") as refused:
        state.record("bump", {"result": "pushed"})
    # The remote's words, not git's last line ("failed to push some refs").
    assert "notes are read-only here" in str(refused.value)


def test_a_stale_lock_on_the_remote_is_named_in_the_error(demo: Repo):
    """A push the remote cannot take because a crashed process left a ref lock says so:
    the person can remove the lock, where ``failed to push some refs`` says nothing."""
    state = state_of(demo)
    state.record("bump", {"result": "pushed"})
    lock = demo.remote / "refs" / "notes" / "release" / "bump.lock"
    lock.touch()
    with pytest.raises(ReleaseError, match="could not push its state") as refused:
        state.record("bump", {"result": "pushed", "again": True})
    assert "cannot lock ref 'refs/notes/release/bump'" in str(refused.value)
    assert "bump.lock" in str(refused.value)
    lock.unlink()
    state.record("bump", {"result": "pushed", "again": True})  # the same call, once it is gone


def test_bump_without_commit_records_no_lifecycle(demo: Repo):
    result = demo.invoke("bump", "--tag", TAG)
    assert result.returncode == 0, result.stderr
    assert demo.git("ls-remote", "origin", "refs/notes/*") == ""
    assert not (demo.path / ".git" / "release-state").exists()


# -- invoke status --------------------------------------------------------------------------


def test_a_never_started_release_from_a_fresh_clone(demo: Repo, tmp_path: Path):
    fresh = demo.clone(tmp_path / "fresh")
    refs = remote_refs(demo)

    plain = status(fresh, "--tag", TAG)

    assert plain.returncode == 0, plain.stdout + plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0].startswith(f"{TAG}: final release {VERSION} of commit ")
    assert "from the state notes of origin" in lines[0]
    assert "bump: pending: not started" in lines
    assert "upload: pending: not started: it waits for build (pending), bump (pending)" in lines
    assert f"to finish it: invoke release --tag {TAG}" in lines
    data = as_json(fresh, "--tag", TAG)
    assert data["tag"] == TAG and data["version"] == VERSION
    assert list(data["steps"]) == list(catalog.NAMES)  # every step of the catalog, in order
    for name, step in data["steps"].items():
        assert set(step) == {"status", "reason", "published"}
        assert step["published"] == {}
        if step["status"] == "skipped":
            assert step["reason"] == catalog.NOT_CONFIGURED, name
        else:
            assert step["status"] == "pending" and step["reason"].startswith("not started"), name
    assert data["finish"] == f"invoke release --tag {TAG}"
    assert remote_refs(demo) == refs  # read-only: nothing pushed
    assert fresh.git("status", "--porcelain") == ""


def test_records_from_a_fresh_clone_with_every_state(demo: Repo, tmp_path: Path):
    """Records as the steps write them: done, failed, running, and a step that recorded
    nothing while the step that needs it is done (the build job's build --output)."""
    state = state_of(demo)
    commit = "ab" * 20
    for step in ("bump", "upload", "push-image", "deploy-ui", "notify"):
        state.mark(step, "running")
    state.record(
        "bump",
        {
            "result": "pushed",
            "commit": commit,
            "branch": "main",
            "remote": "origin",
            "files": ["ui/package.json"],
        },
    )
    state.mark("bump", "done")
    upload = {
        "repository": "http://127.0.0.1:8080/",
        "files": [
            {
                "filename": "demo_common-4.2.0.tar.gz",
                "sha256": "cd" * 32,
                "status": "uploaded",
                "url": "http://127.0.0.1:8080/packages/demo_common-4.2.0.tar.gz",
            }
        ],
    }
    state.record("upload", upload)
    state.mark("upload", "done")
    state.mark("push-image", "failed", "the registry refused the push: HTTP 503")
    state.record("deploy-ui", {"status": "deploying", "deployment_id": "temp-1a2b"})
    fresh = demo.clone(tmp_path / "fresh")

    data = as_json(fresh, "--tag", TAG)

    steps = data["steps"]
    assert steps["bump"] == {
        "status": "done",
        "reason": None,
        "published": {
            "result": "pushed",
            "commit": commit,
            "branch": "main",
            "remote": "origin",
            "files": ["ui/package.json"],
        },
    }
    assert steps["build"]["status"] == "done"  # no record; upload, which needs it, is done
    assert "upload, which needs it, is done" in steps["build"]["reason"]
    assert steps["upload"]["status"] == "done"
    assert steps["upload"]["published"]["files"] == upload["files"]
    assert steps["push-image"] == {
        "status": "failed",
        "reason": "the registry refused the push: HTTP 503",
        "published": {},
    }
    assert steps["deploy-ui"]["status"] == "pending"
    assert (
        "not finished: still running, or its run was stopped (its record says deploying)"
        in (steps["deploy-ui"]["reason"])
    )
    assert steps["notify"]["status"] == "pending"
    assert data["finish"] == f"invoke release --tag {TAG}"
    plain = status(fresh, "--tag", TAG)
    assert plain.returncode == 0, plain.stderr
    text = plain.stdout
    assert "push-image: failed: the registry refused the push: HTTP 503" in text
    # what upload published, as the release's summary shows it
    assert f"  demo_common-4.2.0.tar.gz: uploaded, sha256 {'cd' * 32}" in text
    assert "    http://127.0.0.1:8080/packages/demo_common-4.2.0.tar.gz" in text
    assert f"  commit: {commit}" in text  # bump has no renderer: its fields


def test_records_written_before_the_lifecycle_existed_are_read_by_their_own_status(
    demo: Repo, tmp_path: Path
):
    state = state_of(demo)
    state.record("bump", {"result": "held", "commit": "ab" * 20})
    state.record("notify", {"status": "unknown", "message_id": None})
    fresh = demo.clone(tmp_path / "fresh")
    steps = as_json(fresh, "--tag", TAG)["steps"]
    assert steps["bump"]["status"] == "done"
    assert steps["notify"] == {
        "status": "failed",
        "reason": "its record says unknown",
        "published": {"status": "unknown", "message_id": None},
    }


def test_a_hostile_note_makes_its_step_failed_and_the_rest_is_reported(demo: Repo, tmp_path: Path):
    commit = demo.git("rev-parse", f"{TAG}^{{commit}}")
    note = tmp_path / "note.json"
    note.write_text(json.dumps({VERSION: {"status": "posted", "message_id": "../../x"}}))
    demo.git("notes", "--ref", "release/notify", "add", "-F", str(note), commit)
    demo.git("push", "-q", "origin", "refs/notes/release/notify")
    fresh = demo.clone(tmp_path / "fresh")
    steps = as_json(fresh, "--tag", TAG)["steps"]
    reason = steps["notify"]["reason"]
    assert steps["notify"]["status"] == "failed"
    assert "was not written by release-tasks, so nothing in it was used" in reason
    assert f"git notes --ref refs/notes/release/notify remove {commit}" in reason
    assert steps["bump"]["status"] == "pending"


def test_pre_flight_problems_are_not_looked_at(demo: Repo, tmp_path: Path):
    demo.git("checkout", "-q", "-b", "experiment")
    demo.write("app/node.txt", "an experiment\n")
    demo.commit("an experiment")
    demo.git("push", "-q", "origin", "experiment")
    demo.tag("version/4.3.0")
    fresh = demo.clone(tmp_path / "fresh")
    refused = fresh.invoke("check-version", "--tag", "version/4.3.0")
    assert refused.returncode == 1 and "not on an allowed branch" in refused.stderr
    result = status(fresh, "--tag", "version/4.3.0")
    assert result.returncode == 0, result.stderr
    assert "bump: pending: not started" in result.stdout


def test_an_invalid_configuration_at_the_tag_still_reports_the_records(demo: Repo, tmp_path: Path):
    demo.write("pyproject.toml", "[tool.release\n")
    demo.commit("broken")
    demo.push()
    demo.tag("version/4.3.0")
    fresh = demo.clone(tmp_path / "fresh")
    data = as_json(fresh, "--tag", "version/4.3.0")
    for step in data["steps"].values():
        assert step["status"] == "pending"
        assert step["reason"].startswith("the plan of version/4.3.0 cannot be made: ")


def test_a_workflow_that_releases_tags_is_the_way_to_finish(demo: Repo, tmp_path: Path):
    demo.write(".github/workflows/release.yml", "on:\n  push:\n    tags: ['version/*']\n")
    demo.commit("CI releases version tags")
    demo.push()
    demo.tag("version/4.3.0")
    fresh = demo.clone(tmp_path / "fresh")
    data = as_json(fresh, "--tag", "version/4.3.0")
    assert data["finish"] == (
        "re-run the failed or missing jobs of .github/workflows/release.yml for version/4.3.0 "
        "in GitHub Actions, or from a clone: invoke release --tag version/4.3.0 --local"
    )


def test_a_tag_the_clone_lacks_is_fetched_and_an_unknown_one_is_exit_1(demo: Repo, tmp_path: Path):
    fresh = demo.clone(tmp_path / "fresh")
    demo.tag("version/4.3.0")  # pushed after the clone was made
    assert status(fresh, "--tag", "version/4.3.0").returncode == 0
    missing = status(fresh, "--tag", "version/9.9.9")
    assert missing.returncode == 1
    assert errors(missing) == [
        "error: tag version/9.9.9 does not exist in this repository or on origin: check its "
        "spelling (the release's tags: git tag --list 'version/*')"
    ]
    assert "Traceback" not in missing.stderr
    malformed = status(fresh, "--tag", "version/4.2")
    assert malformed.returncode == 2 and len(errors(malformed)) == 1


def test_notes_that_cannot_be_fetched_are_exit_1_and_offline_reads_the_clone(
    demo: Repo, tmp_path: Path
):
    fresh = demo.clone(tmp_path / "fresh")
    fresh.git("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    result = status(fresh, "--tag", TAG)
    assert result.returncode == 1 and result.stdout == ""
    assert len(errors(result)) == 1
    assert "could not read the release state from origin" in errors(result)[0]
    assert "or pass --offline" in errors(result)[0]
    offline = status(fresh, "--tag", TAG, "--offline")
    assert offline.returncode == 0, offline.stderr
    assert "from this clone's records (nothing fetched)" in offline.stdout


def test_help_documents_every_flag(demo: Repo):
    result = demo.invoke("status", "--help")
    assert result.returncode == 0
    for flag in ("--tag", "--json", "--offline"):
        assert flag in result.stdout


def test_a_step_added_to_the_catalog_shows_what_it_published(demo: Repo, tmp_path: Path):
    """The GitHub release, through its catalog entry's ``published`` lines: status names no step."""
    text = (demo.path / "pyproject.toml").read_text()
    demo.write("pyproject.toml", text + '\n[tool.release.github]\nrepository = "org/demo"\n')
    demo.commit("a GitHub release for every version")
    demo.push()
    demo.tag("version/4.3.0")
    git = Git(demo.path)
    state = ReleaseState(git, git.out("rev-parse", "HEAD"), "4.3.0", "origin", mask=console.mask)
    url = "https://github.com/org/demo/releases/tag/version/4.3.0"
    state.mark("github-release", "running")
    state.record(
        "github-release",
        {
            "phase": "published",
            "repository": "org/demo",
            "release_id": 7,
            "html_url": url,
            "assets": [{"name": "demo_common-4.3.0.tar.gz", "size": 10, "sha256": "ef" * 32}],
        },
    )
    state.mark("github-release", "done")
    fresh = demo.clone(tmp_path / "fresh")

    data = as_json(fresh, "--tag", "version/4.3.0")
    plain = status(fresh, "--tag", "version/4.3.0")

    step = data["steps"]["github-release"]
    assert step["status"] == "done" and step["published"]["html_url"] == url
    assert f"github-release: done\n  GitHub release {url} (published)\n" in plain.stdout
    assert f"  demo_common-4.3.0.tar.gz: sha256 {'ef' * 32}" in plain.stdout


def test_status_leaves_the_clones_own_state_notes_as_they_are(demo: Repo, tmp_path: Path):
    commit = demo.git("rev-parse", f"{TAG}^{{commit}}")
    state_of(demo).record("bump", {"result": "held"})  # on the remote: bump held
    fresh = demo.clone(tmp_path / "fresh")
    note = tmp_path / "note.json"
    note.write_text(json.dumps({VERSION: {"step": "bump", "version": VERSION, "result": "pushed"}}))
    fresh.git("notes", "--ref", "release/bump", "add", "-F", str(note), commit)
    before = fresh.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/notes/release/")

    data = as_json(fresh, "--tag", TAG)

    assert data["steps"]["bump"]["published"].get("result") == "held"  # the remote's record
    after = fresh.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/notes/release/")
    assert after == before  # the clone's own note was not replaced by the remote's
    assert "result" in fresh.git("notes", "--ref", "release/bump", "show", commit)
    assert '"pushed"' in fresh.git("notes", "--ref", "release/bump", "show", commit)
