"""Trusted publishing's two sides as local contract servers, with the real pypiserver behind.

GitHub Actions and PyPI cannot run here, so the tests talk to these servers, which follow the
documented contracts of the endpoints the upload uses:

:class:`ActionsOIDC`, the job's OIDC ID-token endpoint (``ACTIONS_ID_TOKEN_REQUEST_URL``):

- ``GET <request URL>&audience=<aud>`` with ``Authorization: bearer <request token>``
  (``ACTIONS_ID_TOKEN_REQUEST_TOKEN``) answers ``200 {"count": 1, "value": "<JWT>"}``: a token
  whose ``aud`` claim is the requested audience (without ``audience``, the repository
  owner's URL, as GitHub does), with GitHub's claims (``iss``, ``sub``, ``repository``,
  ``repository_owner``, ``workflow_ref``, ``job_workflow_ref``, ``ref``, ``environment``,
  ``jti``, ``iat``, ``nbf``, ``exp``);
- no or another bearer token is ``401``;
- ``wrong_audience`` makes it issue tokens for that audience whatever was asked (a CI that
  misbehaves: the client must not hand such a token on).

GitHub signs with RS256 and publishes its keys; this server signs with HS256 and a key of
its own, and :meth:`ActionsOIDC.verify` is the index's check of the signature.

:class:`TrustedIndex`, an index's side (PyPI's warehouse), in front of a real pypiserver:

- ``GET /_/oidc/audience``: ``{"audience": "<aud>"}`` (``403 {"message": "Trusted publishing
  functionality not enabled"}`` when disabled);
- ``POST /_/oidc/mint-token`` with ``{"token": "<JWT>"}``: ``{"success": true, "token":
  "<API token>", "expires": <epoch seconds>}`` (15 minutes, as PyPI), or ``422 {"message":
  "Token request failed", "errors": [{"code": ..., "description": ...}]}`` with PyPI's codes:
  ``invalid-payload`` (not the JSON object, not a JWT, an unknown issuer),
  ``invalid-token`` ("malformed or invalid token": a bad signature, a token for another
  audience or expired), ``invalid-reuse-token`` (its ``jti`` was exchanged before),
  ``invalid-publisher`` ("valid token, but no corresponding publisher (Publisher with
  matching claims was not found)": the token's claims do not match ``publisher``),
  ``not-enabled``;
- every other request goes to the pypiserver: ``__token__`` with a minted token that is
  still valid becomes pypiserver's own Basic credentials (which the client never sees);
  with any other token, or one that expired, the upload is answered as PyPI answers a token
  it no longer accepts: ``403 Invalid or non-existent authentication information. See
  <url>/help/#invalid-auth for more information.`` ``uses_per_token`` makes each token
  expire after that many uploads (an upload that outlives its token).

``announce`` makes the audience endpoint name another audience than the one the exchange
verifies (an index whose two endpoints disagree: the client's token is then for the wrong
audience and the exchange answers ``invalid-token``).

Both run in a thread of the calling process on 127.0.0.1 and keep what they saw (``issued``,
``requests``, ``minted``, ``exchanges``, ``uploads``) for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devservices import LOCALHOST, ThreadedHttpService
from devservices.pypi import PypiServer

__all__ = ["ISSUER", "ActionsOIDC", "TrustedIndex"]

ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_PATH = "/_apis/distributedtask/hubs/build/plans/plan/jobs/job/idtoken"
AUDIENCE_PATH = "/_/oidc/audience"
MINT_PATH = "/_/oidc/mint-token"
MINTED_LIFETIME = 900  # PyPI's minted tokens live 15 minutes
INVALID_AUTH = "Invalid or non-existent authentication information. See {url}help/#invalid-auth for more information."  # noqa: E501
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def default_claims(repository: str = "acme/demo", environment: str = "release") -> dict[str, str]:
    """The claims of a tag push's job in ``repository``'s ``release.yml``."""
    owner = repository.split("/", 1)[0]
    workflow = f"{repository}/.github/workflows/release.yml@refs/tags/version/1.0.0"
    return {
        "sub": f"repo:{repository}:environment:{environment}",
        "repository": repository,
        "repository_owner": owner,
        "workflow_ref": workflow,
        "job_workflow_ref": workflow,
        "ref": "refs/tags/version/1.0.0",
        "ref_type": "tag",
        "environment": environment,
        "event_name": "push",
    }


class _Server(ThreadedHttpService):
    """A handler served on a thread of this process, with a lock for what it records."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The root URL, ``http://127.0.0.1:PORT/``."""
        return f"http://{LOCALHOST}:{self.port}/"


