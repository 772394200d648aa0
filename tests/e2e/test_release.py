"""Whole releases of the demo monorepo with ``invoke release``, against the real services.

One repository progresses through a maintainer's year, as the tests run in file order:
a final release (3.0.0), a pre-release (3.1.0rc1, confirmed on a terminal), a final whose
upload fails first (3.1.0), a backport on ``release/3.0`` whose push fails first and which a
fresh clone finishes (3.0.1), post releases whose UI deploy and whose announcement fail first
(3.1.0.post1, 3.1.0.post2), and a version whose package build conflicts with the index (3.2.0).
Each test first makes sure the releases it builds on exist (``World.before``), so a single
test also runs alone. The services are this module's own (the channels depend on every
version in the registry): a real pypiserver, a real registry (restarted read-only to make a
push fail), the Docker engine, and the Discord and Azure contract servers with their faults.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import pty
import re
import secrets
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from devservices import free_port
from devservices.azure import KuduServer, demo_server
from devservices.discord import DiscordWebhookServer
from devservices.engine import DockerEngine
from devservices.pypi import PypiServer
from devservices.registry import Registry
from release.core.http import POLICY
from tests.repos import CHECKOUT, Repo, clean_env, make_repo

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("release-e2e")]

IMAGES = ("demo/node", "demo/server")
PROJECTS = ("demo-common", "demo-node")
MANIFESTS = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
WORKFLOW = """\
name: release
on:
  push:
    tags:
      - "version/*"
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - run: release-tasks release --yes
"""
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r")


# -- the services -------------------------------------------------------------------------------


class SwitchableRegistry(Registry):
    """The real registry, restartable on its port in read-only (maintenance) mode."""

    readonly = False

    def config(self, port: int) -> dict[str, Any]:
        config = super().config(port)
        if self.readonly:
            config["storage"]["maintenance"]["readonly"] = {"enabled": True}
        return config

    def restart(self, *, readonly: bool) -> None:
        self.stop()
        self.readonly = readonly
        self.start()


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only
    return session


# -- the world outside the repository, as the tests observe it ----------------------------------


@dataclass
class World:
    root: Path
    repo: Repo
    index: PypiServer
    registry: SwitchableRegistry
    discord: DiscordWebhookServer
    azure: KuduServer
    engine: DockerEngine
    released: set[str] = field(default_factory=set)
    web: requests.Session = field(default_factory=http)

    def env(self) -> dict[str, str]:
        return {
            **self.index.env(),
            **self.registry.env(),
            **self.engine.env(),
            **self.discord.env(),
            **self.azure.env(),
            "CI": "",  # a CI runner's CI=true would switch the local-release guard off
        }

    @property
    def secrets(self) -> list[str]:
        return [self.index.password, self.azure.password, self.discord.token]

    # -- running the real command --

    def release(
        self,
        tag: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        repo: Repo | None = None,
        summary: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``invoke release --tag <tag> <args>`` in the repository, without a terminal."""
        extra = {**self.env(), **(env or {})}
        if summary is not None:
            extra["GITHUB_STEP_SUMMARY"] = str(summary)
        result = (repo or self.repo).invoke("release", "--tag", tag, *args, env=extra)
        self.assert_no_secret(result.stdout + result.stderr)
        return result

    def release_fully(self, tag: str) -> None:
        result = self.release(tag, "--yes", "--local")
        assert result.returncode == 0, result.stdout + result.stderr
        self.released.add(tag)

    def on_terminal(
        self, tag: str, answer: str, env: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        """``invoke release`` on a pseudo-terminal, answering the confirmation with ``answer``."""
        argv = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "release", "--tag", tag]
        extra = {**self.repo.env, **self.env(), "TERM": "xterm-256color", **(env or {})}
        code, output = run_on_terminal([*argv, "--local"], self.repo.path, clean_env(extra), answer)
        self.assert_no_secret(output)
        return code, output

    def assert_no_secret(self, text: str) -> None:
        for secret in self.secrets:
            assert secret not in text

    # -- preparing releases --

    def before(self, tag: str) -> None:
        """Make sure every release of the story before ``tag`` happened, releasing what is
        missing in the story's order (so that a test also runs alone)."""
        for version in CHAIN[: CHAIN.index(tag.removeprefix("version/"))]:
            if f"version/{version}" not in self.released:
                self.cut(f"version/{version}")
                self.release_fully(f"version/{version}")

    def cut(self, tag: str) -> None:
        """The commits of ``tag``'s story and the tag itself, pushed (once)."""
        if self.repo.git("tag", "--list", tag):
            return
        version = tag.removeprefix("version/")
        if version == "3.0.1":
            self.backport_branch()
        else:
            self.repo.git("checkout", "-q", "main")
            self.repo.git("pull", "-q", "--ff-only", "origin", "main")
        change = STORY[version]
        for name, text in change.items():
            path = self.repo.path / name
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            path.write_text(text(old), encoding="utf-8")
        self.repo.commit(f"prepare {version}")
        self.repo.push("HEAD")
        self.repo.tag(tag)

    def backport_branch(self) -> None:
        """``release/3.0`` from the bump commit of 3.0.0 on the remote's main."""
        self.repo.git("fetch", "-q", "origin")
        bump = self.repo.git(
            "log", "--format=%H", "--grep=^Updated the version to 3.0.0$", "origin/main"
        )
        assert bump, "3.0.0 has no bump commit on the remote's main"
        self.repo.git("checkout", "-q", "-B", "release/3.0", bump)
        self.repo.git("push", "-q", "-u", "origin", "release/3.0")

    # -- observations --

    def index_files(self, version: str | None = None) -> dict[str, str]:
        """The index's files (of ``version``): filename -> sha256, from its simple pages."""
        found = {}
        for project in PROJECTS:
            page = self.web.get(f"{self.index.index_url}{project}/", timeout=30)
            if page.status_code == 404:
                continue
            page.raise_for_status()
            for _href, digest, name in re.findall(
                r'href="([^"#]+)#sha256=([0-9a-f]{64})"[^>]*>([^<]+)<', page.text
            ):
                found[name] = digest
        if version is None:
            return found
        return {n: d for n, d in found.items() if _file_version(n) == version}

    def download(self, filename: str) -> bytes:
        answer = self.web.get(f"{self.index.url}packages/{filename}", timeout=30)
        answer.raise_for_status()
        return answer.content

    def tags(self, image: str) -> dict[str, str]:
        """The registry's tags of ``image``: tag -> manifest digest."""
        listed = self.web.get(f"{self.registry.url}/v2/{image}/tags/list", timeout=30)
        if listed.status_code == 404:
            return {}
        found = {}
        for tag in listed.json().get("tags") or []:
            head = self.web.head(
                f"{self.registry.url}/v2/{image}/manifests/{tag}",
                headers={"Accept": MANIFESTS},
                timeout=30,
            )
            head.raise_for_status()
            found[tag] = head.headers["Docker-Content-Digest"]
        return found

    def announcements(self, version: str) -> list[dict[str, Any]]:
        """The Discord messages announcing ``version`` (as the channel shows them now)."""
        title = re.compile(rf"^demo {re.escape(version)}(:|$)")
        return [
            message
            for message in self.discord.messages.values()
            if any(title.match(e.get("title", "")) for e in message.get("embeds") or [])
        ]

    def deployments(self, npm_version: str) -> list[str]:
        """The outcomes of the UI deployments of ``npm_version`` Azure received, in order."""
        found = []
        for deployment in self.azure.deployments:
            shown = json.loads(zipfile.ZipFile(io.BytesIO(deployment.data)).read("version.json"))
            if shown == {"version": npm_version}:
                found.append(deployment.outcome)
        return found

    def bump_commits(self, version: str) -> dict[str, int]:
        """How many bump commits of ``version`` each branch of the remote holds."""
        found = {}
        for branch in self.remote_git("for-each-ref", "--format=%(refname)", "refs/heads").split():
            log = self.remote_git("log", "--format=%s", branch)
            count = log.splitlines().count(f"Updated the version to {version}")
            if count:
                found[branch.removeprefix("refs/heads/")] = count
        return found

    def remote_git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.repo.remote), *args],
            capture_output=True,
            text=True,
            check=True,
            env=clean_env(),
        ).stdout.strip()

    def published(self, version: str) -> dict[str, Any]:
        """Everything the outside world holds of one version (compared with ``expected``)."""
        npm = version.replace(".post", "-post").replace("rc", "-rc.")
        return {
            "index": sorted(self.index_files(version)),
            "images": {image: version in self.tags(image) for image in IMAGES},
            "announcements": len(self.announcements(version)),
            "deployed": self.deployments(npm).count("success"),
            "bump commits": self.bump_commits(version),
        }

    def outside(self) -> dict[str, Any]:
        """Everything outside the repository a release could change, for "nothing changed"."""
        return {
            "remote refs": self.remote_git("for-each-ref", "--format=%(refname) %(objectname)"),
            "index": self.index_files(),
            "registry": {image: self.tags(image) for image in IMAGES},
            "discord": [(r.method, r.path) for r in self.discord.requests if r.method != "GET"],
            "messages": self.discord.messages,
            "azure": [d.id for d in self.azure.deployments],
        }

    def local(self, repo: Repo | None = None) -> tuple[str, str, str]:
        """The repository's HEAD, its branches and its tracked changes."""
        repo = repo or self.repo
        return (
            repo.git("rev-parse", "HEAD"),
            repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
            repo.git("status", "--porcelain", "--untracked-files=no"),
        )


