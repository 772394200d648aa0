"""Faults of the services a release talks to, and what ``invoke release --yes`` makes of them.

Every scenario releases the demo (``version/1.1.0``) into its own index, registry, Discord
and Azure, each behind a fault proxy, with the real Docker engine and a bare git remote:

- a **transient** fault (one bad answer) is retried, and the release completes in one run;
- a **persistent** fault (the service keeps failing) stops the release with exit 1 and one
  clear ``error:`` line that names the service, no traceback; a fault met before the first
  side effect (pre-flight or local work) leaves everything as it was; once the service is
  healthy again, **the same command** completes the release;
- Discord's webhook is not idempotent: when the answer to the post is lost (the connection
  cut, or no answer within ``RELEASE_DISCORD_TIMEOUT``), notify records "answer unknown" and
  stops with exit 1; the same command refuses again with the fix, and
  ``invoke notify --assume-posted`` (the message is in the channel) or ``--repost`` (it is
  not) settles it, by design (docs/design.md "Re-runs and state").

After every scenario the invariants hold (``World.violations``): each file once on the index,
every tag where it should be (the version tags and their channels, the git tag), exactly one
Discord message, one bump commit on the remote, no channel moved backwards, the remote's
state notes equal to the local state; no known secret anywhere (``World.leaks``); nothing
done twice (``World.duplicates``).

The CI tier is the list ``CI_TIER``: one scenario per service and fault class that matters
most. ``RELEASE_RELIABILITY_FULL=1`` runs the full matrix instead: every request class of
every service, with every fault, transient and persistent.

"timeout" faults: Discord's client timeout is settable (``RELEASE_DISCORD_TIMEOUT``, 3 s
in these scenarios, 30 s in the others), so its timeouts are real; the other clients wait
minutes, so for them the proxy holds the request for 2 s and then cuts it, which they see
as a dropped connection after a wait.
A 5xx is taken at its word (the service did not do the work): a Discord post answered 5xx
after it was posted would be posted again, as the design accepts, so the suite does not
forward a request it answers with a 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.reliability.conftest import MakeWorld, assert_clean
from tests.reliability.summary import full_matrix
from tests.reliability.world import (
    AZURE_PASSWORD,
    DISCORD_TOKEN,
    INDEX_PASSWORD,
    REGISTRY_PASSWORD,
    SHORT_DISCORD_TIMEOUT,
    TAG,
    Outcome,
    World,
)

# Where each service's requests go: (service, label) -> (method, path pattern, before any
# side effect). The label names the request class in scenario ids.
REQUESTS = {
    ("index", "simple-page"): ("GET", r"^/simple/", True),
    ("index", "upload"): ("POST", r"^/$", False),
    ("registry", "manifest-check"): ("HEAD", r"/manifests/1\.1\.0$", True),
    ("registry", "blob-upload"): ("PATCH", r"/blobs/uploads/", False),
    ("registry", "version-tag"): ("PUT", r"/manifests/1\.1\.0$", False),
    ("registry", "tag-list"): ("GET", r"/tags/list", False),
    ("registry", "channel-move"): ("PUT", r"/manifests/(troltunga|1\.1)$", False),
    ("discord", "webhook-check"): ("GET", r"/webhooks/", True),
    ("discord", "post"): ("POST", r"/webhooks/", False),
    ("azure", "access-check"): ("GET", r"^/api/deployments$", True),
    ("azure", "deploy"): ("POST", r"^/api/(zipdeploy|publish)", False),
    ("azure", "status-poll"): ("GET", r"^/api/deployments/.", False),
}
HTTP_FAULTS = ("500", "503", "429", "reset", "lost-answer", "timeout")
NAMES = {
    "index": "index",
    "registry": "registry",
    "discord": "Discord",
    "azure": "SCM site",
    "engine": "Docker engine",
    "git": "origin",
}


@dataclass(frozen=True)
class Scenario:
    """One fault: where it hits, what it is, whether it lasts, and how a run looks."""

    service: str  # index, registry, discord, azure, engine, git
    where: str  # the request class (REQUESTS), or what the fault is for engine and git
    fault: str  # 500 503 429 reset lost-answer timeout refused stopped rejected unreachable
    persistent: bool
    github_actions: bool = False
    says: str = ""  # the stopped release's error says this (why, or what to do)
    debug: bool = False  # RELEASE_DEBUG=1: tracebacks shown, and they too must not leak

    @property
    def id(self) -> str:
        lasting = "persistent" if self.persistent else "transient"
        return f"{self.service}-{self.where}-{self.fault}-{lasting}"

    @property
    def request(self) -> tuple[str | None, str, bool]:
        return REQUESTS.get((self.service, self.where), (None, "", True))

    @property
    def answer_unknown(self) -> bool:
        """Discord's post whose answer never came: by design the release cannot know."""
        return (self.service, self.where) == ("discord", "post") and self.fault in (
            "reset",
            "lost-answer",
            "timeout",
        )

    @property
    def posted(self) -> bool:
        """Whether Discord received the post whose answer was lost."""
        return self.fault in ("lost-answer", "timeout")

    @property
    def stops(self) -> bool:
        return self.persistent and not self.answer_unknown

    @property
    def before_side_effects(self) -> bool:
        if self.service == "engine" or self.fault in ("refused", "unreachable"):
            return True
        if self.fault == "rejected":
            return False  # the bump push is the first side effect; build's note went before
        return self.request[2]

    def inject(self, world: World) -> None:
        method, path, _ = self.request
        count = None if self.persistent else 1
        if self.service == "engine":
            world.extra_env["DOCKER_HOST"] = f"unix://{world.root}/no-engine.sock"
        elif self.fault == "rejected":
            hook = world.repo.remote / "hooks" / "pre-receive"
            hook.write_text(PROTECTED_BRANCH_HOOK, encoding="utf-8")
            hook.chmod(0o755)
        elif self.fault == "unreachable":
            world.repo.remote.rename(world.repo.remote.with_name("remote-away.git"))
        elif self.fault == "refused":
            world.proxies[self.service].down()
        elif self.fault in ("500", "503", "429"):
            world.proxies[self.service].fault(
                "status",
                method,
                path,
                status=int(self.fault),
                retry_after=1 if self.fault == "429" else None,
                count=count,
            )
        elif self.fault == "reset":
            world.proxies[self.service].fault("reset", method, path, count=count)
        elif self.fault == "lost-answer":
            world.proxies[self.service].fault("reset", method, path, count=count, forward=True)
        elif self.fault == "timeout":
            hold = 30.0 if self.service == "discord" else 2.0
            if self.service == "discord":
                world.extra_env.update(SHORT_DISCORD_TIMEOUT)
            world.proxies[self.service].fault(
                "hold", method, path, count=count, forward=True, hold_seconds=hold
            )
        else:
            raise AssertionError(f"unknown fault {self.fault}")

    def heal(self, world: World) -> None:
        world.extra_env.pop("DOCKER_HOST", None)
        (world.repo.remote / "hooks" / "pre-receive").unlink(missing_ok=True)
        away = world.repo.remote.with_name("remote-away.git")
        if away.exists():
            away.rename(world.repo.remote)
        for proxy in world.proxies.values():
            proxy.clear()
            proxy.up()

    def hits(self, world: World) -> int:
        """How often the fault was met (the scenario asserts it was)."""
        if self.service in world.proxies and self.fault != "refused":
            return sum(rule.hits for rule in world.proxies[self.service].rules)
        return 1