def _answer(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: Any,
    *,
    reason: str | None = None,
    content_type: str = "application/json",
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status, reason)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class ActionsOIDC(_Server):
    """GitHub Actions' ID-token endpoint for one job (its request token: ``request_token``)."""

    name = "actions-oidc"

    def __init__(
        self,
        request_token: str | None = None,
        *,
        claims: Mapping[str, str] | None = None,
        lifetime: int = 300,
        wrong_audience: str | None = None,
    ) -> None:
        super().__init__()
        self.request_token = request_token or f"actionsRequest{secrets.token_hex(12)}"
        self.claims = dict(claims or default_claims())
        self.lifetime = lifetime
        self.wrong_audience = wrong_audience
        self.key = secrets.token_bytes(32)
        self.issued: list[str] = []  # every ID token given out
        self.requests: list[tuple[str | None, bool]] = []  # (audience asked, authorized)

    def __repr__(self) -> str:
        port = self.port if self.running else None
        return f"ActionsOIDC(port={port}, issued={len(self.issued)})"

    @property
    def request_url(self) -> str:
        """``ACTIONS_ID_TOKEN_REQUEST_URL``: with a query already, as GitHub's has one."""
        return f"http://{LOCALHOST}:{self.port}{TOKEN_PATH}?api-version=2.0"

    def env(self) -> dict[str, str]:
        """A GitHub Actions job with ``permissions: id-token: write``."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def token(self, audience: str) -> str:
        """A signed ID token for ``audience`` with this job's claims."""
        now = int(time.time())
        claims = {
            **self.claims,
            "iss": ISSUER,
            "aud": audience,
            "jti": secrets.token_hex(16),
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.lifetime,
        }
        header = {"typ": "JWT", "alg": "HS256", "kid": "release-test"}
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = hmac.new(self.key, signing_input.encode("ascii"), hashlib.sha256).digest()
        token = signing_input + "." + _b64url(signature)
        with self._lock:
            self.issued.append(token)
        return token

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` when this server signed it (None: not a token of ours)."""
        try:
            signing_input, _, signature = token.rpartition(".")
            expected = hmac.new(self.key, signing_input.encode("ascii"), hashlib.sha256).digest()
            if not signing_input or not hmac.compare_digest(_unb64url(signature), expected):
                return None
            claims = json.loads(_unb64url(signing_input.split(".", 1)[1]))
        except (ValueError, IndexError, UnicodeEncodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        oidc = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != TOKEN_PATH:
                    _answer(self, 404, {"message": "Not Found"})
                    return
                audience = parse_qs(parts.query).get("audience", [None])[0]
                scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
                authorized = scheme.lower() == "bearer" and hmac.compare_digest(
                    value.encode(), oidc.request_token.encode()
                )
                with oidc._lock:
                    oidc.requests.append((audience, authorized))
                if not authorized:
                    _answer(self, 401, {"message": "Unauthorized: the request token is invalid"})
                    return
                owner = oidc.claims.get("repository_owner", "")
                wanted = oidc.wrong_audience or audience or f"https://github.com/{owner}"
                _answer(self, 200, {"count": 1, "value": oidc.token(wanted)})

        return Handler


class TrustedIndex(_Server):
    """An index's trusted publishing (audience, mint-token) in front of ``upstream``.

    ``publisher``: the claims a trusted publisher of the index requires (default: the
    issuer's own, so the exchange succeeds). ``uses_per_token``: uploads each minted token
    is good for before it expires (None: its ``lifetime``, PyPI's 15 minutes by default).
    """

    name = "trusted-index"

    def __init__(
        self,
        upstream: PypiServer,
        issuer: ActionsOIDC,
        *,
        audience: str | None = None,
        announce: str | None = None,
        publisher: Mapping[str, str] | None = None,
        uses_per_token: int | None = None,
        lifetime: int = MINTED_LIFETIME,
        enabled: bool = True,
    ) -> None:
        super().__init__()
        self.upstream = upstream
        self.issuer = issuer
        self.audience = audience or f"local-index-{secrets.token_hex(4)}"
        self.announce = announce
        self.publisher = dict(publisher) if publisher is not None else None
        self.uses_per_token = uses_per_token
        self.lifetime = lifetime
        self.enabled = enabled
        self.minted: list[str] = []  # every API token minted
        self.exchanges: list[str] = []  # "ok" or the error code of every mint-token request
        self.uploads: list[tuple[int, bool]] = []  # (status, with a valid minted token)
        self._expires: dict[str, float] = {}
        self._uses: dict[str, int] = {}
        self._used_jti: set[str] = set()

    def __repr__(self) -> str:
        port = self.port if self.running else None
        return f"TrustedIndex(port={port}, minted={len(self.minted)})"

    @property
    def upload_url(self) -> str:
        return self.url

    @property
    def index_url(self) -> str:
        return f"{self.url}simple/"

    def env(self) -> dict[str, str]:
        """The index's URLs for the release tool, and no credentials."""
        return {"TWINE_REPOSITORY_URL": self.upload_url, "RELEASE_INDEX_URL": self.index_url}

    # -- the exchange ---------------------------------------------------------------------

    def mint(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The answer to a mint-token request."""
        status, answer = self._mint(body)
        with self._lock:
            self.exchanges.append("ok" if status == 200 else str(answer["errors"][0]["code"]))
        return status, answer

    def _mint(self, body: bytes) -> tuple[int, dict[str, Any]]:
        if not self.enabled:
            return _refusal("not-enabled", "OIDC functionality not enabled")
        try:
            payload = json.loads(body)
            token = payload["token"]
            if not isinstance(payload, dict) or not isinstance(token, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _refusal("invalid-payload", "1 validation error for TokenPayload")
        try:
            unverified = json.loads(_unb64url(token.split(".")[1]))
            issuer = unverified["iss"]
        except (ValueError, IndexError, KeyError, TypeError):
            return _refusal("invalid-payload", "malformed JWT")
        if issuer != ISSUER:
            return _refusal("invalid-payload", "unknown trusted publishing issuer")
        claims = self.issuer.verify(token)
        audiences = claims.get("aud") if claims else None
        if isinstance(audiences, str):
            audiences = [audiences]
        if (
            claims is None
            or self.audience not in (audiences or [])
            or float(claims.get("exp", 0)) < time.time()
        ):
            return _refusal("invalid-token", "malformed or invalid token")
        wanted = self.publisher if self.publisher is not None else self.issuer.claims
        if any(claims.get(key) != value for key, value in wanted.items()):
            return _refusal(
                "invalid-publisher",
                "valid token, but no corresponding publisher "
                "(Publisher with matching claims was not found)",
            )
        with self._lock:
            if claims["jti"] in self._used_jti:
                return _refusal("invalid-reuse-token", "invalid token: already used")
            self._used_jti.add(claims["jti"])
            minted = f"pypi-minted{secrets.token_urlsafe(24)}"
            expires = int(time.time()) + self.lifetime
            self.minted.append(minted)
            self._expires[minted] = expires
            self._uses[minted] = 0
        return 200, {"success": True, "token": minted, "expires": expires}

    def _valid(self, token: str) -> bool:
        with self._lock:
            expires = self._expires.get(token)
            if expires is None or expires < time.time():
                return False
            if self.uses_per_token is not None and self._uses[token] >= self.uses_per_token:
                return False
            return True

    def _used(self, token: str) -> None:
        with self._lock:
            self._uses[token] = self._uses.get(token, 0) + 1

    # -- the proxy ------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_GET(self) -> None:
                if urlsplit(self.path).path == AUDIENCE_PATH:
                    if not index.enabled:
                        message = "Trusted publishing functionality not enabled"
                        _answer(self, 403, {"message": message})
                        return
                    _answer(self, 200, {"audience": index.announce or index.audience})
                    return
                self._forward(b"")

            def do_HEAD(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self._body()
                if urlsplit(self.path).path == MINT_PATH:
                    status, answer = index.mint(body)
                    _answer(self, status, answer)
                    return
                self._forward(body)

            def _forward(self, body: bytes) -> None:
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in HOP_BY_HOP | {"authorization", "host"}
                }
                token = _minted_token(self.headers.get("Authorization"))
                upload = self.command == "POST"
                if token is not None:
                    if not index._valid(token):
                        if upload:
                            with index._lock:
                                index.uploads.append((403, False))
                        reason = INVALID_AUTH.format(url=index.url)
                        _answer(
                            self, 403, reason.encode(), reason=reason, content_type="text/plain"
                        )
                        return
                    if upload:
                        index._used(token)
                    upstream = index.upstream
                    pair = f"{upstream.username}:{upstream.password}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
                connection = http.client.HTTPConnection(LOCALHOST, index.upstream.port, timeout=60)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                finally:
                    connection.close()
                if upload:
                    with index._lock:
                        index.uploads.append((response.status, token is not None))
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        return Handler


def _refusal(code: str, description: str) -> tuple[int, dict[str, Any]]:
    return 422, {
        "message": "Token request failed",
        "errors": [{"code": code, "description": description}],
    }


def _minted_token(authorization: str | None) -> str | None:
    """The password of ``Basic __token__:<password>`` (None: no such header)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
    except ValueError:
        return None
    return password if user == "__token__" else None
