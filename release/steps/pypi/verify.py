"""Verify the built files before anything leaves the machine.

For the release as a whole:

- ``twine check`` of every file (metadata and the rendering of the long description);
- the version in every file's metadata equals the tag's PEP 440 version;
- a smoke install of all the wheels together into a fresh virtual environment, the
  release's own distributions from the local files (third-party dependencies may come
  from the default index, or from ``RELEASE_SMOKE_INDEX_URL`` when it is set), then an
  import of every top-level module of every wheel (names read from its RECORD) and a
  comparison of its ``__version__``, when it has one, with the tag;
- what the wheels install together (``release.steps.pypi.clash``): a top-level package with
  a generic name, or one file installed by two of the wheels, is a warning (an error under
  ``strict-wheels``).
"""

from __future__ import annotations

import csv
import email.message
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.core.text import tail
from release.steps.pypi.clash import installed_paths, wheel_warnings
from release.steps.pypi.dists import BuildFailure, Dist, clean_environment, uv_binary


def twine_problems(paths: Sequence[Path]) -> list[str]:
    """``twine check`` of every file: metadata and long-description rendering errors.

    Done as twine does it, through public interfaces: the metadata is read and validated by
    ``twine.package.PackageFile`` (as ``twine upload`` reads it), and a reStructuredText long
    description (or one without a content type, which twine and the index read as
    reStructuredText) is rendered by ``readme_renderer``, the renderer of ``twine check`` and
    of PyPI. Markdown and plain text cannot fail to render. Not through
    ``twine.commands.check.check``: it prints to the process's stdout and logs through the
    root logger, both shared with the steps that prepare in other threads meanwhile.
    """
    from twine.exceptions import InvalidDistribution
    from twine.package import PackageFile

    problems = []
    for path in paths:
        try:
            metadata = PackageFile.from_filename(str(path), None).metadata
        except InvalidDistribution as error:
            problems.append(f"twine check {path.name}: {error}")
            continue
        content_type = _content_type(metadata.get("description_content_type"))
        description = metadata.get("description") or ""
        if content_type != "text/x-rst" or not description.strip():
            continue
        reports = _render_rst(description)
        if reports is not None:
            problems.append(
                f"twine check {path.name}: the long description ({content_type}) has syntax "
                f"errors in markup and would not be rendered on the index: {reports}"
            )
    return problems


# The content types twine check does not render (anything else is read as reStructuredText).
_NOT_RENDERED = frozenset({"text/plain", "text/markdown"})

# A docutils report as readme_renderer writes it to the stream: "<string>:LINE: (LEVEL/N) text".
_REPORT = re.compile(r"^<string>:(?P<line>\d*): \((?P<level>[A-Z]+)/\d+\) (?P<message>.*)$", re.M)


def _content_type(value: str | None) -> str:
    """The media type of a ``Description-Content-Type`` (``text/x-rst; charset=UTF-8``
    gives ``text/x-rst``), as twine reads it; reStructuredText when there is none or
    one twine does not know."""
    if not value:
        return "text/x-rst"
    message = email.message.EmailMessage()
    message["content-type"] = value
    media = message.get_content_type()
    return media if media in _NOT_RENDERED else "text/x-rst"


def _render_rst(text: str) -> str | None:
    """None when ``text`` renders; else docutils' own reports, ``line N: Level: message``."""
    import readme_renderer.rst

    stream = io.StringIO()
    if readme_renderer.rst.render(text, stream=stream) is not None:
        return None
    output = stream.getvalue()
    reports = [
        f"line {m['line'] or '?'}: {m['level'].capitalize()}: {m['message'].strip()}"
        for m in _REPORT.finditer(output)
    ]
    return "; ".join(reports) if reports else (tail(output, 3) or "no reason given")


def version_problems(dists: Sequence[Dist], expected: str) -> list[str]:
    """Every file whose metadata does not carry the tag's version."""
    from packaging.version import InvalidVersion, Version

    problems = []
    for dist in dists:
        try:
            same = Version(dist.version) == Version(expected)
        except InvalidVersion:
            same = False
        if not same:
            problems.append(
                f"{dist.filename} ({dist.package}) has version {dist.version} in its metadata, "
                f"but the tag says {expected}"
            )
    return problems


def import_names(wheel: Path) -> list[str]:
    """The top-level importable names of a wheel, read from its RECORD.

    A package is the shortest folder path with an ``__init__.py`` (so a namespace package
    ``ns/sub/__init__.py`` gives ``ns.sub``); a module at the root is its file's stem.
    """
    return names_from_paths(record_paths(wheel))


def clash_warnings(wheels: Sequence[Path]) -> list[str]:
    """Generic top-level names, and files installed by two of ``wheels`` (``clash``)."""
    return wheel_warnings({w.name: installed_paths(record_paths(w)) for w in wheels})


def record_paths(wheel: Path) -> list[str]:
    """The paths a wheel's RECORD lists: every file it installs."""
    with zipfile.ZipFile(wheel) as archive:
        record = next(
            (
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
            ),
            None,
        )
        if record is None:
            raise BuildFailure(f"{wheel.name} has no RECORD")
        text = archive.read(record).decode("utf-8")
    return [row[0] for row in csv.reader(io.StringIO(text)) if row]


