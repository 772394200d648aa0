"""The notify step's pure decisions: the webhook URL, what a run does, Discord's answers."""

from __future__ import annotations

import pytest

from release.core import console
from release.core.errors import ReleaseError, UsageError
from release.steps.notify.decision import decide, notify_flags
from release.steps.notify.discord import error_details, retry_delay
from release.steps.notify.webhook import parse_webhook, register_webhook_secrets

TOKEN = "AbCdEf_0123456789-ghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
TAG = "version/4.2.0"


@pytest.mark.parametrize(
    "url",
    [
        f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}",
        f"https://discord.com/api/v10/webhooks/123456789012345678/{TOKEN}/",
        f"https://discordapp.com/api/webhooks/123456789012345678/{TOKEN}",
        f"https://canary.discord.com/api/webhooks/123456789012345678/{TOKEN}?thread_id=42",
        f"http://127.0.0.1:8999/api/webhooks/123456789012345678/{TOKEN}",
        f"http://localhost:8999/anything/webhooks/123456789012345678/{TOKEN}",
    ],
)
def test_webhook_urls_that_are_accepted(url: str) -> None:
    webhook = parse_webhook(url)
    assert webhook.id == "123456789012345678"
    assert webhook.token == TOKEN
    assert webhook.execute_url.startswith(webhook.base + "?")
    assert "wait=true" in webhook.execute_url
    assert TOKEN not in repr(webhook)


def test_a_thread_id_is_kept_for_posting_and_editing() -> None:
    webhook = parse_webhook(
        f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}?thread_id=42&wait=false"
    )
    assert webhook.execute_url.endswith("?thread_id=42&wait=true")
    assert webhook.message_url("7").endswith("/messages/7?thread_id=42")


@pytest.mark.parametrize(
    "url",
    [
        f"http://discord.com/api/webhooks/123456789012345678/{TOKEN}",  # not https
        f"https://evil.example/api/webhooks/123456789012345678/{TOKEN}",
        f"https://discord.com/api/webhooks/notanumber/{TOKEN}",
        "https://discord.com/api/webhooks/123456789012345678",
        f"https://discord.com/api/channels/123456789012345678/{TOKEN}",
        f"https://user:pw@discord.com/api/webhooks/123456789012345678/{TOKEN}",
        f"http://10.0.0.1/api/webhooks/123456789012345678/{TOKEN}",
        f"discord.com/api/webhooks/123456789012345678/{TOKEN}",
        f"https://discord.com:99999/api/webhooks/123456789012345678/{TOKEN}",
    ],
)
def test_webhook_urls_that_are_refused_never_repeat_the_url(url: str) -> None:
    with pytest.raises(ReleaseError) as caught:
        parse_webhook(url)
    assert "DISCORD_WEBHOOK_URL is not a Discord webhook URL" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_reading_the_webhook_registers_the_url_and_its_token_as_secrets() -> None:
    token = "Zz9" + TOKEN[3:]
    url = f"https://discord.com/api/webhooks/123456789012345678/{token}"
    register_webhook_secrets({"DISCORD_WEBHOOK_URL": url})
    assert console.mask(f"posting to {url}") == "posting to ***"
    assert console.mask(f"token {token}!") == "token ***!"


# -- what a run does ----------------------------------------------------------------

POSTED = {"status": "posted", "message_id": "55", "webhook_id": "1"}


@pytest.mark.parametrize(
    ("record", "flags", "action", "message_id"),
    [
        (None, {}, "post", None),
        ({"status": "failed", "webhook_id": "1"}, {}, "post", None),
        (POSTED, {}, "edit", "55"),
        ({**POSTED, "status": "assumed-posted"}, {}, "edit", "55"),
        ({"status": "assumed-posted", "message_id": None}, {}, "nothing", None),
        (POSTED, {"repost": True}, "post", None),
        ({"status": "unknown", "webhook_id": "1"}, {"repost": True}, "post", None),
        ({"status": "unknown", "webhook_id": "1"}, {"assume_posted": True}, "mark", None),
        ({"status": "sending", "webhook_id": "1"}, {"assume_posted": True}, "mark", None),
        (POSTED, {"assume_posted": True}, "mark", "55"),
        (None, {"assume_posted": True}, "mark", None),
    ],
)
def test_what_a_run_does(
    record: dict[str, str] | None, flags: dict[str, bool], action: str, message_id: str | None
) -> None:
    decision = decide(record, "1", tag=TAG, **flags)
    assert (decision.action, decision.message_id) == (action, message_id)


@pytest.mark.parametrize("status", ["unknown", "sending"])
def test_a_lost_answer_refuses_until_repost_or_assume_posted(status: str) -> None:
    record = {
        "status": status,
        "webhook_id": "1",
        "guild_id": "9",
        "channel_id": "8",
    }
    with pytest.raises(ReleaseError) as caught:
        decide(record, "1", tag=TAG)
    message = str(caught.value)
    assert "may have been posted" in message
    assert message.endswith("the channel: https://discord.com/channels/9/8")
    assert f"invoke notify --tag {TAG} --assume-posted" in message
    assert f"invoke notify --tag {TAG} --repost" in message


def test_a_message_of_another_webhook_is_not_edited() -> None:
    with pytest.raises(ReleaseError, match=r"webhook 1.*names webhook 2.*--repost"):
        decide(POSTED, "2", tag=TAG)


def test_repost_and_assume_posted_together_are_a_usage_error() -> None:
    with pytest.raises(UsageError):
        decide(None, "1", tag=TAG, repost=True, assume_posted=True)
    with pytest.raises(UsageError):
        notify_flags(True, True)
    assert notify_flags(True, False) == {"repost": True, "assume_posted": False}


# -- Discord's answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        (
            {},
            {"message": "You are being rate limited.", "retry_after": 0.25, "global": False},
            0.25,
        ),
        ({"Retry-After": "3"}, {"retry_after": 1.5}, 1.5),
        ({"Retry-After": "2"}, None, 2.0),
        ({"Retry-After": "0.5"}, "<html>", 0.5),
        ({"Retry-After": "soon"}, None, None),
        ({}, {"retry_after": -1}, None),
        ({}, None, None),
    ],
)
def test_how_long_a_429_asks_to_wait(
    headers: dict[str, str], body: object, expected: float | None
) -> None:
    assert retry_delay(headers, body) == expected


MAX = "Must be 4096 or fewer in length."


def test_discords_nested_errors_become_readable_lines() -> None:
    errors = {
        "embeds": {
            "0": {
                "description": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "Must be 4096 or fewer in length.",
                        }
                    ]
                },
                "fields": {"2": {"value": {"_errors": [{"code": "BASE_TYPE_REQUIRED"}]}}},
            }
        }
    }
    assert error_details(errors) == [
        "embeds.0.description: Must be 4096 or fewer in length.",
        "embeds.0.fields.2.value: BASE_TYPE_REQUIRED",
    ]
