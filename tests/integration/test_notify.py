"""``invoke notify`` end to end: the real task in a demo repository, Discord's contract server.

Every test also checks that the webhook's token appears nowhere: not in stdout or
stderr, not in the local state files, not in the git notes of the clone or of the
bare remote.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devservices.discord import DiscordWebhookServer
from release.core.http import POLICY
from tests.repos import Repo, run

TAG = "version/1.0.0"


@pytest.fixture
def discord() -> Iterator[DiscordWebhookServer]:
    with DiscordWebhookServer() as server:
        yield server


def notify(
    repo: Repo,
    discord: DiscordWebhookServer,
    *args: str,
    tag: str = TAG,
    url: str | None = None,
    timeout: str = "10",
) -> subprocess.CompletedProcess[str]:
    env = {"DISCORD_WEBHOOK_URL": discord.url if url is None else url}
    env["RELEASE_DISCORD_TIMEOUT"] = timeout
    env["RELEASE_DEBUG"] = "1"  # tracebacks too must not show the token
    return repo.invoke("notify", "--tag", tag, *args, env=env)


def record(repo: Repo, version: str = "1.0.0") -> dict[str, Any] | None:
    path = repo.path / ".git" / "release-state" / f"{version}.json"
    if not path.exists():
        return None
    found: dict[str, Any] | None = json.loads(path.read_text()).get("notify")
    return found


def notes_text(git_dir: Path) -> str:
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/notes"], git_dir).stdout.split()
    return "".join(run(["git", "log", "-p", ref], git_dir).stdout for ref in refs)


def assert_token_never_shown(
    discord: DiscordWebhookServer,
    repos: list[Repo],
    *results: subprocess.CompletedProcess[str],
) -> None:
    token = discord.token
    for result in results:
        assert token not in result.stdout
        assert token not in result.stderr
    for repo in repos:
        for state in (repo.path / ".git" / "release-state").glob("*"):
            assert token not in state.read_text()
        assert token not in notes_text(repo.path)
    assert token not in notes_text(repos[0].remote)


def posted_embed(discord: DiscordWebhookServer) -> dict[str, Any]:
    [message] = discord.messages.values()
    [embed] = message["embeds"]
    return embed  # type: ignore[no-any-return]


def test_a_final_release_posts_one_message_and_every_rerun_edits_it(
    demo_repo: Repo, discord: DiscordWebhookServer, tmp_path: Path
) -> None:
    demo_repo.tag(TAG)
    first = notify(demo_repo, discord)
    assert first.returncode == 0, first.stderr
    embed = posted_embed(discord)
    assert embed["title"] == "demo 1.0.0"
    assert "First release of the demo" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "[demo-common 1.0.0](" in fields["Python packages"]
    assert "`127.0.0.1:5000/demo/node:1.0.0`" in fields["Docker images"]
    [message_id] = discord.messages
    assert f"posted the announcement of {TAG} (message {message_id})" in first.stderr
    saved = record(demo_repo)
    assert saved is not None
    assert (saved["status"], saved["message_id"]) == ("posted", message_id)
    remote_note = run(
        ["git", "notes", "--ref", "release/notify", "show", f"{TAG}^{{commit}}"], demo_repo.remote
    ).stdout
    assert json.loads(remote_note)["1.0.0"]["message_id"] == message_id

    again = notify(demo_repo, discord)
    assert again.returncode == 0, again.stderr
    assert f"edited message {message_id}" in again.stderr

    fresh = demo_repo.clone(tmp_path / "fresh")  # has the tag, and the note only on the remote
    assert record(fresh) is None
    elsewhere = notify(fresh, discord)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert f"edited message {message_id}" in elsewhere.stderr

    assert len(discord.received("POST")) == 1
    assert [r.path.rsplit("/", 1)[-1] for r in discord.received("PATCH")] == [message_id] * 2
    assert list(discord.messages) == [message_id]
    assert discord.messages[message_id]["edited_timestamp"] is not None
    assert_token_never_shown(discord, [demo_repo, fresh], first, again, elsewhere)


def test_a_pre_release_posts_nothing_and_says_so(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag("version/1.0.0rc1")
    result = notify(demo_repo, discord, tag="version/1.0.0rc1")
    assert result.returncode == 0, result.stderr
    assert "notify: skipped: pre-releases are not announced" in result.stderr
    assert discord.requests == []
    assert_token_never_shown(discord, [demo_repo], result)


@pytest.mark.parametrize(
    ("changed", "wording"),
    [("docker/node.Dockerfile", "updated dependencies"), ("ui/build.js", "an updated UI")],
)
def test_a_post_release_is_announced_as_a_rebuild_with_the_commits_since_its_base(
    demo_repo: Repo, discord: DiscordWebhookServer, changed: str, wording: str
) -> None:
    demo_repo.tag(TAG)
    path = demo_repo.path / changed
    comment = "// refreshed" if changed.endswith(".js") else "# refreshed dependencies"
    path.write_text(f"{path.read_text()}\n{comment}\n")
    demo_repo.commit("Rebuild on the patched base")
    demo_repo.push()
    demo_repo.tag("version/1.0.0.post1")
    result = notify(demo_repo, discord, tag="version/1.0.0.post1")
    assert result.returncode == 0, result.stderr
    embed = posted_embed(discord)
    assert embed["title"] == "demo 1.0.0.post1: a rebuild of 1.0.0"
    assert embed["description"].startswith(
        f"A rebuild of demo 1.0.0 with {wording}; the code is the one released as 1.0.0."
    )
    assert embed["description"].endswith("- Rebuild on the patched base")
    [message] = discord.messages.values()
    assert message["content"] == f"**demo 1.0.0.post1**: a rebuild of 1.0.0 with {wording}"
    names = [f["name"] for f in embed["fields"]]
    assert "Python packages" not in names  # post releases upload nothing
    assert "Docker images" in names
    assert "CHANGELOG.md has no section for 1.0.0.post1" in result.stderr
    assert_token_never_shown(discord, [demo_repo], result)


def test_long_release_notes_are_cut_and_discord_accepts_the_message(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    lines = "\n".join(f"- change {n}: " + "words " * 12 for n in range(600))
    demo_repo.write("CHANGELOG.md", f"# Changelog\n\n## 1.0.0\n\n{lines}\n\n## 0.9.0\n\n- old\n")
    demo_repo.commit("A long changelog")
    demo_repo.push()
    demo_repo.tag(TAG)
    result = notify(demo_repo, discord)
    assert result.returncode == 0, result.stderr
    description = posted_embed(discord)["description"]
    assert description.startswith("- change 0: ")
    assert description.endswith("\n… (the full notes: CHANGELOG.md)")
    assert len(description) <= 4096
    assert_token_never_shown(discord, [demo_repo], result)


def test_rate_limits_and_server_errors_are_waited_out_and_one_message_is_posted(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    discord.fail_next(429, retry_after=0.1)
    discord.fail_next(502)
    result = notify(demo_repo, discord)
    assert result.returncode == 0, result.stderr
    # Discord's 0.1 s is honoured as the policy's floor: its first backoff.
    assert f"Discord rate limit: waiting {POLICY.wait(1, 0.1):.2f} s" in result.stderr
    assert [r.status for r in discord.received("POST")] == [429, 502, 200]
    assert len(discord.messages) == 1
    assert_token_never_shown(discord, [demo_repo], result)


def test_a_lost_answer_stops_every_run_until_repost(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    discord.hang_next()
    lost = notify(demo_repo, discord, timeout="1")
    assert lost.returncode == 1
    assert "no answer came within 1 s, so the message may have been posted" in lost.stderr
    channel = f"https://discord.com/channels/2222222222222222222/{discord.channel_id}"
    assert channel in lost.stderr
    assert f"invoke notify --tag {TAG} --assume-posted" in lost.stderr
    assert f"invoke notify --tag {TAG} --repost" in lost.stderr
    saved = record(demo_repo)
    assert saved is not None and saved["status"] == "unknown"

    refused = notify(demo_repo, discord)
    assert refused.returncode == 1
    assert "its answer was lost, so the message may have been posted" in refused.stderr
    assert channel in refused.stderr
    assert len(discord.received("POST")) == 1  # nothing posted again

    reposted = notify(demo_repo, discord, "--repost")
    assert reposted.returncode == 0, reposted.stderr
    assert len(discord.received("POST")) == 2
    new_id = max(discord.messages)
    saved = record(demo_repo)
    assert saved is not None
    assert (saved["status"], saved["message_id"]) == ("posted", new_id)

    edited = notify(demo_repo, discord)
    assert edited.returncode == 0, edited.stderr
    assert discord.received("PATCH")[-1].path.endswith(f"/messages/{new_id}")
    assert len(discord.received("POST")) == 2
    assert_token_never_shown(discord, [demo_repo], lost, refused, reposted, edited)


def test_a_lost_answer_marked_as_posted_is_done_without_sending_anything(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    discord.hang_next()
    lost = notify(demo_repo, discord, timeout="1")
    assert lost.returncode == 1
    marked = notify(demo_repo, discord, "--assume-posted")
    assert marked.returncode == 0, marked.stderr
    assert "marked as posted (--assume-posted)" in marked.stderr
    later = notify(demo_repo, discord)
    assert later.returncode == 0, later.stderr
    assert "already announced" in later.stderr
    assert len(discord.received("POST")) == 1
    assert discord.received("PATCH") == []
    assert_token_never_shown(discord, [demo_repo], lost, marked, later)


def test_repost_and_assume_posted_together_are_refused(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    result = notify(demo_repo, discord, "--repost", "--assume-posted")
    assert result.returncode == 2
    assert "contradict each other" in result.stderr
    assert discord.received("POST") == []


def test_a_deleted_message_is_not_silently_reposted(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    assert notify(demo_repo, discord).returncode == 0
    [message_id] = discord.messages
    discord.delete_message(message_id)
    result = notify(demo_repo, discord)
    assert result.returncode == 1
    assert f"(message {message_id}) is no longer in the channel (Discord answered 404" in (
        result.stderr
    )
    assert f"invoke notify --tag {TAG} --repost" in result.stderr
    assert len(discord.received("POST")) == 1
    assert_token_never_shown(discord, [demo_repo], result)


def test_an_unknown_webhook_is_refused_before_anything_is_sent(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    result = notify(demo_repo, discord, url=discord.url_for("999", discord.token))
    assert result.returncode == 1
    assert "the Discord webhook 999 is not usable: Discord answered 404 (Unknown Webhook" in (
        result.stderr
    )
    assert discord.received("POST") == []
    assert record(demo_repo) is None

    assert notify(demo_repo, discord).returncode == 0
    [message_id] = discord.messages
    rehearsal = notify(demo_repo, discord, "--dry-run")
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert f"would edit the announcement of {TAG} (message {message_id})" in rehearsal.stderr
    assert discord.received("PATCH") == []
    assert_token_never_shown(discord, [demo_repo], result, rehearsal)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "DISCORD_WEBHOOK_URL is not set"),
        ("https://example.org/hooks/{token}", "DISCORD_WEBHOOK_URL is not a Discord webhook URL"),
        ("http://discord.com/api/webhooks/1/{token}", "is not a Discord webhook URL"),
    ],
)
def test_a_missing_or_malformed_webhook_url_is_refused(
    demo_repo: Repo, discord: DiscordWebhookServer, value: str, message: str
) -> None:
    demo_repo.tag(TAG)
    result = notify(demo_repo, discord, url=value.format(token=discord.token))
    assert result.returncode == 1
    assert message in result.stderr
    assert discord.requests == []
    assert_token_never_shown(discord, [demo_repo], result)


def test_dry_run_prints_the_exact_message_and_sends_nothing(
    demo_repo: Repo, discord: DiscordWebhookServer
) -> None:
    demo_repo.tag(TAG)
    result = notify(demo_repo, discord, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "notify: dry-run: would post the announcement of version/1.0.0" in result.stderr
    assert "Discord message (would post)" in result.stdout
    payload = json.loads(result.stdout[result.stdout.index("{\n") : result.stdout.rindex("}") + 1])
    assert payload["embeds"][0]["title"] == "demo 1.0.0"
    assert payload["allowed_mentions"] == {"parse": []}
    assert discord.received("POST") == []
    assert record(demo_repo) is None

    assert notify(demo_repo, discord).returncode == 0
    [message_id] = discord.messages
    rehearsal = notify(demo_repo, discord, "--dry-run")
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert f"would edit the announcement of {TAG} (message {message_id})" in rehearsal.stderr
    assert discord.received("PATCH") == []
    assert_token_never_shown(discord, [demo_repo], result, rehearsal)


def test_gathering_on_a_github_remote_links_the_changelog_and_the_compare_view(
    demo_repo: Repo,
) -> None:
    from release.pipeline.preflight import resolve
    from release.run.context import Options
    from release.steps.notify.gather import gather

    demo_repo.tag("version/0.9.0")
    demo_repo.write("app/node.txt", "health check\n")
    demo_repo.commit("Updated the version to 0.9.0")  # a bump commit: not a note
    demo_repo.write("app/node.txt", "health check v2\n")
    demo_repo.commit("Add the node's health check")
    demo_repo.tag("version/1.0.0rc1")  # pre-releases are not the previous release
    demo_repo.write("app/server.txt", "port 8080\n")
    demo_repo.commit("Fix the server's port")
    demo_repo.push()
    demo_repo.tag(TAG)
    demo_repo.git("remote", "set-url", "origin", "https://github.com/acme/demo.git")
    options = Options(offline=True, env={})

    ctx = resolve(TAG, options, start=demo_repo.path)
    announcement = gather(ctx)
    compare = "https://github.com/acme/demo/compare/version/0.9.0...version/1.0.0"
    assert announcement.url == compare
    assert announcement.notes.source == "CHANGELOG.md"
    assert announcement.notes.url == (
        f"https://github.com/acme/demo/blob/{ctx.commit}/CHANGELOG.md#100"
    )
    changes = {s.name: s.lines for s in announcement.sections}["Changes"]
    assert changes == (f"[version/0.9.0...version/1.0.0]({compare})",)

    demo_repo.git("tag", "-d", TAG)
    demo_repo.write("CHANGELOG.md", "# Changelog\n\n## 0.9.0\n\n- older\n")
    demo_repo.commit("Drop the 1.0.0 notes")
    demo_repo.tag(TAG, push=False)
    ctx = resolve(TAG, options, start=demo_repo.path)
    notes = gather(ctx).notes
    assert notes.text == (
        "- Drop the 1.0.0 notes\n- Fix the server's port\n- Add the node's health check"
    )
    assert notes.source == "the commits since version/0.9.0"
    assert notes.url == f"https://github.com/acme/demo/compare/version/0.9.0...{ctx.commit}"
