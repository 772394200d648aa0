"""An sdist in one reproducible form: the same members, nothing of the build's time or machine.

setuptools writes its sdist with the build's time in the gzip header (and the name of the
tar file beside it), every member's time from the files it copied (a fresh clone's are the
clone's time, to the microsecond, in PAX headers), and the owner of the build's user. Two
builds of one tag differ in those bytes only. :func:`make_reproducible` rewrites such an
sdist in place, before it is verified and its sha256 recorded:

- the same members with the same contents, types and link targets, sorted by path one
  folder level at a time (``a/x`` before ``a.b``, the order in which tarfile walks a tree,
  so a hard link tarfile made still follows its target; a stable sort: members of one name
  keep their order and the last still wins when unpacked);
- every member's time is ``epoch`` (``SOURCE_DATE_EPOCH``, the tagged commit's time), its
  owner and group 0 with empty names, its mode fixed from what was built: 0755 for folders,
  0755 for files with any execute bit and 0644 for the others (the build machine's umask
  leaves no trace), links 0777;
- a PAX tar (no per-member header but what a long or non-ASCII name needs) compressed at
  level 9 behind a fixed gzip header: the time ``epoch``, no file name.

An sdist already in a reproducible form (hatchling's, flit's: no name and no later time in
its gzip header, member times no later than ``epoch``, owner 0 without names, fixed modes) is
left byte for byte as its backend made it. One that cannot be rewritten as it is (not a
gzip-compressed tar, a member that is neither a file, a folder nor a link, a hard link that
would come before its target) is left as built, and the reason is returned, for the build to
say that the file is not reproducible and why.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
GZIP_HEADER = struct.Struct("<2sBBIBB")  # magic, method, flags, mtime, extra flags, OS
_DEFLATE = 8
_TIME_KEYS = frozenset({"mtime", "atime", "ctime"})
# PAX keys tarfile writes itself when a name or size needs them: anything else (times,
# owners, extended attributes) is the build machine's.
_NEEDED_KEYS = frozenset({"path", "linkpath", "size"})
_FILE = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE)


class NotRepackable(Exception):
    """Why an sdist cannot be rewritten with the same members."""


@dataclass(frozen=True)
class Member:
    """One member as read: what it is, never when or whose."""

    name: str
    type: bytes
    mode: int
    linkname: str
    data: bytes

    @property
    def identity(self) -> tuple[str, bytes, str, str]:
        return (self.name, self.type, self.linkname, hashlib.sha256(self.data).hexdigest())


def make_reproducible(path: Path, epoch: int) -> str | None:
    """Rewrite the sdist ``path`` in the reproducible form, in place, unless it is in one.

    None when the file is reproducible (rewritten, or left as it was already); otherwise why
    it is not, with the file left as built.
    """
    try:
        header = gzip_header(path)
        with tarfile.open(path, "r:gz") as archive:
            members, already = _read(archive, epoch)
            global_headers = dict(archive.pax_headers)
    except NotRepackable as error:
        return str(error)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        return f"it cannot be read as a gzip-compressed tar ({error})"
    if already and _fixed_header(header, epoch) and not (_TIME_KEYS & set(global_headers)):
        return None
    ordered = sorted(members, key=lambda member: member.name.split("/"))
    try:
        _check_links(ordered)
    except NotRepackable as error:
        return str(error)
    kept = {k: v for k, v in global_headers.items() if k not in _TIME_KEYS}
    data = pack(ordered, epoch, kept)
    if [m.identity for m in _members_of(data)] != [m.identity for m in ordered]:
        return "repacking it changed its members"  # tarfile's own limits: never seen
    _replace(path, data)
    return None


def gzip_header(path: Path) -> tuple[int, int, int]:
    """(flags, mtime, OS) of the gzip header of ``path``; NotRepackable when it has none."""
    with path.open("rb") as handle:
        raw = handle.read(GZIP_HEADER.size)
    if len(raw) < GZIP_HEADER.size or raw[:2] != GZIP_MAGIC:
        raise NotRepackable("it is not gzip-compressed (an sdist is a .tar.gz)")
    _magic, method, flags, mtime, _extra, system = GZIP_HEADER.unpack(raw)
    if method != _DEFLATE:
        raise NotRepackable(f"its gzip header names compression method {method}, not deflate")
    return flags, mtime, system


def _fixed_header(header: tuple[int, int, int], epoch: int) -> bool:
    """No file name, comment or extra field, and no time later than ``epoch``."""
    flags, mtime, _system = header
    return flags == 0 and mtime <= max(epoch, 0)


def _read(archive: tarfile.TarFile, epoch: int) -> tuple[list[Member], bool]:
    """Every member, and whether all of them are already in the reproducible form."""
    members: list[Member] = []
    already = True
    for info in archive:
        if info.type in _FILE:
            handle = archive.extractfile(info)
            data = handle.read() if handle is not None else b""
            kind = tarfile.REGTYPE
            mode = 0o755 if info.mode & 0o111 else 0o644
        elif info.isdir():
            data, kind, mode = b"", tarfile.DIRTYPE, 0o755
        elif info.issym():
            data, kind, mode = b"", tarfile.SYMTYPE, 0o777
        elif info.islnk():
            data, kind, mode = b"", tarfile.LNKTYPE, 0o755 if info.mode & 0o111 else 0o644
        else:
            raise NotRepackable(
                f"it holds {info.name}, a {_kind(info)}: only files, folders and links are repacked"
            )
        name = info.name.rstrip("/") if kind == tarfile.DIRTYPE else info.name
        members.append(Member(name, kind, mode, info.linkname, data))
        already = already and (
            isinstance(info.mtime, int)
            and 0 <= info.mtime <= max(epoch, 0)
            and (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
            and set(info.pax_headers) <= _NEEDED_KEYS
            and (info.mode == mode or kind == tarfile.SYMTYPE)
        )
    return members, already


def _kind(info: tarfile.TarInfo) -> str:
    if info.isfifo():
        return "named pipe"
    if info.ischr() or info.isblk():
        return "device"
    return f"member of tar type {info.type!r}"


def _check_links(ordered: list[Member]) -> None:
    """A hard link must follow its target: tar resolves it to an earlier member."""
    seen: set[str] = set()
    for member in ordered:
        if member.type == tarfile.LNKTYPE and member.linkname not in seen:
            raise NotRepackable(
                f"its hard link {member.name} would come before its target {member.linkname} "
                "in sorted order, and tar resolves a hard link to an earlier member"
            )
        seen.add(member.name)


def pack(members: list[Member], epoch: int, global_headers: dict[str, str] | None = None) -> bytes:
    """The bytes of a .tar.gz of ``members`` in the given order, stamped ``epoch``."""
    stamp = max(epoch, 0)
    raw = io.BytesIO()
    # filename="": no name in the header (GzipFile would take the fileobj's name otherwise).
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=stamp) as gz:
        with tarfile.open(
            fileobj=gz,
            mode="w",
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
            pax_headers=global_headers or None,
        ) as tar:
            for member in members:
                info = tarfile.TarInfo(member.name)
                info.type = member.type
                info.mode = member.mode
                info.mtime = stamp
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.linkname = member.linkname
                info.size = len(member.data) if member.type == tarfile.REGTYPE else 0
                payload = io.BytesIO(member.data) if member.type == tarfile.REGTYPE else None
                tar.addfile(info, payload)
    return raw.getvalue()


def _members_of(data: bytes) -> list[Member]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members, _ = _read(archive, 0)
    return members


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a file beside it, so a reader never sees half."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
