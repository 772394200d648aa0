"""Pre-flight checks of ``bump``: the remote it pushes to, and an author for its commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from release.core.errors import ReleaseError
from release.core.git import Git

if TYPE_CHECKING:
    from release.core.config import Config
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext


def commit_mode(ctx: ReleaseContext) -> bool:
    """``invoke bump`` writes the working tree unless ``--commit``; ``release`` commits."""
    return bool(ctx.options.extra.get("commit", True))


def commit_identity(git: Git, env: Mapping[str, str]) -> dict[str, str]:
    """Author and committer of the bump commit: git's own settings, else ``RELEASE_GIT_*``
    (``Git.identity``); an error when neither names them."""
    identity = git.identity(env)
    missing = [
        what
        for what, key in (("name", "GIT_AUTHOR_NAME"), ("e-mail", "GIT_AUTHOR_EMAIL"))
        if key not in identity
    ]
    if missing:
        raise ReleaseError(
            f"no author {' and '.join(missing)} for the bump commit",
            "set git config user.name and user.email, or RELEASE_GIT_AUTHOR and RELEASE_GIT_EMAIL",
        )
    return identity


def problems(ctx: ReleaseContext) -> list[str]:
    """No version file may be a symbolic link (in the tagged commit, or in the working tree
    that is written without ``--commit``). A commit needs the remote (unless ``--offline``)
    and an author (unless ``--skip-credentials``); writing the working tree needs neither."""
    found = link_problems(ctx)
    if not commit_mode(ctx):
        return found
    remote = ctx.config.remote
    if not ctx.options.offline and ctx.git.remote_url(remote) is None:
        found.append(f"remote {remote} is not configured: the bump commit is pushed there")
    if not ctx.options.skip_credentials:
        try:
            commit_identity(ctx.git, ctx.env)
        except ReleaseError as error:
            found.append(str(error))
    return found


def link_problems(ctx: ReleaseContext) -> list[str]:
    """Version files that are symbolic links, or lie in folders that are: the tagged commit's
    (what ``--commit`` and the release tree write), or the working tree's without it."""
    from release.core.writers.plan import linked_files
    from release.core.writers.trees import CommitTree, FolderTree, Tree

    tree: Tree = CommitTree(ctx.git, ctx.commit) if commit_mode(ctx) else FolderTree(ctx.git.root)
    return linked_files(ctx.config, tree)


def planned(version: ReleaseVersion, config: Config, branch: str) -> str:
    """The plan's line for ``bump``: the files, the commit message and where it goes."""
    files = sorted({m for vf in config.version_files for m in vf.matches}) or [
        vf.path for vf in config.version_files
    ]
    message = config.commit_message.format(**version.fields(config.codename(version.major)))
    return f"write {version.pep440} into {len(files)} file(s), commit {message!r}, push to {branch}"
