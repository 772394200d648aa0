"""Pre-flight checks of ``push-image``: a registry is configured and its credentials are
readable; unless ``--offline``, the engine answers and the registry accepts the credentials.

Offline, only the configuration and the credential variables (or Docker's ``config.json``)
are read, with the standard library (``release.registry_credentials``); the engine
(``release.images``) and the registry client (``release.registry``, over ``requests``) are
imported only for the online checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from release.errors import ReleaseError
from release.registry_credentials import registry_credentials

if TYPE_CHECKING:
    from release.config import Registry
    from release.context import ReleaseContext
    from release.images import RegistryCredentials


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
    from release.images import engine_problems
    from release.registry import RegistryClient

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
    from release.registry import RegistryClient

    with RegistryClient(registry) as client:
        try:
            client.reach()
        except ReleaseError as error:
            return [str(error)]
    return []
