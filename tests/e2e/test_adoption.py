"""Adoption without copying: the built wheel, installed into a fresh venv, releases a small
repository with ``release-tasks`` alone (no checkout of this project, no tasks.py).

The program runs with a PATH of its venv and the system's programs only (git), without
PYTHONPATH, so nothing of this checkout can be imported or run by it. The adopting
repository carries the release workflow copied as docs/ci.md says (unchanged: every job
installs the pinned ``release-tasks`` from the index, none the repository it releases).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devservices.pypi import PypiServer
from tests.repos import CHECKOUT, clean_env, make_repo

SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
WORKFLOW = CHECKOUT / ".github" / "workflows" / "release.yml"


def adopting_repo(name: str) -> dict[str, str]:
    """A one-package repository whose only release configuration is its [tool.release] table."""
    module = name.replace("-", "_")
    workflow = WORKFLOW.read_text(encoding="utf-8")
    assert 'python -m pip install "$RELEASE_TASKS"' in workflow
    assert "pip install .\n" not in workflow
    return {
        "pyproject.toml": f"""\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{name}"
version = "0.1.0"

[tool.release]
branches = ["main"]

[[tool.release.version-files]]
path = "pyproject.toml"
kind = "pyproject"

[[tool.release.packages]]
path = "."
""",
        f"src/{module}/__init__.py": f'"""{name}: a small library adopting release-tasks."""\n',
        ".github/workflows/release.yml": workflow,
    }


def uv_binary() -> str | None:
    try:
        import uv  # type: ignore[import-not-found]
    except ImportError:
        return None
    found: str = uv.find_uv_bin()
    return found


def fresh_venv(venv: Path, *requirements: str, index_url: str | None = None) -> Path:
    """A new venv with ``requirements`` installed (uv when present, else pip); its bin folder."""
    uv = uv_binary()
    python = venv / "bin" / "python"
    index = ["--index-url", index_url] if index_url else []
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python), *index, *requirements]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "-q", *index, *requirements]
    result = subprocess.run(install, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return venv / "bin"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built as ``python -m build`` builds it."""
    root = tmp_path_factory.mktemp("adoption-wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(root), str(CHECKOUT)],
        check=True,
        capture_output=True,
    )
    return next(root.glob("release_tasks-*.whl"))


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """``release-tasks`` of a fresh venv holding only the built wheel and its dependencies."""
    root = tmp_path_factory.mktemp("adoption")
    bin_dir = fresh_venv(root / "venv", str(wheel))
    # uv, if the builds may use it, on a PATH of its own: not the folder of this test's python.
    uv = uv_binary()
    if uv:
        (root / "tools").mkdir()
        (root / "tools" / "uv").symlink_to(uv)
    return bin_dir / "release-tasks"


