"""Paths inside the repository: normalisation, glob tests and tree walks, written once.

Paths here are relative to the repository root and ``/``-separated, as git names them.
Globs are git wildmatch patterns (``**`` spans folders), matched with ``pathspec``, which is
imported only when a real pattern is matched: start-up feels it (about 10 ms).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

SKIPPED_FOLDERS = (".git", "node_modules")
CHUNK = 1024 * 1024  # bytes read at a time when hashing a file
_WILDMATCH_SYNTAX = "*?[]\\!# /"


def normalise(path: str) -> str:
    """``path`` in git's spelling: no ``./`` in front, no doubled or trailing ``/``."""
    text = str(PurePosixPath(path))
    return text[2:] if text.startswith("./") else text


def outside(path: str) -> bool:
    """Whether ``path`` is absolute or climbs out with ``..`` (not a path inside the tree)."""
    pure = PurePosixPath(path)
    return pure.is_absolute() or ".." in pure.parts


def is_glob(path: str) -> bool:
    """Whether ``path`` is a glob rather than one file's path."""
    return any(c in path for c in "*?[")


def matches_any(patterns: Iterable[str], path: str) -> bool:
    """Whether ``path`` matches one of git-wildmatch ``patterns`` (``**`` spans folders)."""
    import pathspec

    return pathspec.PathSpec.from_lines("gitignore", list(patterns)).match_file(path)


def glob_match(pattern: str, name: str) -> bool:
    """``matches_any([pattern], name)``, without pathspec for a pattern that is plain text."""
    # The usual release branch ("main") is recognised without importing pathspec.
    if pattern == name and not any(c in pattern for c in _WILDMATCH_SYNTAX):
        return True
    return matches_any([pattern], name)


def select(pattern: str, names: Iterable[str]) -> list[str]:
    """The ``names`` that the glob ``pattern`` matches, in their order."""
    import pathspec

    spec = pathspec.PathSpec.from_lines("gitignore", [pattern])
    return [name for name in names if spec.match_file(name)]


def walk_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative, ``/``-separated), but those in ``SKIPPED_FOLDERS``."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_FOLDERS]
        rel = Path(dirpath).relative_to(root)
        found.extend((rel / name).as_posix() for name in filenames)
    return found


class Listing:
    """Existence checks over a list of a tree's files (folders are their prefixes).

    ``None`` for the files means "not known": every check passes and a glob selects nothing.
    """

    def __init__(self, files: Iterable[str] | None) -> None:
        self.files: list[str] | None = None if files is None else sorted(files)
        self.folders: set[str] = set()
        if self.files is not None:
            self.folders.add(".")
            for name in self.files:
                parent = PurePosixPath(name).parent
                while str(parent) != ".":
                    self.folders.add(str(parent))
                    parent = parent.parent

    @property
    def checked(self) -> bool:
        return self.files is not None

    def is_file(self, path: str) -> bool:
        return self.files is None or normalise(path) in set(self.files)

    def is_dir(self, path: str) -> bool:
        return self.files is None or normalise(path) in self.folders

    def glob(self, pattern: str) -> tuple[str, ...]:
        return () if self.files is None else tuple(select(pattern, self.files))


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    with path.open("rb") as handle:
        return digest(handle)


def digest(handle: IO[bytes]) -> str:
    """The sha256 of what ``handle`` holds, read in chunks."""
    found = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        found.update(chunk)
    return found.hexdigest()


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a folder named after it is then not stale).

    A process of another user counts as running: its folder is not ours to remove.
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
