"""The build in one job, the publishing in others: ``build --output`` and ``--from``.

``build --output DIR`` builds and verifies what the release publishes from the tagged
commit -- the sdists and wheels (final and pre releases: post releases have none) and the UI
zip (every kind with a ``[tool.release.ui]`` table) -- and writes them with their manifest
``release-build.json`` into ``DIR`` (``release.run.handoff``). It records nothing in the
release's state and needs no credential: it is the workflow's ``build`` job, which holds no
secret. The manifest's sha256 is printed and, when ``$GITHUB_OUTPUT`` names a file, appended
to it as ``manifest-sha256``, the job output the publishing jobs check the files against.

``upload --from DIR`` and ``deploy-ui --from DIR`` take exactly those files: the folder is
verified (``release.run.handoff.verify``) before the step's pre-flight, nothing is built (the
executor drops ``upload``'s ``build`` prerequisite when ``--from`` is given), and the build's
fingerprint and files go into the step's state record.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from release.commands.resolve import context_for
from release.commands.step import run_step
from release.core import console
from release.core.errors import ReleaseError, UsageError
from release.pipeline.preflight import check
from release.run.context import Options, ReleaseContext
from release.run.handoff import (
    EXTRA_KEY,
    MANIFEST,
    OUTPUT_KEY,
    HandedFile,
    Handoff,
    describe_file,
    verify,
    write_manifest,
)
from release.run.step import StepResult
from release.run.worktree import release_tree


def build_output(
    tag: str | None,
    output: str,
    *,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> str:
    """``build --output DIR``: build, verify and hand off; the manifest's sha256."""
    options = Options(dry_run=dry_run, offline=offline, branch=branch, env=dict(os.environ))
    target = _output_folder(output)
    ctx = context_for(tag, options)
    check(ctx, steps=False)
    staging = target.parent / f".{target.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        with release_tree(ctx):  # one tree for the packages and the UI
            files = _packages(ctx, staging) + _ui(ctx, staging)
        digest = write_manifest(staging, ctx.tag, ctx.version.pep440, ctx.commit, files)
        _output_folder(output)  # still absent or empty: nothing else wrote there meanwhile
        if target.is_dir():
            target.rmdir()
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _publish_fingerprint(digest, options)
    console.table(
        f"Build output of {ctx.tag} in {target}",
        ["file", "kind", "bytes", "sha256"],
        [[f.name, f.kind, str(f.size), f.sha256[:16]] for f in files],
    )
    console.info(
        f"build: wrote {len(files)} file(s) and {MANIFEST} to {target}; nothing recorded. "
        f"The manifest's sha256 ({OUTPUT_KEY}): {digest}"
    )
    return digest


def _output_folder(output: str) -> Path:
    """``--output``: a new or empty folder, never a symbolic link."""
    target = Path(output).absolute()
    if not output.strip():
        raise UsageError("--output needs a folder", "e.g. --output release-build")
    if target.is_symlink():
        raise UsageError(
            f"--output {output} is a symbolic link", "give a new or empty folder, not a link"
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(
            f"--output {output} exists and is not an empty folder",
            "give a new or empty folder: a build output holds exactly the files of one build",
        )
    return target


def _packages(ctx: ReleaseContext, folder: Path) -> list[HandedFile]:
    """The verified sdists and wheels, when the plan builds packages (not for a post release)."""
    if not ctx.plan.runs("build"):
        console.info(f"build: no packages: {ctx.plan.action('build').skipped}")
        return []
    from release.steps.pypi.build import ensure_built, show_built

    built = ensure_built(ctx).built
    show_built(built)
    files = []
    for dist in built.dists:
        copy = folder / dist.filename
        shutil.copyfile(built.path(dist), copy)
        handed = describe_file(copy, dist.kind, dist.package)
        if handed.sha256 != dist.sha256:  # the verified build changed under us
            raise ReleaseError(f"{dist.filename} changed while it was copied", "build again")
        files.append(handed)
    return files


def _ui(ctx: ReleaseContext, folder: Path) -> list[HandedFile]:
    """The UI zip, built for every kind of release when ``[tool.release.ui]`` is set."""
    if ctx.config.ui is None:
        return []
    from release.steps.deploy_ui.archive import build_archive

    with tempfile.TemporaryDirectory(prefix="release-ui-") as scratch:
        archive = build_archive(ctx, Path(scratch))
        copy = folder / archive.path.name
        shutil.copyfile(archive.path, copy)
    return [describe_file(copy, "ui")]


def _publish_fingerprint(digest: str, options: Options) -> None:
    path = options.env.get("GITHUB_OUTPUT")
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(f"{OUTPUT_KEY}={digest}\n")


# -- --from ----------------------------------------------------------------------------


def take_handoff(ctx: ReleaseContext, folder: str) -> Handoff:
    """The build output in ``folder``, verified against ``$RELEASE_BUILD_MANIFEST``."""
    handoff = verify(
        Path(folder).absolute(),
        ctx.env,
        tag=ctx.tag,
        version=ctx.version.pep440,
        commit=ctx.commit,
    )
    console.info(
        f"--from {folder}: the build of {handoff.tag} with manifest sha256 "
        f"{handoff.manifest_sha256}: {len(handoff.files)} file(s), each as listed; nothing is built"
    )
    return handoff


def step_from(
    name: str,
    folder: str,
    tag: str | None,
    *,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> StepResult:
    """``upload --from DIR`` (and the like): verify the build output, then run the step on it."""
    options = Options(dry_run=dry_run, offline=offline, branch=branch, env=dict(os.environ))
    ctx = context_for(tag, options)
    handoff = take_handoff(ctx, folder)
    return run_step(
        name,
        tag,
        dry_run=dry_run,
        offline=offline,
        branch=branch,
        extra={EXTRA_KEY: handoff},
    )
