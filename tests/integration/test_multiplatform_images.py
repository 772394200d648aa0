"""Multi-platform images (issue 23) on the real Debian buildah (vfs storage) and the real
registry: an image with ``platforms = ["linux/amd64", "linux/arm64"]`` is built once per
platform and pushed as one OCI image index under its version tag, with every platform's
manifest; channels move onto the index; a re-run pushes nothing; a planted index of
another commit is refused; a missing buildah, or a ``RUN`` for a platform this machine runs
only under QEMU without QEMU's handler, is refused by the pre-flight before anything is
built. The registry credentials reach buildah only in an auth file that is gone afterwards.

Tests that need buildah skip with the reason where it is not installed, and fail under
``RELEASE_TEST_REQUIRE_DOCKER=1`` (CI, where ``.ci/services.sh`` installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from devservices.engine import DockerEngine
from devservices.registry import Registry
from release.steps.images.oci import OCI_INDEX
from release.steps.images.platforms import machine_platform, qemu_registered
from tests.oci import tag_digests
from tests.repos import Repo, make_repo
from tests.services import docker_required

pytestmark = [pytest.mark.docker, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SOURCE = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/demo"}
NO_CREDENTIALS = {"RELEASE_REGISTRY_USERNAME": "", "RELEASE_REGISTRY_PASSWORD": ""}
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
PLATFORMS = {"linux/amd64", "linux/arm64"}
REVISION = "org.opencontainers.image.revision"
USERNAME, PASSWORD = "multi-user", "multiPlatformSecret-7Qx2Lw9"


@pytest.fixture(scope="session")
def buildah() -> str:
    """The buildah program; a clear skip without it (a failure where CI requires it)."""
    program = shutil.which("buildah")
    if program is None:
        reason = "buildah is not installed (apt-get install buildah; .ci/services.sh does)"
        if docker_required():
            pytest.fail(f"RELEASE_TEST_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return program


@pytest.fixture
def own_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("multi-registry")) as started:
        yield started


def only_tables(repo: Repo, keep_images: tuple[str, ...] = ("demo/agent",)) -> None:
    """The demo with its version files and the images ``keep_images`` only."""
    import tomlkit

    path = repo.path / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table: Any = document["tool"]["release"]  # type: ignore[index]
    for name in ("packages", "ui", "discord"):
        table.pop(name, None)
    kept = [image for image in table["images"] if image["name"] in keep_images]
    table["images"].clear()
    table["images"].extend(kept)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    repo.commit("release only the images of this test")
    repo.push()


def demo(root: Path, registry: Registry, *images: str, **env: str) -> Repo:
    repo = make_repo(root)
    repo.env.update({**SOURCE, **NO_CREDENTIALS, **registry.env(), "TMPDIR": str(tmp(root))})
    repo.env.update(env)
    only_tables(repo, images or ("demo/agent",))
    return repo


def tmp(root: Path) -> Path:
    """The temporary folder of the tool's processes: whatever buildah leaves, it is here."""
    folder = root / "tmp"
    folder.mkdir(exist_ok=True)
    return folder


def invoke(repo: Repo, task: str, version: str, *args: str, **env: str) -> Any:
    return repo.invoke(task, "--tag", f"version/{version}", *args, env=env)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    found = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(found) == 1, result.stderr
    return found[0]


def get(registry: Registry, path: str, auth: tuple[str, str] | None = None) -> requests.Response:
    http = requests.Session()
    http.trust_env = False
    response = http.get(f"{registry.url}{path}", headers={"Accept": ACCEPT}, auth=auth, timeout=30)
    http.close()
    return response


