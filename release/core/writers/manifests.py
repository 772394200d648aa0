"""Writers of manifests: ``package-json`` and ``dockerfile``.

- ``package-json``: the top-level ``"version"`` of ``package.json`` or ``package-lock.json``
  and, in a lock file, ``packages[""].version`` too; only those strings change, so key order
  and formatting stay.
- ``dockerfile``: ``LABEL version="..."``, or ``ARG <arg>=...`` when ``arg`` is set. A value
  that refers to a build argument (``LABEL version=${TAG}``) is left alone: it arrives at
  build time.
"""

from __future__ import annotations

import json
import re

from release.core.writers.base import Job, Missing, Result, Unreadable, replace_spans

# package-json ------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_ROOT_VERSION = ("version",)
_LOCK_VERSION = ("packages", "", "version")
TOO_DEEP = (
    "is nested too deeply to be read as JSON (more than about a thousand levels of arrays or "
    "objects; flatten it, or regenerate it with npm)"
)


def package_json(text: str, job: Job) -> Result:
    try:
        spans = _json_spans(text, {_ROOT_VERSION, _LOCK_VERSION})
    except ValueError as error:
        raise Unreadable(f"is not valid JSON ({error})") from None
    except RecursionError:
        raise Unreadable(TOO_DEEP) from None
    strings = [span for span in spans.values() if text[span[0]] == '"']
    if _ROOT_VERSION not in spans or text[spans[_ROOT_VERSION][0]] != '"':
        raise Missing('top-level "version" string')
    return Result(replace_spans(text, strings, json.dumps(job.value)))


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


def dockerfile(text: str, job: Job) -> Result:
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
        raise Missing(looked_for)
    note = None
    if from_build_args:
        shown = f"ARG {arg}" if arg else "LABEL version"
        note = f"{shown} that takes its value from a build argument: left alone"
    return Result(replace_spans(text, literal, job.value), note=note)
