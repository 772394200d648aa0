"""The sdists and wheels of a build output (``upload --from DIR``): uploaded as they were built.

The build output was verified against its manifest before (``release.run.handoff.verify``).
Here its sdists and wheels become the ``Built`` the upload compares and sends: each file's
name and version are read from its own metadata (twine's reader, as it will upload them;
no code of the package runs), every configured package must have both files, and every file
must carry the tag's version. Nothing is built, nothing is installed.
"""

from __future__ import annotations

from release.core.errors import ReleaseError
from release.run.context import ReleaseContext
from release.run.handoff import FROM_FIX, Handoff
from release.steps.pypi.dists import Built, describe
from release.steps.pypi.verify import version_problems


def built_from(ctx: ReleaseContext, handoff: Handoff) -> Built:
    """The verified build that ``handoff`` holds, checked against the configured packages."""
    version = ctx.version.pep440
    handed = handoff.of_kind("sdist", "wheel")
    dists = tuple(describe(f.package or "", f.kind, handoff.path(f)) for f in handed)
    configured = sorted(p.path for p in ctx.config.packages)
    problems = []
    for package in configured:
        kinds = sorted(d.kind for d in dists if d.package == package)
        if kinds != ["sdist", "wheel"]:
            problems.append(
                f"{package} has {' and '.join(kinds) or 'no file'} in it, not one sdist and "
                "one wheel"
            )
    strangers = sorted({d.filename for d in dists if d.package not in configured})
    if strangers:
        problems.append(f"{', '.join(strangers)} belong(s) to no configured package")
    problems += version_problems(dists, version)
    if problems:
        raise ReleaseError(
            f"the build output {handoff.folder} does not fit {ctx.tag}: " + "; ".join(problems),
            FROM_FIX,
        )
    return Built(handoff.folder, version, handoff.commit, dists, {})
