"""The real-size benchmark fixture of ``bench/scaled.py`` (``layout="realsize"``), checked
for its shape without releasing it: 8 ``setup.py`` packages that read their version from
``_version.py`` and the monorepo's shared ``README.md``, pin their siblings and a dozen or
more real third-party dependencies with ``==``, and that ``check-version`` accepts.

Both variants: ``wheel_from="source"`` (the real shape: the sdist lacks ``../README.md``, so
every package table sets ``wheel-from = "source"``) and ``wheel_from="sdist"`` (complete
sdists: a ``README.md`` link in each package, included by ``MANIFEST.in``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.repos import CHECKOUT, run

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

N = 8
TAG = "version/1.1.0"


def load_scaled() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scaled", CHECKOUT / "bench" / "scaled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


scaled = load_scaled()

# Runs a package's setup.py with setuptools.setup replaced, and prints what it was given.
CAPTURE = """
import json, runpy, sys, setuptools
seen = {}
setuptools.setup = lambda **kwargs: seen.update(kwargs)
runpy.run_path("setup.py", run_name="__main__")
keys = ("name", "version", "install_requires", "long_description", "packages", "package_data")
print(json.dumps({key: seen.get(key) for key in keys}))
"""


@pytest.fixture(scope="module", params=["source", "sdist"])
def realsize(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp(f"realsize-{request.param}")
    return scaled.scaled_repo(
        root, f"rs{request.param}", N, 1, layout="realsize", wheel_from=request.param
    )


def setup_arguments(folder: Path) -> dict[str, Any]:
    result = run([sys.executable, "-c", CAPTURE], folder)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def check_version(repo: Any, *options: str) -> Any:
    argv = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "check-version", "--tag", TAG]
    return run([*argv, "--offline", "--skip-credentials", *options], repo.work, check=False)


def test_check_version_accepts_it_and_plans_all_eight_packages(realsize: Any):
    result = check_version(realsize, "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    plan = json.loads(result.stdout)
    assert plan["version"] == "1.1.0"
    assert plan["steps"]["build"] == "run" and plan["steps"]["upload"] == "run"

    table = check_version(realsize)
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert len(realsize.packages) == N
    assert f"build sdist and wheel of {', '.join(realsize.packages)}" in text
    assert f"upload {2 * N} file(s)" in text
    # Every package's _version.py is a version file (and the image's Dockerfile).
    assert f"write 1.1.0 into {N + 1} file(s)" in text
    tables = (realsize.work / "pyproject.toml").read_text()
    assert tables.count('wheel-from = "source"') == (N if realsize.wheel_from == "source" else 0)


def test_every_setup_py_reads_version_file_and_shared_readme_and_pins_with_eq(realsize: Any):
    readme = (realsize.work / "README.md").read_text()
    siblings = set(realsize.packages)
    third_party: dict[str, str] = {}
    for k, package in enumerate(realsize.packages):
        folder = realsize.work / package
        assert not (folder / "pyproject.toml").exists()  # setuptools, setup.py only
        setup_py = (folder / "setup.py").read_text()
        assert "_version.py" in setup_py and "1.0.0" not in setup_py
        assert (realsize.version_py(package)).is_file()

        got = setup_arguments(folder)
        assert got["name"] == package
        assert got["version"] == "1.0.0"  # version_info = (1, 0, 0, ...) in _version.py
        assert got["long_description"] == readme
        assert got["packages"] == [realsize.module(package)]  # a PEP 420 namespace's subpackage
        assert got["package_data"] == {realsize.module(package): ["__build__"]}
        pins = [requirement.replace(" ", "") for requirement in got["install_requires"]]
        assert pins and all(pin.count("==") == 1 for pin in pins), pins
        pinned = dict(pin.split("==") for pin in pins)
        own = {name: version for name, version in pinned.items() if name in siblings}
        assert own == {name: "1.0.0" for name in own}
        if k > 0:
            assert realsize.packages[0] in own and realsize.packages[k - 1] in own
        for name, version in pinned.items():
            if name not in siblings:
                assert third_party.setdefault(name, version) == version  # one version each
    assert len(third_party) >= 12, sorted(third_party)
    assert {"click", "requests", "PyYAML", "python-dateutil"} <= set(third_party)
    assert third_party == {name: pin[0] for name, pin in scaled.THIRD_PARTY.items()}


def test_the_shared_readme_and_the_sdist(realsize: Any, tmp_path: Path):
    """One package built for real: without ``wheel-from`` the wheel from the sdist fails
    (``../README.md`` is not in it) where the source folder builds; the complete variant
    builds from its sdist, which holds the README."""
    work = tmp_path / "work"
    shutil.copytree(realsize.work, work, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    package = work / realsize.packages[0]
    installer = ["--installer", "uv"] if shutil.which("uv") else []
    build = [sys.executable, "-m", "build", *installer, "--outdir"]

    via_sdist = run([*build, str(tmp_path / "via-sdist"), "."], package, check=False)
    if realsize.wheel_from == "source":
        assert via_sdist.returncode != 0
        assert "README.md" in via_sdist.stdout + via_sdist.stderr
        from_source = [*build, str(tmp_path / "source"), "--sdist", "--wheel", "."]
        assert run(from_source, package, check=False).returncode == 0
        built = tmp_path / "source"
    else:
        assert via_sdist.returncode == 0, via_sdist.stdout[-2000:] + via_sdist.stderr[-2000:]
        built = tmp_path / "via-sdist"
    assert sorted(p.suffix for p in built.iterdir()) == [".gz", ".whl"]
    if realsize.wheel_from == "sdist":
        import tarfile

        (sdist,) = built.glob("*.tar.gz")
        with tarfile.open(sdist) as archive:
            names = {name.split("/", 1)[-1] for name in archive.getnames()}
        assert {"README.md", "MANIFEST.in", "setup.py"} <= names
