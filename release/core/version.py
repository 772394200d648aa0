"""The tag grammar and ``ReleaseVersion`` (docs/design.md "Versions").

``packaging`` parses and orders PEP 440 versions; the grammar on top of it is
ours: exactly ``X.Y.Z``, optionally one of ``aN``/``bN``/``rcN`` or ``.postN``
(``-postN`` is accepted as the seed's spelling of the same post release).
Everything else is refused with what is wrong and, where one exists, the
canonical spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

from packaging.version import InvalidVersion, Version

from release.core.errors import UsageError

DEFAULT_PREFIX = "version/"

_NUM = r"(?:0|[1-9][0-9]*)"
_GRAMMAR = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:(?P<pre_l>a|b|rc)(?P<pre_n>{_NUM})|(?P<post_sep>\.|-)post(?P<post_n>{_NUM}))?"
)

_PRE_NAMES = {"a": "alpha", "b": "beta", "rc": "rc"}
_VERSION_INFO_NAMES = {"a": "alpha", "b": "beta", "rc": "candidate"}


class Kind(StrEnum):
    """What a version releases (docs/design.md "What each kind does")."""

    FINAL = "final"
    PRE = "pre"
    POST = "post"


@total_ordering
@dataclass(frozen=True)
class ReleaseVersion:
    """A version that may be released, with its representations for every ecosystem."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, int] | None = None
    post: int | None = None

    def __post_init__(self) -> None:
        if self.pre is not None and self.post is not None:
            raise ValueError("a version is either a pre-release or a post-release")

    @property
    def kind(self) -> Kind:
        if self.pre is not None:
            return Kind.PRE
        if self.post is not None:
            return Kind.POST
        return Kind.FINAL

    @property
    def base(self) -> ReleaseVersion:
        """``X.Y.Z`` without pre or post part (the base of a post release)."""
        return ReleaseVersion(self.major, self.minor, self.patch)

    @property
    def pep440(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre is not None:
            text += f"{self.pre[0]}{self.pre[1]}"
        if self.post is not None:
            text += f".post{self.post}"
        return text

    @property
    def docker_tag(self) -> str:
        # PEP 440 in canonical form only uses [0-9a-z.], all valid in a Docker tag.
        return self.pep440

    @property
    def npm(self) -> str:
        """The SemVer form used in package.json (``4.2.0-rc.1``, ``4.2.0-post1``)."""
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre is not None:
            text += f"-{_PRE_NAMES[self.pre[0]]}.{self.pre[1]}"
        if self.post is not None:
            text += f"-post{self.post}"
        return text

    @property
    def version_info(self) -> tuple[int, int, int, str, int, int]:
        """vantage6's ``version_info`` tuple: (major, minor, patch, stage, build, post)."""
        if self.pre is not None:
            stage, build = _VERSION_INFO_NAMES[self.pre[0]], self.pre[1]
        else:
            stage, build = "final", 0
        return (self.major, self.minor, self.patch, stage, build, self.post or 0)

    @property
    def packaging(self) -> Version:
        return Version(self.pep440)

    def tag(self, prefix: str = DEFAULT_PREFIX) -> str:
        """The canonical tag name."""
        return prefix + self.pep440

    def tag_spellings(self, prefix: str = DEFAULT_PREFIX) -> tuple[str, ...]:
        """Every tag name that means this version (a post release has two)."""
        if self.post is None:
            return (self.tag(prefix),)
        return (self.tag(prefix), f"{prefix}{self.base.pep440}-post{self.post}")

    def fields(self, codename: str | None) -> dict[str, str | int]:
        """The template fields of docs/configuration.md "Configuration"."""
        return {
            "version": self.pep440,
            "npm_version": self.npm,
            "docker_tag": self.docker_tag,
            "major": self.major,
            "minor": self.minor,
            "patch": self.patch,
            "codename": codename or "",
        }

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ReleaseVersion):
            return NotImplemented
        return self.packaging < other.packaging

    def __str__(self) -> str:
        return self.pep440


def parse_version(text: str, prefix: str = DEFAULT_PREFIX) -> ReleaseVersion:
    """Parse a version without prefix (``4.2.0rc1``); refuse anything else with a fix."""
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        raise UsageError(f"{text!r} is not a valid version: {_diagnose(text, prefix, '')}")
    return _from_match(match)


def parse_tag(tag: str, prefix: str = DEFAULT_PREFIX) -> ReleaseVersion:
    """Parse a tag (``version/4.2.0rc1``); refuse anything else with a fix."""
    if tag.startswith(prefix):
        match = _GRAMMAR.fullmatch(tag[len(prefix) :])
        if match is not None:
            return _from_match(match)
    raise UsageError(f"tag {tag!r} is not a valid version tag: {_diagnose_tag(tag, prefix)}")


