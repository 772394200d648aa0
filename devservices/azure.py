"""A local stand-in for Azure App Service's deployment service (Kudu), for tests and the demo.

Azure's SCM site cannot run here, so this server follows the documented contract of the
parts the release tool uses:

- ``POST /api/zipdeploy?isAsync=true`` (Kudu's zip deploy) and
  ``POST /api/publish?type=zip&async=true`` (OneDeploy, what azure/webapps-deploy uses):
  Basic authentication with the publish profile's ``userName``/``userPWD`` (401 and a
  ``WWW-Authenticate`` challenge otherwise), then ``202 Accepted`` with a ``Location`` to
  poll: ``/api/deployments/latest`` for zip deploy, ``/api/deployments/<id>`` for OneDeploy;
- ``GET /api/deployments/<id>`` and ``/api/deployments/latest``: Kudu's deployment record
  (``id``, ``status``, ``status_text``, ``complete``, ``log_url`` ...), 202 while it runs and
  200 once complete; the status goes 0 Pending -> 1 Building -> 4 Success, or 3 Failed;
- ``GET /api/deployments/<id>/log`` and ``.../log/<entry>``: the log entries and their
  details;
- ``GET /api/deployments``: the list of deployments (the release tool's credentials check);
- ``409 Conflict`` while a deployment is running (or while told to be busy).

A deployment advances one status per poll, so tests need no sleeps. ``Retry-After`` answers
tell the client to poll again at once. Every received zip is kept (``deployments``) for
assertions, and switches make the next deployment fail, hang or meet a busy site.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import quoteattr

from devservices import LOCALHOST, ThreadedHttpService

__all__ = ["KuduServer", "ReceivedDeployment", "demo_server", "publish_profile"]

PENDING, BUILDING, DEPLOYING, FAILED, SUCCESS = 0, 1, 2, 3, 4
STATUS_TEXT = {
    PENDING: "Pending",
    BUILDING: "Building",
    DEPLOYING: "Deploying",
    FAILED: "Failed",
    SUCCESS: "Success",
}


@dataclass
class ReceivedDeployment:
    """One deployment the server accepted: what was sent and how it went."""

    id: str
    api: str  # "zipdeploy" or "onedeploy"
    query: dict[str, str]
    data: bytes
    outcome: str  # "success", "failed" or "hang"
    failure: str = ""
    polls: int = 0
    status: int = PENDING
    log: list[dict[str, Any]] = field(default_factory=list)
    received: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def complete(self) -> bool:
        return self.status in (FAILED, SUCCESS)

    def files(self) -> dict[str, bytes]:
        """The zip's members: {name: content}."""
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}


