"""``RegistryClient.blob`` (an image config, to read its revision label): against the real
registry, and against a contract server where the registry redirects blob downloads to its
storage on another host, as GHCR, Docker Hub and S3-backed registries do.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from devservices.registry import Registry
from release.core.config import Registry as RegistryConfig
from release.steps.images.provenance import config_revision
from release.steps.images.registry import BLOB_LIMIT, RegistryClient, RegistryError
from tests.oci import session, upload_blob

USER, PASSWORD = "reader", "blob-reader-pa55word"
CONFIG = b'{"config": {"Labels": {"org.opencontainers.image.revision": "abc123"}}}'


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("blob-registry")) as started:
        yield started


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_config_blob_is_read_and_its_revision_label_found(registry: Registry) -> None:
    http = session()
    try:
        digest = upload_blob(http, registry.url, "acme/app", CONFIG)
    finally:
        http.close()
    with RegistryClient(RegistryConfig(registry.host)) as client:
        data = client.blob("acme/app", digest, len(CONFIG))
    assert data == CONFIG
    assert config_revision(data) == "abc123"


def test_a_missing_or_oversized_blob_is_one_clear_line(registry: Registry) -> None:
    missing = digest_of(b"nothing here")
    with RegistryClient(RegistryConfig(registry.host)) as client:
        with pytest.raises(RegistryError, match=f"blob {missing} of acme/app does not exist"):
            client.blob("acme/app", missing)
        with pytest.raises(RegistryError, match="more than an image config holds"):
            client.blob("acme/app", missing, BLOB_LIMIT + 1)
        with pytest.raises(RegistryError, match="names a blob"):
            client.blob("acme/app", "../../etc/passwd")


# -- contract server: a registry whose blobs live in a storage on another host ---------------


class Server:
    """A loopback HTTP server answering with ``handle(handler) -> (status, headers, body)``;
    it records each request's path and headers."""

    def __init__(self, handle: Any) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                status, headers, body = handle(self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def storage_registry(stored: bytes, location: str | None = None) -> tuple[Server, Server]:
    """A Basic-auth registry redirecting blob GETs to a storage server (``localhost``, another
    origin than ``127.0.0.1``) that serves ``stored`` to anyone holding the signed URL."""
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    storage = Server(lambda h: (200, {"Content-Type": "application/octet-stream"}, stored))

    def registry(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if handler.headers.get("Authorization") != expected:
            return 401, {"WWW-Authenticate": 'Basic realm="test"'}, b"{}"
        if "/blobs/" in handler.path:
            target = location or f"http://localhost:{storage.port}/data?signature=s1gned"
            return 307, {"Location": target}, b""
        return 404, {}, b"{}"

    return Server(registry), storage


def test_a_blob_redirected_to_storage_is_fetched_without_the_credentials() -> None:
    registry, storage = storage_registry(CONFIG)
    with registry, storage:
        host = f"127.0.0.1:{registry.port}"
        with RegistryClient(RegistryConfig(host), USER, PASSWORD) as client:
            data = client.blob("acme/app", digest_of(CONFIG))
    assert data == CONFIG
    assert any("Authorization" in headers for _, headers in registry.requests)
    [(path, headers)] = storage.requests
    assert path == "/data?signature=s1gned"
    assert "Authorization" not in headers


def test_a_storage_answer_that_does_not_match_the_digest_is_refused() -> None:
    registry, storage = storage_registry(b'{"config": {}}')
    with registry, storage:
        host = f"127.0.0.1:{registry.port}"
        with RegistryClient(RegistryConfig(host), USER, PASSWORD) as client:
            with pytest.raises(RegistryError, match="does not match its digest"):
                client.blob("acme/app", digest_of(CONFIG))


def test_a_blob_redirect_to_plain_http_elsewhere_is_not_followed() -> None:
    registry, storage = storage_registry(CONFIG, location="http://storage.invalid/data")
    with registry, storage:
        host = f"127.0.0.1:{registry.port}"
        with RegistryClient(RegistryConfig(host), USER, PASSWORD) as client:
            with pytest.raises(RegistryError, match=r"another host \(storage.invalid\)"):
                client.blob("acme/app", digest_of(CONFIG))
    assert storage.requests == []
