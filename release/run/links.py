"""The links of a release: pure functions over names already gathered.

``distribution_names`` and ``pushed_images`` read what the ``upload`` and ``push-image``
records name (``upload``: ``files``, file names or ``{"name"|"filename"|"path": ...}``;
``projects``/``distributions``/``packages``: names; ``push-image``: ``images``, a list
of, or a map of names to, ``{"name", "tags"|"references", "channels"|"moves"}``, a move
being ``{"channel"|"tag", "from"|"old", "to"|"new"}``); ``github_release_url`` reads the
published release of the ``github-release`` record; ``announcement_links`` turns them into
link sections: the index's project pages, the image tags and channel moves, the GitHub
release, and for a GitHub remote the compare view from the previous release. The Discord
announcement renders them as embed fields, the GitHub release's body as Markdown lists
(``markdown_sections``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from release.core.http import is_loopback, public_url
from release.core.version import ReleaseVersion


@dataclass(frozen=True)
class Section:
    """One group of links: a heading and its lines (links, image tags, moves)."""

    name: str
    lines: tuple[str, ...]


def project_url(index_url: str, name: str, version: str) -> str:
    """The page of ``name`` ``version`` on the index: PyPI's project page, else the simple page."""
    from packaging.utils import canonicalize_name

    index = public_url(index_url)
    host = urlsplit(index).hostname or ""
    if host in ("pypi.org", "test.pypi.org"):
        return f"https://{host}/project/{canonicalize_name(name)}/{version}/"
    return f"{index.rstrip('/')}/{canonicalize_name(name)}/"


_REMOTE = (
    r"^(?:(?:https?|git|ssh)://(?:[^@/]+@)?{host}(?::\d+)?/|(?:[^@/]+@)?{host}:)"
    r"(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$"
)


def remote_repository(remote_url: str | None, host: str = "github.com") -> str | None:
    """``<owner>/<repo>`` of a remote on ``host`` (https, ssh or scp form), else None."""
    if not remote_url:
        return None
    pattern = re.compile(_REMOTE.format(host=re.escape(host)), re.IGNORECASE)
    match = pattern.match(remote_url.strip())
    if match is None:
        return None
    return f"{match.group('owner')}/{match.group('repo')}"


def github_repository(remote_url: str | None) -> str | None:
    """``https://github.com/<owner>/<repo>`` for a GitHub remote (https, ssh or scp form)."""
    found = remote_repository(remote_url)
    return f"https://github.com/{found}" if found else None


def github_release_url(
    record: Mapping[str, Any] | None, server: str, repository: str | None
) -> str | None:
    """The page of the published GitHub release a ``github-release`` record names, when it is
    a release page of ``repository`` on ``server`` (``https://<host>/<owner>/<name>/releases/
    ...``); a draft's page is not public, and any other link is not the release's: None."""
    if not record or record.get("phase") != "published" or not repository:
        return None
    url = record.get("html_url")
    page = f"{server.rstrip('/')}/{repository}/releases/".lower()
    if not isinstance(url, str) or not url.lower().startswith(page):
        return None
    rest = url[len(page) :]
    return url if rest and not re.search(r"[\s\\]|/\.\.?(?:/|$)|^\.\.?(?:/|$)", rest) else None


def release_server(env: Mapping[str, str]) -> str:
    """The web server of the GitHub release: ``GITHUB_SERVER_URL``, else a contract server's
    (``GITHUB_API_URL`` on this machine), else ``https://github.com``."""
    server = env.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
    if server:
        return server
    api = env.get("GITHUB_API_URL", "").strip().rstrip("/")
    return api if api and is_loopback(urlsplit(api).hostname) else "https://github.com"


def release_repository(
    env: Mapping[str, str], configured: str | None, remote_url: str | None
) -> str | None:
    """The repository the ``github-release`` step releases to, chosen as it chooses it
    (``GITHUB_REPOSITORY`` in Actions or when none is configured, else the configured one,
    else the remote's on the server); None when none is known."""
    from_env = env.get("GITHUB_REPOSITORY", "").strip()
    if from_env and (env.get("GITHUB_ACTIONS") == "true" or not configured):
        return from_env if re.fullmatch(r"[\w.-]+/[\w.-]+", from_env) else None
    if configured:
        return configured
    server = env.get("GITHUB_SERVER_URL", "").strip() or "https://github.com"
    return remote_repository(remote_url, urlsplit(server).hostname or "")


