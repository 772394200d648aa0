"""The files a GitHub release carries: the release's built files, as the build left them.

- with ``--from DIR`` (CI): the files of the build output, verified against their manifest
  before the step runs (``release.run.handoff``): the sdists and wheels and the UI zip; a
  post release takes only the UI zip (it carries no package files);
- on one machine: the verified build of the tagged commit that the ``build`` step keeps in
  ``<git dir>/release-dist/<version>/`` with its manifest ``release-build.json``, each file
  checked against the sha256 listed there. The UI zip is built in a scratch folder by
  ``deploy-ui`` and not kept, so only a build output carries it;
- ``assets = false`` in ``[tool.release.github]``: none.

``None`` means the files are not there yet: ``invoke release`` builds them while the step
prepares, and the step takes them when it publishes, after ``upload`` succeeded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from release.core.errors import ReleaseError
from release.core.files import sha256_of
from release.core.version import Kind
from release.run.handoff import handed_off
from release.steps.github_release.rules import LocalAsset

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

BUILD_MANIFEST = "release-build.json"  # the manifest of release.steps.pypi.build's folder


def dist_folder(ctx: ReleaseContext) -> Path:
    """Where the ``build`` step keeps the verified files of this version."""
    return ctx.git.git_dir() / "release-dist" / ctx.version.pep440


def release_files(ctx: ReleaseContext) -> list[LocalAsset] | None:
    """The files of the release (see the module); None when the build is not there yet."""
    github = ctx.config.github
    if github is None or not github.assets:
        return []
    post = ctx.version.kind is Kind.POST
    handoff = handed_off(ctx)
    if handoff is not None:
        kinds = ("ui",) if post else ("sdist", "wheel", "ui")
        return [
            LocalAsset(f.name, handoff.path(f), f.size, f.sha256, f.kind)
            for f in sorted(handoff.of_kind(*kinds), key=lambda f: f.name)
        ]
    if post or not ctx.config.packages:
        return []
    return built_files(dist_folder(ctx), ctx.commit, ctx.version.pep440)


def required_files(ctx: ReleaseContext) -> list[LocalAsset]:
    """The files of the release, which must be there now."""
    found = release_files(ctx)
    if found is None:
        raise ReleaseError(
            f"the built files of {ctx.version.pep440} are not in {dist_folder(ctx)}",
            f"build them first (`invoke build --tag {ctx.tag}`), or give the build job's "
            "output with --from DIR",
        )
    return found


def built_files(folder: Path, commit: str, version: str) -> list[LocalAsset] | None:
    """The verified files of ``commit`` in ``folder``, each as its manifest lists it; None
    when the folder holds no complete build of that commit and version."""
    try:
        data = json.loads((folder / BUILD_MANIFEST).read_text(encoding="utf-8"))
        if data["commit"] != commit or data["version"] != version:
            return None
        entries = [(str(d["filename"]), str(d["sha256"]), str(d["kind"])) for d in data["dists"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    files = []
    for name, digest, kind in sorted(entries):
        path = folder / name
        if "/" in name or name in ("", ".", "..") or path.is_symlink() or not path.is_file():
            return None
        if sha256_of(path) != digest:
            return None
        files.append(LocalAsset(name, path, path.stat().st_size, digest, kind))
    return files
