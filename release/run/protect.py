"""Who may release, and signed tags (docs/protection.md "Protected releases").

``maintainers``, ``require-signed-tags``, ``allowed-signers`` and ``yanked`` are
read from the tip of the remote's default branch (``origin/main``, fetched first
unless ``--offline``), never from the tagged commit: a branch cannot grant itself
the right to release by editing its own ``pyproject.toml``. Without a remote the
local default branch is read instead, and the tool says so.

The person releasing is ``GITHUB_ACTOR`` in GitHub Actions (and
``GITHUB_TRIGGERING_ACTOR`` when someone else re-ran the workflow: both must be
maintainers), else the tagger of an annotated tag, else ``git config user.email``.
An entry of ``maintainers`` matches a GitHub login, a tagger's name or an e-mail,
ignoring case.

These checks guard the tool's own runs. The real protection is the repository's
settings: the ``release`` environment with required reviewers, which holds the
secrets, and rules that restrict who may push ``version/*`` tags (docs/protection.md, "Repository
settings").

``read_policy`` does the git reads; the decisions (``releasers``,
``maintainer_problems``, ``signature_problems``) are pure functions over data.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from release.core.config import Config, parse_config
from release.core.errors import PreflightError, ReleaseError
from release.core.git import Git, GitError, TagInfo

SIGNATURE_MARKERS = ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN SSH SIGNATURE-----")


@dataclass(frozen=True)
class Policy:
    """The release rules of the default branch, and where they were read."""

    where: str  # "origin/main" (or the local "main"): named in every refusal
    commit: str | None  # the tip the rules were read from; None when it was not found
    config: Config | None  # the default branch's [tool.release]; None when it was not found
    notices: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def govern(self, config: Config) -> Config:
        """``config`` (of the tagged commit) with the default branch's rules in force."""
        if self.config is None:
            return config
        return dataclasses.replace(
            config,
            maintainers=self.config.maintainers,
            require_signed_tags=self.config.require_signed_tags,
            allowed_signers=self.config.allowed_signers,
            yanked=self.config.yanked,
        )


@dataclass(frozen=True)
class Releaser:
    """One person who is releasing, and how we know (``GITHUB_ACTOR``, the tagger ...)."""

    source: str  # "GITHUB_ACTOR", "the tagger of version/1.2.3", "git config user.email"
    identities: tuple[str, ...]  # what may match an entry of maintainers

    @property
    def shown(self) -> str:
        return " ".join([self.identities[0], *(f"<{i}>" for i in self.identities[1:])])


# -- reading the default branch ------------------------------------------------


def read_policy(git: Git, config: Config, env: Mapping[str, str], offline: bool) -> Policy:
    """The rules on the tip of ``<remote>/<default-branch>`` (fetched unless ``offline``).

    ``config`` is the tagged commit's: it only says which remote and branch to read.
    Without that remote-tracking branch the local branch is read, with a notice. When
    neither exists the rules cannot be read: a problem when the tagged commit's own
    configuration restricts releases (its protection would silently vanish), else a notice.
    """
    remote, branch = config.remote, config.default_branch
    tracking = f"{remote}/{branch}"
    if git.remote_url(remote) is None:
        reason = f"there is no remote {remote}"
    else:
        on_remote = offline or _fetch(git, remote, branch)
        commit = git.rev(f"refs/remotes/{tracking}") if on_remote else None
        if commit is not None:
            return _policy_at(git, tracking, commit, env, [])
        reason = (
            f"{remote} has no branch {branch}" if not on_remote else f"this clone has no {tracking}"
        )
    local = git.rev(f"refs/heads/{branch}")
    rules = "tool.release.maintainers, allowed-signers and yanked"
    if local is not None:
        notice = f"{reason}: {rules} are read from the local branch {branch}"
        return _policy_at(git, branch, local, env, [notice])
    missing = f"{reason} and no local branch {branch}: {rules} cannot be read from it"
    if config.maintainers or config.require_signed_tags:
        fix = "fetch it (or run without --offline)" if offline else "push it"
        problem = (
            f"{missing}: {fix}, or set tool.release.default-branch to the branch that has them"
        )
        return Policy(tracking, None, None, problems=(problem,))
    return Policy(tracking, None, None, notices=(f"{missing} (set tool.release.default-branch)",))


