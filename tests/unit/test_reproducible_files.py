"""Reproducible files: the sdist rewritten with the same members, the tagged commit's time and
a fixed gzip header; the UI zip's modes from the files' bits.

The archives here are written the way the backends write them: setuptools with
``tarfile.add`` of a folder behind ``tarfile``'s gzip stream (the build's time and the tar's
name in the gzip header, each file's time and owner from the disk), hatchling already in a
fixed form.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from release.steps.deploy_ui.archive import zip_folder
from release.steps.pypi.comparison import archive_difference
from release.steps.pypi.repack import Member, make_reproducible, pack

EPOCH = 1_700_000_000
NAME = "demo_node-1.0.0"
FILES = {
    "PKG-INFO": b"Metadata-Version: 2.1\nName: demo-node\nVersion: 1.0.0\n",
    "setup.cfg": b"[egg_info]\ntag_build = \n",
    "src/demo_node/__init__.py": b"from ._version import __version__\n",
    "src/demo_node/_version.py": b'__version__ = "1.0.0"\n',
    "src/demo_node.egg-info/SOURCES.txt": b"setup.cfg\nsrc/demo_node/__init__.py\n",
    "bin/run": b"#!/bin/sh\necho run\n",
    "docs/" + "long-folder-name-" * 6 + "/notes.txt": b"a name longer than ustar's 100\n",
    "docs/caf\u00e9.txt": b"a name that is not ASCII\n",
}


def setuptools_sdist(tmp: Path, mtime: float, umask_mode: int = 0o644) -> Path:
    """An sdist as setuptools writes it: a folder on disk (times of the checkout and the build,
    modes under the machine's umask) added to a ``w|gz`` tar named after the file."""
    tree = tmp / "tree" / NAME
    shutil.rmtree(tmp / "tree", ignore_errors=True)
    for name, data in FILES.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(umask_mode | (0o111 if name == "bin/run" else 0))
        os.utime(path, (mtime, mtime + 0.123456))
    target = tmp / f"{NAME}.tar.gz"
    with tarfile.open(str(target), "w|gz", format=tarfile.PAX_FORMAT) as archive:
        archive.add(tree, arcname=NAME)
    return target


def gzip_fields(path: Path) -> tuple[int, int, int, int]:
    """(flags, mtime, extra flags, OS) of the gzip header."""
    _magic, _method, flags, mtime, xfl, system = struct.unpack("<2sBBIBB", path.read_bytes()[:10])
    return flags, mtime, xfl, system


def members(path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path) as archive:
        return archive.getmembers()


def test_a_setuptools_sdist_gets_a_fixed_gzip_header_sorted_members_and_the_commits_time(
    tmp_path: Path,
) -> None:
    sdist = setuptools_sdist(tmp_path, time.time())
    before = members(sdist)
    assert gzip_fields(sdist)[0] & gzip.FNAME  # the build wrote the tar's name, and its time
    assert any(info.pax_headers.get("mtime") for info in before)

    assert make_reproducible(sdist, EPOCH) is None

    assert gzip_fields(sdist) == (0, EPOCH, 2, 255)  # no name; the commit's time; level 9
    after = members(sdist)
    names = [info.name for info in after]
    assert names == sorted(names, key=lambda name: name.split("/"))
    assert sorted(names) == sorted(info.name for info in before)  # the same members
    for info in after:
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (EPOCH, 0, 0, "", "")
        assert set(info.pax_headers) <= {"path"}  # only what a long or non-ASCII name needs
        expected = 0o755 if info.isdir() or info.name.endswith("bin/run") else 0o644
        assert info.mode == expected, info.name
    assert archive_difference(setuptools_sdist(tmp_path / "again", time.time()), sdist) is None


def test_two_builds_at_other_times_under_other_umasks_give_the_same_bytes(tmp_path: Path) -> None:
    first = setuptools_sdist(tmp_path / "one", 1_800_000_000.5, umask_mode=0o644)
    second = setuptools_sdist(tmp_path / "two", 1_800_000_777.25, umask_mode=0o664)
    assert first.read_bytes() != second.read_bytes()

    assert make_reproducible(first, EPOCH) is None
    assert make_reproducible(second, EPOCH) is None

    assert first.read_bytes() == second.read_bytes()


def test_the_contents_and_the_long_and_non_ascii_names_survive(tmp_path: Path) -> None:
    sdist = setuptools_sdist(tmp_path, time.time())
    make_reproducible(sdist, EPOCH)
    with tarfile.open(sdist) as archive:
        for name, data in FILES.items():
            handle = archive.extractfile(f"{NAME}/{name}")
            assert handle is not None and handle.read() == data


def test_a_repacked_sdist_is_left_as_it_is(tmp_path: Path) -> None:
    sdist = setuptools_sdist(tmp_path, time.time())
    make_reproducible(sdist, EPOCH)
    repacked = sdist.read_bytes()
    assert make_reproducible(sdist, EPOCH) is None
    assert sdist.read_bytes() == repacked


def hatchling_sdist(path: Path) -> bytes:
    """An sdist as hatchling writes it: its own order, fixed times, modes and owners."""
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=EPOCH) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for name in ("src/demo_common/__init__.py", "pyproject.toml", "PKG-INFO"):
                info = tarfile.TarInfo(f"demo_common-1.0.0/{name}")
                info.size, info.mtime, info.mode = 3, EPOCH, 0o644
                archive.addfile(info, io.BytesIO(b"x\n\n"))
    path.write_bytes(raw.getvalue())
    return raw.getvalue()


