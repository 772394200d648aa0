"""Pre-flight checks of ``push-image``: a registry is configured and its credentials are
readable; unless ``--offline``, the engine answers and the registry accepts the credentials.

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
from release.steps.images.credentials import RegistryCredentials, registry_credentials

if TYPE_CHECKING:
    from typing import Any

    from release.core.config import Config, Registry
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    """The engine answers; the registry is reachable and accepts the credentials.

    ``--offline`` skips all but the credential variables; ``--skip-credentials``
    accepts a registry that wants credentials when none are given.
    """
    registry = ctx.config.registry
    if registry is None:
        return ["no [tool.release.registry] host is configured"]
    try:
        credentials = registry_credentials(registry, ctx.env)
    except ReleaseError as error:
        return [] if ctx.options.skip_credentials else [str(error)]
    if ctx.options.offline:
        return []
    return online_problems(ctx, registry, credentials)


def online_problems(
    ctx: ReleaseContext, registry: Registry, credentials: RegistryCredentials
) -> list[str]:
    """The engine answers, and the registry accepts the credentials (only answers ``/v2/``
    when there are none and ``--skip-credentials`` allows that)."""
    from release.steps.images.engine import engine_problems
    from release.steps.images.registry import RegistryClient

    found = engine_problems(ctx.env)
    if credentials == (None, None) and ctx.options.skip_credentials:
        return found + reachability_problems(registry)
    with RegistryClient(registry, *credentials) as client:
        try:
            client.ping()
        except ReleaseError as error:
            found.append(str(error))
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


def planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``push-image``: every version tag, and whether channels move."""
    host = config.registry.host if config.registry else "?"
    names = ", ".join(f"{host}/{i.name}:{version.docker_tag}" for i in config.images)
    channels = "no channel moves" if version.kind.value == "pre" else "channels forward only"
    return f"build and push {names}; {channels}"


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
        found.append(f"  tags: {', '.join(version_tags + on_it)}")
        for move in moves:
            found.append(f"  channel {_move(move)}")
    return found


def _move(move: Mapping[str, Any]) -> str:
    if move.get("action") == "moved":
        return f"{move.get('channel')}: {move.get('from') or '(none)'} -> {move.get('to')}"
    return str(move.get("summary") or move.get("reason") or "")
