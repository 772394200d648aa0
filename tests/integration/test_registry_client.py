"""``release.steps.images.registry.RegistryClient`` against the real registry (open, Basic, token auth),
and against a contract server where Debian's registry 2.8 lacks the feature (tag-list
pagination) or where a misbehaving registry must be simulated (a redirect elsewhere).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devservices.registry import Registry
from devservices.tokenserver import TokenServer
from release.core import console
from release.core.config import Registry as RegistryConfig
from release.steps.images.oci import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from release.steps.images.registry import RegistryClient, RegistryError
from tests.oci import api_image, api_index, session

TOKEN_USER = "token-user"
TOKEN_PASSWORD = "token-password-not-in-output"


def client_for(registry: Registry, username: str | None = None, password: str | None = None):  # type: ignore[no-untyped-def]
    return RegistryClient(RegistryConfig(registry.host), username, password)


# -- the open registry --------------------------------------------------------------------


def test_ping_succeeds_on_an_open_registry(registry: Registry) -> None:
    with client_for(registry) as client:
        client.ping()


def test_an_unreachable_registry_is_one_clear_line() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{closed.getsockname()[1]}"
    with RegistryClient(RegistryConfig(host)) as client, pytest.raises(RegistryError) as raised:
        client.ping()
    assert str(raised.value).startswith(f"registry {host} is unreachable: ")
    assert "\n" not in str(raised.value)
    with RegistryClient(RegistryConfig(host)) as client, pytest.raises(RegistryError) as raised:
        client.reach()
    assert str(raised.value).startswith(f"registry {host} is unreachable: ")


def test_an_unknown_repository_has_no_tags_and_no_manifest(registry: Registry) -> None:
    with client_for(registry) as client:
        assert client.tags("client/never-pushed") == []
        assert client.manifest_digest("client/never-pushed", "1.0.0") is None
        with pytest.raises(RegistryError, match="does not exist"):
            client.manifest("client/never-pushed", "1.0.0")


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_every_media_type_is_copied_byte_for_byte(registry: Registry, docker: bool) -> None:
    repo = f"client/copy-{'docker' if docker else 'oci'}"
    with session() as http:
        amd64 = api_image(http, registry.url, repo, "amd64", "amd64 layer", docker=docker)
        arm64 = api_image(http, registry.url, repo, "arm64", "arm64 layer", docker=docker)
        index = api_index(http, registry.url, repo, "1.0.0", {"amd64": amd64, "arm64": arm64},
                          docker=docker)  # fmt: skip
    single_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    index_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    with client_for(registry) as client:
        for source, pushed, media_type in (
            ("amd64", amd64, single_type),
            ("1.0.0", index, index_type),
        ):
            manifest = client.manifest(repo, source)
            assert (manifest.data, manifest.media_type) == (pushed.data, media_type)
            assert manifest.digest == pushed.digest == client.manifest_digest(repo, source)
            copied = client.copy_manifest(repo, source, f"copy-of-{source}")
            again = client.manifest(repo, f"copy-of-{source}")
            assert again == manifest == copied
        assert client.manifest(repo, index.digest).data == index.data
        assert sorted(client.tags(repo)) == sorted(
            ["amd64", "arm64", "1.0.0", "copy-of-amd64", "copy-of-1.0.0"]
        )


def test_put_manifest_returns_the_digest_of_its_bytes(registry: Registry) -> None:
    repo = "client/put"
    with session() as http:
        image = api_image(http, registry.url, repo, "source", "put layer")
    with client_for(registry) as client:
        digest = client.put_manifest(repo, "target", image.data, OCI_MANIFEST)
        assert digest == image.digest == client.manifest_digest(repo, "target")


# -- Basic authentication ------------------------------------------------------------------


def test_basic_auth_registry_needs_and_accepts_its_credentials(
    auth_registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert auth_registry.username and auth_registry.password
    with client_for(auth_registry) as client, pytest.raises(RegistryError) as anonymous:
        client.ping()
    assert "requires credentials and none are set" in str(anonymous.value)
    assert "RELEASE_REGISTRY_USERNAME" in str(anonymous.value)
    with client_for(auth_registry) as client:
        client.reach()  # answers (401): reachable, whoever asks

    wrong = "a-wrong-password"
    with client_for(auth_registry, auth_registry.username, wrong) as client:
        with pytest.raises(RegistryError) as refused:
            client.ping()
    assert f"refused the credentials of {auth_registry.username}" in str(refused.value)
    assert wrong not in str(refused.value)

    with client_for(auth_registry, auth_registry.username, auth_registry.password) as client:
        client.ping()
        assert client.tags("client/nothing-here") == []
    assert auth_registry.password not in capsys.readouterr().err


# -- Bearer tokens: the real registry with `auth: token` and the token server -------------------


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Registry, TokenServer]]:
    workdir = tmp_path_factory.mktemp("token-registry")
    with TokenServer(workdir / "token", TOKEN_USER, TOKEN_PASSWORD) as tokens:
        with Registry(workdir / "registry", token=tokens.auth()) as registry:
            yield registry, tokens


def test_bearer_tokens_are_fetched_per_scope_and_used(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, tokens = token_registry
    repo = "client/bearer"
    # Seed an image with a token of the test's own, through the raw API.
    seed = tokens.token(TOKEN_USER, [f"repository:{repo}:pull,push"])
    with session() as http:
        image = api_image(http, registry.url, repo, "1.0.0", "bearer layer",
                          headers={"Authorization": f"Bearer {seed}"})  # fmt: skip
    tokens.issued.clear()
    with client_for(registry, TOKEN_USER, TOKEN_PASSWORD) as client:
        client.ping()
        assert client.tags(repo) == ["1.0.0"]
        assert client.manifest_digest(repo, "1.0.0") == image.digest
        manifest = client.manifest(repo, "1.0.0")  # the cached pull token: no new request
        client.copy_manifest(repo, "1.0.0", "latest")
        assert client.manifest_digest(repo, "latest") == manifest.digest == image.digest
    # The registry names the actions of a challenge in any order ("push,pull" or "pull,push":
    # it builds the scope from a Go map), so compare them as sets.
    scopes = [
        f"{resource}:{','.join(sorted(actions.split(',')))}"
        for _, requested in tokens.issued
        for resource, _, actions in (scope.rpartition(":") for scope in requested)
    ]
    assert {account for account, _ in tokens.issued} == {TOKEN_USER}
    assert scopes.count(f"repository:{repo}:pull") == 1
    assert scopes.count(f"repository:{repo}:pull,push") == 1


def test_a_wrong_password_is_refused_by_the_token_server(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, _ = token_registry
    with client_for(registry, TOKEN_USER, "not-the-token-password") as client:
        with pytest.raises(RegistryError) as refused:
            client.ping()
    message = str(refused.value)
    assert f"refused the credentials of {TOKEN_USER}" in message
    assert "token server" in message
    assert "not-the-token-password" not in message


def test_an_anonymous_token_gets_no_access(token_registry: tuple[Registry, TokenServer]) -> None:
    registry, _ = token_registry
    with client_for(registry) as client, pytest.raises(RegistryError) as refused:
        client.tags("client/bearer")
    assert "requires credentials and none are set" in str(refused.value)


def test_token_values_are_masked(token_registry: tuple[Registry, TokenServer]) -> None:
    registry, _ = token_registry
    with client_for(registry, TOKEN_USER, TOKEN_PASSWORD) as client:
        client.ping()
        token = client._tokens[""]
    assert console.mask(f"Bearer {token}") == "Bearer ***"
    assert console.mask(TOKEN_PASSWORD) == "***"


# -- contract server: pagination and redirects ------------------------------------------------


class PagingRegistry:
    """The tag-list contract of the distribution spec with at most ``page`` tags per answer.

    ``GET /v2/<name>/tags/list?n=&last=`` answers the tags after ``last`` in lexical order and
    a ``Link: </v2/<name>/tags/list?last=<tag>&n=<n>>; rel="next"`` header while more remain.
    ``/v2/elsewhere/...`` answers with a redirect to another host, and a next link to another
    host for ``/v2/badlink/tags/list``.
    """

    def __init__(self, tags: list[str], page: int) -> None:
        self.tags = sorted(tags)
        self.page = page
        self.requests: list[str] = []
        paging = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                paging.requests.append(self.path)
                parts = urlsplit(self.path)
                if parts.path == "/v2/":
                    self._send(200, {})
                elif parts.path.startswith("/v2/elsewhere/"):
                    self.send_response(307)
                    self.send_header("Location", "http://localhost:9/v2/elsewhere/manifests/x")
                    self.end_headers()
                elif parts.path.endswith("/tags/list"):
                    name = parts.path[len("/v2/") : -len("/tags/list")]
                    query = parse_qs(parts.query)
                    n = min(int(query.get("n", ["100"])[0]), paging.page)
                    last = query.get("last", [""])[0]
                    rest = [t for t in paging.tags if t > last]
                    chunk = rest[:n]
                    headers = {}
                    if len(rest) > n:
                        host = "localhost:9" if name == "badlink" else ""
                        base = f"http://{host}" if host else ""
                        headers["Link"] = (
                            f'<{base}/v2/{name}/tags/list?last={chunk[-1]}&n={n}>; rel="next"'
                        )
                    self._send(200, {"name": name, "tags": chunk}, headers)
                else:
                    self._send(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})

            def do_HEAD(self) -> None:
                self.do_GET()

            def _send(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> PagingRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


TAGS = ["1.0.0", "1.1.0", "2.0.0", "2.0.0rc1", "latest", "petronas", "3.0"]


def test_tag_lists_follow_link_pagination_to_the_end() -> None:
    with PagingRegistry(TAGS, page=3) as paging:
        with RegistryClient(RegistryConfig(paging.host)) as client:
            found = client.tags("paged/node")
    assert found == sorted(TAGS)
    pages = [r for r in paging.requests if "/tags/list" in r]
    assert len(pages) == 3
    assert "last=" in pages[1] and "last=" in pages[2]


def test_a_next_page_on_another_host_is_not_followed() -> None:
    with PagingRegistry(TAGS, page=3) as paging:
        with RegistryClient(RegistryConfig(paging.host)) as client:
            with pytest.raises(RegistryError, match="another host"):
                client.tags("badlink")
    assert len([r for r in paging.requests if "/tags/list" in r]) == 1


def test_a_redirect_to_another_host_is_not_followed() -> None:
    with PagingRegistry(TAGS, page=3) as paging:
        with RegistryClient(RegistryConfig(paging.host)) as client:
            with pytest.raises(
                RegistryError, match=r"to another host \(localhost:9\): not followed"
            ):
                client.manifest("elsewhere", "x")
