"""Pre-flight checks of ``upload``: upload credentials are present and, unless ``--offline``,
the index answers and holds nothing that conflicts with this release.

Offline, only the credentials are looked for (``credentials``, which imports twine's config
reader only when a ``~/.pypirc`` exists). The index client, the comparison with it and the
verified build (``index``, ``comparison``, ``dists``) are imported only for the online checks;
none of them imports this module or the steps.

Also here, light as the checks: the plan's lines and the summary's lines of build and upload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from release.core import console
from release.core.http import public_url
from release.steps.pypi.credentials import credential_problem

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from release.core.config import Config
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext
    from release.steps.pypi.index import Index


def problems(ctx: ReleaseContext) -> list[str]:
    """Credentials are present (unless ``--skip-credentials``); unless ``--offline``, the index
    answers, and when the files of this commit are already built, every one of them is
    compared (conflicts are problems). Before a build (``check-version``), it can only give
    the notice that the version already has files on the index."""
    found = []
    if not ctx.options.skip_credentials:
        problem = credential_problem(
            ctx.config.pypi.repository_url, ctx.env, offline=ctx.options.offline
        )
        if problem:
            found.append(problem)
    if ctx.options.offline:
        return found
    return found + index_problems(ctx)


def index_problems(ctx: ReleaseContext) -> list[str]:
    """The files of this commit's verified build that differ from the index's (or a notice
    of the files the index already has for the version, before a build)."""
    from release.steps.pypi.comparison import (
        CONFLICT_HINT,
        Status,
        compare_with_index,
        conflict_message,
        index_of,
    )
    from release.steps.pypi.dists import dist_folder, load_built
    from release.steps.pypi.index import IndexFailure

    found = []
    index = index_of(ctx)
    version = ctx.version.pep440
    built = load_built(dist_folder(ctx.git.git_dir(), version), ctx.commit, version)
    try:
        if built is not None:
            comparisons = compare_with_index(index, built)
            found += [
                f"{conflict_message(d, c)}: {CONFLICT_HINT}"
                for d, c in zip(built.dists, comparisons, strict=True)
                if c.status is Status.DIFFERENT
            ]
        else:
            present = published_files(ctx, index)
            if present:
                console.notice(
                    f"the version {version} already has files on the index "
                    f"({', '.join(present)}): the upload compares them with its build"
                )
    except IndexFailure as error:
        found.append(f"the index {public_url(index.url)} cannot be read: {error}")
    return found


def published_files(ctx: ReleaseContext, index: Index) -> list[str]:
    """The index's files of this version, for the projects whose names are known before a build."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    found = []
    for name in project_names(ctx):
        for file in index.files(name):
            try:
                if file.filename.endswith(".whl"):
                    version = parse_wheel_filename(file.filename)[1]
                else:
                    version = parse_sdist_filename(file.filename)[1]
            except (InvalidSdistFilename, InvalidWheelFilename):
                continue
            if version == ctx.version.packaging:
                found.append(file.filename)
    return found


def project_names(ctx: ReleaseContext) -> list[str]:
    """The ``[project].name`` of every configured package (setup.py-only packages are unknown)."""
    import tomllib

    names = []
    pyprojects = [package.pyproject for package in ctx.config.packages]
    texts = ctx.git.show_many(ctx.commit, pyprojects)  # one git process for every package
    for pyproject in pyprojects:
        text = texts[pyproject]
        if text is None:
            continue
        try:
            project = tomllib.loads(text).get("project")
        except (tomllib.TOMLDecodeError, RecursionError):
            continue  # the build reports a broken pyproject.toml with its own words
        name = project.get("name") if isinstance(project, dict) else None
        if isinstance(name, str):
            names.append(name)
    return names


def build_planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``build``."""
    names = ", ".join(p.path for p in config.packages)
    line = f"build sdist and wheel of {names}"
    source = [p.path for p in config.packages if p.wheel_from == "source"]
    if source:
        line += f' ({", ".join(source)}: both from the source folder, wheel-from = "source")'
    line += "; twine check, version check, smoke install"
    if config.strict_wheels:
        line += "; clashing wheels refused (strict-wheels)"
    return line


def upload_planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``upload`` (the URL without credentials it may carry)."""
    target = public_url(config.pypi.repository_url)
    return f"upload {len(config.packages) * 2} file(s) to {target}"


def uploaded(record: Mapping[str, Any]) -> list[str]:
    """The summary's lines for ``upload``: every file with its status, sha256 and URL."""
    found = []
    for item in record.get("files") or []:
        found.append(f"{item.get('filename')}: {item.get('status')}, sha256 {item.get('sha256')}")
        if item.get("url"):
            found.append(f"  {public_url(str(item['url']))}")
    return found
