"""What the announcement says: rendering within Discord's limits, changelog sections, links."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devservices.discord import message_errors
from release.core.http import public_url
from release.core.version import parse_version
from release.run.changelog import (
    changelog_section,
    commit_message_pattern,
    github_anchor,
)
from release.run.links import (
    ImageLinks,
    announcement_links,
    distribution_names,
    github_repository,
    project_url,
    pushed_images,
)
from release.steps.notify.announcement import (
    CONTENT_MAX,
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    TITLE_MAX,
    Announcement,
    Notes,
    Section,
    limit_problems,
    render_message,
    width,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def announcement(
    notes: str = "- Faster nodes",
    *,
    version: str = "4.2.0",
    project: str = "acme",
    url: str | None = "https://github.com/acme/acme/blob/x/CHANGELOG.md#420",
    sections: tuple[Section, ...] = (),
    source: str = "CHANGELOG.md",
) -> Announcement:
    return Announcement(
        project=project,
        version=parse_version(version),
        tag=f"version/{version}",
        commit=COMMIT,
        notes=Notes(text=notes, source=source, url=url),
        sections=sections,
        url="https://github.com/acme/acme/compare/version/4.1.0...version/4.2.0",
        timestamp="2024-05-01T12:00:00+00:00",
    )


def embed(payload: dict) -> dict:  # type: ignore[type-arg]
    [only] = payload["embeds"]
    return only  # type: ignore[no-any-return]


# -- the message of each kind ---------------------------------------------------


def test_final_release_message_names_project_version_and_notes() -> None:
    payload = render_message(announcement("### Added\n- Faster nodes"))
    e = embed(payload)
    assert e["title"] == "acme 4.2.0"
    assert e["description"] == "### Added\n- Faster nodes"
    assert payload["content"] == "**acme 4.2.0** has been released"
    assert e["footer"]["text"] == f"version/4.2.0 · commit {COMMIT[:12]}"
    assert e["url"].endswith("compare/version/4.1.0...version/4.2.0")
    assert payload["allowed_mentions"] == {"parse": []}


def test_post_release_is_worded_as_a_rebuild_with_updated_dependencies() -> None:
    payload = render_message(announcement("- Bump requests", version="4.2.0.post1"))
    e = embed(payload)
    assert e["title"] == "acme 4.2.0.post1: a rebuild of 4.2.0"
    assert "a rebuild of 4.2.0 with updated dependencies" in payload["content"]
    assert e["description"].startswith("A rebuild of acme 4.2.0 with updated dependencies")
    assert e["description"].endswith("- Bump requests")
    assert e["color"] != embed(render_message(announcement()))["color"]


def test_empty_notes_still_make_a_valid_message() -> None:
    payload = render_message(announcement("  \n\n "))
    assert embed(payload)["description"] == "No release notes."
    assert limit_problems(payload) == []


def test_sections_become_fields_in_order() -> None:
    sections = (
        Section("Python packages", ("[acme 4.2.0](https://pypi.org/project/acme/4.2.0/)",)),
        Section("Empty", ("", "  ")),
        Section("Docker images", ("`h/acme:4.2.0`",)),
    )
    fields = embed(render_message(announcement(sections=sections)))["fields"]
    assert [f["name"] for f in fields] == ["Python packages", "Docker images"]


# -- limits ---------------------------------------------------------------------


def test_long_notes_are_cut_at_a_line_boundary_with_a_link_to_the_full_notes() -> None:
    lines = [f"- change number {n} with some words to make the line longer" for n in range(400)]
    notes = "\n".join(lines)
    payload = render_message(announcement(notes))
    description = embed(payload)["description"]
    assert limit_problems(payload) == []
    assert width(description) <= DESCRIPTION_MAX
    kept, link = description.rsplit("\n", 1)
    assert link == (
        "… [Read the full release notes](https://github.com/acme/acme/blob/x/CHANGELOG.md#420)"
    )
    assert notes.startswith(kept + "\n")  # whole lines only
    assert len(kept.splitlines()) > 10


def test_cut_notes_without_a_link_say_where_the_full_notes_are() -> None:
    notes = "\n".join(f"- line {n} " + "x" * 80 for n in range(200))
    description = embed(render_message(announcement(notes, url=None)))["description"]
    assert description.endswith("\n… (the full notes: CHANGELOG.md)")


def test_one_enormous_line_is_cut_too() -> None:
    payload = render_message(announcement("word " * 5000))
    assert limit_problems(payload) == []
    assert "Read the full release notes" in embed(payload)["description"]


def test_a_code_block_left_open_by_the_cut_is_closed_before_the_link() -> None:
    notes = "```\n" + "\n".join(f"line {n} " + "y" * 60 for n in range(300)) + "\n```"
    description = embed(render_message(announcement(notes)))["description"]
    body, link = description.rsplit("\n", 1)
    assert body.endswith("\n```")
    assert link.startswith("… [Read the full release notes]")


def test_astral_characters_count_twice() -> None:
    notes = "\n".join("😀" * 100 for _ in range(100))  # 20,000 UTF-16 units
    payload = render_message(announcement(notes))
    assert limit_problems(payload) == []
    assert message_errors(payload) == {}


def test_many_long_sections_leave_room_for_the_notes_and_stay_within_25_fields() -> None:
    sections = tuple(
        Section(
            f"Images {n}", tuple(f"`registry.example.org/team/image-{i}:4.2.0`" for i in range(60))
        )
        for n in range(40)
    )
    notes = "\n".join(f"- note {n}" for n in range(2000))
    payload = render_message(announcement(notes, sections=sections))
    e = embed(payload)
    assert limit_problems(payload) == []
    assert len(e.get("fields", [])) <= FIELDS_MAX
    assert width(e["description"]) >= 1000
    assert e["fields"][0]["value"].endswith("more")
    assert all(width(f["value"]) <= FIELD_VALUE_MAX for f in e["fields"])


def test_a_huge_project_name_is_cut_in_the_title() -> None:
    payload = render_message(announcement(project="p" * 1000))
    assert width(embed(payload)["title"]) <= TITLE_MAX
    assert embed(payload)["title"].endswith("…") or "…" in embed(payload)["title"]
    assert limit_problems(payload) == []


def test_limit_problems_names_every_broken_limit() -> None:
    payload = {
        "content": "c" * (CONTENT_MAX + 1),
        "embeds": [
            {
                "title": "t" * 300,
                "description": "d" * 5000,
                "fields": [{"name": "n", "value": "v" * 2000}] * 26,
                "footer": {"text": "f"},
            }
        ],
    }
    problems = limit_problems(payload)
    assert any(p.startswith("content") for p in problems)
    assert any("title" in p for p in problems)
    assert any("description" in p for p in problems)
    assert any("26 fields" in p for p in problems)
    assert any(f"> {EMBED_TOTAL_MAX}" in p for p in problems)


lines_strategy = st.lists(st.text(max_size=300), max_size=60).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    notes=st.one_of(st.text(max_size=9000), lines_strategy),
    project=st.text(max_size=400),
    kind=st.sampled_from(["4.2.0", "4.2.0.post3"]),
    url=st.one_of(st.none(), st.just("https://example.org/CHANGELOG.md#420")),
    sections=st.lists(
        st.builds(
            Section,
            st.text(max_size=300),
            st.lists(st.text(max_size=400), max_size=12).map(tuple),
        ),
        max_size=30,
    ),
)
def test_any_notes_render_within_discords_limits(
    notes: str, project: str, kind: str, url: str | None, sections: list[Section]
) -> None:
    payload = render_message(
        announcement(notes, version=kind, project=project, url=url, sections=tuple(sections))
    )
    assert limit_problems(payload) == []
    # The contract server's independent reading of the same limits agrees.
    assert message_errors(payload) == {}
    e = embed(payload)
    assert e["description"].strip()
    assert e["title"].strip()
    total = sum(1 for _ in e.get("fields", []))
    assert total <= FIELDS_MAX
    code_points = len(e["title"]) + len(e["description"]) + len(e["footer"]["text"])
    code_points += sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
    assert code_points <= EMBED_TOTAL_MAX


@settings(max_examples=50, deadline=None)
@given(notes=st.lists(st.text(alphabet="abc xyz-", min_size=1, max_size=80), max_size=30))
def test_notes_that_fit_are_sent_unchanged(notes: list[str]) -> None:
    text = "\n".join(n.strip() for n in notes if n.strip())
    if not text:
        return
    assert embed(render_message(announcement(text)))["description"] == text


# -- changelog sections ----------------------------------------------------------

MARKDOWN = """\
# Changelog

