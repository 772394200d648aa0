"""The demo scaled to N packages and M images, and the local services, for the benchmarks.

``scaled_repo`` generates the repository from ``examples/demo`` (see ``bench/release.py``
for its shape); ``services`` starts a real pypiserver and, when asked, the Docker engine and
Debian's registry on 127.0.0.1, as ``devservices/demo.py`` does (``devservices``).

Two layouts:

- ``"demo"`` (default): the demo's hatchling ``common`` and N-1 copies of its ``node``
  (``pyproject.toml`` with ``[project]``), node k pinned to ``common`` and to node k-1.
- ``"realsize"``: the shape of a real setuptools monorepo (vantage6's): every package is a
  ``setup.py`` (no ``pyproject.toml``) that reads its version from ``_version.py``
  (``version_info`` tuple + ``__build__``), its long description from the monorepo's shared
  ``../README.md``, pins its siblings with ``== <that version>`` and pins real third-party
  dependencies from the package index (``THIRD_PARTY``: 16, each pinned ``==`` somewhere,
  ``click`` and ``requests`` everywhere) whose modules it imports; the modules are
  subpackages of one PEP 420 namespace (``<prefix>.common``, ``<prefix>.node1``, ...). The
  sdist does not hold ``../README.md``, so the wheel cannot be built from it:
  ``wheel_from="source"`` (default) sets ``wheel-from = "source"`` on every package table;
  ``wheel_from="sdist"`` makes the sdists complete instead (a ``README.md`` link to the
  shared file in each package, included by ``MANIFEST.in``; setup.py reads it there first)
  for a tool without that key.
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
LAYOUTS = ("demo", "realsize")
WHEEL_FROM = ("source", "sdist")
# Real dependencies of the "realsize" layout, pinned == (versions on PyPI with wheels or pure
# Python for CPython 3.11, installable together), as vantage6's packages pin theirs.
THIRD_PARTY = {
    "click": ("8.1.7", "click"),
    "requests": ("2.32.3", "requests"),
    "PyYAML": ("6.0.2", "yaml"),
    "python-dateutil": ("2.9.0.post0", "dateutil"),
    "appdirs": ("1.4.4", "appdirs"),
    "colorama": ("0.4.6", "colorama"),
    "schema": ("0.7.7", "schema"),
    "PyJWT": ("2.9.0", "jwt"),
    "Jinja2": ("3.1.4", "jinja2"),
    "qrcode": ("7.4.2", "qrcode"),
    "pyfiglet": ("1.0.2", "pyfiglet"),
    "rich": ("13.9.4", "rich"),
    "questionary": ("2.0.1", "questionary"),
    "docker": ("7.1.0", "docker"),
    "psutil": ("6.1.0", "psutil"),
    "tabulate": ("0.9.0", "tabulate"),
}
EVERYWHERE = ("click", "requests")  # pinned by every package of the "realsize" layout


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
    layout: str = "demo"  # one of LAYOUTS
    wheel_from: str = "sdist"  # "realsize": what its package tables say (WHEEL_FROM)

    def module(self, package: str) -> str:
        """The package's import name: ``r3o_node1`` ("demo"), ``r3o.node1`` ("realsize")."""
        if self.layout == "realsize":
            return f"{self.prefix}.{package.removeprefix(self.prefix + '-')}"
        return package.replace("-", "_")

    def version_py(self, package: str) -> Path:
        """The package's ``_version.py`` (every "realsize" package, the demo's nodes)."""
        if self.layout == "realsize":
            return self.work / package / Path(*self.module(package).split(".")) / "_version.py"
        return self.work / package / "src" / self.module(package) / "_version.py"


def scaled_repo(
    root: Path,
    prefix: str,
    n: int,
    m: int,
    payload_mb: int = 0,
    *,
    layout: str = "demo",
    wheel_from: str = "source",
) -> Scaled:
    """The demo with ``n`` packages and ``m`` images, tagged, with a bare ``origin``.

    ``payload_mb`` adds a file of that many MB of random bytes to the ``common`` package
    (it ends up in its sdist and its wheel). ``layout`` and ``wheel_from``: see the module's
    docstring (``wheel_from`` only matters to the "realsize" layout).
    """
    if layout not in LAYOUTS or wheel_from not in WHEEL_FROM:
        raise ValueError(f"layout must be one of {LAYOUTS}, wheel_from one of {WHEEL_FROM}")
    if layout == "realsize" and not prefix.isidentifier():
        raise ValueError(f"the realsize layout's namespace is the prefix: {prefix!r}")
    work = root / prefix
    work.mkdir(parents=True)
    common = f"{prefix}-common"
    packages = [common] + [f"{prefix}-node{k}" for k in range(1, n)]
    images = [f"{prefix}/img{j}" for j in range(m)]
    if layout == "realsize":
        _realsize_packages(work, prefix, packages, wheel_from)
        if payload_mb:
            _payload(work / common / prefix / "common" / "payload.bin", payload_mb)
    else:
        wheel_from = "sdist"
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
    if layout == "realsize":
        table = _realsize_table(packages, images, wheel_from)
    else:
        table = _release_table(packages, images)
    (work / "pyproject.toml").write_text(table)
    publish_tagged(work, root / f"{prefix}.git", "Scaled demo", TAG)
    return Scaled(work, prefix, tuple(packages), tuple(images), layout, wheel_from)


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
    return "\n".join(lines + _common_tables(packages, images, {}))


