"""``invoke tag --version X.Y.Z``: the maintainer's side of seed 3.3.2 in one command.

It refuses unless the version is valid, the current branch may be released (the
``branches`` of the remote's default branch, ``release.run.rules``), the tree is clean
and the branch equals its remote tip (after a fetch); it refuses a version whose tag
exists in any spelling, here or on the remote, and a final or post version lower than
the highest final of its major unless ``--backport`` is given on a ``release/*`` branch.
Then it creates an annotated tag on ``HEAD`` (signed with ``--sign``, or always when the
default branch sets ``require-signed-tags``) and pushes that tag and nothing else: CI
takes over.

Observing (git reads, fetches, ``ls-remote``) is separate from deciding
(``tag_problems``, pure) and from acting (``git tag``, ``git push``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from release.core import console
from release.core.config import Config
from release.core.errors import PreflightError, ReleaseError, StepError, UsageError
from release.core.files import matches_any
from release.core.git import Git, GitError
from release.core.version import Kind, ReleaseVersion, parse_tag, parse_version, versions_of
from release.pipeline.preflight import tagged_config, working_tree_config
from release.run import rules

BACKPORT_BRANCHES = ("release/*",)
RELEASE_WORKFLOW = ".github/workflows/release.yml"


@dataclass(frozen=True)
class TagObservation:
    """What ``invoke tag`` saw before deciding: the branch, the tree, the remote."""

    remote: str
    branch: str | None  # None: HEAD is detached
    dirty: tuple[str, ...]
    upstream: tuple[int, int] | None  # (ahead, behind) its remote tip; None: not on the remote
    local_tags: frozenset[str]
    remote_tags: frozenset[str]


def tag_problems(
    version: ReleaseVersion,
    prefix: str,
    branches: tuple[str, ...],
    seen: TagObservation,
    *,
    backport: bool,
) -> list[str]:
    """Every reason not to cut ``version`` here (pure); [] when it may be tagged."""
    problems: list[str] = []
    remote, branch = seen.remote, seen.branch
    allowed = ", ".join(branches)
    if branch is None:
        problems.append(f"HEAD is detached: check out the branch to release from ({allowed})")
    elif not matches_any(branches, branch):
        problems.append(
            f"{branch} is not a release branch (tool.release.branches: {allowed}): "
            "check out one of them"
        )
    if seen.dirty:
        shown = ", ".join(seen.dirty[:5]) + (
            f" and {len(seen.dirty) - 5} more" if len(seen.dirty) > 5 else ""
        )
        problems.append(f"the working tree has uncommitted changes ({shown}): commit or stash them")
    if branch is not None:
        problems += _upstream_problems(branch, remote, seen.upstream)
    problems += _existing_problems(version, prefix, seen)
    problems += _order_problems(version, prefix, branch, seen, backport)
    return problems


def _upstream_problems(branch: str, remote: str, upstream: tuple[int, int] | None) -> list[str]:
    tip = f"{remote}/{branch}"
    if upstream is None:
        return [f"{branch} is not on {remote}: push it first (git push -u {remote} {branch})"]
    ahead, behind = upstream
    if ahead and behind:
        return [
            f"{branch} has diverged from {tip} ({_commits(ahead)} ahead, {_commits(behind)} "
            f"behind): bring them together (git pull --rebase, then git push) and tag again"
        ]
    if behind:
        return [f"{branch} is {_commits(behind)} behind {tip}: update it (git pull --ff-only)"]
    if ahead:
        return [
            f"{branch} is {_commits(ahead)} ahead of {tip}: push {'it' if ahead == 1 else 'them'} "
            "first (git push), so that the tagged commit is on the remote branch"
        ]
    return []


def _commits(count: int) -> str:
    return f"{count} commit" + ("" if count == 1 else "s")


def _existing_problems(version: ReleaseVersion, prefix: str, seen: TagObservation) -> list[str]:
    problems = []
    for spelling in version.tag_spellings(prefix):
        if spelling in seen.remote_tags:
            problems.append(
                f"{spelling} already exists on {seen.remote}: version {version.pep440} is "
                "released or being released; choose the next version"
            )
        elif spelling in seen.local_tags:
            problems.append(
                f"{spelling} already exists in this clone (not on {seen.remote}): push it with "
                f"`git push {seen.remote} refs/tags/{spelling}`, or delete it with "
                f"`git tag -d {spelling}` and tag again"
            )
    return problems


def _order_problems(
    version: ReleaseVersion,
    prefix: str,
    branch: str | None,
    seen: TagObservation,
    backport: bool,
) -> list[str]:
    on_release_branch = branch is not None and matches_any(BACKPORT_BRANCHES, branch)
    if backport and not on_release_branch:
        return [f"--backport tags from a release/* branch, not {branch or 'a detached HEAD'}"]
    if version.kind is Kind.PRE:
        return []
    highest = highest_final(versions_of(seen.local_tags | seen.remote_tags, prefix), version.major)
    if highest is None or not version < highest or backport:
        return []
    return [
        f"{version.pep440} is lower than {highest.pep440}, the highest release of "
        f"{version.major}.x: tag it from a release/* branch with --backport if it is a backport"
    ]


def highest_final(versions: Iterable[ReleaseVersion], major: int) -> ReleaseVersion | None:
    """The highest final version of ``major`` (None when there is none)."""
    finals = [v for v in versions if v.major == major and v.kind is Kind.FINAL]
    return max(finals, default=None)


_GITHUB = re.compile(
    r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$"
)


def github_actions_url(remote_url: str, workflow: str | None) -> str | None:
    """Where the runs of a GitHub remote are shown (None for other hosts)."""
    match = _GITHUB.match(remote_url)
    if match is None:
        return None
    base = f"https://github.com/{match['owner']}/{match['repo']}/actions"
    return f"{base}/workflows/{workflow}" if workflow else base


# -- the task ------------------------------------------------------------------


def cut_tag(
    version_text: str | None,
    *,
    sign: bool = False,
    backport: bool = False,
    dry_run: bool = False,
    remote: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Check, create and push the version tag on ``HEAD``; return the tag's name."""
    env = dict(env if env is not None else os.environ)
    git = Git.discover()
    working = working_tree_config(git, env)
    prefix = working.tag_prefix
    version = _parse(version_text, prefix)
    tag = version.tag(prefix)
    head = git.head()
    if head is None:
        raise ReleaseError("the repository has no commits to tag")
    tagged_config(git, head, env, "HEAD")  # what CI will read at the tag must be valid
    remote = remote or rules.rules_remote(env, working)
    url = git.remote_url(remote)
    if url is None:
        raise ReleaseError(
            f"there is no remote {remote}",
            f"add it (git remote add {remote} <url>), or name another with --remote",
        )
    seen = observe(git, remote, prefix)
    # branches and require-signed-tags are the default branch's (release.run.rules), never
    # those of the commit being tagged.
    policy = rules.read_policy(
        git, env, offline=False, remote=remote, fallback=working.default_branch
    )
    for line in policy.notices:
        console.notice(line)
    branches = (policy.config or Config()).branches
    problems = [*tag_problems(version, prefix, branches, seen, backport=backport)]
    problems += policy.problems
    if problems:
        raise PreflightError(problems)
    signed = sign or bool(policy.config and policy.config.require_signed_tags)
    kind = "signed annotated" if signed else "annotated"
    what = f"the {kind} tag {tag} on {head[:12]} ({seen.branch})"
    if dry_run:
        console.info(
            f"dry run: would create {what} and push it to {remote} "
            f"(git push {remote} refs/tags/{tag}); nothing was changed"
        )
        return tag
    _create(git, tag, version, signed)
    try:
        git.run("push", "--quiet", "--no-follow-tags", remote, f"refs/tags/{tag}")
    except GitError as error:
        raise StepError(
            f"created {tag} in this clone, but pushing it to {remote} failed: {error.message}",
            f"push it with `git push {remote} refs/tags/{tag}` (or delete it with "
            f"`git tag -d {tag}` and run the same command again)",
        ) from None
    console.info(f"created {what} and pushed it to {remote}")
    workflow = RELEASE_WORKFLOW.rsplit("/", 1)[-1] if git.show(head, RELEASE_WORKFLOW) else None
    link = github_actions_url(url, workflow)
    console.info("CI now runs the release" + (f": follow it at {link}" if link else ""))
    return tag


