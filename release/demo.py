"""``invoke demo``: a whole release of ``examples/demo`` into local services it starts itself.

It copies the demo monorepo into a temporary git repository with a bare remote, tags
``version/1.0.0``, starts a real pypiserver, a real registry and the Docker engine (when it
can run here), and the Discord and Azure contract servers of ``release.localservices``,
runs ``invoke release --yes`` there through the real ``invoke`` command, prints where to
look, and stops everything it started. Where a service cannot run, it says so and releases
the rest (the demo's configuration then leaves that step unconfigured).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from release import console
from release.errors import ReleaseError

CHECKOUT = Path(__file__).resolve().parent.parent
DEMO_SOURCE = CHECKOUT / "examples" / "demo"
DEMO_TAG = "version/1.0.0"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Maintainer",
    "GIT_AUTHOR_EMAIL": "maintainer@example.org",
    "GIT_COMMITTER_NAME": "Demo Maintainer",
    "GIT_COMMITTER_EMAIL": "maintainer@example.org",
}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **IDENTITY}
    )


def make_demo_repository(root: Path, drop_tables: tuple[str, ...] = ()) -> Path:
    """A clone of the demo with a bare ``origin``; ``drop_tables`` removes unavailable steps."""
    remote = root / "remote.git"
    work = root / "demo"
    _git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    shutil.copytree(DEMO_SOURCE, work, ignore=shutil.ignore_patterns("node_modules", "dist"))
    if drop_tables:
        _drop_tables(work / "pyproject.toml", drop_tables)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "Demo monorepo")
    _git(work, "remote", "add", "origin", str(remote))
    _git(work, "push", "-q", "-u", "origin", "main")
    _git(work, "tag", "-a", "-m", "Release 1.0.0", DEMO_TAG)
    _git(work, "push", "-q", "origin", DEMO_TAG)
    return work


def _drop_tables(path: Path, names: tuple[str, ...]) -> None:
    import tomlkit

    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table = document["tool"]["release"]  # type: ignore[index]
    for name in names:
        table.pop(name, None)  # type: ignore[union-attr]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


@contextmanager
def services(workdir: Path) -> Iterator[tuple[dict[str, str], list[str], list[str]]]:
    """Start what can run here: (environment for the release, notes, tables to drop)."""
    from release.localservices.pypi import PypiServer
    from release.localservices.registry import Registry

    env: dict[str, str] = {}
    notes: list[str] = []
    dropped: list[str] = []
    with ExitStack() as stack:
        index = stack.enter_context(PypiServer(workdir / "pypi", "demo", secrets.token_urlsafe(16)))
        env.update(index.env())
        notes.append(f"package index: {index.index_url}")
        engine_env = _engine(stack, workdir, notes)
        if engine_env is None:
            dropped += ["images", "registry"]
        else:
            registry = stack.enter_context(Registry(workdir / "registry"))
            env.update(engine_env)
            env.update(registry.env())
            notes.append(f"registry: curl -s {registry.url}/v2/demo/node/tags/list")
        env_discord = _contract(stack, "discord", workdir, notes)
        if env_discord is None:
            dropped.append("discord")
        else:
            env.update(env_discord)
        env_azure = _contract(stack, "azure", workdir, notes)
        if env_azure is None:
            dropped.append("ui")
        else:
            env.update(env_azure)
        yield env, notes, dropped


def _engine(stack: ExitStack, workdir: Path, notes: list[str]) -> dict[str, str] | None:
    from release.localservices.engine import DockerEngine, EngineUnavailableError

    try:
        engine = stack.enter_context(DockerEngine(workdir / "docker"))
    except EngineUnavailableError as error:
        notes.append(f"the Docker engine cannot run here ({error}): images are not released")
        return None
    return engine.env()


def _contract(
    stack: ExitStack, name: str, workdir: Path, notes: list[str]
) -> dict[str, str] | None:
    """Start the Discord or Azure contract server, when this version ships it."""
    import importlib

    try:
        module = importlib.import_module(f"release.localservices.{name}")
    except ModuleNotFoundError:
        notes.append(f"no {name} contract server in this version: that step is not configured")
        return None
    server = stack.enter_context(module.demo_server(workdir / name))
    notes.append(server.describe())
    env: dict[str, str] = server.env()
    return env


def run_demo(keep: bool = False) -> None:
    """Release the demo end to end; exit 1 if the release fails."""
    root = Path(tempfile.mkdtemp(prefix="release-demo-"))
    try:
        with services(root) as (env, notes, dropped):
            work = make_demo_repository(root, tuple(dropped))
            for note in notes:
                console.info(note)
            console.info(f"demo repository: {work} (remote {root / 'remote.git'})")
            argv = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "release"]
            argv += ["--tag", DEMO_TAG, "--yes"]
            child_env = {**os.environ, **IDENTITY, **env}
            child_env.pop("GITHUB_ACTIONS", None)
            child_env.pop("CI", None)
            result = subprocess.run(argv, cwd=work, env=child_env, check=False)
            console.info("")
            console.info("where to look:")
            for note in notes:
                console.info(f"  {note}")
            console.info(f"  git log --oneline --all  (in {work})")
            if result.returncode != 0:
                raise ReleaseError(f"the demo release failed (exit {result.returncode})")
    finally:
        if keep:
            console.info(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
