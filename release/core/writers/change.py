"""What the writers do to one file (``FileChange``), and writing changes atomically.

A file's text keeps its encoding, byte order mark and line endings (``decode`` gives them,
``FileChange.encoded`` puts them back); a written file keeps its permissions.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.core.errors import ReleaseError
from release.core.writers.trees import folder_link


class BumpError(ReleaseError):
    """A version file cannot be written; no file was touched."""


@dataclass(frozen=True)
class FileChange:
    """What the writers do to one file: ``before`` -> ``after`` (equal when it holds already).

    ``skipped`` says why a file a glob selected was passed over (no marker); ``note`` says
    what was left alone on purpose (a ``LABEL version=${TAG}``).
    """

    path: str
    kind: str
    before: str
    after: str
    skipped: str | None = None
    note: str | None = None
    bom: bytes = b""
    codec: str = "utf-8"

    @property
    def changed(self) -> bool:
        return self.skipped is None and self.before != self.after

    @property
    def diff(self) -> str:
        """A unified diff of the change (empty when nothing changes)."""
        if not self.changed:
            return ""
        lines = difflib.unified_diff(
            [line.rstrip("\r\n") for line in self.before.splitlines(keepends=True)],
            [line.rstrip("\r\n") for line in self.after.splitlines(keepends=True)],
            f"a/{self.path}",
            f"b/{self.path}",
            n=1,
            lineterm="",
        )
        return "\n".join(lines)

    def encoded(self) -> bytes:
        return self.bom + self.after.encode(self.codec)


def holds(changes: Iterable[FileChange]) -> bool:
    """Whether every planned file already holds the version."""
    return not any(c.changed for c in changes)


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode(data: bytes) -> tuple[str, bytes, str]:
    """(text, byte order mark, codec); line endings are kept as they are."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec), bom, codec
    try:
        return data.decode("utf-8"), b"", "utf-8"
    except UnicodeDecodeError:
        # latin-1 maps every byte to one character: the file's bytes survive unchanged.
        return data.decode("latin-1"), b"", "latin-1"


def write_changes(root: Path, changes: Sequence[FileChange]) -> None:
    """Write every change atomically: all temporary files first, then the renames.

    Nothing is written through a symbolic link: a file that is one, or lies in a folder
    that is one, stops every write (the plan refused it already; this is the last look).
    """
    linked = [problem for c in changes if (problem := folder_link(root, c.path)) is not None]
    if linked:
        raise BumpError("; ".join(linked), "no file was changed")
    staged: list[tuple[Path, Path]] = []
    try:
        for change in changes:
            target = Path(root) / change.path
            staged.append((_stage(target, change.encoded()), target))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)


def _stage(target: Path, data: bytes) -> Path:
    """A temporary file beside ``target`` holding ``data``, with ``target``'s permissions."""
    info = target.stat()
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        try:
            os.chown(temporary, info.st_uid, info.st_gid)
        except OSError:
            pass  # only root may give a file away; the owner is ours then anyway
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
