"""Trust: symbolic links carry no file out of the machine or into one (issue 19, hole 3).

Each scenario commits a link into the world's demo repository (git stores a link as the path
it points to), pushes it with a new version tag, and runs ``invoke release --yes`` against
the world's real services:

- the UI's build (``npm run build``, changed in ``ui/package.json``) leaves a link to
  ``/proc/self/environ`` in its output, the environment of the releasing process with every
  secret of the release in it; or it replaces its output folder with a link to a folder
  outside the repository. The release stops in its local work, naming the link: nothing is
  uploaded, pushed, committed or deployed, and no secret appears anywhere
  (``World.leaks``, in GitHub Actions mode: the outputs, the step summary, every file and
  git object);
- a version file is committed as a link to a file outside the repository: a release refuses
  it in its pre-flight, and a post release (which commits nothing, but writes its version
  into the release tree for its images and UI) before anything is built; the file outside
  is unchanged, and nothing changed anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.reliability.conftest import MakeWorld
from tests.reliability.world import Outcome, World, secret_forms

LINKED = "demo-common/src/demo_common/__init__.py"
NEXT = "version/1.1.1"
POST = "version/1.1.0-post1"


def tag_change(world: World, tag: str, message: str) -> None:
    """Commit every change of the world's checkout on main, push it and tag it ``tag``."""
    repo = world.repo
    repo.commit(message)
    repo.push("main")
    repo.tag(tag)
    world.mark()  # from here on, every change is the tool's


def set_ui_build(world: World, build: str) -> None:
    path = world.repo.path / "ui" / "package.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["scripts"]["build"] = build
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def link_version_file(world: World) -> Path:
    """The demo's ``__init__.py`` replaced by a link to a file outside the repository."""
    outside = world.root / "outside" / "__init__.py"
    outside.parent.mkdir()
    outside.write_text((world.repo.path / LINKED).read_text(encoding="utf-8"), encoding="utf-8")
    (world.repo.path / LINKED).unlink()
    (world.repo.path / LINKED).symlink_to(outside)
    return outside


def assert_refused(world: World, outcome: Outcome, *says: str) -> None:
    """Exit 1 with one clear error naming the link, nothing changed, no secret anywhere."""
    assert deployed_secrets(world) == [], outcome
    assert outcome.returncode == 1, outcome
    errors = outcome.errors()
    assert len(errors) == 1, outcome
    for piece in says:
        assert piece in errors[0], outcome
    assert "internal error" not in errors[0] and "Traceback" not in outcome.output, outcome
    assert world.side_effects() == [], outcome
    assert world.deployments() == []
    assert world.leaks() == []


def deployed_secrets(world: World) -> list[str]:
    """Every known secret in a file of a zip the Azure server received (``World.leaks``
    does not look into the services)."""
    return [
        f"{name} in {file} of deployment {deployment.id}"
        for deployment in world.deployments()
        for file, data in deployment.files().items()
        for form, name in secret_forms().items()
        if form.encode() in data
    ]


def test_a_link_to_the_process_environment_in_the_ui_output_deploys_nothing(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    set_ui_build(world, "node build.js && ln -s /proc/self/environ dist/env.txt")
    tag_change(world, NEXT, "the UI's build leaves a link to the process environment")

    outcome = release(world, NEXT)

    assert_refused(
        world,
        outcome,
        "the release stopped during local work, before any side effect",
        "ui/dist/env.txt -> /proc/self/environ",
        "nothing was deployed",
    )


def test_an_output_folder_linked_outside_the_repository_deploys_nothing(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    elsewhere = world.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "index.html").write_text("<html>not the UI</html>\n", encoding="utf-8")
    (elsewhere / "environ").symlink_to("/proc/self/environ")
    set_ui_build(world, f"node build.js && rm -rf dist && ln -s {elsewhere} dist")
    tag_change(world, NEXT, "the UI's output folder is a link to a folder outside")

    outcome = release(world, NEXT)

    assert_refused(
        world,
        outcome,
        f"the UI's build output ui/dist is reached through a symbolic link (ui/dist -> {elsewhere})",
    )


def test_a_version_file_linked_outside_the_repository_is_refused_in_the_pre_flight(
    make_world: MakeWorld,
) -> None:
    world = make_world()
    outside = link_version_file(world)
    before = outside.read_bytes()
    tag_change(world, NEXT, "a version file is a link to a file outside the repository")

    outcome = release(world, NEXT)

    assert_refused(
        world,
        outcome,
        f"bump: version-files '{LINKED}': {LINKED} is a symbolic link (to {outside})",
        "replace the link with the file itself",
    )
    assert outside.read_bytes() == before
    assert "Building" not in outcome.output  # the pre-flight refused: nothing was built
    assert world.repo.git("status", "--porcelain") == ""
    assert len(world.repo.git("worktree", "list").splitlines()) == 1  # no release tree left


def test_a_post_release_writes_no_version_through_a_link(make_world: MakeWorld) -> None:
    world = make_world()
    outside = link_version_file(world)
    before = outside.read_bytes()
    tag_change(world, POST, "a version file is a link to a file outside the repository")

    outcome = release(world, POST)

    assert_refused(world, outcome, f"{LINKED} is a symbolic link (to {outside})")
    assert outside.read_bytes() == before
    assert world.repo.git("status", "--porcelain") == ""
    assert len(world.repo.git("worktree", "list").splitlines()) == 1  # no release tree left


def release(world: World, tag: str) -> Outcome:
    return world.invoke("release", "--tag", tag, "--yes")
