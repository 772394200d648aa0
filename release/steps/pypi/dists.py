"""Build the release's Python distributions and verify them before anything leaves the machine.

For every configured package, ``build``'s API builds an sdist and then the wheel from that
sdist (as ``python -m build`` does, so a file missing from the sdist is caught), in an
isolated environment (uv installs into it when uv is available, pip otherwise), with
``SOURCE_DATE_EPOCH`` set to the tagged commit's time. Packages build in parallel threads
(each build is a subprocess). Then, for the release as a whole:

- ``twine check`` of every file (metadata and the rendering of the long description);
- the version in every file's metadata equals the tag's PEP 440 version;
- a smoke install of all the wheels together into a fresh virtual environment, the
  release's own distributions from the local files (third-party dependencies may come
  from the default index), then an import of every top-level module of every wheel (names
  read from its RECORD) and a comparison of its ``__version__``, when it has one, with
  the tag.

The verified files land in one folder per release, ``<git common dir>/release-dist/<version>/``,
with a manifest (``release-build.json``) naming the commit they were built from: the
folder survives between ``invoke build`` and ``invoke upload`` on one machine, is never in
the working tree, and a later build of the same commit reuses it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from release.core.errors import ReleaseError
from release.steps.pypi.index import sha256_of

MANIFEST = "release-build.json"
# Variables a build backend or installer has no business seeing.
SECRET_VARIABLES = (
    "TWINE_PASSWORD",
    "TWINE_USERNAME",
    "DISCORD_WEBHOOK_URL",
    "AZURE_WEBAPP_PUBLISH_PROFILE",
    "RELEASE_REGISTRY_PASSWORD",
    "RELEASE_REGISTRY_USERNAME",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_TOKEN",
)


class BuildFailure(ReleaseError):
    """A package did not build, or a built file failed its verification."""


@dataclass(frozen=True)
class Dist:
    """One built file."""

    package: str  # the configured path, e.g. "demo-common"
    name: str  # the distribution name from its metadata
    version: str  # the version from its metadata
    kind: str  # "sdist" or "wheel"
    filename: str
    sha256: str


@dataclass(frozen=True)
class Built:
    """The verified files of one release, in ``folder``."""

    folder: Path
    version: str
    commit: str
    dists: tuple[Dist, ...]
    imports: Mapping[str, str | None]  # module -> its __version__ (None: it has none)

    def path(self, dist: Dist) -> Path:
        return self.folder / dist.filename

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "commit": self.commit,
            "dists": [asdict(d) for d in self.dists],
            "imports": dict(self.imports),
        }


def dist_folder(git_dir: Path, version: str) -> Path:
    """Where the files of ``version`` are kept: outside the working tree, shared by worktrees."""
    return git_dir / "release-dist" / version


def load_built(folder: Path, commit: str, version: str) -> Built | None:
    """The verified build of ``commit`` in ``folder``, if it is there and intact."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if data["commit"] != commit or data["version"] != version:
            return None
        dists = tuple(Dist(**entry) for entry in data["dists"])
        imports = dict(data.get("imports", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for dist in dists:
        path = folder / dist.filename
        if not path.is_file() or sha256_of(path) != dist.sha256:
            return None
    return Built(folder, version, commit, dists, imports)


def uv_binary() -> str | None:
    """The uv executable when it is installed (on PATH or as the ``uv`` Python package)."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found]

        path: str = uv.find_uv_bin()
        return path
    except (ImportError, FileNotFoundError):
        return None


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    env.pop("PYTHONPATH", None)
    env.update(extra or {})
    return env


# -- building ----------------------------------------------------------------------


def build_release(
    tree: Path,
    packages: Sequence[str],
    out: Path,
    *,
    epoch: int,
    on_done: Callable[[str], None] | None = None,
) -> list[Dist]:
    """sdist and wheel of every package (folders relative to ``tree``) into ``out``, in parallel."""
    import sysconfig

    out.mkdir(parents=True, exist_ok=True)
    installer = "uv" if uv_binary() else "pip"
    # sysconfig fills its cache lazily and not thread-safely (CPython 3.11): a thread may
    # read None for a variable another is computing; fill it here, before the threads.
    sysconfig.get_config_vars()

    def one(package: str) -> list[Dist]:
        with tempfile.TemporaryDirectory(prefix="release-build-") as scratch:
            files = build_package(tree / package, Path(scratch), epoch=epoch, installer=installer)
            dists = []
            for kind, path in files:
                target = out / path.name
                shutil.move(str(path), target)
                dists.append(describe(package, kind, target))
        if on_done is not None:
            on_done(package)
        return dists

    workers = max(1, min(len(packages), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool:
        results = list(pool.map(one, packages))
    return [dist for result in results for dist in result]


def build_package(source: Path, out: Path, *, epoch: int, installer: str) -> list[tuple[str, Path]]:
    """Build the sdist of ``source``, then the wheel from the unpacked sdist, into ``out``."""
    from build import BuildBackendException, BuildException, ProjectBuilder
    from build.env import DefaultIsolatedEnv

    runner = _runner({"SOURCE_DATE_EPOCH": str(epoch)})
    name = source.name
    try:
        with DefaultIsolatedEnv(installer=installer) as env:  # type: ignore[arg-type]
            install = partial(install_requirements, env.path, env.python_executable, installer)
            builder = ProjectBuilder.from_isolated_env(env, source, runner=runner)
            install(builder.build_system_requires)
            install(builder.get_requires_for_build("sdist"))
            sdist = Path(builder.build("sdist", out))
            with tempfile.TemporaryDirectory(prefix="release-sdist-") as unpacked:
                root = _unpack_sdist(sdist, Path(unpacked))
                wheel_builder = ProjectBuilder.from_isolated_env(env, root, runner=runner)
                install(wheel_builder.get_requires_for_build("wheel"))
                wheel = Path(wheel_builder.build("wheel", out))
    except BuildBackendException as error:
        raise BuildFailure(f"{name} did not build: {_backend_output(error)}") from None
    except subprocess.CalledProcessError as error:
        output = _tail(error.stderr or error.output)
        raise BuildFailure(f"{name}: installing its build requirements failed: {output}") from None
    except (BuildException, RuntimeError, OSError) as error:
        raise BuildFailure(f"{name} did not build: {error}") from None
    return [("sdist", sdist), ("wheel", wheel)]


def install_requirements(
    venv: str, python: str, installer: str, requirements: Collection[str]
) -> None:
    """Install build requirements into build's isolated environment, without the secrets.

    build's own ``IsolatedEnv.install`` runs pip or uv with the whole process environment
    (build 1.x), which holds the publish credentials, and a build requirement that comes as
    an sdist runs its own build code during that install. So the requirements are installed
    here, by the command build itself runs, in ``clean_environment()``.
    """
    if not requirements:
        return
    with tempfile.TemporaryDirectory(prefix="release-requirements-") as folder:
        # A requirements file, not arguments: pip honours environment markers only there.
        listed = Path(folder) / "requirements.txt"
        listed.write_text("\n".join(sorted(requirements)) + "\n", encoding="utf-8")
        extra: dict[str, str] = {}
        if installer == "uv":
            command = [uv_binary() or "uv", "pip", "install", "--python", python, "-r", str(listed)]
            extra["VIRTUAL_ENV"] = venv
        else:
            # As build does: the environment's own pip when build put one there (no usable
            # pip outside), else this interpreter's pip aimed at it with --python.
            own = shutil.which("pip", path=str(Path(python).parent))
            pip = (
                [python, "-Im", "pip"] if own else [sys.executable, "-m", "pip", "--python", python]
            )
            command = [
                *pip,
                "install",
                *("--use-pep517", "--no-warn-script-location", "--no-compile", "--no-input"),
                *("-r", str(listed)),
            ]
        subprocess.run(
            command, env=clean_environment(extra), capture_output=True, text=True, check=True
        )


def _runner(extra: Mapping[str, str]) -> Callable[..., None]:
    """Run a backend hook quietly, with ``extra`` in its environment and no secrets.

    The hooks may write bytecode even under ``PYTHONDONTWRITEBYTECODE``: uv installs the
    backend without it, and each of the four hooks of a build imports the backend again,
    so without this every hook compiles it anew. What they write lands in the temporary
    build environment and trees, as it does wherever that variable is not set.
    """

    def run(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        env = clean_environment({**(extra_environ or {}), **extra})
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        result = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, list(cmd), result.stdout, result.stderr
            )

    return run


def _backend_output(error: Exception) -> str:
    cause = getattr(error, "exception", None)
    if isinstance(cause, subprocess.CalledProcessError):
        return _tail((cause.stderr or "") + (cause.output or ""))
    return str(error)


def _tail(text: str | bytes | None, lines: int = 8) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    kept = [line for line in (text or "").strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "no output"


def _unpack_sdist(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    folders = [p for p in into.iterdir() if p.is_dir()]
    if len(folders) != 1:
        raise BuildFailure(f"{sdist.name} does not hold exactly one top-level folder")
    return folders[0]


def describe(package: str, kind: str, path: Path) -> Dist:
    """The name and version in ``path``'s metadata (read by twine, as it will upload them)."""
    from twine.exceptions import InvalidDistribution
    from twine.package import PackageFile

    try:
        metadata = PackageFile.from_filename(str(path), None).metadata
    except InvalidDistribution as error:
        raise BuildFailure(f"{path.name}: {error}") from None
    return Dist(
        package=package,
        name=metadata["name"],
        version=metadata["version"],
        kind=kind,
        filename=path.name,
        sha256=sha256_of(path),
    )


# -- verifying ---------------------------------------------------------------------


def twine_problems(paths: Sequence[Path]) -> list[str]:
    """``twine check`` of every file: metadata and long-description rendering errors."""
    from twine.commands.check import _check_file, _WarningStream
    from twine.exceptions import InvalidDistribution

    problems = []
    for path in paths:
        stream = _WarningStream()
        try:
            _, ok = _check_file(str(path), stream)
        except InvalidDistribution as error:
            problems.append(f"twine check {path.name}: {error}")
            continue
        if not ok:
            problems.append(
                f"twine check {path.name}: the long description would not render on the index "
                f"({_tail(str(stream), 3)})"
            )
    return problems


def version_problems(dists: Sequence[Dist], expected: str) -> list[str]:
    """Every file whose metadata does not carry the tag's version."""
    from packaging.version import InvalidVersion, Version

    problems = []
    for dist in dists:
        try:
            same = Version(dist.version) == Version(expected)
        except InvalidVersion:
            same = False
        if not same:
            problems.append(
                f"{dist.filename} ({dist.package}) has version {dist.version} in its metadata, "
                f"but the tag says {expected}"
            )
    return problems


def import_names(wheel: Path) -> list[str]:
    """The top-level importable names of a wheel, read from its RECORD.

    A package is the shortest folder path with an ``__init__.py`` (so a namespace package
    ``ns/sub/__init__.py`` gives ``ns.sub``); a module at the root is its file's stem.
    """
    with zipfile.ZipFile(wheel) as archive:
        record = next(
            (
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
            ),
            None,
        )
        if record is None:
            raise BuildFailure(f"{wheel.name} has no RECORD")
        text = archive.read(record).decode("utf-8")
    paths = [row[0] for row in csv.reader(io.StringIO(text)) if row]
    return names_from_paths(paths)


def names_from_paths(paths: Sequence[str]) -> list[str]:
    files = set(paths)
    names: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if parts[0].endswith((".dist-info", ".data")):
            continue
        if len(parts) == 1:
            module = _module_name(parts[0])
            if module:
                names.add(module)
            continue
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) + "/__init__.py" in files:
                names.add(".".join(parts[:depth]))
                break
        else:
            module = _module_name(parts[-1])
            if module and all(p.isidentifier() for p in parts[:-1]):
                names.add(".".join([*parts[:-1], module]))
    return sorted(n for n in names if all(p.isidentifier() for p in n.split(".")))


def _module_name(filename: str) -> str | None:
    if filename.endswith(".py"):
        stem = filename[:-3]
        return stem if stem != "__init__" else None
    if filename.endswith((".so", ".pyd")):
        return filename.split(".", 1)[0]
    return None


_IMPORT_SCRIPT = """
import importlib, importlib.metadata, json, sys
names, dists = json.loads(sys.argv[1]), json.loads(sys.argv[2])
result = {"modules": {}, "dists": {}}
for name in names:
    try:
        module = importlib.import_module(name)
    except Exception as error:
        result["modules"][name] = {"error": f"{type(error).__name__}: {error}"}
        continue
    version = getattr(module, "__version__", None)
    result["modules"][name] = {"version": version if isinstance(version, str) else None}
for dist in dists:
    try:
        result["dists"][dist] = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        result["dists"][dist] = None
print(json.dumps(result))
"""


@dataclass(frozen=True)
class SmokeResult:
    imports: Mapping[str, str | None]
    problems: tuple[str, ...]


def smoke_install(
    wheels: Sequence[Path], names: Sequence[str], expected: str, *, offline: bool = False
) -> SmokeResult:
    """Install all ``wheels`` together into a fresh venv, import their modules, compare versions.

    The wheels are named as files on the command line, so each of the release's own
    distributions comes from its local file; the other dependencies come from the default
    index (``--offline``: from the folder of the wheels only).
    """
    from packaging.version import InvalidVersion, Version

    modules = sorted({name for wheel in wheels for name in import_names(wheel)})
    with tempfile.TemporaryDirectory(prefix="release-smoke-") as scratch:
        python = _install(Path(scratch), wheels, offline=offline)
        result = subprocess.run(
            [python, "-I", "-c", _IMPORT_SCRIPT, json.dumps(modules), json.dumps(list(names))],
            cwd=scratch,
            env=clean_environment(),
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        return SmokeResult({}, (f"the smoke test could not run: {_tail(result.stderr)}",))
    data = json.loads(result.stdout.strip().splitlines()[-1])
    problems = []
    for dist, installed in data["dists"].items():
        if installed is None or Version(installed) != Version(expected):
            problems.append(
                f"the smoke install has {dist} {installed or '(nothing)'}, not the built {expected}"
            )
    imports: dict[str, str | None] = {}
    for name, outcome in data["modules"].items():
        if "error" in outcome:
            problems.append(f"import {name} failed after the smoke install: {outcome['error']}")
            continue
        version = outcome["version"]
        imports[name] = version
        if version is None:
            continue
        try:
            same = Version(version) == Version(expected)
        except InvalidVersion:
            same = False
        if not same:
            problems.append(f"{name}.__version__ is {version!r}, but the tag says {expected}")
    return SmokeResult(imports, tuple(problems))


def _install(scratch: Path, wheels: Sequence[Path], *, offline: bool) -> str:
    venv = scratch / "venv"
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    links = sorted({str(w.parent) for w in wheels})
    uv = uv_binary()
    if uv:
        commands = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "--quiet", "--python", python, *map(str, wheels)]
            + [a for link in links for a in ("--find-links", link)]
            + (["--no-index"] if offline else []),
        ]
    else:
        commands = [
            [sys.executable, "-m", "venv", str(venv)],
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *map(str, wheels),
            ]
            + [a for link in links for a in ("--find-links", link)]
            + (["--no-index"] if offline else []),
        ]
    for command in commands:
        result = subprocess.run(
            command, cwd=scratch, env=clean_environment(), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise BuildFailure(
                "the smoke install of the wheels into a fresh virtual environment failed: "
                + _tail(result.stderr or result.stdout)
            )
    return python
