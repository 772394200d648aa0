"""The release tree: a temporary git worktree of the tagged commit with the version written.

Every build (packages, images, the UI) runs in it (docs/tasks.md "Tasks"), so a build sees exactly
what was tagged plus the version files, never a branch tip that moved or local changes, and
the user's working tree is never touched by a build. The bump commit is made from the same
written files (``tree_changes`` lists them).

``release_tree(ctx)`` is a context manager yielding the tree's path. Within one process the
tree is shared and reference-counted: concurrent builds of the same tag get the same folder,
created once, and the last one to leave removes it, also when a build failed. A tree left
behind by a killed run is removed by the next run (its folder names the process that made
it) and ``git worktree prune`` forgets worktrees whose folder is gone.

A post release writes its version into the tree too (its images and UI carry it) although it
commits nothing. The writers (``release.core.writers``) write nothing through a symbolic link:
a version file committed as a link (to a file outside the repository, say) stops the tree's
creation, before any build, with nothing written.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from release.core.config import Config
from release.core.files import process_alive
from release.core.git import Git, GitError
from release.core.version import ReleaseVersion
from release.core.writers.change import FileChange
from release.core.writers.plan import write_versions

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

PREFIX = "release-tree-"
_STALE = re.compile(rf"^{re.escape(PREFIX)}(?P<pid>[0-9]+)-")

_lock = threading.Lock()
_trees: dict[tuple[str, str, str], _ReleaseTree] = {}
_by_path: dict[Path, _ReleaseTree] = {}


class _ReleaseTree:
    """One worktree, created by its first user and removed by its last."""

    def __init__(self, git: Git, commit: str, config: Config, version: ReleaseVersion) -> None:
        self.git = git
        self.commit = commit
        self.config = config
        self.version = version
        self.users = 0
        self.path: Path | None = None
        self.folder: Path | None = None
        self.changes: tuple[FileChange, ...] = ()
        self.error: BaseException | None = None
        self._creating = threading.Lock()

    def open(self) -> Path:
        with self._creating:
            if self.path is not None:
                return self.path
            if self.error is not None:
                raise self.error
            try:
                self._create()
            except BaseException as error:
                self.error = error
                raise
            assert self.path is not None
            return self.path

    def _create(self) -> None:
        remove_stale_trees(self.git)
        folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        path = folder / (self.git.root.name or "tree")
        try:
            self.git.run("worktree", "add", "--detach", "--quiet", str(path), self.commit)
            self.changes = tuple(write_versions(self.config, path, self.version))
        except BaseException:
            _remove(self.git, path, folder)
            raise
        self.folder, self.path = folder, path

    def close(self) -> None:
        if self.path is not None and self.folder is not None:
            _remove(self.git, self.path, self.folder)


def _remove(git: Git, path: Path, folder: Path) -> None:
    git.run("worktree", "remove", "--force", str(path), check=False)
    shutil.rmtree(folder, ignore_errors=True)
    git.run("worktree", "prune", check=False)


@contextmanager
def release_tree(ctx: ReleaseContext) -> Iterator[Path]:
    """The shared release tree of ``ctx``'s tagged commit with ``ctx.version`` written."""
    with release_tree_of(ctx.git, ctx.commit, ctx.config, ctx.version) as path:
        yield path


@contextmanager
def release_tree_of(
    git: Git, commit: str, config: Config, version: ReleaseVersion
) -> Iterator[Path]:
    """``release_tree`` without a context: the tree of ``commit`` with ``version`` written."""
    key = (str(git.git_dir()), commit, version.pep440)
    with _lock:
        tree = _trees.get(key)
        if tree is None:
            tree = _trees[key] = _ReleaseTree(git, commit, config, version)
        tree.users += 1
    try:
        path = tree.open()
        with _lock:
            _by_path[path] = tree
        yield path
    finally:
        with _lock:
            tree.users -= 1
            last = tree.users == 0
            if last:
                del _trees[key]
                if tree.path is not None:
                    _by_path.pop(tree.path, None)
        if last:
            tree.close()


def tree_changes(path: Path) -> tuple[FileChange, ...]:
    """The version files written into the open release tree at ``path``."""
    with _lock:
        tree = _by_path.get(Path(path))
    if tree is None:
        raise ValueError(f"{path} is not an open release tree")
    return tree.changes


def remove_stale_trees(git: Git) -> list[Path]:
    """Remove release trees of processes that no longer run; forget missing worktrees."""
    git.run("worktree", "prune", check=False)
    removed: list[Path] = []
    listing = git.run("worktree", "list", "--porcelain", check=False).stdout
    for line in listing.splitlines():
        if not line.startswith("worktree "):
            continue
        path = Path(line.removeprefix("worktree "))
        match = _STALE.match(path.parent.name)
        if match is None or process_alive(int(match["pid"])):
            continue
        try:
            _remove(git, path, path.parent)
        except GitError:
            continue
        removed.append(path)
    return removed
