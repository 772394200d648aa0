"""Trust: the jobs that hold secrets run none of the released project's code (issue 19, hole 9).

The shipped workflow builds in one job that holds nothing (``build --output``) and publishes
in others that build nothing (``upload --from``, ``deploy-ui --from``), each checking the
files against the manifest's sha256 the build job published. Here each job is a fresh clone
of the world's remote (a fresh runner), run in GitHub Actions mode against the world's real
services:

- **the hand-off**: the build job, without any credential, writes the build output; the
  upload and deploy jobs release exactly those files (byte for byte on the index, entry for
  entry in the deployed zip), build nothing (no build backend, no smoke install, no npm, no
  ``.git/release-dist``), and their state notes name the build's manifest;
- **a build output changed on its way** (a file changed, an extra file, a link to
  ``/proc/self/environ``, the manifest rewritten to match, another fingerprint): each is
  refused by both publishing jobs before anything, with one line naming it and the fix;
  nothing is uploaded, deployed, pushed or recorded;
- **the job's git token**: a whole release with ``GITHUB_TOKEN`` in the releasing step's
  environment completes, and the token reaches no child process (every git call and every
  npm command is observed through a wrapper on ``PATH``), no output, file, note or object;
- **no wait without end** (hole 7): the index answers the upload ``503`` with
  ``Retry-After: 3600``; the upload waits the policy's cap (60 s), not an hour, says that it
  retries, and finishes. (Every job of the workflow has ``timeout-minutes`` besides:
  ``tests/integration/test_workflows.py``.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from release.core.http import POLICY
from tests.reliability.conftest import MakeWorld, assert_clean
from tests.reliability.world import TAG, VERSION, Outcome, World
from tests.repos import run

WITHOUT_SECRETS = {  # the build job holds none of them
    name: ""
    for name in (
        "TWINE_USERNAME",
        "TWINE_PASSWORD",
        "RELEASE_REGISTRY_USERNAME",
        "RELEASE_REGISTRY_PASSWORD",
        "DISCORD_WEBHOOK_URL",
        "AZURE_WEBAPP_PUBLISH_PROFILE",
    )
}
TOKEN = "ghs_trustJobToken0123456789abcdefXYZ"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def runner(world: World, name: str) -> Path:
    """A fresh checkout of the world's remote, as a job's runner has it."""
    path = world.root / name
    run(["git", "clone", "-q", str(world.repo.remote), str(path)], world.root)
    return path


def job(world: World, checkout: Path, *args: str, **env: str) -> Outcome:
    """The tool run in ``checkout`` with the world's environment and ``env``."""
    result = run(world.argv(*args), checkout, {**world.env(), **env}, check=False)
    outcome = Outcome(tuple(args), result.returncode, result.stdout, result.stderr)
    world.outcomes.append(outcome)
    return outcome


def build_job(world: World, checkout: Path) -> tuple[Path, str]:
    """``build --output``, without any credential; the folder and the published fingerprint."""
    output = world.root / "build-job-output.txt"
    folder = world.root / "release-build"
    built = job(
        world, checkout, "build", "--tag", TAG, "--output", str(folder),
        GITHUB_OUTPUT=str(output), **WITHOUT_SECRETS,
    )  # fmt: skip
    assert built.returncode == 0, built
    return folder, output.read_text().strip().removeprefix("manifest-sha256=")


def remote_record(world: World, step: str) -> dict:
    notes = world.remote_notes()
    return notes.get(step) or {}


