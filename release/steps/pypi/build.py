"""The ``build`` step: build every configured package and verify the files.

``BUILD`` builds every configured package in the release worktree (the tagged commit with
the version written, ``release.run.worktree.release_tree``) with ``release.steps.pypi.dists``
and verifies the files (``release.steps.pypi.verify``): twine check, the metadata version, a
smoke install with imports. The verified files stay in ``<git common dir>/release-dist/<version>/``
for ``upload``, which finds them with :func:`ensure_built` (or builds them itself).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from release.core import console
from release.run.context import ReleaseContext
from release.run.step import Step, StepResult, run_staged
from release.run.worktree import release_tree
from release.steps.pypi.dists import (
    MANIFEST,
    BuildFailure,
    Built,
    build_release,
    dist_folder,
    load_built,
)
from release.steps.pypi.verify import (
    clash_warnings,
    smoke_install,
    twine_problems,
    version_problems,
)

VERSION_HINT = "is the version file of every package listed under [[tool.release.version-files]]?"
STRICT_HINT = "strict-wheels = true on [tool.release] makes clashing wheels an error"


@dataclass(frozen=True)
class BuildOutcome:
    """The verified build, and whether it was made by this run."""

    built: Built
    fresh: bool  # False: a verified build of this commit was already there

    @property
    def summary(self) -> str:
        built = self.built
        if self.fresh:
            return f"built and verified {len(built.dists)} file(s) in {built.folder}"
        return (
            f"already built and verified from {built.commit[:12]}: "
            f"{len(built.dists)} file(s) in {built.folder}"
        )


_lock = threading.Lock()
_building: dict[tuple[str, str, str], threading.Lock] = {}
# The build that failed for a release's context: the other step preparing with the same
# context (upload beside build) is given the same failure instead of building again.
_failed: dict[tuple[str, str, str], tuple[ReleaseContext, BaseException]] = {}


def ensure_built(ctx: ReleaseContext) -> BuildOutcome:
    """The verified files of the tagged commit: reused when there, else built now.

    One build per release and process: ``build`` and ``upload`` preparing at once (the
    scheduler's local phase) share it.
    """
    version = ctx.version.pep440
    folder = dist_folder(ctx.git.git_dir(), version)
    key = (str(folder), ctx.commit, version)
    with _lock:
        lock = _building.setdefault(key, threading.Lock())
    with lock:
        failed = _failed.get(key)
        if failed is not None and failed[0] is ctx:
            raise failed[1]
        built = load_built(folder, ctx.commit, version)
        if built is not None:
            if built.warnings and ctx.config.strict_wheels:
                raise BuildFailure(_refused(version, built.warnings), STRICT_HINT)
            return BuildOutcome(built, fresh=False)
        try:
            return BuildOutcome(build_and_verify(ctx, folder), fresh=True)
        except Exception as error:
            _failed[key] = (ctx, error)
            raise


class Build:
    """Build sdist and wheel of every configured package, and verify them."""

    name = "build"

    def cleanup(self, prepared: BuildOutcome) -> None:
        """Nothing is held: the verified build stays in its folder for the next run."""

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Run as its own task, this step always records its lifecycle."""
        return False

    def prepare(self, ctx: ReleaseContext) -> BuildOutcome:
        """Local work: build and verify (or find the verified build of this commit)."""
        outcome = ensure_built(ctx)
        show_built(outcome.built)
        if not outcome.fresh:  # a fresh build said them as it found them
            for warning in outcome.built.warnings:
                console.warn(warning)
        return outcome

    def describe(self, ctx: ReleaseContext, outcome: BuildOutcome) -> StepResult:
        summary = outcome.summary + " (nothing recorded)"
        return StepResult(self.name, "dry-run", summary, details=outcome.built.warnings)

    def publish(self, ctx: ReleaseContext, outcome: BuildOutcome) -> StepResult:
        built = outcome.built
        record = ctx.state.record("build", {"folder": str(built.folder), **built.to_json()})
        return StepResult(self.name, "done", outcome.summary, details=built.warnings, record=record)

    def run(self, ctx: ReleaseContext) -> StepResult:
        return run_staged(self, ctx)


def build_and_verify(ctx: ReleaseContext, folder: Path) -> Built:
    """Build every package into a staging folder, verify, then replace ``folder`` with it."""
    version = ctx.version.pep440
    packages = [p.path for p in ctx.config.packages]
    from_source = [p.path for p in ctx.config.packages if p.wheel_from == "source"]
    staging = folder.parent / f".{folder.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        epoch = ctx.git.commit_time(ctx.commit)
        with release_tree(ctx) as tree, _build_progress(packages, from_source) as done:
            dists = build_release(
                tree, packages, staging, epoch=epoch, on_done=done, from_source=from_source
            )
        paths = [staging / d.filename for d in dists]
        wrong = version_problems(dists, version)
        if wrong:
            wrong[-1] += f" ({VERSION_HINT})"
        problems = twine_problems(paths) + wrong
        if problems:
            raise BuildFailure(_refused(version, problems))
        wheels = [staging / d.filename for d in dists if d.kind == "wheel"]
        warnings = clash_warnings(wheels)
        if warnings and ctx.config.strict_wheels:
            raise BuildFailure(_refused(version, warnings), STRICT_HINT)
        for warning in warnings:
            console.warn(warning)
        names = sorted({d.name for d in dists})
        console.info(
            f"smoke test: installing {', '.join(w.name for w in wheels)} into a fresh venv"
        )
        smoke = smoke_install(wheels, names, version, offline=ctx.options.offline)
        if smoke.problems:
            raise BuildFailure(_refused(version, list(smoke.problems)))
        built = Built(
            folder, version, ctx.commit, tuple(dists), dict(smoke.imports), tuple(warnings)
        )
        (staging / MANIFEST).write_text(
            json.dumps(built.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return built


def _refused(version: str, problems: Sequence[str]) -> str:
    return f"the build of {version} is refused before anything is uploaded: " + "; ".join(problems)


@contextmanager
def _build_progress(
    packages: Sequence[str], from_source: Sequence[str] = ()
) -> Iterator[Callable[[str], None]]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console.err(),
    )
    how = {p: "sdist and wheel from the source folder" for p in from_source}
    tasks = {
        p: progress.add_task(f"building {p} ({how.get(p, 'sdist, then wheel from it')})", total=1)
        for p in packages
    }

    def done(package: str) -> None:
        progress.update(tasks[package], completed=1, description=f"built {package}")

    with progress:
        yield done


def show_built(built: Built) -> None:
    rows = [[d.filename, d.package, d.version, d.sha256[:16]] for d in built.dists]
    console.table(f"Built {built.version}", ["file", "package", "version", "sha256"], rows)
    if built.imports:
        shown = ", ".join(
            f"{name} {version}" if version else name
            for name, version in sorted(built.imports.items())
        )
        console.info(f"smoke test imported: {shown}")


BUILD: Step[BuildOutcome] = Build()
