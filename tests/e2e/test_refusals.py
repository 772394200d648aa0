"""The verification of the built files refuses a release, through ``invoke release``.

Each test breaks one package of a fresh demo repository the way a maintainer could, tags it
and runs the real command against the real services (pypiserver, registry, engine) and the
Discord and Azure contract servers, as ``test_release`` does: the release stops before its
first side effect with exit 1 and the checker's own words naming the file or the module, and
nothing is committed, uploaded, pushed, posted or deployed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devservices import free_port
from devservices.azure import demo_server
from devservices.discord import DiscordWebhookServer
from devservices.engine import DockerEngine
from devservices.pypi import PypiServer
from tests.e2e.test_release import SwitchableRegistry, World
from tests.repos import make_repo

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.xdist_group("release-refusals")]

TAG = "version/3.0.0"
STOPPED = "the release stopped during local work, before any side effect: build ("
NOTHING = "nothing was changed anywhere"


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: DockerEngine
) -> Iterator[Callable[[Path], World]]:
    """A factory of Worlds: a fresh demo repository each, the module's services shared."""
    root = tmp_path_factory.mktemp("release-refusals")
    index = PypiServer(root / "pypi", "release-refusals", secrets.token_urlsafe(16))
    registry = SwitchableRegistry(root / "registry", port=free_port())
    with index, registry, DiscordWebhookServer() as discord, demo_server(root / "azure") as azure:

        def world(folder: Path) -> World:
            repo = make_repo(folder)
            return World(folder, repo, index, registry, discord, azure, docker_engine)

        yield world


def refused(world: World, change: dict[str, str], message: str) -> str:
    """Commit ``change``, tag it, run ``invoke release``: refused, nothing changed; its stderr."""
    for name, text in change.items():
        world.repo.write(name, text)
    world.repo.commit(message)
    world.repo.push()
    world.repo.tag(TAG)
    before, local = world.outside(), world.local()

    result = world.release(TAG, "--yes", "--local")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert STOPPED in result.stderr and NOTHING in result.stderr
    assert "[upload] publishing" not in result.stderr and "[bump] done" not in result.stderr
    assert world.outside() == before  # remote branches and notes, index, registry, Discord, Azure
    assert world.local() == local  # no bump commit, no written version, same branches
    return result.stderr


def test_a_long_description_that_twine_check_refuses_stops_the_release(
    services: Callable[[Path], World], tmp_path: Path
):
    world = services(tmp_path)
    project = (world.repo.path / "demo-common/pyproject.toml").read_text(encoding="utf-8")
    readme = 'readme = {file = "README.rst", content-type = "text/x-rst"}'

    error = refused(
        world,
        {
            "demo-common/pyproject.toml": project.replace('readme = "README.md"', readme),
            # docutils: "Title underline too short." (a warning, which twine check fails on)
            "demo-common/README.rst": "demo-common\n=====\n\nShared code of the demo.\n",
        },
        "demo-common: the README in reStructuredText",
    )

    for filename in ("demo_common-3.0.0.tar.gz", "demo_common-3.0.0-py3-none-any.whl"):
        assert (
            f"twine check {filename}: the long description (text/x-rst) has syntax errors in "
            "markup and would not be rendered on the index: line 2: Warning: Title underline "
            "too short."
        ) in error
    assert "demo_node" not in error.split(STOPPED, 1)[1]  # the good package is not blamed


def test_a_wheel_whose_import_fails_after_the_smoke_install_stops_the_release(
    services: Callable[[Path], World], tmp_path: Path
):
    world = services(tmp_path)
    init = "demo-node/src/demo_node/__init__.py"
    code = (world.repo.path / init).read_text(encoding="utf-8")

    error = refused(
        world,
        # A module that no file of the wheel provides (it was never added to the package).
        {
            init: code.replace(
                '"""The demo node."""\n',
                '"""The demo node."""\n\nimport demo_node._native  # noqa: F401\n',
                1,
            )
        },
        "demo-node: an accelerated path",
    )

    assert (
        "import demo_node failed after the smoke install: ModuleNotFoundError: "
        "No module named 'demo_node._native'"
    ) in error
    assert "the build of 3.0.0 is refused before anything is uploaded" in error
