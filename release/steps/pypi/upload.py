"""The ``upload`` step: the verified files that the index does not hold yet, uploaded.

``UPLOAD`` compares every file of the verified build (``release.steps.pypi.build``) with what
the index already holds (``release.steps.pypi.comparison``) and then uploads what is missing
(``release.steps.pypi.upload_api``), with twine's package reader and credential resolution:

- identical files (same sha256, or the same archive members and contents) are done and
  skipped, and said so; a different file under the same name is refused before anything is
  uploaded, naming package, file and version. A run that stopped halfway is finished by
  running the same command again.
- Credentials follow twine's own order (``release.steps.pypi.credentials``): ``TWINE_USERNAME``/
  ``TWINE_PASSWORD``, the ``~/.pypirc`` entry of the upload URL, the keyring, trusted
  publishing. The password or token is registered with the console's mask when read.
- Each file is streamed from disk with a rich progress bar; connection errors, 5xx and 429
  answers are retried under the one HTTP policy; any other 4xx shows the index's own message.

The step's pre-flight lives in ``release.steps.pypi.checks``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from release.core import console
from release.core.errors import ReleaseError, StepError
from release.core.http import public_url
from release.core.text import human_size
from release.run.context import ReleaseContext
from release.run.handoff import handed_off
from release.run.step import Step, StepResult, run_staged
from release.steps.pypi.build import ensure_built
from release.steps.pypi.comparison import (
    CONFLICT_HINT,
    Comparison,
    Status,
    compare_with_index,
    conflict_message,
    counterpart,
    index_of,
)
from release.steps.pypi.credentials import credentials
from release.steps.pypi.dists import Built, Dist
from release.steps.pypi.handed import built_from
from release.steps.pypi.index import Index, IndexFailure, normalize
from release.steps.pypi.upload_api import upload_dist, upload_session


@dataclass(frozen=True)
class Uploaded:
    """One file of the release on the index, and how it got there."""

    dist: Dist
    status: str  # "uploaded" or "already on the index"
    url: str | None


@dataclass(frozen=True)
class UploadPlan:
    """The verified files and how each compares with the index (no conflicts: those raise)."""

    built: Built
    comparisons: tuple[Comparison, ...]

    def pairs(self) -> list[tuple[Dist, Comparison]]:
        return list(zip(self.built.dists, self.comparisons, strict=True))

    @property
    def pending(self) -> list[Dist]:
        return [d for d, c in self.pairs() if c.status is Status.MISSING]

    @property
    def present(self) -> list[Uploaded]:
        return [
            Uploaded(d, "already on the index", c.remote.url if c.remote else None)
            for d, c in self.pairs()
            if c.status is Status.IDENTICAL
        ]


class Upload:
    """Upload the verified files that the index does not hold yet."""

    name = "upload"

    def cleanup(self, prepared: UploadPlan) -> None:
        """Nothing is held: the verified build stays in its folder for the next run."""

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Run as its own task, this step always records its lifecycle."""
        return False

    def prepare(self, ctx: ReleaseContext) -> UploadPlan:
        """Local work and observation: the verified build, compared with the index.

        A file on the index that differs from this build stops here, before any upload.
        """
        handoff = handed_off(ctx)
        # --from: the build job's files, nothing built here; else this commit's verified build
        built = built_from(ctx, handoff) if handoff is not None else ensure_built(ctx).built
        if ctx.options.offline:
            console.info("--offline: the index is not compared; it refuses files it already has")
            comparisons = [Comparison(built.path(d), Status.MISSING) for d in built.dists]
        else:
            comparisons = compare_with_index(index_of(ctx), built)
        plan = UploadPlan(built, tuple(comparisons))
        conflicts = [
            conflict_message(d, c) for d, c in plan.pairs() if c.status is Status.DIFFERENT
        ]
        if conflicts:
            raise ReleaseError("; ".join(conflicts), CONFLICT_HINT)
        for comparison in comparisons:
            if comparison.status is Status.IDENTICAL:
                console.info(
                    f"{comparison.local.name}: already on the index, identical "
                    f"({comparison.reason}): skipped"
                )
        show_upload_plan(plan, public_url(ctx.config.pypi.repository_url))
        return plan

    def describe(self, ctx: ReleaseContext, plan: UploadPlan) -> StepResult:
        url = public_url(ctx.config.pypi.repository_url)
        return StepResult(
            self.name,
            "dry-run",
            f"would upload {len(plan.pending)} file(s) to {url}; "
            f"{len(plan.present)} already on the index",
            details=tuple(f"would upload {d.filename}" for d in plan.pending),
        )

    def publish(self, ctx: ReleaseContext, plan: UploadPlan) -> StepResult:
        url = public_url(ctx.config.pypi.repository_url)
        results = plan.present

        def landed(done: Sequence[Uploaded]) -> None:
            # Each file is recorded as it lands: a run that stops halfway says which did.
            record_upload(ctx, [*plan.present, *done])

        if plan.pending:
            results += upload_all(ctx, plan.built, plan.pending, index_of(ctx), landed=landed)
        record = record_upload(ctx, results)
        uploaded = [r for r in results if r.status == "uploaded"]
        version = plan.built.version
        if not uploaded:
            summary = (
                f"all {len(results)} file(s) of {version} are already on the index: "
                "nothing uploaded"
            )
        else:
            summary = f"uploaded {len(uploaded)} file(s) of {version} to {url}"
            if len(results) > len(uploaded):
                summary += f"; {len(results) - len(uploaded)} were already there"
        details = tuple(
            f"{r.dist.filename}: {r.status}" + (f" ({r.url})" if r.url else "") for r in results
        ) + tuple(plan.built.warnings)
        return StepResult(self.name, "done", summary, details=details, record=record)

    def run(self, ctx: ReleaseContext) -> StepResult:
        return run_staged(self, ctx)