def names_from_paths(paths: Sequence[str]) -> list[str]:
    files = set(paths)
    names: set[str] = set()
    for path in paths:
        parts = path.split("/")
        if parts[0].endswith((".dist-info", ".data")):
            continue
        if len(parts) == 1:
            module = _module_name(parts[0])
            if module:
                names.add(module)
            continue
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) + "/__init__.py" in files:
                names.add(".".join(parts[:depth]))
                break
        else:
            module = _module_name(parts[-1])
            if module and all(p.isidentifier() for p in parts[:-1]):
                names.add(".".join([*parts[:-1], module]))
    return sorted(n for n in names if all(p.isidentifier() for p in n.split(".")))


def _module_name(filename: str) -> str | None:
    if filename.endswith(".py"):
        stem = filename[:-3]
        return stem if stem != "__init__" else None
    if filename.endswith((".so", ".pyd")):
        return filename.split(".", 1)[0]
    return None


_IMPORT_SCRIPT = """
import importlib, importlib.metadata, json, sys
names, dists = json.loads(sys.argv[1]), json.loads(sys.argv[2])
result = {"modules": {}, "dists": {}}
for name in names:
    try:
        module = importlib.import_module(name)
    except Exception as error:
        result["modules"][name] = {"error": f"{type(error).__name__}: {error}"}
        continue
    version = getattr(module, "__version__", None)
    result["modules"][name] = {"version": version if isinstance(version, str) else None}
for dist in dists:
    try:
        result["dists"][dist] = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        result["dists"][dist] = None
print(json.dumps(result))
"""


@dataclass(frozen=True)
class SmokeResult:
    imports: Mapping[str, str | None]
    problems: tuple[str, ...]


def smoke_install(
    wheels: Sequence[Path], names: Sequence[str], expected: str, *, offline: bool = False
) -> SmokeResult:
    """Install all ``wheels`` together into a fresh venv, import their modules, compare versions.

    The wheels are named as files on the command line, so each of the release's own
    distributions comes from its local file; the other dependencies come from the default
    index, or from the simple index ``RELEASE_SMOKE_INDEX_URL`` names when it is set (a
    local index seeded once, so the install does not depend on the network's speed;
    ``--offline``: from the folder of the wheels only).
    """
    from packaging.version import InvalidVersion, Version

    modules = sorted({name for wheel in wheels for name in import_names(wheel)})
    with tempfile.TemporaryDirectory(prefix="release-smoke-") as scratch:
        python = _install(Path(scratch), wheels, offline=offline)
        result = subprocess.run(
            [python, "-I", "-c", _IMPORT_SCRIPT, json.dumps(modules), json.dumps(list(names))],
            cwd=scratch,
            env=clean_environment(),
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        return SmokeResult({}, (f"the smoke test could not run: {tail(result.stderr)}",))
    data = json.loads(result.stdout.strip().splitlines()[-1])
    problems = []
    for dist, installed in data["dists"].items():
        if installed is None or Version(installed) != Version(expected):
            problems.append(
                f"the smoke install has {dist} {installed or '(nothing)'}, not the built {expected}"
            )
    imports: dict[str, str | None] = {}
    for name, outcome in data["modules"].items():
        if "error" in outcome:
            problems.append(f"import {name} failed after the smoke install: {outcome['error']}")
            continue
        version = outcome["version"]
        imports[name] = version
        if version is None:
            continue
        try:
            same = Version(version) == Version(expected)
        except InvalidVersion:
            same = False
        if not same:
            problems.append(f"{name}.__version__ is {version!r}, but the tag says {expected}")
    return SmokeResult(imports, tuple(problems))


# The simple index the smoke install takes third-party dependencies from, when set.
SMOKE_INDEX_ENV = "RELEASE_SMOKE_INDEX_URL"


def _index_environment(*, offline: bool) -> dict[str, str]:
    """The installers' own variables for ``RELEASE_SMOKE_INDEX_URL``: passed in the
    environment, not on the command line, so a URL with credentials never shows in the
    process list."""
    index = os.environ.get(SMOKE_INDEX_ENV, "").strip()
    if not index or offline:
        return {}
    return {"UV_DEFAULT_INDEX": index, "UV_INDEX_URL": index, "PIP_INDEX_URL": index}


def _install(scratch: Path, wheels: Sequence[Path], *, offline: bool) -> str:
    venv = scratch / "venv"
    python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    links = sorted({str(w.parent) for w in wheels})
    env = clean_environment(_index_environment(offline=offline))
    uv = uv_binary()
    if uv:
        commands = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "--quiet", "--python", python, *map(str, wheels)]
            + [a for link in links for a in ("--find-links", link)]
            + (["--no-index"] if offline else []),
        ]
    else:
        commands = [
            [sys.executable, "-m", "venv", str(venv)],
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *map(str, wheels),
            ]
            + [a for link in links for a in ("--find-links", link)]
            + (["--no-index"] if offline else []),
        ]
    for command in commands:
        result = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildFailure(
                "the smoke install of the wheels into a fresh virtual environment failed: "
                + tail(result.stderr or result.stdout)
            )
    return python
