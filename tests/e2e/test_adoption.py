"""Adoption without copying: the built wheel, installed into a fresh venv, releases a small
repository with ``release-tasks`` alone (no checkout of this project, no tasks.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repos import CHECKOUT, clean_env, make_repo

SMALL_REPO = {
    "pyproject.toml": """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "small-lib"
version = "0.1.0"

[tool.release]
branches = ["main"]

[[tool.release.version-files]]
path = "pyproject.toml"
kind = "pyproject"

[[tool.release.packages]]
path = "."
""",
    "src/small_lib/__init__.py": '"""A small library adopting release-tasks."""\n',
}


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the built wheel (and its dependencies) installed."""
    root = tmp_path_factory.mktemp("adoption")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(root / "dist"), str(CHECKOUT)],
        check=True,
        capture_output=True,
    )
    wheel = next((root / "dist").glob("release_tasks-*.whl"))
    venv = root / "venv"
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)],
            check=True,
            capture_output=True,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
            check=True,
            capture_output=True,
        )
    return venv / "bin" / "release-tasks"


def release_tasks(program: Path, cwd: Path, *args: str, env: dict[str, str] | None = None):
    environment = clean_env(env)
    environment.pop("PYTHONPATH", None)
    environment["PATH"] = f"{program.parent}{os.pathsep}{environment['PATH']}"
    return subprocess.run(
        [str(program), *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


def test_the_wheel_ships_the_collection_and_runs_it_alone(installed: Path, tmp_path: Path):
    repo = make_repo(tmp_path, source=None, files=SMALL_REPO)
    repo.tag("version/0.2.0")
    listing = release_tasks(installed, repo.path, "--list")
    assert listing.returncode == 0, listing.stderr
    assert "check-version" in listing.stdout and "release" in listing.stdout
    result = release_tasks(
        installed, repo.path, "check-version", "--json", "--offline", "--skip-credentials"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == "0.2.0"
    assert data["steps"]["build"] == "run"
    assert data["steps"]["push-image"] == "skip: not configured"
    # The program is the installed one, not this checkout.
    assert str(CHECKOUT) not in release_tasks(installed, repo.path, "--version").stdout
