"""Verifying built files without building: import names, metadata versions, the manifest."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from release.core.files import sha256_of
from release.steps.pypi.dists import Dist, load_built
from release.steps.pypi.verify import import_names, names_from_paths, version_problems


@pytest.mark.parametrize(
    ("paths", "names"),
    [
        (["demo_node/__init__.py", "demo_node/_version.py", "demo_node/__build__"], ["demo_node"]),
        (["single.py", "single-1.0.dist-info/RECORD"], ["single"]),
        (["ns/sub/__init__.py", "ns/sub/mod.py"], ["ns.sub"]),
        (["fast.cpython-311-x86_64-linux-gnu.so"], ["fast"]),
        (["pkg/__init__.py", "pkg/inner/__init__.py", "extra.pth"], ["pkg"]),
        (["pkg-1.0.data/scripts/run", "pkg-1.0.dist-info/METADATA"], []),
    ],
)
def test_import_names_come_from_the_record_paths(paths: list[str], names: list[str]) -> None:
    assert names_from_paths(paths) == names


def test_import_names_are_read_from_the_wheel_record(tmp_path: Path) -> None:
    wheel = tmp_path / "demo_common-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo_common/__init__.py", "")
        archive.writestr(
            "demo_common-1.0.0.dist-info/RECORD",
            "demo_common/__init__.py,sha256=x,0\ndemo_common-1.0.0.dist-info/RECORD,,\n",
        )
    assert import_names(wheel) == ["demo_common"]


def _dist(version: str) -> Dist:
    return Dist("demo-node", "demo-node", version, "wheel", f"demo_node-{version}.whl", "0")


def test_a_file_whose_metadata_has_another_version_is_named() -> None:
    problems = version_problems([_dist("1.0.0rc1"), _dist("0.9.0")], "1.0.0rc1")
    assert len(problems) == 1
    assert "demo_node-0.9.0.whl (demo-node) has version 0.9.0" in problems[0]
    assert "the tag says 1.0.0rc1" in problems[0]


def test_equal_spellings_of_a_version_are_the_same_version() -> None:
    assert version_problems([_dist("1.0.0-rc1")], "1.0.0rc1") == []


def test_a_build_is_reused_only_for_its_commit_and_intact_files(tmp_path: Path) -> None:
    wheel = tmp_path / "demo_node-1.0.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    entry = Dist("demo-node", "demo-node", "1.0.0", "wheel", wheel.name, sha256_of(wheel))
    manifest = {"version": "1.0.0", "commit": "abc", "dists": [entry.__dict__], "imports": {}}
    (tmp_path / "release-build.json").write_text(json.dumps(manifest))
    assert load_built(tmp_path, "abc", "1.0.0") is not None
    assert load_built(tmp_path, "def", "1.0.0") is None
    wheel.write_bytes(b"tampered")
    assert load_built(tmp_path, "abc", "1.0.0") is None
