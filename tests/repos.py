"""Real git repositories for tests: a working clone of ``examples/demo`` (or any
files) with a bare remote, and a runner for the real ``invoke`` command in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
DEMO = CHECKOUT / "examples" / "demo"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Release Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.org",
    "GIT_COMMITTER_NAME": "Release Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.org",
}
# Variables of the machine or of CI that would change what the tool resolves.
SCRUBBED = (
    "CI",  # CI=true (set where .ci/run runs) would lift the local-release guard
    "RELEASE_TAG",
    "GITHUB_ACTIONS",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "GITHUB_REF_TYPE",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTOR",
    "GITHUB_TRIGGERING_ACTOR",
    "TWINE_USERNAME",
    "TWINE_PASSWORD",
    "TWINE_REPOSITORY_URL",
    "DISCORD_WEBHOOK_URL",
    "AZURE_WEBAPP_PUBLISH_PROFILE",
    "RELEASE_REGISTRY",
    "RELEASE_INDEX_URL",
    "NO_COLOR",
)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(IDENTITY)
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["COLUMNS"] = "200"
    if extra:
        env.update(extra)
    return env


def run(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=clean_env(env), capture_output=True, text=True, input=input, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass
class Repo:
    """A working clone at ``path`` whose ``origin`` is the bare repository ``remote``."""

    path: Path
    remote: Path
    env: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str, check: bool = True) -> str:
        return run(["git", *args], self.path, self.env, check=check).stdout.strip()

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def commit(self, message: str = "change", *paths: str) -> str:
        self.git("add", *(paths or ("-A",)))
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, annotated: bool = True, ref: str = "HEAD", push: bool = True) -> None:
        if annotated:
            self.git("tag", "-a", "-m", f"release {name}", name, ref)
        else:
            self.git("tag", name, ref)
        if push:
            self.git("push", "-q", "origin", f"refs/tags/{name}")

    def push(self, *refs: str) -> None:
        self.git("push", "-q", "origin", *(refs or ("HEAD",)))

    def invoke(
        self, *args: str, env: Mapping[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The real ``invoke`` command over this checkout's collection, run in the repo."""
        merged = {**self.env, **(env or {})}
        return run(
            [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), *args],
            self.path,
            merged,
            check=False,
            input=input,
        )

    def clone(self, dest: Path, *options: str) -> Repo:
        # A file:// URL, so that --depth makes a real shallow clone as CI does.
        run(
            ["git", "clone", "-q", *options, self.remote.as_uri(), str(dest)], dest.parent, self.env
        )
        return Repo(dest, self.remote, dict(self.env))


def make_repo(
    root: Path, source: Path | None = DEMO, files: Mapping[str, str] | None = None
) -> Repo:
    """A repository with the files of ``source`` (and ``files``), committed on main and pushed."""
    root.mkdir(parents=True, exist_ok=True)
    remote = root / "remote.git"
    work = root / "work"
    run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], root)
    if source is not None:
        shutil.copytree(
            source, work, ignore=shutil.ignore_patterns("node_modules", "dist", "build")
        )
    else:
        work.mkdir()
    repo = Repo(work, remote)
    repo.git("init", "-q", "-b", "main")
    for name, text in (files or {}).items():
        repo.write(name, text)
    repo.git("remote", "add", "origin", str(remote))
    repo.commit("initial import")
    repo.git("push", "-q", "-u", "origin", "main")
    return repo


@pytest.fixture
def demo_repo(tmp_path: Path) -> Iterator[Repo]:
    """A fresh clone of the demo monorepo with a bare remote (nothing tagged yet)."""
    yield make_repo(tmp_path)


def drop_release_tables(repo: Repo, *names: str) -> None:
    """Remove ``[tool.release]`` entries (``packages``, ``ui``...) so those steps are not configured."""
    import tomlkit

    path = repo.path / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    table = document["tool"]["release"]  # type: ignore[index]
    for name in names:
        table.pop(name, None)  # type: ignore[union-attr]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    repo.commit(f"release only what this test needs (without {', '.join(names)})")
    repo.push()