def distribution_names(record: Mapping[str, Any] | None) -> list[str]:
    """The distributions an ``upload`` record names (from file names or name lists)."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    if not record:
        return []
    names: list[str] = []

    def add(name: str) -> None:
        canonical = str(canonicalize_name(name))
        if canonical and canonical not in names:
            names.append(canonical)

    for key in ("projects", "distributions", "packages"):
        for item in _items(record.get(key)):
            name = item if isinstance(item, str) else _first(item, "name", "project")
            if isinstance(name, str) and name:
                add(name)
    for item in _items(record.get("files")):
        path = item if isinstance(item, str) else _first(item, "name", "filename", "file", "path")
        if not isinstance(path, str):
            continue
        filename = PurePosixPath(path).name
        try:
            if filename.endswith(".whl"):
                add(parse_wheel_filename(filename)[0])
            else:
                add(parse_sdist_filename(filename)[0])
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    return names


@dataclass(frozen=True)
class ImageLinks:
    reference: str  # host/name
    tags: tuple[str, ...]
    moves: tuple[tuple[str, str | None, str], ...] = ()  # (channel, from, to)


def pushed_images(record: Mapping[str, Any] | None, host: str | None) -> list[ImageLinks]:
    """The images, tags and channel moves a ``push-image`` record names."""
    if not record:
        return []
    raw = record.get("images")
    entries: list[tuple[str | None, Any]] = []
    if isinstance(raw, Mapping):
        entries = [(str(name), value) for name, value in raw.items()]
    else:
        entries = [(None, value) for value in _items(raw)]
    images = []
    for given, entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name = given or _first(entry, "name", "image", "repository")
        if not isinstance(name, str) or not name:
            continue
        reference = name if host is None or name.startswith(f"{host}/") else f"{host}/{name}"
        tags = [t for t in _items(_first(entry, "tags", "version_tags")) if isinstance(t, str)]
        for ref in _items(_first(entry, "references", "refs", "pushed")):
            if isinstance(ref, str) and ":" in ref.rsplit("/", 1)[-1]:
                tag = ref.rsplit(":", 1)[1]
                if tag not in tags:
                    tags.append(tag)
        moves = _moves(_first(entry, "moves", "channels"))
        images.append(ImageLinks(reference, tuple(tags), tuple(moves)))
    return images


def _moves(raw: Any) -> list[tuple[str, str | None, str]]:
    moves: list[tuple[str, str | None, str]] = []
    if isinstance(raw, Mapping):
        raw = [
            {"channel": k, **(v if isinstance(v, Mapping) else {"to": v})} for k, v in raw.items()
        ]
    for move in _items(raw):
        if not isinstance(move, Mapping):
            continue
        channel = _first(move, "channel", "tag", "name")
        old = _first(move, "from", "old", "before", "previous")
        new = _first(move, "to", "new", "after", "target")
        if isinstance(channel, str) and isinstance(new, str) and new != old:
            moves.append((channel, old if isinstance(old, str) else None, new))
    return moves


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def announcement_links(
    *,
    version: ReleaseVersion,
    tag: str,
    previous_tag: str | None,
    index_url: str,
    distributions: Sequence[str],
    images: Sequence[ImageLinks],
    github: str | None,
    github_release: str | None = None,
) -> tuple[tuple[Section, ...], str | None]:
    """The link sections and the title's link, from names already gathered."""
    sections = []
    pages = [
        f"[{name} {version.pep440}]({project_url(index_url, name, version.pep440)})"
        for name in distributions
    ]
    if pages:
        sections.append(Section("Python packages", tuple(pages)))
    tags = [f"`{image.reference}:{t}`" for image in images for t in image.tags]
    if tags:
        sections.append(Section("Docker images", tuple(tags)))
    moves = [
        f"`{image.reference}:{channel}` → {new}" + (f" (was {old})" if old else "")
        for image in images
        for channel, old, new in image.moves
    ]
    if moves:
        sections.append(Section("Channels", tuple(moves)))
    if github_release:
        sections.append(Section("GitHub release", (f"[{tag}]({github_release})",)))
    title_url = None
    if github:
        if previous_tag:
            compare = f"{github}/compare/{previous_tag}...{tag}"
            sections.append(Section("Changes", (f"[{previous_tag}...{tag}]({compare})",)))
            title_url = compare
        else:
            tree = f"{github}/tree/{tag}"
            sections.append(Section("Source", (f"[{tag}]({tree})",)))
            title_url = tree
    if title_url is None and distributions:
        title_url = project_url(index_url, distributions[0], version.pep440)
    return tuple(sections), title_url


def markdown_sections(sections: Sequence[Section]) -> str:
    """The sections as Markdown: a heading and a list of its lines each."""
    blocks = []
    for section in sections:
        lines = [line for line in section.lines if line.strip()]
        if lines:
            blocks.append(f"### {section.name}\n\n" + "\n".join(f"- {line}" for line in lines))
    return "\n\n".join(blocks)
