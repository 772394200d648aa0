"""Packages with the same ``build-system.requires`` share one isolated build environment.

The build requirements of a monorepo whose packages use one backend are installed once per
release, not once per package (issue 24); build isolation still holds: a package whose
backend asks for one more requirement builds in an environment of its own, and the others
never see that requirement. Each package's in-tree backend (over setuptools) records the
environment it builds in (``sys.prefix``) and whether ``extra_probe``, a real local project,
is importable there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release.steps.pypi import dists

EXTRA_SETUP = """\
from setuptools import setup
setup(name="extra-probe", version="1.0", py_modules=["extra_probe"])
"""

# An in-tree backend over setuptools: asks for ``extra-probe`` when the package has a file
# ``wants-extra``, and records in ``seen.json`` its environment and whether it could import
# it while building.
BACKEND = """\
import importlib.util, json, os, sys
from setuptools import build_meta as _meta
from setuptools.build_meta import *  # noqa: F403


def get_requires_for_build_wheel(config_settings=None):
    extra = [{extra!r}] if os.path.exists("wants-extra") else []
    return _meta.get_requires_for_build_wheel(config_settings) + extra


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    found = importlib.util.find_spec("extra_probe") is not None
    with open({seen!r}, "a") as handle:
        handle.write(json.dumps([os.path.basename(os.getcwd()), sys.prefix, found]) + "\\n")
    return _meta.build_wheel(wheel_directory, config_settings, metadata_directory)
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "backend"
backend-path = ["."]

[project]
name = "{name}"
version = "1.0"

[tool.setuptools]
py-modules = []
"""


def build(tmp_path: Path, names: list[str], wants_extra: set[str]) -> dict[str, list[object]]:
    """Build ``names`` as one release: {folder the wheel was built in: [environment, extra
    importable]}."""
    seen = tmp_path / "seen.json"
    extra = tmp_path / "extra-probe"
    extra.mkdir()
    (extra / "setup.py").write_text(EXTRA_SETUP)
    (extra / "extra_probe.py").write_text("")
    tree = tmp_path / "tree"
    for name in names:
        folder = tree / name
        folder.mkdir(parents=True)
        (folder / "pyproject.toml").write_text(PYPROJECT.format(name=name))
        backend = BACKEND.format(extra=f"extra-probe @ {extra.as_uri()}", seen=str(seen))
        (folder / "backend.py").write_text(backend)
        (folder / "MANIFEST.in").write_text("include backend.py wants-extra\n")
        if name in wants_extra:
            (folder / "wants-extra").write_text("")
    built = dists.build_release(tree, names, tmp_path / "out", epoch=1700000000)
    assert sorted(d.filename for d in built) == sorted(
        f for n in names for f in (f"{n}-1.0.tar.gz", f"{n}-1.0-py3-none-any.whl")
    )
    return {
        folder: [prefix, found]
        for folder, prefix, found in map(json.loads, seen.read_text().splitlines())
    }


def test_packages_with_the_same_build_requirements_build_in_one_environment(
    tmp_path: Path,
) -> None:
    seen = build(tmp_path, ["alpha", "beta", "gamma", "delta"], wants_extra=set())

    # Each wheel is built from its unpacked sdist, whose folder is <name>-1.0.
    assert sorted(seen) == ["alpha-1.0", "beta-1.0", "delta-1.0", "gamma-1.0"]
    assert len({prefix for prefix, _ in seen.values()}) == 1  # one environment for all four
    assert not any(found for _, found in seen.values())


def test_a_package_asking_for_more_builds_alone_and_the_others_never_see_it(
    tmp_path: Path,
) -> None:
    seen = build(tmp_path, ["alpha", "beta", "gamma"], wants_extra={"beta"})

    assert seen["alpha-1.0"] == [seen["gamma-1.0"][0], False]  # shared, without the extra
    assert seen["beta-1.0"][1] is True  # beta's backend got what it asked for
    assert seen["beta-1.0"][0] != seen["alpha-1.0"][0]  # in an environment of its own


FAILING_SETUP = """\
with open({out!r}, "a") as handle:
    handle.write("tried\\n")
raise SystemExit("failprobe cannot be built")
"""


def test_build_requirements_that_fail_to_install_are_tried_once_for_all_packages(
    tmp_path: Path,
) -> None:
    """A shared environment whose install failed fails every package sharing it at once."""
    tried = tmp_path / "tried.txt"
    probe = tmp_path / "failprobe"
    probe.mkdir()
    (probe / "setup.py").write_text(FAILING_SETUP.format(out=str(tried)))

    def attempts(names: list[str]) -> int:
        tree = tmp_path / f"tree-{len(names)}"
        for name in names:
            folder = tree / name
            folder.mkdir(parents=True)
            (folder / "pyproject.toml").write_text(
                f'[build-system]\nrequires = ["setuptools>=61", "failprobe @ {probe.as_uri()}"]\n'
                f'build-backend = "setuptools.build_meta"\n\n[project]\nname = "{name}"\n'
                'version = "1.0"\n'
            )
        tried.write_text("")
        with pytest.raises(dists.BuildFailure, match="installing its build requirements failed"):
            dists.build_release(tree, names, tmp_path / "out", epoch=1700000000)
        return len(tried.read_text().splitlines())

    alone = attempts(["alpha"])
    assert alone >= 1  # the probe's build code ran, and failed
    assert attempts(["alpha", "beta", "gamma"]) == alone  # not once per package
