"""The suite's own instruments can fail: the proxy's faults happen, and the leak scan and the
duplicate count find what they look for (planted here, outside the suite's table)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devservices.discord import DiscordWebhookServer
from devservices.engine import DockerEngine
from tests.reliability.faultproxy import FaultProxy
from tests.reliability.world import DISCORD_TOKEN, INDEX_PASSWORD, Outcome, World, basic


@pytest.fixture
def proxied() -> Iterator[tuple[FaultProxy, str]]:
    with (
        DiscordWebhookServer("42", "token") as server,
        FaultProxy(f"http://127.0.0.1:{server.port}", "discord") as proxy,
    ):
        yield proxy, f"{proxy.url}/api/webhooks/42/token"


def get(url: str, timeout: float = 5) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.get(url, timeout=timeout)


def test_the_proxy_forwards_then_answers_the_chosen_requests_with_faults(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, url = proxied
    assert get(url).json()["id"] == "42"
    rule = proxy.fault("status", "GET", "/webhooks/", status=503, skip=1, count=1)
    assert get(url).status_code == 200  # skipped
    assert get(url).status_code == 503
    assert get(url).status_code == 200  # spent
    assert rule.hits == 1
    proxy.fault("status", "GET", "", status=429, retry_after=2)
    limited = get(url)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    proxy.fault("reset", "GET")
    with pytest.raises(requests.ConnectionError):
        get(url)
    assert [s.status for s in proxy.requests("GET")] == [200, 200, 503, 200, 429, 0]
    held = proxy.fault("hold", "GET", hold_seconds=30)
    with pytest.raises(requests.ReadTimeout):
        get(url, timeout=0.5)
    assert held.hits == 1


def test_a_proxy_that_is_down_refuses_connections_until_it_is_up(
    proxied: tuple[FaultProxy, str],
) -> None:
    proxy, url = proxied
    proxy.down()
    with pytest.raises(requests.ConnectionError, match=r"[Rr]efused"):
        get(url)
    proxy.up()
    assert get(url).status_code == 200


def test_the_leak_scan_finds_secrets_in_output_files_and_git_objects(
    tmp_path: Path, template: Path, docker_engine: DockerEngine
) -> None:
    with World.create(template, tmp_path / "world", docker_engine.docker_host) as world:
        assert world.leaks() == []
        world.outcomes.append(Outcome(("x",), 0, f"::add-mask::{DISCORD_TOKEN}\n", ""))
        assert world.leaks() == []  # the runner consumes ::add-mask:: lines
        world.outcomes.append(
            Outcome(("x",), 0, "", f"auth {basic('reliability', INDEX_PASSWORD)}")
        )
        (world.repo.path / ".git" / "release-state" / "planted.json").write_text(INDEX_PASSWORD)
        subprocess.run(
            ["git", "notes", "--ref", "release/upload", "add", "-m", DISCORD_TOKEN, "HEAD"],
            cwd=world.repo.path,
            check=True,
            capture_output=True,
        )
        found = {(leak.secret, leak.where.split(" ")[0]) for leak in world.leaks()}
        assert found == {
            ("index password (Basic credentials)", "stderr"),
            ("index password", "work/.git/release-state/planted.json"),
            ("webhook token", "the"),  # the git objects of the clone
        }


def test_the_duplicate_count_finds_a_second_discord_message(
    tmp_path: Path, template: Path, docker_engine: DockerEngine
) -> None:
    with World.create(template, tmp_path / "world", docker_engine.docker_host) as world:
        url = world.env()["DISCORD_WEBHOOK_URL"] + "?wait=true"
        with requests.Session() as http:
            http.trust_env = False
            for _ in range(2):
                http.post(url, json={"content": "hello"}, timeout=5).raise_for_status()
        assert world.duplicates() == ["2 Discord messages"]