def test_an_sdist_already_in_a_fixed_form_is_left_byte_for_byte(tmp_path: Path) -> None:
    sdist = tmp_path / "demo_common-1.0.0.tar.gz"
    built = hatchling_sdist(sdist)
    assert make_reproducible(sdist, EPOCH) is None
    assert sdist.read_bytes() == built  # hatchling's order (PKG-INFO last) and header kept


def test_a_member_that_is_no_file_folder_or_link_is_named_and_the_file_kept(
    tmp_path: Path,
) -> None:
    fifo = tarfile.TarInfo(f"{NAME}/pipe")
    fifo.type = tarfile.FIFOTYPE
    sdist = tmp_path / f"{NAME}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.addfile(fifo)
    built = sdist.read_bytes()

    why = make_reproducible(sdist, EPOCH)

    assert why == f"it holds {NAME}/pipe, a named pipe: only files, folders and links are repacked"
    assert sdist.read_bytes() == built


def test_a_hard_link_that_would_precede_its_target_is_named_and_the_file_kept(
    tmp_path: Path,
) -> None:
    sdist = tmp_path / f"{NAME}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        target = tarfile.TarInfo(f"{NAME}/b.txt")
        target.size = 2
        archive.addfile(target, io.BytesIO(b"b\n"))
        link = tarfile.TarInfo(f"{NAME}/a.txt")
        link.type, link.linkname = tarfile.LNKTYPE, f"{NAME}/b.txt"
        archive.addfile(link)
    built = sdist.read_bytes()

    why = make_reproducible(sdist, EPOCH)

    assert why is not None
    assert f"its hard link {NAME}/a.txt would come before its target {NAME}/b.txt" in why
    assert sdist.read_bytes() == built


def test_hard_links_tarfile_made_keep_following_their_targets(tmp_path: Path) -> None:
    """tarfile walks ``a/`` before ``a.b``; so does the repack (not plain string order)."""
    tree = tmp_path / "tree" / NAME
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "x").write_text("shared\n")
    os.link(tree / "a" / "x", tree / "a.b")
    sdist = tmp_path / f"{NAME}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(tree, arcname=NAME)
    assert [m.name for m in members(sdist) if m.islnk()] == [f"{NAME}/a.b"]

    assert make_reproducible(sdist, EPOCH) is None
    assert [m.name for m in members(sdist)] == [NAME, f"{NAME}/a", f"{NAME}/a/x", f"{NAME}/a.b"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"PK\x03\x04not a tar", "it is not gzip-compressed (an sdist is a .tar.gz)"),
        # mtime=0: the same bytes in every xdist worker, which must collect the same test ids
        (
            gzip.compress(b"not a tar at all" * 40, mtime=0),
            "it cannot be read as a gzip-compressed tar",
        ),
    ],
    ids=["zip", "gzip-not-tar"],
)
def test_a_file_that_is_no_gzip_tar_is_named_and_kept(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    sdist = tmp_path / f"{NAME}.tar.gz"
    sdist.write_bytes(content)
    why = make_reproducible(sdist, EPOCH)
    assert why is not None and why.startswith(reason)
    assert sdist.read_bytes() == content


def test_pack_is_a_pure_function_of_the_members_and_the_time() -> None:
    listed = [
        Member(NAME, tarfile.DIRTYPE, 0o755, "", b""),
        Member(f"{NAME}/PKG-INFO", tarfile.REGTYPE, 0o644, "", b"Name: x\n"),
    ]
    assert pack(listed, EPOCH) == pack(list(listed), EPOCH)
    assert pack(listed, EPOCH) != pack(listed, EPOCH + 1)


# -- the UI zip --------------------------------------------------------------------------


def test_a_zip_entrys_mode_comes_from_the_files_bits_not_from_who_runs_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.access`` answers for the user and the mount (root, ``noexec``): not the zip's."""
    output = tmp_path / "dist"
    output.mkdir()
    (output / "index.html").write_text("<p>ui</p>\n")
    (output / "run.sh").write_text("#!/bin/sh\n")
    (output / "index.html").chmod(0o664)
    (output / "run.sh").chmod(0o701)
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)

    zip_folder(output, tmp_path / "ui.zip", EPOCH)

    with zipfile.ZipFile(tmp_path / "ui.zip") as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert modes == {"index.html": 0o100644, "run.sh": 0o100755}
