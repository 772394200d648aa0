"""Pre-flight checks of ``push-image``: a registry is configured and its credentials are
readable; the images buildah builds can be built on this machine (buildah is installed, QEMU
handles a ``RUN`` for a foreign platform: ``platforms``, offline too); unless ``--offline``,
the engine answers (when an image needs it), the registry accepts the credentials, and no
fixed tag of this release exists holding another image (``provenance``).

Offline, only the configuration and the credential variables (or Docker's ``config.json``)
are read, with the standard library (``credentials``); the engine (``engine``) and the
registry client (``registry``, over ``requests``) are imported only for the online checks.
Neither imports this module back.

Also here, light as the checks: the plan's line and the summary's lines of the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from release.core.errors import ReleaseError
from release.run.plan import Skip, fixed_image_tags, image_skip_reason, released_images
from release.steps.images.credentials import RegistryCredentials, registry_credentials

if TYPE_CHECKING:
    from typing import Any

    from release.core.config import Config, Registry
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext
    from release.steps.images.registry import RegistryClient


def problems(ctx: ReleaseContext) -> list[str]:
    """The engine answers; the registry is reachable and accepts the credentials.

    ``--offline`` skips all but the credential variables; ``--skip-credentials``
    accepts a registry that wants credentials when none are given.
    """
    registry = ctx.config.registry
    if registry is None:
        return ["no [tool.release.registry] host is configured"]
    found = builder_check(ctx)
    try:
        credentials = registry_credentials(registry, ctx.env)
    except ReleaseError as error:
        return found if ctx.options.skip_credentials else [*found, str(error)]
    if ctx.options.offline:
        return found
    return found + online_problems(ctx, registry, credentials)


def builder_check(
    ctx: ReleaseContext, engine: str | None = None, *, building: bool = False
) -> list[str]:
    """The images buildah builds (``release.steps.images.platforms``): buildah is installed,
    and QEMU's handler is registered for each platform of a ``RUN`` this machine cannot run
    (not with ``--skip-credentials``: a CI job holding no credentials builds no image, and
    the job that does installs the handlers; ``building``: always). ``engine``: the
    engine's platform, asked of it when an image names one platform (this machine's
    offline)."""
    from release.steps.images.platforms import (
        builder_problems,
        machine_platform,
        single_platform_images,
    )

    images = released_images(ctx.config, ctx.version)
    if not any(image.platforms for image in images):
        return []
    if engine is None and single_platform_images(images):
        from release.steps.images.engine import engine_platform

        engine = machine_platform() if ctx.options.offline else engine_platform(ctx.env)
    # One git process for every Dockerfile; one that is not text is None: its build says
    # what is wrong.
    texts = ctx.git.show_many(ctx.commit, [image.dockerfile for image in images], strict=False)
    dockerfiles = {image.name: texts[image.dockerfile] for image in images}
    qemu = building or not ctx.options.skip_credentials
    return builder_problems(images, dockerfiles, ctx.env, engine, qemu=qemu)


def online_problems(
    ctx: ReleaseContext, registry: Registry, credentials: RegistryCredentials
) -> list[str]:
    """The engine answers, and the registry accepts the credentials (only answers ``/v2/``
    when there are none and ``--skip-credentials`` allows that) and holds no other image
    under a fixed tag of this release."""
    from release.steps.images.engine import engine_problems
    from release.steps.images.registry import RegistryClient

    images = released_images(ctx.config, ctx.version)
    engine_built = any(len(image.platforms) <= 1 for image in images)
    found = engine_problems(ctx.env) if engine_built else []
    if credentials == (None, None) and ctx.options.skip_credentials:
        return found + reachability_problems(registry)
    with RegistryClient(registry, *credentials) as client:
        try:
            client.ping()
            found += foreign_tag_problems(ctx, client)
        except ReleaseError as error:
            found.append(str(error))
    return found


def foreign_tag_problems(ctx: ReleaseContext, client: RegistryClient) -> list[str]:
    """A fixed tag of this release that exists and holds another image, one line each
    (``release.steps.images.provenance``; the step checks again before its first build)."""
    from release.steps.images.provenance import foreign_tags, pushed_digests

    registry = ctx.config.registry
    assert registry is not None  # problems() returned early without one
    codename = ctx.config.codename(ctx.version.major)
    record: Mapping[str, Any] | None = None
    found: list[str] = []
    for image in released_images(ctx.config, ctx.version):
        existing = {}
        for tag in fixed_image_tags(image, ctx.version, codename):
            digest = client.manifest_digest(image.name, tag)
            if digest is not None:
                existing[tag] = digest
        if not existing:
            continue
        record = record if record is not None else (ctx.state.get("push-image") or {})
        found += [
            str(tag)
            for tag in foreign_tags(
                client,
                f"{registry.host}/{image.name}",
                image.name,
                existing,
                ctx.commit,
                pushed_digests(record, image.name),
            )
        ]
    return found


def reachability_problems(registry: Registry) -> list[str]:
    """Whether the registry answers ``/v2/`` at all (a 401 counts: credentials are not checked)."""
    from release.steps.images.registry import RegistryClient

    with RegistryClient(registry) as client:
        try:
            client.reach()
        except ReleaseError as error:
            return [str(error)]
    return []


def planned(version: ReleaseVersion, config: Config, branch: str) -> str | Skip:
    """The plan's line for ``push-image``: every version tag, whether channels move, and
    the images this release skips (``release-on = "minor"``) with why; a ``Skip`` when it
    skips them all."""
    host = config.registry.host if config.registry else "?"
    skipped = {i.name: image_skip_reason(i, version) for i in config.images}
    built = [i for i in config.images if skipped[i.name] is None]
    if not built:
        names = ", ".join(skipped)
        return Skip(f"{names}: {next(iter(skipped.values()))}")
    names = ", ".join(
        f"{host}/{i.name}:{version.docker_tag}"
        + (f" ({', '.join(i.platforms)})" if i.platforms else "")
        for i in built
    )
    channels = "no channel moves" if version.kind.value == "pre" else "channels forward only"
    line = f"build and push {names}; {channels}"
    reasons = sorted({reason for reason in skipped.values() if reason is not None})
    for reason in reasons:
        line += f"; skips {', '.join(n for n, r in skipped.items() if r == reason)} ({reason})"
    return line


def published(record: Mapping[str, Any]) -> list[str]:
    """The summary's lines for ``push-image``: each image's digest, its tags, its moves."""
    found = []
    channels = record.get("channels") or {}
    for name, image in (record.get("images") or {}).items():
        moves = [m for m in channels.get(name) or [] if isinstance(m, Mapping)]
        version_tags = list(image.get("tags") or [])
        here = set(version_tags)
        # The channels that point at this version now: moved here, or already here.
        on_it = [
            str(m["channel"])
            for m in moves
            if m.get("channel") and m.get("action") in ("moved", "stayed") and m.get("to") in here
        ]
        found.append(f"{image.get('repository')}@{image.get('digest')}")
        platforms = image.get("platforms")
        for platform, digest in platforms.items() if isinstance(platforms, Mapping) else ():
            found.append(f"  {platform}: {digest}")
        found.append(f"  tags: {', '.join(version_tags + on_it)}")
        for move in moves:
            found.append(f"  channel {_move(move)}")
    return found


def _move(move: Mapping[str, Any]) -> str:
    if move.get("action") == "moved":
        return f"{move.get('channel')}: {move.get('from') or '(none)'} -> {move.get('to')}"
    return str(move.get("summary") or move.get("reason") or "")
