"""build and upload of the demo monorepo against a real pypiserver (authentication on).

Builds are the slow part: the demo is built once by ``first_upload`` and the tests that need
another build (a fresh clone, a changed source, an unbumped package) make exactly one each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from devservices.pypi import PypiServer
from release.run.step import load_checks
from tests.repos import Repo, clean_env, make_repo

pytestmark = pytest.mark.slow

VERSION = "2.7.0rc1"
TAG = f"version/{VERSION}"
FILES = (
    f"demo_common-{VERSION}.tar.gz",
    f"demo_common-{VERSION}-py3-none-any.whl",
    f"demo_node-{VERSION}.tar.gz",
    f"demo_node-{VERSION}-py3-none-any.whl",
)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, output(result)


def assert_no_secret(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


def index_files(server: PypiServer) -> dict[str, str]:
    """{file name: sha256} of everything the index holds."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(server.packages_dir.iterdir())
        if path.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = make_repo(tmp_path_factory.mktemp("pypi-demo"))
    repo.tag(TAG)
    return repo


@pytest.fixture(scope="module")
def first_upload(demo: Repo, pypi_server: PypiServer) -> subprocess.CompletedProcess[str]:
    """``invoke upload`` of the demo's pre-release: the one build the other tests reuse."""
    return demo.invoke("upload", "--tag", TAG, env=pypi_server.env())


def test_upload_puts_both_demo_packages_on_the_index(
    first_upload: subprocess.CompletedProcess[str], pypi_server: PypiServer
) -> None:
    assert_ok(first_upload)
    assert f"upload: done: uploaded 4 file(s) of {VERSION}" in first_upload.stderr
    assert set(FILES) <= set(index_files(pypi_server))
    assert_no_secret(pypi_server.password, first_upload.stdout, first_upload.stderr)


def test_the_uploaded_packages_install_together_from_the_index(
    first_upload: subprocess.CompletedProcess[str], pypi_server: PypiServer, tmp_path: Path
) -> None:
    assert_ok(first_upload)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            pypi_server.index_url,
            f"demo-node=={VERSION}",
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    versions = subprocess.run(
        [
            python,
            "-c",
            "import demo_common, demo_node; print(demo_common.__version__, "
            "demo_node.__version__, demo_node._version.version_info)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split(maxsplit=2)
    assert versions[:2] == [VERSION, VERSION]
    assert versions[2].strip() == "(2, 7, 0, 'candidate', 1, 0)"


def test_the_built_files_live_in_the_git_directory_and_the_tree_stays_clean(
    first_upload: subprocess.CompletedProcess[str], demo: Repo
) -> None:
    assert_ok(first_upload)
    folder = demo.path / ".git" / "release-dist" / VERSION
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES, "release-build.json"])
    assert demo.git("status", "--porcelain") == ""
    assert demo.git("worktree", "list").count("\n") == 0  # the release tree is gone