def index(
    registry: Registry, name: str, ref: str, auth: tuple[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    answer = get(registry, f"/v2/{name}/manifests/{ref}", auth)
    assert answer.status_code == 200, answer.text
    return answer.headers["Content-Type"], answer.json()


def config_of(registry: Registry, name: str, digest: str) -> dict[str, Any]:
    _, manifest = index(registry, name, digest)
    blob = get(registry, f"/v2/{name}/blobs/{manifest['config']['digest']}")
    config: dict[str, Any] = blob.json()
    return config


def commit_of(repo: Repo, version: str) -> str:
    return repo.git("rev-parse", f"version/{version}^{{commit}}")


def commit_time(repo: Repo, version: str) -> str:
    seconds = int(repo.git("show", "-s", "--format=%ct", f"version/{version}^{{commit}}"))
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in tmp(root).iterdir() if p.name.startswith("release-"))


# -- an index with both platforms, channels on it, a re-run that pushes nothing --------------


def test_a_two_platform_image_is_pushed_as_one_index_whose_manifests_name_both_platforms(
    tmp_path: Path, buildah: str, docker_engine: DockerEngine, own_registry: Registry
):
    # The whole demo's images: two by the engine, the agent by buildah, in one release.
    repo = demo(tmp_path, own_registry, "demo/node", "demo/server", "demo/agent")
    repo.env.update(docker_engine.env())
    repo.tag("version/1.1.0")
    summary = tmp_path / "step-summary.md"
    result = ok(
        repo.invoke(
            "release", "--tag", "version/1.1.0", "--yes", "--local",
            env={"GITHUB_STEP_SUMMARY": str(summary)},
        )
    )  # fmt: skip
    commit = commit_of(repo, "1.1.0")
    held = tag_digests(own_registry.url, "demo/agent")
    media_type, body = index(own_registry, "demo/agent", "1.1.0")
    assert media_type == OCI_INDEX
    platforms = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in body["manifests"]
    }
    assert set(platforms) == PLATFORMS
    for platform, digest in platforms.items():
        config = config_of(own_registry, "demo/agent", digest)
        assert f"{config['os']}/{config['architecture']}" == platform
        labels = config["config"]["Labels"]
        assert labels[REVISION] == commit
        assert labels["org.opencontainers.image.version"] == "1.1.0"
        assert labels["org.opencontainers.image.created"] == commit_time(repo, "1.1.0")
        assert labels["org.opencontainers.image.source"] == "https://github.com/acme/demo"
        assert labels["version"] == "1.1.0"  # the templated build arg
        assert labels["platform"] == platform  # each platform built as itself
        assert config["created"] == commit_time(repo, "1.1.0")  # --timestamp: the commit's
        assert "io.buildah.version" not in labels
    # The channels point at the index itself: the same digest, both platforms.
    assert held["latest"] == held["1.1"] == held["troltunga"] == held["1.1.0"]
    assert "linux/amd64 | STEP 1/" in result.stderr and "linux/arm64 | STEP 1/" in result.stderr
    # The summary table and the step summary list the platforms with their digests.
    for platform, digest in platforms.items():
        assert f"{platform}: {digest}" in result.stdout + result.stderr
        assert f"{platform}: {digest}" in summary.read_text(encoding="utf-8")
    # The engine's images are as before: one manifest each, no platform list.
    assert index(own_registry, "demo/node", "1.1.0")[0] != OCI_INDEX
    assert leftovers(tmp_path) == []  # buildah's storage and auth folders are gone

    # A re-run pushes nothing and builds nothing.
    again = ok(invoke(repo, "push-image", "1.1.0", **docker_engine.env()))
    assert "every version tag was in the registry already: nothing pushed" in again.stderr
    assert "STEP 1/" not in again.stderr
    for platform, digest in platforms.items():
        assert f"demo/agent {platform}: {digest}" in again.stderr
    assert tag_digests(own_registry.url, "demo/agent") == held

    # `invoke channels` shows each channel's platforms and their digests.
    channels = ok(repo.invoke("channels"))
    table = channels.stdout[channels.stdout.index("demo/agent") :]
    assert "platforms" in table
    assert f"linux/amd64 {platforms['linux/amd64'][:19]}" in table
    assert f"linux/arm64 {platforms['linux/arm64'][:19]}" in table


