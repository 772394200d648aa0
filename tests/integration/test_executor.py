"""The executor hands --tag and --dry-run to prerequisites, through the real invoke command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.repos import CHECKOUT, clean_env

COLLECTION = """
from invoke import task


@task
def check(c, tag=None, dry_run=False):
    print(f"check tag={tag} dry_run={dry_run}")


@task(pre=[check])
def build(c, tag=None, dry_run=False):
    print(f"build tag={tag} dry_run={dry_run}")


@task(pre=[build])
def upload(c, tag=None, dry_run=False, retries=1, from_=None):
    print(f"upload tag={tag} dry_run={dry_run}" + (f" from={from_}" if from_ else ""))


@task(pre=[check])
def listing(c, verbose=False):
    print("listing")
"""


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    (tmp_path / "tasks.py").write_text(COLLECTION)
    (tmp_path / "invoke.yaml").write_text((CHECKOUT / "invoke.yaml").read_text())
    return tmp_path


def invoke(folder: Path, *args: str) -> list[str]:
    env = clean_env({"PYTHONPATH": str(CHECKOUT)})
    result = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=folder, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_prerequisites_receive_the_callers_tag_and_dry_run(collection: Path):
    assert invoke(collection, "upload", "--tag", "version/1.2.3", "--dry-run") == [
        "check tag=version/1.2.3 dry_run=True",
        "build tag=version/1.2.3 dry_run=True",
        "upload tag=version/1.2.3 dry_run=True",
    ]


def test_a_shared_prerequisite_runs_once_when_arguments_are_equal(collection: Path):
    lines = invoke(
        collection, "build", "--tag", "version/1.2.3", "upload", "--tag", "version/1.2.3"
    )
    assert lines.count("check tag=version/1.2.3 dry_run=False") == 1
    assert lines.count("build tag=version/1.2.3 dry_run=False") == 1


def test_with_from_the_build_prerequisite_does_not_run_and_its_own_prerequisites_do(
    collection: Path,
):
    assert invoke(collection, "upload", "--tag", "version/1.2.3", "--from", "out") == [
        "check tag=version/1.2.3 dry_run=False",
        "upload tag=version/1.2.3 dry_run=False from=out",
    ]
    # asked for by name, it runs
    assert invoke(collection, "build", "upload", "--from", "out") == [
        "check tag=None dry_run=False",
        "build tag=None dry_run=False",
        "upload tag=None dry_run=False from=out",
    ]


def test_a_prerequisite_without_those_parameters_is_called_as_usual(collection: Path):
    assert invoke(collection, "listing") == ["check tag=None dry_run=False", "listing"]


def test_without_the_executor_invoke_drops_the_arguments(collection: Path):
    (collection / "invoke.yaml").unlink()
    lines = invoke(collection, "upload", "--tag", "version/1.2.3")
    assert lines[0] == "check tag=None dry_run=False"
