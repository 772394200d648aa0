"""Writers of Python files: ``pyproject``, ``version-info`` and ``dunder``.

- ``pyproject``: ``[project].version`` (tomlkit: comments, quoting and layout survive), and
  the ``==`` pins on sibling packages in ``[project].dependencies`` and
  ``[project].optional-dependencies`` (siblings: the distributions of
  ``[[tool.release.packages]]`` and of every ``pyproject`` version file, released in
  lock-step). A ``[project]`` with ``dynamic = ["version"]`` has only its pins written.
- ``version-info``: vantage6's ``version_info = (4, 2, 0, "candidate", __build__, 0)``; the
  build element stays the name ``__build__`` and the number goes into the ``__build__`` file
  beside it (a literal number there is rewritten in place).
- ``dunder``: a module-level ``__version__ = "..."``.
"""

from __future__ import annotations

import re
from typing import Any

from release.core.writers.base import BUILD_FILE, Job, Missing, Result, Unreadable, replace_spans

# pyproject ---------------------------------------------------------------


def pyproject(text: str, job: Job) -> Result:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    looked_for = '[project] with version = "..." (or "version" in dynamic)'
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as error:
        raise Unreadable(f"is not valid TOML ({error})") from None
    project = document.get("project")
    if not isinstance(project, dict):
        raise Missing(looked_for)
    dynamic = project.get("dynamic") or []
    if "version" not in project and "version" not in dynamic:
        raise Missing(looked_for)
    changed = False
    if "version" in project:
        old = project["version"]
        if not isinstance(old, str):
            raise Missing('[project] version = "..." as a string')
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
    return Result(document.as_string() if changed else text)


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


def version_info(text: str, job: Job) -> Result:
    looked_for = "version_info = (major, minor, patch, stage, build, post) tuple"
    match = _VERSION_INFO.search(text)
    if match is None:
        raise Missing(looked_for)
    body_start = match.start("body")
    parts = match["body"].split(",")
    if parts and not parts[-1].strip():
        parts = parts[:-1]  # a trailing comma
    if len(parts) != 6 or any(not p.strip() for p in parts):
        raise Missing(f"{looked_for} (found {len(parts)} elements)")
    major, minor, patch, stage, build, post = job.version.version_info
    old_stage = parts[3].strip()
    quote = old_stage[0] if old_stage[:1] in ("'", '"') else '"'
    old_build = parts[4].strip()
    companion: int | None = None
    if old_build.isidentifier():
        if old_build != BUILD_FILE:
            raise Missing(f"{looked_for} whose build element is {BUILD_FILE} or a number")
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
    return Result(text, build=companion)


def build_file(text: str, build: int) -> str:
    stripped = text.strip()
    if not re.fullmatch(r"-?[0-9]+", stripped):
        raise Missing("build number (an integer)")
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{build}{trail}"


# dunder ------------------------------------------------------------------

_DUNDER = re.compile(
    r"^__version__[ \t]*(?::[ \t]*str[ \t]*)?=[ \t]*(?P<q>['\"])(?P<version>[^'\"\r\n]*)(?P=q)",
    re.M,
)


def dunder(text: str, job: Job) -> Result:
    spans = [m.span("version") for m in _DUNDER.finditer(text)]
    if not spans:
        raise Missing('module-level __version__ = "..." assignment')
    return Result(replace_spans(text, spans, job.value))
