"""``invoke push-image`` on the real Docker engine and the real registry.

Each test module gets its own registries (they start in well under a second), so
version tags pushed by other modules' tests can never be mistaken for ours.
The demo's images are built ``FROM scratch``; nothing is pulled from any hub.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from devservices.engine import DockerEngine
from devservices.registry import Registry
from release.pipeline.preflight import resolve
from release.run.context import Options
from release.run.step import load_checks
from tests.repos import Repo, clean_env, drop_release_tables, make_repo

pytestmark = [pytest.mark.docker, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

USERNAME = "pusher"
PASSWORD = "s3cret-registry-pa55word"
SOURCE = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/demo"}
NO_CREDENTIALS = {"RELEASE_REGISTRY_USERNAME": "", "RELEASE_REGISTRY_PASSWORD": ""}
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("images-registry")) as started:
        yield started


@pytest.fixture(scope="module")
def locked_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    started = Registry(
        tmp_path_factory.mktemp("images-auth-registry"), username=USERNAME, password=PASSWORD
    )
    with started:
        yield started


def demo(root: Path, engine: DockerEngine, registry: Registry, **env: str) -> Repo:
    """The demo monorepo, pointed at ``registry`` (RELEASE_REGISTRY) and the engine."""
    repo = make_repo(root)
    repo.env.update({**engine.env(), **SOURCE, **NO_CREDENTIALS, **registry.env(), **env})
    return repo


def release(repo: Repo, version: str, *args: str) -> subprocess.CompletedProcess[str]:
    return repo.invoke("push-image", "--tag", f"version/{version}", *args)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def api(registry: Registry, path: str, auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.get(
        f"{registry.url}/v2/{path}", headers={"Accept": MANIFEST}, auth=auth, timeout=30
    )


def tags(registry: Registry, name: str, auth: tuple[str, str] | None = None) -> list[str]:
    answer = api(registry, f"{name}/tags/list", auth)
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return sorted(answer.json().get("tags") or [])


def digest(registry: Registry, name: str, tag: str) -> str:
    answer = api(registry, f"{name}/manifests/{tag}")
    answer.raise_for_status()
    return answer.headers["Docker-Content-Digest"]


def image_config(registry: Registry, name: str, tag: str) -> dict[str, Any]:
    """The image's config blob, read through the registry API."""
    manifest = api(registry, f"{name}/manifests/{tag}").json()
    blob = api(registry, f"{name}/blobs/{manifest['config']['digest']}")
    blob.raise_for_status()
    config: dict[str, Any] = json.loads(blob.content)["config"]
    return config


def commit_and_time(repo: Repo, tag: str) -> tuple[str, str]:
    """The tagged commit and its commit time in ISO 8601 UTC."""
    commit = repo.git("rev-parse", f"{tag}^{{commit}}")
    seconds = int(repo.git("show", "-s", "--format=%ct", commit))
    return commit, datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def pushed_demo(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: DockerEngine, open_registry: Registry
) -> tuple[Repo, dict[str, subprocess.CompletedProcess[str]]]:
    """The demo released as 3.0.0 and then 3.1.0rc1 (a later commit), both pushed."""
    repo = demo(tmp_path_factory.mktemp("images-demo"), docker_engine, open_registry)
    repo.tag("version/3.0.0")
    repo.write("CHANGELOG.md", "# Changelog\n\n## 3.1.0rc1\n\n- A release candidate.\n")
    repo.commit("changelog for 3.1.0rc1")
    repo.push()
    repo.tag("version/3.1.0rc1")
    runs = {v: ok(release(repo, v)) for v in ("3.0.0", "3.1.0rc1")}
    return repo, runs


def test_the_demo_images_are_pushed_under_their_version_tags_with_oci_labels(
    pushed_demo: tuple[Repo, dict[str, subprocess.CompletedProcess[str]]], open_registry: Registry
):
    repo, _ = pushed_demo
    for name in ("demo/node", "demo/server"):
        assert {"3.0.0", "3.1.0rc1"} <= set(tags(open_registry, name))  # and channels
        for version in ("3.0.0", "3.1.0rc1"):
            commit, created = commit_and_time(repo, f"version/{version}")
            labels = image_config(open_registry, name, version)["Labels"]
            assert labels["org.opencontainers.image.version"] == version
            assert labels["org.opencontainers.image.revision"] == commit
            assert labels["org.opencontainers.image.created"] == created
            assert labels["org.opencontainers.image.source"] == "https://github.com/acme/demo"
            assert labels["version"] == version  # the templated build arg TAG reached the build


def test_the_push_is_recorded_in_the_release_state_with_digests(
    pushed_demo: tuple[Repo, dict[str, subprocess.CompletedProcess[str]]], open_registry: Registry
):
    repo, _ = pushed_demo
    fresh = repo.clone(repo.path.parent / "fresh-clone")
    fresh.git("fetch", "-q", "origin", "+refs/notes/*:refs/notes/*")
    commit = repo.git("rev-parse", "version/3.0.0^{commit}")
    note = json.loads(fresh.git("notes", "--ref", "release/push-image", "show", commit))
    images = note["3.0.0"]["images"]
    assert images["demo/node"]["digest"] == digest(open_registry, "demo/node", "3.0.0")
    assert images["demo/server"]["pushed"] == ["3.0.0"]