## [Unreleased]

- Not yet

## [4.2.0] - 2024-05-01

### Added

- Faster nodes

```python
# not a heading
print("hi")
```

## [4.2.0rc1] - 2024-04-20

- Candidate

## 4.1.0

- Older

[4.2.0]: https://github.com/acme/acme/compare/version/4.1.0...version/4.2.0
"""


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            "4.2.0",
            '### Added\n\n- Faster nodes\n\n```python\n# not a heading\nprint("hi")\n```',
        ),
        ("4.2.0rc1", "- Candidate"),
        ("4.1.0", "- Older"),
    ],
)
def test_markdown_section_of_a_version(version: str, expected: str) -> None:
    found = changelog_section(MARKDOWN, version, markdown=True)
    assert found is not None
    assert found[0] == expected


def test_markdown_without_the_version_has_no_section() -> None:
    assert changelog_section(MARKDOWN, "4.3.0", markdown=True) is None
    assert changelog_section(MARKDOWN, "4.2.0.post1", markdown=True) is None


@pytest.mark.parametrize(
    "heading",
    ["## 4.2.0", "## v4.2.0", "# Version 4.2.0 (2024-05-01)", "### 4.2.0 - Petronas", "## [4.2.0]"],
)
def test_markdown_heading_spellings(heading: str) -> None:
    level = heading.split()[0]
    text = f"# Changes\n\n{heading}\n\n- the change\n\n{level} 4.1.0\n\n- older\n"
    found = changelog_section(text, "4.2.0", markdown=True)
    assert found is not None and found[0] == "- the change"


def test_markdown_setext_headings() -> None:
    text = "Changes\n=======\n\n4.2.0\n-----\n\n- the change\n\n4.1.0\n-----\n\n- older\n"
    found = changelog_section(text, "4.2.0", markdown=True)
    assert found is not None and found[0] == "- the change"


def test_post_release_spellings_match() -> None:
    text = "## 4.2.0-post1\n\n- rebuilt\n\n## 4.2.0\n\n- first\n"
    found = changelog_section(text, "4.2.0.post1", markdown=True)
    assert found is not None and found[0] == "- rebuilt"


RST = """\
=========
Changelog
=========

