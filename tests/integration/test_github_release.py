"""``invoke github-release`` end to end: the real task in a demo repository, GitHub's contract
server (``devservices.github``).

The template repository is the demo (images left out: no engine needed) with a
``[tool.release.github]`` table and a year of tags, each built once: ``1.0.0``, ``1.1.0rc1``,
``1.1.0``, the backport ``1.0.1`` on ``release/1.0`` and the post release ``1.1.0.post1``.
Every test works on its own copy (clone and bare remote) and its own server. Every test also
checks that the token appears nowhere: not in any output, state file or git note.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devservices.discord import DiscordWebhookServer
from devservices.github import GitHubServer
from release.core.errors import ReleaseError
from release.core.http import POLICY
from release.steps.github_release.client import AlreadyExists, GitHubClient, GitHubError
from release.steps.github_release.credentials import Target
from tests.repos import Repo, drop_release_tables, make_repo, run

pytestmark = [pytest.mark.slow]

REPOSITORY = "acme/demo"
TOKEN = "ghs_contractSecretTk8f3LqW0xZ2mV7nB4cR9yD1"
DISTS = (
    "demo_common-{v}-py3-none-any.whl",
    "demo_common-{v}.tar.gz",
    "demo_node-{v}-py3-none-any.whl",
    "demo_node-{v}.tar.gz",
)
CHANGES = ("POST", "PATCH", "DELETE")


def dists(version: str) -> list[str]:
    return sorted(name.format(v=version) for name in DISTS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with the version tags of a year, each built once (``.git/release-dist``)."""
    root = tmp_path_factory.mktemp("github-release")
    repo = make_repo(root)
    drop_release_tables(repo, "images", "registry")
    pyproject = repo.path / "pyproject.toml"
    pyproject.write_text(
        f'{pyproject.read_text()}\n[tool.release.github]\nrepository = "{REPOSITORY}"\n'
    )
    repo.commit("Release to GitHub too")
    repo.push()
    repo.tag("version/1.0.0")
    repo.write("demo-node/NOTES.txt", "the next minor\n")
    repo.commit("The next minor")
    repo.push()
    repo.tag("version/1.1.0rc1")
    repo.tag("version/1.1.0")
    repo.git("checkout", "-q", "-b", "release/1.0", "version/1.0.0")
    repo.write("demo-node/FIX.txt", "a fix for 1.0\n")
    repo.commit("A fix for 1.0")
    repo.git("push", "-q", "origin", "release/1.0")
    repo.tag("version/1.0.1")
    repo.git("checkout", "-q", "main")
    for tag in ("version/1.0.0", "version/1.1.0rc1", "version/1.1.0", "version/1.0.1"):
        built = repo.invoke("build", "--tag", tag)
        assert built.returncode == 0, built.stdout + built.stderr
    return root


@dataclass
class World:
    repo: Repo
    github: GitHubServer
    outputs: list[subprocess.CompletedProcess[str]]

    def release(self, tag: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        merged = {**self.github.env(), "RELEASE_DEBUG": "1", **env}
        result = self.repo.invoke("github-release", "--tag", tag, *args, env=merged)
        self.outputs.append(result)
        return result

    def changes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.github.requests if r.method in CHANGES]

    def record(self, version: str) -> dict[str, Any]:
        path = self.repo.path / ".git" / "release-state" / f"{version}.json"
        found: dict[str, Any] = json.loads(path.read_text())["github-release"]
        return found

    def built(self, version: str) -> dict[str, str]:
        folder = self.repo.path / ".git" / "release-dist" / version
        return {name: sha256((folder / name).read_bytes()) for name in dists(version)}

    def attached(self, release: dict[str, Any]) -> dict[str, str]:
        """The assets of ``release`` by name: the sha256 of the bytes the server holds."""
        return {a["name"]: sha256(self.github.blob(a["id"])) for a in release["assets"]}

    def assert_no_token_anywhere(self) -> None:
        for result in self.outputs:
            assert TOKEN not in result.stdout + result.stderr
        for path in (self.repo.path / ".git" / "release-state").glob("*"):
            assert TOKEN not in path.read_text()
        for where in (self.repo.path, self.repo.remote):
            refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/notes"], where)
            for ref in refs.stdout.split():
                assert TOKEN not in run(["git", "log", "-p", ref], where).stdout


def copy_world(template: Path, folder: Path) -> Repo:
    shutil.copytree(template, folder, symlinks=True)
    repo = Repo(folder / "work", folder / "remote.git")
    repo.git("remote", "set-url", "origin", str(repo.remote))
    return repo


