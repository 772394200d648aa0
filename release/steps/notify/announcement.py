"""What the release announcement says: pure functions over plain data.

``render_message`` builds the Discord webhook payload (one embed) within Discord's
documented limits (content 2,000 characters; embed title 256, description 4,096,
25 fields, field name 256 and value 1,024, footer 2,048, 6,000 in total): long
notes are cut at a line boundary and end with a link to the full notes, link
fields are cut line by line, and nothing is ever rejected for its length.

``changelog_section`` finds the notes of a version in a changelog, Markdown
(``## 4.2.0``, ``## [4.2.0] - 2024-05-01``, setext) or reStructuredText
(underlined headings); ``announcement_links`` turns the names gathered from the
configuration and the release's state into links (the index's project pages,
image tags and channel moves, the GitHub compare view). ``release.steps.notify.step`` reads
git and the state, and talks to Discord.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from release.core.http import public_url  # re-exported: announcements link to it
from release.core.version import Kind, ReleaseVersion

# Discord's documented limits (Message resource, "Embed Limits"; Execute Webhook).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
# The notes keep at least this much of the embed when links are many.
NOTES_MIN = 1500

FINAL_COLOR = 0x2ECC71
POST_COLOR = 0x3498DB
MAX_COMMITS = 200


def width(text: str) -> int:
    """Length as Discord's limits count it, conservatively: UTF-16 code units.

    A character outside the Basic Multilingual Plane counts twice, so a text within
    this width is within the limit whether Discord counts code points or units.
    """
    return len(text.encode("utf-16-le")) // 2


# -- what the message says (pure) ---------------------------------------------


@dataclass(frozen=True)
class Section:
    """One embed field: a heading and its lines (links, image tags, moves)."""

    name: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Notes:
    """The release notes and where they came from."""

    text: str
    source: str  # "CHANGELOG.md" or "the commits since version/4.1.0"
    url: str | None = None  # the full notes, linked when the text is cut


@dataclass(frozen=True)
class Announcement:
    """Everything the message says, gathered before anything is sent."""

    project: str
    version: ReleaseVersion
    tag: str
    commit: str
    notes: Notes
    sections: tuple[Section, ...] = ()
    url: str | None = None  # the title's link
    timestamp: str | None = None  # ISO 8601, the tagged commit's time
    rebuilt_with: str = "updated dependencies"  # post releases: what changed since X.Y.Z


def render_message(announcement: Announcement) -> dict[str, Any]:
    """The webhook payload: one embed, always within Discord's limits.

    Long notes are cut at a line boundary and end with a link to the full notes;
    link fields are cut line by line; nothing is ever rejected for its length.
    Mentions are disabled, so a changelog line can never ping ``@everyone``.
    """
    a = announcement
    v = a.version.pep440
    project = _cut(_one_line(a.project) or "release", 100)
    if a.version.kind is Kind.POST:
        base = a.version.base.pep440
        title = f"{project} {v}: a rebuild of {base}"
        reason = _cut(_one_line(a.rebuilt_with) or "updated dependencies", 100)
        content = f"**{project} {v}**: a rebuild of {base} with {reason}"
        intro = (
            f"A rebuild of {project} {base} with {reason}; the code is the one released as {base}."
        )
        color = POST_COLOR
    else:
        title = f"{project} {v}"
        content = f"**{project} {v}** has been released"
        intro = ""
        color = FINAL_COLOR
    title = _cut(title, TITLE_MAX)
    footer = _cut(_one_line(f"{a.tag} · commit {a.commit[:12]}"), 200)
    notes = _normalise(a.notes.text)
    if not notes and not intro:
        notes = "No release notes."
    fixed = width(title) + width(footer)
    notes_need = width(intro) + 2 + width(notes)
    fields = _fit_fields(a.sections, EMBED_TOTAL_MAX - fixed - min(notes_need, NOTES_MIN))
    used = fixed + sum(width(f["name"]) + width(f["value"]) for f in fields)
    room = min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - used)
    embed: dict[str, Any] = {"title": title}
    if a.url:
        embed["url"] = a.url
    embed["description"] = _description(intro, notes, room, a.notes)
    embed["color"] = color
    if fields:
        embed["fields"] = fields
    embed["footer"] = {"text": footer}
    if a.timestamp:
        embed["timestamp"] = a.timestamp
    return {
        "content": _cut(content, CONTENT_MAX),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def limit_problems(payload: Mapping[str, Any]) -> list[str]:
    """Every way ``payload`` breaks Discord's limits (empty: Discord accepts its sizes)."""
    problems = []
    content = payload.get("content") or ""
    if width(content) > CONTENT_MAX:
        problems.append(f"content: {width(content)} > {CONTENT_MAX}")
    for index, embed in enumerate(payload.get("embeds") or ()):
        where = f"embeds[{index}]"
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        fields = embed.get("fields") or []
        total = width(title) + width(description) + width(footer)
        for name, text, limit in (
            ("title", title, TITLE_MAX),
            ("description", description, DESCRIPTION_MAX),
            ("footer.text", footer, FOOTER_MAX),
        ):
            if width(text) > limit:
                problems.append(f"{where}.{name}: {width(text)} > {limit}")
        if len(fields) > FIELDS_MAX:
            problems.append(f"{where}.fields: {len(fields)} fields > {FIELDS_MAX}")
        for number, item in enumerate(fields):
            name, value = item.get("name") or "", item.get("value") or ""
            total += width(name) + width(value)
            if not name.strip() or not value.strip():
                problems.append(f"{where}.fields[{number}]: name and value must not be empty")
            if width(name) > FIELD_NAME_MAX:
                problems.append(f"{where}.fields[{number}].name: {width(name)} > {FIELD_NAME_MAX}")
            if width(value) > FIELD_VALUE_MAX:
                problems.append(
                    f"{where}.fields[{number}].value: {width(value)} > {FIELD_VALUE_MAX}"
                )
        if total > EMBED_TOTAL_MAX:
            problems.append(f"{where}: {total} characters in total > {EMBED_TOTAL_MAX}")
    return problems


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit``, ending with an ellipsis when it was cut."""
    if width(text) <= limit:
        return text
    while width(text) > limit - 1:
        text = text[: max(0, len(text) - max(1, (width(text) - limit + 1) // 2))]
    return text.rstrip() + "…"


def _normalise(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    return text if text.strip() else ""


def _fit_lines(lines: Sequence[str], limit: int, more: Callable[[int], str]) -> str:
    """Whole lines within ``limit``; when some are left out, ``more(count)`` says so."""
    text = "\n".join(lines)
    if width(text) <= limit:
        return text
    reserve = width(more(len(lines))) + 1  # the widest tail there can be
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = width(line) + (1 if kept else 0)
        if used + cost + reserve > limit:
            break
        kept.append(line)
        used += cost
    tail = more(len(lines) - len(kept))
    if not kept:
        return _cut(lines[0], limit) if width(tail) > limit else tail
    return "\n".join([*kept, tail])


def _fit_fields(sections: Sequence[Section], budget: int) -> list[dict[str, Any]]:
    """Embed fields for ``sections``: at most 25, each within its limits, all within ``budget``."""
    fields: list[dict[str, Any]] = []
    for section in sections:
        if len(fields) == FIELDS_MAX:
            break
        lines = [line.rstrip() for line in section.lines if line.strip()]
        if not lines:
            continue
        name = _cut(_one_line(section.name) or "Links", FIELD_NAME_MAX)
        room = min(FIELD_VALUE_MAX, budget - width(name))
        if room < 40:
            break
        value = _fit_lines(lines, room, lambda n: f"… and {n} more")
        fields.append({"name": name, "value": value, "inline": False})
        budget -= width(name) + width(value)
    return fields


def _description(intro: str, notes: str, room: int, source: Notes) -> str:
    """The intro (post releases) and the notes, cut at a line boundary to fit ``room``."""
    head = f"{intro}\n\n" if intro and notes else intro
    if width(head) > room:
        return _cut(head.strip(), room)
    return head + _cut_notes(notes, room - width(head), source)


def _cut_notes(notes: str, room: int, source: Notes) -> str:
    if width(notes) <= room:
        return notes
    if source.url:
        suffix = f"\n… [Read the full release notes]({source.url})"
    else:
        suffix = f"\n… (the full notes: {_one_line(source.source)})"
    if width(suffix) > room // 2:
        suffix = "\n…"
    fence = "\n```"
    room -= width(suffix) + width(fence)
    kept: list[str] = []
    used = 0
    for line in notes.split("\n"):
        cost = width(line) + (1 if kept else 0)
        if used + cost > room:
            break
        kept.append(line)
        used += cost
    if not kept:
        first = notes.split("\n", 1)[0]
        kept = [_cut_words(first, max(room, 0))]
    text = "\n".join(kept).rstrip()
    if sum(1 for line in kept if line.lstrip().startswith("```")) % 2:
        text += fence  # close a code block the cut left open, or it swallows the link
    return text + suffix


def _cut_words(line: str, room: int) -> str:
    """The longest start of ``line`` within ``room`` that ends at a space when there is one."""
    if room <= 0:
        return ""
    cut = line
    while width(cut) > room:
        cut = cut[: len(cut) - max(1, (width(cut) - room) // 2)]
    space = cut.rfind(" ")
    return cut[:space] if space > len(cut) // 2 else cut


# -- release notes (pure over texts; git read in release_notes) ----------------


_VERSION_TOKEN = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+(?:[-._]?[A-Za-z]+[-._]?\d*)*)")
_ATX = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}[ \t]*$")
_LINK_REFERENCE = re.compile(r"^\[[^\]]+\]:\s*\S+")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<([^>]+)>`__?")
_RST_LITERAL = re.compile(r"``([^`]+)``")


@dataclass(frozen=True)
class Heading:
    start: int  # first line of the heading (an overline, when there is one)
    body: int  # first line after it
    rank: int  # 1 is the top level
    text: str


def heading_versions(text: str) -> list[str]:
    """The normalised versions named in a heading, in order (``[4.2.0] - 2024-05-01``)."""
    from packaging.version import InvalidVersion, Version

    found = []
    for match in _VERSION_TOKEN.finditer(text):
        try:
            found.append(str(Version(match.group(1))))
        except InvalidVersion:
            continue
    return found


def changelog_headings(text: str, markdown: bool) -> list[Heading]:
    """The headings of a changelog, Markdown (ATX and setext) or reStructuredText.

    Underlined headings get their rank from the order in which their adornment
    style first appears, as reStructuredText does; Markdown's setext ``=`` and
    ``-`` are ranks 1 and 2. Lines inside fenced code blocks are not headings.
    """
    lines = text.split("\n")
    headings: list[Heading] = []
    styles: list[tuple[str, bool]] = []
    fenced = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if markdown and line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            index += 1
            continue
        if fenced:
            index += 1
            continue
        atx = _ATX.match(line) if markdown else None
        if atx:
            headings.append(Heading(index, index + 1, len(atx.group(1)), atx.group(2)))
            index += 1
            continue
        below = lines[index + 1] if index + 1 < len(lines) else ""
        overline = bool(_ADORNMENT.match(line))
        if overline and index + 2 < len(lines) and _ADORNMENT.match(lines[index + 2]):
            title, start, body, char = lines[index + 1].strip(), index, index + 3, line.strip()[0]
        elif (
            line.strip()
            and not overline
            and _ADORNMENT.match(below)
            and (width(below.strip()) >= width(line.strip()) or markdown)
        ):
            title, start, body, char = line.strip(), index, index + 2, below.strip()[0]
        else:
            index += 1
            continue
        if markdown:
            if char not in "=-" or overline:
                index += 1
                continue
            rank = 1 if char == "=" else 2
        else:
            style = (char, overline)
            if style not in styles:
                styles.append(style)
            rank = styles.index(style) + 1
        headings.append(Heading(start, body, rank, title))
        index = body
    return headings


def changelog_section(text: str, version: str, markdown: bool) -> tuple[str, Heading] | None:
    """The body of the section whose heading names ``version`` first, and its heading."""
    from packaging.version import Version

    wanted = str(Version(version))
    text = _normalise(text)
    lines = text.split("\n")
    headings = changelog_headings(text, markdown)
    for number, heading in enumerate(headings):
        named = heading_versions(heading.text)
        if not named or named[0] != wanted:
            continue
        end = len(lines)
        for following in headings[number + 1 :]:
            if following.rank <= heading.rank:
                end = following.start
                break
        body = lines[heading.body : end]
        body = [line for line in body if not _LINK_REFERENCE.match(line)]
        section = "\n".join(body) if markdown else _rst_to_markdown(body)
        return _normalise(section), heading
    return None


def _rst_to_markdown(body: list[str]) -> str:
    """Enough reStructuredText to read well on Discord: sub-headings, literals, links."""
    out: list[str] = []
    index = 0
    while index < len(body):
        line = body[index]
        below = body[index + 1] if index + 1 < len(body) else ""
        if line.strip() and _ADORNMENT.match(below) and not _ADORNMENT.match(line):
            out.append(f"**{line.strip()}**")
            index += 2
            continue
        if _ADORNMENT.match(line):
            index += 1
            continue
        line = _RST_LINK.sub(lambda m: f"[{m.group(1)}]({m.group(2)})", line)
        out.append(_RST_LITERAL.sub(r"`\1`", line))
        index += 1
    return "\n".join(out)


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: ``[4.2.0] - 2024-05-01`` -> ``420---2024-05-01``."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def commit_message_pattern(template: str) -> re.Pattern[str]:
    """A pattern for the bump commits that ``commit-message`` produces (left out of the notes)."""
    parts = []
    for literal, field_name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field_name is not None:
            parts.append(r".+?")
    return re.compile("".join(parts))


# -- links (pure) -------------------------------------------------------------


def project_url(index_url: str, name: str, version: str) -> str:
    """The page of ``name`` ``version`` on the index: PyPI's project page, else the simple page."""
    from packaging.utils import canonicalize_name

    index = public_url(index_url)
    host = urlsplit(index).hostname or ""
    if host in ("pypi.org", "test.pypi.org"):
        return f"https://{host}/project/{canonicalize_name(name)}/{version}/"
    return f"{index.rstrip('/')}/{canonicalize_name(name)}/"


_GITHUB = re.compile(
    r"^(?:(?:https?|git|ssh)://(?:[^@/]+@)?github\.com(?::\d+)?/|(?:[^@/]+@)?github\.com:)"
    r"(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$"
)


def github_repository(remote_url: str | None) -> str | None:
    """``https://github.com/<owner>/<repo>`` for a GitHub remote (https, ssh or scp form)."""
    if not remote_url:
        return None
    match = _GITHUB.match(remote_url.strip())
    if match is None:
        return None
    return f"https://github.com/{match.group('owner')}/{match.group('repo')}"


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
) -> tuple[tuple[Section, ...], str | None]:
    """The link fields and the title's link, from names already gathered."""
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
