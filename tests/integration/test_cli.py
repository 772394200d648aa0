"""The release-tasks program runs the shipped collection, and maps parser errors to exit 2."""

from __future__ import annotations

import json
import sys

from tests.repos import Repo, run


def release_tasks(repo: Repo, *args: str):
    return run([sys.executable, "-m", "release.cli", *args], repo.path, check=False)


def test_release_tasks_runs_the_same_collection(demo_repo: Repo):
    demo_repo.tag("version/1.0.0")
    listing = release_tasks(demo_repo, "--list")
    assert "check-version" in listing.stdout
    result = release_tasks(demo_repo, "check-version", "--json", "--offline")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == "1.0.0"


def test_an_unknown_flag_exits_2_under_release_tasks(demo_repo: Repo):
    result = release_tasks(demo_repo, "check-version", "--bogus")
    assert result.returncode == 2
    assert "--bogus" in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_flag_exits_1_under_plain_invoke(demo_repo: Repo):
    assert demo_repo.invoke("check-version", "--bogus").returncode == 1
