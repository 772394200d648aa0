"""``invoke demo``: a whole release of ``examples/demo`` into local services it starts itself.

It copies the demo monorepo (whose files hold 1.0.0) into a temporary git repository with a
bare remote, tags ``version/1.1.0``, starts a real pypiserver, a real registry and the
Docker engine (when it can run here), and the Discord, Azure and GitHub contract servers
of ``devservices``, runs ``invoke release --yes`` there through the real ``invoke``
command, shows what each service received (the index's files, the registry's tags, the
Discord message, the deployed zip, the GitHub release and its files, the bump commit on the
remote), and stops everything it started. The demo's configuration gains a
``[tool.release.github]`` table for it (``examples/demo`` has none: its remote is no GitHub
repository). The demo's ``demo/agent`` image is built by buildah for linux/amd64 and linux/arm64
and pushed as one OCI image index: the registry's listing shows both platforms. Where the
Docker engine or the registry cannot run, buildah or npm is not installed, it says so and
releases the rest (the demo's configuration then leaves the images, the agent image, or
the UI, unconfigured).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from release.core import console
from release.core.errors import ReleaseError

CHECKOUT = Path(__file__).resolve().parent.parent
DEMO_SOURCE = CHECKOUT / "examples" / "demo"
DEMO_TAG = "version/1.1.0"
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


MULTI_PLATFORM_IMAGE = "demo/agent"
"""The demo's image for two platforms, built by buildah."""


def make_demo_repository(
    root: Path, drop_tables: tuple[str, ...] = (), add_tables: str = ""
) -> Path:
    """A clone of the demo with a bare ``origin``; ``drop_tables`` removes unavailable steps
    (and ``images/<name>`` one image), ``add_tables`` (TOML) configures more."""
    work = root / "demo"
    shutil.copytree(DEMO_SOURCE, work, ignore=shutil.ignore_patterns("node_modules", "dist"))
    if drop_tables:
        _drop_tables(work / "pyproject.toml", drop_tables)
    if add_tables:
        pyproject = work / "pyproject.toml"
        pyproject.write_text(f"{pyproject.read_text(encoding='utf-8')}\n{add_tables}", "utf-8")
    publish_tagged(work, root / "remote.git", "Demo monorepo")
    return work


def publish_tagged(work: Path, remote: Path, message: str, tag: str = DEMO_TAG) -> None:
    """Make the files of ``work`` a repository: one commit on main, an annotated ``tag``, both
    pushed to a new bare ``remote`` that is its ``origin`` (the demo, the benchmarks)."""
    _git(work.parent, "init", "-q", "--bare", "-b", "main", str(remote))
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", message)
    _git(work, "remote", "add", "origin", str(remote))
    _git(work, "push", "-q", "-u", "origin", "main")
    _git(work, "tag", "-a", "-m", f"Release {tag}", tag)
    _git(work, "push", "-q", "origin", tag)


def _drop_tables(path: Path, names: tuple[str, ...]) -> None:
    import tomlkit

    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table: Any = document["tool"]["release"]  # type: ignore[index]
    for name in names:
        if name.startswith("images/") and "images" in table:
            kept = [i for i in table["images"] if i["name"] != name.removeprefix("images/")]
            table["images"].clear()
            table["images"].extend(kept)
        table.pop(name, None)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


Results = list[Callable[[], list[str]]]
GITHUB_TABLE = '[tool.release.github]\nrepository = "demo/demo"\n'


@contextmanager
def services(workdir: Path) -> Iterator[tuple[dict[str, str], list[str], list[str], Results]]:
    """Start what can run here: (environment, notes, tables to drop, result reporters)."""
    from devservices.pypi import PypiServer

    env: dict[str, str] = {}
    notes: list[str] = []
    dropped: list[str] = []
    results: Results = []
    with ExitStack() as stack:
        index = stack.enter_context(PypiServer(workdir / "pypi", "demo", secrets.token_urlsafe(16)))
        env.update(index.env())
        notes.append(f"package index: {index.index_url}")
        results.append(lambda: _index_files(index.index_url))
        engine_env = _engine(stack, workdir, notes)
        registry = _registry(stack, workdir, notes) if engine_env is not None else None
        if engine_env is None or registry is None:
            dropped += ["images", "registry"]
        else:
            env.update(engine_env)
            env.update(registry.env())
            notes.append(f"registry: curl -s {registry.url}/v2/demo/node/tags/list")
            results.append(lambda: _registry_tags(registry.url))
            if shutil.which("buildah") is None:
                notes.append(
                    f"buildah is not installed here: {MULTI_PLATFORM_IMAGE} (linux/amd64 and "
                    "linux/arm64) is not released (apt-get install buildah)"
                )
                dropped.append(f"images/{MULTI_PLATFORM_IMAGE}")
        discord = _contract(stack, "discord", workdir, notes)
        if discord is None:
            dropped.append("discord")
        else:
            env.update(discord.env())
            results.append(lambda: _discord_messages(discord))
        azure = _contract(stack, "azure", workdir, notes) if _npm(notes) else None
        if azure is None:
            dropped.append("ui")
        else:
            env.update(azure.env())
            results.append(lambda: _deployments(azure))
        github = _contract(stack, "github", workdir, notes)
        env.update(github.env())
        results.append(lambda: _github_releases(github))
        yield env, notes, dropped, results


def _engine(stack: ExitStack, workdir: Path, notes: list[str]) -> dict[str, str] | None:
    from devservices.engine import DockerEngine, EngineUnavailableError

    try:
        engine = stack.enter_context(DockerEngine(workdir / "docker"))
    except EngineUnavailableError as error:
        notes.append(f"the Docker engine cannot run here ({error}): images are not released")
        return None
    return engine.env()


