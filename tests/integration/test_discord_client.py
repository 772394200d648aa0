"""The Discord client against the webhook contract server: retries, faults, Discord's errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservices import free_port
from devservices.discord import DiscordWebhookServer, demo_server
from release.core.errors import ReleaseError
from release.core.http import POLICY
from release.steps.notify.discord import AnswerLost, DiscordClient, DiscordError
from release.steps.notify.webhook import parse_webhook


@pytest.fixture
def discord() -> Iterator[DiscordWebhookServer]:
    with DiscordWebhookServer() as server:
        yield server


class Waits:
    """Stands in for ``time.sleep``: records the delays asked for, waits for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client_for(url: str, waits: Waits, timeout: float = 5.0) -> DiscordClient:
    return DiscordClient(parse_webhook(url), timeout=timeout, sleep=waits)


MESSAGE = {"content": "hello", "embeds": [{"title": "acme 1.0.0", "description": "notes"}]}


def test_execute_with_wait_returns_the_posted_message(discord: DiscordWebhookServer) -> None:
    message = client_for(discord.url, Waits()).execute(MESSAGE)
    assert message["id"] in discord.messages
    assert message["channel_id"] == discord.channel_id
    assert message["embeds"][0]["title"] == "acme 1.0.0"
    [post] = discord.received("POST")
    assert post.query["wait"] == ["true"]
    assert discord.token not in post.path


def test_edit_changes_the_message_in_place(discord: DiscordWebhookServer) -> None:
    client = client_for(discord.url, Waits())
    posted = client.execute(MESSAGE)
    edited = client.edit(posted["id"], {**MESSAGE, "content": "hello again"})
    assert edited["id"] == posted["id"]
    assert edited["edited_timestamp"] is not None
    assert [m["content"] for m in discord.messages.values()] == ["hello again"]


def test_429_waits_retry_after_from_the_body_and_tries_again(discord: DiscordWebhookServer) -> None:
    discord.fail_next(429, count=2, retry_after=2.5)  # longer than the policy's first backoffs
    waits = Waits()
    client_for(discord.url, waits).execute(MESSAGE)
    assert waits.delays == [2.5, 2.5]
    assert [r.status for r in discord.received("POST")] == [429, 429, 200]
    assert len(discord.messages) == 1


def test_429_with_only_a_retry_after_header(discord: DiscordWebhookServer) -> None:
    discord.fail_next(429, retry_after=1.5, header_only=True)
    waits = Waits()
    client_for(discord.url, waits).execute(MESSAGE)
    assert waits.delays == [1.5]
    assert len(discord.messages) == 1


def test_a_short_retry_after_waits_the_policys_backoff(discord: DiscordWebhookServer) -> None:
    discord.fail_next(429, retry_after=0.25)
    waits = Waits()
    client_for(discord.url, waits).execute(MESSAGE)
    assert waits.delays == [POLICY.backoff]
    assert len(discord.messages) == 1


def test_a_retry_after_up_to_the_cap_is_waited(discord: DiscordWebhookServer) -> None:
    discord.fail_next(429, retry_after=POLICY.max_wait)
    waits = Waits()
    client_for(discord.url, waits).execute(MESSAGE)
    assert waits.delays == [POLICY.max_wait]
    assert [r.status for r in discord.received("POST")] == [429, 200]
    assert len(discord.messages) == 1


def test_a_retry_after_beyond_the_cap_is_reported_at_once(discord: DiscordWebhookServer) -> None:
    discord.fail_next(429, retry_after=3600.0)
    waits = Waits()
    with pytest.raises(ReleaseError, match=r"rate-limiting the webhook \(asked to wait 3600 s\)"):
        client_for(discord.url, waits).execute(MESSAGE)
    assert waits.delays == []  # no wait, and no try bound to be refused again
    assert [r.status for r in discord.received("POST")] == [429]
    assert not discord.messages


def test_rate_limits_are_bounded_by_the_policys_attempts(discord: DiscordWebhookServer) -> None:
    discord.fail_next(429, count=10, retry_after=0.25)
    waits = Waits()
    with pytest.raises(ReleaseError, match=r"Discord keeps rate-limiting the webhook \(asked"):
        client_for(discord.url, waits).execute(MESSAGE)
    assert len(discord.received("POST")) == POLICY.attempts
    assert len(waits.delays) == POLICY.attempts - 1
    assert discord.messages == {}


def test_5xx_is_retried_with_a_growing_backoff(discord: DiscordWebhookServer) -> None:
    discord.fail_next(502, count=2)
    waits = Waits()
    client_for(discord.url, waits).execute(MESSAGE)
    assert waits.delays == [POLICY.backoff, 2 * POLICY.backoff]
    assert len(discord.messages) == 1


