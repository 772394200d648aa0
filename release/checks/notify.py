"""Pre-flight checks of ``notify`` (being moved here from ``release.notify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    from release.notify import NOTIFY

    return NOTIFY.problems(ctx)