def _registry(stack: ExitStack, workdir: Path, notes: list[str]) -> Any:
    from devservices import ServiceError
    from devservices.registry import Registry

    try:
        return stack.enter_context(Registry(workdir / "registry"))
    except ServiceError as error:
        reason = str(error).splitlines()[0]
        notes.append(f"the registry cannot run here ({reason}): images are not released")
        return None


def _npm(notes: list[str]) -> bool:
    if shutil.which("npm") is None:
        notes.append("npm is not installed here: the UI is not built or deployed")
        return False
    return True


def _contract(stack: ExitStack, name: str, workdir: Path, notes: list[str]) -> Any:
    """Start the Discord, Azure or GitHub contract server (they stand in for services that cannot
    run here, following their documented API contracts)."""
    import importlib

    module = importlib.import_module(f"devservices.{name}")
    server = stack.enter_context(module.demo_server(workdir / name))
    notes.append(server.describe())
    return server


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _get(url: str, accept: str = "application/json") -> Any:
    from release.core.http import session

    with session(direct=True) as client:  # 127.0.0.1 only: no proxy
        return client.get(url, timeout=10, headers={"Accept": accept})


def _index_files(index_url: str) -> list[str]:
    import re

    lines = ["the package index holds:"]
    for project in ("demo-common", "demo-node"):
        page = _get(f"{index_url}{project}/").text
        files = sorted(set(re.findall(r">([^<>]+\.(?:whl|tar\.gz))<", page)))
        lines += [f"  {name}" for name in files] or [f"  (nothing for {project})"]
    return lines


def _registry_tags(url: str) -> list[str]:
    """Each image's tags; for an index, each platform's manifest digest under it."""
    lines = ["the registry holds:"]
    for name in ("demo/node", "demo/server", MULTI_PLATFORM_IMAGE):
        tags = _get(f"{url}/v2/{name}/tags/list").json().get("tags") or []
        if not tags:
            continue
        lines.append(f"  {name}: {', '.join(sorted(tags))}")
        if name != MULTI_PLATFORM_IMAGE:
            continue
        version = DEMO_TAG.removeprefix("version/")
        index = _get(f"{url}/v2/{name}/manifests/{version}", OCI_INDEX).json()
        lines.append(f"    {version} is an index of:")
        for entry in index.get("manifests") or []:
            platform = entry.get("platform") or {}
            where = "/".join(str(platform[k]) for k in ("os", "architecture") if k in platform)
            lines.append(f"      {where}: {entry.get('digest')}")
    return lines


def _discord_messages(server: Any) -> list[str]:
    lines = ["Discord received:"]
    for message in server.messages.values():
        for embed in message.get("embeds") or []:
            lines.append(f"  {embed.get('title', '')}")
            description = str(embed.get("description", "")).splitlines()
            lines += [f"    {line}" for line in description[:6]]
    return lines if len(lines) > 1 else ["Discord received no message"]


def _deployments(server: Any) -> list[str]:
    lines = ["Azure received:"]
    for deployment in server.deployments:
        names = ", ".join(deployment.files())
        lines.append(f"  deployment {deployment.id} ({deployment.outcome}): {names}")
    return lines if len(lines) > 1 else ["Azure received no deployment"]


def _github_releases(server: Any) -> list[str]:
    import hashlib

    lines = ["GitHub received:"]
    for release in server.releases:
        marks = [
            mark
            for mark, on in (
                ("draft", release["draft"]),
                ("pre-release", release["prerelease"]),
                ("latest", release["id"] == server.latest_id),
            )
            if on
        ]
        lines.append(f"  release {release['name']} ({release['tag_name']}; {', '.join(marks)})")
        for asset in release["assets"]:
            digest = hashlib.sha256(server.blob(asset["id"])).hexdigest()
            lines.append(f"    {asset['name']} ({asset['size']} bytes, sha256 {digest[:16]})")
    return lines if len(lines) > 1 else ["GitHub received no release"]


def demo_problem() -> ReleaseError | None:
    """Why the demo cannot run from this installation: it needs a checkout with the dev extra."""
    import importlib.util

    if not (DEMO_SOURCE / "pyproject.toml").is_file():
        return ReleaseError(
            "the demo runs from a checkout of release-tasks: examples/demo is not in the "
            "installed package",
            "git clone the release-tasks repository, then in it: "
            "pip install -e '.[dev]' && invoke demo",
        )
    missing = [name for name in ("pypiserver", "passlib") if not importlib.util.find_spec(name)]
    if missing:
        return ReleaseError(
            f"the demo needs {', '.join(missing)} (the dev extra) to run its package index",
            "pip install -e '.[dev]' in the checkout",
        )
    return None


def run_demo(keep: bool = False) -> None:
    """Release the demo end to end; exit 1 if the release fails."""
    problem = demo_problem()
    if problem is not None:
        raise problem
    root = Path(tempfile.mkdtemp(prefix="release-demo-"))
    try:
        with services(root) as (env, notes, dropped, results):
            work = make_demo_repository(root, tuple(dropped), GITHUB_TABLE)
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
            for report in results:
                for line in report():
                    console.info(line)
            history = subprocess.run(
                ["git", "log", "--oneline", "-3", "main"],
                cwd=root / "remote.git",
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            console.info("the remote's main branch:")
            for line in history.splitlines():
                console.info(f"  {line}")
            if not keep:
                console.info("(run `invoke demo --keep` to keep the repository and files)")
            if result.returncode != 0:
                raise ReleaseError(f"the demo release failed (exit {result.returncode})")
    finally:
        if keep:
            console.info(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
