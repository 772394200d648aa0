"""Symbolic links never carry files in or out (issue 19, hole 3): the real tasks on the demo.

Each test commits a link into a fresh clone of ``examples/demo`` (git stores a link as the
path it points to), tags, and runs the real ``invoke`` command: a version file that is a
link is refused before anything is written, committed or pushed, the file it points to is
unchanged; a UI build whose output holds a link (to ``/proc/self/environ``), whose output
folder is a link, or a tagged commit whose UI output is a link, deploys nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from devservices.azure import KuduServer
from tests.repos import Repo, drop_release_tables, run
from tests.services import KUDU_PASSWORD

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")

TAG = "version/4.2.0"
LINKED = "demo-common/src/demo_common/__init__.py"
ORIGINAL = '"""Shared code of the demo."""\n\n__version__ = "4.1.3"\n'


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def refused(result: subprocess.CompletedProcess[str], *says: str) -> str:
    """The run failed with exit 1 and one ``error:`` line holding every piece of ``says``."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = errors(result)
    assert len(lines) == 1, result.stderr
    for piece in says:
        assert piece in lines[0], lines[0]
    return lines[0]


def remote_refs(repo: Repo) -> str:
    return run(["git", "for-each-ref"], repo.remote).stdout


def link_version_file(repo: Repo, tmp_path: Path) -> Path:
    """Commit the demo's ``__init__.py`` as a link to a file outside the repository."""
    outside = tmp_path / "outside" / "__init__.py"
    outside.parent.mkdir()
    outside.write_text(ORIGINAL)
    (repo.path / LINKED).unlink()
    (repo.path / LINKED).symlink_to(outside)
    repo.commit("the version file is a link to a file outside the repository")
    repo.push()
    assert repo.git("ls-tree", "HEAD", LINKED).startswith("120000 ")
    return outside


def assert_nothing_written(repo: Repo, outside: Path, refs: str) -> None:
    assert outside.read_text() == ORIGINAL
    assert repo.git("status", "--porcelain") == ""
    assert remote_refs(repo) == refs
    assert len(repo.git("worktree", "list").splitlines()) == 1


@pytest.mark.parametrize("args", [(), ("--commit",), ("--dry-run",)], ids=str)
def test_bump_refuses_a_committed_link_in_its_pre_flight_and_writes_nothing(
    demo_repo: Repo, tmp_path: Path, args: tuple[str, ...]
) -> None:
    outside = link_version_file(demo_repo, tmp_path)
    demo_repo.tag(TAG)
    refs = remote_refs(demo_repo)

    result = demo_repo.invoke("bump", "--tag", TAG, *args)

    refused(
        result,
        f"error: bump: version-files '{LINKED}': {LINKED} is a symbolic link (to {outside})",
        "replace the link with the file itself",
    )
    assert_nothing_written(demo_repo, outside, refs)


def test_release_refuses_a_linked_version_file_before_any_side_effect(
    demo_repo: Repo, tmp_path: Path
) -> None:
    drop_release_tables(demo_repo, "packages", "images", "discord", "ui")
    outside = link_version_file(demo_repo, tmp_path)
    demo_repo.tag(TAG)
    refs = remote_refs(demo_repo)

    result = demo_repo.invoke("release", "--tag", TAG, "--yes")

    refused(result, f"{LINKED} is a symbolic link (to {outside})")
    assert "bump commit" not in result.stdout
    assert_nothing_written(demo_repo, outside, refs)


@needs_npm
def test_a_post_release_never_writes_its_version_through_a_link(
    demo_repo: Repo, tmp_path: Path, kudu: KuduServer
) -> None:
    """A post release commits nothing, but writes its version into the release tree for the
    UI build: the link is refused there, before the build and the deployment."""
    drop_release_tables(demo_repo, "packages", "images", "discord")
    demo_repo.tag(TAG)
    outside = link_version_file(demo_repo, tmp_path)
    demo_repo.tag("version/4.2.0-post1")
    refs = remote_refs(demo_repo)

    result = demo_repo.invoke("release", "--tag", "version/4.2.0-post1", "--yes", env=kudu.env())

    refused(result, f"{LINKED} is a symbolic link (to {outside})", "no file was changed")
    assert kudu.deployments == []
    assert "$ npm ci" not in result.stderr + result.stdout
    assert_nothing_written(demo_repo, outside, refs)


def set_ui_build(repo: Repo, build: str) -> None:
    """Make the UI's ``npm run build`` run ``build`` (committed and pushed)."""
    path = repo.path / "ui" / "package.json"
    manifest = json.loads(path.read_text())
    manifest["scripts"]["build"] = build
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    repo.commit("the UI's build", "ui/package.json")
    repo.push()


def assert_nothing_deployed(result: subprocess.CompletedProcess[str], kudu: KuduServer) -> None:
    assert kudu.deployments == []
    assert [r for r in kudu.requests if r[0] in ("POST", "PUT")] == []
    assert KUDU_PASSWORD not in result.stdout + result.stderr


@needs_npm
@pytest.mark.parametrize("tag", [TAG, "version/4.2.0rc1"], ids=["final", "pre-release"])
def test_a_link_to_the_process_environment_in_the_ui_output_is_never_zipped(
    demo_repo: Repo, kudu: KuduServer, tag: str
) -> None:
    set_ui_build(demo_repo, "node build.js && ln -s /proc/self/environ dist/env.txt")
    demo_repo.tag(tag)

    result = demo_repo.invoke("deploy-ui", "--tag", tag, env=kudu.env())

    refused(
        result,
        "the UI's build output ui/dist holds what is not a plain file "
        "(ui/dist/env.txt -> /proc/self/environ)",
        "nothing was deployed",
        "cp -L",
    )
    assert "built demo UI" in result.stderr  # refused after the build, before the zip
    assert_nothing_deployed(result, kudu)


@needs_npm
def test_an_output_folder_that_is_a_link_is_never_zipped(
    demo_repo: Repo, kudu: KuduServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "index.html").write_text("<html>not the UI</html>\n")
    set_ui_build(demo_repo, f"rm -rf dist && ln -s {elsewhere} dist")
    demo_repo.tag(TAG)

    result = demo_repo.invoke("deploy-ui", "--tag", TAG, env=kudu.env())

    refused(
        result,
        f"the UI's build output ui/dist is reached through a symbolic link (ui/dist -> {elsewhere})",
        "set [tool.release.ui] output to the real folder",
    )
    assert_nothing_deployed(result, kudu)


@needs_npm
def test_a_committed_link_as_the_ui_output_is_refused_in_the_pre_flight(
    demo_repo: Repo, kudu: KuduServer, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (demo_repo.path / "ui" / "dist").symlink_to(tmp_path / "elsewhere")
    demo_repo.git("add", "-f", "ui/dist")
    demo_repo.commit("a link where the UI's output goes", "ui/dist")
    demo_repo.push()
    demo_repo.tag(TAG)

    result = demo_repo.invoke("deploy-ui", "--tag", TAG, env=kudu.env())

    refused(
        result,
        f"error: deploy-ui: {TAG} holds symbolic links where the UI is built and zipped "
        f"(ui/dist -> {tmp_path / 'elsewhere'})",
        "replace each link with the file or folder itself",
    )
    assert "$ npm ci" not in result.stderr + result.stdout  # before the build
    assert_nothing_deployed(result, kudu)
