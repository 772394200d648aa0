"""Pre-flight checks of ``deploy-ui``: where the deployment goes, and its publish profile.

Offline, the checks read only the environment: the deployment API, the SCM site override
and the publish profile (which must be the configured app's and slot's), and the tagged
commit: no symbolic link on the way to the UI's output, inside it, or as the UI's
``package.json`` (``link_problems``; the build refuses links it makes itself). Online, they
also ask the SCM site whether it accepts the profile's credentials; that needs the Kudu
client of ``release.steps.deploy_ui.kudu``, imported only then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from release.core.errors import ReleaseError
from release.steps.deploy_ui.profile import (
    PROFILE_ENV,
    deploy_api,
    profile_problems,
    read_publish_profile,
    scm_base_url,
)

if TYPE_CHECKING:
    from typing import Any

    from release.core.config import Config
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    """The API and the SCM site must be valid; the publish profile (unless
    ``--skip-credentials`` and unset) must be set, parse, and be the configured app's and
    slot's; online, the SCM site must accept it."""
    ui = ctx.config.ui
    if ui is None:
        return []
    found: list[str] = link_problems(ctx)
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
    from release.steps.deploy_ui.kudu import access_problems, target_for

    return access_problems(target_for(ctx, profile), profile)


def link_problems(ctx: ReleaseContext) -> list[str]:
    """The symbolic links of the tagged commit that the UI's build or zip would go through:
    the UI's folder or its output folder (or a folder on their way), anything inside the
    output, the UI's ``package.json`` and ``package-lock.json``."""
    from release.core.files import normalise
    from release.core.writers.trees import CommitTree

    ui = ctx.config.ui
    if ui is None:
        return []
    tree = CommitTree(ctx.git, ctx.commit)
    links = tree.links()
    if not links:
        return []
    output = normalise(f"{ui.path}/{ui.output}")
    manifests = {normalise(f"{ui.path}/{name}") for name in ("package.json", "package-lock.json")}
    found = sorted(
        link
        for link in links
        if output == link
        or output.startswith(link + "/")
        or link.startswith(output + "/")
        or link in manifests
    )
    if not found:
        return []
    listed = ", ".join(f"{link} -> {tree.target(link)}" for link in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return [
        f"{ctx.tag} holds symbolic links where the UI is built and zipped ({listed}{more}): "
        "a link could carry any file of the machine into the deployed zip; replace each link "
        "with the file or folder itself"
    ]


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