PROTECTED_BRANCH_HOOK = """#!/bin/sh
# Branch protection: no direct pushes to branches (tags and notes are allowed).
while read old new ref; do
    case "$ref" in
    refs/heads/*) echo "GH006: Protected branch update failed for $ref." >&2; exit 1 ;;
    esac
done
exit 0
"""

CI_TIER = [
    Scenario("index", "upload", "503", persistent=False),
    Scenario("index", "simple-page", "429", persistent=False, github_actions=True),
    Scenario("index", "simple-page", "refused", persistent=True, says="not reachable"),
    Scenario("registry", "version-tag", "503", persistent=False),
    Scenario(
        "registry", "manifest-check", "refused", True, github_actions=True, says="unreachable"
    ),
    Scenario("discord", "post", "429", persistent=False),
    Scenario("discord", "post", "503", True, github_actions=True, says="503", debug=True),
    Scenario("discord", "post", "timeout", persistent=False, github_actions=True),
    Scenario("azure", "deploy", "503", persistent=False),
    Scenario(
        "azure",
        "status-poll",
        "reset",
        True,
        says="run the same command again to follow",
        debug=True,
    ),
    Scenario("engine", "engine", "stopped", persistent=True, says="does not answer"),
    Scenario(
        "git", "bump-push", "rejected", True, github_actions=True, says="Protected branch update"
    ),
    Scenario("git", "remote", "unreachable", True, says="does not appear to be a git repository"),
]


