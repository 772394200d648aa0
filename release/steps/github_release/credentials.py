"""The token of the GitHub release, and where it goes: what the checks and the client share.

- the repository (``repository_of``): in GitHub Actions ``GITHUB_REPOSITORY``, else
  ``[tool.release.github] repository``, else ``GITHUB_REPOSITORY``, else the remote's URL;
- the API's base URL (``api_base``): ``GITHUB_API_URL``, default ``https://api.github.com``;
  HTTPS, or plain HTTP to this machine (the token goes there);
- the token (``read_token``): ``GITHUB_TOKEN``, registered with the console's mask the moment
  it is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from release.core import console
from release.core.configreader import GITHUB_REPOSITORY
from release.core.errors import ReleaseError
from release.core.http import insecure_for_credentials, not_https, public_url
from release.run.links import remote_repository

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

STEP = "github-release"
TOKEN_ENV = "GITHUB_TOKEN"
API_ENV = "GITHUB_API_URL"
REPOSITORY_ENV = "GITHUB_REPOSITORY"
DEFAULT_API = "https://api.github.com"
TOKEN_FIX = (
    f"set {TOKEN_ENV} to a token that may write the repository's contents (in GitHub Actions: "
    f"`{TOKEN_ENV}: ${{{{ github.token }}}}` in a job with `contents: write`)"
)


@dataclass(frozen=True)
class Target:
    """Where the release goes: the API, the repository and why that one."""

    api: str  # the API's base URL, without a trailing slash
    repository: str  # owner/name
    source: str  # where the repository was read ("GITHUB_REPOSITORY", ...)
    token: str | None

    @property
    def page(self) -> str:
        """The repository's page, for messages (github.com's, or the server's)."""
        host = urlsplit(self.api).hostname or ""
        if host == "api.github.com":
            return f"https://github.com/{self.repository}"
        return f"{self.repository} on {public_url(self.api)}"


def read_token(env: Mapping[str, str]) -> str | None:
    """``GITHUB_TOKEN``, masked from now on; None when unset."""
    value = env.get(TOKEN_ENV, "").strip()
    if not value:
        return None
    console.register_secret(value)
    return value


def api_base(env: Mapping[str, str]) -> str:
    """``GITHUB_API_URL`` (default ``https://api.github.com``), checked: an http(s) URL without
    credentials, HTTPS unless it is this machine (the token goes there)."""
    from release.core.http import url_credentials

    value = env.get(API_ENV, "").strip() or DEFAULT_API
    url_credentials(value)  # anything in its user information is a secret from now on
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReleaseError(
            f"{API_ENV}={public_url(value)!r} is not an http(s) URL",
            f"set it to GitHub's API ({DEFAULT_API}) or your server's (https://HOST/api/v3)",
        )
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ReleaseError(
            f"{API_ENV} must be a plain URL, without credentials, query or fragment",
            f"set it to the API's base URL; the token goes in {TOKEN_ENV}",
        )
    if insecure_for_credentials(value):
        raise ReleaseError(f"{API_ENV}: {not_https(value)}", f"set {API_ENV} to its https:// URL")
    return value.rstrip("/")


def repository_of(ctx: ReleaseContext) -> tuple[str, str]:
    """The repository released to, and where it was read; raises when none is known."""
    env = ctx.env
    from_env = env.get(REPOSITORY_ENV, "").strip()
    configured = ctx.config.github.repository if ctx.config.github else None
    if from_env and (env.get("GITHUB_ACTIONS") == "true" or not configured):
        if not re.fullmatch(GITHUB_REPOSITORY, from_env):
            raise ReleaseError(
                f"{REPOSITORY_ENV}={from_env[:100]!r} is not a GitHub repository (owner/name)",
                f"set {REPOSITORY_ENV} to owner/name, or unset it",
            )
        return from_env, REPOSITORY_ENV
    if configured:
        return configured, "[tool.release.github] repository"
    remote = ctx.config.remote
    server = env.get("GITHUB_SERVER_URL", "").strip() or "https://github.com"
    found = remote_repository(ctx.git.remote_url(remote), urlsplit(server).hostname or "")
    if found is None:
        raise ReleaseError(
            f"the GitHub repository to release to is not known: the remote {remote} is not on "
            f"{urlsplit(server).hostname}",
            f'set repository = "owner/name" in [tool.release.github], or {REPOSITORY_ENV}',
        )
    return found, f"the URL of the remote {remote}"


def target_of(ctx: ReleaseContext) -> Target:
    """Where the release goes (raises with the fix when something is missing)."""
    repository, source = repository_of(ctx)
    return Target(api_base(ctx.env), repository, source, read_token(ctx.env))
