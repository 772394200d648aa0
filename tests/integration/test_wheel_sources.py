"""Real monorepo shapes, built for real and uploaded to the real pypiserver (issue 20).

- A ``setup.py`` that reads the monorepo's ``../README.md``: its sdist does not hold that
  file, so the wheel built from the sdist fails where the source folder builds. The build
  says so in one message, and ``wheel-from = "source"`` releases it.
- Two wheels that install a top-level ``tests`` package over each other: warned in the
  output, the summary and the step summary; refused with ``strict-wheels = true`` before
  anything is uploaded.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from devservices.pypi import PypiServer
from tests.repos import Repo, make_repo

pytestmark = pytest.mark.slow

SETUP_READING_THE_ROOT_README = """\
from pathlib import Path

from setuptools import setup

setup(
    name="wheelsrc-mono",
    version="{version}",
    long_description=Path("../README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=["wheelsrc_mono"],
    package_dir={{"": "src"}},
)
"""

CLASHING_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "clash-{name}"
version = "{version}"

[tool.setuptools]
packages = ["clash_{name}", "tests"]
"""


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def on_index(server: PypiServer, prefix: str) -> list[str]:
    return sorted(p.name for p in server.packages_dir.iterdir() if p.name.startswith(prefix))


def project_exists(server: PypiServer, project: str) -> bool:
    answer = requests.get(f"{server.index_url}{project}/", timeout=10)
    return answer.status_code == 200


# -- sdists that are not self-contained --------------------------------------------------------


def monorepo_reading_the_root_readme(root: Path) -> Repo:
    files = {
        "README.md": "# The monorepo\n\nOne README for every package.\n",
        "pyproject.toml": '[tool.release]\n[[tool.release.packages]]\npath = "mono-pkg"\n',
        "mono-pkg/setup.py": SETUP_READING_THE_ROOT_README.format(version="0.4.0"),
        "mono-pkg/src/wheelsrc_mono/__init__.py": '__version__ = "0.4.0"\n',
    }
    return make_repo(root, source=None, files=files)


def test_a_package_reading_a_file_outside_its_sdist_is_refused_then_released_from_source(
    pypi_server: PypiServer, tmp_path: Path
) -> None:
    repo = monorepo_reading_the_root_readme(tmp_path)
    repo.tag("version/0.4.0")

    refused = repo.invoke("upload", "--tag", "version/0.4.0", env=pypi_server.env())

    assert refused.returncode == 1, output(refused)
    message = refused.stderr
    assert (
        "mono-pkg: the wheel built from its sdist fails where the source folder builds, "
        "so the sdist is not self-contained: the build looked for ../README.md, which the "
        "sdist does not hold (FileNotFoundError: [Errno 2] No such file or directory: "
        "'../README.md')" in " ".join(message.split())
    )
    assert "MANIFEST.in" in message
    assert 'wheel-from = "source"' in message
    assert "Traceback" not in message
    assert not project_exists(pypi_server, "wheelsrc-mono")
    assert not (repo.path / ".git" / "release-dist" / "0.4.0").exists()
    assert pypi_server.password not in output(refused)

    # The fix the message names: build both files from the package's folder.
    repo.write(
        "pyproject.toml",
        '[tool.release]\n[[tool.release.packages]]\npath = "mono-pkg"\nwheel-from = "source"\n',
    )
    repo.write("mono-pkg/setup.py", SETUP_READING_THE_ROOT_README.format(version="0.4.1"))
    repo.write("mono-pkg/src/wheelsrc_mono/__init__.py", '__version__ = "0.4.1"\n')
    repo.commit("build the wheel from the source folder")
    repo.push()
    repo.tag("version/0.4.1")

    planned = repo.invoke("check-version", "--tag", "version/0.4.1", env=pypi_server.env())
    assert planned.returncode == 0, output(planned)
    assert 'mono-pkg: both from the source folder, wheel-from = "source"' in " ".join(
        output(planned).split()
    )

    released = repo.invoke("upload", "--tag", "version/0.4.1", env=pypi_server.env())

    assert released.returncode == 0, output(released)
    assert "uploaded 2 file(s) of 0.4.1" in released.stderr
    assert on_index(pypi_server, "wheelsrc_mono") == [
        "wheelsrc_mono-0.4.1-py3-none-any.whl",
        "wheelsrc_mono-0.4.1.tar.gz",
    ]


# -- wheels that clash --------------------------------------------------------------------------


def clashing_monorepo(root: Path, version: str) -> Repo:
    """Two packages whose wheels both install a top-level ``tests`` package."""
    files = {
        "pyproject.toml": (
            "[tool.release]\n"
            '[[tool.release.packages]]\npath = "alpha"\n'
            '[[tool.release.packages]]\npath = "beta"\n'
        ),
    }
    for name in ("alpha", "beta"):
        files[f"{name}/pyproject.toml"] = CLASHING_PYPROJECT.format(name=name, version=version)
        files[f"{name}/clash_{name}/__init__.py"] = f'__version__ = "{version}"\n'
        files[f"{name}/tests/__init__.py"] = ""
        files[f"{name}/tests/test_{name}.py"] = "def test_it():\n    pass\n"
    return make_repo(root, source=None, files=files)


def test_two_wheels_installing_tests_are_warned_in_the_output_and_the_step_summary(
    pypi_server: PypiServer, tmp_path: Path
) -> None:
    repo = clashing_monorepo(tmp_path, "0.5.0")
    repo.tag("version/0.5.0")
    summary = tmp_path / "summary.md"

    result = repo.invoke(
        "release",
        "--tag",
        "version/0.5.0",
        "--yes",
        env={**pypi_server.env(), "CI": "", "GITHUB_STEP_SUMMARY": str(summary)},
    )

    assert result.returncode == 0, output(result)
    text = " ".join(result.stderr.split())
    for name in ("alpha", "beta"):
        assert (
            f"warning: clash_{name}-0.5.0-py3-none-any.whl installs a top-level package 'tests'"
        ) in text
    clash = (
        "clash_alpha-0.5.0-py3-none-any.whl and clash_beta-0.5.0-py3-none-any.whl install "
        "the same file(s): tests/__init__.py"
    )
    assert f"warning: {clash}" in text
    step_summary = summary.read_text()
    assert clash in step_summary
    assert "clash_alpha-0.5.0-py3-none-any.whl installs a top-level package 'tests'" in (
        step_summary
    )
    # A warning, not an error: the release went through.
    assert len(on_index(pypi_server, "clash_")) == 4
    assert pypi_server.password not in output(result) + step_summary


def test_strict_wheels_refuses_clashing_wheels_before_anything_is_uploaded(
    pypi_server: PypiServer, tmp_path: Path
) -> None:
    repo = clashing_monorepo(tmp_path, "0.6.0")
    pyproject = repo.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[tool.release]\n", "[tool.release]\nstrict-wheels = true\n")
    )
    repo.commit("wheels that clash are an error")
    repo.push()
    repo.tag("version/0.6.0")
    before = on_index(pypi_server, "clash_")

    result = repo.invoke(
        "release", "--tag", "version/0.6.0", "--yes", env={**pypi_server.env(), "CI": ""}
    )

    assert result.returncode == 1, output(result)
    text = " ".join(result.stderr.split())
    assert "the build of 0.6.0 is refused before anything is uploaded" in text
    assert (
        "clash_alpha-0.6.0-py3-none-any.whl and clash_beta-0.6.0-py3-none-any.whl install "
        "the same file(s): tests/__init__.py"
    ) in text
    assert "strict-wheels = true on [tool.release] makes clashing wheels an error" in text
    assert on_index(pypi_server, "clash_") == before  # no 0.6.0 file reached the index
    assert repo.git("notes", "--ref", "refs/notes/release/upload", "list", check=False) == ""
    assert not (repo.path / ".git" / "release-dist" / "0.6.0").exists()
