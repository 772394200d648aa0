"""A real package index for the tests: ``pypiserver`` on 127.0.0.1.

It runs as ``python -m pypiserver run`` from the current interpreter, so it is the version
the test environment installed. ``--disable-fallback`` makes an unknown project a 404 instead
of a redirect to pypi.org (the tool must never follow the index to another host). Uploads
need the htpasswd user given by the caller, as PyPI needs a token; downloads are anonymous
unless asked otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Self

from devservices import (
    LOCALHOST,
    LocalService,
    ServiceError,
    ServiceProcess,
    start_http_service,
    write_htpasswd,
)

__all__ = ["PypiServer"]


class PypiServer(LocalService):
    """pypiserver serving ``workdir/packages`` on a free port, with authenticated upload.

    ``upload_url`` is the legacy upload endpoint (twine's ``--repository-url``),
    ``index_url`` the simple API. ``env()`` gives the variables that point the release tool
    and twine at this server.
    """

    def __init__(
        self,
        workdir: Path,
        username: str,
        password: str,
        *,
        anonymous_download: bool = True,
        port: int | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.workdir = workdir
        self.username = username
        self.password = password
        self.anonymous_download = anonymous_download
        self.packages_dir = workdir / "packages"
        self.htpasswd_path = workdir / "htpasswd"
        self.log_path = workdir / "pypiserver.log"
        self._fixed_port = port
        self._startup_timeout = startup_timeout
        self._process: ServiceProcess | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        # Never the password: reprs end up in test reports.
        state = self.url if self._port is not None else "not started"
        return f"PypiServer({state}, user={self.username!r})"

    @property
    def port(self) -> int:
        """The port it listens on; only while started."""
        if self._port is None:
            raise ServiceError("the pypiserver is not started")
        return self._port

    @property
    def url(self) -> str:
        """The root URL, ``http://127.0.0.1:PORT/``."""
        return f"http://{LOCALHOST}:{self.port}/"

    @property
    def upload_url(self) -> str:
        """The legacy upload endpoint: pypiserver takes uploads on its root URL."""
        return self.url

    @property
    def index_url(self) -> str:
        """The simple index, ``http://127.0.0.1:PORT/simple/``."""
        return f"{self.url}simple/"

    def env(self) -> dict[str, str]:
        """Environment that points twine and the release tool at this server."""
        return {
            "TWINE_REPOSITORY_URL": self.upload_url,
            "TWINE_USERNAME": self.username,
            "TWINE_PASSWORD": self.password,
            "RELEASE_INDEX_URL": self.index_url,
        }

    def start(self) -> Self:
        """Write the htpasswd file, start pypiserver and wait for its health endpoint."""
        if self._process is not None:
            return self
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        write_htpasswd(self.htpasswd_path, self.username, self.password)
        self._process, self._port = start_http_service(
            self._argv,
            name="pypiserver",
            log_path=self.log_path,
            ready_path="/health",
            port=self._fixed_port,
            timeout=self._startup_timeout,
        )
        return self

    def stop(self) -> None:
        """Stop the server; the packages directory stays for inspection."""
        if self._process is not None:
            self._process.stop()
        self._process = None
        self._port = None

    def _argv(self, port: int) -> list[str]:
        authenticate = "update" if self.anonymous_download else "update,download,list"
        return [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "--host",
            LOCALHOST,
            "--port",
            str(port),
            "--disable-fallback",
            "--passwords",
            str(self.htpasswd_path),
            "--authenticate",
            authenticate,
            str(self.packages_dir),
        ]