def _file_version(filename: str) -> str:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


def expected(version: str, kind: str, branch: str = "main") -> dict[str, Any]:
    """What one uninterrupted release of ``version`` leaves in the world (docs/design.md "What each kind does")."""
    code = kind in ("final", "pre")
    announced = kind in ("final", "post")
    files = [
        f"{name}-{version}{suffix}"
        for name in ("demo_common", "demo_node")
        for suffix in ("-py3-none-any.whl", ".tar.gz")
    ]
    return {
        "index": sorted(files) if code else [],
        "images": {image: True for image in IMAGES},
        "announcements": 1 if announced else 0,
        "deployed": 1 if announced else 0,
        "bump commits": {branch: 1} if code else {},
    }


def _append(line: str) -> Any:
    return lambda old: old + line


def _changelog(version: str, *notes: str) -> Any:
    def write(old: str) -> str:
        head, _, rest = old.partition("\n\n")
        entries = "".join(f"- {note}\n" for note in notes)
        return f"{head}\n\n## {version}\n\n{entries}\n{rest}"

    return write


# The releases of the story, in order (3.2.0 never gets released: its build conflicts).
CHAIN = ["3.0.0", "3.1.0rc1", "3.1.0", "3.0.1", "3.1.0.post1", "3.1.0.post2", "3.2.0"]

