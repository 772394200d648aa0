"""Fixtures of the reliability suite: the worker's template repository and the scenario worlds.

The template is the demo tagged ``version/1.1.0`` with its packages built and verified once
per worker (``invoke build``); every scenario copies it, so the tagged commit, and with it
the verified build in ``.git/release-dist``, is the same, and the Docker engine's layer
cache serves the image builds. Each scenario's services are its own (see ``world.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devservices.engine import DockerEngine
from tests.reliability.summary import Row, passed, record
from tests.reliability.world import TAG, World
from tests.repos import make_repo

GROUPS = {"test_faults": "faults", "test_kills": "kills", "test_bad_input": "bad input"}


@pytest.fixture(scope="session")
def engine_host(docker_engine: DockerEngine) -> str:
    return docker_engine.docker_host


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory, engine_host: str) -> Path:
    """The demo, tagged and pushed, with the verified build of the tag in .git/release-dist."""
    root = tmp_path_factory.mktemp("reliability-template")
    repo = make_repo(root)
    repo.tag(TAG)
    built = repo.invoke("build", "--tag", TAG)
    assert built.returncode == 0, built.stdout + built.stderr
    return root


MakeWorld = Callable[..., World]


@pytest.fixture
def make_world(
    request: pytest.FixtureRequest, template: Path, engine_host: str, tmp_path: Path
) -> Iterator[MakeWorld]:
    """Make scenario worlds; at the end count their leaks and duplicates into the table."""
    worlds: list[World] = []
    started = time.monotonic()

    def make(*, github_actions: bool = False, debug: bool = False) -> World:
        world = World.create(
            template,
            tmp_path / f"world{len(worlds)}",
            engine_host,
            github_actions=github_actions,
            debug=debug,
        )
        worlds.append(world)
        return world

    yield make
    secrets = duplicates = 0
    try:
        for world in worlds:
            secrets += len(world.leaks())
            duplicates += len(world.duplicates())
    finally:
        for world in worlds:
            world.close()
        module = request.node.module.__name__.rsplit(".", 1)[-1]
        record(
            Row(
                group="trust" if module.startswith("test_trust") else GROUPS.get(module, module),
                name=request.node.name,
                passed=passed(request.node),
                secrets=secrets,
                duplicates=duplicates,
                seconds=time.monotonic() - started,
            )
        )


def assert_clean(world: World, *, notify: bool = True) -> None:
    """The invariants of a finished release, no secret anywhere, nothing done twice."""
    assert world.violations(notify=notify) == [], "\n\n".join(map(str, world.outcomes))
    assert world.leaks() == []
    assert world.duplicates() == []
