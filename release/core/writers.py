"""Version writers: the version read and written in each kind of version file.

Why a module of its own: the writers are a library of file edits that several places use
without the ``bump`` step's git and push machinery: the release tree (``release.run.worktree``)
writes the version with them, the UI step writes ``package.json`` with them, and the
pre-flight asks whether a changed file already holds the version (``holds_version``,
``version_file_map``, ``companion_paths``). ``release.steps.bump.step`` is the step that commits and
pushes what they write. Nothing here pushes, commits or records state.

Writers (``[[tool.release.version-files]]`` ``kind``):

- ``pyproject``: ``[project].version`` (tomlkit: comments, quoting and layout survive), and
  the ``==`` pins on sibling packages in ``[project].dependencies`` and
  ``[project].optional-dependencies`` (siblings: the distributions of
  ``[[tool.release.packages]]`` and of every ``pyproject`` version file, released in
  lock-step). A ``[project]`` with ``dynamic = ["version"]`` has only its pins written.
- ``version-info``: vantage6's ``version_info = (4, 2, 0, "candidate", __build__, 0)``; the
  build element stays the name ``__build__`` and the number goes into the ``__build__`` file
  beside it (a literal number there is rewritten in place).
- ``dunder``: a module-level ``__version__ = "..."``.
- ``package-json``: the top-level ``"version"`` of ``package.json`` or ``package-lock.json``
  and, in a lock file, ``packages[""].version`` too; only those strings change, so key order
  and formatting stay.
- ``dockerfile``: ``LABEL version="..."``, or ``ARG <arg>=...`` when ``arg`` is set. A value
  that refers to a build argument (``LABEL version=${TAG}``) is left alone: it arrives at
  build time.
- ``regex``: every match of ``pattern``; the group ``version`` (or the only group) is replaced.

``format`` (template fields of DESIGN.md "Configuration") replaces a kind's own form (PEP 440;
npm SemVer for ``package-json``; the Docker tag for ``dockerfile``).

A glob passes over files without the writer's marker (and lists them) but must find the
marker in at least one file; an exact path must have it. Every file is checked before any is
written; each is written atomically (temporary file + rename) with its encoding, byte order
mark, line endings and permissions kept.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import pathspec

from release.core.config import Config, VersionFile
from release.core.errors import ReleaseError
from release.core.git import Git
from release.core.version import ReleaseVersion

BUILD_FILE = "__build__"


class BumpError(ReleaseError):
    """A version file cannot be written; no file was touched."""


@dataclass(frozen=True)
class FileChange:
    """What the writers do to one file: ``before`` -> ``after`` (equal when it holds already).

    ``skipped`` says why a file a glob selected was passed over (no marker); ``note`` says
    what was left alone on purpose (a ``LABEL version=${TAG}``).
    """

    path: str
    kind: str
    before: str
    after: str
    skipped: str | None = None
    note: str | None = None
    bom: bytes = b""
    codec: str = "utf-8"

    @property
    def changed(self) -> bool:
        return self.skipped is None and self.before != self.after

    @property
    def diff(self) -> str:
        """A unified diff of the change (empty when nothing changes)."""
        if not self.changed:
            return ""
        lines = difflib.unified_diff(
            [line.rstrip("\r\n") for line in self.before.splitlines(keepends=True)],
            [line.rstrip("\r\n") for line in self.after.splitlines(keepends=True)],
            f"a/{self.path}",
            f"b/{self.path}",
            n=1,
            lineterm="",
        )
        return "\n".join(lines)

    def encoded(self) -> bytes:
        return self.bom + self.after.encode(self.codec)


# -- where files are read from ----------------------------------------------


class Tree(Protocol):
    """A set of files: a folder on disk, or a commit."""

    def listing(self) -> list[str]: ...

    def read(self, name: str) -> bytes | None: ...


class FolderTree:
    """The files of a folder: tracked files when it is a git checkout, else every file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._listing: list[str] | None = None

    def listing(self) -> list[str]:
        if self._listing is None:
            self._listing = sorted(
                self._tracked() if (self.root / ".git").exists() else self._walk()
            )
        return self._listing

    def _tracked(self) -> list[str]:
        out = Git(self.root).run("ls-files", "-z", "--cached").stdout
        return [
            name for name in dict.fromkeys(out.split("\0")) if name and (self.root / name).is_file()
        ]

    def _walk(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in (".git", "node_modules")]
            rel = Path(dirpath).relative_to(self.root)
            found.extend((rel / name).as_posix() for name in filenames)
        return found

    def read(self, name: str) -> bytes | None:
        path = self.root / name
        return path.read_bytes() if path.is_file() else None


