"""Secrets in URLs and in every form an output takes, through the real ``invoke`` command
(issue 19, holes 4, 5 and 6), against the real pypiserver (``devservices/pypi.py``).

- a secret with ``|``, ``<``, ``"``, ``\\``, ``%`` and a newline is registered with GitHub
  Actions line by line, escaped, and reaches neither ``--json`` nor ``$GITHUB_OUTPUT`` in any
  encoded form;
- an upload URL carrying ``user:password@`` uploads with those credentials and never shows
  them: not in the output, the state file, the state notes nor any git object;
- credentials never go over plain HTTP to another machine: an ``http://`` upload URL that is
  not this machine is refused by the pre-flight, naming the URL without its credentials and the
  fix, before anything is built, sent or pushed.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from devservices.pypi import PypiServer
from tests.elsewhere import Listener, outside_address
from tests.repos import Repo, drop_release_tables, make_repo
from tests.secrets import encoded_forms

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Lines long enough to be secrets of their own; every character class an output escapes.
TRICKY_PASSWORD = 'pass|word<"with\\all%41-chars\nand-a-second-line'
TRICKY_INDEX = 'index|pw<"\\%-first-line\r\nindex-second-line'


def leaks(secret: str, text: str, where: str) -> list[str]:
    return [f"{what} in {where}" for form, what in encoded_forms(secret).items() if form in text]


def without_add_mask(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))


def add_mask_values(text: str) -> list[str]:
    return [
        line.removeprefix("::add-mask::")
        for line in text.splitlines()
        if line.startswith("::add-mask::")
    ]


def unescape(value: str) -> str:
    return value.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def git_objects(git_dir: Path) -> str:
    return subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=git_dir,
        capture_output=True,
        check=True,
    ).stdout.decode("latin-1")


def files_under(folder: Path) -> str:
    return "\n".join(
        path.read_bytes().decode("latin-1")
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    )


def with_userinfo(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{rest}"


@pytest.fixture
def packages_only(demo_repo: Repo) -> Repo:
    """The demo releasing its packages only (no registry, Discord or Azure to reach)."""
    drop_release_tables(demo_repo, "images", "registry", "discord", "ui")
    return demo_repo


# -- hole 6: the forms a secret takes ---------------------------------------------------------------


def test_check_version_in_actions_announces_each_line_escaped_and_outputs_no_form_of_a_secret(
    packages_only: Repo, pypi_server: PypiServer, tmp_path: Path
) -> None:
    repo = packages_only
    repo.tag("version/5.1.0")
    output = tmp_path / "github-output"
    result = repo.invoke(
        "check-version",
        "--tag",
        "version/5.1.0",
        "--json",
        "--github-output",
        env={
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(output),
            "TWINE_USERNAME": "ci",
            "TWINE_PASSWORD": TRICKY_PASSWORD,
            "TWINE_REPOSITORY_URL": pypi_server.upload_url,
            "RELEASE_INDEX_URL": with_userinfo(pypi_server.index_url, "ci", TRICKY_INDEX),
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["version"] == "5.1.0"  # stdout: the document alone
    assert "Traceback" not in result.stderr
    found: list[str] = []
    for secret in (TRICKY_PASSWORD, TRICKY_INDEX):
        found += leaks(secret, result.stdout, "stdout")
        found += leaks(secret, without_add_mask(result.stderr), "stderr")
        found += leaks(secret, output.read_text(encoding="utf-8"), "$GITHUB_OUTPUT")
    assert found == []
    values = add_mask_values(result.stderr)
    # Each value escaped as GitHub reads it back (every % an escape, no raw CR or LF) ...
    assert all(re.fullmatch(r"([^%\r\n]|%25|%0D|%0A)*", value) for value in values), values
    announced = {unescape(value) for value in values}
    # ... and every line of a multi-line secret announced on its own.
    for secret in (TRICKY_PASSWORD, TRICKY_INDEX):
        for line in re.split(r"\r\n|\r|\n", secret):
            assert line in announced, line
    assert quote(TRICKY_INDEX, safe="") in announced  # as written in the URL
    written = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert written["version"] == "5.1.0"


# -- hole 4: credentials inside URLs ----------------------------------------------------------------


def test_an_upload_url_with_credentials_uploads_with_them_and_never_shows_them(
    packages_only: Repo, tmp_path: Path
) -> None:
    repo = packages_only
    repo.tag("version/5.2.0rc1")
    with PypiServer(tmp_path / "pypi", "url-user", "url-pw-Zq8|x<y") as server:
        upload_url = with_userinfo(server.upload_url, "url-user", server.password)
        index_url = with_userinfo(server.index_url, "url-user", server.password)
        env = {
            "GITHUB_ACTIONS": "true",
            "TWINE_REPOSITORY_URL": upload_url,  # no TWINE_USERNAME/TWINE_PASSWORD: the URL's
            "RELEASE_INDEX_URL": index_url,
        }
        checked = repo.invoke("check-version", "--tag", "version/5.2.0rc1", env=env)
        uploaded = repo.invoke("upload", "--tag", "version/5.2.0rc1", env=env)
        again = repo.invoke("upload", "--tag", "version/5.2.0rc1", env=env)
        on_index = sorted(p.name for p in server.packages_dir.iterdir())
        public, root = server.upload_url, server.url
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert uploaded.returncode == 0, uploaded.stderr[-3000:]
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(on_index) == 4
    assert "already on the index" in again.stderr
    assert f"upload 4 file(s) to {public}" in checked.stdout
    record = json.loads((repo.path / ".git" / "release-state" / "5.2.0rc1.json").read_text())
    assert record["upload"]["repository"] == public
    assert all(f["url"].startswith(root) for f in record["upload"]["files"])
    found: list[str] = []
    for number, result in enumerate((checked, uploaded, again)):
        for secret in (server.password, f"url-user:{server.password}"):  # the latter: Basic
            found += leaks(secret, without_add_mask(result.stdout), f"stdout {number}")
            found += leaks(secret, without_add_mask(result.stderr), f"stderr {number}")
    found += leaks(server.password, files_under(repo.path / ".git" / "release-state"), "state")
    found += leaks(server.password, git_objects(repo.path), "the clone's git objects")
    found += leaks(server.password, git_objects(repo.remote), "the remote's git objects")
    assert found == []
    assert "::add-mask::url-pw-Zq8|x<y" in uploaded.stdout.splitlines()


# -- hole 5: credentials only over HTTPS ------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[Listener | None]:
    address = outside_address()
    if address is None:  # the URL then names a host that never answers
        yield None
        return
    listener = Listener(address, "/legacy/")
    yield listener
    listener.close()


@pytest.mark.parametrize("named_by", ["environment", "tagged commit"])
def test_an_upload_url_on_plain_http_elsewhere_is_refused_before_anything(
    named_by: str, elsewhere: Listener | None, pypi_server: PypiServer, tmp_path: Path
) -> None:
    url = elsewhere.url if elsewhere is not None else "http://192.0.2.1:9/legacy/"
    repo = make_repo(tmp_path / "repo")
    drop_release_tables(repo, "images", "registry", "discord", "ui")
    env = {
        "TWINE_USERNAME": "ci",
        "TWINE_PASSWORD": "plain-http-pw-123",
        "RELEASE_INDEX_URL": pypi_server.index_url,
    }
    if named_by == "environment":
        env["TWINE_REPOSITORY_URL"] = with_userinfo(url, "ci", "url-pw-456")
    else:
        text = (repo.path / "pyproject.toml").read_text(encoding="utf-8")
        text = text.replace(
            'repository-url = "http://127.0.0.1:8080/"', f'repository-url = "{url}"'
        )
        repo.write("pyproject.toml", text)
        repo.commit("upload over plain HTTP")
        repo.push()
    repo.tag("version/5.3.0")
    refs = repo.git("ls-remote", str(repo.remote))
    on_the_index = sorted(p.name for p in pypi_server.packages_dir.iterdir())  # shared index
    where = {"environment": "TWINE_REPOSITORY_URL"}.get(
        named_by, "tool.release.pypi.repository-url"
    )
    for args in (
        ("check-version", "--skip-credentials"),
        ("check-version", "--offline"),
        ("release", "--yes"),
        ("upload",),
    ):
        result = repo.invoke(*args, "--tag", "version/5.3.0", env=env)
        assert result.returncode == 1, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith(f"error: {where}: {url} is not HTTPS"), errors
        assert errors[0].endswith(f"set {where} to its https:// URL"), errors
        output = result.stdout + result.stderr
        assert "url-pw-456" not in output and "plain-http-pw-123" not in output
    if elsewhere is not None:
        assert elsewhere.requests == []  # nothing was sent, credentials least of all
    assert not (repo.path / ".git" / "release-dist").exists()  # nothing was built
    assert not (repo.path / ".git" / "release-state").exists()  # nothing was recorded
    assert repo.git("ls-remote", str(repo.remote)) == refs  # nothing was pushed
    assert sorted(p.name for p in pypi_server.packages_dir.iterdir()) == on_the_index
