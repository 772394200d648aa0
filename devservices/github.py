"""A local server that behaves as GitHub's REST API for releases and assets (a contract server).

GitHub cannot run here, so tests and ``invoke demo`` talk to this server, which follows the
documented contract of the endpoints the release tool uses, for one repository:

- ``GET /repos/{owner}/{repo}``: the repository (``full_name``, ``permissions``...);
- ``GET /repos/{owner}/{repo}/releases?per_page=&page=``: the releases, newest first, drafts
  included (the token may push), paged with a ``Link: <...>; rel="next"`` header;
- ``POST /repos/{owner}/{repo}/releases``: ``201`` and the release (``id``, ``tag_name``,
  ``name``, ``body``, ``draft``, ``prerelease``, ``html_url``, ``upload_url`` on the separate
  uploads host, ``assets``); ``422`` ``already_exists`` (``Release.tag_name``) when a published
  release of the tag is there, ``missing_field`` without ``tag_name``, ``invalid`` for a
  ``make_latest`` other than ``"true"``, ``"false"`` or ``"legacy"``. Drafts of one tag may be
  many;
- ``GET``, ``PATCH`` and ``DELETE /repos/{owner}/{repo}/releases/{id}``; publishing a draft
  (``draft: false``) when another release of its tag is published is ``422 already_exists``;
- ``GET /repos/{owner}/{repo}/releases/tags/{tag}``: the published release of the tag (a draft
  is not found by its tag: ``404``); ``GET .../releases/latest``: the release marked latest
  (``make_latest: "true"``, or ``"legacy"``/absent for the newest final release);
- ``GET /repos/{owner}/{repo}/releases/{id}/assets``; ``GET`` and ``DELETE
  .../releases/assets/{id}`` (with ``Accept: application/octet-stream``: ``302`` to the bytes
  on the uploads host, fetched without the token);
- on the uploads host: ``POST /repos/{owner}/{repo}/releases/{id}/assets?name=``: ``201`` and
  the asset (``id``, ``name``, ``size``, ``state: "uploaded"``, ``digest: "sha256:..."``,
  ``browser_download_url``); ``422 already_exists`` (``ReleaseAsset.name``) when the release
  has an asset of that name;
- without ``Authorization: Bearer <token>`` (or ``token <token>``) of the server's token:
  ``401 Bad credentials``; another repository: ``404 Not Found``; a token without push
  access (``push=False``): ``403 Resource not accessible by integration`` for any change.

Every answer carries ``x-ratelimit-*`` headers. Faults on demand (``fail_next``): a primary
rate limit (``403`` with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``), a secondary
one (``429`` with ``retry-after``), any ``5xx``, an answer lost after the request was done
(``lost``: the connection closes without an answer) and a broken upload (``broken``: an
incomplete asset, ``state: "starter"``, is left and the connection closes). ``digests=False``
answers assets without their ``digest`` (as GitHub did before it gave one). Every request is
kept in ``requests`` (no token), every release in ``releases``, for assertions.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from devservices import LOCALHOST, LocalService, serve_http, stop_http

__all__ = ["Fault", "GitHubServer", "Received", "demo_server"]

_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_ROUTES = [
    ("repository", re.compile(rf"^{_REPO}/?$")),
    ("releases", re.compile(rf"^{_REPO}/releases/?$")),
    ("latest", re.compile(rf"^{_REPO}/releases/latest/?$")),
    ("by_tag", re.compile(rf"^{_REPO}/releases/tags/(?P<tag>.+)$")),
    ("asset", re.compile(rf"^{_REPO}/releases/assets/(?P<asset>\d+)/?$")),
    ("assets", re.compile(rf"^{_REPO}/releases/(?P<id>\d+)/assets/?$")),
    ("release", re.compile(rf"^{_REPO}/releases/(?P<id>\d+)/?$")),
]
_DOWNLOAD = re.compile(r"^/download/(?P<asset>\d+)/[^/]+$")
_DOCS = "https://docs.github.com/rest/releases"


@dataclass
class Fault:
    """One answer given instead of the normal one, to the next matching request."""

    status: int  # 403/429 (rate limits), 5xx; 0: "lost" or "broken" (no answer at all)
    method: str | None = None  # None: any method
    path: str | None = None  # a part of the path the request must hold
    retry_after: float | None = None  # 429: the retry-after header
    reset_in: float | None = None  # 403: x-ratelimit-reset this many seconds from now
    lost: bool = False  # do the request, then close the connection without an answer
    broken: bool = False  # an upload: leave an incomplete asset, close without an answer


@dataclass
class Received:
    """A request as the server saw it (never its token)."""

    host: str  # "api" or "uploads"
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any  # the JSON body, or the size of an upload
    status: int = 0


@dataclass
class _State:
    repository: str
    token: str
    push: bool
    digests: bool
    lock: threading.Lock = field(default_factory=threading.Lock)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[int, bytes] = field(default_factory=dict)  # asset id -> its bytes
    requests: list[Received] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    latest: int | None = None
    next_id: int = 100
    api: str = ""
    uploads: str = ""
    journal: Path | None = None

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def write_journal(self) -> None:
        if self.journal is not None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self.journal.write_text(json.dumps(self.releases, indent=2) + "\n", encoding="utf-8")


class GitHubServer(LocalService):
    """GitHub's releases API for ``repository`` on 127.0.0.1: ``url`` is what
    ``GITHUB_API_URL`` would hold; uploads go to a second port (``uploads_url``)."""

    def __init__(
        self,
        repository: str = "demo/demo",
        token: str | None = None,
        *,
        push: bool = True,
        digests: bool = True,
        journal: Path | None = None,
    ) -> None:
        self._state = _State(
            repository=repository,
            token=token or f"ghs_{secrets.token_urlsafe(27)}",
            push=push,
            digests=digests,
            journal=journal,
        )
        self._servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(self) -> GitHubServer:
        if self._servers:
            return self
        for host in ("api", "uploads"):
            handler = type("Handler", (_Handler,), {"state": self._state, "host": host})
            self._servers.append(serve_http(handler, f"github-contract-{host}"))
        api, uploads = (f"http://{LOCALHOST}:{s.server_address[1]}" for s, _ in self._servers)
        self._state.api, self._state.uploads = api, uploads
        return self

    def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server, thread in servers:
            stop_http(server, thread)

    # -- what tests use ------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self._state.api:
            raise RuntimeError("the GitHub contract server is not running")
        return self._state.api

    @property
    def uploads_url(self) -> str:
        return self._state.uploads

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def repository(self) -> str:
        return self._state.repository

    def env(self) -> dict[str, str]:
        """The environment that points the release tool at this server."""
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": self.token,
            "GITHUB_REPOSITORY": self.repository,
        }

    def describe(self) -> str:
        where = f"; releases in {self._state.journal}" if self._state.journal else ""
        return f"GitHub API (contract server): {self.url}, uploads {self.uploads_url}{where}"

    @property
    def releases(self) -> list[dict[str, Any]]:
        """Every release, oldest first (copies, assets included)."""
        with self._state.lock:
            return [json.loads(json.dumps(r)) for _, r in sorted(self._state.releases.items())]

    @property
    def latest_id(self) -> int | None:
        return self._state.latest

    def blob(self, asset_id: int) -> bytes:
        with self._state.lock:
            return self._state.blobs[asset_id]

    @property
    def requests(self) -> list[Received]:
        with self._state.lock:
            return list(self._state.requests)

    def received(self, method: str, host: str | None = None) -> list[Received]:
        return [r for r in self.requests if r.method == method and host in (None, r.host)]

    def fail_next(self, status: int = 0, *, count: int = 1, **options: Any) -> None:
        """Answer the next ``count`` matching requests with a ``Fault`` (see its fields)."""
        with self._state.lock:
            for _ in range(count):
                self._state.faults.append(Fault(status, **options))

    def add_release(self, tag: str, **fields: Any) -> dict[str, Any]:
        """A release made by someone else (``draft``, ``prerelease``, ``name``...)."""
        with self._state.lock:
            release = _new_release(self._state, {"tag_name": tag, **fields})
            self._state.write_journal()
            return json.loads(json.dumps(release))

    def add_asset(self, release_id: int, name: str, data: bytes) -> dict[str, Any]:
        """An asset attached by someone else."""
        with self._state.lock:
            return dict(_new_asset(self._state, self._state.releases[release_id], name, data))


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_release(state: _State, body: dict[str, Any]) -> dict[str, Any]:
    release_id = state.new_id()
    draft = bool(body.get("draft", False))
    release = {
        "id": release_id,
        "url": f"{state.api}/repos/{state.repository}/releases/{release_id}",
        "assets_url": f"{state.api}/repos/{state.repository}/releases/{release_id}/assets",
        "upload_url": f"{state.uploads}/repos/{state.repository}/releases/{release_id}"
        "/assets{?name,label}",
        "tag_name": body["tag_name"],
        "target_commitish": body.get("target_commitish") or "main",
        "name": body.get("name") or body["tag_name"],
        "body": body.get("body") or "",
        "draft": draft,
        "prerelease": bool(body.get("prerelease", False)),
        "created_at": _now(),
        "published_at": None if draft else _now(),
        "author": {"login": "release-bot"},
        "assets": [],
    }
    _set_page(state, release)
    state.releases[release_id] = release
    if not draft:
        _mark_latest(state, release, body.get("make_latest"))
    return release


def _set_page(state: _State, release: dict[str, Any]) -> None:
    if release["draft"]:
        untagged = hashlib.sha1(str(release["id"]).encode()).hexdigest()[:20]
        page = f"untagged-{untagged}"
    else:
        page = quote(release["tag_name"], safe="")
    release["html_url"] = f"{state.api}/{state.repository}/releases/tag/{page}"


def _mark_latest(state: _State, release: dict[str, Any], make_latest: Any) -> None:
    if release["draft"] or make_latest == "false":
        return
    if make_latest == "true" or (not release["prerelease"] and state.latest is None):
        state.latest = release["id"]


def _new_asset(
    state: _State, release: dict[str, Any], name: str, data: bytes, *, complete: bool = True
) -> dict[str, Any]:
    asset_id = state.new_id()
    shown = re.sub(r"[^A-Za-z0-9._+-]", ".", name)  # GitHub renames special characters
    asset: dict[str, Any] = {
        "id": asset_id,
        "url": f"{state.api}/repos/{state.repository}/releases/assets/{asset_id}",
        "browser_download_url": f"{state.uploads}/download/{asset_id}/{quote(shown)}",
        "name": shown,
        "label": "",
        "state": "uploaded" if complete else "starter",
        "content_type": "application/octet-stream",
        "size": len(data) if complete else 0,
        "download_count": 0,
        "created_at": _now(),
        "updated_at": _now(),
        "uploader": {"login": "release-bot"},
    }
    if state.digests and complete:
        asset["digest"] = f"sha256:{hashlib.sha256(data).hexdigest()}"
    release["assets"].append(asset)
    state.blobs[asset_id] = data if complete else b""
    return asset


class _Handler(BaseHTTPRequestHandler):
    state: _State
    host: str
    protocol_version = "HTTP/1.1"
    server_version = "github-contract/1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read ``requests``

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- the frame: faults, authentication, routing -------------------------------------

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        raw = self._read_body()
        is_upload = self.host == "uploads" and method == "POST"
        body: Any = len(raw) if is_upload else _json(raw)
        received = Received(self.host, method, parts.path, query, body)
        state = self.state
        with state.lock:
            state.requests.append(received)
            fault = self._take_fault(method, parts.path)
        if fault is not None and fault.status:
            self._fault(fault, received)
            return
        if fault is not None and fault.lost and method in ("GET", "DELETE"):
            received.status = -1
            self.close_connection = True
            return
        download = _DOWNLOAD.match(parts.path)
        if self.host == "uploads" and download and method == "GET":
            self._download(int(download.group("asset")), received)
            return
        if not self._authorized():
            self._error(401, "Bad credentials", received)
            return
        route, match = self._route(parts.path)
        if match is None or f"{match['owner']}/{match['repo']}" != state.repository:
            self._error(404, "Not Found", received)
            return
        if method != "GET" and not state.push:
            self._error(403, "Resource not accessible by integration", received)
            return
        if self.host == "uploads":
            if route != "assets" or method != "POST":
                self._error(404, "Not Found", received)
                return
            self._upload(int(match["id"]), query, raw, received, fault)
            return
        handler = getattr(self, f"_{route}_{method.lower()}", None)
        if handler is None:
            self._error(404 if route is None else 405, "Not Found", received)
            return
        handler(match, query, body, received, fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.method not in (None, method) or (fault.path and fault.path not in path):
                continue
            if fault.broken and self.host != "uploads":
                continue
            self.state.faults.remove(fault)
            return fault
        return None

    def _route(self, path: str) -> tuple[str | None, re.Match[str] | None]:
        for name, pattern in _ROUTES:
            match = pattern.match(path)
            if match:
                return name, match
        return None, None

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("bearer", "token") and value == self.state.token

    def _fault(self, fault: Fault, received: Received) -> None:
        if fault.status == 429:
            headers = {"retry-after": f"{fault.retry_after or 0:g}"}
            message = "You have exceeded a secondary rate limit."
            self._send(429, {"message": message, "documentation_url": _DOCS}, received, headers)
            return
        if fault.status == 403:
            reset = int(time.time() + (fault.reset_in or 0))
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
            message = "API rate limit exceeded for installation ID 1."
            self._send(403, {"message": message, "documentation_url": _DOCS}, received, headers)
            return
        self._send(fault.status, {"message": "Server Error"}, received)

    # -- the API -----------------------------------------------------------------------

    def _repository_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        owner, name = self.state.repository.split("/")
        permissions = {
            "admin": False,
            "maintain": False,
            "push": self.state.push,
            "triage": True,
            "pull": True,
        }
        repository = {
            "id": 1,
            "name": name,
            "full_name": self.state.repository,
            "owner": {"login": owner},
            "private": False,
            "html_url": f"{self.state.api}/{self.state.repository}",
            "default_branch": "main",
            "permissions": permissions,
        }
        self._send(200, repository, received)

    def _releases_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        per_page = max(1, min(100, int(query.get("per_page", ["30"])[0])))
        page = max(1, int(query.get("page", ["1"])[0]))
        with self.state.lock:
            ordered = [self.state.releases[k] for k in sorted(self.state.releases, reverse=True)]
            items = ordered[(page - 1) * per_page : page * per_page]
            more = len(ordered) > page * per_page
            items = json.loads(json.dumps(items))
        headers = {}
        if more:
            path = f"/repos/{self.state.repository}/releases?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{self.state.api}{path}>; rel="next"'
        self._send(200, items, received, headers)

    def _releases_post(self, match: Any, query: Any, body: Any, received: Received, fault: Any):
        if not isinstance(body, dict):
            self._error(400, "Problems parsing JSON", received)
            return
        invalid = self._invalid(body, creating=True)
        if invalid:
            self._send(422, invalid, received)
            return
        state = self.state
        with state.lock:
            if any(
                r["tag_name"] == body["tag_name"] and not r["draft"]
                for r in state.releases.values()
            ):
                self._send(422, _already_exists("Release", "tag_name"), received)
                return
            release = _new_release(state, body)
            state.write_journal()
            answer = json.loads(json.dumps(release))
        self._answer(201, answer, received, fault)

    def _release_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        with self.state.lock:
            release = self.state.releases.get(int(match["id"]))
            answer = json.loads(json.dumps(release)) if release else None
        if answer is None:
            self._error(404, "Not Found", received)
        else:
            self._send(200, answer, received)

    def _release_patch(self, match: Any, query: Any, body: Any, received: Received, fault: Any):
        state = self.state
        if not isinstance(body, dict):
            self._error(400, "Problems parsing JSON", received)
            return
        invalid = self._invalid(body, creating=False)
        if invalid:
            self._send(422, invalid, received)
            return
        with state.lock:
            release = state.releases.get(int(match["id"]))
            if release is None:
                self._error(404, "Not Found", received)
                return
            tag = body.get("tag_name", release["tag_name"])
            publishing = release["draft"] and body.get("draft") is False
            if publishing and any(
                r["tag_name"] == tag and not r["draft"] and r["id"] != release["id"]
                for r in state.releases.values()
            ):
                self._send(422, _already_exists("Release", "tag_name"), received)
                return
            for key in ("tag_name", "name", "body", "prerelease", "draft", "target_commitish"):
                if key in body:
                    release[key] = body[key]
            if publishing:
                release["published_at"] = _now()
            _set_page(state, release)
            if not release["draft"] and (publishing or body.get("make_latest") == "true"):
                _mark_latest(state, release, body.get("make_latest"))
            state.write_journal()
            answer = json.loads(json.dumps(release))
        self._answer(200, answer, received, fault)

    def _release_delete(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        with self.state.lock:
            found = self.state.releases.pop(int(match["id"]), None)
            self.state.write_journal()
        if found:
            self._send(204, None, received)
        else:
            self._error(404, "Not Found", received)

    def _by_tag_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        tag = unquote(match["tag"])
        with self.state.lock:
            found = [r for r in self.state.releases.values() if r["tag_name"] == tag]
            published = [json.loads(json.dumps(r)) for r in found if not r["draft"]]
        if published:
            self._send(200, published[0], received)
        else:
            self._error(404, "Not Found", received)

    def _latest_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        with self.state.lock:
            release = self.state.releases.get(self.state.latest or -1)
            answer = json.loads(json.dumps(release)) if release else None
        if answer:
            self._send(200, answer, received)
        else:
            self._error(404, "Not Found", received)

    def _assets_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        with self.state.lock:
            release = self.state.releases.get(int(match["id"]))
            assets = json.loads(json.dumps(release["assets"])) if release else None
        if assets is None:
            self._error(404, "Not Found", received)
        else:
            self._send(200, assets, received)

    def _asset_get(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        asset_id = int(match["asset"])
        found = self._find_asset(asset_id)
        if found is None:
            self._error(404, "Not Found", received)
        elif "application/octet-stream" in (self.headers.get("Accept") or ""):
            self._send(302, None, received, {"Location": found["browser_download_url"]})
        else:
            self._send(200, found, received)

    def _asset_delete(self, match: Any, query: Any, body: Any, received: Received, _: Any):
        asset_id = int(match["asset"])
        with self.state.lock:
            for release in self.state.releases.values():
                kept = [a for a in release["assets"] if a["id"] != asset_id]
                if len(kept) != len(release["assets"]):
                    release["assets"] = kept
                    self.state.blobs.pop(asset_id, None)
                    self.state.write_journal()
                    self._send(204, None, received)
                    return
        self._error(404, "Not Found", received)

    def _find_asset(self, asset_id: int) -> dict[str, Any] | None:
        with self.state.lock:
            for release in self.state.releases.values():
                for asset in release["assets"]:
                    if asset["id"] == asset_id:
                        return dict(asset)
        return None

    # -- the uploads host ----------------------------------------------------------------

    def _upload(
        self, release_id: int, query: Any, data: bytes, received: Received, fault: Fault | None
    ) -> None:
        name = (query.get("name") or [""])[0]
        if not name:
            missing = {"resource": "ReleaseAsset", "code": "missing_field", "field": "name"}
            self._send(422, {"message": "Validation Failed", "errors": [missing]}, received)
            return
        if not self.headers.get("Content-Type"):
            self._error(400, "Content-Type header is required", received)
            return
        state = self.state
        with state.lock:
            release = state.releases.get(release_id)
            if release is None:
                self._error(404, "Not Found", received)
                return
            if any(a["name"] == name for a in release["assets"]):
                self._send(422, _already_exists("ReleaseAsset", "name"), received)
                return
            broken = fault is not None and fault.broken
            asset = _new_asset(state, release, name, data, complete=not broken)
            state.write_journal()
            answer = dict(asset)
        if broken:
            self.close_connection = True
            return
        self._answer(201, answer, received, fault)

    def _download(self, asset_id: int, received: Received) -> None:
        if self.headers.get("Authorization"):  # storage is not GitHub: no token goes there
            self._error(400, "the token was sent to the storage host", received)
            return
        with self.state.lock:
            data = self.state.blobs.get(asset_id)
        if data is None:
            self._error(404, "Not Found", received)
            return
        received.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- answers -------------------------------------------------------------------------

    @staticmethod
    def _invalid(body: dict[str, Any], *, creating: bool) -> dict[str, Any] | None:
        errors = []
        if creating and not body.get("tag_name"):
            errors.append({"resource": "Release", "code": "missing_field", "field": "tag_name"})
        latest = body.get("make_latest")
        if latest is not None and latest not in ("true", "false", "legacy"):
            errors.append({"resource": "Release", "code": "invalid", "field": "make_latest"})
        if errors:
            return {"message": "Validation Failed", "errors": errors, "documentation_url": _DOCS}
        return None

    def _answer(self, status: int, body: Any, received: Received, fault: Fault | None) -> None:
        """The answer, or (a ``lost`` fault) none: the work is done, the connection closes."""
        if fault is not None and fault.lost:
            received.status = -1
            self.close_connection = True
            return
        self._send(status, body, received)

    def _error(self, status: int, message: str, received: Received) -> None:
        self._send(status, {"message": message, "documentation_url": _DOCS}, received)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self, status: int, body: Any, received: Received, headers: dict[str, str] | None = None
    ) -> None:
        received.status = status
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            limits = {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "4999",
                "x-ratelimit-reset": str(int(time.time()) + 3600),
                "x-ratelimit-resource": "core",
                **(headers or {}),
            }
            for name, value in limits.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return ValueError


def _already_exists(resource: str, field_name: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": "already_exists", "field": field_name}],
        "documentation_url": _DOCS,
    }


@contextmanager
def demo_server(workdir: Path) -> Iterator[GitHubServer]:
    """The GitHub ``invoke demo`` releases to; its releases land in ``workdir/releases.json``."""
    with GitHubServer("demo/demo", journal=workdir / "releases.json") as server:
        yield server
