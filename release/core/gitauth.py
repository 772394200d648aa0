"""The CI job's git token: given to git's network calls, and to no other process.

The shipped workflow checks out with ``persist-credentials: false``: no token is left in
``.git/config``, where every later step (and anything it runs) could read it. The job's
token is given instead to the one step that runs release-tasks, as ``GITHUB_TOKEN`` (docs/ci.md).
Here it reaches git's network commands (``fetch``, ``push``, ``ls-remote``) only, and only in
GitHub Actions: as an ``http.<server>/.extraheader`` in the ``GIT_CONFIG_*`` variables of
that one call (an empty value first, which drops a header a checkout may have stored), and
only for remotes on the run's own server (``GITHUB_SERVER_URL``; https, or http to a
loopback host). No other child process gets it: every git call runs without the token
variables (:func:`without_token`), and the builds strip them as well
(``release.steps.pypi.dists.SECRET_VARIABLES``, ``release.steps.deploy_ui.npm``). The token,
and the header's encoded form, are masked in every output from their first use.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from release.core import console

# The variables that may hold a job's git token.
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
# git's subcommands that talk to a remote.
NETWORK_COMMANDS = frozenset({"fetch", "push", "ls-remote", "pull", "clone"})
DEFAULT_SERVER = "https://github.com"


def without_token(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the token variables: the environment of every child process."""
    return {k: v for k, v in env.items() if k not in TOKEN_VARIABLES}


def token_of(env: Mapping[str, str]) -> str | None:
    """The job's git token: ``GITHUB_TOKEN`` (or ``GH_TOKEN``) in GitHub Actions, else None."""
    if env.get("GITHUB_ACTIONS") != "true":
        return None
    for name in TOKEN_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def server_of(env: Mapping[str, str]) -> str | None:
    """The run's GitHub server (``GITHUB_SERVER_URL``) when a token may be sent to it: https,
    or plain http to a loopback host; None otherwise."""
    server = (env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER).strip().rstrip("/")
    parts = urlsplit(server)
    if not parts.hostname or parts.username or parts.password or parts.path:
        return None
    if parts.scheme == "https":
        return server
    if parts.scheme == "http" and _loopback(parts.hostname):
        return server
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_environment(env: Mapping[str, str], url: str | None) -> dict[str, str]:
    """The ``GIT_CONFIG_*`` variables that authenticate one network call to ``url`` with the
    job's token; empty without a token, or for a URL that is not on the run's server."""
    token = token_of(env)
    server = server_of(env)
    if token is None or server is None or url is None:
        return {}
    if not url.lower().startswith(server.lower() + "/"):
        return {}
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    console.register_secret(token)
    console.register_secret(encoded)
    try:
        count = max(0, int(env.get("GIT_CONFIG_COUNT", "0") or "0"))
    except ValueError:
        count = 0
    key = f"http.{server}/.extraheader"
    return {
        "GIT_CONFIG_COUNT": str(count + 2),
        f"GIT_CONFIG_KEY_{count}": key,
        f"GIT_CONFIG_VALUE_{count}": "",  # drops a header stored by the checkout
        f"GIT_CONFIG_KEY_{count + 1}": key,
        f"GIT_CONFIG_VALUE_{count + 1}": f"AUTHORIZATION: basic {encoded}",
    }


def remote_argument(args: tuple[str, ...]) -> str | None:
    """The remote (a name or a URL) of a network command: its first non-option argument."""
    for arg in args[1:]:
        if not arg.startswith("-"):
            return arg
    return None
