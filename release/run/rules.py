"""Where the release rules are read, and the configuration a release runs with
(docs/protection.md "Where the rules are read").

The rules are ``branches``, ``maintainers``, ``require-signed-tags``, ``allowed-signers``,
``yanked``, ``post-allowed-paths``, ``codenames`` and, for each image matched by name, its
``channels`` and ``extra-tags``. They are read from the tip of the remote's default branch,
never from the tagged commit: nothing a tagged commit says can widen who may release, from
where, or what a channel may point to. Every other key comes from the tagged commit.

Neither the remote nor the default branch is taken from the tagged commit:

- the remote is ``origin`` in GitHub Actions, elsewhere the ``remote`` of the working tree's
  configuration;
- the default branch is, in GitHub Actions, ``repository.default_branch`` of the event
  payload (the JSON file ``GITHUB_EVENT_PATH`` names); else the remote's ``HEAD`` (``git
  ls-remote --symref``, or ``refs/remotes/<remote>/HEAD`` with ``--offline``); only where
  neither exists the working tree's ``default-branch`` key, with a notice.

Its tip is fetched (``--offline``: as last fetched) and its ``pyproject.toml`` read; a
default branch without ``[tool.release]`` means the defaults, with a notice (a first
adoption). Where the branch cannot be named or read, the release is refused with the fix,
never allowed. Without any remote (a local repository) the local branch is read, with a
notice.

``read_policy`` does the git reads; ``effective_config`` is pure.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from release.core.config import CHANNEL_KINDS, Config, GitHub, parse_config
from release.core.errors import ReleaseError
from release.core.git import Git, GitError

RULES = "tool.release.branches, maintainers, yanked and the other rules"
PAYLOAD = "repository.default_branch of the event payload (GITHUB_EVENT_PATH)"


@dataclass(frozen=True)
class Policy:
    """The release rules of the default branch, and where they were read."""

    where: str  # "origin/main" (or the local "main"): named in every refusal
    commit: str | None  # the tip the rules were read from; None when it was not found
    config: Config | None  # the default branch's [tool.release]; None when it was not found
    notices: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    remote: str | None = None  # the remote the rules were read from (None: as configured)
    branch: str | None = None  # the default branch, as named outside the tagged commit

    def effective(self, config: Config) -> tuple[Config, tuple[str, ...]]:
        """``config`` (of the tagged commit) with these rules in force, and the notices."""
        return effective_config(
            config, self.config, self.where, remote=self.remote, branch=self.branch
        )


def in_github_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def rules_remote(env: Mapping[str, str], working: Config) -> str:
    """The remote the rules are read from: ``origin`` in GitHub Actions, else the working
    tree's ``remote`` (never the tagged commit's: see ``trusted_working``)."""
    return "origin" if in_github_actions(env) else working.remote


def git_default_remote(git: Git) -> str:
    """The remote git itself would use: ``checkout.defaultRemote``, else ``origin``."""
    return git.config("checkout.defaultRemote") or "origin"


def trusted_working(git: Git, working: Config, commit: str) -> tuple[Config, str | None]:
    """The working tree's configuration as far as it may name where the rules are read.

    A detached checkout of the tagged commit (``git checkout version/X``) is the tagged
    commit's configuration: its ``remote`` and ``default-branch`` could point the rules at a
    fork's branch or a local one. There, git's own default remote and the default
    ``default-branch`` stand in, and a notice says so. A branch checked out (the default
    branch, as a maintainer works) names them as configured: the maintainer chose it.
    """
    if git.current_branch() is not None or git.head() != commit:
        return working, None
    defaults = Config()
    remote = git_default_remote(git)
    if (working.remote, working.default_branch) == (remote, defaults.default_branch):
        return working, None
    notice = (
        f"this checkout is the tagged commit, whose remote ({working.remote}) and "
        f"default-branch ({working.default_branch}) are not trusted to say where the release "
        f"rules are: they are read from {remote} (git's default remote) instead; release from "
        "a checkout of the default branch to use its settings"
    )
    return dataclasses.replace(
        working, remote=remote, default_branch=defaults.default_branch
    ), notice


# -- the effective configuration (pure) --------------------------------------------------


def effective_config(
    tagged: Config,
    rules: Config | None,
    where: str,
    *,
    remote: str | None = None,
    branch: str | None = None,
) -> tuple[Config, tuple[str, ...]]:
    """The tagged commit's configuration with every rule replaced by the default branch's.

    ``rules`` is the default branch's configuration (None when it could not be read: the
    defaults then stand in, and the release is refused elsewhere). An image is matched by
    name: a listed one takes the default branch's ``channels`` and ``extra-tags``; one the
    default branch does not list moves the default channels and no extra tags, with a
    notice. ``remote`` and ``branch`` replace the tagged commit's ``remote`` and
    ``default-branch`` when given.
    """
    base = rules if rules is not None else Config()
    listed = {image.name: image for image in base.images}
    images = []
    notices: list[str] = []
    for image in tagged.images:
        ruled = listed.get(image.name)
        if ruled is not None:
            images.append(
                dataclasses.replace(image, channels=ruled.channels, extra_tags=ruled.extra_tags)
            )
            continue
        images.append(dataclasses.replace(image, channels=CHANNEL_KINDS, extra_tags=()))
        if rules is not None:
            notices.append(
                f"image {image.name} is not in tool.release.images on {where}: it moves the "
                f"default channels ({', '.join(CHANNEL_KINDS)}) and no extra tags; list it "
                f"there to choose its channels"
            )
    config = dataclasses.replace(
        tagged,
        branches=base.branches,
        maintainers=base.maintainers,
        require_signed_tags=base.require_signed_tags,
        allowed_signers=base.allowed_signers,
        yanked=base.yanked,
        post_allowed_paths=base.post_allowed_paths,
        codenames=base.codenames,
        images=tuple(images),
        # Where credentials are sent is a rule too: a branch must not send the upload
        # password, the OIDC token, the registry password or the GitHub token elsewhere.
        pypi=base.pypi,
        registry=base.registry,
        github=_github(tagged, base),
        remote=remote if remote is not None else tagged.remote,
        default_branch=branch if branch is not None else tagged.default_branch,
    )
    return config, tuple(notices)


def _github(tagged: Config, base: Config) -> GitHub | None:
    """The tagged commit's ``[tool.release.github]`` with the default branch's repository
    (None there: found at run time from ``GITHUB_REPOSITORY`` or the remote's URL)."""
    if tagged.github is None:
        return None
    repository = base.github.repository if base.github is not None else None
    return dataclasses.replace(tagged.github, repository=repository)


# -- naming the default branch -----------------------------------------------------------

_BAD_BRANCH = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/.]|[/.]$|\.lock$")


