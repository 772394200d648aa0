"""Trusted publishing end to end: ``invoke upload`` in GitHub Actions without ``TWINE_*``.

GitHub Actions' ID-token endpoint and the index's exchange (audience, mint-token) are the
contract servers of ``devservices.oidc``; behind the index's side is the real pypiserver,
which only ever sees its own credentials. Every test checks what a user would notice: the
exit code, the one message naming the problem and the fix, what the index holds, and that
no token (the request token, the ID tokens, the minted tokens) appears in any output, file,
git object (the state notes) or the step summary; in the output only on the
``::add-mask::`` lines that register them with the runner.

The tiny package is built once (``build``); every upload reuses that verified build.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devservices.oidc import ActionsOIDC, TrustedIndex, default_claims
from devservices.pypi import PypiServer
from tests.repos import Repo, make_repo

pytestmark = pytest.mark.slow

VERSION = "0.4.0"
TAG = f"version/{VERSION}"
FILES = (f"tiny_trusted-{VERSION}.tar.gz", f"tiny_trusted-{VERSION}-py2.py3-none-any.whl")
PACKAGE = {
    "pyproject.toml": '[tool.release]\n[[tool.release.packages]]\npath = "tiny"\n',
    "tiny/pyproject.toml": (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "tiny-trusted"\nversion = "{VERSION}"\n\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["src/tiny_trusted"]\n'
    ),
    "tiny/src/tiny_trusted/__init__.py": f'__version__ = "{VERSION}"\n',
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """The tiny package tagged, its verified build in ``.git/release-dist``."""
    made = make_repo(tmp_path_factory.mktemp("trusted"), source=None, files=PACKAGE)
    made.tag(TAG)
    built = made.invoke("build", "--tag", TAG)
    assert built.returncode == 0, built.stdout + built.stderr
    return made


class Servers:
    """The job's ID-token endpoint, the index's trusted publishing, the pypiserver behind."""

    def __init__(self, actions: ActionsOIDC, index: TrustedIndex, pypi: PypiServer) -> None:
        self.actions = actions
        self.index = index
        self.pypi = pypi

    def files(self) -> list[str]:
        return sorted(p.name for p in self.pypi.packages_dir.iterdir() if p.is_file())

    def secrets(self) -> dict[str, str]:
        """Every secret of the exchange and the index: {value: what it is}."""
        found = {self.actions.request_token: "the request token"}
        found |= {token: "an ID token" for token in self.actions.issued}
        found |= {token: "a minted token" for token in self.index.minted}
        found[self.pypi.password] = "the index's own password"
        return found


Make = Callable[..., Servers]


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Make]:
    started: list[Any] = []

    def make(*, actions: dict[str, Any] | None = None, **index: Any) -> Servers:
        pypi = PypiServer(tmp_path / f"pypi{len(started)}", "index-owner", "pypiOwnSecret42xyz")
        oidc = ActionsOIDC(**(actions or {}))
        for service in (pypi, oidc):
            started.append(service.start())
        trusted = TrustedIndex(pypi, oidc, **index)
        started.append(trusted.start())
        return Servers(oidc, trusted, pypi)

    yield make
    for service in reversed(started):
        service.stop()


def actions_env(servers: Servers, tmp_path: Path) -> dict[str, str]:
    """A GitHub Actions job with ``id-token: write``, the index's URLs and no TWINE_*."""
    home = tmp_path / "home"  # no ~/.pypirc
    home.mkdir(exist_ok=True)
    return {
        **servers.actions.env(),
        **servers.index.env(),
        "CI": "true",
        "GITHUB_ACTOR": "release-bot",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"),
        "HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }


def upload(repo: Repo, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return repo.invoke("upload", "--tag", TAG, env=env)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def forms(value: str) -> set[str]:
    """How a token could show: as is, percent-encoded, JSON, as Basic credentials."""
    return {
        value,
        quote(value, safe=""),
        json.dumps(value)[1:-1],
        base64.b64encode(f"__token__:{value}".encode()).decode(),
        base64.b64encode(value.encode()).decode(),
    }


def leaks(
    secrets: dict[str, str],
    result: subprocess.CompletedProcess[str],
    repo: Repo,
    tmp_path: Path,
) -> list[str]:
    """Where any form of a secret appears: the output (``::add-mask::`` lines aside), the
    files of the clone and its remote, their git objects (the state notes), and the test's
    folder (the step summary, HOME); not the index's own folder (its uploaded files)."""
    wanted = {form: name for value, name in secrets.items() for form in forms(value)}
    texts = {
        stream: "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))
        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr))
    }
    for root in (repo.path, repo.remote, tmp_path):
        for path in root.rglob("*"):
            inside_index = root == tmp_path and path.relative_to(root).parts[0].startswith("pypi")
            if path.is_file() and not path.is_symlink() and not inside_index:
                texts[str(path)] = path.read_bytes().decode("latin-1")
    for git_dir in (repo.path, repo.remote):
        texts[f"git objects of {git_dir}"] = subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch"],
            cwd=git_dir,
            capture_output=True,
            check=True,
        ).stdout.decode("latin-1")
    return sorted(
        f"{name} in {where}"
        for where, text in texts.items()
        for form, name in wanted.items()
        if form in text
    )


