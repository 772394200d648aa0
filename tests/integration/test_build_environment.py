"""The build requirements are installed without the publish credentials.

A build requirement that comes as a source distribution runs its own build code while pip
or uv installs it; that code must not find ``TWINE_PASSWORD`` (or any other secret) in its
environment. The probe here is such a requirement: a local project whose ``setup.py``
writes what it sees into a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from release.steps.pypi import dists

SECRET = "build-requirement-must-not-see-this"

PROBE_SETUP = """\
import os, pathlib
pathlib.Path({out!r}).write_text(os.environ.get("TWINE_PASSWORD", "<unset>"))
from setuptools import setup
setup(name="probe", version="1.0", py_modules=[])
"""

PACKAGE_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "probe @ {probe}"]
build-backend = "setuptools.build_meta"

[project]
name = "needs-probe"
version = "1.0"
"""


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_build_requirement_built_from_source_does_not_see_the_publish_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installer: str
):
    if installer == "uv" and dists.uv_binary() is None:
        pytest.fail("uv is part of the dev extra and must be installed")
    seen = tmp_path / "seen.txt"
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "setup.py").write_text(PROBE_SETUP.format(out=str(seen)))
    package = tmp_path / "needs-probe"
    package.mkdir()
    (package / "pyproject.toml").write_text(PACKAGE_PYPROJECT.format(probe=probe.as_uri()))
    monkeypatch.setenv("TWINE_PASSWORD", SECRET)

    files = dists.build_package(package, tmp_path / "out", epoch=1700000000, installer=installer)

    assert [kind for kind, _ in files] == ["sdist", "wheel"]
    assert seen.read_text() == "<unset>"  # the probe ran, and found no password
