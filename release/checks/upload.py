"""Pre-flight checks of ``upload`` (being moved here from ``release.pypi``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    from release.pypi import UPLOAD

    return UPLOAD.problems(ctx)