# What each version of the story changes before it is tagged.
STORY: dict[str, dict[str, Any]] = {
    "3.0.0": {
        "CHANGELOG.md": _changelog(
            "3.0.0", "Petronas: the node and server speak the new protocol."
        ),
        "app/node.txt": _append("protocol 3\n"),
    },
    "3.1.0rc1": {
        "CHANGELOG.md": _changelog("3.1.0rc1", "Candidate: the server keeps sessions."),
        "app/server.txt": _append("sessions\n"),
    },
    "3.1.0": {"CHANGELOG.md": _changelog("3.1.0", "Sessions are stable.")},
    "3.0.1": {
        "CHANGELOG.md": _changelog("3.0.1", "Backport: the node retries a lost connection."),
        "app/node.txt": _append("retry\n"),
    },
    "3.1.0.post1": {
        "CHANGELOG.md": _changelog("3.1.0.post1", "The UI shows the server's name."),
        "ui/build.js": _append("// shows the server's name\n"),
    },
    "3.1.0.post2": {
        "CHANGELOG.md": _changelog("3.1.0.post2", "Rebuilt on a patched base image."),
        "docker/server.Dockerfile": _append("LABEL patched=yes\n"),
    },
    "3.2.0": {
        "CHANGELOG.md": _changelog("3.2.0", "A version someone uploaded by hand first."),
        "app/node.txt": _append("protocol 3.2\n"),
    },
}


