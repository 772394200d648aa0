"""One writer of a clone's release state at a time, and what a killed writer left behind.

A run killed with SIGKILL inside ``git notes add`` (or the fetch into the notes refs) leaves
git's lock file, ``refs/notes/release/<step>.lock``, and git refuses every later write of
that ref until someone removes it. Only release-tasks writes those refs, so a process that
holds the clone's writer lock knows that any such lock file is stale: it removes them, says
so, and the same command finishes the release.

The writer lock is an ``flock`` on ``<git dir>/release-state/writer.lock``, taken before the
process first changes its notes refs and held until it exits: the kernel releases it when
the process dies, however it dies, so it never goes stale itself. A second process that
wants to write while one holds it is refused with the holder's pid (two runs writing the
same clone's state at once would also race over its local state file).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import TextIO

from release.core import console
from release.core.errors import ReleaseError

_HELD: dict[Path, TextIO] = {}  # git dir -> the open lock file this process holds
_GUARD = threading.Lock()


def claim(git_dir: Path, namespace: str) -> None:
    """Hold the writer lock of the clone at ``git_dir`` (once per process), then remove the
    lock files of refs under ``namespace`` that a killed run left."""
    with _GUARD:
        if git_dir in _HELD:
            return
        path = git_dir / "release-state" / "writer.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process"
            handle.close()
            raise ReleaseError(
                f"another run of release-tasks ({holder}) is recording release state in "
                f"this clone ({git_dir})",
                "wait for it to finish, then run the same command again",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        _HELD[git_dir] = handle
        refs = git_dir / namespace
        for lock in sorted(refs.rglob("*.lock")) if refs.is_dir() else ():
            lock.unlink(missing_ok=True)
            console.notice(
                f"removed {lock.relative_to(git_dir)}, left by a run of release-tasks that was "
                "killed while it wrote that ref"
            )