class KuduServer(ThreadedHttpService):
    """The zip deploy API of one app's SCM site on 127.0.0.1 (a thread of this process)."""

    name = "kudu"

    def __init__(
        self,
        username: str = "$demo-ui",
        password: str = "kudu-test-password-0123456789",
        *,
        building_polls: int = 1,
        folder: Path | None = None,
    ) -> None:
        super().__init__()
        self.folder = folder  # where received zips are also written (the demo shows them)
        self.username = username
        self.password = password
        self.building_polls = building_polls  # polls answered with "Building" before the end
        self.deployments: list[ReceivedDeployment] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.unauthorized = 0  # requests refused with 401
        self.conflicts = 0  # requests refused with 409
        self._next: list[tuple[str, str]] = []  # queued outcomes: ("failed", message) ...
        self._busy = 0  # the next N deploy requests meet another deployment (409); -1: always
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    @property
    def app(self) -> str:
        return self.username.lstrip("$").split("__")[0]

    @property
    def slot(self) -> str | None:
        _, _, slot = self.username.lstrip("$").partition("__")
        return slot or None

    def profile(self) -> str:
        """The publish profile of this site (its credentials), as the portal downloads it."""
        return publish_profile(self.app, self.password, slot=self.slot)

    def env(self) -> dict[str, str]:
        """The variables that point ``deploy-ui`` at this server, with its credentials."""
        return {"RELEASE_AZURE_SCM_URL": self.url, "AZURE_WEBAPP_PUBLISH_PROFILE": self.profile()}

    def describe(self) -> str:
        where = f"; received zips in {self.folder}" if self.folder else ""
        return f"Azure deployment API (contract server): {self.url}/api/deployments{where}"

    # -- switches for tests ------------------------------------------------------------

    def reset(self) -> None:
        """Forget every deployment and switch; keep running on the same port."""
        with self.lock:
            self.deployments.clear()
            self.requests.clear()
            self.unauthorized = self.conflicts = 0
            self._next.clear()
            self._busy = 0
            self.building_polls = 1

    def fail_next(self, message: str = "Deployment failed: npm ERR! missing script: start") -> None:
        """The next deployment ends with status 3 (Failed), ``message`` in its log."""
        with self.lock:
            self._next.append(("failed", message))

    def hang_next(self) -> None:
        """The next deployment stays "Building" for ever (the client's timeout ends it)."""
        with self.lock:
            self._next.append(("hang", ""))

    def busy(self, requests: int = 1) -> None:
        """The next ``requests`` deploy requests meet a running deployment: 409. -1: always."""
        with self.lock:
            self._busy = requests

    @property
    def last(self) -> ReceivedDeployment:
        if not self.deployments:
            raise AssertionError("the Kudu contract server received no deployment")
        return self.deployments[-1]

    # -- the API -----------------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {token}"

    def accept(self, api: str, query: dict[str, str], data: bytes) -> ReceivedDeployment | None:
        """Start a deployment, or None when another one is running (409)."""
        with self.lock:
            if self._busy:
                self._busy -= 1 if self._busy > 0 else 0
                self.conflicts += 1
                return None
            # A deployment that never finishes holds the site, as a running one does on Azure;
            # others advance only when polled, so they do not block the next test.
            if any(not d.complete and d.outcome == "hang" for d in self.deployments):
                self.conflicts += 1
                return None
            outcome, failure = self._next.pop(0) if self._next else ("success", "")
            deployment = ReceivedDeployment(
                id=uuid.uuid4().hex,
                api=api,
                query=query,
                data=data,
                outcome=outcome,
                failure=failure,
            )
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / f"{deployment.id}.zip").write_bytes(data)
            self._log(deployment, "Updating submodules.")
            self._log(deployment, f"Received {len(data)} bytes of zip package.")
            self.deployments.append(deployment)
            return deployment

    def find(self, deployment_id: str) -> ReceivedDeployment | None:
        with self.lock:
            if deployment_id == "latest":
                return self.deployments[-1] if self.deployments else None
            return next((d for d in self.deployments if d.id == deployment_id), None)

    def poll(self, deployment: ReceivedDeployment) -> None:
        """Advance ``deployment`` by one poll: Pending -> Building ... -> Success or Failed."""
        with self.lock:
            deployment.polls += 1
            if deployment.complete or deployment.outcome == "hang":
                if deployment.outcome == "hang":
                    deployment.status = BUILDING
                return
            if deployment.polls <= self.building_polls:
                deployment.status = BUILDING
                return
            if deployment.outcome == "failed":
                self._log(deployment, "Running deployment command...")
                self._log(deployment, deployment.failure, kind=2, details=True)
                deployment.status = FAILED
            else:
                names = deployment.files()
                self._log(deployment, f"Copying {len(names)} file(s) to /home/site/wwwroot")
                self._log(deployment, "Deployment successful.")
                deployment.status = SUCCESS

    def _log(
        self, deployment: ReceivedDeployment, message: str, kind: int = 0, details: bool = False
    ) -> None:
        entry_id = uuid.uuid4().hex
        deployment.log.append(
            {
                "log_time": datetime.now(UTC).isoformat(),
                "id": entry_id,
                "message": message,
                "type": kind,
                "details_url": f"/api/deployments/{deployment.id}/log/{entry_id}"
                if details
                else None,
                "details": [f"Error: {message}", "at deployment step 'oryx build'"]
                if details
                else [],
            }
        )

    def record(self, deployment: ReceivedDeployment) -> dict[str, Any]:
        """Kudu's JSON for one deployment (``DeployResult``)."""
        return {
            "id": deployment.id,
            "status": deployment.status,
            "status_text": STATUS_TEXT[deployment.status] if deployment.status != SUCCESS else "",
            "author_email": "N/A",
            "author": "N/A",
            "deployer": "Push-Deployer" if deployment.api == "zipdeploy" else "OneDeploy",
            "message": "Created via a push deployment",
            "progress": "",
            "received_time": deployment.received,
            "start_time": deployment.received,
            "end_time": datetime.now(UTC).isoformat() if deployment.complete else None,
            "complete": deployment.complete,
            "active": deployment.status == SUCCESS,
            "is_temp": False,
            "is_readonly": True,
            "url": f"{self.url}/api/deployments/{deployment.id}",
            "log_url": f"{self.url}/api/deployments/{deployment.id}/log",
            "site_name": self.username.lstrip("$").split("__")[0],
        }


