"""Docker images: build them from the release worktree, push their version tags.

For every ``[[tool.release.images]]`` entry, ``push-image``

1. asks the registry whether the version tag exists. A version tag is never
   overwritten (DESIGN.md "Channels", last paragraph): an image whose version tag
   exists is done and is not rebuilt;
2. builds the others concurrently with the engine's legacy builder
   (``docker build``, no buildx) in the worktree of the tagged commit with the
   version written (``release.run.worktree.release_tree``), with the templated build
   args and the OCI labels ``org.opencontainers.image.version/.revision/.source/
   .created`` (``created`` is the tagged commit's time, not the clock);
3. pushes them concurrently: the ``{version}`` extra tags first and the version
   tag last, so that an existing version tag means the image is complete. A fixed
   extra tag that already exists is kept, never overwritten. A push that fails (the
   engine retries layers, not the manifest: a 5xx or a cut connection on it fails the
   push) is tried again twice, after 1 and 2 s; a push is idempotent, and a refusal of
   the credentials is not retried;
4. moves the image's channel tags (``release.steps.images.channels``) and records the tags and
   digests in the release's state.

Every build finishes before the first push: a Dockerfile error leaves the
registry untouched. ``--dry-run`` builds and lists every tag it would push.

The engine is the one ``DOCKER_HOST`` names (``docker.from_env``). Registry
credentials are ``release.steps.images.credentials.registry_credentials``
(``RELEASE_REGISTRY_USERNAME``/``RELEASE_REGISTRY_PASSWORD``, else what ``docker login``
stored); the same credentials serve the push and the registry API
(``release.steps.images.registry.RegistryClient``). The step's pre-flight checks are in
``release.steps.images.checks``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from release.core import console
from release.core.config import Config, Image, Registry
from release.core.errors import ReleaseError, StepError
from release.core.version import ReleaseVersion
from release.run.context import ReleaseContext
from release.run.plan import fixed_image_tags
from release.run.step import StepResult
from release.run.worktree import release_tree
from release.steps.images.credentials import registry_credentials
from release.steps.images.registry import RegistryClient

STEP = "push-image"
LABEL_PREFIX = "org.opencontainers.image"
FAILURE_LINES = 15  # lines of build output shown with a failed build
MAX_CONCURRENT = 4
ENGINE_TIMEOUT = 600  # seconds: a push of a large layer answers slowly
PUSH_ATTEMPTS = 3
PUSH_BACKOFF = 1.0  # seconds before the second attempt, doubled for each further one


# -- what each image becomes (pure) --------------------------------------------


@dataclass(frozen=True)
class ImageTarget:
    """One configured image for one version: where it goes and how it is built."""

    image: Image
    repository: str  # <registry host>/<name>
    tags: tuple[str, ...]  # the version tag first, then the {version} extra tags
    build_args: Mapping[str, str]
    labels: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.image.name

    @property
    def version_tag(self) -> str:
        return self.tags[0]

    def ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"

    @property
    def push_order(self) -> tuple[str, ...]:
        """Extra tags first, the version tag last: the version tag marks a complete image."""
        return (*self.tags[1:], self.tags[0])


def created_time(timestamp: int) -> str:
    """ISO 8601 in UTC (``2024-05-01T12:00:00Z``), as the OCI annotation wants."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_url(remote_url: str | None, env: Mapping[str, str]) -> str | None:
    """Where the source lives, for ``org.opencontainers.image.source``; never a credential.

    In GitHub Actions the repository's page; otherwise the remote's URL without
    user information (a token in an https remote) and with scp-like
    ``git@host:org/repo.git`` turned into ``https://host/org/repo``.
    """
    server, repository = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    if server and repository:
        return f"{server.rstrip('/')}/{repository}"
    if not remote_url:
        return None
    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", remote_url)
    if scp and not Path(remote_url).exists():
        return f"https://{scp.group(1)}/{scp.group(2).removesuffix('.git')}"
    parts = urlsplit(remote_url)
    if parts.scheme in ("http", "https", "ssh", "git") and parts.hostname:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
        return urlunsplit((scheme, host, parts.path.removesuffix(".git"), "", ""))
    return remote_url


