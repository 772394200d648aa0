"""The CI job's git token: git's pushes carry it, no other process receives it.

The workflow checks out with ``persist-credentials: false`` and gives the job's
``GITHUB_TOKEN`` to the step that runs release-tasks only. The remote here is served over
git's smart HTTP (``git http-backend``) by a server that, like GitHub, answers 401 unless the
request carries ``Authorization: Basic base64(x-access-token:<token>)``; it stands in for the
run's ``GITHUB_SERVER_URL``. A ``reference-transaction`` hook in the clone (git runs it for
every ref the tool's git calls change) records the environment git's children get.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.repos import Repo, make_repo

TAG = "version/4.2.0"
TOKEN = "ghs_JobToken0123456789abcdefXYZ"
BOT = {
    "RELEASE_GIT_AUTHOR": "github-actions[bot]",
    "RELEASE_GIT_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com",
}


class GitHttpServer:
    """git's smart HTTP over ``root`` (bare repositories), wanting the token as GitHub does."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, authorized)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.serve(self)

            def do_POST(self) -> None:
                outer.serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def pushes(self) -> list[bool]:
        """Whether each receive-pack request (a push) was authorized."""
        return [ok for method, path, ok in self.requests if "git-receive-pack" in path]

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        scheme, _, credentials = handler.headers.get("Authorization", "").partition(" ")
        authorized = f"{scheme.capitalize()} {credentials}" == self.expected  # any case
        self.requests.append((handler.command, handler.path, authorized))
        if not authorized:
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", 'Basic realm="git"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = b""
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(handler.rfile.readline().strip(), 16)
                if size == 0:
                    handler.rfile.readline()
                    break
                body += handler.rfile.read(size)
                handler.rfile.readline()
        else:
            body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "REMOTE_USER": "x-access-token",  # lets http-backend accept pushes
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": handler.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
            "HTTP_GIT_PROTOCOL": handler.headers.get("Git-Protocol", ""),
        }
        result = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HOOK = """#!/bin/sh
env > "{folder}/$$-$(date +%s%N).env"
cat > /dev/null
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Repo, GitHttpServer, Path]]:
    """The demo, tagged, with its remote served over authenticated HTTP, and a hook that
    records the environment of git's children in the clone."""
    repo = make_repo(tmp_path / "demo")
    repo.tag(TAG)
    server = GitHttpServer(repo.remote.parent, TOKEN)
    repo.git("remote", "set-url", "origin", f"{server.url}/{repo.remote.name}")
    seen = tmp_path / "hook-env"
    seen.mkdir()
    hook = repo.path / ".git" / "hooks" / "reference-transaction"
    hook.write_text(HOOK.format(folder=seen))
    hook.chmod(0o755)
    try:
        yield repo, server, seen
    finally:
        server.close()


def in_actions(server: GitHttpServer, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_ACTOR": "release-bot",
        "GITHUB_SERVER_URL": server.url,
        **BOT,
        **extra,
    }


def remote_main(repo: Repo) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo.remote), "rev-parse", "main"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_bump_is_pushed_with_the_job_token_that_only_the_release_step_holds(
    served: tuple[Repo, GitHttpServer, Path],
) -> None:
    repo, server, seen = served
    tagged = repo.git("rev-parse", f"{TAG}^{{commit}}")

    result = repo.invoke(
        "bump", "--commit", "--tag", TAG, env=in_actions(server, GITHUB_TOKEN=TOKEN)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    main = remote_main(repo)
    assert main != tagged and repo.git("rev-parse", f"{main}^") == tagged
    assert server.pushes() and all(server.pushes())  # the commit and the state note
    # the token is kept nowhere and shown nowhere
    encoded = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    output = "\n".join(
        line
        for line in (result.stdout + result.stderr).splitlines()
        if not line.startswith("::add-mask::")  # the one line that may name a secret
    )
    for secret in (TOKEN, encoded):
        assert secret not in output
        assert secret not in (repo.path / ".git" / "config").read_text()
        for path in (repo.path / ".git").rglob("*.json"):
            assert secret not in path.read_text(errors="replace")
    # and git's children (its hooks) never received it
    dumps = [p.read_text() for p in seen.iterdir()]
    assert dumps, "the hook ran"
    assert not any(TOKEN in dump for dump in dumps)
    assert not any("GITHUB_TOKEN=" in dump for dump in dumps)


def test_without_the_token_the_push_is_refused_and_says_so(
    served: tuple[Repo, GitHttpServer, Path],
) -> None:
    repo, server, _ = served
    before = remote_main(repo)

    result = repo.invoke("bump", "--commit", "--tag", TAG, env=in_actions(server))

    assert result.returncode == 1, result.stdout + result.stderr
    assert remote_main(repo) == before
    assert not any(server.pushes())
    assert "Traceback" not in result.stderr


def test_the_token_goes_to_no_other_host(served: tuple[Repo, GitHttpServer, Path]) -> None:
    """GITHUB_SERVER_URL names another server: the remote's host never sees the token."""
    repo, server, _ = served

    result = repo.invoke(
        "bump", "--commit", "--tag", TAG,
        env=in_actions(server, GITHUB_TOKEN=TOKEN, GITHUB_SERVER_URL="https://github.com"),
    )  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    assert server.requests and not any(ok for _, _, ok in server.requests)
