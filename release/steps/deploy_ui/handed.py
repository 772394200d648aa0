"""The UI zip of a build output (``deploy-ui --from DIR``): deployed as it was built.

The build output was verified against its manifest before (``release.run.handoff.verify``);
here its one ``ui`` file becomes the ``Archive`` the deployment sends. Nothing is built and
no command of the released project runs.
"""

from __future__ import annotations

import zipfile

from release.core.errors import ReleaseError
from release.run.handoff import FROM_FIX, Handoff
from release.steps.deploy_ui.archive import Archive


def archive_from(handoff: Handoff) -> Archive:
    """The UI zip listed in ``handoff``, as an ``Archive`` (its entries read from the zip)."""
    zips = handoff.of_kind("ui")
    if len(zips) != 1:
        raise ReleaseError(
            f"the build output {handoff.folder} holds {len(zips)} UI zip(s), not one, "
            "although [tool.release.ui] is configured",
            "build it with release-tasks build --output from this tag",
        )
    handed = zips[0]
    path = handoff.path(handed)
    try:
        with zipfile.ZipFile(path) as archive:
            names = tuple(info.filename for info in archive.infolist() if not info.is_dir())
    except (OSError, zipfile.BadZipFile) as error:
        raise ReleaseError(
            f"{handed.name} in {handoff.folder} is not a zip: {error}", FROM_FIX
        ) from None
    if not names:
        raise ReleaseError(f"{handed.name} in {handoff.folder} is empty: nothing to deploy")
    return Archive(path=path, files=names, size=handed.size, sha256=handed.sha256)