def oci_labels(
    version: ReleaseVersion, revision: str, created: str, source: str | None
) -> dict[str, str]:
    """The OCI annotations every image carries."""
    labels = {
        f"{LABEL_PREFIX}.version": version.docker_tag,
        f"{LABEL_PREFIX}.revision": revision,
        f"{LABEL_PREFIX}.created": created,
    }
    if source:
        labels[f"{LABEL_PREFIX}.source"] = source
    return labels


def build_args(image: Image, fields: Mapping[str, str | int]) -> dict[str, str]:
    """The image's ``build-args`` with the template fields filled in."""
    return {key: template.format(**fields) for key, template in image.build_args.items()}


def image_targets(
    config: Config, version: ReleaseVersion, labels: Mapping[str, str]
) -> list[ImageTarget]:
    """Every configured image for ``version``: repository, fixed tags, args and labels."""
    if config.registry is None:
        return []
    codename = config.codename(version.major)
    fields = version.fields(codename)
    return [
        ImageTarget(
            image=image,
            repository=f"{config.registry.host}/{image.name}",
            tags=fixed_image_tags(image, version, codename),
            build_args=build_args(image, fields),
            labels=dict(labels),
        )
        for image in config.images
    ]


def targets_for(ctx: ReleaseContext) -> list[ImageTarget]:
    """``image_targets`` for the release in ``ctx`` (reads the commit time and the remote)."""
    created = created_time(ctx.git.commit_time(ctx.commit))
    source = source_url(ctx.git.remote_url(ctx.config.remote), ctx.env)
    labels = oci_labels(ctx.version, ctx.commit, created, source)
    return image_targets(ctx.config, ctx.version, labels)


# -- build output ----------------------------------------------------------------

_STEP_LINE = re.compile(r"Step (?P<n>\d+)/(?P<m>\d+) : (?P<instruction>.*)")


def parse_step(line: str) -> tuple[int, int, str] | None:
    """``(N, M, instruction)`` of a legacy builder's ``Step N/M : INSTRUCTION`` line."""
    match = _STEP_LINE.fullmatch(line.strip())
    if match is None:
        return None
    return int(match["n"]), int(match["m"]), match["instruction"]


@dataclass
class BuildLog:
    """The legacy builder's JSON stream turned into lines, the current step and the result.

    The builder sends ``Step N/M : ...`` without its newline and the newline as a
    separate chunk, so text is buffered until a line is complete.
    """

    step: tuple[int, int, str] | None = None
    image_id: str | None = None
    error: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=FAILURE_LINES))
    _partial: str = ""

    def feed(self, chunk: Mapping[str, Any]) -> list[str]:
        """Take one decoded chunk; return the complete lines it finished."""
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            self.error = str(detail.get("message") or chunk.get("error") or "unknown error")
            return self._lines(self._partial + "\n") if self._partial else []
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        text = chunk.get("stream")
        if not isinstance(text, str):
            return []
        return self._lines(self._partial + text)

    def _lines(self, text: str) -> list[str]:
        *complete, self._partial = text.split("\n")
        lines = [line.rstrip() for line in complete if line.strip()]
        for line in lines:
            self.tail.append(line)
            step = parse_step(line)
            if step is not None:
                self.step = step
        return lines

    def failure(self, name: str) -> str:
        """One line naming the image, the failing instruction and the builder's message."""
        where = f" at Step {self.step[0]}/{self.step[1]} : {self.step[2]}" if self.step else ""
        message = " ".join((self.error or "unknown error").split())
        return f"building {name} failed{where}: {message}"


# -- credentials and the registry ----------------------------------------------------

RegistryCredentials = tuple[str | None, str | None]
"""``(username, password)`` from ``release.steps.images.credentials``; ``(None, None)``
when none are set (the engine then pushes with its own login)."""


def push_auth(credentials: RegistryCredentials) -> dict[str, str] | None:
    """The engine's ``auth_config`` for a push: the credentials the registry API uses."""
    username, password = credentials
    if username is None or password is None:
        return None
    return {"username": username, "password": password}


# -- the engine --------------------------------------------------------------------


