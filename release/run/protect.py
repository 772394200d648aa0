"""Who may release, signed tags, and a tag that moved (docs/protection.md "Protected releases").

The rules (``maintainers``, ``require-signed-tags``, ``allowed-signers`` ...) are read from
the tip of the remote's default branch, never from the tagged commit: ``release.run.rules``
names that branch outside the tagged commit and reads it into a ``Policy``.

The person releasing is ``GITHUB_ACTOR`` in GitHub Actions (and
``GITHUB_TRIGGERING_ACTOR`` when someone else re-ran the workflow: both must be
maintainers), else the tagger of an annotated tag, else ``git config user.email``.
An entry of ``maintainers`` matches a GitHub login, a tagger's name or an e-mail,
ignoring case.

In GitHub Actions, a run started by the push of the released tag (``GITHUB_REF``) releases
the commit that push named (``GITHUB_SHA``) or nothing: a tag moved since is refused.

These checks guard the tool's own runs. The real protection is the repository's
settings: the ``release`` environment with required reviewers, which holds the
secrets, and rules that restrict who may push ``version/*`` tags (docs/protection.md, "Repository
settings").

The decisions (``releasers``, ``maintainer_problems``, ``signature_problems``,
``moved_tag_problem``) are pure functions over data.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from release.core.config import Config
from release.core.git import Git, TagInfo
from release.run.rules import Policy

SIGNATURE_MARKERS = ("-----BEGIN PGP SIGNATURE-----", "-----BEGIN SSH SIGNATURE-----")


@dataclass(frozen=True)
class Releaser:
    """One person who is releasing, and how we know (``GITHUB_ACTOR``, the tagger ...)."""

    source: str  # "GITHUB_ACTOR", "the tagger of version/1.2.3", "git config user.email"
    identities: tuple[str, ...]  # what may match an entry of maintainers

    @property
    def shown(self) -> str:
        return " ".join([self.identities[0], *(f"<{i}>" for i in self.identities[1:])])


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


# -- a moved tag -----------------------------------------------------------------


def moved_tag_problem(env: Mapping[str, str], tag: str, info: TagInfo) -> tuple[str, str] | None:
    """(problem, fix) when a GitHub Actions run of the push of ``tag`` (``GITHUB_REF``) finds
    the tag on another commit than the push named (``GITHUB_SHA``); None otherwise (pure).

    ``GITHUB_SHA`` is the tagged commit (the tag object's id is accepted too: it names one
    commit for good).
    """
    if env.get("GITHUB_ACTIONS") != "true" or env.get("GITHUB_REF") != f"refs/tags/{tag}":
        return None
    pushed = env.get("GITHUB_SHA", "").strip().lower()
    if not pushed or pushed in (info.commit, info.object_id):
        return None
    return (
        f"{tag} points to commit {info.commit}, but the workflow runs for the push of {tag} "
        f"at commit {pushed} (GITHUB_SHA): the tag moved after it was pushed, and what it "
        "points to now is not what was pushed",
        "a pushed version tag never moves: release a new version instead, and block tag "
        "updates with a tag ruleset (docs/protection.md, Repository settings)",
    )
