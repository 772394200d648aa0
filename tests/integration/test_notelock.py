"""A run killed inside a write of its state notes leaves git's ref lock in the clone; the
same command removes it and finishes. Two processes never write one clone's state at once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.repos import CHECKOUT, Repo, clean_env, make_repo

TAG = "version/4.2.0"


def demo_tagged(root: Path) -> Repo:
    repo = make_repo(root)
    repo.tag(TAG)
    return repo


def test_a_ref_lock_left_by_a_killed_run_is_removed_and_the_command_finishes(tmp_path: Path):
    repo = demo_tagged(tmp_path / "demo")
    lock = repo.path / ".git" / "refs" / "notes" / "release" / "bump.lock"
    lock.parent.mkdir(parents=True)
    lock.touch()  # what SIGKILL inside `git notes add` leaves

    result = repo.invoke("bump", "--tag", TAG, "--commit")
    assert result.returncode == 0, result.stderr
    removed = "removed refs/notes/release/bump.lock, left by a run of release-tasks"
    assert removed in result.stderr
    assert not lock.exists()
    note = repo.git("notes", "--ref", "release/bump", "show", f"{TAG}^{{commit}}")
    assert '"result": "pushed"' in note
    remote = repo.git("ls-remote", "origin", "refs/notes/release/bump")
    assert remote.endswith("refs/notes/release/bump")  # the state reached the remote too


HOLD = """
import sys, time
from pathlib import Path
from release.run import notelock
notelock.claim(Path(sys.argv[1]), "refs/notes/release")
print("holding", flush=True)
time.sleep(60)
"""


def test_a_second_writer_of_the_same_clone_is_refused_and_touches_nothing(tmp_path: Path):
    repo = demo_tagged(tmp_path / "demo")
    git_dir = repo.path / ".git"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(git_dir)],
        cwd=CHECKOUT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        before = repo.git("ls-remote", "origin")
        result = repo.invoke("bump", "--tag", TAG, "--commit")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    holder_named = f"another run of release-tasks (pid {holder.pid}) is recording release state"
    assert holder_named in lines[0]
    assert "wait for it to finish, then run the same command again" in lines[0]
    assert repo.git("ls-remote", "origin") == before  # refused before the push

    again = repo.invoke("bump", "--tag", TAG, "--commit")  # the holder died: its lock went too
    assert again.returncode == 0, again.stderr
