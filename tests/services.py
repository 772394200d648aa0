"""Real services for the tests, one of each per session (per worker under xdist).

Loaded by ``tests/conftest.py`` (``pytest_plugins``). Every service binds 127.0.0.1 on a
free port in the session's temporary directory and is stopped when the session ends;
``devservices`` also stops anything left over at interpreter exit.

- ``pypi_server``: pypiserver, upload as ``release-test`` with a random password
  (``pypi_server.password``), anonymous download, no fallback to pypi.org.
- ``registry``: docker-registry without authentication.
- ``auth_registry``: docker-registry with Basic auth (``username``/``password`` on it).
- ``docker_engine``: the running engine, or our own dockerd; skips with the reason when
  there is none, and fails instead when ``RELEASE_TEST_REQUIRE_DOCKER=1`` (CI sets it).
- ``base_image``: the tag of a busybox image imported into that engine, to build ``FROM``.
- ``kudu_server``: the Azure deployment (Kudu) contract server of the app ``demo-ui``, whose
  deployment password is ``KUDU_PASSWORD``; ``kudu`` is the same server, reset for the test.

Each fixture object has ``env()``: the variables that point the release tool at it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from devservices.azure import KuduServer
from devservices.engine import DockerEngine, EngineUnavailableError, ensure_base_image
from devservices.pypi import PypiServer
from devservices.registry import Registry

PYPI_USERNAME = "release-test"
REGISTRY_USERNAME = "release-test"
REGISTRY_PASSWORD = "release-test-registry-password"
KUDU_PASSWORD = "kudu-test-secret-Vb81kLq0-7hQ2wX9p"


@pytest.fixture(scope="session")
def pypi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """pypiserver with authenticated upload and anonymous download."""
    server = PypiServer(
        tmp_path_factory.mktemp("pypiserver"), PYPI_USERNAME, secrets.token_urlsafe(16)
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """An open docker-registry."""
    with Registry(tmp_path_factory.mktemp("registry")) as started:
        yield started


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A docker-registry that wants Basic auth as REGISTRY_USERNAME/REGISTRY_PASSWORD."""
    started = Registry(
        tmp_path_factory.mktemp("auth-registry"),
        username=REGISTRY_USERNAME,
        password=REGISTRY_PASSWORD,
    )
    with started:
        yield started


def docker_required() -> bool:
    """True when a missing engine must fail the tests rather than skip them (CI)."""
    return os.environ.get("RELEASE_TEST_REQUIRE_DOCKER") == "1"


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """The Docker engine: reused when one answers, else a dockerd of our own.

    Without one, every test that asks for it skips with the reason (cached for the
    session), or fails with it under ``RELEASE_TEST_REQUIRE_DOCKER=1``.
    """
    engine = DockerEngine(tmp_path_factory.mktemp("docker"))
    unavailable = None
    try:
        engine.start()
    except EngineUnavailableError as error:
        unavailable = str(error)
    # Outside the except block, so the report shows the reason without a chained traceback.
    if unavailable is not None:
        if docker_required():
            pytest.fail(f"RELEASE_TEST_REQUIRE_DOCKER=1 but {unavailable}", pytrace=False)
        pytest.skip(f"no Docker engine: {unavailable}")
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def base_image(docker_engine: DockerEngine) -> str:
    """The tag of the busybox base image in the engine (imported once, no Docker Hub)."""
    return ensure_base_image(docker_engine.docker_host)


@pytest.fixture(scope="session")
def kudu_server() -> Iterator[KuduServer]:
    """The Azure deployment API contract server of ``demo-ui`` (password ``KUDU_PASSWORD``)."""
    with KuduServer("$demo-ui", KUDU_PASSWORD) as server:
        yield server


@pytest.fixture
def kudu(kudu_server: KuduServer) -> KuduServer:
    """The Kudu server with no deployment and no switch left from an earlier test."""
    kudu_server.reset()
    return kudu_server
