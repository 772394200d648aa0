"""The zip that ``deploy-ui`` deploys: the UI built from the release tree, zipped reproducibly.

Entries are sorted and every one carries the tag's time: the same zip for one tag, newer
timestamps for each release (zip deploy copies only files whose timestamps changed). Nothing
of the machine or the moment enters it: not the files' own times, owners or umask (a mode
is 0755 when the file has any execute bit, else 0644, whoever runs the build), not the time
of the build (the tag's time; the zip format's earliest, 1980, for an older tag).

Only regular files and folders are zipped, never read through a symbolic link: a link in the
build output (to ``/proc/self/environ``, to a file outside the repository) could carry any
file of the machine, the process's environment included, into the deployed zip. An output
folder that is a link, or lies in one, a link inside it, or anything else that is not a
file or a folder (a named pipe, a device), stops the deployment before anything is
deployed, naming each one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from release.core import console
from release.core.errors import ReleaseError
from release.core.files import normalise
from release.core.text import human_size
from release.run.context import ReleaseContext
from release.steps.deploy_ui.npm import build_env, run_command, write_ui_version
from release.steps.deploy_ui.profile import configured_ui

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold


@dataclass(frozen=True)
class Archive:
    """The zip of the UI's build output."""

    path: Path
    files: tuple[str, ...]
    size: int  # bytes of the zip
    sha256: str

    def describe(self) -> str:
        return f"{len(self.files)} file(s), {human_size(self.size)}, sha256 {self.sha256[:12]}"


LINK_FIX = (
    "make the build write the files themselves (copy with `cp -L`, or turn off the bundler's "
    "symlink preservation), or remove the links"
)


def not_files(folder: Path) -> list[str]:
    """What under ``folder`` is neither a regular file nor a folder (never followed):
    ``"<path> -> <target>"`` for a symbolic link, ``"<path> (a <kind>)"`` otherwise."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            path = base / name
            info = path.lstat()
            shown = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found.append(f"{shown} -> {_target(path)}")
            elif not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                found.append(f"{shown} (a {_kind(info.st_mode)})")
    return sorted(found)


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def refuse_not_files(folder: Path, shown: str) -> None:
    """Raise naming every link (and every other non-file) under ``folder`` (``shown``: how
    the message names it)."""
    found = not_files(folder)
    if not found:
        return
    listed = ", ".join(f"{shown}/{entry}" for entry in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    raise ReleaseError(
        f"the UI's build output {shown} holds what is not a plain file ({listed}{more}): a "
        "symbolic link could carry any file of the machine into the deployed zip, so nothing "
        "was deployed",
        LINK_FIX,
    )


def zip_folder(folder: Path, target: Path, timestamp: int, shown: str | None = None) -> Archive:
    """Zip every file under ``folder`` into ``target``, reproducibly.

    Entries are the files' paths relative to ``folder`` in sorted order, each with the same
    timestamp (``timestamp``, seconds since the epoch, UTC, no earlier than ``ZIP_EPOCH``) and
    permissions 0644 (0755 when the file has any execute bit). The same folder gives the
    same bytes. A symbolic link, or anything else that is not a regular file or a folder, is
    refused (``refuse_not_files``, naming it as under ``shown``): nothing is read through a
    link.
    """
    refuse_not_files(folder, shown or folder.name)
    files = sorted(
        (path.relative_to(folder).as_posix(), path) for path in folder.rglob("*") if path.is_file()
    )
    stamp = time.gmtime(max(timestamp, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(target, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that the permissions below mean what they say
            mode = 0o755 if path.lstat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, _read_plain(path), compresslevel=9)
    data = target.read_bytes()
    return Archive(
        path=target,
        files=tuple(name for name, _ in files),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _read_plain(path: Path) -> bytes:
    """The bytes of the regular file ``path``, never of what a link (made since) points to."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def output_link(tree: Path, output: str) -> str | None:
    """``"<part> -> <target>"`` when the output folder ``output`` of ``tree``, or a folder on
    its way (the UI's folder), is a symbolic link; None when none is."""
    parts = Path(output).parts
    current = tree
    for index, part in enumerate(parts):
        current = current / part
        if current.is_symlink():
            return f"{'/'.join(parts[: index + 1])} -> {_target(current)}"
    return None


def refuse_links(tree: Path, output: str) -> None:
    """Refuse an output folder that is, or lies in, a link, and any link inside it."""
    linked = output_link(tree, output)
    if linked is not None:
        raise ReleaseError(
            f"the UI's build output {output} is reached through a symbolic link ({linked}): "
            "its files could come from anywhere on the machine, so nothing was built from it "
            "or deployed",
            "make the build write its files into that folder itself, or set [tool.release.ui] "
            "output to the real folder inside the UI's folder",
        )
    if (tree / output).is_dir():
        refuse_not_files(tree / output, output)


def tag_time(ctx: ReleaseContext) -> int:
    """When the tag was made (the tagger's date, else the commit's): every zip timestamp."""
    committed = ctx.git.commit_time(ctx.commit)
    result = ctx.git.run(
        "for-each-ref", "--format=%(taggerdate:raw)", f"refs/tags/{ctx.tag}", check=False
    )
    tagged = result.stdout.split()[:1]
    if result.returncode == 0 and tagged and tagged[0].isdigit():
        return max(int(tagged[0]), committed)
    return committed


def build_archive(ctx: ReleaseContext, destination: Path) -> Archive:
    """Build the UI from the release tree and zip its output into ``destination``.

    The release tree is shared with the other builds of the release (image builds send it
    as their context), so the UI is built in a private copy of it (without ``.git``):
    ``node_modules`` and the build output never appear in another build.
    """
    from release.run.worktree import release_tree

    ui = configured_ui(ctx)
    tree = destination / "tree"
    with release_tree(ctx) as shared:
        shutil.copytree(shared, tree, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    shown = normalise(f"{ui.path}/{ui.output}")
    try:
        folder = tree / ui.path
        refuse_links(tree, shown)  # committed links: refused before the build runs
        write_ui_version(ctx, tree)
        env = build_env(ctx)
        with console.group(f"deploy-ui: build {ui.path} {ctx.version.npm}"):
            run_command(ui.install, folder, env, "the UI's install command")
            run_command(ui.build, folder, env, "the UI's build command")
        refuse_links(tree, shown)  # and links the build made
        output = tree / shown
        if not output.is_dir():
            raise ReleaseError(
                f"the UI's build did not create {ui.path}/{ui.output}",
                "check [tool.release.ui] output (relative to the UI's path)",
            )
        archive = zip_folder(
            output, destination / f"{ui.azure_app}-{ctx.version.npm}.zip", tag_time(ctx), shown
        )
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    if not archive.files:
        raise ReleaseError(f"the UI's build left {ui.path}/{ui.output} empty: nothing to deploy")
    console.info(f"deploy-ui: built {ui.path}/{ui.output}: {archive.describe()}")
    return archive
