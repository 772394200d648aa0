"""What the GitHub release of a version is: pure functions over plain data.

- ``release_name`` and ``release_body``: named after the project and the version; the body
  is the release's notes (the changelog section, or the commit subjects) with the links the
  announcement shows, a post release saying it is a rebuild and carries no package files;
- ``make_latest``: ``"true"`` only when the version is the highest final or post, non-yanked
  version among the repository's version tags, ``"false"`` otherwise (a pre-release and a
  backport never take "Latest"): "Latest" moves forward only, as channels do;
- ``compare_assets``: the release's files against the assets a release already holds: done
  (same name and sha256), to upload, a leftover of a broken upload to replace, one whose
  sha256 GitHub does not give (compared by downloading it), and conflicts (the same name with
  other contents), which are refused before anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release.core.version import Kind, ReleaseVersion, versions_of
from release.run.links import Section, markdown_sections
from release.run.notes import Notes

BODY_MAX = 125_000  # characters GitHub accepts in a release's body
CONFLICT_FIX = (
    "the files of a release never change: delete the asset from the GitHub release if it was "
    "attached by mistake, then run the same command again; or release a new version"
)


def release_name(project: str, version: ReleaseVersion) -> str:
    return f"{' '.join(project.split()) or 'release'} {version.pep440}"


def release_body(
    *,
    project: str,
    version: ReleaseVersion,
    notes: Notes,
    sections: Sequence[Section],
    rebuilt_with: str = "updated dependencies",
) -> str:
    """The release's text in Markdown, within GitHub's limit (long notes are cut at a line
    and end with a link to the full notes)."""
    parts = []
    if version.kind is Kind.POST:
        base = version.base.pep440
        parts.append(
            f"A rebuild of {project} {base} with {rebuilt_with}; the code is the one released "
            f"as {base}. It carries no package files: the Python packages are those of {base}."
        )
    text = notes.text.strip() or ("" if parts else "No release notes.")
    links = markdown_sections(sections)
    room = BODY_MAX - sum(len(p) + 2 for p in parts) - len(links) - 2
    if text:
        parts.append(_cut(text, room, notes))
    if links:
        parts.append(links)
    return "\n\n".join(parts)


def _cut(text: str, room: int, notes: Notes) -> str:
    if len(text) <= room:
        return text
    where = f"[the full notes]({notes.url})" if notes.url else f"the full notes: {notes.source}"
    suffix = f"\n\n… ({where})"
    kept = text[: max(0, room - len(suffix))]
    if "\n" in kept:
        kept = kept.rsplit("\n", 1)[0]
    return kept + suffix


def make_latest(
    version: ReleaseVersion, tags: Iterable[str], prefix: str, yanked: Iterable[str]
) -> str:
    """``"true"`` when ``version`` is the highest final or post, non-yanked version among
    ``tags`` (itself counted), else ``"false"``."""
    excluded = set(yanked)
    if version.kind is Kind.PRE or version.pep440 in excluded:
        return "false"
    for found in versions_of(tags, prefix):
        if found.kind is not Kind.PRE and found.pep440 not in excluded and version < found:
            return "false"
    return "true"


# -- the files ------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalAsset:
    """One file of the release, as built."""

    name: str
    path: Path
    size: int
    sha256: str
    kind: str  # "sdist", "wheel" or "ui"


@dataclass(frozen=True)
class RemoteAsset:
    """One asset of a GitHub release, as the API describes it."""

    id: int
    name: str
    size: int
    state: str  # "uploaded"; "starter" is what a broken upload leaves
    sha256: str | None  # from GitHub's ``digest`` ("sha256:..."), when it gives one
    url: str | None  # browser_download_url

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> RemoteAsset:
        digest = data.get("digest")
        sha256 = None
        if isinstance(digest, str) and digest.startswith("sha256:"):
            sha256 = digest.removeprefix("sha256:").lower()
        size, asset_id = data.get("size"), data.get("id")
        return cls(
            id=asset_id if isinstance(asset_id, int) and not isinstance(asset_id, bool) else 0,
            name=str(data.get("name") or ""),
            size=size if isinstance(size, int) and not isinstance(size, bool) else -1,
            state=str(data.get("state") or "uploaded"),
            sha256=sha256,
            url=url if isinstance(url := data.get("browser_download_url"), str) else None,
        )


@dataclass
class AssetPlan:
    """How the release's files stand against a release's assets."""

    done: list[tuple[LocalAsset, RemoteAsset]] = field(default_factory=list)
    upload: list[LocalAsset] = field(default_factory=list)
    replace: list[tuple[LocalAsset, RemoteAsset]] = field(default_factory=list)
    unknown: list[tuple[LocalAsset, RemoteAsset]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    others: list[RemoteAsset] = field(default_factory=list)


def compare_assets(
    local: Sequence[LocalAsset], remote: Sequence[RemoteAsset], release: str
) -> AssetPlan:
    """Each file against the asset of its name on ``release`` (named in conflicts)."""
    plan = AssetPlan()
    by_name = {asset.name: asset for asset in remote}
    for asset in local:
        there = by_name.get(asset.name)
        if there is None:
            plan.upload.append(asset)
        elif there.state != "uploaded":
            plan.replace.append((asset, there))
        elif there.sha256 is not None:
            if there.sha256 == asset.sha256 and there.size in (asset.size, -1):
                plan.done.append((asset, there))
            else:
                plan.conflicts.append(conflict_message(asset, there, release))
        elif there.size != asset.size:
            plan.conflicts.append(conflict_message(asset, there, release))
        else:
            plan.unknown.append((asset, there))
    names = {asset.name for asset in local}
    plan.others = [asset for asset in remote if asset.name not in names]
    return plan


def conflict_message(local: LocalAsset, remote: RemoteAsset, release: str) -> str:
    held = f"sha256 {remote.sha256[:16]}..." if remote.sha256 else "other contents"
    return (
        f"{remote.name} is already on {release} with {held} ({remote.size} bytes), not this "
        f"build's sha256 {local.sha256[:16]}... ({local.size} bytes)"
    )