class CommitTree:
    """The files of a commit (read without a checkout)."""

    def __init__(self, git: Git, commit: str) -> None:
        self.git = git
        self.commit = commit
        self._listing: list[str] | None = None

    def listing(self) -> list[str]:
        if self._listing is None:
            self._listing = sorted(self.git.files(self.commit))
        return self._listing

    def read(self, name: str) -> bytes | None:
        return self.git.blob(self.commit, name)


# -- text with its encoding ---------------------------------------------------

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _decode(data: bytes) -> tuple[str, bytes, str]:
    """(text, byte order mark, codec); line endings are kept as they are."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec), bom, codec
    try:
        return data.decode("utf-8"), b"", "utf-8"
    except UnicodeDecodeError:
        # latin-1 maps every byte to one character: the file's bytes survive unchanged.
        return data.decode("latin-1"), b"", "latin-1"


# -- the writers --------------------------------------------------------------


class _Missing(Exception):
    """The file lacks the writer's marker; ``looked_for`` says what was looked for."""

    def __init__(self, looked_for: str) -> None:
        super().__init__(looked_for)
        self.looked_for = looked_for


class _Unreadable(Exception):
    """The file cannot be parsed as its kind (invalid TOML or JSON)."""


@dataclass(frozen=True)
class _Job:
    """What one writer writes: the entry, the version, its rendered value, the siblings."""

    entry: VersionFile
    version: ReleaseVersion
    value: str
    siblings: frozenset[str]


@dataclass(frozen=True)
class _Result:
    text: str
    note: str | None = None
    build: int | None = None  # version-info: the number for the __build__ file beside


