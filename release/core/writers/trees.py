"""Where the writers read files from: a folder on disk, or a commit.

Neither reads through a symbolic link: a name that is a link, or lies in a folder that is
one, raises ``Linked`` (``link`` says why, without reading). A link can lead anywhere on the
machine, so version files are read and written only as the files themselves.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from release.core.files import outside, walk_files
from release.core.git import Git
from release.core.writers.base import Linked

LINK_MODE = "120000"  # git's mode of a symbolic link


class Tree(Protocol):
    """A set of files: a folder on disk, or a commit."""

    def listing(self) -> list[str]: ...

    def link(self, name: str) -> str | None:
        """Why ``name`` is not read: it, or a folder on its way, is a symbolic link."""
        ...

    def read(self, name: str) -> bytes | None:
        """The bytes of ``name`` (None: no such file); raises ``Linked`` for a link."""
        ...


def refused(name: str, link: str, target: str) -> str:
    """The problem of ``name`` when ``link`` (``name`` or a folder on its way) is a link."""
    what = f"{link} is a symbolic link (to {target})"
    if link != name:
        what += f" and {name} lies in it"
    return (
        f"{what}: version files are never read or written through a link; replace the link "
        "with the file itself, or configure the path of the file it points to"
    )


def folder_link(root: Path, name: str) -> str | None:
    """``refused(...)`` when ``name`` under ``root`` is a link or lies in one, else None.

    Only the parts of ``name`` are looked at: ``root`` itself may be reached through links.
    """
    if outside(name):
        return f"{name} is outside the repository: version files are files inside it"
    parts = PurePosixPath(name).parts
    current = Path(root)
    for index, part in enumerate(parts):
        current = current / part
        if current.is_symlink():
            try:
                target = os.readlink(current)
            except OSError:
                target = "?"
            return refused(name, "/".join(parts[: index + 1]), target)
    return None


class FolderTree:
    """The files of a folder: tracked files when it is a git checkout, else every file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._listing: list[str] | None = None

    def listing(self) -> list[str]:
        if self._listing is None:
            self._listing = sorted(
                self._tracked() if (self.root / ".git").exists() else walk_files(self.root)
            )
        return self._listing

    def _tracked(self) -> list[str]:
        out = Git(self.root).run("ls-files", "-z", "--cached").stdout
        return [
            name
            for name in dict.fromkeys(out.split("\0"))
            if name and ((self.root / name).is_file() or (self.root / name).is_symlink())
        ]

    def link(self, name: str) -> str | None:
        return folder_link(self.root, name)

    def read(self, name: str) -> bytes | None:
        problem = self.link(name)
        if problem is not None:
            raise Linked(problem)
        path = self.root / name
        return path.read_bytes() if path.is_file() else None


class CommitTree:
    """The files of a commit (read without a checkout)."""

    def __init__(self, git: Git, commit: str) -> None:
        self.git = git
        self.commit = commit
        self._listing: list[str] | None = None
        self._links: set[str] | None = None

    def listing(self) -> list[str]:
        if self._listing is None:
            self._listing = sorted(self.git.files(self.commit))
        return self._listing

    def links(self) -> set[str]:
        """Every symbolic link of the commit (to a file or to a folder)."""
        if self._links is None:
            # The git wrapper's listing of the commit: the same one ``listing`` reads.
            entries = self.git.entries(self.commit)
            self._links = {path for mode, path in entries if mode == LINK_MODE}
        return self._links

    def target(self, link: str) -> str:
        """Where the link ``link`` of the commit points (its blob holds the path)."""
        data = self.git.blob(self.commit, link) or b"?"
        return data.decode("utf-8", errors="replace")

    def link(self, name: str) -> str | None:
        if outside(name):
            return f"{name} is outside the repository: version files are files inside it"
        links = self.links()
        if not links:
            return None
        parts = PurePosixPath(name).parts
        for index in range(len(parts)):
            prefix = "/".join(parts[: index + 1])
            if prefix in links:
                return refused(name, prefix, self.target(prefix))
        return None

    def read(self, name: str) -> bytes | None:
        problem = self.link(name)
        if problem is not None:
            raise Linked(problem)
        return self.git.blob(self.commit, name)