def release_tasks(
    program: Path, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed program with its venv and the system's programs only on PATH."""
    environment = clean_env(env)
    environment.pop("PYTHONPATH", None)
    environment.pop("VIRTUAL_ENV", None)
    tools = program.parent.parent.parent / "tools"
    environment["PATH"] = os.pathsep.join([str(program.parent), str(tools), *SYSTEM_PATH])
    return subprocess.run(
        [str(program), *args], cwd=cwd, env=environment, capture_output=True, text=True
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_ships_no_test_server(wheel: Path):
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        modules = [n for n in names if n.endswith(".py")]
        servers = [n for n in modules if "http.server" in archive.read(n).decode("utf-8")]
    assert "release/run/catalog.py" in names and "release/collection/tasks.py" in names
    assert [n for n in names if n.startswith(("devservices/", "tests/", "bench/"))] == []
    assert [n for n in names if "localservices" in n] == []
    assert servers == []


def test_the_wheel_ships_the_collection_and_runs_it_alone(installed: Path, tmp_path: Path):
    repo = make_repo(tmp_path, source=None, files=adopting_repo("small-lib"))
    repo.tag("version/0.2.0")
    listing = ok(release_tasks(installed, repo.path, "--list"))
    assert "check-version" in listing.stdout and "release" in listing.stdout
    result = ok(
        release_tasks(
            installed, repo.path, "check-version", "--json", "--offline", "--skip-credentials"
        )
    )
    data = json.loads(result.stdout)
    assert data["version"] == "0.2.0"
    assert data["steps"]["build"] == "run"
    assert data["steps"]["push-image"] == "skip: not configured"
    # The library the program runs is the wheel's, inside the venv, not this checkout.
    python = installed.parent / "python"
    where = subprocess.run(
        [str(python), "-c", "import release; print(release.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo.path,
        env=clean_env({"PYTHONPATH": ""}),
    ).stdout.strip()
    assert where.startswith(str(installed.parent.parent)), where
    assert not where.startswith(str(CHECKOUT))


def test_the_installed_program_releases_a_repository_into_the_index(
    installed: Path, tmp_path: Path, pypi_server: PypiServer
):
    name = "adopter"
    repo = make_repo(tmp_path / "repo", source=None, files=adopting_repo(name))
    repo.tag("version/0.2.0")
    env = pypi_server.env()

    refused = release_tasks(
        installed, repo.path, "release", "--tag", "version/0.2.0", "--yes", env=env
    )
    assert refused.returncode == 1
    assert "pass --local" in refused.stdout + refused.stderr

    released = ok(
        release_tasks(
            installed,
            repo.path,
            "release",
            "--tag",
            "version/0.2.0",
            "--yes",
            "--local",
            env=env,
        )
    )
    output = released.stdout + released.stderr
    assert pypi_server.password not in output
    for step in ("bump", "build", "upload"):
        assert f"[{step}] done" in output, output
    remote_main = repo.git("--git-dir", str(repo.remote), "show", "main:pyproject.toml")
    assert 'version = "0.2.0"' in remote_main
    assert repo.git("--git-dir", str(repo.remote), "log", "-1", "--format=%s", "main") == (
        "Updated the version to 0.2.0"
    )

    user = fresh_venv(tmp_path / "user", f"{name}==0.2.0", index_url=pypi_server.index_url)
    shown = subprocess.run(
        [str(user / "python"), "-c", f"import importlib.metadata as m; print(m.version('{name}'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "0.2.0"


def test_the_installed_program_cuts_the_tag_that_ci_checks_in_a_shallow_clone(
    installed: Path, tmp_path: Path, pypi_server: PypiServer
):
    repo = make_repo(tmp_path / "repo", source=None, files=adopting_repo("tagged-lib"))
    ok(release_tasks(installed, repo.path, "tag", "--version", "0.3.0"))
    assert repo.git("ls-remote", "--tags", "origin", "version/0.3.0")

    # What actions/checkout does by default: one commit, detached at the tag, no branches.
    ci = tmp_path / "ci"
    repo_clone = ["git", "clone", "-q", "--depth", "1", "--branch", "version/0.3.0"]
    subprocess.run(
        [*repo_clone, repo.remote.as_uri(), str(ci)],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    output_file = tmp_path / "github_output"
    output_file.touch()
    ci_env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": "refs/tags/version/0.3.0",
        "GITHUB_REF_NAME": "version/0.3.0",
        "GITHUB_REF_TYPE": "tag",
        "GITHUB_OUTPUT": str(output_file),
        "RELEASE_INDEX_URL": pypi_server.index_url,
        "TWINE_REPOSITORY_URL": pypi_server.upload_url,
    }
    checked = ok(
        release_tasks(
            installed, ci, "check-version", "--github-output", "--skip-credentials", env=ci_env
        )
    )
    assert "fetched the branches from origin" in checked.stdout + checked.stderr
    outputs = dict(
        line.split("=", 1) for line in output_file.read_text(encoding="utf-8").splitlines()
    )
    assert outputs["tag"] == "version/0.3.0"
    assert outputs["version"] == "0.3.0"
    assert outputs["kind"] == "final"
    steps = json.loads(outputs["steps"])
    assert steps["bump"] == steps["build"] == steps["upload"] == "run"
    assert steps["push-image"] == "skip: not configured"


def test_the_demo_of_an_installed_package_says_it_runs_from_a_checkout(
    installed: Path, tmp_path: Path
):
    result = release_tasks(installed, tmp_path, "demo")
    assert result.returncode == 1
    assert "error: the demo runs from a checkout of release-tasks" in result.stderr
    assert "Traceback" not in result.stderr