def test_a_second_run_pushes_nothing_and_exits_0(
    pushed_demo: tuple[Repo, dict[str, subprocess.CompletedProcess[str]]], open_registry: Registry
):
    repo, _ = pushed_demo
    before = digest(open_registry, "demo/node", "3.0.0")
    again = ok(release(repo, "3.0.0"))
    assert "nothing pushed" in again.stderr
    assert "Step 1/" not in again.stderr  # not rebuilt
    assert digest(open_registry, "demo/node", "3.0.0") == before


def test_dry_run_builds_and_lists_every_tag_without_pushing(
    pushed_demo: tuple[Repo, dict[str, subprocess.CompletedProcess[str]]], open_registry: Registry
):
    repo, _ = pushed_demo
    repo.tag("version/3.1.0rc2")
    result = ok(release(repo, "3.1.0rc2", "--dry-run"))
    host = open_registry.host
    assert f"{host}/demo/node:3.1.0rc2" in result.stdout
    assert f"{host}/demo/server:3.1.0rc2" in result.stdout
    assert "Step 1/" in result.stderr  # it did build
    assert "3.1.0rc2" not in tags(open_registry, "demo/node")


BROKEN = {
    "pyproject.toml": """
[tool.release]
[tool.release.registry]
host = "registry.invalid"
[[tool.release.images]]
name = "broken/app"
dockerfile = "Dockerfile"
[[tool.release.images]]
name = "fine/app"
dockerfile = "fine.Dockerfile"
""",
    "Dockerfile": "FROM scratch\nLABEL a=b\nCOPY missing.txt /missing.txt\nLABEL c=d\n",
    "fine.Dockerfile": "FROM scratch\nCOPY fine.txt /fine.txt\n",
    "fine.txt": "fine\n",
}


def test_a_dockerfile_error_names_the_failing_instruction_and_pushes_nothing(
    tmp_path: Path, docker_engine: DockerEngine, open_registry: Registry
):
    repo = make_repo(tmp_path, source=None, files=BROKEN)
    repo.env.update({**docker_engine.env(), **NO_CREDENTIALS, **open_registry.env()})
    repo.tag("version/1.0.0")
    result = release(repo, "1.0.0")
    assert result.returncode == 1, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert re.search(r"building broken/app failed at Step 3/\d+ : COPY missing.txt", errors[0])
    assert "Traceback" not in result.stderr
    assert tags(open_registry, "broken/app") == []
    assert tags(open_registry, "fine/app") == []  # every build finishes before any push


def test_refused_credentials_fail_in_preflight_with_one_line_and_nothing_pushed(
    tmp_path: Path, docker_engine: DockerEngine, locked_registry: Registry
):
    wrong = "wr0ng-registry-pa55word"
    repo = demo(
        tmp_path,
        docker_engine,
        locked_registry,
        RELEASE_REGISTRY_USERNAME=USERNAME,
        RELEASE_REGISTRY_PASSWORD=wrong,
    )
    repo.tag("version/3.0.0")
    result = release(repo, "3.0.0")
    assert result.returncode == 1, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert f"registry {locked_registry.host}" in errors[0]
    assert f"refused the credentials of {USERNAME}" in errors[0]
    assert "Step 1/" not in result.stderr  # refused before anything was built
    assert tags(locked_registry, "demo/node", (USERNAME, PASSWORD)) == []
    assert wrong not in result.stdout + result.stderr
    # The same checks are what check-version runs for the step, except with --offline.
    env = clean_env(repo.env)
    online = resolve("version/3.0.0", Options(env=env), start=repo.path)
    assert [p for p in load_checks("push-image")(online) if "refused the credentials" in p]
    offline = resolve("version/3.0.0", Options(env=env, offline=True), start=repo.path)
    assert load_checks("push-image")(offline) == []


def test_an_engine_that_does_not_answer_fails_in_preflight(tmp_path: Path, open_registry: Registry):
    missing = f"unix://{tmp_path}/no-engine.sock"
    repo = make_repo(tmp_path, source=None, files=BROKEN)
    repo.env.update({**NO_CREDENTIALS, **open_registry.env(), "DOCKER_HOST": missing})
    repo.tag("version/1.0.0")
    result = release(repo, "1.0.0")
    assert result.returncode == 1, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert f"the Docker engine at {missing} does not answer" in errors[0]


def test_the_registry_password_never_appears_in_any_output(
    tmp_path: Path, docker_engine: DockerEngine, locked_registry: Registry
):
    repo = demo(tmp_path, docker_engine, locked_registry, **locked_registry.env())
    # check-version runs every planned step's checks: keep only the images.
    drop_release_tables(repo, "packages", "ui", "discord")
    repo.tag("version/3.0.0")
    runs = [
        ok(release(repo, "3.0.0", "--dry-run")),
        ok(release(repo, "3.0.0")),
        ok(release(repo, "3.0.0")),
        ok(repo.invoke("check-version", "--tag", "version/3.0.0", "--skip-credentials")),
    ]
    assert "3.0.0" in tags(locked_registry, "demo/node", (USERNAME, PASSWORD))
    written = [p.read_text() for p in (repo.path / ".git" / "release-state").glob("*.json")]
    notes = repo.git("log", "-p", "refs/notes/release/push-image")
    for text in [*(r.stdout + r.stderr for r in runs), *written, notes]:
        assert locked_registry.password not in text