def try_parse_tag(tag: str, prefix: str = DEFAULT_PREFIX) -> ReleaseVersion | None:
    """The version of a well-formed tag, or None (for scanning existing tags)."""
    if not tag.startswith(prefix):
        return None
    match = _GRAMMAR.fullmatch(tag[len(prefix) :])
    return _from_match(match) if match else None


def versions_of(tags: Iterable[str], prefix: str = DEFAULT_PREFIX) -> list[ReleaseVersion]:
    """The versions of the well-formed version tags among ``tags`` (others are passed over)."""
    return [v for v in (try_parse_tag(t, prefix) for t in tags) if v is not None]


def _from_match(match: re.Match[str]) -> ReleaseVersion:
    pre = None
    if match["pre_l"]:
        pre = (match["pre_l"], int(match["pre_n"]))
    post = int(match["post_n"]) if match["post_n"] else None
    return ReleaseVersion(int(match["major"]), int(match["minor"]), int(match["patch"]), pre, post)


def _diagnose_tag(tag: str, prefix: str) -> str:
    if tag == "":
        return f"the tag is empty: write {prefix}X.Y.Z"
    if tag != tag.strip() or any(c.isspace() for c in tag):
        fixed = "".join(tag.split())
        return (
            f"it contains spaces: write {fixed}"
            if _valid_tag(fixed, prefix)
            else "it contains spaces"
        )
    if not tag.startswith(prefix):
        rest = tag.rsplit("/", 1)[-1] if "/" in tag else tag
        if _GRAMMAR.fullmatch(rest):
            return f"the tag must start with {prefix!r}: write {prefix}{rest}"
        if tag.lower().startswith(prefix.lower()):
            rest_problem = _diagnose(tag[len(prefix) :], prefix, prefix)
            return f"the prefix must be exactly {prefix!r}: {rest_problem}"
        return f"the tag must start with {prefix!r} (for example {prefix}1.2.3)"
    return _diagnose(tag[len(prefix) :], prefix, prefix)


def _valid_tag(tag: str, prefix: str) -> bool:
    return tag.startswith(prefix) and _GRAMMAR.fullmatch(tag[len(prefix) :]) is not None


def _diagnose(text: str, prefix: str, shown_prefix: str) -> str:
    """Say what is wrong with a version string that failed the grammar."""

    def write(candidate: str) -> str:
        return f"write {shown_prefix}{candidate}"

    if text == "":
        return "the version is empty: expected X.Y.Z"
    if any(c.isspace() for c in text):
        fixed = "".join(text.split())
        return (
            f"it contains spaces: {write(fixed)}"
            if _GRAMMAR.fullmatch(fixed)
            else "it contains spaces"
        )
    if text[0] in "vV" and len(text) > 1 and text[1].isdigit():
        rest = text[1:]
        if _GRAMMAR.fullmatch(rest):
            return f"drop the v: {write(rest)}"
        return f"drop the v, and then: {_diagnose(rest, prefix, shown_prefix)}"
    if "!" in text:
        return "epochs (N!) are not supported"
    if "+" in text:
        public = text.split("+", 1)[0]
        if _GRAMMAR.fullmatch(public):
            return f"local versions (+...) cannot be released: {write(public)}"
        return "local versions (+...) cannot be released"
    if text != text.lower():
        if _GRAMMAR.fullmatch(text.lower()):
            return f"use lower case: {write(text.lower())}"
    try:
        parsed = Version(text)
    except InvalidVersion:
        return "expected X.Y.Z, X.Y.ZaN, X.Y.ZbN, X.Y.ZrcN or X.Y.Z.postN"
    if parsed.epoch:
        return "epochs (N!) are not supported"
    if parsed.dev is not None:
        return "development releases (.devN) cannot be released"
    if len(parsed.release) != 3:
        count = len(parsed.release)
        hint = ""
        if count < 3:
            padded = ".".join(str(n) for n in (*parsed.release, 0, 0)[:3])
            hint = f", for example {shown_prefix}{padded}"
        return f"three numbers needed (major.minor.patch), got {count}{hint}"
    if parsed.pre is not None and parsed.post is not None:
        return "a version is either a pre-release or a post-release, never both"
    if re.search(r"(?:^|[.a-z-])0[0-9]", text):
        return f"leading zeros are not allowed: {write(str(parsed))}"
    canonical = str(parsed)
    if _GRAMMAR.fullmatch(canonical):
        example = f"for example {shown_prefix}{parsed.base_version}"
        if parsed.pre is not None and not re.search(r"[0-9]$", text):
            return f"a pre-release needs its number, {example}{parsed.pre[0]}1"
        if parsed.post is not None and re.search(r"post$", text.lower()):
            return f"a post-release needs its number, {example}.post1"
        return write(canonical)
    return "expected X.Y.Z, X.Y.ZaN, X.Y.ZbN, X.Y.ZrcN or X.Y.Z.postN"
