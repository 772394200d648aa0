"""Version tags that never change, and images built only when a minor opens, on the real
Docker engine and the real registry (docs/design.md "Tags that never move").

An existing version tag is done only when it holds this release's image: the digest the
release's state records as pushed, or an image whose ``org.opencontainers.image.revision``
label is the tagged commit. Another commit's image (or an unlabelled one) is refused before
anything is built or pushed, and no channel moves onto it. Each test has its own registry,
so the channels it looks at are its own.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from devservices.engine import DockerEngine
from devservices.registry import Registry
from release.pipeline.preflight import resolve
from release.run.context import Options
from release.steps.images.oci import OCI_MANIFEST
from release.steps.images.step import PUSH_IMAGE
from tests.oci import (
    OCI_CONFIG,
    OCI_LAYER,
    Pushed,
    api_index,
    put_manifest,
    session,
    tag_digests,
    upload_blob,
)
from tests.repos import Repo, clean_env, drop_release_tables, make_repo

pytestmark = [pytest.mark.docker, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SOURCE = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/demo"}
NO_CREDENTIALS = {"RELEASE_REGISTRY_USERNAME": "", "RELEASE_REGISTRY_PASSWORD": ""}
REVISION = "org.opencontainers.image.revision"


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("provenance-registry")) as started:
        yield started


def demo(root: Path, engine: DockerEngine, registry: Registry) -> Repo:
    """The demo monorepo with only its version files and images (no index, UI or Discord)."""
    repo = make_repo(root)
    repo.env.update({**engine.env(), **SOURCE, **NO_CREDENTIALS, **registry.env()})
    drop_release_tables(repo, "packages", "ui", "discord")
    return repo


def invoke(repo: Repo, task: str, version: str, *args: str) -> subprocess.CompletedProcess[str]:
    return repo.invoke(task, "--tag", f"version/{version}", *args)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    found = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(found) == 1, result.stderr
    return found


def commit_of(repo: Repo, version: str) -> str:
    return repo.git("rev-parse", f"version/{version}^{{commit}}")


def next_commit(repo: Repo, version: str) -> str:
    """A new commit on main tagged ``version/<version>``; returns the commit."""
    repo.write("CHANGELOG.md", f"# Changelog\n\n## {version}\n\n- Next.\n")
    repo.commit(f"changelog for {version}")
    repo.push()
    repo.tag(f"version/{version}")
    return commit_of(repo, version)


def plant(engine: DockerEngine, registry: Registry, name: str, tag: str, **labels: str) -> str:
    """Push an image of our own under ``name:tag`` straight through the engine."""
    client = engine.client()
    try:
        lines = ["FROM scratch", "LABEL planted=yes"]
        lines += [f'LABEL "{key}"="{value}"' for key, value in labels.items()]
        dockerfile = ("\n".join(lines) + "\n").encode()
        image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), rm=True)
        image.tag(f"{registry.host}/{name}", tag)
        for event in client.api.push(f"{registry.host}/{name}", tag=tag, stream=True, decode=True):
            assert "error" not in event, event
    finally:
        client.close()
    return tag_digests(registry.url, name)[tag]


# -- another commit's image under the version tag -------------------------------------------


def test_a_version_tag_holding_another_commits_image_is_refused_before_any_push(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = demo(tmp_path, docker_engine, registry)
    repo.tag("version/2.5.0")
    ok(invoke(repo, "push-image", "2.5.0"))
    older = commit_of(repo, "2.5.0")
    ours = next_commit(repo, "2.6.0")
    # Someone pushed 2.6.0 by hand, from the 2.5.0 commit.
    planted = plant(docker_engine, registry, "demo/node", "2.6.0", **{REVISION: older})
    before = {name: tag_digests(registry.url, name) for name in ("demo/node", "demo/server")}
    assert before["demo/node"]["latest"] != planted

    result = invoke(repo, "push-image", "2.6.0")
    [error] = errors(result)
    ref = f"{registry.host}/demo/node:2.6.0"
    assert f"{ref} exists and holds another image ({planted})" in error
    assert f"its revision is {older}, this release's is {ours}" in error
    assert "release a new version" in error
    assert "Step 1/" not in result.stderr  # refused before any build
    # Nothing pushed, no channel moved: the registry is as it was.
    assert {
        name: tag_digests(registry.url, name) for name in ("demo/node", "demo/server")
    } == before

    # check-version reports it among the pre-flight problems (the step's online checks).
    checked = invoke(repo, "check-version", "2.6.0")
    assert checked.returncode == 1
    assert f"push-image: {ref} exists and holds another image" in checked.stderr

    # A whole release stops in its pre-flight: no bump commit, nothing pushed.
    main = repo.git("ls-remote", "origin", "refs/heads/main")
    released = repo.invoke("release", "--tag", "version/2.6.0", "--yes", "--local")
    [error] = errors(released)
    assert f"{ref} exists and holds another image" in error
    assert repo.git("ls-remote", "origin", "refs/heads/main") == main
    assert {
        name: tag_digests(registry.url, name) for name in ("demo/node", "demo/server")
    } == before


def test_an_unlabelled_image_under_the_version_tag_is_refused_and_the_step_checks_it_itself(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    planted = plant(docker_engine, registry, "demo/node", "2.4.1")
    repo = demo(tmp_path, docker_engine, registry)
    repo.tag("version/2.4.1")
    [error] = errors(invoke(repo, "push-image", "2.4.1"))
    assert f"demo/node:2.4.1 exists and holds another image ({planted})" in error
    assert f"its revision is no {REVISION} label, this release's is " in error
    assert tag_digests(registry.url, "demo/server") == {}
    # The step refuses by itself too, before its first build (a tag planted after the checks).
    ctx = resolve("version/2.4.1", Options(env=clean_env(repo.env)), start=repo.path)
    with pytest.raises(Exception, match="exists and holds another image") as raised:
        PUSH_IMAGE.prepare(ctx)
    assert "release a new version" in str(raised.value)
    assert tag_digests(registry.url, "demo/node") == {"2.4.1": planted}


# -- this release's image: done ----------------------------------------------------------------


def test_the_same_commits_image_is_done_after_a_lost_answer(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = demo(tmp_path, docker_engine, registry)
    repo.tag("version/2.5.0")
    ok(invoke(repo, "push-image", "2.5.0"))
    pushed = tag_digests(registry.url, "demo/node")
    # The answer was lost: no local state, no note on the remote. The labels decide.
    for record in (repo.path / ".git" / "release-state").glob("*.json"):
        record.unlink()
    repo.git("push", "-q", "origin", ":refs/notes/release/push-image")
    repo.git("update-ref", "-d", "refs/notes/release/push-image")
    again = ok(invoke(repo, "push-image", "2.5.0"))
    assert "demo/node:2.5.0 exists in the registry" in again.stderr
    assert "Step 1/" not in again.stderr  # not rebuilt
    assert tag_digests(registry.url, "demo/node") == pushed


def test_a_planted_image_of_the_same_commit_is_done_and_the_channels_move_onto_it(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = demo(tmp_path, docker_engine, registry)
    repo.tag("version/2.5.0")
    ours = commit_of(repo, "2.5.0")
    planted = plant(docker_engine, registry, "demo/node", "2.5.0", **{REVISION: ours})
    ok(invoke(repo, "push-image", "2.5.0"))
    node = tag_digests(registry.url, "demo/node")
    assert node["2.5.0"] == planted  # kept, never overwritten
    assert node["latest"] == node["2.5"] == planted
    assert "2.5.0" in tag_digests(registry.url, "demo/server")


# -- a multi-arch index: every platform must carry the tagged commit --------------------------


def labelled_image(base_url: str, repo: str, revision: str | None, arch: str) -> Pushed:
    """A one-layer OCI image whose config carries ``revision`` (pushed by digest, no tag)."""
    http = session()
    try:
        layer = f"{arch} {revision}\n".encode()
        labels: Mapping[str, str] = {REVISION: revision} if revision else {}
        config = json.dumps(
            {"architecture": arch, "os": "linux", "config": {"Labels": labels},
             "rootfs": {"type": "layers", "diff_ids": []}}
        ).encode()  # fmt: skip
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": upload_blob(http, base_url, repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": OCI_LAYER,
                    "digest": upload_blob(http, base_url, repo, layer),
                    "size": len(layer),
                }
            ],
        }
        data = json.dumps(manifest).encode()
        pushed = Pushed(data, OCI_MANIFEST)
        return put_manifest(http, base_url, repo, pushed.digest, data, OCI_MANIFEST)
    finally:
        http.close()


def index_of(registry: Registry, tag: str, images: Mapping[str, Pushed]) -> str:
    http = session()
    try:
        return api_index(http, registry.url, "demo/node", tag, images).digest
    finally:
        http.close()


def test_a_multi_arch_index_is_this_releases_when_every_platform_carries_the_commit(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = demo(tmp_path, docker_engine, registry)
    repo.tag("version/2.7.0")
    ours = commit_of(repo, "2.7.0")
    images = {
        arch: labelled_image(registry.url, "demo/node", ours, arch) for arch in ("amd64", "arm64")
    }
    digest = index_of(registry, "2.7.0", images)
    result = ok(invoke(repo, "push-image", "2.7.0"))
    assert "demo/node:2.7.0 exists in the registry" in result.stderr
    node = tag_digests(registry.url, "demo/node")
    assert node["2.7.0"] == node["latest"] == digest  # the index moved intact


def test_a_multi_arch_index_whose_platforms_disagree_is_refused_naming_each(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = demo(tmp_path, docker_engine, registry)
    repo.tag("version/2.7.0")
    ours = commit_of(repo, "2.7.0")
    other = "0123456789abcdef0123456789abcdef01234567"
    images = {
        "amd64": labelled_image(registry.url, "demo/node", ours, "amd64"),
        "arm64": labelled_image(registry.url, "demo/node", other, "arm64"),
    }
    index_of(registry, "2.7.0", images)
    [error] = errors(invoke(repo, "push-image", "2.7.0"))
    assert f"its revisions are {ours} (linux/amd64), {other} (linux/arm64)" in error
    assert set(tag_digests(registry.url, "demo/node")) == {"2.7.0"}
    assert tag_digests(registry.url, "demo/server") == {}