def _engine_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of the Docker SDK and of requests under it (imported on use, so that
    loading this module for its checks does not import them)."""
    import docker.errors
    import requests

    return (docker.errors.DockerException, requests.RequestException)


def engine_client(env: Mapping[str, str]) -> Any:
    """A Docker SDK client for the engine ``DOCKER_HOST`` names (its default socket otherwise)."""
    import docker  # the SDK and requests load only where the engine is used (start-up)

    try:
        return docker.from_env(environment=dict(env), timeout=ENGINE_TIMEOUT)
    except docker.errors.DockerException as error:
        raise ReleaseError(
            f"the Docker engine at {engine_address(env)} does not answer ({error})",
            "start it, or point DOCKER_HOST at one",
        ) from None


def engine_address(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class BuiltImage:
    target: ImageTarget
    image_id: str


@dataclass(frozen=True)
class PushedImage:
    """What the registry holds for one image after the step: pushed now or already there."""

    target: ImageTarget
    digest: str | None
    pushed: tuple[str, ...]  # tags pushed by this run
    kept: tuple[str, ...]  # tags that existed and were left as they are

    def record(self) -> dict[str, Any]:
        return {
            "repository": self.target.repository,
            "tags": list(self.target.tags),
            "digest": self.digest,
            "pushed": list(self.pushed),
            "kept": list(self.kept),
        }


class Display(Protocol):
    """Where build and push progress goes: rich bars on a terminal, lines otherwise."""

    def build_line(
        self, target: ImageTarget, line: str, step: tuple[int, int, str] | None
    ) -> None: ...

    def build_done(self, target: ImageTarget, image_id: str) -> None: ...

    def push_event(self, target: ImageTarget, tag: str, event: Mapping[str, Any]) -> None: ...


class PlainDisplay:
    """Every build line and every finished layer, prefixed with the image's name."""

    def build_line(self, target: ImageTarget, line: str, step: tuple[int, int, str] | None) -> None:
        console.info(f"{target.name} | {line}")

    def build_done(self, target: ImageTarget, image_id: str) -> None:
        console.info(f"{target.name} | built {image_id} as {', '.join(target.tags)}")

    def push_event(self, target: ImageTarget, tag: str, event: Mapping[str, Any]) -> None:
        status, layer = str(event.get("status", "")), event.get("id")
        if layer and (status in ("Pushed", "Layer already exists") or status.startswith("Mounted")):
            console.info(f"{target.name}:{tag} | {layer}: {status}")
        elif "digest:" in status:
            console.info(f"{target.name}:{tag} | {status}")


