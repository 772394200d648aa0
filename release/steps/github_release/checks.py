"""Pre-flight checks of ``github-release``: the changelog it quotes, where the release goes
(``release.steps.github_release.credentials``: the API's URL, the repository, the token) and,
online, whether the token can see the repository. The GitHub client is imported only by the
online check, after ``--offline`` has had its say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from release.core.errors import ReleaseError
from release.run.notes import changelog_problems
from release.steps.github_release.credentials import (
    TOKEN_ENV,
    TOKEN_FIX,
    Target,
    api_base,
    read_token,
    repository_of,
)

if TYPE_CHECKING:
    from release.core.config import Config
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    """The changelog is text; the API URL, the repository and (unless ``--skip-credentials``)
    the token are there; online, the token can see the repository and write to it."""
    if ctx.config.github is None:
        return []
    found: list[str] = changelog_problems(ctx.git, ctx.commit, ctx.config)
    token = read_token(ctx.env)
    api: str | None = None
    repository: str | None = None
    try:
        api = api_base(ctx.env)
    except ReleaseError as error:
        found.append(str(error))
    try:
        repository = repository_of(ctx)[0]
    except ReleaseError as error:
        found.append(str(error))
    if token is None:
        if not ctx.options.skip_credentials:
            found.append(f"{TOKEN_ENV} is not set: {TOKEN_FIX}")
        return found
    if api is None or repository is None or ctx.options.offline:
        return found
    from release.steps.github_release.client import access_problem

    problem = access_problem(Target(api, repository, "", token))
    if problem is not None:
        found.append(problem)
    return found


def planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``github-release``."""
    github = config.github
    where = f" in {github.repository}" if github and github.repository else ""
    tag = version.tag(config.tag_prefix)
    if github is not None and not github.assets:
        files = "no files (assets = false)"
    elif version.kind.value == "post":
        files = "the UI zip when one was built (a rebuild: no package files)"
    else:
        files = "the built files"
    pre = ", marked as a pre-release" if version.kind.value == "pre" else ""
    return (
        f"create the GitHub release of {tag}{where} as a draft with {files}, then publish it{pre}"
    )


def published(record: Mapping[str, Any]) -> list[str]:
    """The summary's lines for ``github-release``: the release and its files."""
    lines = [f"GitHub release {record.get('html_url')} ({record.get('phase')})"]
    for asset in record.get("assets") or []:
        if isinstance(asset, Mapping):
            lines.append(f"{asset.get('name')}: sha256 {asset.get('sha256')}")
    return lines
