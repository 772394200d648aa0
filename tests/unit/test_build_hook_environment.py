"""The environment the build backend's hooks run in (``release.steps.pypi.dists._runner``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from release.steps.pypi import dists

PRINT_ENV = (
    "import json, os, pathlib, sys; pathlib.Path(sys.argv[1]).write_text(json.dumps("
    "{k: os.environ.get(k) for k in ('PYTHONDONTWRITEBYTECODE', 'SOURCE_DATE_EPOCH', "
    "'TWINE_PASSWORD')}))"
)


def test_hooks_may_write_bytecode_get_the_epoch_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import json

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("TWINE_PASSWORD", "hook-must-not-see-this")
    out = tmp_path / "env.json"
    dists._runner({"SOURCE_DATE_EPOCH": "1700000000"})([sys.executable, "-c", PRINT_ENV, str(out)])
    assert json.loads(out.read_text()) == {
        "PYTHONDONTWRITEBYTECODE": None,  # so the backend is compiled once, not per hook
        "SOURCE_DATE_EPOCH": "1700000000",
        "TWINE_PASSWORD": None,
    }