def matrix() -> list[Scenario]:
    """Every request class x every HTTP fault x transient/persistent, every service down,
    the engine stopped, the bump push rejected and the remote unreachable."""
    found = []
    for service, where in REQUESTS:
        for fault in HTTP_FAULTS:
            if fault == "429" and service == "azure":
                continue  # the SCM site's API has no rate limit answer
            for persistent in (False, True):
                found.append(Scenario(service, where, fault, persistent, github_actions=persistent))
    for service in ("index", "registry", "discord", "azure"):
        found.append(Scenario(service, "service", "refused", persistent=True))
    found += [s for s in CI_TIER if s.service in ("engine", "git")]
    ci = {s.id: s for s in CI_TIER}
    return [ci.get(s.id, s) for s in found]


SCENARIOS = matrix() if full_matrix() else CI_TIER


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_fault(make_world: MakeWorld, scenario: Scenario) -> None:
    world = make_world(github_actions=scenario.github_actions, debug=scenario.debug)
    scenario.inject(world)
    first = world.release()
    assert scenario.hits(world) >= 1, f"the fault was never met:\n{first}"
    if scenario.answer_unknown:
        settle_unknown_answer(world, scenario, first)
    elif scenario.stops:
        assert first.returncode == 1, first
        where = [NAMES[scenario.service]]
        if scenario.service in world.proxies:
            where.append(world.proxies[scenario.service].host)  # its address names it too
        assert_one_clear_message(first, where, traceback=scenario.debug)
        assert scenario.says in "\n".join(first.errors()), first
        scenario.heal(world)
        if scenario.before_side_effects:
            assert world.side_effects() == [], first
        again = world.release()
        assert again.returncode == 0, f"{first}\n\n{again}"
    else:
        assert first.returncode == 0, first
    assert_clean(world)


def settle_unknown_answer(world: World, scenario: Scenario, first: Outcome) -> None:
    """Exit 1 saying the message may have been posted; the same command refuses again with
    the two ways out; the right one of them leaves exactly one message."""
    assert first.returncode == 1, first
    assert "may have been posted" in first.stderr, first
    scenario.heal(world)
    again = world.release()
    assert again.returncode == 1, again
    assert "--assume-posted" in again.stderr and "--repost" in again.stderr, again
    flag = "--assume-posted" if scenario.posted else "--repost"
    settled = world.invoke("notify", "--tag", TAG, flag)
    assert settled.returncode == 0, settled
    final = world.release()
    assert final.returncode == 0, final
    assert len(world.discord_messages()) == 1


def assert_one_clear_message(
    outcome: Outcome, service: list[str], *, traceback: bool = False
) -> None:
    """One ``error:`` line (or one per pre-flight problem and their count), naming the
    service (or its address), without an internal error, and without a traceback unless
    RELEASE_DEBUG=1."""
    errors = outcome.errors()
    assert errors, outcome
    assert not any("internal error" in line for line in errors), outcome
    shown = "Traceback (most recent call last)" in outcome.output
    assert shown == traceback, outcome
    assert any(name.lower() in line.lower() for line in errors for name in service), outcome


def test_an_undisturbed_release_meets_every_invariant(make_world: MakeWorld) -> None:
    world = make_world()
    outcome = world.release()
    assert outcome.returncode == 0, outcome
    assert_clean(world)
    again = world.release()
    assert again.returncode == 0, again
    assert_clean(world)


def test_a_release_in_github_actions_masks_every_secret_and_writes_the_summary(
    make_world: MakeWorld,
) -> None:
    world = make_world(github_actions=True)
    outcome = world.release()
    assert outcome.returncode == 0, outcome
    masked = {
        line.removeprefix("::add-mask::")
        for line in outcome.stdout.splitlines()
        if line.startswith("::add-mask::")
    }
    for secret in (INDEX_PASSWORD, REGISTRY_PASSWORD, DISCORD_TOKEN, AZURE_PASSWORD):
        assert secret in masked  # the runner masks it in its own logs too
    assert "| upload | done |" in world.summary_file.read_text(encoding="utf-8")
    assert_clean(world)
