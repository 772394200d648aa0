"""Docker images: build them from the release worktree, push their version tags.

For every ``[[tool.release.images]]`` entry, ``push-image``

1. asks the registry whether the version tag exists. A version tag is never
   overwritten (docs/design.md "Tags that never move"): an image whose version tag
   exists is done and is not rebuilt, if it is this release's image (its digest is the
   one the state records as pushed, or its revision label is the tagged commit); a fixed
   tag holding another image stops the step before anything is built or pushed
   (``release.steps.images.provenance``);
2. builds the others concurrently with the engine's legacy builder
   (``release.steps.images.engine``) in the worktree of the tagged commit with the
   version written (``release.run.worktree.release_tree``), with the templated build
   args and the OCI labels (``release.steps.images.targets``); an image with
   ``platforms`` other than the engine's own is built by buildah instead, one build
   per platform joined into one OCI image index (``release.steps.images.buildah``);
3. pushes them concurrently: the ``{version}`` extra tags first and the version
   tag last, so that an existing version tag means the image is complete. A fixed
   extra tag that already exists is kept, never overwritten. A failed push is tried
   again as ``release.core.http.POLICY`` says (``engine.push_tag_with_retries``);
   an index goes with every platform's manifest and blobs (``Buildah.push``);
4. moves the image's channel tags (``release.steps.images.channel_moves``) and records the
   tags and digests in the release's state.

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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from release.core import console
from release.core.config import Registry
from release.core.errors import ReleaseError, StepError
from release.run.context import ReleaseContext
from release.run.step import Step, StepResult, run_staged
from release.run.worktree import release_tree
from release.steps.images.buildah import Buildah, BuiltIndex
from release.steps.images.channel_moves import move_channels_after_push
from release.steps.images.checks import builder_check
from release.steps.images.credentials import RegistryCredentials, registry_credentials
from release.steps.images.display import display
from release.steps.images.engine import (
    BuiltImage,
    ImageBuildError,
    build_image,
    engine_client,
    engine_message,
    engine_platform,
    push_auth,
    push_tag_with_retries,
)
from release.steps.images.platforms import single_platform_images, uses_buildah
from release.steps.images.provenance import foreign_tags, index_platforms, pushed_digests
from release.steps.images.registry import RegistryClient
from release.steps.images.targets import ImageTarget, targets_for

STEP = "push-image"
MAX_CONCURRENT = 4


@dataclass(frozen=True)
class PushedImage:
    """What the registry holds for one image after the step: pushed now or already there."""

    target: ImageTarget
    digest: str | None
    pushed: tuple[str, ...]  # tags pushed by this run
    kept: tuple[str, ...]  # tags that existed and were left as they are
    platforms: Mapping[str, str] = field(default_factory=dict)  # an index: {platform: digest}

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "repository": self.target.repository,
            "tags": list(self.target.tags),
            "digest": self.digest,
            "pushed": list(self.pushed),
            "kept": list(self.kept),
        }
        if self.platforms:
            record["platforms"] = dict(self.platforms)
        return record


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


Built = BuiltImage | BuiltIndex


def build_images(
    ctx: ReleaseContext,
    targets: Sequence[ImageTarget],
    builder: Buildah | None = None,
    engine: str | None = None,
) -> list[Built]:
    """Build every target in the release worktree, concurrently; every build finishes first.
    The targets buildah builds (``uses_buildah`` with the ``engine``'s platform) go to
    ``builder``, the others to the engine.

    A failed build shows its last lines of output and raises with the failing
    instruction; the other builds still finish, and nothing is pushed.
    """
    if not targets:
        return []
    with release_tree(ctx) as tree, console.group(f"Building {len(targets)} image(s)"):
        with display() as show:

            def build(target: ImageTarget) -> Built:
                if uses_buildah(target.image, engine):
                    if builder is None:
                        raise ReleaseError(f"{target.name} needs buildah, which was not started")
                    return builder.build(tree, target, show)
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
    return [r for r in results if isinstance(r, (BuiltImage, BuiltIndex))]


def existing_tags(registry: RegistryClient, target: ImageTarget) -> dict[str, str]:
    """The target's fixed tags that the registry holds already: {tag: digest}."""
    found = {}
    for tag in target.tags:
        digest = registry.manifest_digest(target.name, tag)
        if digest is not None:
            found[tag] = digest
    return found


def refuse_foreign_tags(
    ctx: ReleaseContext,
    client: RegistryClient,
    targets: Sequence[ImageTarget],
    existing: Mapping[str, Mapping[str, str]],
) -> None:
    """Raise when a fixed tag that exists holds an image that is not this release's
    (``release.steps.images.provenance``): before any build, before any push."""
    record = ctx.state.get(STEP) if any(existing.values()) else None
    foreign = [
        tag
        for target in targets
        for tag in foreign_tags(
            client,
            target.repository,
            target.name,
            existing.get(target.name, {}),
            ctx.commit,
            pushed_digests(record, target.name),
        )
    ]
    if foreign:
        more = f" (and {len(foreign) - 1} more: " if len(foreign) > 1 else ""
        if more:
            more += ", ".join(t.reference for t in foreign[1:]) + ")"
        raise ReleaseError(foreign[0].message + more, foreign[0].hint)


def push_index(
    ctx: ReleaseContext,
    builder: Buildah,
    item: BuiltIndex,
    kept: Mapping[str, str],
    credentials: RegistryCredentials,
) -> PushedImage:
    """Push a multi-platform image: every platform and the index under its first missing
    fixed tag (buildah), the same bytes under the others (the registry client), the
    version tag last."""
    target = item.target
    tags = [tag for tag in target.push_order if tag not in kept]
    digest = builder.push(item, tags[0])
    with RegistryClient(_registry(ctx), *credentials) as client:
        index = client.manifest(target.name, digest)
        for tag in tags[1:]:
            client.put_manifest(target.name, tag, index.data, index.media_type)
    platforms = index_platforms(index)
    for platform, manifest in platforms.items():
        console.info(f"{target.name}: {platform} {manifest}")
    return PushedImage(target, digest, tuple(tags), tuple(kept), platforms)


def push_images(
    ctx: ReleaseContext,
    built: Sequence[Built],
    existing: Mapping[str, Mapping[str, str]],
    credentials: RegistryCredentials,
    builder: Buildah | None = None,
) -> list[PushedImage]:
    """Push each built image's missing fixed tags (version tag last), images concurrently."""
    if not built:
        return []
    auth = push_auth(credentials)
    with console.group(f"Pushing {len(built)} image(s)"), display() as show:

        def push(item: Built) -> PushedImage:
            target = item.target
            kept = existing.get(target.name, {})
            if isinstance(item, BuiltIndex):
                assert builder is not None  # it built the index
                return push_index(ctx, builder, item, kept, credentials)
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
        message = first.message if isinstance(first, ReleaseError) else engine_message(first)
        raise StepError(
            f"{message} (pushed: {finished})",
            "run the same command again to push the rest; pushed version tags are kept",
        )
    return done


# -- channels ----------------------------------------------------------------------


def move_channels(ctx: ReleaseContext, target: ImageTarget, registry: RegistryClient) -> list[Any]:
    """Move the image's channel tags after its version tag is in the registry.

    ``release.steps.images.channel_moves.move_channels_after_push`` decides and moves (in a dry
    run it only says what it would move).
    """
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
    built: tuple[Built, ...]
    credentials: RegistryCredentials = field(repr=False)
    builder: Buildah | None = None  # holds the multi-platform images until cleanup


class PushImage:
    """The ``push-image`` step (docs/design.md "Channels")."""

    name = STEP

    def run(self, ctx: ReleaseContext) -> StepResult:
        """Build, then push (or, in a dry run, list what would be pushed)."""
        return run_staged(self, ctx)

    def cleanup(self, prepared: PreparedImages) -> None:
        """Remove buildah's private storage (the engine's images stay in the engine)."""
        if prepared.builder is not None:
            prepared.builder.close()

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Run as its own task, this step always records its lifecycle."""
        return False

    def prepare(self, ctx: ReleaseContext) -> PreparedImages:
        """The local work (the scheduler runs it before any side effect of the release):
        what the registry holds already, and the builds of the images it lacks."""
        registry = _registry(ctx)
        targets = targets_for(ctx)
        credentials = registry_credentials(registry, ctx.env)
        existing: dict[str, dict[str, str]] = {}
        if not (ctx.options.offline and ctx.options.dry_run):
            with RegistryClient(registry, *credentials) as client:
                # One round trip per tag: asked for every image at once, not one by one.
                found = concurrently(partial(existing_tags, client), targets)
                failed = [f for f in found if isinstance(f, BaseException)]
                if failed:
                    raise failed[0]
                existing = dict(zip((t.name for t in targets), found, strict=True))
                refuse_foreign_tags(ctx, client, targets, existing)
        done = [t for t in targets if t.version_tag in existing.get(t.name, {})]
        for target in done:
            console.info(
                f"{target.ref(target.version_tag)} exists in the registry "
                f"({existing[target.name][target.version_tag]}): not rebuilt, never overwritten"
            )
        pending = [t for t in targets if t not in done]
        engine = None
        if single_platform_images(t.image for t in pending):
            engine = engine_platform(ctx.env)
        builder = None
        if any(uses_buildah(t.image, engine) for t in pending):
            problems = builder_check(ctx, engine, building=True)
            if problems:
                raise ReleaseError("; ".join(problems))
            builder = Buildah(ctx.env, registry, credentials)
        try:
            built = build_images(ctx, pending, builder, engine)
        except BaseException:
            if builder is not None:
                builder.close()
            raise
        return PreparedImages(tuple(targets), existing, tuple(built), credentials, builder)

    def describe(self, ctx: ReleaseContext, prepared: PreparedImages) -> StepResult:
        """The dry run: every tag that would be pushed, and those that exist and are kept."""
        rows = []
        details = []  # one "would push <ref>" per tag that would be pushed
        indexes = {b.target.name: b for b in prepared.built if isinstance(b, BuiltIndex)}
        for target in prepared.targets:
            held = prepared.existing.get(target.name, {})
            complete = target.version_tag in held
            index = indexes.get(target.name)
            what = f" (an index of {', '.join(index.platforms)})" if index else ""
            for tag in target.push_order:
                if complete or tag in held:
                    rows.append([target.ref(tag), "exists: kept"])
                else:
                    rows.append([target.ref(tag), f"would push{what}"])
                    details.append(f"would push {target.ref(tag)}{what}")
        console.table("push-image --dry-run", ["tag", "what happens"], rows)
        count = len(details)
        for index in indexes.values():
            details += [f"built {index.target.name} for {p}: {i}" for p, i in index.images]
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
        pushed = push_images(
            ctx, prepared.built, prepared.existing, prepared.credentials, prepared.builder
        )
        results = {p.target.name: p for p in pushed}
        with RegistryClient(registry, *prepared.credentials) as client:
            for target in prepared.targets:
                held = prepared.existing.get(target.name, {})
                if target.name not in results and target.version_tag in held:
                    digest = held[target.version_tag]
                    platforms = {}
                    if target.image.platforms:  # an index: its platforms, read back
                        platforms = index_platforms(client.manifest(target.name, digest))
                    results[target.name] = PushedImage(target, digest, (), tuple(held), platforms)
            ordered = [results[t.name] for t in prepared.targets]
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
            details += [f"{item.target.name} {p}: {d}" for p, d in item.platforms.items()]
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


PUSH_IMAGE: Step[PreparedImages] = PushImage()