def _common_tables(packages: list[str], images: list[str], extra: dict[str, str]) -> list[str]:
    """The tables after the layout's own version files; ``extra``: keys of every package."""
    lines: list[str] = []
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
        lines += ["[[tool.release.packages]]", f'path = "{package}"']
        lines += [f'{key} = "{value}"' for key, value in extra.items()] + [""]
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
    return lines


# -- the "realsize" layout ---------------------------------------------------------


SHARED_README = """# The real-size benchmark monorepo

One repository, several distributions released together at one version (generated by
`bench/scaled.py`). Every package's `setup.py` reads this file for its long description.
"""

SETUP_PY = '''"""Setup of {name}: the version from _version.py, the monorepo's README."""

import codecs
import os
from os import path
from pathlib import Path

from setuptools import find_namespace_packages, setup

# get current directory
here = Path(path.abspath(path.dirname(__file__)))
parent_dir = here.parent.absolute()

{readme}
# Read the version from disk. This file is in the package folder, since it also sets
# the package's __version__.
version_path = os.path.join(here, "{namespace}", "{sub}", "_version.py")
version_ns = {{"__file__": version_path}}
with codecs.open(version_path) as f:
    exec(f.read(), {{}}, version_ns)

setup(
    name="{name}",
    version=version_ns["__version__"],
    description="{name}, a package of the real-size benchmark monorepo",
    long_description=long_description,
    long_description_content_type="text/markdown",
    packages=find_namespace_packages(include=["{namespace}.*"]),
    python_requires=">=3.10",
    install_requires=[
{requires}    ],
    package_data={{"{namespace}.{sub}": ["__build__"]}},
)
'''

README_FROM_ROOT = """# get the long description from the monorepo's README file
with codecs.open(path.join(parent_dir, "README.md"), encoding="utf-8") as f:
    long_description = f.read()
"""

# wheel_from="sdist": the package folder holds README.md, a link to the shared file, which
# MANIFEST.in puts in the sdist; read there first (an unpacked sdist has no monorepo around).
README_FROM_LINK = """# the monorepo's README file: README.md here links to it, and MANIFEST.in
# puts it in the sdist (an unpacked sdist has no monorepo around it)
readme = here / "README.md"
if not readme.is_file():
    readme = parent_dir / "README.md"
with codecs.open(str(readme), encoding="utf-8") as f:
    long_description = f.read()
"""

INIT_PY = '''"""{name}, a package of the real-size benchmark monorepo."""

{imports}
from {namespace}.{sub}._version import __version__

__all__ = ["__version__"]
'''


def _realsize_packages(work: Path, prefix: str, packages: list[str], wheel_from: str) -> None:
    """Every package of the "realsize" layout, and the shared ``README.md`` at the root.

    Package k pins ``common`` and packages k-1 and k-2; the third-party dependencies are
    dealt round the packages (so all of them are pinned at every size), ``EVERYWHERE`` to all.
    """
    (work / "README.md").write_text(SHARED_README)
    for k, name in enumerate(packages):
        siblings = sorted({packages[i] for i in (0, k - 1, k - 2) if 0 <= i < k})
        pinned = [
            dist
            for i, dist in enumerate(THIRD_PARTY)
            if dist in EVERYWHERE or i % len(packages) == k
        ]
        _realsize_package(work / name, prefix, name, siblings, pinned, wheel_from)


def _realsize_package(
    folder: Path,
    namespace: str,
    name: str,
    siblings: list[str],
    pinned: list[str],
    wheel_from: str,
) -> None:
    sub = name.removeprefix(namespace + "-")
    module = folder / namespace / sub  # no __init__.py in folder / namespace: PEP 420
    module.mkdir(parents=True)
    source = DEMO / "demo-node" / "src" / "demo_node"
    version = (source / "_version.py").read_text().replace("demo-node", name)
    (module / "_version.py").write_text(version)
    shutil.copy(source / "__build__", module / "__build__")
    requires = [f'        "{dist}=={THIRD_PARTY[dist][0]}",\n' for dist in pinned]
    requires += [f"        f\"{s} == {{version_ns['__version__']}}\",\n" for s in siblings]
    readme = README_FROM_ROOT
    if wheel_from == "sdist":
        readme = README_FROM_LINK
        (folder / "README.md").symlink_to(Path("..") / "README.md")
        (folder / "MANIFEST.in").write_text("include README.md\n")
    setup_py = SETUP_PY.format(
        name=name, namespace=namespace, sub=sub, readme=readme, requires="".join(requires)
    )
    (folder / "setup.py").write_text(setup_py)
    imports = [f"import {THIRD_PARTY[dist][1]}  # noqa: F401" for dist in pinned]
    imports += [f"import {namespace}.{s.removeprefix(namespace + '-')}" for s in siblings]
    init = INIT_PY.format(name=name, namespace=namespace, sub=sub, imports="\n".join(imports))
    (module / "__init__.py").write_text(init)


def _realsize_table(packages: list[str], images: list[str], wheel_from: str) -> str:
    lines = [
        "# The real-size benchmark monorepo of bench/scaled.py: setup.py packages.",
        "[tool.release]",
        'branches = ["main", "release/*"]',
        "",
        "[[tool.release.version-files]]",
        'path = "*/**/_version.py"',
        'kind = "version-info"',
        "",
    ]
    extra = {"wheel-from": "source"} if wheel_from == "source" else {}
    return "\n".join(lines + _common_tables(packages, images, extra))


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} failed (exit {result.returncode}) in {cwd}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout + result.stderr