def test_dry_run_builds_every_platform_and_pushes_nothing(
    tmp_path: Path, buildah: str, own_registry: Registry
):
    repo = demo(tmp_path, own_registry)
    repo.tag("version/1.1.0")
    # Only buildah builds: no Docker engine is needed, none is asked.
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    result = ok(invoke(repo, "push-image", "1.1.0", "--dry-run", DOCKER_HOST=nowhere))
    assert "linux/amd64 | STEP 1/" in result.stderr and "linux/arm64 | STEP 1/" in result.stderr
    assert "would push (an index of linux/amd64, linux/arm64)" in result.stdout
    assert tag_digests(own_registry.url, "demo/agent") == {}
    assert leftovers(tmp_path) == []


def test_a_failed_platform_build_names_the_platform_and_the_step_and_pushes_nothing(
    tmp_path: Path, buildah: str, own_registry: Registry
):
    repo = demo(tmp_path, own_registry)
    repo.write("docker/agent.Dockerfile", "ARG BASE=1.0\nFROM scratch\nCOPY missing.txt /x\n")
    repo.commit("the agent copies a file that is not there")
    repo.push()
    repo.tag("version/1.1.0")
    result = invoke(repo, "push-image", "1.1.0")
    error = one_error(result)
    assert "building demo/agent for linux/amd64 failed at STEP 2/" in error
    assert "COPY missing.txt /x" in error
    assert "the last lines of the failed build of demo/agent:" in result.stderr
    assert tag_digests(own_registry.url, "demo/agent") == {}
    assert leftovers(tmp_path) == []  # the private storage is removed after a failure too


# -- an existing tag of another commit -------------------------------------------------------


def test_a_planted_index_of_another_commit_is_refused_before_anything_is_built(
    tmp_path: Path, buildah: str, own_registry: Registry
):
    repo = demo(tmp_path, own_registry)
    repo.tag("version/1.1.0")
    ok(invoke(repo, "push-image", "1.1.0"))
    older = commit_of(repo, "1.1.0")
    repo.write("CHANGELOG.md", "# Changelog\n\n## 1.2.0\n\n- Next.\n")
    repo.commit("changelog for 1.2.0")
    repo.push()
    repo.tag("version/1.2.0")
    ours = commit_of(repo, "1.2.0")
    # Someone copied the 1.1.0 index under 1.2.0 by hand.
    http = requests.Session()
    http.trust_env = False
    planted = get(own_registry, "/v2/demo/agent/manifests/1.1.0")
    http.put(
        f"{own_registry.url}/v2/demo/agent/manifests/1.2.0",
        data=planted.content,
        headers={"Content-Type": planted.headers["Content-Type"]},
        timeout=30,
    ).raise_for_status()
    http.close()
    before = tag_digests(own_registry.url, "demo/agent")

    result = invoke(repo, "push-image", "1.2.0")
    error = one_error(result)
    digest = planted.headers["Docker-Content-Digest"]
    assert f"demo/agent:1.2.0 exists and holds another image ({digest})" in error
    assert f"its revisions are {older} (linux/amd64), {older} (linux/arm64)" in error
    assert f"this release's is {ours}" in error
    assert "STEP 1/" not in result.stderr
    assert tag_digests(own_registry.url, "demo/agent") == before  # nothing pushed, no channel moved


# -- the pre-flight: buildah, QEMU --------------------------------------------------------------


def path_without_buildah(root: Path) -> str:
    """A PATH holding every program of this one but buildah (links in one folder)."""
    folder = root / "bin-without-buildah"
    folder.mkdir()
    for entry in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not entry or not Path(entry).is_dir():
            continue
        for program in Path(entry).iterdir():
            link = folder / program.name
            if program.name != "buildah" and not link.exists():
                link.symlink_to(program)
    return str(folder)


