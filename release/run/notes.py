"""What a release says about itself: its notes and its links, gathered from git, the state and
the configuration. The Discord announcement (``notify``) and the GitHub release
(``github-release``) say the same, so both take it from here.

``release_notes`` reads the changelog section of the version from the tagged commit
(``discord.changelog``, else the usual file names), or else takes the subjects of the
commits since the previous release of the same line (the highest final or post release
tag in the tagged commit's history, bump commits left out); ``release_links`` gathers the
links of what the other steps recorded (or, before they ran, what the configuration and the
plan say they will publish); ``rebuilt_with`` says what a post release rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from release.core import console
from release.core.gitobjects import decoded
from release.core.version import Kind, ReleaseVersion, try_parse_tag
from release.run.changelog import changelog_section, commit_message_pattern, github_anchor
from release.run.links import (
    ImageLinks,
    Section,
    announcement_links,
    distribution_names,
    pushed_images,
)

if TYPE_CHECKING:
    from release.core.config import Config
    from release.core.git import Git
    from release.run.context import ReleaseContext

# Where the notes are looked for when ``discord.changelog`` names no file.
CHANGELOG_CANDIDATES = (
    "CHANGELOG.md",
    "CHANGELOG.rst",
    "CHANGES.md",
    "CHANGES.rst",
    "HISTORY.md",
    "HISTORY.rst",
    "NEWS.md",
    "NEWS.rst",
)
# The most commit subjects the notes list when there is no changelog section.
MAX_COMMITS = 200


@dataclass(frozen=True)
class Notes:
    """The release notes and where they came from."""

    text: str
    source: str  # "CHANGELOG.md" or "the commits since version/4.1.0"
    url: str | None = None  # the full notes, linked when the text is cut


def changelog_problems(git: Git, commit: str, config: Config) -> list[str]:
    """A changelog the notes would quote must be UTF-8 text: checked before the release's
    first side effect (the announcement and the GitHub release are made last)."""
    changelog = config.discord.changelog if config.discord else None
    paths = [changelog] if changelog else list(CHANGELOG_CANDIDATES)
    found = git.blobs(commit, paths)  # every candidate by one git process
    problems = []
    for path in paths:
        data = found[path]
        if data is None:
            continue
        if b"\0" in data:
            problems.append(f"{path} is not a text file (it holds NUL bytes)")
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(
                f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                f"{error.start}): save it as UTF-8"
            )
    return problems


def previous_release(git: Git, commit: str, version: ReleaseVersion, prefix: str) -> str | None:
    """The tag of the previous release of the same line: the highest final or post
    release below ``version`` in the history of ``commit`` (pre-releases are not announced)."""
    merged = git.run("tag", "--merged", commit, "--list", f"{prefix}*", check=False)
    best: tuple[ReleaseVersion, str] | None = None
    for tag in merged.stdout.split():
        found = try_parse_tag(tag, prefix)
        if found is None or found.kind is Kind.PRE or not found < version:
            continue
        if best is None or best[0] < found:
            best = (found, tag)
    return best[1] if best else None


def commit_subjects(git: Git, commit: str, since: str | None, bump: re.Pattern[str]) -> list[str]:
    """The subjects of the commits since ``since`` (newest first), bump commits left out."""
    span = f"{since}..{commit}" if since else commit
    result = git.run(
        "log", "--no-merges", f"--max-count={MAX_COMMITS}", "--format=%s", span, check=False
    )
    if result.returncode != 0:
        return []
    return [s for s in result.stdout.splitlines() if s.strip() and not bump.fullmatch(s.strip())]


def release_notes(
    git: Git,
    commit: str,
    version: ReleaseVersion,
    config: Config,
    previous_tag: str | None,
    github: str | None,
) -> Notes:
    """The changelog section of ``version``, else the commit subjects since the previous release."""
    changelog = config.discord.changelog if config.discord else None
    candidates = [changelog] if changelog else list(CHANGELOG_CANDIDATES)
    files = git.blobs(commit, candidates)  # every candidate by one git process
    for path in candidates:
        text = decoded(commit, path, files[path])  # as ``git.show`` reads it
        if text is None:
            continue
        markdown = not path.lower().endswith((".rst", ".txt"))
        found = changelog_section(text, version.pep440, markdown)
        if found is None and not path.lower().endswith((".md", ".markdown", ".rst")):
            found = changelog_section(text, version.pep440, not markdown)
        if found is None:
            if changelog:
                console.notice(
                    f"{path} has no section for {version.pep440}: the notes list "
                    "the commits since the previous release"
                )
            continue
        body, heading = found
        url = None
        if github:
            url = f"{github}/blob/{commit}/{path}"
            if markdown:
                url += f"#{github_anchor(heading.text)}"
        return Notes(text=body, source=path, url=url)
    subjects = commit_subjects(
        git, commit, previous_tag, commit_message_pattern(config.commit_message)
    )
    since = f"the commits since {previous_tag}" if previous_tag else "the commits of this release"
    url = f"{github}/compare/{previous_tag}...{commit}" if github and previous_tag else None
    return Notes(text="\n".join(f"- {s}" for s in subjects), source=since, url=url)


def package_names_from_config(git: Git, commit: str, config: Config) -> list[str]:
    """The ``[project] name`` of every configured package (the folder name when there is none)."""
    import tomllib

    names = []
    for package in config.packages:
        name = PurePosixPath(package.path).name
        text = git.show(commit, package.pyproject)
        if text:
            try:
                project = tomllib.loads(text).get("project")
            except (tomllib.TOMLDecodeError, RecursionError):
                project = None  # the bump's pyproject writer names the file
            if isinstance(project, dict) and isinstance(project.get("name"), str):
                name = project["name"] or name
        names.append(name)
    return names


def changed_since_base(
    git: Git, commit: str, version: ReleaseVersion, config: Config
) -> list[str] | None:
    """The files a post release changed since its base ``X.Y.Z`` (None: no base tag here)."""
    base = git.rev(version.base.tag(config.tag_prefix))
    return None if base is None else git.changed_files(base, commit)


def rebuilt_with(ctx: ReleaseContext) -> str:
    """What a post release rebuilt its base with: an updated UI when it changed nothing but
    the UI's folder, else updated dependencies."""
    config = ctx.config
    if ctx.version.kind is Kind.POST and config.ui is not None:
        changed = changed_since_base(ctx.git, ctx.commit, ctx.version, config)
        ui = f"{config.ui.path.rstrip('/')}/"
        if changed and all(name.startswith(ui) for name in changed):
            return "an updated UI"
    return "updated dependencies"


def release_links(
    ctx: ReleaseContext,
    previous: str | None,
    github: str | None,
    github_release: str | None = None,
) -> tuple[tuple[Section, ...], str | None]:
    """The link sections of ``ctx``'s release and the title's link: what ``upload`` and
    ``push-image`` recorded, else (before they ran) what the plan says they will publish."""
    config = ctx.config
    distributions = distribution_names(ctx.state.get("upload"))
    if not distributions and ctx.plan.runs("upload"):
        distributions = package_names_from_config(ctx.git, ctx.commit, config)
    host = config.registry.host if config.registry else None
    images = pushed_images(ctx.state.get("push-image"), host)
    if not images and ctx.plan.runs("push-image"):
        images = [
            ImageLinks(f"{host}/{name}" if host else name, tags)
            for name, tags in ctx.plan.image_tags.items()
        ]
    return announcement_links(
        version=ctx.version,
        tag=ctx.tag,
        previous_tag=previous,
        index_url=config.pypi.index_url,
        distributions=distributions,
        images=images,
        github=github,
        github_release=github_release,
    )