def _fetch(git: Git, remote: str, branch: str) -> bool:
    """Fetch the remote's default branch; False when the remote has no such branch."""
    try:
        git.fetch(remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    except GitError as error:
        if "couldn't find remote ref" in error.stderr:
            return False
        raise ReleaseError(
            f"cannot fetch {remote}/{branch} to read tool.release.maintainers: {error.message}",
            f"check that {remote} is reachable, or pass --offline to read {remote}/{branch} "
            "as last fetched",
        ) from None
    return True


def _policy_at(
    git: Git, where: str, commit: str, env: Mapping[str, str], notices: list[str]
) -> Policy:
    text = git.show(commit, "pyproject.toml")
    config = default_branch_rules(text, env, where)
    if text is None or "release" not in _tool_tables(text):
        notices.append(f"{where} has no [tool.release] table: nobody is restricted from releasing")
    return Policy(where, commit, config, notices=tuple(notices))


def _tool_tables(text: str) -> set[str]:
    import tomllib

    try:
        return set(tomllib.loads(text).get("tool", {}))
    except tomllib.TOMLDecodeError:
        return set()


def default_branch_rules(text: str | None, env: Mapping[str, str], where: str) -> Config:
    """The default branch's ``[tool.release]`` (pure); defaults when it has none yet.

    Paths are not checked against the tree: only the rules are used from it.
    """
    if text is None or "release" not in _tool_tables(text):
        return Config()
    return parse_config(text, None, env, source=f"pyproject.toml on {where}")


def default_branch_config(
    git: Git, config: Config, env: Mapping[str, str], offline: bool
) -> Config:
    """``config`` with the rules of the default branch's tip in force (``Policy.govern``).

    Raises ``PreflightError`` when the rules cannot be read and ``config`` restricts releases.
    """
    policy = read_policy(git, config, env, offline)
    if policy.problems:
        raise PreflightError(list(policy.problems))
    return policy.govern(config)


# -- who releases --------------------------------------------------------------


def releasers(
    env: Mapping[str, str], tag: str, info: TagInfo, user_email: str | None
) -> list[Releaser]:
    """Everyone who must be a maintainer for this run (pure).

    An empty identity list means we cannot tell who it is.
    """
    if env.get("GITHUB_ACTIONS") == "true":
        actor = env.get("GITHUB_ACTOR", "").strip()
        found = [Releaser("GITHUB_ACTOR", (actor,) if actor else ())]
        triggering = env.get("GITHUB_TRIGGERING_ACTOR", "").strip()
        if triggering and triggering != actor:
            found.append(Releaser("GITHUB_TRIGGERING_ACTOR", (triggering,)))
        return found
    if info.annotated and (info.tagger_name or info.tagger_email):
        identities = tuple(i for i in (info.tagger_name, info.tagger_email) if i)
        return [Releaser(f"the tagger of {tag}", identities)]
    return [Releaser("git config user.email", (user_email,) if user_email else ())]


def is_maintainer(releaser: Releaser, maintainers: tuple[str, ...]) -> bool:
    """Whether one of the releaser's names, logins or e-mails is listed (ignoring case)."""
    listed = {_normal(m) for m in maintainers}
    return any(_normal(identity) in listed for identity in releaser.identities)


def _normal(identity: str) -> str:
    return identity.strip().lstrip("@").casefold()


def maintainer_problems(
    people: list[Releaser], maintainers: tuple[str, ...], where: str
) -> list[str]:
    """A refusal for everyone releasing who is not in ``maintainers`` (pure; [] when unset)."""
    if not maintainers:
        return []
    listed = ", ".join(maintainers)
    problems = []
    for person in people:
        if not person.identities:
            problems.append(
                f"cannot tell who is releasing ({person.source} is not set), and "
                f"tool.release.maintainers on {where} restricts releases to {listed}: "
                + _identify_hint(person.source)
            )
        elif not is_maintainer(person, maintainers):
            problems.append(
                f"{person.shown} ({person.source}) may not release: not in "
                f"tool.release.maintainers on {where} ({listed}); ask a maintainer to release, "
                f"or get added there by a reviewed change to {where.rsplit('/', 1)[-1]}"
            )
    return problems


def _identify_hint(source: str) -> str:
    if source.startswith("GITHUB_"):
        return "GitHub Actions sets it on every run"
    return "set it with `git config user.email you@example.org`, or tag with an annotated tag"


# -- signed tags ---------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What ``git verify-tag`` said about a tag."""

    annotated: bool
    signed: bool  # the tag object carries a signature block
    accepted: bool  # git verify-tag exited 0
    message: str = ""  # git's last line when it refused


def is_signed(tag_object: str) -> bool:
    """Whether a raw tag object carries a PGP or SSH signature (pure)."""
    return any(marker in tag_object for marker in SIGNATURE_MARKERS)


def verify(git: Git, tag: str, info: TagInfo, allowed_signers: str | None) -> Verification:
    """Run ``git verify-tag``, against ``allowed_signers`` (the file's text) for SSH keys."""
    raw = git.tag_object(tag) if info.annotated else None
    if raw is None:
        return Verification(annotated=False, signed=False, accepted=False)
    if not is_signed(raw):
        return Verification(annotated=True, signed=False, accepted=False)
    with tempfile.TemporaryDirectory(prefix="release-signers-") as folder:
        settings = {}
        if allowed_signers is not None:
            path = Path(folder) / "allowed_signers"
            path.write_text(allowed_signers, encoding="utf-8")
            settings["gpg.ssh.allowedSignersFile"] = str(path)
        result = git.verify_tag(tag, settings)
    output = (result.stderr or result.stdout).strip().splitlines()
    return Verification(
        annotated=True,
        signed=True,
        accepted=result.returncode == 0,
        message=output[-1] if output else f"exit code {result.returncode}",
    )


def signature_problems(
    tag: str, verification: Verification, config: Config, where: str, remote: str
) -> list[str]:
    """A refusal when signed tags are required and this one does not pass (pure)."""
    if not config.require_signed_tags or verification.accepted:
        return []
    required = f"tool.release.require-signed-tags on {where} requires a signed annotated tag"
    redo = (
        f"delete it (git tag -d {tag} && git push {remote} :refs/tags/{tag}) and make a signed "
        f'one with `git tag -s -m "Release" {tag} <commit>` (or `invoke tag --version '
        f"{tag.removeprefix(config.tag_prefix)} --sign` on the branch tip; for an SSH key: "
        "`git config gpg.format ssh` and `git config user.signingkey ~/.ssh/id_ed25519.pub`)"
    )
    if not verification.annotated:
        return [f"{tag} is a lightweight tag, but {required}: {redo}"]
    if not verification.signed:
        return [f"{tag} is not signed, but {required}: {redo}"]
    keys = (
        f"a key listed in {config.allowed_signers} on {where}"
        if config.allowed_signers
        else "a key this machine's GPG keyring trusts (or set tool.release.allowed-signers "
        "for SSH keys)"
    )
    return [f"git verify-tag refused {tag} ({verification.message}): sign it with {keys}"]


# -- the pre-flight check ------------------------------------------------------


def problems(
    git: Git, policy: Policy, tag: str, info: TagInfo, env: Mapping[str, str], remote: str
) -> list[str]:
    """Every refusal about who releases and how the tag is signed."""
    if policy.config is None or policy.commit is None:
        return []  # policy.problems already says why nothing could be read
    rules = policy.config
    found = maintainer_problems(
        releasers(env, tag, info, git.config("user.email")), rules.maintainers, policy.where
    )
    if rules.require_signed_tags:
        signers = None
        if rules.allowed_signers is not None:
            signers = git.show(policy.commit, rules.allowed_signers)
            if signers is None:
                return [
                    *found,
                    f"tool.release.allowed-signers names {rules.allowed_signers}, which does not "
                    f"exist on {policy.where}: commit it there",
                ]
        found += signature_problems(
            tag, verify(git, tag, info, signers), rules, policy.where, remote
        )
    return found
