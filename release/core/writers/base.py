"""What every writer shares: the job it is given, its result, and how it says "not here"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from release.core.config import VersionFile
from release.core.version import ReleaseVersion

BUILD_FILE = "__build__"


class Missing(Exception):
    """The file lacks the writer's marker; ``looked_for`` says what was looked for."""

    def __init__(self, looked_for: str) -> None:
        super().__init__(looked_for)
        self.looked_for = looked_for


class Unreadable(Exception):
    """The file cannot be parsed as its kind (invalid TOML or JSON)."""


class Linked(Exception):
    """The file is, or lies in a folder that is, a symbolic link: never read or written.

    A link can lead anywhere on the machine (a file outside the repository, ``/proc``), so
    a version file must be the file itself; the message names the link and where it leads.
    """


@dataclass(frozen=True)
class Job:
    """What one writer writes: the entry, the version, its rendered value, the siblings."""

    entry: VersionFile
    version: ReleaseVersion
    value: str
    siblings: frozenset[str]


@dataclass(frozen=True)
class Result:
    text: str
    note: str | None = None
    build: int | None = None  # version-info: the number for the __build__ file beside


def replace_spans(text: str, spans: Iterable[tuple[int, int]], value: str) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + value + text[end:]
    return text
