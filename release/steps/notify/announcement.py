"""What the release announcement says, rendered: pure functions over plain data.

``render_message`` builds the Discord webhook payload (one embed) within Discord's
documented limits (content 2,000 characters; embed title 256, description 4,096,
25 fields, field name 256 and value 1,024, footer 2,048, 6,000 in total): long
notes are cut at a line boundary and end with a link to the full notes, link
fields are cut line by line, and nothing is ever rejected for its length.

Its input is gathered by ``release.steps.notify.gather``: the notes from the changelog or the
commits (``release.run.notes``, shared with the GitHub release), the links from the
configuration and the release's state (``release.run.links``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from release.core.version import Kind, ReleaseVersion
from release.run.changelog import normalise, width
from release.run.links import Section
from release.run.notes import Notes

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


# -- what the message says (pure) ---------------------------------------------


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
    notes = normalise(a.notes.text)
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
