"""Two builds of one tag, at other times, from other clones, give the same bytes.

The demo has a hatchling package (``demo-common``) and a setuptools one (``demo-node``) and a
UI. Each build is the real ``invoke build --output`` in its own fresh clone of the remote
(its own ``.git/release-dist``: nothing is reused), the second a little later, with every
file of its checkout touched to another time, under another umask and another time zone,
as on another machine. setuptools writes its sdist with the build's time in the gzip
header and the checkout's file times and modes in the tar; the build rewrites it
(``release.steps.pypi.repack``) before verifying it and recording its sha256, and the
rewritten sdist still passes ``twine check`` and installs.

An sdist that cannot be rewritten with the same members is kept as built, and the build
says that it is not reproducible and why (a real build with an in-tree backend whose sdist
holds a hard link that sorted order would put before its target).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from release.steps.pypi import dists
from tests.repos import CHECKOUT, Repo, make_repo, run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed"),
]

TAG = "version/4.2.0"
FILES = (
    "demo-ui-4.2.0.zip",
    "demo_common-4.2.0-py3-none-any.whl",  # hatchling
    "demo_common-4.2.0.tar.gz",
    "demo_node-4.2.0-py3-none-any.whl",  # setuptools
    "demo_node-4.2.0.tar.gz",
    "release-build.json",
)


def build_output(clone: Repo, output: Path, umask: str, tz: str) -> None:
    """``invoke build --output`` in ``clone``, under ``umask`` and the time zone ``tz``."""
    invoke = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT)]
    command = [*invoke, "build", "--tag", TAG, "--offline", "--output", str(output)]
    shell = ["sh", "-c", f'umask {umask} && exec "$@"', "sh", *command]
    result = run(shell, clone.path, {**clone.env, "TZ": tz}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def touch_checkout(clone: Repo, when: float) -> None:
    for path in clone.path.rglob("*"):
        if ".git" not in path.relative_to(clone.path).parts and not path.is_symlink():
            os.utime(path, (when, when))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_builds_of_a_tag_from_two_clones_at_other_times_give_the_same_files(
    tmp_path: Path,
) -> None:
    demo = make_repo(tmp_path / "demo")
    demo.tag(TAG)

    first = demo.clone(tmp_path / "first")
    build_output(first, tmp_path / "out-first", umask="022", tz="UTC")
    time.sleep(1.5)  # another second in every timestamp the backends take from the clock
    second = demo.clone(tmp_path / "second")
    touch_checkout(second, time.time() - 86400 * 365)
    build_output(second, tmp_path / "out-second", umask="002", tz="Asia/Kathmandu")

    one, two = tmp_path / "out-first", tmp_path / "out-second"
    assert sorted(p.name for p in one.iterdir()) == sorted(FILES)
    assert sorted(p.name for p in two.iterdir()) == sorted(FILES)
    differ = [name for name in FILES if sha256(one / name) != sha256(two / name)]
    assert differ == []

    sdist = one / "demo_node-4.2.0.tar.gz"
    commit_time = int(demo.git("show", "-s", "--format=%ct", f"{TAG}^{{commit}}"))
    assert int.from_bytes(sdist.read_bytes()[4:8], "little") == commit_time
    with tarfile.open(sdist) as archive:
        assert {info.mtime for info in archive} == {commit_time}
    sdist_installs_and_passes_twine_check(one, tmp_path / "venv")


def sdist_installs_and_passes_twine_check(folder: Path, venv: Path) -> None:
    """The rewritten setuptools sdist: ``twine check`` and an install from it (built anew)."""
    sdist = folder / "demo_node-4.2.0.tar.gz"
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(sdist)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps",
         str(folder / "demo_common-4.2.0-py3-none-any.whl"), str(sdist)],
        capture_output=True, text=True, check=False, env=dists.clean_environment(),
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    version = subprocess.run(
        [str(python), "-c", "import demo_node; print(demo_node.__version__)"],
        capture_output=True, text=True, check=False, cwd=venv,
    )  # fmt: skip
    assert version.stdout.strip() == "4.2.0", version.stderr


BACKEND = '''\
"""An in-tree backend whose sdist holds a hard link before its target in sorted order."""
import io
import os
import tarfile
import zipfile

NAME = "demo_links-1.0"
META = b"Metadata-Version: 2.1\\nName: demo-links\\nVersion: 1.0\\n"


def build_sdist(sdist_directory, config_settings=None):
    filename = NAME + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as archive:
        for name in ("pyproject.toml", "backend.py"):
            archive.add(name, arcname=NAME + "/" + name)
        for name, data in (("PKG-INFO", META), ("b.txt", b"shared\\n")):
            info = tarfile.TarInfo(NAME + "/" + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(NAME + "/a.txt")
        link.type, link.linkname = tarfile.LNKTYPE, NAME + "/b.txt"
        archive.addfile(link)
    return filename


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = "demo_links-1.0-py3-none-any.whl"
    info = "demo_links-1.0.dist-info/"
    files = {
        "demo_links.py": b"",
        info + "METADATA": META,
        info + "WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n",
    }
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(info + "RECORD", "".join(n + ",,\\n" for n in [*files, info + "RECORD"]))
    return filename
'''

PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""


def test_an_sdist_that_cannot_be_rewritten_is_kept_and_said_not_reproducible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "demo-links"
    package.mkdir()
    (package / "backend.py").write_text(BACKEND)
    (package / "pyproject.toml").write_text(PYPROJECT)
    installer = "uv" if dists.uv_binary() else "pip"

    files = dists.build_package(package, tmp_path / "out", epoch=1_700_000_000, installer=installer)

    sdist = dict(files)["sdist"]
    warning = capsys.readouterr().err
    assert (
        "warning: demo-links: demo_links-1.0.tar.gz is not reproducible: its hard link "
        "demo_links-1.0/a.txt would come before its target demo_links-1.0/b.txt"
    ) in " ".join(warning.split())
    assert "it is kept as built" in " ".join(warning.split())
    with tarfile.open(sdist) as archive:  # as the backend wrote it
        assert [info.name.rsplit("/", 1)[-1] for info in archive][-2:] == ["b.txt", "a.txt"]
    assert sdist.read_bytes()[3] & 0x08  # its gzip header still names the tar: not rewritten