def run_on_terminal(
    argv: list[str], cwd: Path, env: Mapping[str, str], answer: str
) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdin, stdout and stderr; answer its question.

    Returns the exit code and the output with terminal control sequences removed. The
    deadline only guards against a hanging child; nothing here is timed.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
    child = subprocess.Popen(
        argv, cwd=cwd, env=dict(env), stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if child.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            shown = ANSI.sub("", output.decode("utf-8", errors="ignore"))
            if not answered and "[y/n]" in shown:
                os.write(master, answer.encode() + b"\n")
                answered = True
        else:
            child.kill()
            raise AssertionError("the release on the terminal did not end")
        code = child.wait(timeout=60)
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
            child.wait()
    text = ANSI.sub("", output.decode("utf-8", errors="replace"))
    assert answered, f"the release never asked for confirmation:\n{text}"
    return code, text


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, docker_engine: DockerEngine) -> Iterator[World]:
    root = tmp_path_factory.mktemp("release-e2e")
    index = PypiServer(root / "pypi", "release-e2e", secrets.token_urlsafe(16))
    registry = SwitchableRegistry(root / "registry", port=free_port())
    with index, registry, DiscordWebhookServer() as discord, demo_server(root / "azure") as azure:
        repo = make_repo(root / "repo")
        repo.write(".github/workflows/release.yml", WORKFLOW)
        repo.commit("CI releases version tags")
        repo.push()
        yield World(root, repo, index, registry, discord, azure, docker_engine)


# -- the story ----------------------------------------------------------------------------------


def test_a_laptop_release_refuses_when_ci_releases_version_tags_unless_local(world: World):
    world.cut("version/3.0.0")
    before, local = world.outside(), world.local()

    refused = world.release("version/3.0.0", "--yes")

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert ".github/workflows/release.yml releases version/* tags in CI" in refused.stderr
    assert "pass --local to release from here anyway" in refused.stderr
    assert world.outside() == before
    assert world.local() == local


def test_a_dry_run_checks_and_builds_everything_and_changes_nothing(world: World, tmp_path: Path):
    world.cut("version/3.0.0")
    before, local = world.outside(), world.local()
    summary = tmp_path / "summary.md"

    result = world.release("version/3.0.0", "--dry-run", summary=summary)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Plan for version/3.0.0" in result.stdout
    assert "Dry run of version/3.0.0: what the release would do" in result.stdout
    for line in (
        "would push",  # the bump commit, and every image tag
        "would upload 4 file(s)",
        "would push 127.0.0.1",
        "would move (none) -> 3.0.0",
        "would deploy ui/dist 3.0.0",
        "would post the announcement of version/3.0.0",
    ):
        assert line in output
    # Every local build ran: the verified packages wait in the git directory for the release.
    built = sorted(p.name for p in (world.repo.path / ".git/release-dist/3.0.0").iterdir())
    assert [n for n in built if n.endswith((".whl", ".tar.gz"))] == expected("3.0.0", "final")[
        "index"
    ]
    assert "[build] preparing" in output and "[deploy-ui] would run" in output
    assert world.outside() == before
    assert world.local() == local
    assert "## Dry run of version/3.0.0" in summary.read_text(encoding="utf-8")