@pytest.fixture
def world(template: Path, tmp_path: Path) -> Iterator[World]:
    repo = copy_world(template, tmp_path / "world")
    with GitHubServer(REPOSITORY, TOKEN) as github:
        world = World(repo, github, [])
        yield world
        world.assert_no_token_anywhere()


# -- releases of every kind -------------------------------------------------------------


def test_a_final_release_is_one_release_with_its_files_and_a_rerun_changes_nothing(
    world: World,
) -> None:
    first = world.release("version/1.1.0")

    assert first.returncode == 0, first.stderr
    [release] = world.github.releases
    assert (release["tag_name"], release["name"]) == ("version/1.1.0", "demo 1.1.0")
    assert release["draft"] is False and release["prerelease"] is False
    assert world.github.latest_id == release["id"]
    assert world.attached(release) == world.built("1.1.0")
    assert all(
        a["digest"] == f"sha256:{world.built('1.1.0')[a['name']]}" for a in release["assets"]
    )
    assert "- The node greets through `demo-common`" in release["body"]
    assert "### Python packages" in release["body"]
    [create] = [r for r in world.github.received("POST", "api")]
    assert create.body["draft"] is True and create.body["make_latest"] == "true"
    record = world.record("1.1.0")
    assert (record["phase"], record["release_id"]) == ("published", release["id"])
    assert record["html_url"] == release["html_url"]
    assert {a["name"]: a["sha256"] for a in record["assets"]} == world.built("1.1.0")
    assert f"created the GitHub release of version/1.1.0 ({release['html_url']})" in first.stderr

    before = world.changes()
    again = world.release("version/1.1.0")
    assert again.returncode == 0, again.stderr
    assert "was already complete" in again.stderr and "nothing changed" in again.stderr
    assert world.changes() == before
    assert len(world.github.releases) == 1


def test_pre_backport_and_post_releases_are_marked_and_latest_only_moves_forward(
    world: World,
) -> None:
    rc = world.release("version/1.1.0rc1")
    assert rc.returncode == 0, rc.stderr
    [candidate] = world.github.releases
    assert candidate["prerelease"] is True and candidate["draft"] is False
    assert world.github.latest_id is None  # a pre-release never takes "Latest"
    assert world.attached(candidate) == world.built("1.1.0rc1")

    final = world.release("version/1.1.0")
    assert final.returncode == 0, final.stderr
    latest = world.github.releases[-1]
    assert world.github.latest_id == latest["id"] and latest["prerelease"] is False

    backport = world.release("version/1.0.1")
    assert backport.returncode == 0, backport.stderr
    fix = world.github.releases[-1]
    assert (fix["tag_name"], fix["prerelease"]) == ("version/1.0.1", False)
    assert world.attached(fix) == world.built("1.0.1")
    assert world.github.latest_id == latest["id"]  # a backport leaves "Latest" on 1.1.0

    rebuilt_on_main(world.repo)
    post = world.release("version/1.1.0.post1")
    assert post.returncode == 0, post.stderr
    rebuild = world.github.releases[-1]
    assert rebuild["tag_name"] == "version/1.1.0.post1" and rebuild["assets"] == []
    assert rebuild["body"].startswith(
        "A rebuild of demo 1.1.0 with updated dependencies; the code is the one released as "
        "1.1.0. It carries no package files"
    )
    assert "- Rebuilt on a patched base." in rebuild["body"]
    assert world.github.latest_id == rebuild["id"]  # post releases count, as for channels

    creates = [r.body for r in world.github.received("POST", "api")]
    assert [(c["tag_name"], c["prerelease"], c["make_latest"]) for c in creates] == [
        ("version/1.1.0rc1", True, "false"),
        ("version/1.1.0", False, "true"),
        ("version/1.0.1", False, "false"),
        ("version/1.1.0.post1", False, "true"),
    ]
    assert len(world.github.releases) == 4


def rebuilt_on_main(repo: Repo) -> None:
    """Tag ``version/1.1.0.post1``: a rebuild of 1.1.0 that changes only the changelog."""
    changelog = repo.path / "CHANGELOG.md"
    section = "## 1.1.0.post1\n\n- Rebuilt on a patched base.\n\n## 1.1.0\n"
    changelog.write_text(changelog.read_text().replace("## 1.1.0\n", section))
    repo.commit("Rebuild 1.1.0")
    repo.push()
    repo.tag("version/1.1.0.post1")


