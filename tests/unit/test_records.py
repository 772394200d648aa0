"""The checks of a state record before any step uses it (``release.run.records``), and the
guards where an id becomes a URL path (Discord message, Kudu deployment)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from release.core.errors import ReleaseError
from release.core.text import shown
from release.run.records import MAX_TEXT, problem
from release.steps.deploy_ui.kudu import Target
from release.steps.notify.webhook import parse_webhook

SHA = "ab" * 32
COMMIT = "cd" * 20

# The records each step writes (the shapes of its code), as they are stored.
WRITTEN: dict[str, dict[str, Any]] = {
    "bump": {
        "result": "pushed",
        "commit": COMMIT,
        "branch": "release/1.x",
        "remote": "origin",
        "files": ["demo-common/pyproject.toml", "ui/package.json"],
    },
    "build": {"folder": "/tmp/x/.git/release-dist/1.1.0", "dists": [{"filename": "a.whl"}]},
    "upload": {
        "repository": "http://127.0.0.1:8080/",
        "index": "https://pypi.org/simple/",
        "files": [
            {
                "filename": "demo_common-1.1.0-py3-none-any.whl",
                "package": "demo-common",
                "project": "demo-common",
                "sha256": SHA,
                "status": "uploaded",
                "url": "https://files.example.org/packages/demo_common-1.1.0-py3-none-any.whl",
            },
            {
                "filename": "demo_common-1.1.0.tar.gz",
                "package": "demo-common",
                "project": "demo-common",
                "sha256": SHA,
                "status": "already on the index",
                "url": None,
            },
        ],
    },
    "push-image": {
        "registry": "127.0.0.1:5000",
        "images": {
            "demo/node": {
                "repository": "127.0.0.1:5000/demo/node",
                "tags": ["1.1.0", "troltunga", "1.1"],
                "digest": "sha256:" + SHA,
                "pushed": ["1.1.0"],
                "kept": [],
            }
        },
        "channels": {"demo/node": [{"channel": {"tag": "1.1"}, "move": "forward"}]},
    },
    "deploy-ui": {
        "app": "demo-ui",
        "slot": "production",
        "host": "127.0.0.1:41234",
        "api": "zipdeploy",
        "npm_version": "1.1.0-rc.1",
        "files": 3,
        "bytes": 2048,
        "sha256": SHA,
        "deployment_id": "0f8fad5bd9cb469fa16570867728950e",
        "status": "succeeded",
    },
    "notify": {
        "status": "posted",
        "message_id": "1234567890123456789",
        "channel_id": "111",
        "guild_id": "222",
        "webhook_id": "1234567890123456789",
        "tag": "version/1.1.0",
        "digest": SHA,
        "posted_at": "2024-05-01T12:00:00+00:00",
    },
}


def stamped(step: str, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "step": step, "version": "1.1.0", "recorded_at": 1714564800.25}


@pytest.mark.parametrize("step", sorted(WRITTEN))
def test_every_record_a_step_writes_passes(step: str) -> None:
    assert problem(step, "1.1.0", stamped(step, WRITTEN[step])) is None


def test_a_sending_notify_record_without_a_message_passes() -> None:
    record = {**WRITTEN["notify"], "status": "sending", "message_id": None}
    assert problem("notify", "1.1.0", record) is None
    assert problem("notify", "1.1.0", {**WRITTEN["notify"], "message_id": 123}) is None


HOSTILE = [
    (
        "notify",
        {"message_id": "../../webhooks/x"},
        "message_id: '../../webhooks/x' is not a Discord id",
    ),
    ("notify", {"message_id": "12?thread_id=9"}, "is not a Discord id"),
    ("notify", {"message_id": "1" * 21}, "is not a Discord id"),
    ("notify", {"message_id": True}, "True is not a Discord id"),
    ("notify", {"webhook_id": "1/2"}, "webhook_id"),
    ("notify", {"guild_id": "x"}, "guild_id"),
    ("notify", {"status": "pwned"}, "status: 'pwned' is not one of posted"),
    ("notify", {"status": None}, "status: None is not one of"),
    ("deploy-ui", {"deployment_id": "../../api/command"}, "is not a Kudu deployment id"),
    ("deploy-ui", {"deployment_id": "a b"}, "is not a Kudu deployment id"),
    ("deploy-ui", {"deployment_id": "-x"}, "is not a Kudu deployment id"),
    ("deploy-ui", {"status": "done"}, "status: 'done'"),
    ("deploy-ui", {"host": "x` @everyone"}, "is not a host"),
    ("deploy-ui", {"api": "kudu"}, "api"),
    ("deploy-ui", {"files": -1}, "files: -1 is not a count"),
    ("upload", {"files": [{"filename": "../evil.whl"}]}, "files[0]: filename"),
    ("upload", {"files": [{"project": "a/../b"}]}, "files[0]: project"),
    ("upload", {"files": [{"url": "javascript:alert(1)"}]}, "is not an http(s) URL"),
    ("upload", {"files": "a.whl"}, "files: 'a.whl' is not a list"),
    ("upload", {"projects": ["x y"]}, "projects[0]"),
    ("push-image", {"images": {"Demo/../x": {}}}, "key 'Demo/../x' is not an image name"),
    ("push-image", {"images": {"demo/node": {"tags": ["a`b"]}}}, "is not a Docker tag"),
    ("push-image", {"images": {"demo/node": {"digest": "sha256:zz"}}}, "is not an image digest"),
    ("bump", {"commit": "HEAD~1"}, "commit"),
    ("bump", {"result": "maybe"}, "result"),
]


@pytest.mark.parametrize(("step", "change", "says"), HOSTILE, ids=lambda v: str(v)[:30])
def test_a_hostile_field_is_refused_naming_it(step: str, change: dict[str, Any], says: str) -> None:
    found = problem(step, "1.1.0", {**WRITTEN[step], **change})
    assert found is not None and says in found, found


@pytest.mark.parametrize("record", ["posted", ["posted"], 1, None])
def test_a_record_that_is_not_an_object_is_refused(record: Any) -> None:
    assert "not an object" in (problem("notify", "1.1.0", record) or "")


def test_a_record_for_another_step_or_version_is_refused() -> None:
    assert "step: 'upload'" in (
        problem("notify", "1.1.0", stamped("upload", WRITTEN["notify"])) or ""
    )
    record = {**stamped("notify", WRITTEN["notify"]), "version": "9.9.9"}
    assert "version: '9.9.9'" in (problem("notify", "1.1.0", record) or "")
    record = {**stamped("notify", WRITTEN["notify"]), "recorded_at": "soon"}
    assert "recorded_at" in (problem("notify", "1.1.0", record) or "")


def test_any_string_too_long_or_with_a_control_character_is_refused_anywhere() -> None:
    huge = {**WRITTEN["build"], "extra": {"deep": ["x" * (MAX_TEXT + 1)]}}
    found = problem("build", "1.1.0", huge) or ""
    assert "is longer than 4096 characters" in found
    assert len(found) < 200  # the value itself is cut, not repeated
    escaped = {**WRITTEN["notify"], "detail": "lost\x1b]8;;http://evil\x07"}
    assert "holds a control character" in (problem("notify", "1.1.0", escaped) or "")
    assert problem("notify", "1.1.0", {**WRITTEN["notify"], "detail": "a\tb\nc"}) is None


def test_a_record_nested_without_end_is_refused() -> None:
    deep: Any = "x"
    for _ in range(50):
        deep = [deep]
    assert "nested too deeply" in (problem("build", "1.1.0", {"folder": deep}) or "")


def test_an_unknown_step_gets_the_generic_checks_only() -> None:
    assert problem("github-release", "1.1.0", {"release_id": 5, "files": []}) is None
    assert problem("github-release", "1.1.0", []) is not None


def test_shown_quotes_escapes_and_cuts() -> None:
    assert shown("a\x00b") == "'a\\x00b'"
    cut = shown("9" * 10_000_000)
    assert cut.endswith("... (10000000 characters)") and len(cut) < 100
    assert shown({"a": 1}) == "an object" and shown([1]) == "a list"
    assert shown(10**100) == "a very large integer"


def test_the_discord_client_never_puts_a_non_id_into_a_message_url() -> None:
    webhook = parse_webhook("https://discord.com/api/webhooks/123/token-abc")
    assert webhook.message_url("456").endswith("/webhooks/123/token-abc/messages/456")
    for bad in ("../../webhooks/x", "456?wait=false", "456/../1", ""):
        with pytest.raises(ReleaseError, match="not a Discord id"):
            webhook.message_url(bad)


def test_kudu_never_puts_a_non_id_into_a_deployment_url() -> None:
    target = Target("https://demo-ui.scm.azurewebsites.net", "zipdeploy", "demo-ui", "production")
    assert target.deployment_url("temp-1a2b").endswith("/api/deployments/temp-1a2b")
    for bad in ("../../api/command", "x/log", "a?b", "@evil.example"):
        with pytest.raises(ReleaseError, match="not a deployment id"):
            target.deployment_url(bad)


def test_kudu_refuses_a_deployment_record_whose_id_is_not_a_token() -> None:
    import requests

    from release.steps.deploy_ui.kudu import Kudu

    kudu = object.__new__(Kudu)  # no session needed: only the answer is read
    kudu.target = Target("https://demo-ui.scm.azurewebsites.net", "zipdeploy", "demo-ui", "x")
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps({"id": "../../api/command", "status": 4}).encode()
    with pytest.raises(ReleaseError, match="not a Kudu deployment record"):
        kudu._record(answer)
    answer._content = json.dumps({"id": "temp-1a2b", "status": 4}).encode()
    assert kudu._record(answer)[0].id == "temp-1a2b"
