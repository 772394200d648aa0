"""The notes of a version in a changelog: pure functions over its text.

``changelog_section`` finds the section whose heading names the version, in Markdown
(``## 4.2.0``, ``## [4.2.0] - 2024-05-01``, setext) or reStructuredText (underlined
headings, turned into Markdown enough to read well on Discord and GitHub); ``github_anchor``
links to it; ``commit_message_pattern`` recognises the bump commits, left out of the notes
when there is no changelog. ``release.run.notes`` reads the texts from git; the Discord
announcement (``notify``) and the GitHub release (``github-release``) both quote them.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

_VERSION_TOKEN = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+(?:[-._]?[A-Za-z]+[-._]?\d*)*)")
_ATX = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}[ \t]*$")
_LINK_REFERENCE = re.compile(r"^\[[^\]]+\]:\s*\S+")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<([^>]+)>`__?")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def width(text: str) -> int:
    """Length as Discord's limits count it, conservatively: UTF-16 code units.

    A character outside the Basic Multilingual Plane counts twice, so a text within
    this width is within the limit whether Discord counts code points or units.
    """
    return len(text.encode("utf-16-le")) // 2


def normalise(text: str) -> str:
    """``text`` with one kind of line end, no trailing spaces and no blank edge lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join(line.rstrip() for line in lines).strip("\n")
    return text if text.strip() else ""


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
    text = normalise(text)
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
        return normalise(section), heading
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
