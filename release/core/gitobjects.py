"""Files of a commit read from git's object store: one by ``git cat-file blob``, several by
one ``git cat-file --batch`` (one process instead of one each), and their text.

``release.core.git.Git`` reads through these and remembers what they return.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from release.core.errors import ReleaseError


def cat_file(root: Path, env: Mapping[str, str], commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` in ``commit`` by ``git cat-file blob`` (None: no such file)."""
    result = subprocess.run(
        ["git", "cat-file", "blob", f"{commit}:{path}"],
        cwd=root,
        capture_output=True,
        env=dict(env),
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def cat_file_batch(
    root: Path, env: Mapping[str, str], commit: str, paths: Sequence[str]
) -> dict[str, bytes | None]:
    """Each of ``paths`` in ``commit`` by one ``git cat-file --batch``; what is not a file
    (missing, a folder, a submodule) is None, as ``git cat-file blob`` refuses it.

    A path holding a line break cannot be asked in a batch: the caller reads it with
    ``cat_file``, as it does any path missing from the answer (git itself failed).
    """
    request = "".join(f"{commit}:{path}\n" for path in paths).encode("utf-8")
    result = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        input=request,
        capture_output=True,
        env=dict(env),
        check=False,
    )
    if result.returncode != 0:
        return {}
    out = result.stdout
    found: dict[str, bytes | None] = {}
    position = 0
    for path in paths:
        end = out.find(b"\n", position)
        if end < 0:
            break
        header = out[position:end].split(b" ")
        position = end + 1
        if len(header) != 3 or not header[2].isdigit():  # "<name> missing", "... ambiguous"
            found[path] = None
            continue
        size = int(header[2])
        found[path] = out[position : position + size] if header[1] == b"blob" else None
        position += size + 1  # the contents, then a newline
    return found


def decoded(commit: str, path: str, data: bytes | None) -> str | None:
    """``data`` (the file ``path`` of ``commit``) as UTF-8 text (None stays None); raises a
    ``ReleaseError`` naming the file when it is not UTF-8 text."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(
            f"{path} in commit {commit[:12]} is not UTF-8 text "
            f"(byte 0x{data[error.start]:02x} at offset {error.start})",
            "save it as UTF-8",
        ) from None
