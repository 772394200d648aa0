"""Tag and message templates: the fields they use, and how far a tag template reaches.

A template is text with ``{field}`` placeholders (``{version}``, ``{npm_version}``,
``{docker_tag}``, ``{major}``, ``{minor}``, ``{patch}``, ``{codename}``); the configuration
checks its fields when it is read. Which fields an ``extra-tags`` template uses decides
whether it is a fixed tag or a channel, and of what scope.
"""

from __future__ import annotations

import string
from enum import StrEnum


class Scope(StrEnum):
    """How far a tag template reaches: a fixed tag, or a channel over some versions."""

    FIXED = "fixed"  # {version} / {docker_tag}: one version, never moves
    MAJOR = "major"  # {codename} / {major}: a per-major channel
    MINOR = "minor"  # {minor}: a per-minor channel
    GLOBAL = "global"  # no field: like latest


def template_fields(template: str) -> set[str]:
    """The names of the fields ``template`` uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def template_scope(template: str) -> Scope:
    """The scope of an ``extra-tags`` template, by the fields it uses."""
    fields = template_fields(template)
    if fields & {"version", "docker_tag", "npm_version", "patch"}:
        return Scope.FIXED
    if "minor" in fields:
        return Scope.MINOR
    if fields & {"codename", "major"}:
        return Scope.MAJOR
    return Scope.GLOBAL
