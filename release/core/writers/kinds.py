"""Every kind's writer, the generic ``regex`` one among them, and each kind's own form."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from release.core.version import ReleaseVersion
from release.core.writers.base import Job, Missing, Result, replace_spans
from release.core.writers.manifests import dockerfile, package_json
from release.core.writers.python import dunder, pyproject, version_info

# regex -------------------------------------------------------------------


def regex(text: str, job: Job) -> Result:
    pattern = job.entry.pattern or ""
    compiled = re.compile(pattern, re.M)
    group: int | str = "version" if "version" in compiled.groupindex else 1
    spans = [m.span(group) for m in compiled.finditer(text) if m.start(group) != -1]
    if not spans:
        raise Missing(f"match of the pattern {pattern!r}")
    return Result(replace_spans(text, spans, job.value))


WRITERS: Mapping[str, Callable[[str, Job], Result]] = {
    "pyproject": pyproject,
    "version-info": version_info,
    "dunder": dunder,
    "package-json": package_json,
    "dockerfile": dockerfile,
    "regex": regex,
}


def default_value(kind: str, version: ReleaseVersion) -> str:
    if kind == "package-json":
        return version.npm
    if kind == "dockerfile":
        return version.docker_tag
    return version.pep440
