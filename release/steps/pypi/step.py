"""The Python package steps: ``build`` (build and verify) and ``upload`` (to the package index).

``BUILD`` builds every configured package in the release worktree (the tagged commit with
the version written, ``release.run.worktree.release_tree``) and verifies the files
(``release.steps.pypi.dists``): twine check, the metadata version, a smoke install with imports. The
verified files stay in ``<git common dir>/release-dist/<version>/`` for ``upload``.

``UPLOAD`` compares every file with what the index already holds (``release.steps.pypi.index``) and
then uploads what is missing with twine's package reader and credential resolution:

- identical files (same sha256, or the same archive members and contents) are done and
  skipped, and said so; a different file under the same name is refused before anything is
  uploaded, naming package, file and version. A run that stopped halfway is finished by
  running the same command again.
- Credentials follow twine's own order (``release.steps.pypi.credentials``): ``TWINE_USERNAME``/
  ``TWINE_PASSWORD``, the ``~/.pypirc`` entry of the upload URL, the keyring, trusted
  publishing. The password or token is registered with the console's mask when read.
- Each file is streamed from disk (a multipart encoder reading the open file), with a rich
  progress bar; connection errors, 5xx and 429 answers are retried with backoff; any other
  4xx shows the index's own message. twine's ``Repository.upload`` is not used because it retries
  5xx without backoff, does not retry connection errors and prints to stdout itself.

``UPLOAD.problems`` (the step's pre-flight, in ``release.steps.pypi.checks``): credentials are
present (unless ``--skip-credentials``); unless ``--offline``, the index answers, and when the
files of this commit are already built, every one of them is compared (conflicts are
problems). Before a build (``check-version``), it can only give the notice that the version
already has files on the index.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError, StepError
from release.run.context import ReleaseContext
from release.run.step import StepResult
from release.run.worktree import release_tree
from release.steps.pypi.credentials import Credentials, credentials, display_url
from release.steps.pypi.dists import (
    MANIFEST,
    BuildFailure,
    Built,
    Dist,
    build_release,
    dist_folder,
    load_built,
    smoke_install,
    twine_problems,
    version_problems,
)
from release.steps.pypi.index import (
    Comparison,
    Index,
    IndexFailure,
    Status,
    answer_text,
    compare,
    counterpart,
    normalize,
    retry_delay,
    retryable,
)

if TYPE_CHECKING:
    import requests

UPLOAD_RETRIES = 4
UPLOAD_BACKOFF = 2.0
UPLOAD_TIMEOUT = (10.0, 600.0)


# -- build -------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildOutcome:
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


def ensure_built(ctx: ReleaseContext) -> BuildOutcome:
    """The verified files of the tagged commit: reused when there, else built now.

    One build per release and process: ``build`` and ``upload`` preparing at once (the
    scheduler's local phase) share it.
    """
    version = ctx.version.pep440
    folder = dist_folder(ctx.git.git_dir(), version)
    with _lock:
        lock = _building.setdefault((str(folder), ctx.commit, version), threading.Lock())
    with lock:
        built = load_built(folder, ctx.commit, version)
        if built is not None:
            return BuildOutcome(built, fresh=False)
        return BuildOutcome(build_and_verify(ctx, folder), fresh=True)


class Build:
    """Build sdist and wheel of every configured package, and verify them."""

    name = "build"

    def cleanup(self, prepared: BuildOutcome) -> None:
        """Nothing is held: the verified build stays in its folder for the next run."""

    def prepare(self, ctx: ReleaseContext) -> BuildOutcome:
        """Local work: build and verify (or find the verified build of this commit)."""
        outcome = ensure_built(ctx)
        show_built(outcome.built)
        return outcome

    def describe(self, ctx: ReleaseContext, outcome: BuildOutcome) -> StepResult:
        return StepResult(self.name, "dry-run", outcome.summary + " (nothing recorded)")

    def publish(self, ctx: ReleaseContext, outcome: BuildOutcome) -> StepResult:
        built = outcome.built
        record = ctx.state.record("build", {"folder": str(built.folder), **built.to_json()})
        return StepResult(self.name, "done", outcome.summary, record=record)

    def run(self, ctx: ReleaseContext) -> StepResult:
        outcome = self.prepare(ctx)
        if ctx.options.dry_run:
            return self.describe(ctx, outcome)
        return self.publish(ctx, outcome)


def build_and_verify(ctx: ReleaseContext, folder: Path) -> Built:
    """Build every package into a staging folder, verify, then replace ``folder`` with it."""
    import json

    version = ctx.version.pep440
    packages = [p.path for p in ctx.config.packages]
    staging = folder.parent / f".{folder.name}.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        epoch = ctx.git.commit_time(ctx.commit)
        with release_tree(ctx) as tree, _build_progress(packages) as done:
            dists = build_release(tree, packages, staging, epoch=epoch, on_done=done)
        paths = [staging / d.filename for d in dists]
        wrong = version_problems(dists, version)
        if wrong:
            wrong[-1] += f" ({VERSION_HINT})"
        problems = twine_problems(paths) + wrong
        if problems:
            raise BuildFailure(_refused(version, problems))
        wheels = [staging / d.filename for d in dists if d.kind == "wheel"]
        names = sorted({d.name for d in dists})
        console.info(
            f"smoke test: installing {', '.join(w.name for w in wheels)} into a fresh venv"
        )
        smoke = smoke_install(wheels, names, version, offline=ctx.options.offline)
        if smoke.problems:
            raise BuildFailure(_refused(version, list(smoke.problems)))
        built = Built(folder, version, ctx.commit, tuple(dists), dict(smoke.imports))
        (staging / MANIFEST).write_text(
            json.dumps(built.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return built


VERSION_HINT = "is the version file of every package listed under [[tool.release.version-files]]?"


def _refused(version: str, problems: Sequence[str]) -> str:
    return f"the build of {version} is refused before anything is uploaded: " + "; ".join(problems)


@contextmanager
def _build_progress(packages: Sequence[str]) -> Iterator[Callable[[str], None]]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console.err(),
    )
    tasks = {
        p: progress.add_task(f"building {p} (sdist, then wheel from it)", total=1) for p in packages
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


# -- upload ------------------------------------------------------------------------


def index_of(ctx: ReleaseContext) -> Index:
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
    remote = comparison.remote
    where = f" as {remote.filename}" if remote and remote.filename != dist.filename else ""
    return (
        f"{dist.name} {dist.version}: {dist.filename} is already on the index{where} and differs "
        f"from this build ({comparison.reason})"
    )


CONFLICT_HINT = (
    "an index keeps the first file of a version forever: release the change as a new version "
    "(nothing was uploaded)"
)


@dataclass(frozen=True)
class Uploaded:
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

    def prepare(self, ctx: ReleaseContext) -> UploadPlan:
        """Local work and observation: the verified build, compared with the index.

        A file on the index that differs from this build stops here, before any upload.
        """
        built = ensure_built(ctx).built
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
        show_upload_plan(plan, display_url(ctx.config.pypi.repository_url))
        return plan

    def describe(self, ctx: ReleaseContext, plan: UploadPlan) -> StepResult:
        url = display_url(ctx.config.pypi.repository_url)
        return StepResult(
            self.name,
            "dry-run",
            f"would upload {len(plan.pending)} file(s) to {url}; "
            f"{len(plan.present)} already on the index",
            details=tuple(f"would upload {d.filename}" for d in plan.pending),
        )

    def publish(self, ctx: ReleaseContext, plan: UploadPlan) -> StepResult:
        url = display_url(ctx.config.pypi.repository_url)
        results = plan.present
        if plan.pending:
            results += upload_all(ctx, plan.built, plan.pending, index_of(ctx))
        record = ctx.state.record("upload", upload_record(ctx, results))
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
        )
        return StepResult(self.name, "done", summary, details=details, record=record)

    def run(self, ctx: ReleaseContext) -> StepResult:
        plan = self.prepare(ctx)
        if ctx.options.dry_run:
            return self.describe(ctx, plan)
        return self.publish(ctx, plan)


def show_upload_plan(plan: UploadPlan, url: str) -> None:
    words = {
        Status.MISSING: "upload",
        Status.IDENTICAL: "already there: skip",
        Status.DIFFERENT: "CONFLICT",
    }
    rows = [
        [d.filename, _size(plan.built.path(d)), d.sha256[:16], words[c.status]]
        for d, c in plan.pairs()
    ]
    title = f"Upload {plan.built.version} to {url}"
    console.table(title, ["file", "size", "sha256", "action"], rows)


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def upload_all(
    ctx: ReleaseContext, built: Built, pending: Sequence[Dist], index: Index
) -> list[Uploaded]:
    """Upload ``pending`` in order; after a failure, say what was uploaded and how to finish."""
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
    session = upload_session(creds)
    done: list[Uploaded] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console.err(),
    )
    with progress:
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
    session.close()
    return with_index_urls(index, done, offline=ctx.options.offline)


def _advance(progress: Any, task: Any, sent: int) -> None:
    progress.update(task, completed=sent)


def upload_session(creds: Credentials) -> requests.Session:
    from release.core.http import USER_AGENT
    from release.core.http import session as new_session

    session = new_session()
    session.auth = (creds.username, creds.password)
    session.headers["User-Agent"] = f"{USER_AGENT} (twine-compatible)"
    if creds.cacert:
        session.verify = creds.cacert
    if creds.client_cert:
        session.cert = creds.client_cert
    return session


def form_fields(metadata: Any) -> list[tuple[str, Any]]:
    """twine's metadata as the upload form's fields (what warehouse's form parser reads)."""
    fields: list[tuple[str, Any]] = []
    for key, value in metadata.items():
        if key in ("gpg_signature", "attestations"):
            continue
        if key == "project_urls" and isinstance(value, dict):
            fields.extend((key, f"{name}, {link}") for name, link in value.items())
        elif key == "keywords" and isinstance(value, list):
            fields.append((key, ", ".join(value)))
        elif isinstance(value, (list, tuple)):
            fields.extend((key, item) for item in value)
        elif value is not None:
            fields.append((key, value))
    fields += [(":action", "file_upload"), ("protocol_version", "1")]
    return fields


def upload_dist(
    session: requests.Session,
    url: str,
    path: Path,
    on_progress: Callable[[int], None],
    *,
    index: Index | None,
    dist: Dist,
    retries: int = UPLOAD_RETRIES,
    backoff: float = UPLOAD_BACKOFF,
) -> str:
    """Upload one file; "uploaded", or "already on the index" when another run was faster."""
    from twine.package import PackageFile

    fields = form_fields(PackageFile.from_filename(str(path), None).metadata_dictionary())
    response = post_file(session, url, fields, path, on_progress, retries=retries, backoff=backoff)
    status = response.status_code
    if status in (200, 201):
        return "uploaded"
    said = answer_text(response)
    if _already_exists(response) and index is not None:
        comparison = compare(path, dist.sha256, index.files(dist.name, fresh=True), index.download)
        if comparison.status is Status.IDENTICAL:
            console.info(f"{path.name}: uploaded meanwhile by another run, identical: done")
            return "already on the index"
        if comparison.status is Status.DIFFERENT:
            raise ReleaseError(conflict_message(dist, comparison), CONFLICT_HINT)
    if response.is_redirect:
        raise ReleaseError(
            f"the index redirected the upload of {path.name} to {response.headers.get('location')}",
            "set repository-url (or TWINE_REPOSITORY_URL) to the upload endpoint itself",
        )
    raise ReleaseError(f"the index refused {path.name}: {said}")


def _already_exists(response: requests.Response) -> bool:
    text = f"{response.reason} {response.text}".lower()
    return response.status_code == 409 or (response.status_code == 400 and "already exist" in text)


def post_file(
    session: requests.Session,
    url: str,
    fields: Sequence[tuple[str, Any]],
    path: Path,
    on_progress: Callable[[int], None],
    *,
    retries: int = UPLOAD_RETRIES,
    backoff: float = UPLOAD_BACKOFF,
) -> requests.Response:
    """POST ``fields`` and the file as multipart, streamed from disk; retry on connection
    errors, 5xx and 429 with backoff (or the 429's Retry-After). Redirects are not followed.
    Returns the final response."""
    import requests
    from requests_toolbelt import (  # type: ignore[import-untyped]
        MultipartEncoder,
        MultipartEncoderMonitor,
    )

    attempt = 0
    while True:
        delay = backoff * 2**attempt
        with path.open("rb") as handle:
            encoder = MultipartEncoder(
                [*fields, ("content", (path.name, handle, "application/octet-stream"))]
            )
            monitor = MultipartEncoderMonitor(
                encoder, _file_progress(encoder.len, path, on_progress)
            )
            try:
                response = session.post(
                    url,
                    data=monitor,
                    headers={"Content-Type": monitor.content_type},
                    allow_redirects=False,
                    timeout=UPLOAD_TIMEOUT,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt >= retries:
                    raise ReleaseError(
                        f"uploading {path.name} to {display_url(url)} failed after "
                        f"{attempt + 1} attempts ({type(error).__name__})"
                    ) from None
            else:
                if not retryable(response.status_code) or attempt >= retries:
                    return response
                delay = retry_delay(response, delay)
                console.warn(f"{path.name}: the index answered {response.status_code}; retrying")
        time.sleep(delay)
        attempt += 1


def _file_progress(
    total: int, path: Path, on_progress: Callable[[int], None]
) -> Callable[[Any], None]:
    """Report the bytes of the file sent (the form fields before it are not counted)."""
    file_size = path.stat().st_size
    overhead = total - file_size

    def report(monitor: Any) -> None:
        on_progress(min(file_size, max(0, monitor.bytes_read - overhead)))

    return report


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


def upload_record(ctx: ReleaseContext, results: Sequence[Uploaded]) -> dict[str, Any]:
    return {
        "repository": display_url(ctx.config.pypi.repository_url),
        "index": display_url(ctx.config.pypi.index_url),
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


BUILD = Build()
UPLOAD = Upload()
