"""The release's local work runs at the same time, and keeps every verification.

A dry run of ``invoke release`` (the local phase of a real release: the packages built and
verified, the images built, the index and the registry compared) of the demo monorepo
against the real pypiserver, registry and Docker engine, driven through the scheduler in a
process of its own that listens to the scheduler's own state changes (``on_change``, with the
monotonic time of each). No timed assertion: the package build's interval (``preparing`` to
``prepared``) and the image build's interval must intersect, and every verification (twine
check, the version inside every file, the smoke install, the comparison with the index and
with the registry) must have run and be in the prepared result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from devservices.engine import DockerEngine
from devservices.pypi import PypiServer
from devservices.registry import Registry
from tests.repos import Repo, drop_release_tables, run

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TAG = "version/3.4.0"

# Runs in the demo repository: the scheduler of ``invoke release --dry-run`` with a listener,
# and a spy on each verification (the module attribute the step calls), so the run itself
# says what it checked.
DRIVER = r"""
import json, os, sys, time
from release.steps.pypi import build, upload
from release.steps.images import step as images

calls = []

def spy(module, name):
    real = getattr(module, name)
    def wrapper(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)
    setattr(module, name, wrapper)

for name in ("twine_problems", "version_problems", "smoke_install"):
    spy(build, name)
spy(upload, "compare_with_index")
spy(images, "existing_tags")

from release.commands.resolve import context_for
from release.pipeline.preflight import check
from release.pipeline.scheduler import Scheduler
from release.run.context import Options

options = Options(dry_run=True, offline=False, yes=True, branch=None, env=dict(os.environ))
ctx = context_for(sys.argv[1], options)
check(ctx, steps=True)
events = []
scheduler = Scheduler(ctx, on_change=lambda o: events.append([o.step, o.state, time.monotonic()]))
report = scheduler.run()
built = scheduler.prepared["build"].built
result = {
    "stage": report.stage,
    "states": {n: o.state for n, o in report.outcomes.items()},
    "errors": {n: o.error for n, o in report.outcomes.items() if o.error},
    "events": events,
    "calls": calls,
    "dists": [[d.filename, d.version] for d in built.dists],
    "imports": built.imports,
    "compared": [c.local.name for c in scheduler.prepared["upload"].comparisons],
    "registry": sorted(scheduler.prepared["push-image"].existing),
    "images": sorted(t.name for t in scheduler.prepared["push-image"].targets),
}
print("RESULT " + json.dumps(result))
"""


def _interval(events: list[list[Any]], step: str) -> tuple[float, float]:
    start = next(t for s, state, t in events if s == step and state == "preparing")
    end = next(t for s, state, t in events if s == step and state == "prepared")
    return start, end


def test_package_and_image_builds_overlap_and_every_verification_stays(
    demo_repo: Repo,
    pypi_server: PypiServer,
    registry: Registry,
    docker_engine: DockerEngine,
    tmp_path: Path,
) -> None:
    drop_release_tables(demo_repo, "ui", "discord")
    demo_repo.tag(TAG)
    env = {
        **demo_repo.env,
        **pypi_server.env(),
        **registry.env(),
        **docker_engine.env(),
        "CI": "",
        "NO_COLOR": "1",
    }
    process = run([sys.executable, "-c", DRIVER, TAG], demo_repo.path, env, check=False)
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, process.stdout + process.stderr
    result = json.loads(lines[-1].removeprefix("RESULT "))

    assert result["stage"] == "dry-run", result["errors"]
    for step in ("build", "upload", "push-image"):
        assert result["states"][step] == "dry-run", result["errors"]

    # Local work in flight at the same time: the package build and the image builds.
    packages = _interval(result["events"], "build")
    images = _interval(result["events"], "push-image")
    assert max(packages[0], images[0]) < min(packages[1], images[1]), (packages, images)

    # Every verification ran in this very run, and its outcome is in the prepared result.
    for check in (
        "twine_problems",
        "version_problems",
        "smoke_install",
        "compare_with_index",
        "existing_tags",
    ):
        assert check in result["calls"], result["calls"]
    version = TAG.removeprefix("version/")
    assert result["dists"] and {v for _, v in result["dists"]} == {version}
    assert {"demo_common", "demo_node"} <= set(result["imports"])  # the smoke install's imports
    assert sorted(result["compared"]) == sorted(f for f, _ in result["dists"])
    assert result["registry"] == result["images"] and result["images"]
