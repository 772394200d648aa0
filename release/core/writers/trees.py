"""Where the writers read files from: a folder on disk, or a commit."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from release.core.files import walk_files
from release.core.git import Git


class Tree(Protocol):
    """A set of files: a folder on disk, or a commit."""

    def listing(self) -> list[str]: ...

    def read(self, name: str) -> bytes | None: ...


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
            name for name in dict.fromkeys(out.split("\0")) if name and (self.root / name).is_file()
        ]

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None


class CommitTree:
    """The files of a commit (read without a checkout)."""

    def __init__(self, git: Git, commit: str) -> None:
        self.git = git
        self.commit = commit
        self._listing: list[str] | None = None

    def listing(self) -> list[str]:
        if self._listing is None:
            self._listing = sorted(self.git.files(self.commit))
        return self._listing

    def read(self, name: str) -> bytes | None:
        return self.git.blob(self.commit, name)
