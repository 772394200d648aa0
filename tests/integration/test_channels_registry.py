"""Channels on the real registry: the issue's release scenario, a rollback, a multi-arch
index moved intact, and two releases racing.

Each release is emulated the way push-image does it: a git tag in a repository with a bare
remote, an image built in the real engine and pushed under its version tag, then
``release.steps.images.channel_moves.move_channels_after_push`` with the context ``resolve`` gives that tag.
After each release the real ``invoke channels`` shows where every channel points.
"""

from __future__ import annotations

import base64
import os
import pty
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devservices.engine import DockerEngine
from devservices.registry import Registry
from release.core.config import Registry as RegistryConfig
from release.pipeline.preflight import resolve
from release.run.context import Options, ReleaseContext
from release.steps.images.channel_moves import move_channels_after_push
from release.steps.images.oci import OCI_INDEX
from release.steps.images.registry import RegistryClient
from tests.oci import Pushed, api_image, api_index, engine_image, session
from tests.repos import CHECKOUT, Repo, clean_env, make_repo


def pyproject(name: str, yanked: tuple[str, ...] = ()) -> str:
    listed = ", ".join(f'"{v}"' for v in yanked)
    return (
        "[tool.release]\n"
        f"yanked = [{listed}]\n"
        "[tool.release.registry]\n"
        'host = "127.0.0.1:9"  # RELEASE_REGISTRY points it at the test registry\n'
        "[[tool.release.images]]\n"
        f'name = "{name}"\n'
        'dockerfile = "Dockerfile"\n'
    )


