"""The build's hand-off: the files one job built, and the manifest that names them.

``release-tasks build --output DIR`` writes the release's files (the sdists and wheels, the UI
zip) and ``release-build.json`` into ``DIR``: the tag, version and commit they were built
from, and the name, size and sha256 of every file. The sha256 of that manifest is the build's
fingerprint: the build job publishes it as a job output, and ``upload --from DIR`` and
``deploy-ui --from DIR`` take the files only when

- the manifest hashes to ``$RELEASE_BUILD_MANIFEST`` (the fingerprint, passed by the
  workflow from the build job's output),
- it names the tag, version and commit being released,
- every file it lists is in ``DIR`` as a regular file of that size and sha256, and
- ``DIR`` holds nothing else: no other file, folder or symbolic link (and is no link itself).

This proves that the files are the ones the build job wrote, not that the build was honest:
the build runs the released project's own code (docs/protection.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release.core.errors import ReleaseError
from release.core.files import digest, sha256_of

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

MANIFEST = "release-build.json"
MANIFEST_ENV = "RELEASE_BUILD_MANIFEST"
OUTPUT_KEY = "manifest-sha256"  # the key in $GITHUB_OUTPUT
FORMAT = "release-tasks build output 1"
KINDS = ("sdist", "wheel", "ui")
EXTRA_KEY = "handoff"  # Options.extra key of a verified Handoff

_SHA256 = re.compile(r"[0-9a-f]{64}")
FROM_FIX = "download the build job's artifact of this run again, unchanged; or build it anew"


class HandoffError(ReleaseError):
    """A build output that ``--from`` refuses."""


@dataclass(frozen=True)
class HandedFile:
    """One file of a build output."""

    name: str
    size: int
    sha256: str
    kind: str  # "sdist", "wheel" or "ui"
    package: str | None = None  # the configured package path of an sdist or wheel

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "kind": self.kind,
        }
        if self.package is not None:
            data["package"] = self.package
        return data


@dataclass(frozen=True)
class Handoff:
    """A verified build output: its folder, the manifest's sha256 and the files it lists."""

    folder: Path
    manifest_sha256: str
    tag: str
    version: str
    commit: str
    files: tuple[HandedFile, ...]

    def path(self, handed: HandedFile) -> Path:
        return self.folder / handed.name

    def of_kind(self, *kinds: str) -> list[HandedFile]:
        return [f for f in self.files if f.kind in kinds]

    def record(self) -> dict[str, Any]:
        """What a step's state note keeps of the build it took its files from."""
        return {
            "manifest_sha256": self.manifest_sha256,
            "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in self.files],
        }


def handed_off(ctx: ReleaseContext) -> Handoff | None:
    """The verified build output this run takes its files from (``--from``), if any."""
    value = ctx.options.extra.get(EXTRA_KEY)
    return value if isinstance(value, Handoff) else None


def describe_file(path: Path, kind: str, package: str | None = None) -> HandedFile:
    """The manifest entry of ``path`` (a file written by the build)."""
    return HandedFile(path.name, path.stat().st_size, sha256_of(path), kind, package)


