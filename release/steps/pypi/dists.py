"""Build the release's Python distributions, and the files they give.

For every configured package, ``build``'s API builds an sdist and then the wheel from that
sdist (as ``python -m build`` does, so a file missing from the sdist is caught), in an
isolated environment (uv installs into it when uv is available, pip otherwise), with
``SOURCE_DATE_EPOCH`` set to the tagged commit's time. Packages build in parallel threads
(each build is a subprocess); packages with the same ``build-system.requires`` share one
environment (``release.steps.pypi.buildenv``). ``release.steps.pypi.verify`` then checks
the files.

The sdist is made reproducible as soon as it is built, before the wheel is built from it
(``release.steps.pypi.repack``: a setuptools sdist carries the build's time and the
checkout's file times; it is rewritten with the same members, the tagged commit's time and a
fixed gzip header). One that cannot be rewritten is kept as built and the build says that
it is not reproducible and why.

When the wheel built from the sdist fails, the wheel is tried from the source folder, only
to say which it is: if that one builds, the sdist is not self-contained (it misses a file
the build reads, such as a ``setup.py`` reading ``../README.md``), and the failure says so,
with the file and both fixes. A package with ``wheel-from = "source"`` builds both files
from its source folder.

The verified files land in one folder per release, ``<git common dir>/release-dist/<version>/``,
with a manifest (``release-build.json``) naming the commit they were built from: the
folder survives between ``invoke build`` and ``invoke upload`` on one machine, is never in
the working tree, and a later build of the same commit reuses it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from release.core import console
from release.core.errors import ReleaseError
from release.core.files import sha256_of
from release.core.gitauth import TOKEN_VARIABLES
from release.core.text import last_line, tail
from release.steps.pypi.buildenv import BuildEnvironments, PackageEnvironment
from release.steps.pypi.repack import make_reproducible

MANIFEST = "release-build.json"
HOOK_UMASK = 0o022  # the backend hooks' umask: the modes they write are the same everywhere
# Variables a build backend or installer has no business seeing.
SECRET_VARIABLES = (
    "TWINE_PASSWORD",
    "TWINE_USERNAME",
    "DISCORD_WEBHOOK_URL",
    "AZURE_WEBAPP_PUBLISH_PROFILE",
    "RELEASE_REGISTRY_PASSWORD",
    "RELEASE_REGISTRY_USERNAME",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_RUNTIME_TOKEN",
    *TOKEN_VARIABLES,  # the job's git token (GITHUB_TOKEN)
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
    warnings: tuple[str, ...] = ()  # what the wheels install that may clash (``clash``)

    def path(self, dist: Dist) -> Path:
        return self.folder / dist.filename

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "commit": self.commit,
            "dists": [asdict(d) for d in self.dists],
            "imports": dict(self.imports),
            "warnings": list(self.warnings),
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
        warnings = tuple(str(w) for w in data.get("warnings", []))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for dist in dists:
        path = folder / dist.filename
        if not path.is_file() or sha256_of(path) != dist.sha256:
            return None
    return Built(folder, version, commit, dists, imports, warnings)


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
    from_source: Collection[str] = (),
) -> list[Dist]:
    """sdist and wheel of every package (folders relative to ``tree``) into ``out``, in parallel.

    The packages in ``from_source`` (``wheel-from = "source"``) build both files from the
    source folder; the others build the wheel from the sdist. Packages with the same
    ``build-system.requires`` share one isolated environment (``buildenv``).
    """
    import sysconfig

    out.mkdir(parents=True, exist_ok=True)
    installer = "uv" if uv_binary() else "pip"
    # sysconfig fills its cache lazily and not thread-safely (CPython 3.11): a thread may
    # read None for a variable another is computing; fill it here, before the threads.
    sysconfig.get_config_vars()

    def one(package: str, environments: BuildEnvironments) -> list[Dist]:
        with tempfile.TemporaryDirectory(prefix="release-build-") as scratch:
            files = build_package(
                tree / package,
                Path(scratch),
                epoch=epoch,
                installer=installer,
                name=package,
                wheel_from="source" if package in from_source else "sdist",
                environments=environments,
            )
            dists = []
            for kind, path in files:
                target = out / path.name
                shutil.move(str(path), target)
                dists.append(describe(package, kind, target))
        if on_done is not None:
            on_done(package)
        return dists

    workers = max(1, min(len(packages), os.cpu_count() or 1))
    with (
        environments_for(installer) as environments,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build") as pool,
    ):
        results = list(pool.map(partial(one, environments=environments), packages))
    return [dist for result in results for dist in result]


def environments_for(installer: str) -> BuildEnvironments:
    """The shared build environments of one build, installing with ``install_requirements``."""

    def install(env: Any, requirements: Collection[str]) -> None:
        install_requirements(env.path, env.python_executable, installer, requirements)

    return BuildEnvironments(installer, install)


def build_package(
    source: Path,
    out: Path,
    *,
    epoch: int,
    installer: str,
    name: str | None = None,
    wheel_from: str = "sdist",
    environments: BuildEnvironments | None = None,
) -> list[tuple[str, Path]]:
    """Build the sdist of ``source``, then the wheel, into ``out``.

    The wheel comes from the unpacked sdist, or with ``wheel_from="source"`` from ``source``.
    ``name`` is the package as the configuration lists it (default: the folder's name).
    ``environments``: the build's shared environments (default: ones of this package alone).
    """
    from build import BuildBackendException, BuildException, ProjectBuilder

    runner = _runner({"SOURCE_DATE_EPOCH": str(epoch)})
    name = name or source.name
    try:
        with ExitStack() as stack:
            if environments is None:
                environments = stack.enter_context(environments_for(installer))
            requires = ProjectBuilder(source, runner=runner).build_system_requires
            package = stack.enter_context(environments.lease(requires))

            def hooks(root: Path) -> Any:
                """The hooks of ``root`` in the package's environment as it is now."""
                return ProjectBuilder.from_isolated_env(package.env, root, runner=runner)

            package.need(hooks(source).get_requires_for_build("sdist"))
            sdist = Path(hooks(source).build("sdist", out))
            reproducible_sdist(name, sdist, epoch)
            if wheel_from == "source":
                package.need(hooks(source).get_requires_for_build("wheel"))
                wheel = Path(hooks(source).build("wheel", out))
            else:
                with tempfile.TemporaryDirectory(prefix="release-sdist-") as unpacked:
                    root = _unpack_sdist(sdist, Path(unpacked))
                    try:
                        package.need(hooks(root).get_requires_for_build("wheel"))
                        wheel = Path(hooks(root).build("wheel", out))
                    except BuildBackendException as error:
                        if not _wheel_builds(source, package, hooks):
                            raise
                        raise not_self_contained(name, _backend_text(error), root) from None
    except BuildBackendException as error:
        raise BuildFailure(f"{name} did not build: {_backend_output(error)}") from None
    except subprocess.CalledProcessError as error:
        output = tail(error.stderr or error.output)
        raise BuildFailure(f"{name}: installing its build requirements failed: {output}") from None
    except (BuildException, RuntimeError, OSError) as error:
        raise BuildFailure(f"{name} did not build: {error}") from None
    return [("sdist", sdist), ("wheel", wheel)]


def reproducible_sdist(package: str, sdist: Path, epoch: int) -> None:
    """Rewrite ``sdist`` reproducibly (``repack``), or say why it stays as built."""
    why = make_reproducible(sdist, epoch)
    if why is not None:
        console.warn(
            f"{package}: {sdist.name} is not reproducible: {why}; it is kept as built, so a "
            "build of this tag at another time or on another machine gives other bytes (a "
            "re-run still recognises it on the index by its members)"
        )


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

    The hooks run under the umask 022, whatever the releasing user's: setuptools writes the
    files of its wheel anew and records their modes, so under a umask of 002 (the default of
    many desktops) its wheel would differ from a CI runner's (``HOOK_UMASK``).
    """

    def run(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        env = clean_environment({**(extra_environ or {}), **extra})
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        result = subprocess.run(
            list(cmd), cwd=cwd, env=env, capture_output=True, text=True, umask=HOOK_UMASK
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, list(cmd), result.stdout, result.stderr
            )

    return run


def _backend_output(error: Exception) -> str:
    return tail(_backend_text(error))


def _backend_text(error: Exception) -> str:
    """All a failed backend hook printed (its own error last), or the error itself."""
    cause = getattr(error, "exception", None)
    if isinstance(cause, subprocess.CalledProcessError):
        return (cause.output or "") + (cause.stderr or "")
    return str(error)


def _wheel_builds(source: Path, package: PackageEnvironment, hooks: Callable[[Path], Any]) -> bool:
    """Whether the wheel builds from the source folder (into a scratch folder, then dropped)."""
    from build import BuildBackendException, BuildException

    try:
        with tempfile.TemporaryDirectory(prefix="release-source-wheel-") as scratch:
            package.need(hooks(source).get_requires_for_build("wheel"))
            hooks(source).build("wheel", scratch)
    except (BuildBackendException, BuildException, subprocess.CalledProcessError, OSError):
        return False
    return True


# A file the backend looked for and did not find, in the errors Python and the backends give.
_MISSING = (
    re.compile(r"No such file or directory: (?P<q>['\"])(?P<path>.+?)(?P=q)"),
    re.compile(r"(?:[Ff]ile|[Dd]irectory) (?P<q>['\"]?)(?P<path>\S+?)(?P=q) does not exist"),
    re.compile(r"does not exist: (?P<q>['\"]?)(?P<path>\S+?)(?P=q)\s*$"),
)


def missing_file(output: str, root: Path | None = None) -> tuple[str, str] | None:
    """The file a failed build looked for, and the error line that names it (the last one).

    A path inside the unpacked sdist ``root`` is shown relative to it, as the package's
    author wrote it (``../README.md``).
    """
    for line in reversed(output.splitlines()):
        for pattern in _MISSING:
            match = pattern.search(line)
            if match is None:
                continue
            raw = match["path"]
            shown = raw
            if root is not None and os.path.isabs(raw):
                inside = os.path.commonpath([os.path.normpath(raw), str(root.parent)])
                if inside == str(root.parent):
                    shown = os.path.relpath(os.path.normpath(raw), root)
            return shown, line.strip().replace(raw, shown)
    return None


def not_self_contained(package: str, output: str, root: Path | None = None) -> BuildFailure:
    """The wheel fails from the sdist and builds from the source folder: say which file, and
    both fixes."""
    found = missing_file(output, root)
    if found is not None:
        looked = f"the build looked for {found[0]}, which the sdist does not hold ({found[1]})"
    else:
        looked = f"the build looked for a file the sdist does not hold ({last_line(output)})"
    return BuildFailure(
        f"{package}: the wheel built from its sdist fails where the source folder builds, so "
        f"the sdist is not self-contained: {looked}",
        "make the sdist complete (add the file in MANIFEST.in, or read it from inside the "
        'package), or set wheel-from = "source" on this package in [[tool.release.packages]]',
    )


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
