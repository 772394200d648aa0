"""The demo scaled to N packages and M images, and the local services, for the benchmarks.

``scaled_repo`` generates the repository from ``examples/demo`` (see ``bench/release.py``
for its shape); ``services`` starts a real pypiserver and, when asked, the Docker engine and
Debian's registry on 127.0.0.1, as ``devservices/demo.py`` does (``devservices``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))

from devservices.demo import IDENTITY, publish_tagged  # noqa: E402

DEMO = CHECKOUT / "examples" / "demo"
TAG = "version/1.1.0"
OLD, NEW = "1.0.0", "1.1.0"


# -- services ----------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    env: dict[str, str]  # what points the tool, twine and docker at them
    index_url: str
    upload_url: str
    registry_host: str
    registry_url: str


@contextlib.contextmanager
def services(workdir: Path, *, images: bool = True) -> Iterator[Services]:
    """pypiserver and (with ``images``) the Docker engine and the registry, started as
    ``devservices.demo.services`` starts them."""
    import secrets

    from devservices.pypi import PypiServer

    with contextlib.ExitStack() as stack:
        index = stack.enter_context(
            PypiServer(workdir / "pypi", "bench", secrets.token_urlsafe(16))
        )
        env = index.env()
        host = url = ""
        if images:
            from devservices.engine import DockerEngine
            from devservices.registry import Registry

            engine = stack.enter_context(DockerEngine(workdir / "docker"))
            registry = stack.enter_context(Registry(workdir / "registry"))
            env = {**env, **engine.env(), **registry.env()}
            host, url = env["RELEASE_REGISTRY"], registry.url
        yield Services(env, index.index_url, index.upload_url, host, url)


def child_env(svc: Services) -> dict[str, str]:
    """The environment of both sides: the services, a git identity, the legacy builder.

    ``PYTHONDONTWRITEBYTECODE`` is removed (this machine sets it; a CI runner does not), so
    both sides run as they would there.
    """
    return release_env({**svc.env, "DOCKER_BUILDKIT": "0"})


def release_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment with a git identity and ``extra``, without what would change how a
    release runs here (CI markers, a tag named by the environment, no bytecode)."""
    env = {**os.environ, **IDENTITY, **extra}
    for name in (
        "GITHUB_ACTIONS",
        "CI",
        "RELEASE_TAG",
        "GITHUB_REF_NAME",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    return env


# -- the scaled demo ---------------------------------------------------------------


@dataclass(frozen=True)
class Scaled:
    work: Path
    prefix: str  # "r3o"
    packages: tuple[str, ...]  # folders, also the distribution names
    images: tuple[str, ...]  # repository names in the registry

    def module(self, package: str) -> str:
        return package.replace("-", "_")


def scaled_repo(root: Path, prefix: str, n: int, m: int, payload_mb: int = 0) -> Scaled:
    """The demo with ``n`` packages and ``m`` images, tagged, with a bare ``origin``.

    ``payload_mb`` adds a file of that many MB of random bytes to the ``common`` package
    (it ends up in its sdist and its wheel).
    """
    work = root / prefix
    work.mkdir(parents=True)
    common = f"{prefix}-common"
    packages = [common] + [f"{prefix}-node{k}" for k in range(1, n)]
    images = [f"{prefix}/img{j}" for j in range(m)]
    _common_package(work / common, common)
    if payload_mb:
        _payload(work / common / "src" / common.replace("-", "_") / "payload.bin", payload_mb)
    for k in range(1, n):
        pins = [common] + ([packages[k - 1]] if k > 1 else [])
        _node_package(work / packages[k], packages[k], common, pins)
    (work / "docker").mkdir()
    (work / "app").mkdir()
    sources = [DEMO / "docker" / "node.Dockerfile", DEMO / "docker" / "server.Dockerfile"]
    for j in range(m):
        text = sources[j % 2].read_text()
        text = re.sub(
            r"COPY app/\w+\.txt /app/\w+\.txt", f"COPY app/img{j}.txt /app/img{j}.txt", text
        )
        (work / "docker" / f"img{j}.Dockerfile").write_text(text)
        # Unique content per run: every side really builds its layers.
        (work / "app" / f"img{j}.txt").write_text(f"{prefix} image {j}\n")
    shutil.copy(DEMO / "CHANGELOG.md", work / "CHANGELOG.md")
    (work / "pyproject.toml").write_text(_release_table(packages, images))
    publish_tagged(work, root / f"{prefix}.git", "Scaled demo", TAG)
    return Scaled(work, prefix, tuple(packages), tuple(images))


def _payload(path: Path, megabytes: int) -> None:
    with path.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(os.urandom(1 << 20))


def _common_package(folder: Path, name: str) -> None:
    module = name.replace("-", "_")
    shutil.copytree(DEMO / "demo-common", folder)
    (folder / "src" / "demo_common").rename(folder / "src" / module)
    for path in (
        folder / "pyproject.toml",
        folder / "README.md",
        folder / "src" / module / "__init__.py",
    ):
        path.write_text(
            path.read_text().replace("demo_common", module).replace("demo-common", name)
        )


def _node_package(folder: Path, name: str, common: str, pins: list[str]) -> None:
    module = name.replace("-", "_")
    shutil.copytree(DEMO / "demo-node", folder)
    (folder / "src" / "demo_node").rename(folder / "src" / module)
    pyproject = folder / "pyproject.toml"
    text = pyproject.read_text().replace("demo_node", module).replace("demo-node", name)
    dependencies = "".join(f'    "{pin}=={OLD}",\n' for pin in pins)
    text = re.sub(
        r"dependencies = \[\n.*?\]", f"dependencies = [\n{dependencies}]", text, flags=re.S
    )
    pyproject.write_text(text)
    init = folder / "src" / module / "__init__.py"
    init.write_text(
        init.read_text()
        .replace("demo_common", common.replace("-", "_"))
        .replace("demo_node", module)
    )
    readme = folder / "README.md"
    readme.write_text(readme.read_text().replace("demo-node", name))


def _release_table(packages: list[str], images: list[str]) -> str:
    common = packages[0]
    lines = [
        "# The demo scaled by bench/release.py.",
        "[tool.release]",
        'branches = ["main", "release/*"]',
        "",
        "[[tool.release.version-files]]",
        f'path = "{common}/pyproject.toml"',
        'kind = "pyproject"',
        "",
        "[[tool.release.version-files]]",
        f'path = "{common}/src/{common.replace("-", "_")}/__init__.py"',
        'kind = "dunder"',
        "",
    ]
    for package in packages[1:]:
        lines += ["[[tool.release.version-files]]", f'path = "{package}/pyproject.toml"']
        lines += ['kind = "pyproject"', ""]
    if len(packages) > 1:
        lines += ["[[tool.release.version-files]]", 'path = "*/src/**/_version.py"']
        lines += ['kind = "version-info"', ""]
    if images:
        lines += [
            "[[tool.release.version-files]]",
            'path = "docker/*.Dockerfile"',
            'kind = "dockerfile"',
            'arg = "BASE"',
            'format = "{major}.{minor}"',
            "",
        ]
    for package in packages:
        lines += ["[[tool.release.packages]]", f'path = "{package}"', ""]
    lines += [
        "[tool.release.pypi]",
        'repository-url = "http://127.0.0.1:8080/"',
        'index-url = "http://127.0.0.1:8080/simple/"',
        "",
    ]
    if images:
        lines += ["[tool.release.registry]", 'host = "127.0.0.1:5000"', ""]
    for j, image in enumerate(images):
        lines += [
            "[[tool.release.images]]",
            f'name = "{image}"',
            f'dockerfile = "docker/img{j}.Dockerfile"',
            'context = "."',
            'build-args = { TAG = "{version}", BASE = "{major}.{minor}" }',
            'channels = ["codename", "minor", "latest"]',
            "",
        ]
    return "\n".join(lines)


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} failed (exit {result.returncode}) in {cwd}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout + result.stderr