class RichDisplay:
    """A progress bar per build (steps) and per pushed layer (bytes); build lines above them."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self._tasks: dict[tuple[str, ...], Any] = {}

    def _task(self, key: tuple[str, ...], description: str, total: float | None) -> Any:
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(description, total=total)
        return self._tasks[key]

    def build_line(self, target: ImageTarget, line: str, step: tuple[int, int, str] | None) -> None:
        self.progress.console.print(f"{target.name} | {line}", markup=False, style="dim")
        if step is not None and line.startswith("Step "):
            n, m, instruction = step
            task = self._task(("build", target.name), f"build {target.name}", m)
            self.progress.update(
                task, completed=n - 1, total=m, description=f"build {target.name}: {instruction}"
            )

    def build_done(self, target: ImageTarget, image_id: str) -> None:
        task = self._task(("build", target.name), f"build {target.name}", 1)
        total = self.progress.tasks[task].total or 1
        self.progress.update(task, completed=total, description=f"built {target.name}")

    def push_event(self, target: ImageTarget, tag: str, event: Mapping[str, Any]) -> None:
        layer, status = event.get("id"), str(event.get("status", ""))
        if not layer:
            return
        task = self._task(
            ("push", target.name, tag, str(layer)), f"{target.name}:{tag} {layer}", None
        )
        detail = event.get("progressDetail") or {}
        if status == "Pushing" and detail.get("total"):
            total = max(float(detail["total"]), float(detail.get("current", 0)))
            self.progress.update(task, total=total, completed=float(detail.get("current", 0)))
        elif status in ("Pushed", "Layer already exists") or status.startswith("Mounted"):
            total = self.progress.tasks[task].total or 1
            self.progress.update(
                task,
                total=total,
                completed=total,
                description=f"{target.name}:{tag} {layer} {status}",
            )


@contextmanager
def display() -> Iterator[Display]:
    """The display for this output: rich progress on a terminal, plain lines otherwise."""
    if console.plain():
        yield PlainDisplay()
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console.err(),
        transient=False,
    ) as progress:  # fmt: skip
        yield RichDisplay(progress)


def build_image(client: Any, tree: Path, target: ImageTarget, show: Display) -> BuiltImage:
    """Build one image with the legacy builder and tag it with all its fixed tags."""
    image = target.image
    log = BuildLog()
    try:
        stream = client.api.build(
            path=str(tree / image.context),
            dockerfile=str(tree / image.dockerfile),
            tag=target.ref(target.version_tag),
            buildargs=dict(target.build_args),
            labels=dict(target.labels),
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in stream:
            for line in log.feed(chunk):
                show.build_line(target, line, log.step)
    except _engine_errors() as error:
        log.error = log.error or _engine_message(error)
    if log.error is not None or log.image_id is None:
        log.error = log.error or "the builder reported no image"
        raise ImageBuildError(target.name, log.failure(target.name), list(log.tail))
    for tag in target.tags[1:]:
        client.api.tag(log.image_id, target.repository, tag)
    show.build_done(target, log.image_id)
    return BuiltImage(target, log.image_id)


class ImageBuildError(ReleaseError):
    """A build failed; ``tail`` holds the last lines of its output."""

    def __init__(self, image: str, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.image = image
        self.tail = tail


def _engine_message(error: BaseException) -> str:
    text = str(getattr(error, "explanation", None) or error).strip()
    return text.splitlines()[0] if text else repr(error)


def push_tag(
    client: Any, target: ImageTarget, tag: str, auth: Mapping[str, str] | None, show: Display
) -> str | None:
    """Push ``repository:tag`` (``auth``: see :func:`push_auth`); return its digest."""
    digest = None
    try:
        for event in client.api.push(
            target.repository, tag=tag, stream=True, decode=True, auth_config=auth
        ):
            if "error" in event or "errorDetail" in event:
                detail = event.get("errorDetail") or {}
                raise ReleaseError(
                    f"pushing {target.ref(tag)} failed: {detail.get('message') or event['error']}"
                )
            aux = event.get("aux")
            if isinstance(aux, Mapping) and aux.get("Digest"):
                digest = str(aux["Digest"])
            show.push_event(target, tag, event)
    except _engine_errors() as error:
        raise ReleaseError(f"pushing {target.ref(tag)} failed: {_engine_message(error)}") from None
    return digest


def push_tag_with_retries(
    client: Any, target: ImageTarget, tag: str, auth: Mapping[str, str] | None, show: Display
) -> str | None:
    """``push_tag``, tried again when it fails for another reason than the credentials."""
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            return push_tag(client, target, tag, auth, show)
        except ReleaseError as error:
            said = error.message.lower()
            if attempt == PUSH_ATTEMPTS or "unauthorized" in said or "denied" in said:
                raise
            delay = PUSH_BACKOFF * 2 ** (attempt - 1)
            console.warn(f"{error.message}; trying again in {delay:g} s")
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def concurrently(function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``function`` over ``items`` in threads; results in order, exceptions as values."""
    if not items:
        return []

    def guarded(item: Any) -> Any:
        try:
            return function(item)
        except Exception as error:  # noqa: BLE001 - handed back to the caller, which decides
            return error

    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT, len(items))) as pool:
        return list(pool.map(guarded, items))


def build_images(ctx: ReleaseContext, targets: Sequence[ImageTarget]) -> list[BuiltImage]:
    """Build every target in the release worktree, concurrently; every build finishes first.

    A failed build shows its last lines of output and raises with the failing
    instruction; the other builds still finish, and nothing is pushed.
    """
    if not targets:
        return []
    with release_tree(ctx) as tree, console.group(f"Building {len(targets)} image(s)"):
        with display() as show:

            def build(target: ImageTarget) -> BuiltImage:
                client = engine_client(ctx.env)
                try:
                    return build_image(client, tree, target, show)
                finally:
                    client.close()

            results = concurrently(build, targets)
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if isinstance(failure, ImageBuildError) and failure.tail:
            console.info(f"the last lines of the failed build of {failure.image}:")
            for line in failure.tail:
                console.info(f"    {line}")
    if failures:
        first = failures[0]
        if len(failures) > 1 and isinstance(first, ReleaseError):
            raise ReleaseError(f"{first.message} (and {len(failures) - 1} more failed builds)")
        raise first
    return [r for r in results if isinstance(r, BuiltImage)]