def test_a_missing_buildah_is_reported_by_the_preflight_with_the_fix(
    tmp_path: Path, own_registry: Registry
):
    repo = demo(tmp_path, own_registry)
    repo.tag("version/1.1.0")
    env = {"PATH": path_without_buildah(tmp_path)}
    checked = invoke(repo, "check-version", "1.1.0", **env)
    assert checked.returncode == 1, (checked.stdout, checked.stderr)
    assert "push-image: buildah is not installed (not on PATH)" in checked.stderr
    assert "demo/agent (linux/amd64, linux/arm64)" in checked.stderr
    assert "apt-get install buildah" in checked.stderr
    error = one_error(invoke(repo, "push-image", "1.1.0", **env))
    assert "buildah is not installed" in error and "apt-get install buildah" in error
    assert tag_digests(own_registry.url, "demo/agent") == {}
    # Offline too: it is this machine's tool, not a service.
    offline = invoke(repo, "check-version", "1.1.0", "--offline", **env)
    assert "push-image: buildah is not installed" in offline.stderr


def test_a_run_for_a_foreign_platform_without_qemu_is_refused_before_anything_is_built(
    tmp_path: Path, buildah: str, own_registry: Registry
):
    foreign = "linux/arm64" if machine_platform() != "linux/arm64" else "linux/amd64"
    if qemu_registered(foreign[6:]):
        pytest.skip(f"this machine has QEMU's handler for {foreign}: nothing to refuse")
    repo = demo(tmp_path, own_registry)
    repo.write(
        "docker/agent.Dockerfile",
        'ARG BASE=1.0\nFROM scratch\nCOPY app/agent.txt /app/agent.txt\nRUN ["/bin/true"]\n',
    )
    repo.commit("the agent runs a command")
    repo.push()
    repo.tag("version/1.1.0")
    checked = invoke(repo, "check-version", "1.1.0")
    assert checked.returncode == 1, (checked.stdout, checked.stderr)
    handler = "qemu-aarch64" if foreign == "linux/arm64" else "qemu-x86_64"
    assert (
        f"push-image: demo/agent: docker/agent.Dockerfile has RUN instructions for {foreign}, "
        f"which this {machine_platform()} machine runs only under QEMU, and no QEMU handler "
        f"for {foreign[6:]} is registered (/proc/sys/fs/binfmt_misc/{handler} is missing): "
        "register QEMU's handlers"
    ) in checked.stderr
    assert "docker/setup-qemu-action" in checked.stderr
    # The workflow's check job holds no credentials and builds no image: QEMU is the
    # push-image job's (it installs the handlers), so the check job does not ask for them.
    ok(invoke(repo, "check-version", "1.1.0", "--skip-credentials"))
    result = invoke(repo, "push-image", "1.1.0")
    error = one_error(result)
    assert f"no QEMU handler for {foreign[6:]} is registered" in error
    assert "STEP 1/" not in result.stderr  # refused before any build
    assert tag_digests(own_registry.url, "demo/agent") == {}


# -- credentials --------------------------------------------------------------------------------

SHIM = """#!/bin/sh
# Records what buildah is given, and whether its auth file is private, then runs it.
{{
  printf 'argv:'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'
  env | sed 's/^/env: /'
  prev=
  for a in "$@"; do
    if [ "$prev" = "--authfile" ]; then
      printf 'authfile: %s %s %s\\n' "$a" "$(stat -c %a "$a")" "$(stat -c %a "$(dirname "$a")")"
    fi
    prev=$a
  done
}} >> {log}
exec {buildah} "$@"
"""