def manifest_text(tag: str, version: str, commit: str, files: Sequence[HandedFile]) -> str:
    """The manifest's exact text (sorted keys, files by name): one build, one fingerprint."""
    data = {
        "format": FORMAT,
        "tag": tag,
        "version": version,
        "commit": commit,
        "files": [f.to_json() for f in sorted(files, key=lambda f: f.name)],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_manifest(
    folder: Path, tag: str, version: str, commit: str, files: Sequence[HandedFile]
) -> str:
    """Write ``release-build.json`` into ``folder``; its sha256 (the build's fingerprint)."""
    data = manifest_text(tag, version, commit, files).encode("utf-8")
    (folder / MANIFEST).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


# -- taking a build output -------------------------------------------------------------


def verify(folder: Path, env: Mapping[str, str], *, tag: str, version: str, commit: str) -> Handoff:
    """The build output in ``folder``, checked as the module says; refused with the reason
    (``HandoffError``) before anything else happens."""
    expected = _expected_fingerprint(env)
    shown = str(folder)
    if folder.is_symlink():
        raise HandoffError(
            f"--from {shown} is a symbolic link: a build output is a plain folder", FROM_FIX
        )
    if not folder.is_dir():
        raise HandoffError(
            f"--from {shown}: no such folder",
            "give the folder the build job's artifact was downloaded to "
            "(release-tasks build --output writes it)",
        )
    manifest = folder / MANIFEST
    data = _read_regular(manifest, f"{shown} holds no {MANIFEST}: it is not a build output")
    found = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(found, expected):
        raise HandoffError(
            f"{MANIFEST} in {shown} has sha256 {found}, not {expected} ({MANIFEST_ENV}): "
            "it is not the manifest the build job published",
            FROM_FIX,
        )
    handoff = _parse(folder, found, data)
    if (handoff.tag, handoff.version, handoff.commit) != (tag, version, commit):
        raise HandoffError(
            f"the build in {shown} is of {handoff.tag} (version {handoff.version}, commit "
            f"{handoff.commit[:12]}), not of {tag} (version {version}, commit {commit[:12]})",
            "release the tag the build was made for, or build this one",
        )
    problems = _folder_problems(handoff)
    if problems:
        raise HandoffError(f"the build output {shown} is refused: " + "; ".join(problems), FROM_FIX)
    return handoff


def _expected_fingerprint(env: Mapping[str, str]) -> str:
    value = env.get(MANIFEST_ENV, "").strip().lower()
    if not value:
        raise HandoffError(
            f"{MANIFEST_ENV} is not set: --from takes a build output only with the sha256 of "
            "its manifest",
            f"set {MANIFEST_ENV} to the build job's {OUTPUT_KEY} output (release-tasks build "
            "--output prints it)",
        )
    if not _SHA256.fullmatch(value):
        raise HandoffError(
            f"{MANIFEST_ENV} is not a sha256 (64 hexadecimal digits)",
            f"set it to the build job's {OUTPUT_KEY} output",
        )
    return value


def _read_regular(path: Path, missing: str) -> bytes:
    """The bytes of ``path``, a regular file (never through a symbolic link)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise HandoffError(missing, FROM_FIX) from None
    if stat.S_ISLNK(info.st_mode):
        raise HandoffError(f"{path} is a symbolic link: refused", FROM_FIX)
    if not stat.S_ISREG(info.st_mode):
        raise HandoffError(f"{path} is not a regular file: refused", FROM_FIX)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _parse(folder: Path, fingerprint: str, data: bytes) -> Handoff:
    def malformed(what: str) -> HandoffError:
        return HandoffError(f"{MANIFEST} in {folder} is malformed: {what}", FROM_FIX)

    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise malformed(f"not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise malformed(f"not a manifest of release-tasks build --output ({FORMAT!r})")
    fields = {}
    for key in ("tag", "version", "commit"):
        value = document.get(key)
        if not isinstance(value, str) or not value:
            raise malformed(f"{key!r} is not a string")
        fields[key] = value
    entries = document.get("files")
    if not isinstance(entries, list):
        raise malformed("'files' is not a list")
    files: list[HandedFile] = []
    for number, entry in enumerate(entries, start=1):
        files.append(_entry(entry, number, malformed))
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise malformed("a file is listed twice")
    return Handoff(folder, fingerprint, files=tuple(files), **fields)


def _entry(entry: Any, number: int, malformed: Any) -> HandedFile:
    if not isinstance(entry, dict):
        raise malformed(f"file {number} is not an object")
    name, size, digest = entry.get("name"), entry.get("size"), entry.get("sha256")
    kind, package = entry.get("kind"), entry.get("package")
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..", MANIFEST)
        or "/" in name
        or "\\" in name
        or "\0" in name
    ):
        raise malformed(f"file {number} has no plain file name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise malformed(f"{name}: 'size' is not a byte count")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise malformed(f"{name}: 'sha256' is not a sha256")
    if kind not in KINDS:
        raise malformed(f"{name}: 'kind' is not one of {', '.join(KINDS)}")
    if package is not None and not isinstance(package, str):
        raise malformed(f"{name}: 'package' is not a string")
    return HandedFile(name, size, digest, kind, package)


def _folder_problems(handoff: Handoff) -> list[str]:
    """Every way the folder differs from its manifest (none: it holds exactly those files)."""
    listed = {f.name: f for f in handoff.files}
    problems = []
    for entry in sorted(os.scandir(handoff.folder), key=lambda e: e.name):
        if entry.name == MANIFEST:
            continue
        if entry.is_symlink():
            problems.append(f"{entry.name} is a symbolic link")
        elif entry.name not in listed:
            kind = "folder" if entry.is_dir(follow_symlinks=False) else "file"
            problems.append(f"the {kind} {entry.name} is not in the manifest")
        elif not entry.is_file(follow_symlinks=False):
            problems.append(f"{entry.name} is not a regular file")
    for handed in handoff.files:
        path = handoff.path(handed)
        if not path.exists() and not path.is_symlink():
            problems.append(f"{handed.name}, listed in the manifest, is missing")
            continue
        if path.is_symlink() or not path.is_file():
            continue  # said above
        size = path.stat().st_size
        digest = _sha256_no_follow(path)
        if size != handed.size or digest != handed.sha256:
            problems.append(
                f"{handed.name} does not match the manifest (sha256 {digest[:16]}..., "
                f"{size} bytes; listed: {handed.sha256[:16]}..., {handed.size} bytes)"
            )
    return problems


def _sha256_no_follow(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return digest(handle)
