"""The tag grammar of docs/design.md "Versions": every example, conversions, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from release.core.errors import UsageError
from release.core.version import Kind, ReleaseVersion, parse_tag, parse_version

CONVERSIONS = [
    # tag, pep440, docker, npm, version_info, kind
    ("version/4.2.0", "4.2.0", "4.2.0", "4.2.0", (4, 2, 0, "final", 0, 0), Kind.FINAL),
    (
        "version/4.2.0rc1",
        "4.2.0rc1",
        "4.2.0rc1",
        "4.2.0-rc.1",
        (4, 2, 0, "candidate", 1, 0),
        Kind.PRE,
    ),
    ("version/4.2.0a3", "4.2.0a3", "4.2.0a3", "4.2.0-alpha.3", (4, 2, 0, "alpha", 3, 0), Kind.PRE),
    ("version/4.2.0b2", "4.2.0b2", "4.2.0b2", "4.2.0-beta.2", (4, 2, 0, "beta", 2, 0), Kind.PRE),
    (
        "version/4.2.0.post1",
        "4.2.0.post1",
        "4.2.0.post1",
        "4.2.0-post1",
        (4, 2, 0, "final", 0, 1),
        Kind.POST,
    ),
    (
        "version/4.2.0-post1",
        "4.2.0.post1",
        "4.2.0.post1",
        "4.2.0-post1",
        (4, 2, 0, "final", 0, 1),
        Kind.POST,
    ),
    ("version/0.0.0", "0.0.0", "0.0.0", "0.0.0", (0, 0, 0, "final", 0, 0), Kind.FINAL),
    (
        "version/10.20.30rc0",
        "10.20.30rc0",
        "10.20.30rc0",
        "10.20.30-rc.0",
        (10, 20, 30, "candidate", 0, 0),
        Kind.PRE,
    ),
]


@pytest.mark.parametrize(("tag", "pep440", "docker", "npm", "info", "kind"), CONVERSIONS)
def test_accepted_tags_convert_as_the_design_table_says(tag, pep440, docker, npm, info, kind):
    version = parse_tag(tag)
    assert version.pep440 == pep440
    assert version.docker_tag == docker
    assert version.npm == npm
    assert version.version_info == info
    assert version.kind is kind


REFUSED = [
    ("version/v1.2.3", "drop the v: write version/1.2.3"),
    ("version/1.2.3-rc1", "write version/1.2.3rc1"),
    ("version/1.2", "three numbers needed"),
    ("version/1.2.3.4", "three numbers needed"),
    ("version/1.2.3.dev1", "development releases"),
    ("version/1.2.3+local", "write version/1.2.3"),
    ("version/1!1.2.3", "epochs"),
    ("version/1.2.3alpha1", "write version/1.2.3a1"),
    ("version/1.2.3beta1", "write version/1.2.3b1"),
    ("version/1.2.3c1", "write version/1.2.3rc1"),
    ("version/1.2.3pre1", "write version/1.2.3rc1"),
    ("version/1.2.3preview1", "write version/1.2.3rc1"),
    ("version/1.2.3RC1", "write version/1.2.3rc1"),
    ("version/1.2.3rc1.post1", "either a pre-release or a post-release"),
    ("version/01.2.3", "leading zeros"),
    ("version/1.2.3rc01", "leading zeros"),
    ("version/1.2.3 ", "spaces"),
    ("version/ 1.2.3", "spaces"),
    ("1.2.3", "must start with 'version/': write version/1.2.3"),
    ("release/1.2.3", "must start with 'version/': write version/1.2.3"),
    ("", "empty"),
    ("version/", "empty"),
    ("version/1.2.3rc", "needs its number"),
    ("version/1.2.3.post", "needs its number"),
    ("version/1.2.3post1", "write version/1.2.3.post1"),
    ("version/abc", "expected X.Y.Z"),
]


@pytest.mark.parametrize(("tag", "expected"), REFUSED)
def test_refused_tags_say_what_is_wrong_and_the_fix(tag, expected):
    with pytest.raises(UsageError) as caught:
        parse_tag(tag)
    assert expected in str(caught.value)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_custom_prefix_is_honoured():
    assert parse_tag("release-1.2.3", prefix="release-").pep440 == "1.2.3"
    with pytest.raises(UsageError, match=r"must start with .release-.: write release-1\.2\.3"):
        parse_tag("version/1.2.3", prefix="release-")


def test_post_release_has_both_spellings_and_a_base():
    version = parse_tag("version/4.2.0-post1")
    assert version.tag_spellings() == ("version/4.2.0.post1", "version/4.2.0-post1")
    assert version.base == ReleaseVersion(4, 2, 0)
    assert parse_tag("version/4.2.0").tag_spellings() == ("version/4.2.0",)


def test_ordering_follows_pep440():
    ordered = ["3.0.0", "3.0.5", "3.1.0a1", "3.1.0b1", "3.1.0rc1", "3.1.0", "3.1.0.post1", "3.2.0"]
    versions = [parse_version(v) for v in ordered]
    assert sorted(reversed(versions)) == versions


numbers = st.integers(min_value=0, max_value=10**6)
pre = st.one_of(st.none(), st.tuples(st.sampled_from(["a", "b", "rc"]), numbers))


@st.composite
def versions(draw):
    p = draw(pre)
    post = None if p is not None else draw(st.one_of(st.none(), numbers))
    return ReleaseVersion(draw(numbers), draw(numbers), draw(numbers), p, post)


@given(versions())
def test_generated_valid_versions_round_trip(version):
    assert parse_tag(version.tag()) == version
    assert parse_version(version.pep440) == version
    assert Version(version.pep440) == version.packaging
    assert str(Version(version.pep440)) == version.pep440  # already canonical


@given(versions(), versions())
def test_order_matches_packaging(a, b):
    assert (a < b) == (a.packaging < b.packaging)


near_miss = st.builds(
    lambda v, junk, where: v.pep440[:where] + junk + v.pep440[where:],
    versions(),
    st.sampled_from(["v", "V", ".", "-", "+", "!", " ", "0", "rc", "dev", "post", "_", "x", "A"]),
    st.integers(min_value=0, max_value=12),
)


@given(near_miss)
def test_near_misses_are_refused_with_a_message_or_accepted_canonically(text):
    try:
        version = parse_tag("version/" + text)
    except UsageError as error:
        assert str(error).startswith("tag ")
        assert "\n" not in str(error)
    else:
        assert version.tag() in ("version/" + text, "version/" + text.replace("-post", ".post"))


@given(st.text(max_size=30))
def test_arbitrary_text_never_crashes(text):
    try:
        parse_tag(text)
    except UsageError:
        pass