def _replace_spans(text: str, spans: Iterable[tuple[int, int]], value: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + value + text[end:]
    return text


# pyproject ---------------------------------------------------------------


def _pyproject(text: str, job: _Job) -> _Result:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    looked_for = '[project] with version = "..." (or "version" in dynamic)'
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as error:
        raise _Unreadable(f"is not valid TOML ({error})") from None
    project = document.get("project")
    if not isinstance(project, dict):
        raise _Missing(looked_for)
    dynamic = project.get("dynamic") or []
    if "version" not in project and "version" not in dynamic:
        raise _Missing(looked_for)
    changed = False
    if "version" in project:
        old = project["version"]
        if not isinstance(old, str):
            raise _Missing('[project] version = "..." as a string')
        if str(old) != job.value:
            project["version"] = _toml_string_like(old, job.value)
            changed = True
    for array in _dependency_arrays(project):
        for index, item in enumerate(list(array)):
            if not isinstance(item, str):
                continue
            pinned = _repin(str(item), job.siblings, job.version.pep440)
            if pinned is not None and pinned != str(item):
                array[index] = _toml_string_like(item, pinned)
                changed = True
    return _Result(document.as_string() if changed else text)


def _dependency_arrays(project: Any) -> list[Any]:
    arrays = []
    if isinstance(project.get("dependencies"), list):
        arrays.append(project["dependencies"])
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        arrays.extend(value for value in optional.values() if isinstance(value, list))
    return arrays


def _toml_string_like(old: Any, value: str) -> Any:
    """A tomlkit string with the quoting of ``old`` (basic or literal, single or multi-line)."""
    import tomlkit
    from tomlkit.items import String, StringType

    if not isinstance(old, String):
        return tomlkit.string(value)
    kind = old.type
    literal = kind in (StringType.SLL, StringType.MLL)
    multiline = kind in (StringType.MLB, StringType.MLL)
    if literal and "'" in value:
        literal = False
    return tomlkit.string(value, literal=literal, multiline=multiline)


_PIN = re.compile(r"(===?)(\s*)([^\s,;)]+)")


def _repin(requirement: str, siblings: frozenset[str], version: str) -> str | None:
    """``requirement`` with its ``==`` pin set to ``version`` when it pins a sibling."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return None
    if parsed.url or canonicalize_name(parsed.name) not in siblings:
        return None
    specs = list(parsed.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    head, sep, marker = requirement.partition(";")
    new_head = _PIN.sub(lambda m: f"{m[1]}{m[2]}{version}", head, count=1)
    return new_head + sep + marker


# version-info ------------------------------------------------------------

_VERSION_INFO = re.compile(r"^version_info[ \t]*(?::[^=\r\n]*)?=[ \t]*\((?P<body>[^()]*)\)", re.M)


def _version_info(text: str, job: _Job) -> _Result:
    looked_for = "version_info = (major, minor, patch, stage, build, post) tuple"
    match = _VERSION_INFO.search(text)
    if match is None:
        raise _Missing(looked_for)
    body_start = match.start("body")
    parts = match["body"].split(",")
    if parts and not parts[-1].strip():
        parts = parts[:-1]  # a trailing comma
    if len(parts) != 6 or any(not p.strip() for p in parts):
        raise _Missing(f"{looked_for} (found {len(parts)} elements)")
    major, minor, patch, stage, build, post = job.version.version_info
    old_stage = parts[3].strip()
    quote = old_stage[0] if old_stage[:1] in ("'", '"') else '"'
    old_build = parts[4].strip()
    companion: int | None = None
    if old_build.isidentifier():
        if old_build != BUILD_FILE:
            raise _Missing(f"{looked_for} whose build element is {BUILD_FILE} or a number")
        new_build, companion = old_build, build
    else:
        new_build = str(build)
    values = [str(major), str(minor), str(patch), f"{quote}{stage}{quote}", new_build, str(post)]
    spans, offset = [], body_start
    for part, value in zip(parts, values, strict=True):
        lead = len(part) - len(part.lstrip())
        token = part.strip()
        spans.append((offset + lead, offset + lead + len(token), value))
        offset += len(part) + 1
    for start, end, value in reversed(spans):
        text = text[:start] + value + text[end:]
    return _Result(text, build=companion)


def _build_file(text: str, build: int) -> str:
    stripped = text.strip()
    if not re.fullmatch(r"-?[0-9]+", stripped):
        raise _Missing("build number (an integer)")
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{build}{trail}"


# dunder ------------------------------------------------------------------

_DUNDER = re.compile(
    r"^__version__[ \t]*(?::[ \t]*str[ \t]*)?=[ \t]*(?P<q>['\"])(?P<version>[^'\"\r\n]*)(?P=q)",
    re.M,
)


def _dunder(text: str, job: _Job) -> _Result:
    spans = [m.span("version") for m in _DUNDER.finditer(text)]
    if not spans:
        raise _Missing('module-level __version__ = "..." assignment')
    return _Result(_replace_spans(text, spans, job.value))


# package-json ------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_ROOT_VERSION = ("version",)
_LOCK_VERSION = ("packages", "", "version")


def _package_json(text: str, job: _Job) -> _Result:
    try:
        spans = _json_spans(text, {_ROOT_VERSION, _LOCK_VERSION})
    except ValueError as error:
        raise _Unreadable(f"is not valid JSON ({error})") from None
    strings = [span for span in spans.values() if text[span[0]] == '"']
    if _ROOT_VERSION not in spans or text[spans[_ROOT_VERSION][0]] != '"':
        raise _Missing('top-level "version" string')
    return _Result(_replace_spans(text, strings, json.dumps(job.value)))


def _json_spans(text: str, wanted: set[tuple[str, ...]]) -> dict[tuple[str, ...], tuple[int, int]]:
    """Where the values at ``wanted`` key paths are in ``text`` (start, end)."""
    json.loads(text)  # a clear error for invalid JSON
    found: dict[tuple[str, ...], tuple[int, int]] = {}
    _json_value(text, _WS.match(text, 0).end(), (), wanted, found)  # type: ignore[union-attr]
    return found


def _json_value(
    text: str,
    pos: int,
    path: tuple[str, ...],
    wanted: set[tuple[str, ...]],
    found: dict[tuple[str, ...], tuple[int, int]],
) -> int:
    """Scan the value at ``pos`` and return its end; descend only where a wanted path leads."""
    leads_on = any(len(w) > len(path) and w[: len(path)] == path for w in wanted)
    if not (leads_on and text.startswith("{", pos)):
        _, end = json.JSONDecoder().raw_decode(text, pos)
        return end

    def skip(at: int) -> int:
        return _WS.match(text, at).end()  # type: ignore[union-attr]

    pos = skip(pos + 1)
    if text.startswith("}", pos):
        return pos + 1
    while True:
        key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        pos = skip(skip(pos) + 1)  # past the colon
        end = _json_value(text, pos, (*path, key), wanted, found)
        if (*path, key) in wanted:
            found[(*path, key)] = (pos, end)
        pos = skip(end)
        if text.startswith("}", pos):
            return pos + 1
        pos = skip(pos + 1)  # past the comma


# dockerfile --------------------------------------------------------------

_INSTRUCTION = r"^[ \t]*{keyword}[ \t]+(?:[^\r\n]*\\\r?\n)*[^\r\n]*"
_DOCKER_VALUE = r"(?P<value>\"(?:[^\"\\\r\n]|\\.)*\"|'[^'\r\n]*'|[^\s\"'\\]*)"


def _dockerfile(text: str, job: _Job) -> _Result:
    arg = job.entry.arg
    if arg is not None:
        keyword, key = "ARG", re.escape(arg)
        looked_for = f"ARG {arg}=... (an ARG with a default value)"
    else:
        keyword, key = "LABEL", r"\"?version\"?"
        looked_for = 'LABEL version="..."'
    instructions = re.compile(_INSTRUCTION.format(keyword=keyword), re.M | re.I)
    assignment = re.compile(rf"(?<![^\s]){key}={_DOCKER_VALUE}")
    literal: list[tuple[int, int]] = []
    from_build_args = 0
    for instruction in instructions.finditer(text):
        for found in assignment.finditer(instruction[0]):
            value = found["value"]
            if "$" in value:
                from_build_args += 1
                continue
            start, end = found.span("value")
            if value[:1] in ("'", '"'):
                start, end = start + 1, end - 1
            literal.append((instruction.start() + start, instruction.start() + end))
    if not literal and not from_build_args:
        raise _Missing(looked_for)
    note = None
    if from_build_args:
        shown = f"ARG {arg}" if arg else "LABEL version"
        note = f"{shown} that takes its value from a build argument: left alone"
    return _Result(_replace_spans(text, literal, job.value), note=note)


# regex -------------------------------------------------------------------


def _regex(text: str, job: _Job) -> _Result:
    pattern = job.entry.pattern or ""
    compiled = re.compile(pattern, re.M)
    group: int | str = "version" if "version" in compiled.groupindex else 1
    spans = [m.span(group) for m in compiled.finditer(text) if m.start(group) != -1]
    if not spans:
        raise _Missing(f"match of the pattern {pattern!r}")
    return _Result(_replace_spans(text, spans, job.value))


_WRITERS: Mapping[str, Callable[[str, _Job], _Result]] = {
    "pyproject": _pyproject,
    "version-info": _version_info,
    "dunder": _dunder,
    "package-json": _package_json,
    "dockerfile": _dockerfile,
    "regex": _regex,
}


def _default_value(kind: str, version: ReleaseVersion) -> str:
    if kind == "package-json":
        return version.npm
    if kind == "dockerfile":
        return version.docker_tag
    return version.pep440


# -- planning -----------------------------------------------------------------


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _norm(path: str) -> str:
    text = str(PurePosixPath(path))
    return text[2:] if text.startswith("./") else text


def _select(entry: VersionFile, tree: Tree) -> list[str]:
    if not is_glob(entry.path):
        return [_norm(entry.path)]
    spec = pathspec.PathSpec.from_lines("gitwildmatch", [entry.path])
    return [name for name in tree.listing() if spec.match_file(name)]


def sibling_names(config: Config, tree: Tree) -> frozenset[str]:
    """The distributions released in lock-step: every package and every pyproject version file."""
    from packaging.utils import canonicalize_name

    candidates = [_norm(f"{package.path}/pyproject.toml") for package in config.packages]
    for entry in config.version_files:
        if entry.kind == "pyproject":
            candidates.extend(_select(entry, tree))
    names = set()
    for name in dict.fromkeys(candidates):
        data = tree.read(name)
        if data is None:
            continue
        try:
            project = tomllib.loads(_decode(data)[0]).get("project", {})
        except tomllib.TOMLDecodeError:
            continue
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            names.add(canonicalize_name(project["name"]))
    return frozenset(names)


def build_file_of(name: str) -> str:
    """The ``__build__`` file beside a version-info file."""
    return _norm(str(PurePosixPath(name).parent / BUILD_FILE))


def companion_paths(config: Config) -> set[str]:
    """Files a writer changes besides the configured ones (``__build__`` beside version-info)."""
    return {
        build_file_of(m)
        for e in config.version_files
        if e.kind == "version-info"
        for m in e.matches
    }


def version_file_map(config: Config) -> dict[str, VersionFile]:
    """{file: its entry} for every file the writers may change, companions included."""
    found: dict[str, VersionFile] = {}
    for entry in config.version_files:
        for name in entry.matches:
            found.setdefault(name, entry)
            if entry.kind == "version-info":
                found.setdefault(build_file_of(name), entry)
    return found


class _Plan:
    """The changes being planned: one text per file, writers applied in configuration order."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.texts: dict[str, tuple[str, str, bytes, str, list[str], list[str]]] = {}
        self.skipped: dict[str, FileChange] = {}

    def text(self, name: str) -> str | None:
        if name in self.texts:
            return self.texts[name][1]
        data = self.tree.read(name)
        if data is None:
            return None
        text, bom, codec = _decode(data)
        self.texts[name] = (text, text, bom, codec, [], [])
        return text

    def update(self, name: str, kind: str, text: str, note: str | None) -> None:
        before, _, bom, codec, kinds, notes = self.texts[name]
        if kind not in kinds:
            kinds.append(kind)
        if note:
            notes.append(note)
        self.texts[name] = (before, text, bom, codec, kinds, notes)

    def changes(self) -> list[FileChange]:
        result = [
            FileChange(
                path=name,
                kind="+".join(kinds),
                before=before,
                after=after,
                note="; ".join(notes) or None,
                bom=bom,
                codec=codec,
            )
            for name, (before, after, bom, codec, kinds, notes) in self.texts.items()
            if kinds
        ]
        touched = {c.path for c in result}
        return result + [c for name, c in self.skipped.items() if name not in touched]


def plan_tree(config: Config, tree: Tree, version: ReleaseVersion) -> list[FileChange]:
    """What the writers would do to ``tree``; raises ``BumpError`` naming every problem."""
    plan = _Plan(tree)
    siblings = sibling_names(config, tree)
    fields = version.fields(config.codename(version.major))
    problems: list[str] = []
    for entry in config.version_files:
        problems += _plan_entry(plan, entry, version, fields, siblings)
    if problems:
        raise BumpError(
            f"cannot write {version.pep440}: " + "; ".join(problems),
            "no file was changed",
        )
    return plan.changes()


def _plan_entry(
    plan: _Plan,
    entry: VersionFile,
    version: ReleaseVersion,
    fields: Mapping[str, str | int],
    siblings: frozenset[str],
) -> list[str]:
    where = f"version-files {entry.path!r} (kind {entry.kind})"
    if entry.kind not in _WRITERS:
        return [f"{where}: unknown kind"]
    if entry.kind == "version-info" and entry.format is not None:
        return [f"{where}: format does not apply to version-info (it writes the tuple)"]
    value = entry.format.format(**fields) if entry.format else _default_value(entry.kind, version)
    job = _Job(entry, version, value, siblings)
    names = _select(entry, plan.tree)
    if not names:
        return [f"{where}: matches no file"]
    problems: list[str] = []
    missing: list[tuple[str, str]] = []
    for name in names:
        text = plan.text(name)
        if text is None:
            problems.append(f"{name}: file does not exist ({where})")
            continue
        try:
            result = _WRITERS[entry.kind](text, job)
            if result.build is not None:
                problems += _plan_build_file(plan, name, entry.kind, result.build)
        except _Missing as missing_marker:
            if not is_glob(entry.path):
                problems.append(f"{name} has no {missing_marker.looked_for} ({where})")
            else:
                missing.append((name, missing_marker.looked_for))
                plan.skipped[name] = FileChange(
                    name, entry.kind, text, text, skipped=f"has no {missing_marker.looked_for}"
                )
            continue
        except _Unreadable as error:
            problems.append(f"{name}: {error} ({where})")
            continue
        plan.update(name, entry.kind, result.text, result.note)
    if missing and len(missing) == len(names) and not problems:
        shown = ", ".join(name for name, _ in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        problems.append(
            f"{where}: none of its {len(names)} file(s) has {missing[0][1]} ({shown}{more})"
        )
    return problems


def _plan_build_file(plan: _Plan, name: str, kind: str, build: int) -> list[str]:
    build_name = build_file_of(name)
    text = plan.text(build_name)
    if text is None:
        return [
            f"{build_name}: file does not exist (version_info in {name} refers to {BUILD_FILE})"
        ]
    try:
        plan.update(build_name, kind, _build_file(text, build), None)
    except _Missing as missing:
        return [f"{build_name} has no {missing.looked_for} (the {BUILD_FILE} of {name})"]
    return []


def plan_writes(config: Config, root: Path, version: ReleaseVersion) -> list[FileChange]:
    """What writing ``version`` into the folder ``root`` would change (nothing is written)."""
    return plan_tree(config, FolderTree(root), version)


def write_versions(config: Config, root: Path, version: ReleaseVersion) -> list[FileChange]:
    """Write ``version`` into every configured file under ``root``: check all, then write all."""
    changes = plan_writes(config, root, version)
    write_changes(root, [c for c in changes if c.changed])
    return changes


def write_changes(root: Path, changes: Sequence[FileChange]) -> None:
    """Write every change atomically: all temporary files first, then the renames."""
    staged: list[tuple[Path, Path]] = []
    try:
        for change in changes:
            target = (Path(root) / change.path).resolve()
            staged.append((_stage(target, change.encoded()), target))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)


def _stage(target: Path, data: bytes) -> Path:
    """A temporary file beside ``target`` holding ``data``, with ``target``'s permissions."""
    info = target.stat()
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        try:
            os.chown(temporary, info.st_uid, info.st_gid)
        except OSError:
            pass  # only root may give a file away; the owner is ours then anyway
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def holds(changes: Iterable[FileChange]) -> bool:
    """Whether every planned file already holds the version."""
    return not any(c.changed for c in changes)


def holds_version(
    vf: VersionFile, path: Path, version: ReleaseVersion, config: Config | None = None
) -> bool:
    """Whether ``path`` already holds exactly what the writer of ``vf`` would write.

    ``path`` is a file ``vf`` selects (or the ``__build__`` beside a version-info file).
    The pre-flight's clean-tree check uses it: such a file may differ from the commit.
    """
    path = Path(path)
    root, name = _locate(vf, path)
    if config is None:
        config = _config_near(root, vf)
    main = name
    if vf.kind == "version-info" and PurePosixPath(name).name == BUILD_FILE:
        folder = PurePosixPath(name).parent
        beside = [m for m in vf.matches if PurePosixPath(m).parent == folder]
        if not beside:
            return False
        main = beside[0]
    single = replace(vf, path=main, matches=(main,))
    try:
        changes = plan_tree(replace(config, version_files=(single,)), FolderTree(root), version)
    except ReleaseError:
        return False
    touched = {c.path for c in changes if c.skipped is None}
    return name in touched and holds(changes)


def _locate(vf: VersionFile, path: Path) -> tuple[Path, str]:
    """(repository root, name relative to it) of ``path``."""
    text = path.as_posix()
    for name in (*vf.matches, *(build_file_of(m) for m in vf.matches)):
        if text.endswith("/" + name):
            return Path(text[: -len(name) - 1]), name
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent, path.relative_to(parent).as_posix()
    return path.parent, path.name


def _config_near(root: Path, vf: VersionFile) -> Config:
    from release.core.config import load_config

    try:
        return load_config(root, check_paths=False)
    except ReleaseError:
        return Config(version_files=(vf,))