def test_a_final_release_publishes_everything_once_in_dependency_order(
    world: World, tmp_path: Path
):
    world.cut("version/3.0.0")
    summary = tmp_path / "summary.md"
    tagged = world.repo.git("rev-parse", "version/3.0.0^{commit}")

    # Without a terminal the release proceeds after printing the plan: no --yes needed.
    result = world.release("version/3.0.0", "--local", summary=summary)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    world.released.add("version/3.0.0")
    assert "Plan for version/3.0.0" in result.stdout and "[y/n]" not in output
    assert world.published("3.0.0") == expected("3.0.0", "final")
    # The side effects in dependency order: the bump first, notify after all it reports.
    order = [line for line in result.stderr.splitlines() if line.startswith("[")]
    position = {line: n for n, line in enumerate(order)}

    def first(prefix: str) -> int:
        return min(n for line, n in position.items() if line.startswith(prefix))

    assert first("[bump] done") < first("[upload] publishing")
    assert first("[bump] done") < first("[push-image] publishing")
    assert first("[bump] done") < first("[deploy-ui] publishing")
    for step in ("upload", "push-image", "deploy-ui"):
        assert first(f"[{step}] done") < first("[notify] publishing")
    # The remote: one bump commit on top of the tagged commit.
    assert world.remote_git("log", "-1", "--format=%s %P", "main") == (
        f"Updated the version to 3.0.0 {tagged}"
    )
    # Channels: every channel of the major, the minor and latest on 3.0.0.
    node, server = world.tags("demo/node"), world.tags("demo/server")
    assert set(node) == {"3.0.0", "petronas", "3.0", "latest"}
    assert set(server) == {"3.0.0", "petronas", "3.0", "latest", "petronas-live"}
    assert len(set(node.values())) == 1 and len(set(server.values())) == 1
    # The zip Azure received holds the UI built with the version.
    deployment = world.azure.deployments[-1]
    assert deployment.outcome == "success"
    assert {"index.html", "version.json", "assets/app.css"} <= set(deployment.files())
    # The summary, on the terminal and as the GitHub step summary.
    markdown = summary.read_text(encoding="utf-8")
    files = world.index_files("3.0.0")
    for text in (result.stdout, markdown):
        for name, digest in files.items():
            assert name in text and digest in text
            assert hashlib.sha256(world.download(name)).hexdigest() == digest
        for image, tags in (("demo/node", node), ("demo/server", server)):
            assert f"{world.registry.host}/{image}@{tags['3.0.0']}" in text
        assert "tags: 3.0.0, petronas, 3.0, latest, petronas-live" in text
        assert "channel latest: (none) -> 3.0.0" in text
        message = world.announcements("3.0.0")[0]
        assert f"Discord message {message['id']}" in text
        assert f"deployment {deployment.id} succeeded" in text
    assert markdown.startswith("## Release version/3.0.0\n")
    assert "| push-image | done |" in markdown


def test_the_same_command_again_publishes_nothing_twice_and_edits_the_announcement(world: World):
    world.before("version/3.1.0rc1")
    before = world.outside()

    result = world.release("version/3.0.0", "--yes", "--local")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    after = world.outside()
    for what in ("index", "registry", "azure"):
        assert after[what] == before[what], what
    # The one message was edited in place (the same text, links refreshed), not posted again.
    assert after["messages"].keys() == before["messages"].keys()
    for message_id, message in after["messages"].items():
        assert message["edited_timestamp"]
        assert message["embeds"] == before["messages"][message_id]["embeds"]
    assert after["discord"][: len(before["discord"])] == before["discord"]
    assert [method for method, _ in after["discord"][len(before["discord"]) :]] == ["PATCH"]
    assert world.published("3.0.0") == expected("3.0.0", "final")
    assert "already holds 3.0.0: nothing to do" in output
    assert "all 4 file(s) of 3.0.0 are already on the index: nothing uploaded" in output
    assert "every version tag was in the registry already: nothing pushed" in output
    assert "was deployed to demo-ui (production) earlier" in output
    assert "already announced: edited message" in output


def test_a_pre_release_asks_on_a_terminal_and_publishes_only_after_yes(world: World):
    world.before("version/3.1.0rc1")
    world.cut("version/3.1.0rc1")
    before, local = world.outside(), world.local()

    code, output = world.on_terminal("version/3.1.0rc1", answer="n", env={"NO_COLOR": "1"})

    assert code == 1, output
    assert "Publish version/3.1.0rc1 as planned above?" in output
    assert "cancelled before any side effect: nothing was changed" in output
    assert "[build] ready" in output  # NO_COLOR: plain lines, no live table
    assert "Releasing version/3.1.0rc1" not in output
    assert world.outside() == before
    assert world.local() == local

    code, output = world.on_terminal("version/3.1.0rc1", answer="y")

    assert code == 0, output
    world.released.add("version/3.1.0rc1")
    assert "Releasing version/3.1.0rc1" in output  # the live view's table
    assert "[build] ready" not in output
    assert "Release version/3.1.0rc1" in output  # the summary
    assert world.published("3.1.0rc1") == expected("3.1.0rc1", "pre")
    # A pre-release moves no channel, posts nothing and deploys nothing.
    for image in IMAGES:
        now = world.tags(image)
        assert now.pop("3.1.0rc1")
        assert now == before["registry"][image]
    assert world.discord.messages == before["messages"]
    assert [d.id for d in world.azure.deployments] == before["azure"]


