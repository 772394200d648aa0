"""The release's local state under the scheduler's concurrency (a bug the suite found).

upload, push-image and deploy-ui publish concurrently and each records its state in the
same local file: every record must survive, whatever the interleaving.
"""

from __future__ import annotations

import threading
from pathlib import Path

from release.core.git import Git
from release.run.state import ReleaseState
from tests.repos import make_repo


def test_concurrent_records_of_different_steps_are_all_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, source=None, files={"README": "x\n"})
    git = Git(repo.path)
    commit = repo.git("rev-parse", "HEAD")
    steps = [f"step-{n}" for n in range(6)]
    rounds = 5
    start = threading.Barrier(len(steps))
    state = ReleaseState(git, commit, "1.0.0", None)  # shared, as the scheduler's steps share it

    def write(step: str) -> None:
        start.wait()
        for number in range(rounds):
            state.record(step, {"round": number})

    threads = [threading.Thread(target=write, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = ReleaseState(git, commit, "1.0.0", None)._local()
    assert {step: (kept.get(step) or {}).get("round") for step in steps} == {
        step: rounds - 1 for step in steps
    }
