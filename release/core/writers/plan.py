"""Planning the writes: which files each version-file entry selects, and what changes in them.

``plan_tree`` checks every file before anything is written and names every problem at once;
``write_versions`` then writes the plan. ``holds_version`` asks the same of one changed file
for the pre-flight's clean-tree check. A version file that is a symbolic link, or lies in a
folder that is one, is a problem like any other (``linked_files`` lists them for the
pre-flight): nothing is read or written through a link.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath

from release.core.config import Config, VersionFile, load_config
from release.core.errors import ReleaseError
from release.core.files import is_glob, normalise, select
from release.core.version import ReleaseVersion
from release.core.writers.base import BUILD_FILE, Job, Linked, Missing, Unreadable
from release.core.writers.change import BumpError, FileChange, decode, holds, write_changes
from release.core.writers.kinds import WRITERS, default_value
from release.core.writers.python import build_file
from release.core.writers.trees import FolderTree, Tree


def _select(entry: VersionFile, tree: Tree) -> list[str]:
    if not is_glob(entry.path):
        return [normalise(entry.path)]
    return select(entry.path, tree.listing())


def sibling_names(config: Config, tree: Tree) -> frozenset[str]:
    """The distributions released in lock-step: every package and every pyproject version file."""
    from packaging.utils import canonicalize_name

    candidates = [package.pyproject for package in config.packages]
    for entry in config.version_files:
        if entry.kind == "pyproject":
            candidates.extend(_select(entry, tree))
    names = set()
    for name in dict.fromkeys(candidates):
        try:
            data = tree.read(name)
        except Linked:
            continue  # its own entry reports the link
        if data is None:
            continue
        try:
            project = tomllib.loads(decode(data)[0]).get("project", {})
        except (tomllib.TOMLDecodeError, RecursionError):
            continue  # the pyproject writer names the file
        if isinstance(project, dict) and isinstance(project.get("name"), str):
            names.add(canonicalize_name(project["name"]))
    return frozenset(names)


def build_file_of(name: str) -> str:
    """The ``__build__`` file beside a version-info file."""
    return normalise(str(PurePosixPath(name).parent / BUILD_FILE))


def companion_paths(config: Config) -> set[str]:
    """Files a writer changes besides the configured ones (``__build__`` beside version-info)."""
    return {
        build_file_of(m)
        for e in config.version_files
        if e.kind == "version-info"
        for m in e.matches
    }


def linked_files(config: Config, tree: Tree) -> list[str]:
    """The problem of every file the writers would touch that is a symbolic link, or lies in
    a folder that is one (the pre-flight's look; ``plan_tree`` refuses them as well)."""
    found: dict[str, str] = {}
    for entry in config.version_files:
        names = _select(entry, tree)
        if entry.kind == "version-info":
            names += [build_file_of(name) for name in names]
        for name in names:
            problem = tree.link(name)
            if problem is not None:
                found.setdefault(name, f"version-files {entry.path!r}: {problem}")
    return list(found.values())


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
        text, bom, codec = decode(data)
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
    if entry.kind not in WRITERS:
        return [f"{where}: unknown kind"]
    if entry.kind == "version-info" and entry.format is not None:
        return [f"{where}: format does not apply to version-info (it writes the tuple)"]
    value = entry.format.format(**fields) if entry.format else default_value(entry.kind, version)
    job = Job(entry, version, value, siblings)
    names = _select(entry, plan.tree)
    if not names:
        return [f"{where}: matches no file"]
    problems: list[str] = []
    missing: list[tuple[str, str]] = []
    for name in names:
        try:
            text = plan.text(name)
        except Linked as linked:
            problems.append(f"{linked} ({where})")
            continue
        if text is None:
            problems.append(f"{name}: file does not exist ({where})")
            continue
        try:
            result = WRITERS[entry.kind](text, job)
            if result.build is not None:
                problems += _plan_build_file(plan, name, entry.kind, result.build)
        except Missing as missing_marker:
            if not is_glob(entry.path):
                problems.append(f"{name} has no {missing_marker.looked_for} ({where})")
            else:
                missing.append((name, missing_marker.looked_for))
                plan.skipped[name] = FileChange(
                    name, entry.kind, text, text, skipped=f"has no {missing_marker.looked_for}"
                )
            continue
        except Unreadable as error:
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
    try:
        text = plan.text(build_name)
    except Linked as linked:
        return [f"{linked} (the {BUILD_FILE} of {name})"]
    if text is None:
        return [
            f"{build_name}: file does not exist (version_info in {name} refers to {BUILD_FILE})"
        ]
    try:
        plan.update(build_name, kind, build_file(text, build), None)
    except Missing as missing:
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
    try:
        return load_config(root, check_paths=False)
    except ReleaseError:
        return Config(version_files=(vf,))
