"""Which channel tags move where: pure decisions over a registry's tags (DESIGN.md "Channels").

This module starts with the scope of a tag template; the channel decisions of
the channels issue build on it.
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