4.2.0 (2024-05-01)
==================

Added
-----

- Faster nodes, see ``node.py`` and `the docs <https://docs.example.org>`_

Fixed
-----

- A crash

4.1.0
=====

- Older
"""


def test_restructuredtext_section_with_subsections() -> None:
    found = changelog_section(RST, "4.2.0", markdown=False)
    assert found is not None
    assert found[0] == (
        "**Added**\n\n- Faster nodes, see `node.py` and [the docs](https://docs.example.org)\n\n"
        "**Fixed**\n\n- A crash"
    )
    older = changelog_section(RST, "4.1.0", markdown=False)
    assert older is not None and older[0] == "- Older"


def test_github_anchor_of_a_keep_a_changelog_heading() -> None:
    assert github_anchor("[4.2.0] - 2024-05-01") == "420---2024-05-01"
    assert github_anchor("4.2.0") == "420"


def test_bump_commits_are_recognised_from_the_commit_message_template() -> None:
    pattern = commit_message_pattern("Updated the version to {version}")
    assert pattern.fullmatch("Updated the version to 4.1.0")
    assert not pattern.fullmatch("Updated the docs")


# -- links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/node.git", "https://github.com/acme/node"),
        ("https://github.com/acme/node", "https://github.com/acme/node"),
        ("git@github.com:acme/node.git", "https://github.com/acme/node"),
        ("ssh://git@github.com/acme/node.git", "https://github.com/acme/node"),
        ("https://x-access-token:abc@github.com/acme/node.git", "https://github.com/acme/node"),
        ("https://gitlab.com/acme/node.git", None),
        ("/srv/git/node.git", None),
        (None, None),
    ],
)
def test_github_repository_of_a_remote(remote: str | None, expected: str | None) -> None:
    assert github_repository(remote) == expected


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ("https://pypi.org/simple/", "https://pypi.org/project/acme-core/4.2.0/"),
        ("https://test.pypi.org/simple/", "https://test.pypi.org/project/acme-core/4.2.0/"),
        ("http://127.0.0.1:8080/simple/", "http://127.0.0.1:8080/simple/acme-core/"),
        (
            "https://user:secret@pkgs.example.org/simple",
            "https://pkgs.example.org/simple/acme-core/",
        ),
    ],
)
def test_project_page_on_the_index(index: str, expected: str) -> None:
    assert project_url(index, "Acme_Core", "4.2.0") == expected


def test_public_url_drops_credentials() -> None:
    assert public_url("https://u:p@host:8443/x") == "https://host:8443/x"


def test_distribution_names_from_an_upload_record() -> None:
    record = {
        "files": [
            "dist/acme_core-4.2.0-py3-none-any.whl",
            {"filename": "acme_core-4.2.0.tar.gz"},
            {"path": "/tmp/acme-node-4.2.0.tar.gz"},
            "not-a-distribution.txt",
        ],
        "projects": ["acme-extra"],
    }
    assert distribution_names(record) == ["acme-extra", "acme-core", "acme-node"]
    assert distribution_names(None) == []


def test_pushed_images_from_a_push_image_record() -> None:
    record = {
        "images": [
            {
                "name": "acme/node",
                "tags": ["4.2.0"],
                "channels": [
                    {"channel": "petronas", "from": "4.1.0", "to": "4.2.0"},
                    {"channel": "4.2", "from": None, "to": "4.2.0"},
                    {"channel": "latest", "from": "4.2.0", "to": "4.2.0"},
                ],
            },
            {"image": "acme/server", "references": ["h.example/acme/server:4.2.0"]},
        ]
    }
    images = pushed_images(record, "h.example")
    assert images == [
        ImageLinks(
            "h.example/acme/node",
            ("4.2.0",),
            (("petronas", "4.1.0", "4.2.0"), ("4.2", None, "4.2.0")),
        ),
        ImageLinks("h.example/acme/server", ("4.2.0",)),
    ]


def test_links_with_a_github_remote_include_the_compare_view() -> None:
    sections, url = announcement_links(
        version=parse_version("4.2.0"),
        tag="version/4.2.0",
        previous_tag="version/4.1.0",
        index_url="https://pypi.org/simple/",
        distributions=["acme-core"],
        images=[ImageLinks("h/acme/node", ("4.2.0",), (("petronas", "4.1.0", "4.2.0"),))],
        github="https://github.com/acme/acme",
    )
    compare = "https://github.com/acme/acme/compare/version/4.1.0...version/4.2.0"
    assert url == compare
    assert [s.name for s in sections] == ["Python packages", "Docker images", "Channels", "Changes"]
    assert sections[0].lines == ("[acme-core 4.2.0](https://pypi.org/project/acme-core/4.2.0/)",)
    assert sections[1].lines == ("`h/acme/node:4.2.0`",)
    assert sections[2].lines == ("`h/acme/node:petronas` → 4.2.0 (was 4.1.0)",)
    assert sections[3].lines == (f"[version/4.1.0...version/4.2.0]({compare})",)


def test_links_without_github_or_a_previous_release() -> None:
    sections, url = announcement_links(
        version=parse_version("1.0.0"),
        tag="version/1.0.0",
        previous_tag=None,
        index_url="https://pypi.org/simple/",
        distributions=[],
        images=[],
        github="https://github.com/acme/acme",
    )
    assert url == "https://github.com/acme/acme/tree/version/1.0.0"
    assert [s.name for s in sections] == ["Source"]
    assert announcement_links(
        version=parse_version("1.0.0"),
        tag="version/1.0.0",
        previous_tag=None,
        index_url="https://pypi.org/simple/",
        distributions=[],
        images=[],
        github=None,
    ) == ((), None)
