"""Whether a built file is already on the index: the same file, a different one, or none.

The same file is the same sha256, or for an archive whose bytes carry build times (a
setuptools sdist) the same members with the same contents; a different file under the same
name is a conflict, which an index never resolves (it keeps the first file of a version).

Shared by the upload's pre-flight (``release.steps.pypi.checks``) and the step itself
(``release.steps.pypi.upload``): neither imports the other.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from release.core.files import digest, sha256_of
from release.steps.pypi.dists import Built, Dist
from release.steps.pypi.index import Index, IndexFile

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

CONFLICT_HINT = (
    "an index keeps the first file of a version forever: release the change as a new version "
    "(nothing was uploaded)"
)


class Status(StrEnum):
    MISSING = "missing"  # not on the index: to upload
    IDENTICAL = "identical"  # the same file is there: done
    DIFFERENT = "different"  # another file under the same name: a conflict


@dataclass(frozen=True)
class Comparison:
    """Whether one local file is on the index, and how it compares."""

    local: Path
    status: Status
    remote: IndexFile | None = None
    reason: str = ""


def file_identity(filename: str) -> tuple[object, ...] | None:
    """What makes two distribution files "the same file" for the index.

    A wheel: its name, version, build tag and tags. An sdist: its name and version (an
    index takes one sdist per release, whatever the spelling of its file name).
    """
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return ("wheel", name, version, build, frozenset(tags))
        name, version = parse_sdist_filename(filename)
        return ("sdist", name, version)
    except (InvalidSdistFilename, InvalidWheelFilename):
        return None


def counterpart(local_name: str, remote: Iterable[IndexFile]) -> IndexFile | None:
    """The file on the index that ``local_name`` would be uploaded as, if there is one."""
    identity = file_identity(local_name)
    for candidate in remote:
        if candidate.filename == local_name:
            return candidate
        if identity is not None and file_identity(candidate.filename) == identity:
            return candidate
    return None


def compare(
    local: Path,
    sha256: str,
    remote_files: Iterable[IndexFile],
    download: Callable[[IndexFile], AbstractContextManager[Path]],
) -> Comparison:
    """How the built file ``local`` compares with the index's files of its project.

    ``download`` is a context manager factory yielding the remote file's path (``Index.download``);
    it is called only when the hashes differ or the index gives none.
    """
    remote = counterpart(local.name, remote_files)
    if remote is None:
        return Comparison(local, Status.MISSING)
    if remote.sha256 is not None and remote.sha256 == sha256:
        return Comparison(local, Status.IDENTICAL, remote, "same sha256")
    with download(remote) as fetched:
        if sha256_of(fetched) == sha256:
            return Comparison(local, Status.IDENTICAL, remote, "same sha256")
        difference = archive_difference(local, fetched)
    if difference is None:
        return Comparison(
            local, Status.IDENTICAL, remote, "same members and contents, only build times differ"
        )
    return Comparison(local, Status.DIFFERENT, remote, difference)


def archive_difference(first: Path, second: Path) -> str | None:
    """None when both archives hold the same members with the same contents, else what differs."""
    try:
        a, b = archive_members(first), archive_members(second)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
        return f"the files differ and cannot be compared as archives ({error})"
    if a == b:
        return None
    only_here = sorted(set(a) - set(b))
    only_there = sorted(set(b) - set(a))
    if only_here:
        return f"the local file has members the index's lacks ({', '.join(only_here[:3])})"
    if only_there:
        return f"the index's file has members the local one lacks ({', '.join(only_there[:3])})"
    changed = sorted(name for name in a if a[name] != b[name])
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"members differ in content: {shown}"


def archive_members(path: Path) -> dict[str, str]:
    """{member name: what it is}, from contents only (times, owners and modes ignored)."""
    name = path.name
    if name.endswith((".whl", ".zip")):
        return _zip_members(path)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return _tar_members(path)
    raise OSError(f"{name} is not a known archive format")


def _zip_members(path: Path) -> dict[str, str]:
    members = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                members[info.filename] = "dir"
                continue
            with archive.open(info) as handle:
                members[info.filename] = "file:" + digest(handle)
    return members


def _tar_members(path: Path) -> dict[str, str]:
    members = {}
    with tarfile.open(path) as archive:
        for info in archive:
            if info.isdir():
                members[info.name.rstrip("/")] = "dir"
            elif info.issym() or info.islnk():
                members[info.name] = f"link:{info.linkname}"
            elif info.isfile():
                handle = archive.extractfile(info)
                members[info.name] = "file:" + (digest(handle) if handle else "")
    return members


# -- the built files against the index ----------------------------------------------


def index_of(ctx: ReleaseContext) -> Index:
    """The client of the configured index (``index-url``)."""
    return Index(ctx.config.pypi.index_url)


# Comparisons that needed a download, by (remote url, remote sha256, local sha256): the
# pre-flight and the step itself compare the same files in one process.
_compared: dict[tuple[str, str | None, str], Comparison] = {}


def compare_with_index(index: Index, built: Built) -> list[Comparison]:
    """How every built file compares with the index (downloads only files whose hash differs)."""
    results = []
    for dist in built.dists:
        files = index.files(dist.name)
        remote = counterpart(dist.filename, files)
        key = (remote.url, remote.sha256, dist.sha256) if remote else None
        if key is not None and key in _compared:
            results.append(_compared[key])
            continue
        comparison = compare(built.path(dist), dist.sha256, files, index.download)
        if key is not None:
            _compared[key] = comparison
        results.append(comparison)
    return results


def conflict_message(dist: Dist, comparison: Comparison) -> str:
    """What a conflict is: which file of which package and version differs, and how."""
    remote = comparison.remote
    where = f" as {remote.filename}" if remote and remote.filename != dist.filename else ""
    return (
        f"{dist.name} {dist.version}: {dist.filename} is already on the index{where} and differs "
        f"from this build ({comparison.reason})"
    )