def test_an_older_final_never_takes_latest_from_a_newer_one(world: World) -> None:
    newer = world.github.add_release("version/1.1.0", name="demo 1.1.0", make_latest="true")
    result = world.release("version/1.0.0")
    assert result.returncode == 0, result.stderr
    older = world.github.releases[-1]
    assert older["tag_name"] == "version/1.0.0" and older["draft"] is False
    assert world.github.latest_id == newer["id"]
    [create] = world.github.received("POST", "api")
    assert create.body["make_latest"] == "false"


def test_a_dry_run_shows_the_release_and_changes_nothing_on_github(world: World) -> None:
    dry = world.release("version/1.1.0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "would create the GitHub release of version/1.1.0 in acme/demo as a draft, upload 4 "
        "file(s), then publish it" in dry.stderr
    )
    assert "name: demo 1.1.0" in dry.stderr and "make_latest: true" in dry.stderr
    assert "  - The node greets through `demo-common`" in dry.stderr
    assert world.changes() == [] and world.github.releases == []

    assert world.release("version/1.1.0").returncode == 0
    again = world.release("version/1.1.0", "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "4 file(s) there, 0 to upload" in again.stderr
    assert len(world.changes()) == 6  # the real run's: a create, 4 uploads, the publish


# -- re-runs after a lost answer ----------------------------------------------------------


def test_a_lost_answer_to_the_publish_call_is_finished_by_the_same_command(world: World) -> None:
    world.github.fail_next(lost=True, method="PATCH", count=POLICY.attempts)
    lost = world.release("version/1.1.0")

    assert lost.returncode == 1
    [error] = [line for line in lost.stderr.splitlines() if line.startswith("error: ")]
    assert "the draft of version/1.1.0 was sent to be published, but" in error
    assert error.endswith("run the same command again: it finds the release and finishes it")

    again = world.release("version/1.1.0")
    assert again.returncode == 0, again.stderr
    [release] = world.github.releases
    assert release["draft"] is False
    assert sorted(a["name"] for a in release["assets"]) == dists("1.1.0")  # no duplicate
    assert len(world.github.received("POST", "api")) == 1
    assert len(world.github.received("POST", "uploads")) == 4
    assert world.record("1.1.0")["phase"] == "published"


def test_a_lost_create_and_lost_uploads_are_looked_for_before_anything_is_sent_again(
    world: World,
) -> None:
    world.github.fail_next(lost=True, method="POST", path="/releases")  # the create
    world.github.fail_next(lost=True, method="POST", path="/assets")  # the first upload
    world.github.fail_next(broken=True, method="POST", path="/assets")  # the second upload

    result = world.release("version/1.1.0")

    assert result.returncode == 0, result.stderr
    assert "the draft is there: using it" in result.stderr
    assert "left incomplete" in result.stderr or "is not on the release" in result.stderr
    [release] = world.github.releases
    assert world.attached(release) == world.built("1.1.0")
    assert all(a["state"] == "uploaded" for a in release["assets"])
    assert len(world.github.received("POST", "api")) == 1  # the draft was created once
    assert len(world.github.received("DELETE")) == 1  # the incomplete asset, then again


def test_a_draft_left_by_an_earlier_run_is_found_by_listing_and_finished(world: World) -> None:
    draft = world.github.add_release("version/1.1.0", draft=True, name="demo 1.1.0")
    name = dists("1.1.0")[0]
    data = (world.repo.path / ".git" / "release-dist" / "1.1.0" / name).read_bytes()
    world.github.add_asset(draft["id"], name, data)

    result = world.release("version/1.1.0")

    assert result.returncode == 0, result.stderr
    [release] = world.github.releases
    assert release["id"] == draft["id"] and release["draft"] is False
    assert world.attached(release) == world.built("1.1.0")
    assert len(world.github.received("POST", "uploads")) == 3  # the attached one is done
    assert not world.github.received("POST", "api")


def test_without_githubs_digest_each_file_is_checked_by_its_downloaded_bytes(
    template: Path, tmp_path: Path
) -> None:
    repo = copy_world(template, tmp_path / "world")
    with GitHubServer(REPOSITORY, TOKEN, digests=False) as github:
        world = World(repo, github, [])
        first = world.release("version/1.1.0")
        assert first.returncode == 0, first.stderr
        [release] = github.releases
        assert world.attached(release) == world.built("1.1.0")
        assert all("digest" not in a for a in release["assets"])

        def downloads() -> int:  # the storage refuses a request that carries the token
            found = [
                r for r in github.received("GET", "uploads") if r.path.startswith("/download/")
            ]
            assert all(r.status == 200 for r in found)
            return len(found)

        assert downloads() == 4  # each upload checked by its bytes
        before = world.changes()
        again = world.release("version/1.1.0")
        assert again.returncode == 0, again.stderr
        assert "nothing changed" in again.stderr and world.changes() == before
        assert downloads() == 8  # and compared again by them
        world.assert_no_token_anywhere()


# -- refusals -----------------------------------------------------------------------------


def test_a_changed_file_on_the_release_is_refused_before_anything_changes(world: World) -> None:
    release = world.github.add_release("version/1.1.0", name="demo 1.1.0")
    name = "demo_node-1.1.0.tar.gz"
    world.github.add_asset(release["id"], name, b"another build of it")
    before = world.changes()

    result = world.release("version/1.1.0")

    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert f"{name} is already on the GitHub release of version/1.1.0 with sha256" in error
    assert f"not this build's sha256 {world.built('1.1.0')[name][:16]}" in error
    assert "the files of a release never change" in error
    assert world.changes() == before  # nothing uploaded, edited or deleted
    [unchanged] = world.github.releases
    assert [a["name"] for a in unchanged["assets"]] == [name]


def test_a_missing_token_and_other_problems_are_reported_at_once(world: World) -> None:
    env = {**world.github.env(), "GITHUB_TOKEN": "", "DISCORD_WEBHOOK_URL": ""}
    result = world.repo.invoke("check-version", "--tag", "version/1.1.0", "--offline", env=env)
    world.outputs.append(result)

    assert result.returncode == 1
    assert "GITHUB_TOKEN is not set: set GITHUB_TOKEN to a token that may write" in result.stderr
    assert "DISCORD_WEBHOOK_URL is not set" in result.stderr
    assert not world.github.requests


def test_a_refused_token_and_an_unknown_repository_are_clear_errors(
    world: World, tmp_path: Path
) -> None:
    bad = world.release("version/1.1.0", "--dry-run", GITHUB_TOKEN="ghs_notTheTokenAtAll0123")
    assert bad.returncode == 1
    assert "GitHub refused GITHUB_TOKEN (401 Bad credentials): set GITHUB_TOKEN to" in bad.stderr

    with GitHubServer("acme/elsewhere", TOKEN) as other:
        unknown = world.release("version/1.1.0", "--dry-run", **other.env())
    world.outputs.append(unknown)
    assert unknown.returncode == 1
    assert (
        "the repository acme/demo does not exist, or GITHUB_TOKEN cannot see it" in unknown.stderr
    )
    assert not world.github.received("POST") and not other.received("POST")


# -- the announcement links to it ---------------------------------------------------------


def announce(world: World) -> dict[str, Any]:
    """``invoke notify`` of version/1.1.0 to a Discord contract server: the message posted."""
    with DiscordWebhookServer() as discord:
        env = {"DISCORD_WEBHOOK_URL": discord.url, **world.github.env()}
        announced = world.repo.invoke("notify", "--tag", "version/1.1.0", env=env)
        world.outputs.append(announced)
        assert announced.returncode == 0, announced.stderr
        [message] = discord.messages.values()
    return message


def test_the_announcement_links_to_the_published_github_release(world: World) -> None:
    released = world.release("version/1.1.0")
    assert released.returncode == 0, released.stderr
    [release] = world.github.releases
    message = announce(world)
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["GitHub release"] == f"[version/1.1.0]({release['html_url']})"


# -- the client: GitHub's rate limits and refusals ----------------------------------------


@pytest.fixture
def github() -> Iterator[GitHubServer]:
    with GitHubServer(REPOSITORY, TOKEN) as server:
        yield server


def client_of(github: GitHubServer, waits: list[float], token: str = TOKEN) -> GitHubClient:
    return GitHubClient(Target(github.url, REPOSITORY, "test", token), sleep=waits.append)


def test_a_rate_limit_waits_what_github_asks_but_never_more_than_the_cap(
    github: GitHubServer,
) -> None:
    waits: list[float] = []
    client = client_of(github, waits)
    github.fail_next(403, reset_in=3600)  # primary: x-ratelimit-remaining 0, reset in an hour
    github.fail_next(429, retry_after=7)  # secondary: retry-after
    assert client.repository()["full_name"] == REPOSITORY
    assert waits == [POLICY.max_wait, 7.0]

    github.fail_next(429, retry_after=1, method="POST")  # a refused POST did nothing: again
    created = client.create({"tag_name": "version/1.0.0", "draft": True})
    assert created["tag_name"] == "version/1.0.0" and len(github.releases) == 1

    waits.clear()
    github.fail_next(403, reset_in=3600, count=POLICY.attempts)
    with pytest.raises(ReleaseError, match=r"GitHub's rate limit for GITHUB_TOKEN still holds"):
        client.releases()
    assert waits == [POLICY.max_wait] * (POLICY.attempts - 1)
    client.close()


def test_the_releases_are_listed_page_by_page(github: GitHubServer) -> None:
    for number in range(130):
        github.add_release(f"version/0.{number}.0", draft=number % 2 == 0)
    client = client_of(github, [])
    listed = client.releases()
    client.close()
    assert len(listed) == 130 and len({r["id"] for r in listed}) == 130
    pages = [r.query.get("page", ["1"])[0] for r in github.received("GET", "api")]
    assert pages == ["1", "2"]


def test_the_clients_errors_name_the_token_or_the_repository(github: GitHubServer) -> None:
    refused = client_of(github, [], token="ghs_wrong")
    with pytest.raises(GitHubError, match=r"GitHub refused GITHUB_TOKEN \(401 Bad credentials\)"):
        refused.repository()
    refused.close()
    elsewhere = GitHubClient(Target(github.url, "acme/other", "GITHUB_REPOSITORY", TOKEN))
    with pytest.raises(GitHubError, match="the repository acme/other does not exist, or"):
        elsewhere.releases()
    elsewhere.close()
    client = client_of(github, [])
    github.add_release("version/1.0.0")
    with pytest.raises(AlreadyExists):
        client.create({"tag_name": "version/1.0.0"})
    assert len(github.releases) == 1
    client.close()


# -- in CI: the build job's files ---------------------------------------------------------


def build_output(repo: Repo, tag: str, folder: Path) -> str:
    """``build --output`` as the workflow's build job runs it; the manifest's sha256."""
    github_output = folder.parent / f"{folder.name}.github-output"
    result = repo.invoke(
        "build", "--tag", tag, "--output", str(folder), env={"GITHUB_OUTPUT": str(github_output)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return github_output.read_text().strip().removeprefix("manifest-sha256=")


def handed_files(folder: Path) -> dict[str, str]:
    return {
        p.name: sha256(p.read_bytes()) for p in folder.iterdir() if p.name != "release-build.json"
    }


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_from_a_build_output_the_release_carries_exactly_its_files_and_a_post_only_the_ui_zip(
    world: World, tmp_path: Path
) -> None:
    output = tmp_path / "release-build"
    digest = build_output(world.repo, "version/1.1.0", output)
    env = {**world.github.env(), "RELEASE_BUILD_MANIFEST": digest, "RELEASE_DEBUG": "1"}
    job = world.repo.clone(tmp_path / "job")  # a fresh runner: nothing built there
    result = job.invoke("github-release", "--tag", "version/1.1.0", "--from", str(output), env=env)
    world.outputs.append(result)

    assert result.returncode == 0, result.stderr
    [release] = world.github.releases
    files = handed_files(output)
    assert sorted(files) == sorted([*dists("1.1.0"), "demo-ui-1.1.0.zip"])
    assert world.attached(release) == files
    assert not (job.path / ".git" / "release-dist").exists()
    before = world.changes()
    other = world.repo.clone(tmp_path / "another-job")  # finds the release by the state note
    again = other.invoke("github-release", "--tag", "version/1.1.0", "--from", str(output), env=env)
    world.outputs.append(again)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stderr and world.changes() == before

    rebuilt_on_main(world.repo)
    post_output = tmp_path / "post-build"
    post_digest = build_output(world.repo, "version/1.1.0.post1", post_output)
    post_job = world.repo.clone(tmp_path / "post-job")
    post = post_job.invoke(
        "github-release", "--tag", "version/1.1.0.post1", "--from", str(post_output),
        env={**env, "RELEASE_BUILD_MANIFEST": post_digest},
    )  # fmt: skip
    world.outputs.append(post)
    assert post.returncode == 0, post.stderr
    rebuild = world.github.releases[-1]
    assert world.attached(rebuild) == handed_files(post_output)
    assert [a["name"] for a in rebuild["assets"]] == ["demo-ui-1.1.0-post1.zip"]  # npm form


def test_a_recorded_link_that_is_not_the_repositorys_release_is_not_announced(
    world: World,
) -> None:
    released = world.release("version/1.1.0")
    assert released.returncode == 0, released.stderr
    path = world.repo.path / ".git" / "release-state" / "1.1.0.json"
    state = json.loads(path.read_text())
    evil = "https://evil.example/acme/demo/releases/tag/version%2F1.1.0"
    state["github-release"].update(html_url=evil, recorded_at=time.time() + 60)
    path.write_text(json.dumps(state))
    message = announce(world)
    assert "evil.example" not in json.dumps(message)
    fields = {f["name"] for f in message["embeds"][0]["fields"]}
    assert "GitHub release" not in fields