@dataclass
class Project:
    """A repository releasing one image into the test registry."""

    repo: Repo
    registry: Registry
    engine: DockerEngine | None
    image: str
    env: dict[str, str] = field(default_factory=dict)

    def tag(self, version: str, branch: str = "main", base: str | None = None) -> None:
        """Commit on ``branch`` (created from ``base`` when given) and push the version tag."""
        if base is not None:
            self.repo.git("checkout", "-q", "-b", branch, base)
        else:
            self.repo.git("checkout", "-q", branch)
        changed = "Dockerfile" if ".post" in version else "VERSION"
        self.repo.write(changed, f"# {version}\n" if changed == "Dockerfile" else version)
        self.repo.commit(f"prepare {version}")
        self.repo.push(f"HEAD:refs/heads/{branch}")
        self.repo.tag(f"version/{version}")
        self.repo.git("checkout", "-q", "main")

    def push_image(self, version: str) -> None:
        assert self.engine is not None
        engine_image(self.engine, f"{self.registry.host}/{self.image}:{version}", f"{version}\n")

    def context(self, version: str) -> ReleaseContext:
        return resolve(f"version/{version}", Options(env=self.env), start=self.repo.path)

    def move(self, version: str, client: RegistryClient | None = None) -> list[dict[str, Any]]:
        ctx = self.context(version)
        if client is not None:
            return move_channels_after_push(ctx, ctx.config.images[0], client)
        with RegistryClient(RegistryConfig(self.registry.host)) as fresh:
            return move_channels_after_push(ctx, ctx.config.images[0], fresh)

    def release(self, version: str, **where: str) -> list[dict[str, Any]]:
        self.tag(version, **where)
        self.push_image(version)
        return self.move(version)

    def channels(self, *args: str) -> tuple[int, dict[str, list[str]], str]:
        """Run ``invoke channels``: exit code, {channel: [points to, target, action]}, output."""
        result = self.repo.invoke("channels", *args, env=self.env)
        return result.returncode, table_rows(result.stdout), result.stdout + result.stderr

    def positions(self) -> dict[str, tuple[str, str]]:
        """{channel: (version it points to, target)} as ``invoke channels`` shows them."""
        code, rows, output = self.channels()
        assert code == 0, output
        assert all(len(row) == 3 for row in rows.values()), output
        return {name: (row[0].split(" ")[0], row[1]) for name, row in rows.items()}

    def digest(self, tag: str) -> str | None:
        with RegistryClient(RegistryConfig(self.registry.host)) as client:
            return client.manifest_digest(self.image, tag)


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The rows of the ASCII table(s) ``invoke channels`` prints, by channel."""
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if not line.startswith("|") or set(line) <= set("|-+ "):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == "channel":
            continue
        rows[cells[0]] = cells[1:]
    return rows


def make_project(
    tmp_path: Path, registry: Registry, engine: DockerEngine | None, image: str
) -> Project:
    repo = make_repo(
        tmp_path,
        source=None,
        files={"pyproject.toml": pyproject(image), "Dockerfile": "FROM scratch\n", "VERSION": "0"},
    )
    return Project(repo, registry, engine, image, clean_env(registry.env()))


@pytest.fixture
def project(
    tmp_path: Path, registry: Registry, docker_engine: DockerEngine, request: pytest.FixtureRequest
) -> Iterator[Project]:
    name = request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-")
    yield make_project(tmp_path, registry, docker_engine, f"channels/{name}")


def actions(records: list[dict[str, Any]]) -> dict[str, tuple[str, str | None, str | None]]:
    return {r["channel"]: (r["action"], r["from"], r["to"]) for r in records if r["channel"]}


@pytest.mark.docker
def test_release_scenario_moves_channels_forward_and_rolls_back(project: Project) -> None:
    # 3.0.0: every channel is new.
    records = project.release("3.0.0")
    assert actions(records) == {
        "petronas": ("moved", None, "3.0.0"),
        "3.0": ("moved", None, "3.0.0"),
        "latest": ("moved", None, "3.0.0"),
    }
    expected = {
        "latest": ("3.0.0", "3.0.0"),
        "petronas": ("3.0.0", "3.0.0"),
        "3.0": ("3.0.0", "3.0.0"),
    }
    assert project.positions() == expected
    assert project.digest("petronas") == project.digest("3.0.0")

    # 3.1.0rc1: a pre-release moves nothing; its minor has no channel yet.
    assert project.release("3.1.0rc1") == []
    assert project.positions() == expected

    # 3.1.0: petronas, 3.1 and latest move; 3.0 stays.
    records = project.release("3.1.0")
    assert actions(records)["petronas"] == ("moved", "3.0.0", "3.1.0")
    assert actions(records)["latest"] == ("moved", "3.0.0", "3.1.0")
    assert actions(records)["3.1"] == ("moved", None, "3.1.0")
    expected = {
        "latest": ("3.1.0", "3.1.0"),
        "petronas": ("3.1.0", "3.1.0"),
        "3.1": ("3.1.0", "3.1.0"),
        "3.0": ("3.0.0", "3.0.0"),
    }
    assert project.positions() == expected

    # 3.0.5 from release/3.0: only 3.0 moves; petronas and latest stay on 3.1.0.
    records = project.release("3.0.5", branch="release/3.0", base="version/3.0.0")
    assert actions(records) == {
        "petronas": ("stayed", "3.1.0", "3.1.0"),
        "3.0": ("moved", "3.0.0", "3.0.5"),
        "latest": ("stayed", "3.1.0", "3.1.0"),
    }
    expected["3.0"] = ("3.0.5", "3.0.5")
    assert project.positions() == expected

    # 3.1.0.post1: petronas, 3.1 and latest move on.
    records = project.release("3.1.0.post1")
    assert {c: a[0] for c, a in actions(records).items()} == dict.fromkeys(
        ("petronas", "3.1", "latest"), "moved"
    )
    for channel in ("latest", "petronas", "3.1"):
        expected[channel] = ("3.1.0.post1", "3.1.0.post1")
    assert project.positions() == expected

    # 2.4.1 while 3.x exists: harukas and 2.4 are new; latest stays.
    first = project.repo.git("rev-list", "--max-parents=0", "main")
    records = project.release("2.4.1", branch="release/2.4", base=first)
    assert actions(records)["latest"] == ("stayed", "3.1.0.post1", "3.1.0.post1")
    expected |= {"harukas": ("2.4.1", "2.4.1"), "2.4": ("2.4.1", "2.4.1")}
    assert project.positions() == expected

    # Rollback: 3.1.0.post1 is yanked on the default branch; the table shows the way back.
    project.repo.write("pyproject.toml", pyproject(project.image, yanked=("3.1.0.post1",)))
    project.repo.commit("yank 3.1.0.post1")
    project.repo.push("HEAD:refs/heads/main")
    code, rows, output = project.channels()
    assert code == 0, output
    for channel in ("latest", "petronas", "3.1"):
        assert rows[channel][0].startswith("3.1.0.post1 ")
        assert rows[channel][1] == "3.1.0"
        assert rows[channel][2] == "backward: 3.1.0.post1 -> 3.1.0 (3.1.0.post1 is yanked)"
    assert rows["3.0"][2].startswith("stay")

    # Without a terminal, --apply needs --yes: nothing moves.
    code, _, output = project.channels("--apply")
    assert code == 1
    assert "invoke channels --apply --yes" in output
    assert project.digest("petronas") == project.digest("3.1.0.post1")

    code, _, output = project.channels("--apply", "--yes")
    assert code == 0, output
    for channel in ("latest", "petronas", "3.1"):
        assert f"moved {channel} 3.1.0.post1 -> 3.1.0 (backward" in output
        expected[channel] = ("3.1.0", "3.1.0")
    assert "moved 3.0 " not in output
    assert project.positions() == expected
    assert project.digest("latest") == project.digest("3.1.0")

    # A re-run of the yanked release leaves the channels where the rollback put them.
    records = project.move("3.1.0.post1")
    assert {c: a[0] for c, a in actions(records).items()} == dict.fromkeys(
        ("petronas", "3.1", "latest"), "stayed"
    )
    assert project.positions() == expected


@pytest.mark.docker
def test_a_multi_arch_index_is_moved_intact(project: Project) -> None:
    repo, host = project.image, project.registry.host
    project.push_image("amd64-build")
    project.push_image("arm64-build")
    with RegistryClient(RegistryConfig(host)) as client:
        amd64 = client.manifest(repo, "amd64-build")
        arm64 = client.manifest(repo, "arm64-build")
    images = {
        "amd64": Pushed(amd64.data, amd64.media_type),
        "arm64": Pushed(arm64.data, arm64.media_type),
    }
    project.tag("3.2.0")
    with session() as http:
        index = api_index(http, project.registry.url, repo, "3.2.0", images)
    records = project.move("3.2.0")
    assert {c: a[0] for c, a in actions(records).items()} == dict.fromkeys(
        ("petronas", "3.2", "latest"), "moved"
    )
    with RegistryClient(RegistryConfig(host)) as client:
        for channel in ("petronas", "3.2", "latest"):
            moved = client.manifest(repo, channel)
            assert moved.media_type == OCI_INDEX
            assert moved.data == index.data
            assert moved.digest == index.digest
    assert project.positions()["latest"] == ("3.2.0", "3.2.0")


class GatedClient(RegistryClient):
    """A real client whose first manifest PUT waits until ``gate`` opens (after the race's
    other release has finished), so this release moves channels from a stale read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = threading.Event()
        self.gate = threading.Event()

    def put_manifest(self, repo: str, tag: str, data: bytes, media_type: str) -> str:
        if not self.gate.is_set():
            self.waiting.set()
            assert self.gate.wait(timeout=120)
        return super().put_manifest(repo, tag, data, media_type)


