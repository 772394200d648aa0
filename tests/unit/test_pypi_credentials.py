"""Where upload credentials come from (twine's order), checked without prompting or uploading."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.core.http import public_url
from release.steps.pypi.credentials import (
    Credentials,
    credential_problem,
    pypirc_section,
)
from release.steps.pypi.upload_api import form_fields

URL = "http://127.0.0.1:9/"
PYPI = "https://upload.pypi.org/legacy/"
CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "GOOGLE_SERVICE_ACCOUNT_NAME",
)


@pytest.fixture(autouse=True)
def no_ci_and_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def _pypirc(tmp_path: Path, url: str, password: str = "from-pypirc") -> str:
    path = tmp_path / ".pypirc"
    path.write_text(
        "[distutils]\nindex-servers =\n    staging\n\n"
        f"[staging]\nrepository = {url}\nusername = releaser\npassword = {password}\n"
    )
    return str(path)


def test_twine_variables_are_enough() -> None:
    env = {"TWINE_USERNAME": "releaser", "TWINE_PASSWORD": "secret-1"}
    assert credential_problem(URL, env, "/nonexistent/.pypirc") is None


def test_a_pypirc_entry_whose_repository_is_the_url_is_found(tmp_path: Path) -> None:
    config = _pypirc(tmp_path, URL.rstrip("/"))
    assert pypirc_section(URL, config) == "staging"
    assert credential_problem(URL, {}, config) is None


def test_a_pypirc_entry_for_another_url_does_not_count(tmp_path: Path) -> None:
    config = _pypirc(tmp_path, "http://127.0.0.1:10/")
    assert pypirc_section(URL, config) is None
    problem = credential_problem(URL, {}, config)
    assert problem is not None
    assert problem.startswith(f"no upload credentials for {URL}")
    assert "with an index other than PyPI and TestPyPI only from GitHub Actions" in problem


def test_a_password_without_a_username_names_the_missing_variable() -> None:
    problem = credential_problem(URL, {"TWINE_PASSWORD": "secret-2"}, "/nonexistent")
    assert problem is not None
    assert "set TWINE_USERNAME" in problem


def test_a_token_alone_is_enough_for_pypi() -> None:
    assert credential_problem(PYPI, {"TWINE_PASSWORD": "pypi-token"}, "/nonexistent") is None


def test_trusted_publishing_outside_ci_is_not_available() -> None:
    problem = credential_problem(PYPI, {}, "/nonexistent")
    assert problem is not None
    assert "trusted publishing is not available" in problem
    assert "not a CI run that provides an OIDC identity" in problem


def test_trusted_publishing_without_the_id_token_permission_says_what_to_add(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    problem = credential_problem(PYPI, {"GITHUB_ACTIONS": "true"}, "/nonexistent")
    assert problem is not None
    assert "trusted publishing is not available" in problem
    assert "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN not set" in problem
    assert "permissions: id-token: write" in problem


def test_urls_are_shown_without_their_credentials() -> None:
    assert (
        public_url("https://user:pw@example.org:8443/legacy/") == "https://example.org:8443/legacy/"
    )
    assert public_url(URL) == URL


def test_form_fields_follow_the_upload_api() -> None:
    fields = form_fields(
        {
            "name": "demo-node",
            "classifiers": ["A", "B"],
            "project_urls": {"Home": "https://x"},
            "keywords": ["k1", "k2"],
            "gpg_signature": ("x", b""),
        }
    )
    assert ("classifiers", "A") in fields
    assert ("classifiers", "B") in fields
    assert ("project_urls", "Home, https://x") in fields
    assert ("keywords", "k1, k2") in fields
    assert not any(key == "gpg_signature" for key, _ in fields)
    assert fields[-2:] == [(":action", "file_upload"), ("protocol_version", "1")]


def test_the_credentials_never_show_their_password() -> None:
    found = Credentials("__token__", "pypi-credentials-repr-secret", None, None)
    assert "pypi-credentials-repr-secret" not in repr(found) + str(found)
    assert "username='__token__'" in repr(found)
