"""A token server for a registry configured with ``auth: token`` (the Docker token spec).

The registry answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``;
the client asks the realm for a token (``GET realm?service=...&scope=...`` with Basic
credentials) and retries with ``Authorization: Bearer <token>``. This server is the realm:
it checks one user's password and issues RS256 JWTs that Debian's docker-registry (2.8)
verifies against ``rootcertbundle``. The token's header carries the signing certificate
(``x5c``); the certificate is self-signed and is the bundle, so the chain verifies.

Claims follow the registry's expectations: ``iss`` (its ``issuer``), ``aud`` (its
``service``), ``exp``/``nbf``/``iat``, and ``access``: for the right password every
requested action of every requested scope; without credentials no access at all (the
registry then refuses the request), and a wrong password is a 401 here.

It runs in a thread of the calling process (the tests' session), on 127.0.0.1. ``issued``
lists (account, scopes) of every token given out, so tests can see the flow happened.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from devservices import LOCALHOST, ServiceError, ThreadedHttpService
from devservices.registry import TokenAuth

__all__ = ["Signer", "TokenServer", "make_signer"]

TOKEN_PATH = "/token"


@dataclass(frozen=True)
class Signer:
    """An RSA key and its self-signed certificate (the registry's ``rootcertbundle``)."""

    key: Any  # cryptography RSAPrivateKey
    certificate_der: bytes
    certificate_pem: bytes


def make_signer(common_name: str) -> Signer:
    """A new RSA key with a self-signed CA certificate for ``common_name``, valid 30 days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Signer(
        key,
        certificate.public_bytes(serialization.Encoding.DER),
        certificate.public_bytes(serialization.Encoding.PEM),
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenServer(ThreadedHttpService):
    """The realm of a token-auth registry: one user, RS256 tokens, on a free port.

    ``auth()`` is the :class:`TokenAuth` to start the registry with (call it after
    ``start``). ``username``/``password`` is the one account that gets access.
    """

    name = "token-server"

    def __init__(
        self,
        workdir: Path,
        username: str,
        password: str,
        *,
        service: str = "release-test-registry",
        issuer: str = "release-test-token-server",
        ttl: int = 300,
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self.username = username
        self.password = password
        self.service = service
        self.issuer = issuer
        self.ttl = ttl
        self.certificate_path = workdir / "token-root.pem"
        self.issued: list[tuple[str | None, tuple[str, ...]]] = []
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = self.realm if self.running else "not started"
        return f"TokenServer({state}, user={self.username!r})"

    @property
    def realm(self) -> str:
        return f"http://{LOCALHOST}:{self.port}{TOKEN_PATH}"

    def auth(self) -> TokenAuth:
        """The registry's ``auth: token`` settings for this server."""
        return TokenAuth(
            realm=self.realm,
            service=self.service,
            issuer=self.issuer,
            rootcertbundle=self.certificate_path,
        )

    def start(self) -> Self:
        """Make a new signing key and its certificate (the bundle), then serve the realm."""
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._signer = make_signer(self.issuer)
        self.certificate_path.write_bytes(self._signer.certificate_pem)
        return super().start()

    # -- tokens ----------------------------------------------------------------------------

    def token(self, account: str | None, scopes: list[str]) -> str:
        """An RS256 JWT for ``account`` granting ``scopes`` (none when ``account`` is None)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        if self._signer is None:
            raise ServiceError("the token server is not started")
        now = int(time.time())
        access = [] if account is None else [_access(scope) for scope in scopes]
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + self.ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": [a for a in access if a is not None],
        }
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self._signer.certificate_der).decode("ascii")],
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self._signer.key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        with self._lock:
            self.issued.append((account, tuple(scopes)))
        return signing_input + "." + _b64url(signature)

    def _account(self, authorization: str | None) -> tuple[bool, str | None]:
        """(ok, account): no header is anonymous; a wrong password is not ok."""
        if not authorization:
            return True, None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            username, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except ValueError:
            return False, None
        if secrets.compare_digest(username, self.username) and secrets.compare_digest(
            password, self.password
        ):
            return True, username
        return False, None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the tests read ``issued`` instead

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != TOKEN_PATH:
                    self._answer(404, {"error": "not found"})
                    return
                query = parse_qs(parts.query)
                if query.get("service", [""])[0] != server.service:
                    self._answer(400, {"error": f"unknown service, expected {server.service}"})
                    return
                ok, account = server._account(self.headers.get("Authorization"))
                if not ok:
                    self._answer(401, {"details": "incorrect username or password"})
                    return
                scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
                token = server.token(account, scopes)
                issued = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                self._answer(
                    200,
                    {
                        "token": token,
                        "access_token": token,
                        "expires_in": server.ttl,
                        "issued_at": issued,
                    },
                )

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="release-test-token"')
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _access(scope: str) -> dict[str, Any] | None:
    """``repository:name:pull,push`` -> the token's access entry (names may contain ':')."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}