def test_two_racing_releases_end_with_every_channel_on_the_highest(
    tmp_path: Path, registry: Registry
) -> None:
    """No engine needed: the images are pushed through the API."""
    project = make_project(tmp_path, registry, None, "channels/race")
    with session() as http:
        for version in ("3.2.0", "3.3.0"):
            project.tag(version)
        api_image(http, registry.url, project.image, "3.2.0", "3.2.0 layer")
        slow = GatedClient(RegistryConfig(registry.host))
        results: dict[str, Any] = {}

        def slow_release() -> None:
            try:
                results["3.2.0"] = project.move("3.2.0", slow)
            except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
                results["error"] = error

        thread = threading.Thread(target=slow_release)
        thread.start()
        try:
            assert slow.waiting.wait(timeout=120)  # 3.2.0 read the registry, holds its moves
            api_image(http, registry.url, project.image, "3.3.0", "3.3.0 layer")
            fast = project.move("3.3.0")
        finally:
            slow.gate.set()
            thread.join(timeout=120)
            slow.close()
    assert "error" not in results, results.get("error")
    assert actions(fast)["latest"] == ("moved", None, "3.3.0")
    # The slow release first moved latest and petronas back to 3.2.0 from its stale read,
    # then read again and moved them on to 3.3.0.
    assert actions(results["3.2.0"])["latest"] == ("moved", None, "3.3.0")
    positions = project.positions()
    assert positions == {
        "latest": ("3.3.0", "3.3.0"),
        "petronas": ("3.3.0", "3.3.0"),
        "3.3": ("3.3.0", "3.3.0"),
        "3.2": ("3.2.0", "3.2.0"),
    }


