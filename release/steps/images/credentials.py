"""Registry credentials: ``RELEASE_REGISTRY_USERNAME``/``RELEASE_REGISTRY_PASSWORD``, else
what ``docker login`` stored in Docker's ``config.json``.

Its own module, apart from the registry client (``release.steps.images.registry``), because the
pre-flight of ``push-image`` reads them offline (``release.steps.images.checks``): reading them
needs only the standard library, not ``requests`` nor the client. Every password and token is
registered as a secret the moment it is read.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError
from release.core.gitauth import without_token

if TYPE_CHECKING:
    from release.core.config import Registry

RegistryCredentials = tuple[str | None, str | None]
"""``(username, password)``; ``(None, None)`` when none are set (the engine then pushes with
its own login, and the registry API goes anonymous)."""

_DOCKER_HUB = "https://index.docker.io/v1/"
_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def registry_credentials(registry: Registry, env: Mapping[str, str]) -> RegistryCredentials:
    """``(username, password)`` for ``registry``, or ``(None, None)`` when none are set.

    ``RELEASE_REGISTRY_USERNAME``/``RELEASE_REGISTRY_PASSWORD`` first (both or neither),
    then Docker's ``config.json`` (``$DOCKER_CONFIG``, else ``~/.docker``) as the Docker CLI
    reads it: the host's ``credHelpers`` entry, else the ``credsStore``, else the base64
    ``auth`` of the host's ``auths`` entry. The password is registered as a secret.
    """
    username = env.get("RELEASE_REGISTRY_USERNAME") or None
    password = env.get("RELEASE_REGISTRY_PASSWORD") or None
    console.register_secret(password)
    if username and password:
        return username, password
    if username or password:
        missing = "RELEASE_REGISTRY_PASSWORD" if username else "RELEASE_REGISTRY_USERNAME"
        raise ReleaseError(
            f"{missing} is not set while its partner is", "set both, or neither to use Docker's"
        )
    return docker_credentials(registry.host, env)


def docker_config_path(env: Mapping[str, str]) -> Path:
    folder = env.get("DOCKER_CONFIG")
    if folder:
        return Path(folder) / "config.json"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".docker" / "config.json"


def docker_credentials(host: str, env: Mapping[str, str]) -> RegistryCredentials:
    """What ``docker login`` stored for ``host``, or ``(None, None)``."""
    path = docker_config_path(env)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as error:
        raise ReleaseError(f"cannot read Docker's configuration {path}: {error}") from None
    if not isinstance(config, dict):
        raise ReleaseError(f"Docker's configuration {path} is not a JSON object")
    server = _server_address(host)
    helpers = config.get("credHelpers") or {}
    helper = next((name for key, name in helpers.items() if _same_registry(key, host)), None)
    if helper:
        return _from_helper(str(helper), server, env, f"credHelpers of {path}")
    if config.get("credsStore"):
        found = _from_helper(str(config["credsStore"]), server, env, f"credsStore of {path}")
        if found != (None, None):
            return found
    auths = config.get("auths") or {}
    entry = next((value for key, value in auths.items() if _same_registry(key, host)), None)
    if isinstance(entry, dict):
        return _from_auth_entry(entry, path)
    return None, None


def _from_auth_entry(entry: Mapping[str, Any], path: Path) -> RegistryCredentials:
    if entry.get("auth"):
        console.register_secret(str(entry["auth"]))
        try:
            decoded = base64.b64decode(str(entry["auth"]), validate=True).decode("utf-8")
        except ValueError:
            raise ReleaseError(
                f"an auths entry of {path} has an `auth` that is not base64"
            ) from None
        username, sep, password = decoded.partition(":")
        console.register_secret(password)
        if not sep or not username:
            raise ReleaseError(f"an auths entry of {path} has an `auth` without user:password")
        return username, password
    if entry.get("username") and entry.get("password"):
        console.register_secret(str(entry["password"]))
        return str(entry["username"]), str(entry["password"])
    return None, None


def _from_helper(name: str, server: str, env: Mapping[str, str], where: str) -> RegistryCredentials:
    program = shutil.which(f"docker-credential-{name}", path=env.get("PATH", os.defpath))
    if program is None:
        console.warn(
            f"docker-credential-{name} (named by the {where}) is not installed: "
            "no registry credentials from it"
        )
        return None, None
    try:
        result = subprocess.run(
            [program, "get"],
            input=server,
            capture_output=True,
            text=True,
            env=without_token(env),  # the job's git token is not the helper's business
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReleaseError(f"docker-credential-{name} failed: {error}") from None
    if result.returncode != 0:
        message = (result.stdout + result.stderr).strip()
        if "not found" in message.lower():
            return None, None
        raise ReleaseError(f"docker-credential-{name} get failed: {message[-200:]}")
    try:
        answer = json.loads(result.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise ReleaseError(
            f"docker-credential-{name} answered something that is not JSON"
        ) from None
    console.register_secret(secret)
    if username == "<token>":
        console.warn(
            f"docker-credential-{name} holds an identity token for {server}, which release-tasks "
            "cannot use: set RELEASE_REGISTRY_USERNAME and RELEASE_REGISTRY_PASSWORD"
        )
        return None, None
    return username, secret


def _server_address(host: str) -> str:
    """The server address Docker stores credentials under (Docker Hub has its own)."""
    return _DOCKER_HUB if host in _HUB_HOSTS else host


def _same_registry(key: str, host: str) -> bool:
    """Whether a ``config.json`` key (``host``, ``https://host/v1/``) names ``host``."""
    text = key.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    wanted = host.lower()
    if text in _HUB_HOSTS and wanted in _HUB_HOSTS:
        return True
    return text == wanted