def test_the_registry_credentials_reach_buildah_only_in_a_private_auth_file_removed_after(
    tmp_path: Path, buildah: str, tmp_path_factory: pytest.TempPathFactory
):
    locked = Registry(tmp_path_factory.mktemp("multi-locked"), username=USERNAME, password=PASSWORD)
    with locked:
        repo = demo(tmp_path, locked, **locked.env())
        log = tmp_path / "buildah.log"
        shim_folder = tmp_path / "shim"
        shim_folder.mkdir()
        shim = shim_folder / "buildah"
        shim.write_text(SHIM.format(log=log, buildah=buildah), encoding="utf-8")
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        env = {
            "PATH": f"{shim_folder}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "RELEASE_INTERNAL_MARKER": "marker-x1",
        }

        def commands(recorded: str) -> list[tuple[str, list[str]]]:
            """Each buildah command: its arguments, and its auth file (name, modes) if any."""
            found: list[tuple[str, list[str]]] = []
            for line in recorded.splitlines():
                if line.startswith("argv:"):
                    found.append((line, []))
                elif line.startswith("authfile:"):
                    found[-1] = (found[-1][0], line.split()[1:])
            return found

        def with_credentials(recorded: str) -> list[str]:
            return [" ".join(a.split()[7:10]) for a, auth in commands(recorded) if auth]

        # FROM scratch: the builds pull nothing, only the push gets the credentials.
        repo.tag("version/1.1.0")
        outputs = [ok(invoke(repo, "push-image", "1.1.0", **env))]
        held = tag_digests(locked.url, "demo/agent", (USERNAME, PASSWORD))
        assert {"1.1.0", "latest"} <= set(held)
        first = log.read_text(encoding="utf-8")
        assert with_credentials(first) == ["manifest push --all"], first
        # FROM the registry itself (plain HTTP on this machine, behind Basic auth): both
        # builds pull the base image with the credentials, through the same kind of file.
        repo.write(
            "docker/agent.Dockerfile",
            f"ARG BASE=1.0\nFROM {locked.host}/demo/agent:1.1.0\nCOPY app/node.txt /n.txt\n",
        )
        repo.commit("the agent builds on the released one")
        repo.push()
        repo.tag("version/1.2.0")
        outputs.append(ok(invoke(repo, "push-image", "1.2.0", **env)))
        media_type, body = index(locked, "demo/agent", "1.2.0", (USERNAME, PASSWORD))
        assert media_type == OCI_INDEX and len(body["manifests"]) == 2
        recorded = log.read_text(encoding="utf-8")
        assert with_credentials(recorded) == [
            "manifest push --all",
            "build --platform linux/amd64",
            "build --platform linux/arm64",
            "manifest push --all",
        ], recorded
        assert PASSWORD not in recorded  # not in any command line, not in its environment
        assert "RELEASE_REGISTRY_PASSWORD" not in recorded
        assert "marker-x1" not in recorded  # the release's environment is not buildah's
        for _, auth in commands(recorded):
            if auth:
                name, mode, folder_mode = auth
                assert (mode, folder_mode) == ("600", "700")
                assert not Path(name).exists()  # removed after the command
        assert leftovers(tmp_path) == []
        for result in outputs:
            assert PASSWORD not in result.stdout + result.stderr
        for left in tmp(tmp_path).rglob("*"):
            if left.is_file():
                assert PASSWORD.encode() not in left.read_bytes()


def test_the_state_records_each_platforms_digest(
    tmp_path: Path, buildah: str, own_registry: Registry
):
    repo = demo(tmp_path, own_registry)
    repo.tag("version/1.1.0")
    ok(invoke(repo, "push-image", "1.1.0"))
    [record] = [
        json.loads(p.read_text()) for p in (repo.path / ".git" / "release-state").glob("*.json")
    ]
    image = record["push-image"]["images"]["demo/agent"]
    _, body = index(own_registry, "demo/agent", "1.1.0")
    expected = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in body["manifests"]
    }
    assert image["platforms"] == expected
    assert image["digest"] == tag_digests(own_registry.url, "demo/agent")["1.1.0"]
    # `invoke status` shows them too: in --json the record's fields, in its text the lines.
    status = ok(invoke(repo, "status", "1.1.0", "--json"))
    published = json.loads(status.stdout)["steps"]["push-image"]["published"]
    assert published["images"]["demo/agent"]["platforms"] == expected
    text = ok(invoke(repo, "status", "1.1.0")).stdout
    for platform, digest in expected.items():
        assert f"{platform}: {digest}" in text
