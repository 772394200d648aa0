"""What the announcement of a release says, gathered from git, the state and the configuration.

The notes and the links are the release's own (``release.run.notes``: the changelog section
or the commit subjects, the links of what the other steps recorded), the same the GitHub
release shows; here they become an ``Announcement`` with its title, and the link of the
GitHub release when the ``github-release`` step published one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from release.run.links import (
    github_release_url,
    github_repository,
    release_repository,
    release_server,
)
from release.run.notes import previous_release, rebuilt_with, release_links, release_notes
from release.steps.notify.announcement import Announcement

if TYPE_CHECKING:
    from release.run.context import ReleaseContext


def gather(ctx: ReleaseContext) -> Announcement:
    """What the announcement of ``ctx``'s release says: notes, links, title."""
    config = ctx.config
    project = config.discord.project_name if config.discord else ctx.git.root.name
    previous = previous_release(ctx.git, ctx.commit, ctx.version, config.tag_prefix)
    github = github_repository(ctx.git.remote_url(config.remote))
    notes = release_notes(ctx.git, ctx.commit, ctx.version, config, previous, github)
    release_page = None
    if ctx.plan.runs("github-release"):  # a record of a step not planned is not this release's
        configured = config.github.repository if config.github else None
        repository = release_repository(ctx.env, configured, ctx.git.remote_url(config.remote))
        page = github_release_url(
            ctx.state.get("github-release"), release_server(ctx.env), repository
        )
        release_page = page
    sections, url = release_links(ctx, previous, github, release_page)
    stamp = datetime.fromtimestamp(ctx.git.commit_time(ctx.commit), tz=UTC).isoformat()
    return Announcement(
        project=project,
        version=ctx.version,
        tag=ctx.tag,
        commit=ctx.commit,
        notes=notes,
        sections=sections,
        url=url,
        timestamp=stamp,
        rebuilt_with=rebuilt_with(ctx),
    )