def yanked_project(
    tmp_path: Path, registry: Registry, image: str, *, push: bool = True, **auth: str
) -> Project:
    """1.0.0 and 1.0.1 released (images pushed through the API), then 1.0.1 yanked on main
    (and pushed to the remote's main unless ``push`` is False)."""
    project = make_project(tmp_path, registry, None, image)
    project.env |= auth
    headers = {}
    if auth:
        user_pass = f"{auth['RELEASE_REGISTRY_USERNAME']}:{auth['RELEASE_REGISTRY_PASSWORD']}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
    with session() as http:
        for version in ("1.0.0", "1.0.1"):
            project.tag(version)
            api_image(http, registry.url, image, version, f"{version} layer", headers=headers)
            ctx = project.context(version)
            with RegistryClient(
                RegistryConfig(registry.host),
                auth.get("RELEASE_REGISTRY_USERNAME"),
                auth.get("RELEASE_REGISTRY_PASSWORD"),
            ) as client:
                move_channels_after_push(ctx, ctx.config.images[0], client)
    project.repo.write("pyproject.toml", pyproject(image, yanked=("1.0.1",)))
    project.repo.commit("yank 1.0.1")
    if push:
        project.repo.push("HEAD:refs/heads/main")
    return project


def on_a_terminal(project: Project, answer: str, *args: str) -> tuple[int, str]:
    """Run ``invoke channels`` on a pseudo-terminal; answer the first question with ``answer``."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "channels", *args],
        cwd=project.repo.path,
        env=project.env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output, answered = b"", False
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 120)
            assert ready, f"no output for 120 s:\n{output.decode(errors='replace')}"
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"[y/n]" in output:
                os.write(controller, answer.encode() + b"\n")
                answered = True
    finally:
        os.close(controller)
        code = process.wait(timeout=120)
    return code, output.decode(errors="replace")


def test_apply_asks_on_a_terminal_before_moving_backwards(
    tmp_path: Path, registry: Registry
) -> None:
    project = yanked_project(tmp_path, registry, "channels/terminal")
    assert project.digest("latest") == project.digest("1.0.1")

    code, output = on_a_terminal(project, "n", "--apply")
    assert code == 1, output
    assert "nothing moved: not confirmed" in output
    assert project.digest("latest") == project.digest("1.0.1")

    code, output = on_a_terminal(project, "y", "--apply")
    assert code == 0, output
    assert "moved latest 1.0.1 -> 1.0.0" in output
    assert project.digest("latest") == project.digest("1.0.0")
    assert project.positions() == {
        "latest": ("1.0.0", "1.0.0"),
        "troltunga": ("1.0.0", "1.0.0"),
        "1.0": ("1.0.0", "1.0.0"),
    }


def test_channels_with_credentials_never_print_the_password(
    tmp_path: Path, auth_registry: Registry
) -> None:
    assert auth_registry.username and auth_registry.password
    password = auth_registry.password
    project = yanked_project(tmp_path, auth_registry, "channels/secret", **auth_registry.env())

    code, _, output = project.channels("--apply", "--yes")
    assert code == 0, output
    assert "moved latest 1.0.1 -> 1.0.0" in output
    assert password not in output

    project.env["RELEASE_REGISTRY_PASSWORD"] = "not-the-registry-password"
    code, _, output = project.channels()
    assert code == 1
    assert f"refused the credentials of {auth_registry.username}" in output
    assert len(output.strip().splitlines()) == 1, output
    assert "not-the-registry-password" not in output and password not in output


def test_yanked_is_read_from_the_remote_default_branch_not_the_working_tree(
    tmp_path: Path, registry: Registry
) -> None:
    project = yanked_project(tmp_path, registry, "channels/unpushed-yank", push=False)
    code, rows, output = project.channels("--apply", "--yes")
    assert code == 0, output
    assert rows["latest"][1] == "1.0.1"
    assert "every channel is on its target: nothing to move" in output
    assert project.digest("latest") == project.digest("1.0.1")

    project.repo.push("HEAD:refs/heads/main")
    assert project.positions()["latest"] == ("1.0.1", "1.0.0")
