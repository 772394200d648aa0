"""``invoke demo``, the real command from this checkout: a whole release of examples/demo into
services it starts itself, the summary, what every service received, and nothing left behind.

Without a Docker engine (``DOCKER_HOST`` at a dead socket, and a process that cannot start
``dockerd``) it says so and releases the rest. The process cannot start dockerd for the
reason a user's usually cannot: it is not root. When the tests run as root, ``unshare
--user`` runs the demo in a new user namespace where its uid is 65534 (files stay
accessible: on disk it is still the same user), so
``devservices.engine.cannot_start_reason`` refuses for that real reason.
Without npm (a PATH holding only git) it leaves the UI out, says so, and releases the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devservices.engine import DEFAULT_SOCKET, DockerEngine
from tests.repos import CHECKOUT, clean_env

pytestmark = pytest.mark.slow

DEMO = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "demo"]
STEPS = ("bump", "build", "upload", "push-image", "deploy-ui", "github-release", "notify")
LEAKED_WEBHOOK = re.compile(r"/api/webhooks/\d+/(?!<token>)[\w-]{8,}")


def answers(docker_host: str) -> bool:
    """Whether anything accepts connections on the unix socket of ``docker_host``."""
    with socket.socket(socket.AF_UNIX) as client:
        try:
            client.connect(docker_host.removeprefix("unix://"))
        except OSError:
            return False
    return True


def run_demo(cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> str:
    result = subprocess.run(
        [*prefix, *DEMO], cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def summary_row(output: str, step: str) -> str:
    """The summary table's row of ``step`` (``| push-image | done | ... |``)."""
    summary = output.split("Release version/1.1.0", 1)[1]
    match = re.search(rf"^\|\s*{re.escape(step)}\s*\|\s*(\w+)\s*\|(.*)$", summary, re.MULTILINE)
    assert match, f"no summary row for {step}:\n{summary}"
    return f"{match[1]} {match[2].strip().rstrip('|').strip()}"


def assert_everything_stopped(output: str) -> None:
    """The index it started no longer answers and its temporary folder is gone."""
    index = re.search(r"package index: (\S+)", output)
    repository = re.search(r"demo repository: (\S+)", output)
    assert index and repository, output
    parts = urlsplit(index[1])
    with socket.socket() as probe, pytest.raises(OSError):
        probe.connect((parts.hostname or "", parts.port or 0))
    assert not Path(repository[1]).parent.exists()


def assert_common_services_received(output: str) -> None:
    assert "the package index holds:" in output
    for name in ("demo_common-1.1.0.tar.gz", "demo_node-1.1.0-py3-none-any.whl"):
        assert f"  {name}" in output
    assert "Discord received:\n  demo 1.1.0" in output
    # one GitHub release, "Latest", with the four built files (their sha256 checked by the step)
    assert "GitHub received:\n  release demo 1.1.0 (version/1.1.0; latest)\n" in output
    for name in ("demo_common-1.1.0.tar.gz", "demo_node-1.1.0-py3-none-any.whl"):
        assert re.search(rf"\n    {re.escape(name)} \(\d+ bytes, sha256 [0-9a-f]{{16}}\)", output)
    assert re.search(r"Azure received:\n  deployment \w+ \(success\): .*index\.html", output)
    assert re.search(r"the remote's main branch:\n  \w+ Updated the version to 1\.1\.0", output)
    assert not LEAKED_WEBHOOK.search(output)
    assert not re.search(r"ghs_[\w-]{20,}", output)  # the GitHub token


def test_the_demo_releases_everything_and_shows_what_each_service_received(
    docker_engine: DockerEngine, tmp_path: Path
):
    output = run_demo(tmp_path, docker_engine.env())
    for step in STEPS:
        assert summary_row(output, step).startswith("done"), summary_row(output, step)
    assert_common_services_received(output)
    assert "the registry holds:" in output
    assert re.search(r"registry: curl -s http://127\.0\.0\.1:\d+/v2/demo/node/tags/list", output)
    assert "  demo/node: 1.1, 1.1.0, latest, troltunga\n" in output
    assert "  demo/server: 1.1, 1.1.0, latest, troltunga, troltunga-live\n" in output
    if shutil.which("buildah") is not None:  # the two-platform image: one index, both
        assert "  demo/agent: 1.1, 1.1.0, latest, troltunga\n    1.1.0 is an index of:\n" in output
        assert re.search(r"\n      linux/amd64: sha256:[0-9a-f]{64}\n", output)
        assert re.search(r"\n      linux/arm64: sha256:[0-9a-f]{64}\n", output)
    else:
        assert "buildah is not installed here: demo/agent" in output
    assert_everything_stopped(output)


def without_an_engine(tmp_path: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """The command prefix and environment of a user who has no engine and cannot start one."""
    if answers(DEFAULT_SOCKET):
        pytest.skip(f"an engine answers at {DEFAULT_SOCKET}, which the demo always tries")
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root could start dockerd: run as a user who cannot
        unshare = shutil.which("unshare")
        if unshare is None:
            pytest.skip("no unshare (util-linux) to run the demo as a user who is not root")
        probe = subprocess.run([unshare, "--user", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            pytest.skip(f"user namespaces are not available here: {probe.stderr.strip()}")
        prefix = (unshare, "--user")
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(dead))  # a socket file that nothing listens on once closed
    assert not answers(f"unix://{dead}")
    return prefix, {"DOCKER_HOST": f"unix://{dead}"}


def test_without_a_docker_engine_the_demo_says_so_and_releases_the_rest(tmp_path: Path):
    prefix, env = without_an_engine(tmp_path)
    output = run_demo(tmp_path, env, prefix)

    assert re.search(
        r"the Docker engine cannot run here \(no Docker engine answers and starting dockerd "
        r"needs root \(running as uid \d+\).*\): images are not released",
        output,
    ), output
    assert summary_row(output, "push-image") == "skipped not configured"
    for step in ("bump", "build", "upload", "deploy-ui", "github-release", "notify"):
        assert summary_row(output, step).startswith("done"), summary_row(output, step)
    assert_common_services_received(output)
    assert "the registry holds:" not in output
    assert_everything_stopped(output)


def test_without_npm_the_demo_says_so_and_releases_the_rest(tmp_path: Path):
    prefix, env = without_an_engine(tmp_path)
    tools = tmp_path / "bin"
    tools.mkdir()
    git = shutil.which("git")
    assert git is not None
    (tools / "git").symlink_to(git)
    env["PATH"] = str(tools)  # git, and no npm (the demo runs Python by its full path)

    output = run_demo(tmp_path, env, prefix)

    assert "npm is not installed here: the UI is not built or deployed" in output
    assert summary_row(output, "deploy-ui") == "skipped not configured"
    for step in ("bump", "build", "upload", "github-release", "notify"):
        assert summary_row(output, step).startswith("done"), summary_row(output, step)
    assert "Azure received" not in output
    assert "Discord received:\n  demo 1.1.0" in output
    assert_everything_stopped(output)
