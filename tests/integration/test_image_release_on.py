"""``release-on = "minor"``: an image built and pushed only when a minor opens, on the real
Docker engine and the real registry; its channels stay where the minor put them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservices.engine import DockerEngine
from devservices.registry import Registry
from tests.oci import tag_digests
from tests.repos import Repo, make_repo

pytestmark = [pytest.mark.docker, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

NO_CREDENTIALS = {"RELEASE_REGISTRY_USERNAME": "", "RELEASE_REGISTRY_PASSWORD": ""}
CORE = '[[tool.release.images]]\nname = "app/core"\ndockerfile = "core.Dockerfile"\n'
GPU = (
    '[[tool.release.images]]\nname = "app/gpu"\ndockerfile = "gpu.Dockerfile"\n'
    'release-on = "minor"\n'
)


def files(*images: str) -> dict[str, str]:
    return {
        "pyproject.toml": '[tool.release]\n[tool.release.registry]\nhost = "registry.invalid"\n'
        + "".join(images),
        "core.Dockerfile": "FROM scratch\nCOPY core.txt /core.txt\n",
        "gpu.Dockerfile": "FROM scratch\nCOPY gpu.txt /gpu.txt\n",
        "core.txt": "core\n",
        "gpu.txt": "gpu\n",
    }


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("release-on-registry")) as started:
        yield started


def project(root: Path, engine: DockerEngine, registry: Registry, *images: str) -> Repo:
    repo = make_repo(root, source=None, files=files(*images))
    repo.env.update({**engine.env(), **NO_CREDENTIALS, **registry.env()})
    return repo


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def next_tag(repo: Repo, version: str) -> None:
    repo.write("core.txt", f"core {version}\n")
    repo.commit(f"core for {version}")
    repo.push()
    repo.tag(f"version/{version}")


def test_a_minor_image_is_built_for_x_y_0_and_skipped_for_x_y_1(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = project(tmp_path, docker_engine, registry, CORE, GPU)
    repo.tag("version/1.2.0")
    opened = json.loads(ok(repo.invoke("check-version", "--tag", "version/1.2.0", "--json")).stdout)
    assert opened["image_tags"] == {"app/core": ["1.2.0"], "app/gpu": ["1.2.0"]}
    ok(repo.invoke("push-image", "--tag", "version/1.2.0"))
    gpu = tag_digests(registry.url, "app/gpu")
    assert set(gpu) == {"1.2.0", "1.2", "latest", "troltunga"}

    next_tag(repo, "1.2.1")
    data = json.loads(ok(repo.invoke("check-version", "--tag", "version/1.2.1", "--json")).stdout)
    assert data["image_tags"] == {"app/core": ["1.2.1"]}
    assert data["steps"]["push-image"] == "run"
    plan = ok(repo.invoke("check-version", "--tag", "version/1.2.1")).stdout
    assert 'skips app/gpu (release-on = "minor": built only for 1.2.0' in " ".join(plan.split())

    pushed = ok(repo.invoke("push-image", "--tag", "version/1.2.1"))
    assert "app/gpu" not in pushed.stderr.replace("skips app/gpu", "")
    assert "1.2.1" in tag_digests(registry.url, "app/core")
    assert tag_digests(registry.url, "app/gpu") == gpu  # not built, not pushed, no channel moved


def test_push_image_is_skipped_with_the_reason_when_every_image_waits_for_a_minor(
    tmp_path: Path, docker_engine: DockerEngine, registry: Registry
):
    repo = project(tmp_path, docker_engine, registry, GPU)
    next_tag(repo, "1.2.1")
    data = json.loads(ok(repo.invoke("check-version", "--tag", "version/1.2.1", "--json")).stdout)
    assert data["image_tags"] == {}
    assert data["steps"]["push-image"].startswith('skip: app/gpu: release-on = "minor"')
    result = ok(repo.invoke("push-image", "--tag", "version/1.2.1"))
    assert 'push-image: skipped: app/gpu: release-on = "minor"' in result.stderr
    assert "Step 1/" not in result.stderr
    assert tag_digests(registry.url, "app/gpu") == {}
    # The next minor builds it.
    next_tag(repo, "1.3.0rc1")
    ok(repo.invoke("push-image", "--tag", "version/1.3.0rc1"))
    assert set(tag_digests(registry.url, "app/gpu")) == {"1.3.0rc1"}
