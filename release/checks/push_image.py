"""Pre-flight checks of ``push-image`` (being moved here from ``release.images``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    from release.images import PUSH_IMAGE

    return PUSH_IMAGE.problems(ctx)
