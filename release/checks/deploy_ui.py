"""Pre-flight checks of ``deploy-ui`` (being moved here from ``release.ui``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.context import ReleaseContext


def problems(ctx: ReleaseContext) -> list[str]:
    from release.ui import DEPLOY_UI

    return DEPLOY_UI.problems(ctx)