def test_the_state_records_files_sha256_and_urls_but_no_password(
    first_upload: subprocess.CompletedProcess[str], demo: Repo, pypi_server: PypiServer
) -> None:
    assert_ok(first_upload)
    note = demo.git("notes", "--ref", "refs/notes/release/upload", "show", TAG + "^{commit}")
    assert f"demo_node-{VERSION}-py3-none-any.whl" in note
    assert index_files(pypi_server)[f"demo_node-{VERSION}-py3-none-any.whl"] in note
    assert f"{pypi_server.url}packages/demo_node-{VERSION}.tar.gz" in note
    remote_notes = subprocess.run(
        ["git", "--git-dir", str(demo.remote), "notes", "--ref", "release/upload", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert remote_notes.strip(), "the upload record was pushed to the remote"
    state = (demo.path / ".git" / "release-state" / f"{VERSION}.json").read_text()
    assert_no_secret(pypi_server.password, note, state)


def test_the_same_tag_from_a_fresh_clone_uploads_nothing_and_says_so(
    first_upload: subprocess.CompletedProcess[str],
    demo: Repo,
    pypi_server: PypiServer,
    tmp_path: Path,
) -> None:
    assert_ok(first_upload)
    before = index_files(pypi_server)
    clone = demo.clone(tmp_path / "clone")
    result = clone.invoke("upload", "--tag", TAG, env=pypi_server.env())
    assert_ok(result)
    assert "already on the index: nothing uploaded" in result.stderr
    for name in FILES:
        assert f"{name}: already on the index, identical" in result.stderr
    assert index_files(pypi_server) == before
    assert_no_secret(pypi_server.password, result.stdout, result.stderr)


def test_a_changed_source_under_the_same_version_is_refused_before_anything_is_uploaded(
    first_upload: subprocess.CompletedProcess[str],
    demo: Repo,
    pypi_server: PypiServer,
    tmp_path: Path,
) -> None:
    assert_ok(first_upload)
    before = index_files(pypi_server)
    clone = demo.clone(tmp_path / "changed")
    init = clone.path / "demo-node" / "src" / "demo_node" / "__init__.py"
    init.write_text(init.read_text() + "\nCHANGED = True\n")
    clone.commit("a change after the release")
    clone.git("tag", "-f", "-a", "-m", "moved", TAG)
    result = clone.invoke("upload", "--tag", TAG, env=pypi_server.env())
    assert result.returncode == 1, output(result)
    message = result.stderr
    assert f"demo-node {VERSION}: demo_node-{VERSION}" in message
    assert "differs from this build" in message
    assert "demo_node/__init__.py" in message
    assert "nothing was uploaded" in message
    assert f"demo-common {VERSION}" not in message  # unchanged: identical, not a conflict
    assert index_files(pypi_server) == before


class RefusingProxy:
    """Forwards the first ``allowed`` uploads to the index, then answers 403 like a quota."""

    MESSAGE = b"Upload refused: the storage quota of this project is exhausted"

    def __init__(self, upstream: str, allowed: int) -> None:
        self.upstream = upstream
        self.allowed = allowed
        self.forwarded: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if len(proxy.forwarded) >= proxy.allowed:
                    self.send_response(403, "Forbidden")
                    self.send_header("content-type", "text/plain")
                    self.send_header("content-length", str(len(proxy.MESSAGE)))
                    self.end_headers()
                    self.wfile.write(proxy.MESSAGE)
                    return
                answer = requests.post(
                    proxy.upstream,
                    data=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=30,
                )
                proxy.forwarded.append(self.path)
                self.send_response(answer.status_code)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def empty_index(tmp_path: Path) -> Iterator[PypiServer]:
    with PypiServer(tmp_path / "index", "releaser", "interrupted-upload-secret") as server:
        yield server


def test_an_upload_interrupted_between_the_packages_is_finished_by_the_same_command(
    demo: Repo, empty_index: PypiServer, tmp_path: Path
) -> None:
    proxy = RefusingProxy(empty_index.upload_url, allowed=2)
    try:
        env = {**empty_index.env(), "TWINE_REPOSITORY_URL": proxy.url}
        stopped = demo.invoke("upload", "--tag", TAG, env=env)
    finally:
        proxy.close()
    assert stopped.returncode == 1, output(stopped)
    assert f"uploaded demo_common-{VERSION}.tar.gz, demo_common-{VERSION}-py3-none-any.whl" in (
        stopped.stderr
    )
    assert f"the index refused demo_node-{VERSION}.tar.gz: 403 Forbidden" in stopped.stderr
    assert "storage quota of this project is exhausted" in stopped.stderr
    assert "run the same command again" in stopped.stderr
    assert sorted(index_files(empty_index)) == sorted(FILES[:2])

    # The same command finishes it, this time with the credentials of a ~/.pypirc entry.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".pypirc").write_text(
        "[distutils]\nindex-servers = staging\n\n"
        f"[staging]\nrepository = {empty_index.upload_url}\n"
        f"username = {empty_index.username}\npassword = {empty_index.password}\n"
    )
    env = {
        "HOME": str(home),
        "RELEASE_INDEX_URL": empty_index.index_url,
        "TWINE_REPOSITORY_URL": empty_index.upload_url,
    }
    finished = demo.invoke("upload", "--tag", TAG, env=env)
    assert_ok(finished)
    assert f"demo_common-{VERSION}.tar.gz: already on the index, identical" in finished.stderr
    assert f"uploaded 2 file(s) of {VERSION}" in finished.stderr
    assert "2 were already there" in finished.stderr
    assert sorted(index_files(empty_index)) == sorted(FILES)
    assert_no_secret(empty_index.password, *map(output, (stopped, finished)))


def test_a_wheel_with_the_wrong_version_inside_is_refused_before_upload(
    pypi_server: PypiServer, tmp_path: Path
) -> None:
    files = {
        "pyproject.toml": '[tool.release]\n[[tool.release.packages]]\npath = "tiny"\n',
        "tiny/pyproject.toml": (
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            '[project]\nname = "tiny-unbumped"\nversion = "0.1.0"\n\n'
            '[tool.hatch.build.targets.wheel]\npackages = ["src/tiny_unbumped"]\n'
        ),
        "tiny/src/tiny_unbumped/__init__.py": '__version__ = "0.1.0"\n',
    }
    repo = make_repo(tmp_path, source=None, files=files)
    repo.tag("version/0.3.0")
    result = repo.invoke("upload", "--tag", "version/0.3.0", env=pypi_server.env())
    assert result.returncode == 1, output(result)
    assert "refused before anything is uploaded" in result.stderr
    assert "tiny_unbumped-0.1.0.tar.gz (tiny) has version 0.1.0" in result.stderr
    assert "tiny_unbumped-0.1.0-py2.py3-none-any.whl (tiny) has version 0.1.0" in result.stderr
    assert "[[tool.release.version-files]]" in result.stderr
    assert "the tag says 0.3.0" in result.stderr
    assert requests.get(pypi_server.index_url + "tiny-unbumped/", timeout=10).status_code == 404
    assert_no_secret(pypi_server.password, result.stdout, result.stderr)


def test_a_post_release_builds_and_uploads_nothing(
    demo: Repo, pypi_server: PypiServer, tmp_path: Path
) -> None:
    before = index_files(pypi_server)
    clone = demo.clone(tmp_path / "post")
    clone.tag("version/2.7.0", push=False)
    clone.tag("version/2.7.0.post1", push=False)
    result = clone.invoke("upload", "--tag", "version/2.7.0.post1", env=pypi_server.env())
    assert_ok(result)
    assert "build: skipped: post releases are Docker-only" in result.stderr
    assert "upload: skipped: post releases are Docker-only" in result.stderr
    assert index_files(pypi_server) == before
    assert not (clone.path / ".git" / "release-dist").exists()


@pytest.mark.parametrize(
    ("ci", "reason"),
    [
        ({}, "not a CI run that provides an OIDC identity"),
        ({"GITHUB_ACTIONS": "true"}, "permissions: id-token: write"),
    ],
)
def test_upload_to_pypi_without_credentials_says_trusted_publishing_is_not_available(
    first_upload: subprocess.CompletedProcess[str], demo: Repo, ci: dict[str, str], reason: str
) -> None:
    # --offline: the index is not asked, so nothing here talks to pypi.org; the build is reused.
    env = {
        **ci,
        "TWINE_REPOSITORY_URL": "https://upload.pypi.org/legacy/",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    result = demo.invoke("upload", "--tag", TAG, "--offline", env=env)
    assert result.returncode == 1, output(result)
    text = output(result)
    assert "upload: no upload credentials for https://upload.pypi.org/legacy/" in text
    assert "trusted publishing is not available" in text
    assert reason in text
    assert "uploaded" not in result.stderr


def test_the_upload_checks_note_a_version_that_already_has_files_on_the_index(
    first_upload: subprocess.CompletedProcess[str],
    demo: Repo,
    pypi_server: PypiServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before a build (check-version), the step can only say that files are there."""
    from release.pipeline.preflight import resolve
    from release.run.context import Options

    assert_ok(first_upload)
    clone = demo.clone(tmp_path / "check")
    env = {**clean_env(pypi_server.env())}
    ctx = resolve(TAG, Options(offline=True, env=env), start=clone.path)
    ctx = dataclasses.replace(ctx, options=Options(env=env))
    assert load_checks("upload")(ctx) == []
    notice = capsys.readouterr().err
    assert f"notice: the version {VERSION} already has files on the index" in notice
    assert f"demo_node-{VERSION}.tar.gz" in notice
    assert "the upload compares them with its build" in notice