def _handler(server: KuduServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state
            pass

        def _send(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _authorized(self) -> bool:
            if server.authorized(self.headers.get("Authorization")):
                return True
            server.unauthorized += 1
            self._send(401, None, {"WWW-Authenticate": 'Basic realm="site"'})
            return False

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            server.requests.append(("POST", parts.path))
            data = self._body()
            if not self._authorized():
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/api/zipdeploy":
                api, asynchronous = "zipdeploy", query.get("isAsync", "").lower() == "true"
            elif parts.path == "/api/publish":
                api, asynchronous = "onedeploy", query.get("async", "").lower() == "true"
                if query.get("type") != "zip":
                    self._send(400, {"Message": "type=zip is required for a zip package"})
                    return
            else:
                self._send(404, {"Message": f"no such API {parts.path}"})
                return
            try:
                zipfile.ZipFile(io.BytesIO(data)).testzip()
            except zipfile.BadZipFile:
                self._send(400, {"Message": "the request body is not a zip file"})
                return
            deployment = server.accept(api, query, data)
            if deployment is None:
                self._send(
                    409,
                    {"Message": "There is a deployment currently in progress."},
                    {"Retry-After": "0"},
                )
                return
            if not asynchronous:
                while not deployment.complete and deployment.outcome != "hang":
                    server.poll(deployment)
                self._send(200 if deployment.status == SUCCESS else 500, server.record(deployment))
                return
            where = "latest?deployer=Push-Deployer" if api == "zipdeploy" else deployment.id
            self._send(
                202, None, {"Location": f"{server.url}/api/deployments/{where}", "Retry-After": "0"}
            )

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            server.requests.append(("GET", parts.path))
            if not self._authorized():
                return
            segments = parts.path.strip("/").split("/")
            if segments == ["api", "deployments"]:
                with server.lock:
                    records = [server.record(d) for d in reversed(server.deployments)]
                self._send(200, records)
                return
            if segments[:2] != ["api", "deployments"] or len(segments) < 3:
                self._send(404, {"Message": "not found"})
                return
            deployment = server.find(segments[2])
            if deployment is None:
                self._send(404, {"Message": f"deployment {segments[2]} not found"})
                return
            if len(segments) == 3:
                server.poll(deployment)
                status = 200 if deployment.complete else 202
                self._send(status, server.record(deployment), {"Retry-After": "0"})
            elif len(segments) == 4 and segments[3] == "log":
                entries = [{k: v for k, v in e.items() if k != "details"} for e in deployment.log]
                self._send(200, entries)
            elif len(segments) == 5 and segments[3] == "log":
                entry = next((e for e in deployment.log if e["id"] == segments[4]), None)
                if entry is None:
                    self._send(404, {"Message": "no such log entry"})
                    return
                self._send(
                    200,
                    [
                        {
                            "log_time": entry["log_time"],
                            "id": uuid.uuid4().hex,
                            "message": line,
                            "type": entry["type"],
                            "details_url": None,
                        }
                        for line in entry["details"]
                    ],
                )
            else:
                self._send(404, {"Message": "not found"})

    return Handler


def publish_profile(
    app: str,
    password: str,
    *,
    slot: str | None = None,
    username: str | None = None,
    methods: tuple[str, ...] = ("MSDeploy", "FTP", "ZipDeploy"),
) -> str:
    """A publish profile as the Azure portal downloads it, for ``app`` (or one of its slots).

    A slot's profile names the site ``<app>__<slot>`` (``msdeploySite``, ``userName``) and
    its hosts ``<app>-<slot>.scm.azurewebsites.net`` / ``<app>-<slot>.azurewebsites.net``.
    """
    site = f"{app}__{slot}" if slot else app
    host = f"{app}-{slot}" if slot else app
    user = username if username is not None else f"${site}"
    profiles = []
    for method in methods:
        name = {"MSDeploy": "Web Deploy", "FTP": "FTP", "ZipDeploy": "Zip Deploy"}.get(
            method, method
        )
        if method == "FTP":
            url = "ftps://waws-prod-am2-123.ftp.azurewebsites.windows.net/site/wwwroot"
            extra = ' ftpPassiveMode="True"'
        else:
            url = f"{host}.scm.azurewebsites.net:443"
            extra = f" msdeploySite={quoteattr(site)}"
        profiles.append(
            f"<publishProfile profileName={quoteattr(f'{host} - {name}')} "
            f"publishMethod={quoteattr(method)} publishUrl={quoteattr(url)}{extra} "
            f"userName={quoteattr(user)} userPWD={quoteattr(password)} "
            f"destinationAppUrl={quoteattr(f'https://{host}.azurewebsites.net')} "
            'SQLServerDBConnectionString="" mySQLDBConnectionString="" hostingProviderForumLink="" '
            'controlPanelLink="https://portal.azure.com" webSystem="WebSites">'
            "<databases /></publishProfile>"
        )
    return "<publishData>" + "".join(profiles) + "</publishData>"


def demo_server(folder: Path) -> KuduServer:
    """The SCM site of the demo's UI (``demo-ui``), keeping the zips it receives in ``folder``."""
    import secrets

    return KuduServer("$demo-ui", secrets.token_urlsafe(24), folder=folder)