def show_upload_plan(plan: UploadPlan, url: str) -> None:
    words = {
        Status.MISSING: "upload",
        Status.IDENTICAL: "already there: skip",
        Status.DIFFERENT: "CONFLICT",
    }
    rows = [
        [d.filename, human_size(plan.built.path(d).stat().st_size), d.sha256[:16], words[c.status]]
        for d, c in plan.pairs()
    ]
    title = f"Upload {plan.built.version} to {url}"
    console.table(title, ["file", "size", "sha256", "action"], rows)


def upload_all(
    ctx: ReleaseContext,
    built: Built,
    pending: Sequence[Dist],
    index: Index,
    landed: Callable[[Sequence[Uploaded]], None] | None = None,
) -> list[Uploaded]:
    """Upload ``pending`` in order, calling ``landed`` with the files uploaded so far after
    each one; after a failure, say what was uploaded and how to finish."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    url = ctx.config.pypi.repository_url
    creds = credentials(ctx)
    done: list[Uploaded] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console.err(),
    )
    with upload_session(creds) as session, progress:
        for dist in pending:
            path = built.path(dist)
            task = progress.add_task(dist.filename, total=path.stat().st_size)
            try:
                status = upload_dist(
                    session,
                    url,
                    path,
                    partial(_advance, progress, task),
                    index=None if ctx.options.offline else index,
                    dist=dist,
                )
            except ReleaseError as error:
                progress.stop()
                if not done:
                    raise
                names = ", ".join(u.dist.filename for u in done)
                raise StepError(
                    f"uploaded {names}, then {error}",
                    "run the same command again to upload the rest",
                ) from None
            done.append(Uploaded(dist, status, None))
            if landed is not None:
                landed(done)
    return with_index_urls(index, done, offline=ctx.options.offline)


def _advance(progress: Any, task: Any, sent: int) -> None:
    progress.update(task, completed=sent)


def with_index_urls(index: Index, uploaded: list[Uploaded], *, offline: bool) -> list[Uploaded]:
    """The uploaded files with their URLs on the index, checked against it when it shows them."""
    if offline:
        return uploaded
    result = []
    for item in uploaded:
        try:
            remote = counterpart(item.dist.filename, index.files(item.dist.name, fresh=True))
        except IndexFailure:
            remote = None
        if remote is not None and remote.sha256 not in (None, item.dist.sha256):
            raise StepError(
                f"uploaded {item.dist.filename}, but the index shows a different file under "
                f"that name (sha256 {remote.sha256[:16]}...)",
                "check the index",
            )
        result.append(Uploaded(item.dist, item.status, remote.url if remote else None))
    return result


def record_upload(ctx: ReleaseContext, results: Sequence[Uploaded]) -> dict[str, Any]:
    """Record ``results`` (with the build's fingerprint when it was handed over)."""
    data = upload_record(ctx, results)
    handoff = handed_off(ctx)
    if handoff is not None:
        data["build"] = handoff.record()
    return ctx.state.record("upload", data)


def upload_record(ctx: ReleaseContext, results: Sequence[Uploaded]) -> dict[str, Any]:
    return {
        "repository": public_url(ctx.config.pypi.repository_url),
        "index": public_url(ctx.config.pypi.index_url),
        "files": [
            {
                "filename": r.dist.filename,
                "package": r.dist.package,
                "project": normalize(r.dist.name),
                "sha256": r.dist.sha256,
                "status": r.status,
                "url": r.url,
            }
            for r in results
        ],
    }


UPLOAD: Step[UploadPlan] = Upload()