def existing_tags(registry: RegistryClient, target: ImageTarget) -> dict[str, str]:
    """The target's fixed tags that the registry holds already: {tag: digest}."""
    found = {}
    for tag in target.tags:
        digest = registry.manifest_digest(target.name, tag)
        if digest is not None:
            found[tag] = digest
    return found


def push_images(
    ctx: ReleaseContext,
    built: Sequence[BuiltImage],
    existing: Mapping[str, Mapping[str, str]],
    credentials: RegistryCredentials,
) -> list[PushedImage]:
    """Push each built image's missing fixed tags (version tag last), images concurrently."""
    if not built:
        return []
    auth = push_auth(credentials)
    with console.group(f"Pushing {len(built)} image(s)"), display() as show:

        def push(item: BuiltImage) -> PushedImage:
            target = item.target
            kept = existing.get(target.name, {})
            client = engine_client(ctx.env)
            pushed, digest = [], None
            try:
                for tag in target.push_order:
                    if tag in kept:
                        continue
                    digest = push_tag_with_retries(client, target, tag, auth, show) or digest
                    pushed.append(tag)
            finally:
                client.close()
            return PushedImage(target, digest, tuple(pushed), tuple(kept))

        results = concurrently(push, built)
    done = [r for r in results if isinstance(r, PushedImage)]
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        finished = ", ".join(f"{p.target.name}:{p.target.version_tag}" for p in done) or "nothing"
        first = failures[0]
        message = first.message if isinstance(first, ReleaseError) else _engine_message(first)
        raise StepError(
            f"{message} (pushed: {finished})",
            "run the same command again to push the rest; pushed version tags are kept",
        )
    return done


# -- channels (release/channels.py moves them when it can) ------------------------------


def move_channels(ctx: ReleaseContext, target: ImageTarget, registry: RegistryClient) -> list[Any]:
    """Move the image's channel tags after its version tag is in the registry.

    ``release.steps.images.channels.move_channels_after_push`` decides and moves (in a dry run it
    only says what it would move).
    """
    from release.steps.images.channels import move_channels_after_push

    moves: list[Any] = move_channels_after_push(ctx, target.image, registry)
    return moves


def move_line(move: Any) -> str:
    """One channel move for the summary: ``petronas: moved 3.0.0 -> 3.1.0``."""
    if not isinstance(move, Mapping):
        return str(move)
    line = f"{move.get('channel') or 'channel'}: {move.get('action', '')}"
    if move.get("to") is not None:
        line += f" {move.get('from') or '(none)'} -> {move['to']}"
    if move.get("reason"):
        line += f" ({move['reason']})"
    return line


