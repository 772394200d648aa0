"""The local services the integration tests stand on, exercised for real.

An upload through twine lands on pypiserver's simple index, a wrong password is refused and
an unknown project is a 404; the registries answer and challenge as configured; an image
built from the busybox base in the engine is pushed and listed by the registry.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devservices import ServiceError, wait_for_http
from devservices.engine import DockerEngine
from devservices.pypi import PypiServer
from devservices.registry import Registry, TokenAuth


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session that never goes through a proxy: every target is 127.0.0.1."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def build_wheel(directory: Path, name: str, version: str) -> Path:
    """Write a minimal valid pure-Python wheel for ``name`` ``version`` and return its path."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: A wheel made by the service tests\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: release-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def twine_upload(
    server: PypiServer, wheel: Path, password: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    env.update(server.env())
    env["TWINE_PASSWORD"] = password
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )  # fmt: skip


def test_twine_upload_appears_on_the_simple_index(
    pypi_server: PypiServer, tmp_path: Path, http: requests.Session
) -> None:
    wheel = build_wheel(tmp_path, "svc-upload-ok", "1.0.0")

    result = twine_upload(pypi_server, wheel, pypi_server.password)

    assert result.returncode == 0, result.stdout + result.stderr
    page = http.get(f"{pypi_server.index_url}svc-upload-ok/", timeout=10)
    assert page.status_code == 200
    assert wheel.name in page.text
    assert (pypi_server.packages_dir / wheel.name).read_bytes() == wheel.read_bytes()


def test_upload_with_a_wrong_password_is_refused(
    pypi_server: PypiServer, tmp_path: Path, http: requests.Session
) -> None:
    wheel = build_wheel(tmp_path, "svc-upload-refused", "1.0.0")

    result = twine_upload(pypi_server, wheel, "not-the-password")

    assert result.returncode != 0
    assert "403" in result.stdout + result.stderr
    assert not (pypi_server.packages_dir / wheel.name).exists()
    anonymous = http.post(pypi_server.upload_url, data={":action": "file_upload"}, timeout=10)
    assert anonymous.status_code == 401


def test_unknown_project_is_a_404_not_a_redirect(
    pypi_server: PypiServer, http: requests.Session
) -> None:
    response = http.get(
        f"{pypi_server.index_url}no-such-project/", allow_redirects=False, timeout=10
    )

    assert response.status_code == 404


def test_pypi_server_repr_hides_the_password(pypi_server: PypiServer) -> None:
    assert pypi_server.password not in repr(pypi_server)


def test_open_registry_answers_the_v2_api(registry: Registry, http: requests.Session) -> None:
    assert registry.host.startswith("127.0.0.1:")

    assert http.get(f"{registry.url}/v2/", timeout=10).status_code == 200


def test_auth_registry_challenges_and_accepts_its_user(
    auth_registry: Registry, http: requests.Session
) -> None:
    assert auth_registry.username is not None and auth_registry.password is not None

    anonymous = http.get(f"{auth_registry.url}/v2/", timeout=10)
    wrong = http.get(f"{auth_registry.url}/v2/", auth=(auth_registry.username, "x"), timeout=10)
    right = http.get(
        f"{auth_registry.url}/v2/",
        auth=(auth_registry.username, auth_registry.password),
        timeout=10,
    )

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="release-test"'
    assert wrong.status_code == 401
    assert right.status_code == 200


def self_signed_certificate(directory: Path) -> Path:
    """A PEM certificate for the token registry's root bundle (the registry only loads it)."""
    pytest.importorskip("cryptography.x509")
    from devservices.tokenserver import make_signer

    path = directory / "token-root.pem"
    path.write_bytes(make_signer("release-test token issuer").certificate_pem)
    return path


def test_token_registry_points_clients_to_the_token_realm(
    tmp_path: Path, http: requests.Session
) -> None:
    token = TokenAuth(
        realm="http://127.0.0.1:1/token",
        service="release-test-registry",
        issuer="release-test-issuer",
        rootcertbundle=self_signed_certificate(tmp_path),
    )

    with Registry(tmp_path / "registry", token=token) as started:
        response = http.get(f"{started.url}/v2/", timeout=10)

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'realm="http://127.0.0.1:1/token"' in challenge
    assert 'service="release-test-registry"' in challenge


def test_registry_on_a_taken_port_fails_naming_the_binary_and_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        registry = Registry(tmp_path, port=port, startup_timeout=10)

        with pytest.raises(ServiceError) as raised:
            registry.start()

    message = str(raised.value)
    assert "docker-registry" in message
    assert str(registry.log_path) in message
    assert "address already in use" in message


def test_stopped_service_leaves_no_process(tmp_path: Path) -> None:
    started = Registry(tmp_path).start()
    process = started._process
    assert process is not None and process.process is not None
    pid = process.process.pid

    started.stop()

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_wait_for_http_gives_up_naming_the_url() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"

    with pytest.raises(TimeoutError, match=url):
        wait_for_http(url, timeout=0.5)


def push(engine: DockerEngine, reference: str, auth: dict[str, str] | None = None) -> list[str]:
    """Push ``reference`` and return the errors the engine streamed back (empty: pushed)."""
    repository, _, tag = reference.rpartition(":")
    client = engine.client()
    try:
        events = client.images.push(repository, tag, stream=True, decode=True, auth_config=auth)
        return [str(event["error"]) for event in events if "error" in event]
    finally:
        client.close()


@pytest.mark.docker
def test_image_built_from_the_base_is_pushed_and_listed(
    docker_engine: DockerEngine, base_image: str, registry: Registry, http: requests.Session
) -> None:
    reference = f"{registry.host}/x/y:1"
    dockerfile = f"FROM {base_image}\nRUN echo built-by-run > /built\n"
    client = docker_engine.client()
    try:
        image, _ = client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=reference, rm=True, network_mode="none"
        )
        output = client.containers.run(image, ["cat", "/built"], remove=True)
    finally:
        client.close()

    assert output == b"built-by-run\n"
    assert push(docker_engine, reference) == []
    tags = http.get(f"{registry.url}/v2/x/y/tags/list", timeout=10)
    assert tags.status_code == 200
    assert "1" in tags.json()["tags"]


@pytest.mark.docker
def test_push_to_the_auth_registry_needs_its_credentials(
    docker_engine: DockerEngine, base_image: str, auth_registry: Registry
) -> None:
    assert auth_registry.username is not None and auth_registry.password is not None
    reference = f"{auth_registry.host}/x/base:1"
    client = docker_engine.client()
    try:
        assert client.images.get(base_image).tag(reference)
    finally:
        client.close()
    credentials = {"username": auth_registry.username, "password": auth_registry.password}

    refused = push(docker_engine, reference)
    accepted = push(docker_engine, reference, credentials)

    assert refused and "no basic auth credentials" in refused[0]
    assert accepted == []
