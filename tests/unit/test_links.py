"""Symbolic links never carry a file in or out (issue 19, hole 3), on real files and links.

A version file that is a link, or lies in a folder that is one, is refused before anything
is written (the file it points to is unchanged); the UI's zip refuses any link (or other
non-file) under the build output, naming it, before the zip exists.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from release.core.config import Config, VersionFile
from release.core.errors import ReleaseError
from release.core.version import parse_version
from release.core.writers.change import BumpError, write_changes
from release.core.writers.plan import linked_files, plan_writes, write_versions
from release.core.writers.trees import FolderTree
from release.steps.deploy_ui.archive import not_files, zip_folder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DUNDER = '__version__ = "1.0.0"\n'


def cfg(*entries: tuple[str, str]) -> Config:
    return Config(version_files=tuple(VersionFile(path=p, kind=k) for p, k in entries))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A folder with one good version file; an outside file a link may point to."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text(DUNDER)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "__init__.py").write_text(DUNDER)
    return root


def test_a_version_file_that_links_outside_is_refused_and_nothing_is_written(
    repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "__init__.py"
    (repo / "app").mkdir()
    (repo / "app" / "__init__.py").symlink_to(outside)
    config = cfg(("pkg/__init__.py", "dunder"), ("app/__init__.py", "dunder"))

    with pytest.raises(BumpError) as raised:
        write_versions(config, repo, parse_version("2.0.0"))

    message = str(raised.value)
    assert f"app/__init__.py is a symbolic link (to {outside})" in message
    assert "replace the link with the file itself" in message
    assert message.endswith("no file was changed")
    assert outside.read_text() == DUNDER
    assert (repo / "pkg" / "__init__.py").read_text() == DUNDER  # every file or none
    assert (repo / "app" / "__init__.py").is_symlink()


def test_a_link_inside_the_repository_to_a_file_inside_it_is_refused_too(repo: Path) -> None:
    (repo / "VERSION.py").symlink_to("pkg/__init__.py")

    with pytest.raises(BumpError, match=r"VERSION\.py is a symbolic link \(to pkg/__init__\.py\)"):
        write_versions(cfg(("VERSION.py", "dunder")), repo, parse_version("2.0.0"))
    assert (repo / "pkg" / "__init__.py").read_text() == DUNDER


def test_a_version_file_in_a_linked_folder_is_refused_naming_the_folder(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "vendor").symlink_to(tmp_path / "outside")

    with pytest.raises(BumpError) as raised:
        plan_writes(cfg(("vendor/__init__.py", "dunder")), repo, parse_version("2.0.0"))

    assert (
        f"vendor is a symbolic link (to {tmp_path / 'outside'}) and vendor/__init__.py lies in it"
        in str(raised.value)
    )
    assert (tmp_path / "outside" / "__init__.py").read_text() == DUNDER


def test_a_glob_that_selects_a_link_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "lib").mkdir()
    (repo / "lib" / "__init__.py").symlink_to(tmp_path / "outside" / "__init__.py")
    config = cfg(("**/__init__.py", "dunder"))

    with pytest.raises(BumpError, match=r"lib/__init__\.py is a symbolic link"):
        write_versions(config, repo, parse_version("2.0.0"))
    assert linked_files(config, FolderTree(repo)) == [
        "version-files '**/__init__.py': lib/__init__.py is a symbolic link (to "
        f"{tmp_path / 'outside' / '__init__.py'}): version files are never read or written "
        "through a link; replace the link with the file itself, or configure the path of "
        "the file it points to"
    ]
    assert (tmp_path / "outside" / "__init__.py").read_text() == DUNDER


def test_a_broken_link_is_refused_as_a_link_not_as_a_missing_file(repo: Path) -> None:
    (repo / "gone.py").symlink_to("/nonexistent/version.py")

    with pytest.raises(BumpError, match=r"gone\.py is a symbolic link \(to /nonexistent"):
        write_versions(cfg(("gone.py", "dunder")), repo, parse_version("2.0.0"))


def test_the_build_file_beside_version_info_is_never_written_through_a_link(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "node").mkdir()
    (repo / "node" / "_version.py").write_text('version_info = (1, 0, 0, "final", __build__, 0)\n')
    (tmp_path / "outside" / "__build__").write_text("0\n")
    (repo / "node" / "__build__").symlink_to(tmp_path / "outside" / "__build__")

    with pytest.raises(BumpError, match=r"node/__build__ is a symbolic link"):
        write_versions(cfg(("node/_version.py", "version-info")), repo, parse_version("2.0.0rc3"))
    assert (tmp_path / "outside" / "__build__").read_text() == "0\n"


def test_a_link_made_after_the_plan_is_still_never_written_through(
    repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "__init__.py"
    changes = plan_writes(cfg(("pkg/__init__.py", "dunder")), repo, parse_version("2.0.0"))
    (repo / "pkg" / "__init__.py").unlink()
    (repo / "pkg" / "__init__.py").symlink_to(outside)

    with pytest.raises(BumpError, match=r"pkg/__init__\.py is a symbolic link"):
        write_changes(repo, [c for c in changes if c.changed])
    assert outside.read_text() == DUNDER


def output(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<html></html>\n")
    (root / "assets" / "app.css").write_text("body {}\n")
    return root


def test_the_zip_refuses_a_link_to_the_process_environment(tmp_path: Path) -> None:
    dist = output(tmp_path / "dist")
    (dist / "env.txt").symlink_to("/proc/self/environ")
    target = tmp_path / "ui.zip"

    with pytest.raises(ReleaseError) as raised:
        zip_folder(dist, target, 1_700_000_000, "ui/dist")

    assert "ui/dist/env.txt -> /proc/self/environ" in raised.value.message
    assert "nothing was deployed" in raised.value.message
    assert raised.value.hint is not None and "cp -L" in raised.value.hint
    assert not target.exists()


def test_the_zip_refuses_a_linked_folder_and_special_files_naming_each(tmp_path: Path) -> None:
    dist = output(tmp_path / "dist")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "id_rsa").write_text("not for the web\n")
    (dist / "assets" / "more").symlink_to(tmp_path / "elsewhere")
    os.mkfifo(dist / "pipe")

    assert not_files(dist) == [f"assets/more -> {tmp_path / 'elsewhere'}", "pipe (a named pipe)"]
    with pytest.raises(ReleaseError, match=r"dist/assets/more -> .*dist/pipe \(a named pipe\)"):
        zip_folder(dist, tmp_path / "ui.zip", 1_700_000_000)


def test_plain_files_and_folders_still_zip(tmp_path: Path) -> None:
    dist = output(tmp_path / "dist")
    archive = zip_folder(dist, tmp_path / "ui.zip", 1_700_000_000)

    assert archive.files == ("assets/app.css", "index.html")
    with zipfile.ZipFile(archive.path) as opened:
        assert opened.read("index.html") == b"<html></html>\n"
