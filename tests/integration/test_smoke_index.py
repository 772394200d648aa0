"""The smoke install takes third-party dependencies from ``RELEASE_SMOKE_INDEX_URL``.

A release wheel depends on a distribution that exists only on a local pypiserver (never on
the default index): with the variable pointing at that server the smoke install finds it,
with both installers (uv, and pip when uv is absent).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservices.pypi import PypiServer
from release.steps.pypi import verify
from release.steps.pypi.dists import BuildFailure

# Unique per run: a name no public index has, so only the local index can provide it.
DEPENDENCY = f"smoke-index-dep-{secrets.token_hex(4)}"


def _wheel(folder: Path, name: str, version: str, module: str, *, requires: str = "") -> Path:
    """A minimal, valid pure-Python wheel with one module and a RECORD with hashes."""
    stem = name.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires:
        metadata += f"Requires-Dist: {requires}\n"
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    wheel = folder / f"{stem}-{version}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture(scope="module")
def smoke_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PypiServer]:
    """A pypiserver (no fallback) that holds only the third-party dependency."""
    work = tmp_path_factory.mktemp("smoke-index")
    _wheel(work / "packages", DEPENDENCY, "2.0", DEPENDENCY.replace("-", "_"))
    server = PypiServer(work, "smoke", secrets.token_urlsafe(12))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_smoke_install_takes_dependencies_from_the_smoke_index(
    installer: str,
    smoke_index: PypiServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if installer == "pip":
        monkeypatch.setattr(verify, "uv_binary", lambda: None)
    elif verify.uv_binary() is None:
        pytest.skip("uv is not installed")
    wheel = _wheel(tmp_path / "dist", "demo-smoke", "1.0.0", "demo_smoke", requires=DEPENDENCY)
    monkeypatch.setenv(verify.SMOKE_INDEX_ENV, smoke_index.index_url)

    result = verify.smoke_install([wheel], ["demo-smoke"], "1.0.0")

    assert result.problems == ()
    assert result.imports == {"demo_smoke": "1.0.0"}


def test_without_the_smoke_index_offline_the_dependency_is_not_found(
    smoke_index: PypiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--offline`` keeps to the wheels' folder even when the variable is set."""
    wheel = _wheel(tmp_path / "dist", "demo-smoke", "1.0.0", "demo_smoke", requires=DEPENDENCY)
    monkeypatch.setenv(verify.SMOKE_INDEX_ENV, smoke_index.index_url)

    with pytest.raises(BuildFailure, match="smoke install"):
        verify.smoke_install([wheel], ["demo-smoke"], "1.0.0", offline=True)
