"""The GitHub release's pure rules: "Latest", the text, the files against the assets, where it
goes (repository, API, token), and the record it keeps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from release.core import console
from release.core.config import parse_config
from release.core.errors import ConfigError, ReleaseError
from release.core.version import parse_tag, parse_version
from release.run.context import Options
from release.run.handoff import EXTRA_KEY, HandedFile, Handoff
from release.run.links import (
    Section,
    github_release_url,
    release_repository,
    release_server,
    remote_repository,
)
from release.run.notes import Notes
from release.run.records import problem
from release.steps.github_release.credentials import api_base, read_token, repository_of
from release.steps.github_release.files import built_files, release_files
from release.steps.github_release.rules import (
    BODY_MAX,
    LocalAsset,
    RemoteAsset,
    compare_assets,
    make_latest,
    release_body,
    release_name,
)

SHA_A = "a" * 64
SHA_B = "b" * 64
TAGS = ["version/3.0.0", "version/3.0.4", "version/3.1.0", "version/3.2.0rc1", "v9", "latest"]


# -- "Latest" moves forward only -------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "tags", "yanked", "latest"),
    [
        ("3.1.0", TAGS, (), "true"),  # the highest final (a higher rc does not count)
        ("3.0.5", [*TAGS, "version/3.0.5"], (), "false"),  # a backport
        ("3.2.0rc1", TAGS, (), "false"),  # a pre-release never
        ("3.1.0.post1", [*TAGS, "version/3.1.0.post1"], (), "true"),  # post releases count
        ("3.1.0", [*TAGS, "version/3.1.0.post1"], (), "false"),  # ... and outrank their base
        ("3.0.4", TAGS, ("3.1.0",), "true"),  # a yanked higher version does not count
        ("3.1.0", TAGS, ("3.1.0",), "false"),  # a yanked version never takes it
        ("4.0.0", TAGS, (), "true"),  # a tag not fetched yet: itself counts
    ],
)
def test_latest_is_taken_only_by_the_highest_final_or_post(
    version: str, tags: list[str], yanked: tuple[str, ...], latest: str
) -> None:
    assert make_latest(parse_version(version), tags, "version/", yanked) == latest


versions = st.tuples(
    st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.sampled_from(["", "rc1", ".post1"])
).map(lambda v: f"{v[0]}.{v[1]}.{v[2]}{v[3]}")


@given(st.lists(versions, min_size=1, max_size=12, unique=True), st.data())
def test_exactly_the_highest_final_or_post_takes_latest(released: list[str], data: Any) -> None:
    yanked = data.draw(st.lists(st.sampled_from(released), unique=True))
    tags = [f"version/{v}" for v in released]
    taking = [
        v for v in released if make_latest(parse_version(v), tags, "version/", yanked) == "true"
    ]
    eligible = [parse_version(v) for v in released if "rc" not in v and v not in yanked]
    assert [parse_version(v) for v in taking] == ([max(eligible)] if eligible else [])


# -- what it says ---------------------------------------------------------------------------


def test_the_name_and_body_of_a_final_release_are_its_notes_and_links() -> None:
    version = parse_version("4.2.0")
    notes = Notes("- Faster nodes\n- Fewer bugs", "CHANGELOG.md")
    sections = [Section("Python packages", ("[acme 4.2.0](https://pypi.org/project/acme/4.2.0/)",))]
    body = release_body(project="acme", version=version, notes=notes, sections=sections)
    assert release_name("acme", version) == "acme 4.2.0"
    assert body == (
        "- Faster nodes\n- Fewer bugs\n\n### Python packages\n\n"
        "- [acme 4.2.0](https://pypi.org/project/acme/4.2.0/)"
    )


def test_a_post_release_says_it_is_a_rebuild_without_package_files() -> None:
    body = release_body(
        project="acme",
        version=parse_version("4.2.0.post1"),
        notes=Notes("", "the commits since version/4.2.0"),
        sections=[],
        rebuilt_with="an updated UI",
    )
    assert body == (
        "A rebuild of acme 4.2.0 with an updated UI; the code is the one released as 4.2.0. "
        "It carries no package files: the Python packages are those of 4.2.0."
    )


def test_notes_beyond_githubs_limit_are_cut_at_a_line_with_a_link_to_all_of_them() -> None:
    text = "\n".join(f"- change {n}: " + "words " * 20 for n in range(2000))
    url = "https://github.com/acme/acme/blob/c0ffee/CHANGELOG.md#420"
    body = release_body(
        project="acme",
        version=parse_version("4.2.0"),
        notes=Notes(text, "CHANGELOG.md", url),
        sections=[Section("Source", ("[version/4.2.0](https://github.com/acme/acme/tree/x)",))],
    )
    assert len(body) <= BODY_MAX
    assert f"… ([the full notes]({url}))\n\n### Source" in body
    assert body.startswith("- change 0: ")


# -- the files against the release's assets -------------------------------------------------


def local(name: str, sha: str = SHA_A, size: int = 10) -> LocalAsset:
    return LocalAsset(name, Path(name), size, sha, "wheel")


def remote(
    name: str, sha: str | None = SHA_A, size: int = 10, state: str = "uploaded"
) -> RemoteAsset:
    digest = {"digest": f"sha256:{sha}"} if sha else {}
    return RemoteAsset.of({"id": 7, "name": name, "size": size, "state": state, **digest})


def test_each_file_is_done_uploaded_replaced_compared_or_refused() -> None:
    files = [local("same"), local("missing"), local("broken"), local("nodigest"), local("other")]
    there = [
        remote("same"),
        remote("broken", size=0, state="starter"),
        remote("nodigest", sha=None),
        remote("other", sha=SHA_B),
        remote("notes.pdf"),
    ]
    plan = compare_assets(files, there, "the GitHub release of version/4.2.0")
    assert [a.name for a, _ in plan.done] == ["same"]
    assert [a.name for a in plan.upload] == ["missing"]
    assert [a.name for a, _ in plan.replace] == ["broken"]
    assert [a.name for a, _ in plan.unknown] == ["nodigest"]
    assert [a.name for a in plan.others] == ["notes.pdf"]  # someone else's: left alone
    assert plan.conflicts == [
        f"other is already on the GitHub release of version/4.2.0 with sha256 {SHA_B[:16]}... "
        f"(10 bytes), not this build's sha256 {SHA_A[:16]}... (10 bytes)"
    ]


def test_a_file_of_another_size_without_a_digest_is_refused_without_downloading() -> None:
    plan = compare_assets([local("x", size=10)], [remote("x", sha=None, size=11)], "r")
    assert len(plan.conflicts) == 1 and not plan.unknown


def test_the_files_of_a_build_output_and_of_a_post_release(tmp_path: Path) -> None:
    files = (
        HandedFile("a-1.0.0.tar.gz", 3, SHA_A, "sdist", "a"),
        HandedFile("a-1.0.0-py3-none-any.whl", 3, SHA_A, "wheel", "a"),
        HandedFile("ui-1.0.0.zip", 3, SHA_B, "ui"),
    )
    handoff = Handoff(tmp_path, SHA_A, "version/1.0.0", "1.0.0", "c" * 40, files)

    def ctx(tag: str, table: str = "[tool.release.github]\n") -> Any:
        config = parse_config(f"[tool.release]\n{table}", None, {})
        return SimpleNamespace(
            config=config,
            version=parse_tag(tag, "version/"),
            options=Options(extra={EXTRA_KEY: handoff}),
        )

    assert [f.name for f in release_files(ctx("version/1.0.0")) or []] == sorted(
        f.name for f in files
    )
    assert [f.name for f in release_files(ctx("version/1.0.0.post1")) or []] == ["ui-1.0.0.zip"]
    assert release_files(ctx("version/1.0.0", "[tool.release.github]\nassets = false\n")) == []


def test_the_build_folder_counts_only_when_every_file_is_as_listed(tmp_path: Path) -> None:
    (tmp_path / "a.whl").write_bytes(b"wheel")
    import hashlib
    import json

    digest = hashlib.sha256(b"wheel").hexdigest()
    manifest = {"commit": "c" * 40, "version": "1.0.0", "dists": [
        {"filename": "a.whl", "sha256": digest, "kind": "wheel"}]}  # fmt: skip
    (tmp_path / "release-build.json").write_text(json.dumps(manifest))
    [found] = built_files(tmp_path, "c" * 40, "1.0.0") or []
    assert (found.name, found.size, found.sha256) == ("a.whl", 5, digest)
    assert built_files(tmp_path, "d" * 40, "1.0.0") is None  # another commit's build
    (tmp_path / "a.whl").write_bytes(b"changed")
    assert built_files(tmp_path, "c" * 40, "1.0.0") is None


# -- where it goes ----------------------------------------------------------------------------


def context(env: dict[str, str], table: str = "", remote_url: str | None = None) -> Any:
    config = parse_config(f"[tool.release]\n[tool.release.github]\n{table}", None, {})
    git = SimpleNamespace(remote_url=lambda name: remote_url)
    return cast(Any, SimpleNamespace(env=env, config=config, git=git))


def test_the_repository_is_githubs_in_actions_else_configured_else_the_environment_or_remote() -> (
    None
):
    configured = 'repository = "acme/configured"\n'
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/actions"}
    assert repository_of(context(actions, configured))[0] == "acme/actions"
    assert repository_of(context({"GITHUB_REPOSITORY": "acme/env"}, configured))[0] == (
        "acme/configured"
    )
    assert repository_of(context({"GITHUB_REPOSITORY": "acme/env"}))[0] == "acme/env"
    for url in (
        "git@github.com:acme/remote.git",
        "https://github.com/acme/remote",
        "ssh://git@github.com/acme/remote.git",
    ):
        assert repository_of(context({}, remote_url=url)) == (
            "acme/remote",
            "the URL of the remote origin",
        )
    with pytest.raises(ReleaseError, match=r"is not known: the remote origin is not on github"):
        repository_of(context({}, remote_url="/srv/git/acme.git"))
    with pytest.raises(ReleaseError, match="is not a GitHub repository"):
        repository_of(context({"GITHUB_REPOSITORY": "acme"}))


def test_a_remote_on_a_github_enterprise_server_is_read_with_its_host() -> None:
    assert remote_repository("https://git.acme.org/team/app.git", "git.acme.org") == "team/app"
    assert remote_repository("https://gitlab.com/team/app.git") is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://api.example.org", "is not HTTPS, and credentials go only over HTTPS"),
        ("ftp://api.example.org", "is not an http(s) URL"),
        ("https://user:pw@api.example.org", "must be a plain URL, without credentials"),
    ],
)
def test_the_api_url_must_be_https_or_this_machine(url: str, says: str) -> None:
    with pytest.raises(ReleaseError, match=says.replace("(", r"\(").replace(")", r"\)")):
        api_base({"GITHUB_API_URL": url})


def test_a_password_in_the_api_url_is_refused_and_masked() -> None:
    with pytest.raises(ReleaseError) as refused:
        api_base({"GITHUB_API_URL": "https://user:apiUrlSecret77@api.example.org"})
    assert "apiUrlSecret77" not in str(refused.value)
    assert console.mask("the secret apiUrlSecret77") == "the secret ***"


def test_the_api_url_defaults_to_githubs_and_takes_this_machine() -> None:
    assert api_base({}) == "https://api.github.com"
    assert api_base({"GITHUB_API_URL": "http://127.0.0.1:8123/"}) == "http://127.0.0.1:8123"


def test_the_token_is_masked_the_moment_it_is_read() -> None:
    token = "ghs_unitTestTokenValue0123456789"
    assert read_token({"GITHUB_TOKEN": f" {token} "}) == token
    assert console.mask(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"
    assert read_token({}) is None


# -- the configuration and the record ---------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('repository = "acme"', "'acme' is not a GitHub repository: owner/name"),
        ('repository = "acme/app/x"', "is not a GitHub repository"),
        ("assets = 1", "tool.release.github.assets"),
        ('token = "x"', "tool.release.github.token: unknown key"),
    ],
)
def test_the_github_table_is_checked(table: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(f"[tool.release]\n[tool.release.github]\n{table}\n", None, {})


def test_without_the_table_the_step_is_not_configured() -> None:
    assert parse_config("[tool.release]\n", None, {}).github is None
    github = parse_config("[tool.release]\n[tool.release.github]\n", None, {}).github
    assert github is not None and (github.repository, github.assets) == (None, True)


RECORD = {
    "phase": "published",
    "repository": "acme/app",
    "api": "https://api.github.com",
    "tag": "version/4.2.0",
    "release_id": 123,
    "html_url": "https://github.com/acme/app/releases/tag/version%2F4.2.0",
    "make_latest": "true",
    "assets": [{"name": "app-4.2.0.tar.gz", "size": 10, "sha256": SHA_A, "id": 9, "url": None}],
}


def test_the_record_it_writes_passes_and_a_hostile_one_is_refused() -> None:
    assert problem("github-release", "4.2.0", RECORD) is None
    assert "release_id" in (
        problem("github-release", "4.2.0", {**RECORD, "release_id": "1/../x"}) or ""
    )
    assert "repository" in (
        problem("github-release", "4.2.0", {**RECORD, "repository": "a/../b"}) or ""
    )
    assert "phase" in (problem("github-release", "4.2.0", {**RECORD, "phase": "gone"}) or "")
    bad_asset = {**RECORD, "assets": [{"name": "../x", "sha256": SHA_A}]}
    assert "assets[0]" in (problem("github-release", "4.2.0", bad_asset) or "")


def test_the_announcement_links_only_a_published_release() -> None:
    assert github_release_url(RECORD, GITHUB, "acme/app") == RECORD["html_url"]
    assert github_release_url({**RECORD, "phase": "draft"}, GITHUB, "acme/app") is None
    assert github_release_url(None, GITHUB, "acme/app") is None


GITHUB = "https://github.com"


@pytest.mark.parametrize(
    ("url", "server", "repository"),
    [
        ("https://evil.example/acme/app/releases/tag/v1", GITHUB, "acme/app"),
        ("https://github.com/evil/app/releases/tag/v1", GITHUB, "acme/app"),
        ("https://github.com/acme/app/releases/../../../evil/x", GITHUB, "acme/app"),
        ("https://github.com.evil.example/acme/app/releases/tag/v1", GITHUB, "acme/app"),
        ("https://github.com/acme/app/issues/1", GITHUB, "acme/app"),
        ("https://github.com/acme/app/releases/tag/v1", "https://ghe.example", "acme/app"),
        ("https://github.com/acme/app/releases/tag/v1", GITHUB, None),
    ],
)
def test_a_recorded_page_that_is_not_the_repositorys_release_is_not_linked(
    url: str, server: str, repository: str | None
) -> None:
    assert github_release_url({**RECORD, "html_url": url}, server, repository) is None


def test_the_release_server_and_repository_are_the_steps() -> None:
    assert release_server({}) == GITHUB
    assert release_server({"GITHUB_SERVER_URL": "https://ghe.example/"}) == "https://ghe.example"
    assert release_server({"GITHUB_API_URL": "http://127.0.0.1:9/"}) == "http://127.0.0.1:9"
    assert release_server({"GITHUB_API_URL": "https://api.evil.example"}) == GITHUB
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app"}
    assert release_repository(actions, "other/app", None) == "acme/app"
    assert release_repository({"GITHUB_REPOSITORY": "acme/app"}, "other/app", None) == "other/app"
    remote = "git@github.com:acme/app.git"
    assert release_repository({}, None, remote) == "acme/app"


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "1/../../x", "tag_name": "version/4.2.0", "html_url": "https://github.com/a/b"},
        {"id": True, "tag_name": "version/4.2.0", "html_url": "https://github.com/a/b"},
        {"id": 5, "tag_name": None, "html_url": "https://github.com/a/b"},
        {"id": 5, "tag_name": "version/4.2.0", "html_url": "javascript:alert(1)"},
        {"id": 5, "tag_name": "version/4.2.0", "html_url": "https://x/\nforged"},
    ],
)
def test_an_answer_that_is_not_a_release_is_refused_before_its_id_is_used(
    answer: dict[str, Any],
) -> None:
    from release.steps.github_release.client import _release

    with pytest.raises(ReleaseError, match="not a release as its API documents one"):
        _release(answer)
    assert RemoteAsset.of({"id": "7/../x", "name": "a"}).id == 0


# -- the token goes only to the API's own upload host ------------------------------------------


@pytest.mark.parametrize(
    ("api", "upload_url"),
    [
        ("https://api.github.com", "https://evil.example/repos/o/n/releases/1/assets{?name,label}"),
        ("https://api.github.com", "https://uploads.github.com.evil.example/x{?name}"),
        ("https://ghe.example/api/v3", "https://uploads.other.example/api/uploads/x{?name}"),
        ("https://api.github.com", "http://127.0.0.1:9/x{?name}"),
    ],
)
def test_an_upload_url_on_another_host_gets_no_token_and_nothing(
    api: str, upload_url: str, tmp_path: Path
) -> None:
    from release.steps.github_release.client import GitHubClient
    from release.steps.github_release.credentials import Target

    sent: list[str] = []
    client = GitHubClient(Target(api, "o/n", "test", "ghs_uploadHostSecret0123456789"))
    client._session.request = lambda method, url, **_: sent.append(url)  # type: ignore[method-assign,assignment,return-value]
    wheel = tmp_path / "a.whl"
    wheel.write_bytes(b"x")
    asset = LocalAsset("a.whl", wheel, 1, SHA_A, "wheel")
    with pytest.raises(ReleaseError, match=r"the release's upload URL: .* nothing uploaded"):
        client.upload({"upload_url": upload_url}, asset)
    assert sent == []


@pytest.mark.parametrize(
    ("api", "url"),
    [
        ("https://api.github.com", "https://uploads.github.com/repos/o/n/releases/1/assets"),
        ("https://ghe.example/api/v3", "https://ghe.example/api/uploads/repos/o/n/releases/1"),
        ("https://api.ghe.example", "https://uploads.ghe.example/repos/o/n/releases/1/assets"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8124/repos/o/n/releases/1/assets"),
    ],
)
def test_githubs_own_upload_hosts_are_allowed(api: str, url: str) -> None:
    from release.steps.github_release.client import upload_host_problem

    assert upload_host_problem(api, url) is None