def test_the_build_jobs_files_are_released_by_jobs_that_build_nothing(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    world.mark()
    folder, digest = build_job(world, runner(world, "build-runner"))
    assert world.side_effects() == []  # the build job changes nothing anywhere

    upload_runner, deploy_runner = runner(world, "upload-runner"), runner(world, "deploy-runner")
    uploaded = job(
        world, upload_runner, "upload", "--tag", TAG, "--from", str(folder),
        RELEASE_BUILD_MANIFEST=digest,
    )  # fmt: skip
    deployed = job(
        world, deploy_runner, "deploy-ui", "--tag", TAG, "--from", str(folder),
        RELEASE_BUILD_MANIFEST=digest,
    )  # fmt: skip

    assert uploaded.returncode == 0, uploaded
    assert deployed.returncode == 0, deployed
    assert world.index_server is not None
    on_index = {p.name: sha256(p) for p in world.index_server.packages_dir.iterdir()}
    handed = {p.name: sha256(p) for p in folder.iterdir() if p.name.endswith((".whl", ".gz"))}
    assert on_index == handed and len(handed) == 4
    [ui_zip] = folder.glob("*.zip")
    with zipfile.ZipFile(ui_zip) as archive:
        zipped = {name: archive.read(name) for name in archive.namelist()}
    [deployment] = world.deployments()
    assert deployment.files() == zipped
    for outcome, checkout in ((uploaded, upload_runner), (deployed, deploy_runner)):
        assert "smoke test" not in outcome.output and "$ npm" not in outcome.output, outcome
        assert not (checkout / ".git" / "release-dist").exists()
    for step in ("upload", "deploy-ui"):
        assert remote_record(world, step)["build"]["manifest_sha256"] == digest, step
    assert world.leaks() == []
    assert world.duplicates() == []


def changed_wheel(folder: Path) -> str:
    wheel = next(folder.glob("demo_node-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    return f"{wheel.name} does not match the manifest"


def extra_file(folder: Path) -> str:
    (folder / "demo_extra-1.1.0-py3-none-any.whl").write_bytes(b"PK\5\6" + bytes(18))
    return "the file demo_extra-1.1.0-py3-none-any.whl is not in the manifest"


def environ_link(folder: Path) -> str:
    (folder / "environ").symlink_to("/proc/self/environ")
    return "environ is a symbolic link"


def rewritten_manifest(folder: Path) -> str:
    message = changed_wheel(folder)
    manifest = folder / "release-build.json"
    data = json.loads(manifest.read_text())
    for entry in data["files"]:
        path = folder / entry["name"]
        entry["size"], entry["sha256"] = path.stat().st_size, sha256(path)
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert message
    return "is not the manifest the build job published"


TAMPERED = {
    "a changed wheel": changed_wheel,
    "an extra file": extra_file,
    "a link to the process environment": environ_link,
    "a rewritten manifest": rewritten_manifest,
}


def test_a_build_output_changed_on_its_way_is_refused_before_anything_is_published(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    folder, digest = build_job(world, world.repo.path)
    checkout = runner(world, "publish-runner")
    world.mark()
    cases = [(name, TAMPERED[name], digest) for name in TAMPERED]
    cases.append(("another fingerprint", None, hashlib.sha256(b"other").hexdigest()))
    for name, tamper, fingerprint in cases:
        for step in ("upload", "deploy-ui"):
            copy = world.root / f"downloaded-{len(world.outcomes)}"
            shutil.copytree(folder, copy, symlinks=True)
            expected = tamper(copy) if tamper else f"not {fingerprint} (RELEASE_BUILD_MANIFEST)"

            outcome = job(
                world, checkout, step, "--tag", TAG, "--from", str(copy),
                RELEASE_BUILD_MANIFEST=fingerprint,
            )  # fmt: skip

            assert outcome.returncode == 1, (name, step, str(outcome))
            errors = outcome.errors()
            assert len(errors) == 1 and expected in errors[0], (name, step, str(outcome))
            assert "Traceback" not in outcome.output
            assert world.side_effects() == [], (name, step)
            assert not (checkout / ".git" / "release-state").exists(), (name, step)
    assert world.deployments() == []
    assert world.leaks() == []


WRAPPER = """#!/bin/sh
env > "{folder}/{name}-$$-$(date +%s%N).env"
exec {real} "$@"
"""


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_the_job_token_reaches_git_alone_and_no_output(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = make_world(github_actions=True)
    wrappers, seen = tmp_path / "wrappers", tmp_path / "seen"
    wrappers.mkdir()
    seen.mkdir()
    for name in ("git", "npm"):
        real = shutil.which(name)
        assert real is not None
        wrapper = wrappers / name
        wrapper.write_text(WRAPPER.format(folder=seen, name=name, real=real))
        wrapper.chmod(0o755)

    outcome = world.release(
        env={"GITHUB_TOKEN": TOKEN, "PATH": f"{wrappers}{os.pathsep}{os.environ['PATH']}"}
    )

    assert outcome.returncode == 0, outcome
    assert_clean(world)
    observed = {p.name.split("-", 1)[0] for p in seen.iterdir()}
    assert observed == {"git", "npm"}, observed  # every child the tool ran was seen
    forms = {TOKEN, base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()}
    received = sorted(
        p.name.rsplit("-", 2)[0] for p in seen.iterdir() if any(f in p.read_text() for f in forms)
    )
    assert received == [], f"the token reached {received}"
    for number, run_outcome in enumerate(world.outcomes):
        assert TOKEN not in run_outcome.output, number
    for path in world.root.rglob("*"):
        if path.is_file() and not path.is_symlink() and "services" not in path.parts:
            assert TOKEN not in path.read_bytes().decode("latin-1"), path
    assert VERSION in json.dumps(world.remote_notes())


def test_a_retry_after_of_an_hour_delays_the_upload_by_the_policys_cap_only(
    make_world: MakeWorld,
) -> None:
    world = make_world()
    refused = world.index.fault("status", "POST", r"^/$", status=503, retry_after=3600)
    started = time.monotonic()

    outcome = world.invoke("upload", "--tag", TAG)

    took = time.monotonic() - started
    assert outcome.returncode == 0, outcome
    assert refused.hits == 1
    assert POLICY.max_wait <= took < POLICY.max_wait + 60, took  # the cap, not an hour
    assert "the index answered 503; retrying" in outcome.stderr, outcome  # and said so
    assert world.index_files() == world.built
    assert world.leaks() == []
    assert world.duplicates() == []