def test_a_failed_upload_stops_notify_and_the_same_command_finishes(world: World):
    world.before("version/3.1.0")
    world.cut("version/3.1.0")
    expired = {"TWINE_PASSWORD": secrets.token_urlsafe(16)}

    failed = world.release("version/3.1.0", "--yes", "--local", env=expired)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert expired["TWINE_PASSWORD"] not in failed.stdout + failed.stderr
    error = failed.stderr
    assert "release version/3.1.0 did not finish: failed: upload (the index refused" in error
    assert "not run: notify (needs upload)" in error
    assert "done: bump, build, push-image, deploy-ui" in error
    assert "run the same command again to finish it" in error
    assert world.index_files("3.1.0") == {}
    assert world.announcements("3.1.0") == []

    finished = world.release("version/3.1.0", "--yes", "--local")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    world.released.add("version/3.1.0")
    assert world.published("3.1.0") == expected("3.1.0", "final")
    node = world.tags("demo/node")
    assert node["latest"] == node["petronas"] == node["3.1"] == node["3.1.0"]
    assert node["3.0"] == node["3.0.0"]


def test_a_failed_push_of_a_backport_is_finished_from_a_fresh_clone(world: World, tmp_path: Path):
    world.before("version/3.0.1")
    world.cut("version/3.0.1")
    world.registry.restart(readonly=True)
    try:
        failed = world.release("version/3.0.1", "--yes", "--local")
    finally:
        world.registry.restart(readonly=False)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    error = failed.stderr
    assert "release version/3.0.1 did not finish: failed: push-image (" in error
    assert "not run: notify (needs push-image)" in error
    assert "done: bump, build, upload, deploy-ui" in error
    assert "3.0.1" not in world.tags("demo/node")

    fresh = world.repo.clone(tmp_path / "fresh")
    finished = world.release("version/3.0.1", "--yes", "--local", repo=fresh)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    world.released.add("version/3.0.1")
    assert world.published("3.0.1") == expected("3.0.1", "final", branch="release/3.0")
    # The fresh clone rebuilt the packages and found them on the index, identical.
    assert "already on the index" in finished.stdout + finished.stderr
    # A backport leaves the major's channels and latest on the newer minor.
    node, server = world.tags("demo/node"), world.tags("demo/server")
    assert node["3.0"] == node["3.0.1"]
    assert node["petronas"] == node["latest"] == node["3.1.0"]
    assert server["petronas-live"] == server["3.1.0"]


def test_a_failed_ui_deploy_of_a_post_release_is_finished_by_the_same_command(world: World):
    world.before("version/3.1.0.post1")
    world.cut("version/3.1.0.post1")
    world.azure.fail_next("Deployment failed: npm ERR! missing script: start")

    failed = world.release("version/3.1.0.post1", "--yes", "--local")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    error = failed.stderr
    assert "release version/3.1.0.post1 did not finish: failed: deploy-ui (deployment " in error
    assert "npm ERR! missing script: start" in error
    assert "not run: notify (needs deploy-ui)" in error
    assert "done: push-image" in error
    assert world.announcements("3.1.0.post1") == []

    finished = world.release("version/3.1.0.post1", "--yes", "--local")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    world.released.add("version/3.1.0.post1")
    assert world.published("3.1.0.post1") == expected("3.1.0.post1", "post")
    assert world.deployments("3.1.0-post1") == ["failed", "success"]
    node = world.tags("demo/node")
    assert node["latest"] == node["petronas"] == node["3.1"] == node["3.1.0.post1"]
    (message,) = world.announcements("3.1.0.post1")
    assert "a rebuild of 3.1.0" in message["embeds"][0]["title"]


