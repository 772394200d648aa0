"""The zip that ``deploy-ui`` deploys: the UI built from the release tree, zipped reproducibly.

Entries are sorted and every one carries the tag's time: the same zip for one tag, newer
timestamps for each release (zip deploy copies only files whose timestamps changed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from release.core import console
from release.core.errors import ReleaseError
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


def zip_folder(folder: Path, target: Path, timestamp: int) -> Archive:
    """Zip every file under ``folder`` into ``target``, reproducibly.

    Entries are the files' paths relative to ``folder`` in sorted order, each with the same
    timestamp (``timestamp``, seconds since the epoch, UTC) and permissions 0644 (0755 when
    executable); a symbolic link to a file is stored as that file. The same folder gives the
    same bytes.
    """
    files = sorted(
        (path.relative_to(folder).as_posix(), path) for path in folder.rglob("*") if path.is_file()
    )
    stamp = time.gmtime(max(timestamp, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(target, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that the permissions below mean what they say
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    data = target.read_bytes()
    return Archive(
        path=target,
        files=tuple(name for name, _ in files),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


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
    try:
        folder = tree / ui.path
        write_ui_version(ctx, tree)
        env = build_env(ctx)
        with console.group(f"deploy-ui: build {ui.path} {ctx.version.npm}"):
            run_command(ui.install, folder, env, "the UI's install command")
            run_command(ui.build, folder, env, "the UI's build command")
        output = folder / ui.output
        if not output.is_dir():
            raise ReleaseError(
                f"the UI's build did not create {ui.path}/{ui.output}",
                "check [tool.release.ui] output (relative to the UI's path)",
            )
        archive = zip_folder(
            output, destination / f"{ui.azure_app}-{ctx.version.npm}.zip", tag_time(ctx)
        )
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    if not archive.files:
        raise ReleaseError(f"the UI's build left {ui.path}/{ui.output} empty: nothing to deploy")
    console.info(f"deploy-ui: built {ui.path}/{ui.output}: {archive.describe()}")
    return archive
