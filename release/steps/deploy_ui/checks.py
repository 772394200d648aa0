"""Pre-flight checks of ``deploy-ui``: where the deployment goes, and its publish profile.

Offline, the checks read only the environment: the deployment API, the SCM site override
and the publish profile (which must be the configured app's and slot's). Online, they also
ask the SCM site whether it accepts the profile's credentials; that needs the Kudu client
of ``release.steps.deploy_ui.step``, imported only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from release.core.errors import ReleaseError
from release.steps.deploy_ui.profile import (
    PRODUCTION,
    PROFILE_ENV,
    PublishProfile,
    profile_problems,
    read_publish_profile,
)

if TYPE_CHECKING:
    from typing import Any

    from release.core.config import UI, Config
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext

SCM_URL_ENV = "RELEASE_AZURE_SCM_URL"
DEPLOY_API_ENV = "RELEASE_AZURE_DEPLOY_API"
DEPLOY_APIS = ("zipdeploy", "onedeploy")


def deploy_api(env: Mapping[str, str]) -> str:
    """Kudu's API for the zip: ``RELEASE_AZURE_DEPLOY_API``, ``zipdeploy`` when unset."""
    value = env.get(DEPLOY_API_ENV, "").strip().lower() or "zipdeploy"
    if value not in DEPLOY_APIS:
        raise ReleaseError(
            f"{DEPLOY_API_ENV}={value!r} is not a deployment API",
            f"use one of {', '.join(DEPLOY_APIS)} (zipdeploy when unset)",
        )
    return value


def scm_base_url(profile: PublishProfile | None, ui: UI, env: Mapping[str, str]) -> str:
    """The SCM site: ``RELEASE_AZURE_SCM_URL``, else the profile's, else the app's default."""
    override = env.get(SCM_URL_ENV, "").strip()
    if override:
        # Only the tests and the demo set the override: the HTTP clients' module is
        # imported for them, where the loopback hosts are defined once.
        from release.core.http import is_loopback

        parts = urlsplit(override)
        local = is_loopback(parts.hostname)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ReleaseError(f"{SCM_URL_ENV}={override!r} is not an http(s) URL")
        if parts.scheme == "http" and not local:
            raise ReleaseError(
                f"{SCM_URL_ENV}={override!r} would send the deployment credentials unencrypted",
                "use https (plain http is accepted for localhost only)",
            )
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    if profile is not None:
        return profile.scm_url
    site = ui.azure_app if ui.slot.lower() == PRODUCTION else f"{ui.azure_app}-{ui.slot}"
    return f"https://{site}.scm.azurewebsites.net"


def problems(ctx: ReleaseContext) -> list[str]:
    """The API and the SCM site must be valid; the publish profile (unless
    ``--skip-credentials`` and unset) must be set, parse, and be the configured app's and
    slot's; online, the SCM site must accept it."""
    ui = ctx.config.ui
    if ui is None:
        return []
    found: list[str] = []
    try:
        deploy_api(ctx.env)
        scm_base_url(None, ui, ctx.env)
    except ReleaseError as error:
        found.append(str(error))
    if ctx.options.skip_credentials and not ctx.env.get(PROFILE_ENV, "").strip():
        return found
    try:
        profile = read_publish_profile(ctx.env)
    except ReleaseError as error:
        return [*found, str(error)]
    if profile is None:
        found.append(
            f"{PROFILE_ENV} is not set: it holds the publish profile of {ui.azure_app} "
            "(the Azure portal's 'Download publish profile'; in CI, a secret)"
        )
        return found
    found += profile_problems(profile, ui)
    if found or ctx.options.offline:
        return found
    from release.steps.deploy_ui.step import access_problems, target_for

    return access_problems(target_for(ctx, profile), profile)


def planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``deploy-ui``: what is built, where it goes, how long it may take."""
    if config.ui is None:
        return "deploy the UI"
    ui = config.ui
    target = f"{ui.azure_app} ({ui.slot})"
    return (
        f"build {ui.path} ({version.npm}), deploy {ui.path}/{ui.output} to {target}, "
        f"waiting at most {ui.deploy_timeout} s"
    )


def published(record: Mapping[str, Any]) -> list[str]:
    """The summary's line for ``deploy-ui``: the deployment and the zip it deployed."""
    return [
        f"{record.get('host')} ({record.get('api')}): a zip of {record.get('files')} file(s), "
        f"{record.get('bytes')} bytes, sha256 {record.get('sha256')}"
    ]