def test_a_failed_announcement_is_posted_once_by_the_same_command(world: World):
    world.before("version/3.1.0.post2")
    world.cut("version/3.1.0.post2")
    world.discord.fail_next(503, count=POLICY.attempts, method="POST")  # every attempt

    failed = world.release("version/3.1.0.post2", "--yes", "--local")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    error = failed.stderr
    assert "release version/3.1.0.post2 did not finish: failed: notify (Discord answered 503" in (
        error
    )
    assert "done: push-image, deploy-ui" in error
    assert world.announcements("3.1.0.post2") == []

    finished = world.release("version/3.1.0.post2", "--yes", "--local")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    world.released.add("version/3.1.0.post2")
    assert world.published("3.1.0.post2") == expected("3.1.0.post2", "post")


def test_the_remote_holds_one_bump_commit_per_final_and_pre_release_and_every_state(world: World):
    world.before("version/3.2.0")

    main = world.remote_git("log", "--format=%s", "main").splitlines()
    assert [line for line in main if line.startswith("Updated the version to")] == [
        "Updated the version to 3.1.0",
        "Updated the version to 3.1.0rc1",
        "Updated the version to 3.0.0",
    ]
    backport = world.remote_git("log", "--format=%s", "release/3.0").splitlines()
    assert [line for line in backport if line.startswith("Updated the version to")] == [
        "Updated the version to 3.0.1",
        "Updated the version to 3.0.0",
    ]
    # One announcement per release that is not a pre-release, nothing else in the channel.
    titles = sorted(m["embeds"][0]["title"] for m in world.discord.messages.values())
    assert titles == [
        "demo 3.0.0",
        "demo 3.0.1",
        "demo 3.1.0",
        "demo 3.1.0.post1: a rebuild of 3.1.0",
        "demo 3.1.0.post2: a rebuild of 3.1.0",
    ]
    # Every step's state is a note on the tagged commit, on the remote, for a fresh runner.
    tagged = world.repo.git("rev-parse", "version/3.1.0^{commit}")
    for step in ("bump", "build", "upload", "push-image", "deploy-ui", "notify"):
        note = json.loads(world.remote_git("notes", "--ref", f"release/{step}", "show", tagged))
        assert note["3.1.0"]["step"] == step


def test_a_conflicting_build_on_the_index_stops_the_release_before_the_bump(
    world: World, tmp_path: Path
):
    world.cut("version/3.2.0")  # it needs no earlier release, and it comes last
    upload_other_build(world, "3.2.0", tmp_path)
    before, local = world.outside(), world.local()

    result = world.release("version/3.2.0", "--yes", "--local")

    assert result.returncode == 1, result.stdout + result.stderr
    error = result.stderr
    assert "the release stopped during local work, before any side effect: upload (" in error
    assert "demo_common-3.2.0" in error and "is already on the index and differs" in error
    assert "nothing was changed anywhere" in error
    assert world.outside() == before  # remote branches and notes, index, registry, Discord, Azure
    assert world.local() == local


def upload_other_build(world: World, version: str, scratch: Path) -> None:
    """Another build of demo-common ``version`` (a different README), uploaded by hand first."""
    from release.steps.pypi.dists import build_package, uv_binary

    source = scratch / "demo-common"
    shutil.copytree(world.repo.path / "demo-common", source)
    project = source / "pyproject.toml"
    project.write_text(
        re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', project.read_text()),
        encoding="utf-8",
    )
    (source / "README.md").write_text("Built by hand from another checkout.\n", encoding="utf-8")
    out = scratch / "dist"
    out.mkdir()
    files = build_package(source, out, epoch=0, installer="uv" if uv_binary() else "pip")
    subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar"]
        + ["--repository-url", world.index.upload_url]
        + ["-u", world.index.username, "-p", world.index.password]
        + [str(path) for _, path in files],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