def branch_name_ok(name: str) -> bool:
    """Whether ``name`` is a plain branch name git accepts (pure; conservative)."""
    return bool(name) and name != "@" and _BAD_BRANCH.search(name) is None


def payload_default_branch(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``repository.default_branch`` of the GitHub event payload: (branch, notice).

    (None, None) without ``GITHUB_EVENT_PATH``; (None, why) when the file gives none.
    """
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None, None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, f"GITHUB_EVENT_PATH names {path}, which is not a readable JSON file"
    repository = data.get("repository") if isinstance(data, dict) else None
    branch = repository.get("default_branch") if isinstance(repository, dict) else None
    if isinstance(branch, str) and branch_name_ok(branch):
        return branch, None
    return None, f"the event payload {path} names no valid repository.default_branch"


@dataclass(frozen=True)
class Named:
    """The default branch, and what named it."""

    branch: str
    by: str  # "origin's HEAD", the payload, "tool.release.default-branch of the working tree"
    notices: tuple[str, ...] = ()


def name_default_branch(
    git: Git, remote: str, env: Mapping[str, str], *, offline: bool, fallback: str
) -> Named:
    """Name the default branch outside the tagged commit (the module's docstring says how).

    ``fallback`` is the working tree's ``default-branch``. Raises when the remote cannot be
    reached to ask.
    """
    notices: list[str] = []
    if in_github_actions(env):
        branch, notice = payload_default_branch(env)
        if branch is not None:
            return Named(branch, PAYLOAD)
        if notice is not None:
            notices.append(notice)
    if git.remote_url(remote) is not None:
        if offline:
            branch, by = git.tracking_head(remote), f"{remote}/HEAD as last fetched"
            missing = (
                f"this clone does not know {remote}'s HEAD (`git remote set-head {remote} "
                "--auto` sets it)"
            )
        else:
            try:
                branch = git.remote_head(remote)
            except GitError as error:
                raise ReleaseError(
                    f"cannot ask {remote} for its default branch, where the release rules "
                    f"are read: {error.message}",
                    f"check that {remote} is reachable, or pass --offline to read the rules as "
                    "last fetched",
                ) from None
            by, missing = f"{remote}'s HEAD", f"{remote}'s HEAD names no branch"
        if branch is not None and branch_name_ok(branch):
            return Named(branch, by, tuple(notices))
        notices.append(
            f"{missing}: the default branch is {fallback}, as the working tree's "
            "tool.release.default-branch says"
        )
    return Named(fallback, "tool.release.default-branch of the working tree", tuple(notices))


# -- reading the default branch ----------------------------------------------------------


def read_policy(
    git: Git, env: Mapping[str, str], offline: bool, *, remote: str, fallback: str
) -> Policy:
    """The rules on the tip of ``<remote>/<default branch>`` (fetched unless ``offline``).

    ``remote`` comes from ``rules_remote`` (or the command line); ``fallback`` is the
    working tree's ``default-branch``, used only when nothing else names the branch. A
    branch that cannot be read is a problem of the returned policy (never an allowance).
    """
    named = name_default_branch(git, remote, env, offline=offline, fallback=fallback)
    branch, notices = named.branch, list(named.notices)
    tracking = f"{remote}/{branch}"

    def refused(problem: str, where: str = tracking) -> Policy:
        return Policy(where, None, None, tuple(notices), (problem,), remote, branch)

    if not branch_name_ok(branch):
        return refused(f"{named.by} names {branch!r}, which is not a branch name: correct it")
    if git.remote_url(remote) is None:
        local = git.rev(f"refs/heads/{branch}")
        if local is None:
            return refused(
                f"there is no remote {remote} and no local branch {branch} to read {RULES} "
                f"from: add the remote (git remote add {remote} <url>) and run again",
                branch,
            )
        notices.append(
            f"there is no remote {remote}: {RULES} are read from the local branch {branch}"
        )
        return _policy_at(git, branch, local, env, notices, remote, branch)
    if not offline and not _fetch(git, remote, branch):
        return refused(
            f"{remote} has no branch {branch} (named by {named.by}), so {RULES} cannot be read: "
            f"push {branch} to {remote}, or name the default branch correctly"
        )
    commit = git.rev(f"refs/remotes/{tracking}")
    if commit is None:
        return refused(
            f"this clone has no {tracking} to read {RULES} from, and --offline forbids fetching "
            f"it: fetch it (git fetch {remote} {branch}; in GitHub Actions, actions/checkout "
            "with fetch-depth: 0), or run without --offline"
        )
    return _policy_at(git, tracking, commit, env, notices, remote, branch)


def _fetch(git: Git, remote: str, branch: str) -> bool:
    """Fetch the remote's default branch; False when the remote has no such branch."""
    try:
        git.fetch(remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    except GitError as error:
        if "couldn't find remote ref" in error.stderr:
            return False
        raise ReleaseError(
            f"cannot fetch {remote}/{branch} to read the release rules: {error.message}",
            f"check that {remote} is reachable, or pass --offline to read {remote}/{branch} "
            "as last fetched",
        ) from None
    return True


def _policy_at(
    git: Git,
    where: str,
    commit: str,
    env: Mapping[str, str],
    notices: list[str],
    remote: str,
    branch: str,
) -> Policy:
    text = git.show(commit, "pyproject.toml")
    config = default_branch_rules(text, env, where)
    if text is None or not _has_release_table(text):
        notices.append(
            f"{where} has no [tool.release] table (a first adoption): the default rules are in "
            f"force (branches {', '.join(config.branches)}; anyone who can push a tag may "
            "release)"
        )
    return Policy(where, commit, config, tuple(notices), (), remote, branch)


def _has_release_table(text: str) -> bool:
    """Whether ``text`` has a ``[tool.release]`` table; True when it cannot tell (invalid
    TOML, a ``tool`` that is not a table), so that ``parse_config`` reports the problem
    instead of the defaults standing in silently."""
    import tomllib

    try:
        tool = tomllib.loads(text).get("tool", {})
    except (tomllib.TOMLDecodeError, RecursionError):
        return True
    return "release" in tool if isinstance(tool, dict) else True


def default_branch_rules(text: str | None, env: Mapping[str, str], where: str) -> Config:
    """The default branch's ``[tool.release]`` (pure); the defaults when it has none yet.

    Paths are not checked against the tree: only the rules are used from it.
    """
    if text is None or not _has_release_table(text):
        text = "[tool.release]\n"  # the defaults, with the environment's overrides
    return parse_config(text, None, env, source=f"pyproject.toml on {where}")