def _plain(value: Any) -> Any:
    """A move record as JSON-able data for the state."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# -- the step ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedImages:
    """The local work of the step: the targets, what the registry holds, the built images."""

    targets: tuple[ImageTarget, ...]
    existing: Mapping[str, Mapping[str, str]]  # image name -> {fixed tag: digest} in the registry
    built: tuple[BuiltImage, ...]
    credentials: RegistryCredentials = field(repr=False)


class PushImage:
    """The ``push-image`` step (DESIGN.md "Tasks", "Channels")."""

    name = STEP

    def run(self, ctx: ReleaseContext) -> StepResult:
        """Build, then push (or, in a dry run, list what would be pushed)."""
        prepared = self.prepare(ctx)
        if ctx.options.dry_run:
            return self.describe(ctx, prepared)
        return self.publish(ctx, prepared)

    def cleanup(self, prepared: PreparedImages) -> None:
        """Nothing is held after ``publish`` or ``describe``; see ``release.run.step``."""
        pass  # nothing held between prepare and publish

    def prepare(self, ctx: ReleaseContext) -> PreparedImages:
        """The local work (the scheduler runs it before any side effect of the release):
        what the registry holds already, and the builds of the images it lacks."""
        registry = _registry(ctx)
        targets = targets_for(ctx)
        credentials = registry_credentials(registry, ctx.env)
        existing: dict[str, dict[str, str]] = {}
        if not (ctx.options.offline and ctx.options.dry_run):
            with RegistryClient(registry, *credentials) as client:
                existing = {t.name: existing_tags(client, t) for t in targets}
        done = [t for t in targets if t.version_tag in existing.get(t.name, {})]
        for target in done:
            console.info(
                f"{target.ref(target.version_tag)} exists in the registry "
                f"({existing[target.name][target.version_tag]}): not rebuilt, never overwritten"
            )
        built = build_images(ctx, [t for t in targets if t not in done])
        return PreparedImages(tuple(targets), existing, tuple(built), credentials)

    def describe(self, ctx: ReleaseContext, prepared: PreparedImages) -> StepResult:
        """The dry run: every tag that would be pushed, and those that exist and are kept."""
        rows = []
        for target in prepared.targets:
            held = prepared.existing.get(target.name, {})
            complete = target.version_tag in held
            for tag in target.push_order:
                rows.append(
                    [target.ref(tag), "exists: kept" if complete or tag in held else "would push"]
                )
        console.table("push-image --dry-run", ["tag", "what happens"], rows)
        count = sum(1 for row in rows if row[1] == "would push")
        details = [f"would push {row[0]}" for row in rows if row[1] == "would push"]
        if not ctx.options.offline:
            with RegistryClient(_registry(ctx), *prepared.credentials) as client:
                for target in prepared.targets:
                    moves = move_channels(ctx, target, client)  # moves nothing in a dry run
                    details += [f"{target.name}: {move_line(m)}" for m in moves]
        return StepResult(
            step=STEP,
            status="dry-run",
            summary=f"built the images; would push {count} tag(s), pushed nothing",
            details=tuple(details),
        )

    def publish(self, ctx: ReleaseContext, prepared: PreparedImages) -> StepResult:
        """Push the built images, move the channels, record tags and digests."""
        registry = _registry(ctx)
        pushed = push_images(ctx, prepared.built, prepared.existing, prepared.credentials)
        results = {p.target.name: p for p in pushed}
        for target in prepared.targets:
            held = prepared.existing.get(target.name, {})
            if target.name not in results and target.version_tag in held:
                results[target.name] = PushedImage(
                    target, held[target.version_tag], (), tuple(held)
                )
        ordered = [results[t.name] for t in prepared.targets]
        with RegistryClient(registry, *prepared.credentials) as client:
            moves = {t.name: move_channels(ctx, t, client) for t in prepared.targets}
        record = {
            "registry": registry.host,
            "images": {p.target.name: p.record() for p in ordered},
            "channels": {name: _plain(m) for name, m in moves.items() if m},
        }
        ctx.state.record(STEP, record)
        return self._result(ordered, moves, record)

    def _result(
        self,
        pushed: Sequence[PushedImage],
        moves: Mapping[str, list[Any]],
        record: Mapping[str, Any],
    ) -> StepResult:
        details = []
        for item in pushed:
            for tag in item.pushed:
                details.append(f"pushed {item.target.ref(tag)} ({item.digest})")
            for tag in item.kept:
                details.append(f"exists {item.target.ref(tag)}: kept")
            details += [
                f"{item.target.name}: {move_line(m)}" for m in moves.get(item.target.name, [])
            ]
        count = sum(len(p.pushed) for p in pushed)
        summary = (
            f"pushed {count} tag(s) of {len(pushed)} image(s)"
            if count
            else "every version tag was in the registry already: nothing pushed"
        )
        return StepResult(
            step=STEP, status="done", summary=summary, details=tuple(details), record=record
        )


def _registry(ctx: ReleaseContext) -> Registry:
    if ctx.config.registry is None:
        raise ReleaseError("no [tool.release.registry] host is configured")
    return ctx.config.registry


def engine_problems(env: Mapping[str, str]) -> list[str]:
    """Whether the engine answers (a problem line when it does not)."""
    try:
        client = engine_client(env)
    except ReleaseError as error:
        return [str(error)]
    try:
        client.ping()
    except _engine_errors() as error:
        return [
            f"the Docker engine at {engine_address(env)} does not answer "
            f"({_engine_message(error)}): start it, or point DOCKER_HOST at one"
        ]
    finally:
        client.close()
    return []


PUSH_IMAGE = PushImage()