def _parse(text: str | None, prefix: str) -> ReleaseVersion:
    if not text:
        raise UsageError("--version is required", "for example: invoke tag --version 1.2.3")
    if text.startswith(prefix):
        return parse_tag(text, prefix)
    return parse_version(text, prefix)


def observe(git: Git, remote: str, prefix: str) -> TagObservation:
    """Read the branch, the tree, and the remote's branch tip and version tags."""
    branch = git.current_branch()
    patterns = [f"refs/tags/{prefix}*"] + ([f"refs/heads/{branch}"] if branch else [])
    refs = git.ls_remote(remote, *patterns)
    remote_tags = frozenset(
        ref.removeprefix("refs/tags/").removesuffix("^{}")
        for ref in refs
        if ref.startswith("refs/tags/")
    )
    upstream = None
    if branch is not None and f"refs/heads/{branch}" in refs:
        tracking = f"refs/remotes/{remote}/{branch}"
        git.fetch(remote, f"+refs/heads/{branch}:{tracking}")
        upstream = git.ahead_behind("HEAD", tracking)
    return TagObservation(
        remote=remote,
        branch=branch,
        dirty=tuple(git.dirty_files()),
        upstream=upstream,
        local_tags=frozenset(git.tags(prefix + "*")),
        remote_tags=remote_tags,
    )


def _create(git: Git, tag: str, version: ReleaseVersion, signed: bool) -> None:
    try:
        git.run("tag", "-s" if signed else "-a", "-m", f"Release {version.pep440}", tag, "HEAD")
    except GitError as error:
        if not signed:
            raise
        raise ReleaseError(
            f"could not sign {tag}: {error.message}",
            "set up a signing key: `git config user.signingkey <key>` (for an SSH key also "
            "`git config gpg.format ssh`); nothing was tagged or pushed",
        ) from None