def test_5xx_retries_are_bounded(discord: DiscordWebhookServer) -> None:
    discord.fail_next(503, count=10)
    waits = Waits()
    attempts = POLICY.attempts
    with pytest.raises(
        ReleaseError, match=f"Discord answered 503 Service Unavailable {attempts} times"
    ):
        client_for(discord.url, waits).execute(MESSAGE)
    assert len(waits.delays) == attempts - 1
    assert discord.messages == {}


def test_a_connection_refused_before_sending_is_retried_then_reported() -> None:
    token = "T" * 68
    url = f"http://127.0.0.1:{free_port()}/api/webhooks/1234/{token}"
    waits = Waits()
    with pytest.raises(ReleaseError) as caught:
        client_for(url, waits).execute(MESSAGE)
    assert "could not reach Discord" in str(caught.value)
    assert f"{POLICY.attempts} attempt(s)" in str(caught.value)
    assert len(waits.delays) == POLICY.attempts - 1
    assert token not in str(caught.value)


def test_an_answer_that_never_comes_after_a_post_is_not_retried(
    discord: DiscordWebhookServer,
) -> None:
    discord.hang_next()
    waits = Waits()
    with pytest.raises(AnswerLost) as caught:
        client_for(discord.url, waits, timeout=0.5).execute(MESSAGE)
    assert "no answer came within 0.5 s" in str(caught.value)
    assert discord.token not in str(caught.value)
    assert len(discord.received("POST")) == 1  # never sent twice
    assert len(discord.messages) == 1  # Discord did post it


def test_an_edit_whose_answer_is_lost_is_simply_sent_again(discord: DiscordWebhookServer) -> None:
    posted = client_for(discord.url, Waits()).execute(MESSAGE)
    discord.hang_next(method="PATCH")
    edited = client_for(discord.url, Waits(), timeout=3.0).edit(
        posted["id"], {**MESSAGE, "content": "edited"}
    )
    assert edited["content"] == "edited"
    assert len(discord.received("PATCH")) == 2


def test_an_unknown_webhook_is_discords_404(discord: DiscordWebhookServer) -> None:
    url = discord.url_for("999", discord.token)
    with pytest.raises(DiscordError) as caught:
        client_for(url, Waits()).execute(MESSAGE)
    assert caught.value.status == 404
    assert str(caught.value) == "Discord answered 404 (Unknown Webhook, code 10015)"


def test_a_wrong_token_is_discords_401(discord: DiscordWebhookServer) -> None:
    url = discord.url_for(discord.webhook_id, "wrong-token-0123456789")
    with pytest.raises(DiscordError, match=r"401 \(Invalid Webhook Token, code 50027\)"):
        client_for(url, Waits()).get_webhook()


def test_an_over_long_message_is_refused_with_discords_error_body(
    discord: DiscordWebhookServer,
) -> None:
    too_long = {"embeds": [{"title": "t", "description": "d" * 4097}]}
    with pytest.raises(DiscordError) as caught:
        client_for(discord.url, Waits()).execute(too_long)
    assert caught.value.status == 400
    assert caught.value.code == 50035
    assert str(caught.value) == (
        "Discord answered 400 (Invalid Form Body, code 50035): "
        "embeds.0.description: Must be 4096 or fewer in length."
    )
    assert discord.messages == {}


def test_the_contract_server_counts_the_6000_total(discord: DiscordWebhookServer) -> None:
    fields = [{"name": f"f{n}", "value": "v" * 1000} for n in range(5)]
    body = {"embeds": [{"title": "t", "description": "d" * 1200, "fields": fields}]}
    with pytest.raises(DiscordError, match="Embed size exceeds maximum size of 6000"):
        client_for(discord.url, Waits()).execute(body)


def test_editing_a_deleted_message_is_unknown_message(discord: DiscordWebhookServer) -> None:
    client = client_for(discord.url, Waits())
    posted = client.execute(MESSAGE)
    discord.delete_message(posted["id"])
    with pytest.raises(DiscordError, match="Unknown Message, code 10008"):
        client.edit(posted["id"], MESSAGE)


def test_the_webhook_object_names_its_channel(discord: DiscordWebhookServer) -> None:
    found = client_for(discord.url, Waits()).get_webhook()
    assert found["channel_id"] == discord.channel_id
    assert found["id"] == discord.webhook_id


def test_the_demo_server_keeps_a_journal_and_never_describes_its_token(tmp_path: Path) -> None:
    with demo_server(tmp_path) as server:
        posted = client_for(server.env()["DISCORD_WEBHOOK_URL"], Waits()).execute(MESSAGE)
        journal = json.loads((tmp_path / "messages.json").read_text())
        assert journal[posted["id"]]["content"] == "hello"
        assert server.token not in server.describe()
        assert "messages.json" in server.describe()
