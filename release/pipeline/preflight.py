"""Resolve a tag into a ``ReleaseContext`` and run the common pre-flight checks.

Everything here only reads (docs/design.md "Pre-flight"), except one thing the design
asks for: when the clone lacks the branch refs or history to decide where the
tag belongs (a shallow CI checkout), the branches are fetched from the remote,
and the tool says so. ``--offline`` refuses instead, with the fix.

Fatal problems (a malformed tag, a missing tag, an invalid configuration) raise
at once; the others are collected so that every problem is reported together.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from release.core import console
from release.core.config import Config, VersionFile, load_config, parse_config
from release.core.errors import ConfigError, PreflightError, ReleaseError, UsageError
from release.core.files import matches_any
from release.core.git import Git
from release.core.version import Kind, ReleaseVersion, parse_tag
from release.run import protect, rules
from release.run.context import Options, ReleaseContext
from release.run.plan import Observed, make_plan
from release.run.step import load_checks


def resolve_tag(git: Git, given: str | None, env: Mapping[str, str], prefix: str) -> str:
    """The tag to release: ``--tag``, ``RELEASE_TAG``, ``GITHUB_REF_NAME`` on a tag push,
    then the single version tag on ``HEAD``."""
    if given:
        return given
    if env.get("RELEASE_TAG"):
        return env["RELEASE_TAG"]
    if env.get("GITHUB_REF_TYPE") == "tag" or env.get("GITHUB_REF", "").startswith("refs/tags/"):
        if env.get("GITHUB_REF_NAME"):
            return env["GITHUB_REF_NAME"]
    head = git.head()
    if head is None:
        raise UsageError("no --tag given and the repository has no commits", "pass --tag")
    tags = [t for t in git.tags_at(head) if t.startswith(prefix)]
    if len(tags) == 1:
        return tags[0]
    if not tags:
        raise UsageError(
            f"no --tag given, RELEASE_TAG is not set and HEAD has no {prefix}* tag",
            f"pass --tag {prefix}X.Y.Z",
        )
    raise UsageError(
        f"no --tag given and HEAD has several version tags ({', '.join(sorted(tags))})",
        "pass --tag to choose one",
    )


def working_tree_config(git: Git, env: Mapping[str, str]) -> Config:
    """The configuration of the working tree: the tag prefix, and (outside GitHub Actions) the
    remote and the fallback default branch the rules are read from (``release.run.rules``)."""
    return load_config(git.root, env, check_paths=False)


def tagged_config(git: Git, commit: str, env: Mapping[str, str], tag: str) -> Config:
    """The configuration of the tagged commit, with paths checked against its tree.

    Its rules are not in force: ``resolve`` replaces them with the default branch's
    (``release.run.rules.effective_config``).
    """
    text = git.show(commit, "pyproject.toml")
    if text is None:
        raise ConfigError(f"{tag} has no pyproject.toml in the repository root")
    return parse_config(
        text,
        git.files(commit),
        env,
        source=f"pyproject.toml at {tag}",
        project_folder=git.root.name,
    )


def resolve(tag_arg: str | None, options: Options, start: Path | None = None) -> ReleaseContext:
    """Everything a step needs to know about the tag, found without side effects.

    The configuration is the effective one: the tagged commit's, with every rule read from
    the remote's default branch (``release.run.rules``). Raises for fatal problems; the
    remaining pre-flight problems land in the plan.
    """
    git = Git.discover(start)
    env = options.env
    working = working_tree_config(git, env)
    prefix = working.tag_prefix
    tag = resolve_tag(git, tag_arg, env, prefix)
    version = parse_tag(tag, prefix)
    info = git.tag(tag)
    if info is None:
        raise ReleaseError(
            f"tag {tag} does not exist in this repository",
            f"create it with `invoke tag --version {version.pep440}`, "
            f"or fetch it with `git fetch origin tag {tag}`",
        )
    moved = protect.moved_tag_problem(env, tag, info)
    if moved is not None:
        raise ReleaseError(*moved)
    tagged = tagged_config(git, info.commit, env, tag)
    problems: list[str] = []
    notices: list[str] = []
    problems += _spelling_problems(git, tag, version, tagged.tag_prefix)
    # The rules come from the tip of the default branch (docs/protection.md "Where the rules
    # are read"), never from the tagged commit; the branch refs are listed before that
    # branch is fetched, to tell whether the clone can say where the tag belongs.
    working, untrusted = rules.trusted_working(git, working, info.commit)
    if untrusted is not None:
        notices.append(untrusted)
    remote = rules.rules_remote(env, working)
    refs = _branch_refs(git, remote)
    policy = rules.read_policy(
        git, env, options.offline, remote=remote, fallback=working.default_branch
    )
    config, image_notices = policy.effective(tagged)
    notices += policy.notices
    notices += image_notices
    problems += policy.problems
    branch = None
    if not policy.problems:  # which branches are allowed is unknown otherwise
        branch = _branch(git, info.commit, config, options, refs, policy.where, notices, problems)
    problems += _clean_tree_problems(git, config, version)
    if version.kind is Kind.POST:
        problems += _post_problems(git, info.commit, version, config)
    problems += protect.problems(git, policy, tag, info, env, config.remote)
    observed = Observed(
        tag=tag,
        commit=info.commit,
        branch=branch or "?",
        notices=tuple(notices),
        problems=tuple(problems),
    )
    plan = make_plan(version, config, observed)
    return ReleaseContext(
        git=git,
        tag=tag,
        version=version,
        commit=info.commit,
        branch=branch or "?",
        config=config,
        plan=plan,
        options=options,
    )


def _spelling_problems(git: Git, tag: str, version: ReleaseVersion, prefix: str) -> list[str]:
    others = [t for t in version.tag_spellings(prefix) if t != tag and git.tag(t) is not None]
    if others:
        return [
            f"{tag} and {', '.join(others)} spell the same version {version.pep440}: "
            f"delete one of them (git tag -d {others[0]} && git push origin :refs/tags/{others[0]})"
        ]
    return []


def _branch(
    git: Git,
    commit: str,
    config: Config,
    options: Options,
    refs: set[str],
    where: str,
    notices: list[str],
    problems: list[str],
) -> str | None:
    """The allowed branch (``config.branches``, the default branch's) the tag belongs to.

    ``refs`` are the clone's branch names as they were before the rules were fetched.
    """
    candidates = _allowed_branches(git, commit, config)
    if _needs_fetch(git, config, candidates, refs):
        if options.offline:
            if not candidates:
                problems.append(
                    "this clone lacks the branch history to tell where the tag belongs, and "
                    "--offline forbids fetching it: fetch it (in GitHub Actions, "
                    "actions/checkout with fetch-depth: 0)"
                )
                return None
        else:
            notices.append(
                f"this clone lacks the branch history to tell where the tag belongs: "
                f"fetched the branches from {config.remote}"
            )
            git.fetch(
                config.remote, f"+refs/heads/*:refs/remotes/{config.remote}/*", unshallow=True
            )
            candidates = _allowed_branches(git, commit, config)
    allowed = ", ".join(config.branches)
    if not candidates:
        problems.append(
            f"the tagged commit {commit[:12]} is not on an allowed branch ({allowed}), as "
            f"tool.release.branches on {where} says: tag a commit of one of them"
        )
        return None
    if options.branch:
        if options.branch in candidates:
            return options.branch
        problems.append(
            f"--branch {options.branch} does not contain the tagged commit: "
            f"choose one of {', '.join(candidates)}"
        )
        return None
    if len(candidates) == 1:
        return candidates[0]
    if config.default_branch in candidates:
        return config.default_branch
    problems.append(
        f"the tagged commit is on several allowed branches ({', '.join(candidates)}): "
        "choose one with --branch"
    )
    return None


def _allowed_branches(git: Git, commit: str, config: Config) -> list[str]:
    names = set(git.branches_containing(commit).values())
    return sorted(name for name in names if config.branch_allowed(name))


def _branch_refs(git: Git, remote: str) -> set[str]:
    """The clone's local and ``remote``-tracking branch names (``origin/x`` -> ``x``)."""
    refs = git.out("for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes")
    return {
        ref.split("/", 1)[1] if ref.startswith(remote + "/") else ref for ref in refs.splitlines()
    }


def _needs_fetch(git: Git, config: Config, candidates: list[str], refs: set[str]) -> bool:
    """The clone cannot decide: it is shallow (some branches may hide the commit), or it
    found no allowed branch and had no ref of any allowed branch."""
    if git.remote_url(config.remote) is None:
        return False
    if git.is_shallow():
        return True
    return not candidates and not any(config.branch_allowed(name) for name in refs)


def _clean_tree_problems(git: Git, config: Config, version: ReleaseVersion) -> list[str]:
    """Tracked changes other than version files that already hold this version.

    The repository has a working tree: ``Git.discover`` found its top level.
    """
    dirty = git.dirty_files()
    if not dirty:
        return []
    from release.core.writers.plan import (
        version_file_map,  # version files and the __build__ files beside
    )

    version_files = version_file_map(config)
    offending = [name for name in dirty if not _holds(git, name, version_files, version)]
    if not offending:
        return []
    shown = ", ".join(offending[:5]) + (
        f" and {len(offending) - 5} more" if len(offending) > 5 else ""
    )
    return [f"the working tree has uncommitted changes ({shown}): commit or stash them first"]


def _holds(
    git: Git, name: str, version_files: Mapping[str, VersionFile], version: ReleaseVersion
) -> bool:
    """Whether the changed file ``name`` is a version file that already holds ``version``."""
    from release.core.writers.plan import holds_version

    entry = version_files.get(name)
    if entry is None:
        return False
    path = git.root / name
    return path.is_file() and holds_version(entry, path, version)


def _post_problems(git: Git, commit: str, version: ReleaseVersion, config: Config) -> list[str]:
    base = version.base.tag(config.tag_prefix)
    info = git.tag(base)
    if info is None:
        return [
            f"post release {version.pep440} needs its base tag {base}, which does not exist: "
            f"release {version.base.pep440} first (or fetch its tag)"
        ]
    changed = git.changed_files(info.commit, commit)
    offending = [name for name in changed if not post_change_allowed(name, config)]
    if not offending:
        return []
    shown = ", ".join(offending[:5]) + (
        f" and {len(offending) - 5} more" if len(offending) > 5 else ""
    )
    return [
        f"post release {version.pep440} changes code since {base} ({shown}): code changes are "
        "never released as .postN; release them as a new patch version"
    ]


def post_change_allowed(path: str, config: Config) -> bool:
    """Whether a post release may change ``path`` (docs/design.md "What each kind does")."""
    version_paths = [vf.path for vf in config.version_files]
    if path in {m for vf in config.version_files for m in vf.matches}:
        return True
    from release.core.writers.plan import (
        companion_paths,  # the __build__ files beside version-info files
    )

    if path in companion_paths(config):
        return True
    if version_paths and matches_any(version_paths, path):
        return True
    if config.discord and config.discord.changelog == path:
        return True
    if config.ui and (path == config.ui.path or path.startswith(config.ui.path.rstrip("/") + "/")):
        return True
    return matches_any(config.post_allowed_paths, path)


def step_problems(ctx: ReleaseContext) -> list[str]:
    """The pre-flight problems of every step the plan will run.

    Each step's checks come from the light module the catalog names, so checking imports
    no step's machinery.
    """
    problems: list[str] = []
    for action in ctx.plan.actions:
        if not action.runs:
            continue
        checks = load_checks(action.step)
        if checks is not None:
            problems += [f"{action.step}: {p}" for p in checks(ctx)]
    return problems


def check(ctx: ReleaseContext, *, steps: bool) -> None:
    """Raise ``PreflightError`` with every problem, common and (with ``steps``) per step."""
    problems = list(ctx.plan.problems)
    if steps:
        problems += step_problems(ctx)
    for note in ctx.plan.notices:
        console.notice(note)
    if problems:
        raise PreflightError(problems)
