"""Registry credentials as the Docker CLI finds them, and the WWW-Authenticate grammar.

The credential helpers here are real programs on PATH (a shell script speaking the
docker-credential-helpers protocol), run the way Docker runs them.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from release.core import console
from release.core.config import Registry
from release.core.errors import ReleaseError
from release.steps.images.credentials import registry_credentials
from release.steps.images.oci import parse_challenge

HOST = "registry.example.org:5000"


def docker_config(tmp_path: Path, config: dict[str, object]) -> dict[str, str]:
    folder = tmp_path / "docker"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return {"DOCKER_CONFIG": str(folder), "PATH": str(tmp_path / "bin")}


def helper(tmp_path: Path, name: str, answers: dict[str, tuple[str, str]]) -> None:
    """A docker-credential-<name> that knows ``answers`` {server: (user, secret)}."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    lines = []
    for server, (user, secret) in answers.items():
        answer = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
        lines.append(f"  \"{server}\") printf '%s' '{answer}' ;;")
    cases = "\n".join(lines)
    script = folder / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        "read -r server\n"
        'case "$server" in\n'
        f"{cases}\n"
        '  *) echo "credentials not found in native keychain"; exit 1 ;;\n'
        "esac\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_environment_comes_first_and_the_password_is_masked(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"auths": {HOST: {"auth": b64("other:pw-from-file")}}})
    env |= {"RELEASE_REGISTRY_USERNAME": "ci", "RELEASE_REGISTRY_PASSWORD": "s3cret-from-env"}
    assert registry_credentials(Registry(HOST), env) == ("ci", "s3cret-from-env")
    assert console.mask("x s3cret-from-env y") == "x *** y"


def test_half_of_the_environment_pair_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match="RELEASE_REGISTRY_PASSWORD is not set"):
        registry_credentials(Registry(HOST), {"RELEASE_REGISTRY_USERNAME": "ci"})


def test_the_base64_auth_of_docker_login_is_read(tmp_path: Path) -> None:
    env = docker_config(
        tmp_path, {"auths": {f"https://{HOST}/v1/": {"auth": b64("alice:pw:with:colons")}}}
    )
    assert registry_credentials(Registry(HOST), env) == ("alice", "pw:with:colons")
    assert "pw:with:colons" not in console.mask("pw:with:colons")


def test_no_entry_for_the_host_means_no_credentials(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"auths": {"other.example.org": {"auth": b64("a:b-secret")}}})
    assert registry_credentials(Registry(HOST), env) == (None, None)
    assert registry_credentials(Registry(HOST), {"DOCKER_CONFIG": str(tmp_path / "none")}) == (
        None,
        None,
    )


def test_a_cred_helper_for_the_host_wins_over_the_store_and_auths(tmp_path: Path) -> None:
    helper(tmp_path, "hosthelper", {HOST: ("helper-user", "helper-secret-1")})
    helper(tmp_path, "store", {HOST: ("store-user", "store-secret-1")})
    env = docker_config(
        tmp_path,
        {
            "credHelpers": {HOST: "hosthelper"},
            "credsStore": "store",
            "auths": {HOST: {"auth": b64("file-user:file-secret")}},
        },
    )
    assert registry_credentials(Registry(HOST), env) == ("helper-user", "helper-secret-1")
    assert console.mask("helper-secret-1") == "***"


def test_the_creds_store_is_asked_before_auths(tmp_path: Path) -> None:
    helper(tmp_path, "store", {HOST: ("store-user", "store-secret-2")})
    env = docker_config(
        tmp_path, {"credsStore": "store", "auths": {HOST: {"auth": b64("file-user:file-secret")}}}
    )
    assert registry_credentials(Registry(HOST), env) == ("store-user", "store-secret-2")


def test_a_store_without_the_host_falls_back_to_auths(tmp_path: Path) -> None:
    helper(tmp_path, "store", {})
    env = docker_config(
        tmp_path, {"credsStore": "store", "auths": {HOST: {"auth": b64("file-user:file-pw3")}}}
    )
    assert registry_credentials(Registry(HOST), env) == ("file-user", "file-pw3")


def test_a_missing_helper_program_is_a_warning_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = docker_config(tmp_path, {"credsStore": "desktop"})
    assert registry_credentials(Registry(HOST), env) == (None, None)
    assert "docker-credential-desktop" in capsys.readouterr().err


def test_docker_hub_credentials_are_stored_under_its_v1_address(tmp_path: Path) -> None:
    helper(tmp_path, "store", {"https://index.docker.io/v1/": ("hubuser", "hub-secret-4")})
    env = docker_config(tmp_path, {"credsStore": "store"})
    assert registry_credentials(Registry("docker.io"), env) == ("hubuser", "hub-secret-4")


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:samalba/my-app:pull,push"',
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:samalba/my-app:pull,push",
            },
        ),
        ('Basic realm="release-test"', "basic", {"realm": "release-test"}),
        (
            'Bearer realm="http://127.0.0.1:1/t", service=reg, error="insufficient_scope"',
            "bearer",
            {"realm": "http://127.0.0.1:1/t", "service": "reg", "error": "insufficient_scope"},
        ),
    ],
)
def test_www_authenticate_challenges_are_parsed(
    header: str, scheme: str, params: dict[str, str]
) -> None:
    challenge = parse_challenge(header)
    assert challenge is not None
    assert challenge.scheme == scheme
    assert dict(challenge.params) == params