def test_an_upload_in_github_actions_without_twine_credentials_mints_a_token_and_uploads(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    world = servers()
    # The whole release, so that its step summary is written too.
    result = repo.invoke("release", "--tag", TAG, "--yes", env=actions_env(world, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert world.files() == sorted(FILES)
    # The documented way: the index's audience, an ID token for it, one exchange.
    assert world.actions.requests == [(world.index.audience, True)]
    assert world.index.exchanges == ["ok"]
    assert len(world.index.minted) == 1
    assert world.index.uploads == [(200, True), (200, True)]
    assert f"trusted publishing: minted an upload token for {world.index.url.rstrip('/')}" in (
        result.stderr
    )
    assert f"[upload] done: uploaded 2 file(s) of {VERSION}" in result.stderr
    # Registered with the runner's mask the moment they existed, shown nowhere else.
    assert f"::add-mask::{world.index.minted[0]}" in result.stdout
    assert f"::add-mask::{world.actions.issued[0]}" in result.stdout
    assert f"::add-mask::{world.actions.request_token}" in result.stdout
    assert leaks(world.secrets(), result, repo, tmp_path) == []
    summary = (tmp_path / "step-summary.md").read_text(encoding="utf-8")
    assert "upload" in summary  # written, and searched by leaks() above


def test_a_token_that_expires_during_the_upload_is_minted_again_once(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    # Each minted token is good for one upload: the second file finds it expired.
    world = servers(uses_per_token=1)
    result = upload(repo, actions_env(world, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert world.files() == sorted(FILES)
    assert world.index.exchanges == ["ok", "ok"]
    assert len(world.actions.issued) == 2  # a fresh ID token for the second exchange
    assert world.index.uploads == [(200, True), (403, False), (200, True)]
    assert "Invalid or non-existent authentication information" in result.stderr
    assert "trusted publishing: the index refused the upload token; minting a new one" in (
        result.stderr
    )
    assert f"upload: done: uploaded 2 file(s) of {VERSION}" in result.stderr
    assert leaks(world.secrets(), result, repo, tmp_path) == []


def test_a_new_token_the_index_refuses_too_is_the_error_after_one_renewal(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    world = servers(uses_per_token=0)  # every minted token is refused at once
    result = upload(repo, actions_env(world, tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert world.files() == []
    assert world.index.exchanges == ["ok", "ok"]  # minted again once, not in a loop
    [line] = error_lines(result)
    assert f"the index refused {FILES[0]} with a newly minted token too: 403" in line
    assert "check the trusted publisher of the project on the index" in line
    assert "Traceback" not in result.stderr
    assert leaks(world.secrets(), result, repo, tmp_path) == []


def test_an_index_that_refuses_the_publisher_is_a_clear_error_and_nothing_is_uploaded(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    world = servers(publisher=default_claims(repository="acme/another"))
    result = upload(repo, actions_env(world, tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert world.files() == []
    assert world.index.exchanges == ["invalid-publisher"]
    assert world.index.uploads == []
    [line] = error_lines(result)
    assert "refused the trusted publishing exchange (invalid-publisher: valid token, but no" in (
        line
    )
    # The claims to register, and the fix.
    assert "repository=acme/demo" in line
    assert "workflow_ref=acme/demo/.github/workflows/release.yml@refs/tags/" in line
    assert "environment=release" in line
    assert "as a trusted publisher of the project on the index" in line
    assert "Traceback" not in result.stderr
    assert leaks(world.secrets(), result, repo, tmp_path) == []


def test_a_token_for_the_wrong_audience_is_refused_by_the_index_and_nothing_is_uploaded(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    # The index announces one audience and its exchange verifies another.
    world = servers(announce="pypi")
    result = upload(repo, actions_env(world, tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert world.actions.requests == [("pypi", True)]
    assert world.index.exchanges == ["invalid-token"]
    assert world.files() == []
    [line] = error_lines(result)
    assert "(invalid-token: malformed or invalid token)" in line
    assert "the ID token was for the audience 'pypi'" in line
    assert "/_/oidc/audience" in line
    assert leaks(world.secrets(), result, repo, tmp_path) == []


def test_an_id_token_for_another_audience_is_not_sent_to_the_index(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    world = servers(actions={"wrong_audience": "https://elsewhere.example"})
    result = upload(repo, actions_env(world, tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert world.index.exchanges == []  # the token never reached the index
    assert world.files() == []
    [line] = error_lines(result)
    assert "GitHub Actions issued an ID token for the audience 'https://elsewhere.example'" in line
    assert f"not the index's {world.index.audience!r}: it was not sent to the index" in line
    assert leaks(world.secrets(), result, repo, tmp_path) == []


def test_a_request_token_the_actions_endpoint_refuses_names_the_permission(
    repo: Repo, servers: Make, tmp_path: Path
) -> None:
    world = servers()
    env = {**actions_env(world, tmp_path), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "notTheJobsToken1234"}
    result = upload(repo, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert world.actions.requests == [(world.index.audience, False)]
    assert world.index.exchanges == []
    assert world.files() == []
    [line] = error_lines(result)
    assert "GitHub Actions refused an ID token for the audience" in line
    assert "answered 401" in line
    assert "permissions: id-token: write" in line
    assert leaks({"notTheJobsToken1234": "the wrong request token"}, result, repo, tmp_path) == []


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            {"ACTIONS_ID_TOKEN_REQUEST_URL": ""},
            "ACTIONS_ID_TOKEN_REQUEST_URL not set: in GitHub Actions the job needs "
            "`permissions: id-token: write`",
        ),
        (
            {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://actions.example.org/idtoken?api-version=2"},
            "ACTIONS_ID_TOKEN_REQUEST_URL http://actions.example.org/idtoken?api-version=2 is "
            "not HTTPS",
        ),
        ("plain pypiserver", "the index offers no trusted publishing: GET http://127.0.0.1:"),
    ],
    ids=["no id-token permission", "plain-http token endpoint", "index without it"],
)
def test_where_trusted_publishing_cannot_work_the_pre_flight_says_why_before_anything(
    repo: Repo, servers: Make, tmp_path: Path, change: Any, said: str
) -> None:
    world = servers()
    env = actions_env(world, tmp_path)
    if change == "plain pypiserver":  # an index without /_/oidc/audience
        env |= {
            "TWINE_REPOSITORY_URL": world.pypi.upload_url,
            "RELEASE_INDEX_URL": world.pypi.index_url,
        }
    else:
        env |= change
    result = upload(repo, env)
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = error_lines(result)
    assert "no upload credentials for" in line
    assert "trusted publishing is not available" in line
    assert said in line
    assert world.actions.requests == []  # no ID token was asked for
    assert world.index.exchanges == []
    assert world.files() == []


class Ahead:
    """A clock ``ahead`` seconds past the real one (every other ``time`` function as is)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_a_token_near_its_end_is_replaced_before_the_next_request(
    servers: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: the publisher renews by the ``expires`` the index gave, before a request;
    its clock is moved on instead of waiting (the index's stays real)."""
    from release.steps.pypi import oidc

    clock = Ahead()
    monkeypatch.setattr(oidc, "time", clock)
    world = servers(lifetime=900)  # renewed once less than 300 s (a third, at most 5 min) is left
    env = {**world.actions.env(), **world.index.env()}
    publisher = oidc.TrustedPublisher(world.index.upload_url, env)
    first = publisher.token()
    assert publisher.token() == first
    assert world.index.exchanges == ["ok"]
    clock.ahead = 700.0  # 200 s left: within the last 300
    second = publisher.token()
    assert second != first
    assert world.index.minted == [first, second]
    assert "pypi" not in repr(publisher) and first not in repr(publisher)
