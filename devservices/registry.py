"""A real OCI registry for the tests: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1.

The configuration is generated per instance: filesystem storage in the temporary directory,
deletes enabled (the tool's server-side retag and cleanups use them), and optionally
authentication, either htpasswd (Basic) or ``auth: token`` (Bearer). For token mode this
module only writes the configuration; the token server that issues tokens is a separate
piece the tests start beside it.

Plain HTTP: Docker and the release tool treat 127.0.0.1 as an insecure registry already.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from devservices import (
    LOCALHOST,
    LocalService,
    ServiceError,
    ServiceProcess,
    start_http_service,
    write_htpasswd,
)

__all__ = ["REGISTRY_BINARY", "Registry", "TokenAuth", "registry_binary"]

REGISTRY_BINARY = "/usr/bin/docker-registry"
"""Where Debian's ``docker-registry`` package installs the registry."""


def registry_binary() -> str:
    """Return the registry program: Debian's path, else ``docker-registry`` on PATH."""
    if os.access(REGISTRY_BINARY, os.X_OK):
        return REGISTRY_BINARY
    found = shutil.which("docker-registry")
    if found is None:
        raise ServiceError(
            f"no registry binary: {REGISTRY_BINARY} is missing and docker-registry is not on "
            "PATH (install Debian's docker-registry package)"
        )
    return found


@dataclass(frozen=True)
class TokenAuth:
    """The ``auth: token`` settings: where clients get a token and how the registry checks it.

    ``rootcertbundle`` holds the certificate(s) whose keys sign the tokens; ``realm`` is the
    token endpoint the registry's 401 challenge points to; ``service`` and ``issuer`` must
    match the token's ``aud`` and ``iss`` claims.
    """

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


class Registry(LocalService):
    """docker-registry storing under ``workdir/storage`` on a free port.

    Without ``username``/``password`` and ``token`` it is open. With ``username`` and
    ``password`` it asks for Basic authentication against an htpasswd file (``realm``
    names it in the challenge). With ``token`` it asks for Bearer tokens.
    ``host`` is what goes in an image reference (``127.0.0.1:PORT``), ``url`` the HTTP root.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        realm: str = "release-test",
        token: TokenAuth | None = None,
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password for htpasswd auth, or neither")
        if username is not None and token is not None:
            raise ValueError("htpasswd and token auth exclude each other: choose one")
        self.workdir = workdir
        self.username = username
        self.password = password
        self.realm = realm
        self.token = token
        self.storage_dir = workdir / "storage"
        self.config_path = workdir / "config.yml"
        self.htpasswd_path = workdir / "htpasswd"
        self.log_path = workdir / "registry.log"
        self._fixed_port = port
        self._startup_timeout = startup_timeout
        # Signs upload-session state; fixed per instance so the registry does not warn.
        self._http_secret = secrets.token_hex(16)
        self._process: ServiceProcess | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        # Never the password: reprs end up in test reports.
        state = self.host if self._port is not None else "not started"
        return f"Registry({state}, auth={self.auth_mode!r})"

    @property
    def auth_mode(self) -> str | None:
        """``"htpasswd"``, ``"token"`` or None for an open registry."""
        if self.username is not None:
            return "htpasswd"
        if self.token is not None:
            return "token"
        return None

    @property
    def port(self) -> int:
        """The port it listens on; only while started."""
        if self._port is None:
            raise ServiceError("the registry is not started")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def url(self) -> str:
        """The HTTP root, ``http://127.0.0.1:PORT`` (the API is under ``/v2/``)."""
        return f"http://{self.host}"

    def env(self) -> dict[str, str]:
        """Environment that points the release tool at this registry (with its credentials)."""
        env = {"RELEASE_REGISTRY": self.host}
        if self.username is not None and self.password is not None:
            env["RELEASE_REGISTRY_USERNAME"] = self.username
            env["RELEASE_REGISTRY_PASSWORD"] = self.password
        return env

    def start(self) -> Self:
        """Write the configuration, start the registry and wait until ``/v2/`` answers.

        An authenticating registry answers 401 there, which counts: it is up.
        """
        if self._process is not None:
            return self
        binary = registry_binary()
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        if self.username is not None and self.password is not None:
            write_htpasswd(self.htpasswd_path, self.username, self.password)
        # REGISTRY_* variables override the file; the generated file must be the whole truth.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self._process, self._port = start_http_service(
            lambda port: self._argv(binary, port),
            name=binary,
            log_path=self.log_path,
            ready_path="/v2/",
            port=self._fixed_port,
            timeout=self._startup_timeout,
            env=env,
        )
        return self

    def stop(self) -> None:
        """Stop the registry; the storage stays for inspection."""
        if self._process is not None:
            self._process.stop()
        self._process = None
        self._port = None

    def config(self, port: int) -> dict[str, Any]:
        """The registry configuration for ``port``, as written to ``config_path``."""
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": f"{LOCALHOST}:{port}",
                "secret": self._http_secret,
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
        }
        if self.username is not None:
            config["auth"] = {"htpasswd": {"realm": self.realm, "path": str(self.htpasswd_path)}}
        elif self.token is not None:
            config["auth"] = {
                "token": {
                    "realm": self.token.realm,
                    "service": self.token.service,
                    "issuer": self.token.issuer,
                    "rootcertbundle": str(self.token.rootcertbundle),
                }
            }
        return config

    def _argv(self, binary: str, port: int) -> list[str]:
        # JSON is YAML: json.dumps quotes every path and realm correctly.
        self.config_path.write_text(json.dumps(self.config(port), indent=2), encoding="utf-8")
        return [binary, "serve", str(self.config_path)]
