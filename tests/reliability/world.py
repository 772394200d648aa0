"""One scenario's world: the demo repository, every service behind a fault proxy, the checks.

A ``World`` is a copy of the worker's template repository (the demo tagged
``version/1.1.0``, its packages already built and verified in ``.git/release-dist``, so a
scenario reuses that build: the tagged commit is the same) with its own bare remote, and
its own services, each behind a :class:`~tests.reliability.faultproxy.FaultProxy`:

- ``index``: a real pypiserver (upload password ``INDEX_PASSWORD``);
- ``registry``: a real docker-registry with Basic auth (``REGISTRY_PASSWORD``), seeded with
  an older and a newer release (1.0.0 and 2.0.0 and their channels), so that "no channel
  moved backwards" means something: ``latest`` must stay on 2.0.0;
- ``discord``: the Discord contract server (webhook token ``DISCORD_TOKEN``);
- ``azure``: the Kudu contract server (publish profile password ``AZURE_PASSWORD``);
- the Docker engine of the session (``DOCKER_HOST``; its image cache is shared).

Every secret is known, so :meth:`World.leaks` can look for it everywhere the tool writes:
stdout and stderr of every run (``::add-mask::`` lines aside), every file under the
scenario's folder (the clone, its ``.git``, the remote, ``$GITHUB_STEP_SUMMARY``) and every
git object of the clone and the remote, decompressed (state notes, commits, tags).

:meth:`World.violations` checks the invariants of a finished release; :meth:`World.snapshot`
is the observable end state, for comparing a killed-and-resumed release with an
uninterrupted one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from devservices.azure import KuduServer
from devservices.discord import DiscordWebhookServer
from devservices.pypi import PypiServer
from devservices.registry import Registry
from tests.oci import api_image, session
from tests.reliability.faultproxy import FaultProxy
from tests.repos import CHECKOUT, Repo, clean_env, run

TAG = "version/1.1.0"
VERSION = "1.1.0"
BUMP_MESSAGE = "Updated the version to 1.1.0"
IMAGES = ("demo/node", "demo/server")

INDEX_USER = "reliability"
REGISTRY_USER = "reliability"
WEBHOOK_ID = "1234567890123456789"
# Known secret values, each unmistakable in any text. The suffix differs per run of the
# suite so that nothing stale can match; the values are never printed by the tests.
_RUN = hashlib.sha256(f"{os.getpid()}-{time.time_ns()}".encode()).hexdigest()[:10]
INDEX_PASSWORD = f"idxSecret{_RUN}Pw"
REGISTRY_PASSWORD = f"regSecret{_RUN}Pw"
DISCORD_TOKEN = f"hookSecret{_RUN}Tk_abcdefghijklmnopqrstuvwxyz0123456789"
AZURE_PASSWORD = f"azSecret{_RUN}Pw"

# The registry before the release: 1.0.0 and 2.0.0 with their channels (the demo's
# codenames: 1 troltunga, 2 harukas). Releasing 1.1.0 moves troltunga and 1.1 (and the
# server's troltunga-live) to it, and leaves 1.0 and the 2.x channels, latest included.
SEEDED = {
    "demo/node": {"1.0.0": ("troltunga", "1.0"), "2.0.0": ("harukas", "2.0", "latest")},
    "demo/server": {
        "1.0.0": ("troltunga", "1.0", "troltunga-live"),
        "2.0.0": ("harukas", "2.0", "latest", "harukas-live"),
    },
}
EXPECTED_CHANNELS = {
    "demo/node": {"troltunga": "1.1.0", "1.1": "1.1.0", "1.0": "1.0.0", "harukas": "2.0.0",
                  "2.0": "2.0.0", "latest": "2.0.0"},
    "demo/server": {"troltunga": "1.1.0", "1.1": "1.1.0", "1.0": "1.0.0", "harukas": "2.0.0",
                    "2.0": "2.0.0", "latest": "2.0.0", "troltunga-live": "1.1.0",
                    "harukas-live": "2.0.0"},
}  # fmt: skip
STEPS = ("bump", "build", "upload", "push-image", "deploy-ui", "notify")


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def secret_forms() -> dict[str, str]:
    """Every form in which a secret could leak: {form: which secret}."""
    forms: dict[str, str] = {}
    for name, value, user in (
        ("index password", INDEX_PASSWORD, INDEX_USER),
        ("registry password", REGISTRY_PASSWORD, REGISTRY_USER),
        ("webhook token", DISCORD_TOKEN, None),
        ("publish profile password", AZURE_PASSWORD, "$demo-ui"),
    ):
        forms[value] = name
        forms[quote(value, safe="")] = name
        if user is not None:
            forms[basic(user, value)] = f"{name} (Basic credentials)"
    return forms


@dataclass(frozen=True)
class Leak:
    secret: str
    where: str


@dataclass
class Outcome:
    """One run of the tool: its arguments, exit code and output."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def errors(self) -> list[str]:
        """The ``error:`` lines (one clear message) of the run."""
        return [line for line in self.stderr.splitlines() if line.startswith("error: ")]

    def __str__(self) -> str:
        return (
            f"invoke {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-6000:]}"
        )


@dataclass
class World:
    """A scenario: repository, remote, services behind proxies, and every run's output."""

    root: Path
    repo: Repo
    engine_host: str
    github_actions: bool = False
    debug: bool = False
    proxies: dict[str, FaultProxy] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)
    index_server: PypiServer | None = None
    registry_server: Registry | None = None
    discord_server: DiscordWebhookServer | None = None
    kudu_server: KuduServer | None = None
    tagged: str = ""
    initial_refs: dict[str, str] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)  # proxy -> requests seen before mark()
    built: dict[str, str] = field(default_factory=dict)  # the template's verified build

    # -- set-up ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        template: Path,
        root: Path,
        engine_host: str,
        *,
        github_actions: bool = False,
        debug: bool = False,
    ) -> World:
        shutil.copytree(template, root, symlinks=True)
        repo = Repo(root / "work", root / "remote.git")
        repo.git("remote", "set-url", "origin", str(repo.remote))
        serve_pushes_apart(repo)
        world = cls(root, repo, engine_host, github_actions=github_actions, debug=debug)
        world.tagged = repo.git("rev-parse", f"{TAG}^{{commit}}")
        world.initial_refs = world.remote_refs()
        world.built = built_files(repo)
        try:
            world._start()
        except BaseException:
            world.close()
            raise
        return world

    def _start(self) -> None:
        stack = self._stack
        services = self.root / "services"
        self.index_server = stack.enter_context(
            PypiServer(services / "pypi", INDEX_USER, INDEX_PASSWORD)
        )
        self.registry_server = stack.enter_context(
            Registry(services / "registry", username=REGISTRY_USER, password=REGISTRY_PASSWORD)
        )
        self.discord_server = stack.enter_context(DiscordWebhookServer(WEBHOOK_ID, DISCORD_TOKEN))
        self.kudu_server = stack.enter_context(KuduServer("$demo-ui", AZURE_PASSWORD))
        for name, upstream in (
            ("index", self.index_server.url.rstrip("/")),
            ("registry", self.registry_server.url),
            ("discord", f"http://127.0.0.1:{self.discord_server.port}"),
            ("azure", self.kudu_server.url),
        ):
            self.proxies[name] = stack.enter_context(FaultProxy(upstream, name))
        self._seed_registry()

    def _seed_registry(self) -> None:
        assert self.registry_server is not None
        headers = {"Authorization": f"Basic {basic(REGISTRY_USER, REGISTRY_PASSWORD)}"}
        http = session()
        try:
            for repository, versions in SEEDED.items():
                for version, channels in versions.items():
                    pushed = api_image(
                        http, self.registry_server.url, repository, version,
                        f"{repository} {version}", headers=headers,
                    )  # fmt: skip
                    for channel in channels:
                        response = http.put(
                            f"{self.registry_server.url}/v2/{repository}/manifests/{channel}",
                            data=pushed.data,
                            headers={**headers, "Content-Type": pushed.media_type},
                            timeout=30,
                        )
                        assert response.status_code == 201, response.text
        finally:
            http.close()

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.release()
        self._stack.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def index(self) -> FaultProxy:
        return self.proxies["index"]

    @property
    def registry(self) -> FaultProxy:
        return self.proxies["registry"]

    @property
    def discord(self) -> FaultProxy:
        return self.proxies["discord"]

    @property
    def azure(self) -> FaultProxy:
        return self.proxies["azure"]

    @property
    def summary_file(self) -> Path:
        return self.root / "step-summary.md"

    def env(self) -> dict[str, str]:
        """What points the tool at the proxies, with every credential."""
        assert self.kudu_server is not None
        env = {
            "TWINE_REPOSITORY_URL": f"{self.index.url}/",
            "RELEASE_INDEX_URL": f"{self.index.url}/simple/",
            "TWINE_USERNAME": INDEX_USER,
            "TWINE_PASSWORD": INDEX_PASSWORD,
            "RELEASE_REGISTRY": self.registry.host,
            "RELEASE_REGISTRY_USERNAME": REGISTRY_USER,
            "RELEASE_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
            "DISCORD_WEBHOOK_URL": f"{self.discord.url}/api/webhooks/{WEBHOOK_ID}/{DISCORD_TOKEN}",
            "RELEASE_DISCORD_TIMEOUT": str(DISCORD_TIMEOUT),
            "RELEASE_AZURE_SCM_URL": self.azure.url,
            "AZURE_WEBAPP_PUBLISH_PROFILE": self.kudu_server.profile(),
            "DOCKER_HOST": self.engine_host,
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "DOCKER_CONFIG": str(self.root / "docker-config"),  # no credentials of the machine
        }
        if self.debug:  # tracebacks too must not show a secret
            env["RELEASE_DEBUG"] = "1"
        if self.github_actions:
            env.update(
                {
                    "GITHUB_ACTIONS": "true",
                    "CI": "true",
                    "GITHUB_ACTOR": "release-bot",
                    "GITHUB_OUTPUT": str(self.root / "github-output.txt"),
                }
            )
        env.update(self.extra_env)
        return env

    # -- running the tool -----------------------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), *args]

    def invoke(self, *args: str, env: Mapping[str, str] | None = None) -> Outcome:
        result = run(self.argv(*args), self.repo.path, {**self.env(), **(env or {})}, check=False)
        outcome = Outcome(tuple(args), result.returncode, result.stdout, result.stderr)
        self.outcomes.append(outcome)
        return outcome

    def release(self, *extra: str, env: Mapping[str, str] | None = None) -> Outcome:
        return self.invoke("release", "--tag", TAG, "--yes", *extra, env=env)

    def spawn(self, *args: str) -> Running:
        """Start the tool in its own process group (a runner kill takes the whole group)."""
        out = (self.root / f"run-{len(self.outcomes)}.out").open("w+")
        err = (self.root / f"run-{len(self.outcomes)}.err").open("w+")
        process = subprocess.Popen(
            self.argv(*args),
            cwd=self.repo.path,
            env=clean_env(self.env()),
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        return Running(self, tuple(args), process, out, err)

    # -- observing the world ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        path = self.repo.path / ".git" / "release-state" / f"{VERSION}.json"
        if not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def remote_notes(self) -> dict[str, dict[str, Any]]:
        """The remote's state notes on the tagged commit: {step: record of this version}."""
        found = {}
        for step in STEPS:
            result = run(
                ["git", "notes", "--ref", f"release/{step}", "show", self.tagged],
                self.repo.remote,
                check=False,
            )
            if result.returncode == 0:
                found[step] = json.loads(result.stdout).get(VERSION)
        return found

    def remote_refs(self) -> dict[str, str]:
        out = run(["git", "for-each-ref", "--format=%(refname) %(objectname)"], self.repo.remote)
        return dict(line.split(" ", 1) for line in out.stdout.splitlines())

    def index_files(self) -> dict[str, str]:
        """The files on the index: {name: digest of their contents} (``archive_digest``)."""
        assert self.index_server is not None
        folder = self.index_server.packages_dir
        return {p.name: archive_digest(p) for p in sorted(folder.iterdir()) if p.is_file()}

    def registry_tags(self) -> dict[str, dict[str, str]]:
        """{repository: {tag: digest}} read from the registry itself (not through the proxy)."""
        assert self.registry_server is not None
        http = session()
        http.auth = (REGISTRY_USER, REGISTRY_PASSWORD)
        accept = ", ".join(
            (
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
            )
        )
        found: dict[str, dict[str, str]] = {}
        try:
            for repository in IMAGES:
                url = self.registry_server.url
                tags = http.get(f"{url}/v2/{repository}/tags/list", timeout=30).json()
                found[repository] = {}
                for tag in tags.get("tags") or []:
                    head = http.head(
                        f"{url}/v2/{repository}/manifests/{tag}",
                        headers={"Accept": accept},
                        timeout=30,
                    )
                    found[repository][tag] = head.headers["Docker-Content-Digest"]
        finally:
            http.close()
        return found

    def channel_versions(self) -> dict[str, dict[str, str]]:
        """Where each channel points, as a version: {repository: {channel: version}}."""
        tags = self.registry_tags()
        result = {}
        for repository, held in tags.items():
            versions = {d: t for t, d in held.items() if t[0].isdigit() and t.count(".") == 2}
            result[repository] = {
                tag: versions.get(digest, f"?{digest[:19]}")
                for tag, digest in held.items()
                if not (tag[0].isdigit() and tag.count(".") == 2)
            }
        return result

    def discord_messages(self) -> list[dict[str, Any]]:
        assert self.discord_server is not None
        return list(self.discord_server.messages.values())

    def deployments(self) -> list[Any]:
        assert self.kudu_server is not None
        return list(self.kudu_server.deployments)

    def bump_commits(self) -> list[str]:
        """The bump commits on the remote's main (by message)."""
        out = run(["git", "log", "--format=%H %s", "main"], self.repo.remote).stdout
        return [line.split(" ", 1)[0] for line in out.splitlines() if line.endswith(BUMP_MESSAGE)]

    def snapshot(self) -> dict[str, Any]:
        """The observable end state, without what differs between equal releases (times,
        ids, ports): compared between a killed-and-finished release and an uninterrupted one."""
        bump = self.bump_commits()
        main = run(["git", "rev-parse", "main"], self.repo.remote).stdout.strip()
        messages = self.discord_messages()
        deployed = [d for d in self.deployments() if d.outcome == "success" and d.complete]
        notes = self.remote_notes()
        registry = self.registry_tags()
        return {
            "index": self.index_files(),
            # Tags by the version they show (digests differ between worlds: the image's
            # source label names the remote, a folder of the world).
            "registry": {
                repo: {t: versions.get(d, "?") for t, d in sorted(tags.items())}
                for repo, tags in registry.items()
                for versions in [{d: t for t, d in tags.items() if _is_version(t)}]
            },
            "main": {
                "bump commits": len(bump),
                "tip is the bump": bool(bump) and main == bump[0],
                "bump parent": run(
                    ["git", "rev-parse", f"{main}^"], self.repo.remote, check=False
                ).stdout.strip()
                == self.tagged,
                "bump tree": run(
                    ["git", "rev-parse", f"{main}^{{tree}}"], self.repo.remote
                ).stdout.strip(),
            },
            "tag": run(["git", "rev-parse", f"{TAG}^{{commit}}"], self.repo.remote).stdout.strip()
            == self.tagged,
            "discord": json.loads(
                _LOCAL_URL.sub(
                    "127.0.0.1:PORT",
                    json.dumps(
                        [
                            {"content": m.get("content"), "embeds": _without_times(m.get("embeds"))}
                            for m in messages
                        ]
                    ),
                )
            ),
            "deployed": sorted({json.dumps(sorted(d.files())) for d in deployed}),
            "state": {
                step: _state_summary(step, notes.get(step), main, messages, registry)
                for step in STEPS
            },
        }

    # -- the checks -----------------------------------------------------------------------

    def mark(self) -> None:
        """From now on, ``side_effects`` reports only what happens after this call."""
        self.initial_refs = self.remote_refs()
        self.marks = {name: len(proxy.requests()) for name, proxy in self.proxies.items()}

    def fresh_clone(self, name: str) -> Repo:
        """Another runner's checkout: a fresh clone of the remote, pushing as ``repo`` does."""
        return serve_pushes_apart(self.repo.clone(self.root / name))

    def await_remote(self, timeout: float = 60) -> None:
        """Wait until no push is being received by the remote: a push the killed run
        started is finished (or refused) by the server side, which outlives its client."""
        remote = self.repo.remote.resolve()
        deadline = time.monotonic() + timeout
        while receiving(remote):
            if time.monotonic() > deadline:
                raise AssertionError(f"the remote still received a push after {timeout:g} s")
            time.sleep(0.05)
        stale = sorted(str(lock.relative_to(remote)) for lock in remote.rglob("*.lock"))
        assert not stale, f"the kill left stale locks on the remote: {stale}"

    def settle(self, quiet: float = 2.0, timeout: float = 60) -> None:
        """Wait until no service has seen a request for ``quiet`` seconds: a killed release
        leaves work in flight elsewhere (the Docker engine finishes or cancels the push its
        client started), which must land before ``mark`` or it counts as a later write."""
        deadline = time.monotonic() + timeout
        counts = {name: len(proxy.requests()) for name, proxy in self.proxies.items()}
        still_since = time.monotonic()
        while time.monotonic() - still_since < quiet:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the services were not quiet for {quiet:g} s in {timeout:g} s"
                )
            time.sleep(0.1)
            now = {name: len(proxy.requests()) for name, proxy in self.proxies.items()}
            if now != counts:
                counts, still_since = now, time.monotonic()

    def side_effects(self) -> list[str]:
        """Every change the tool made in the world (since ``mark``; none: nothing changed)."""
        found = []
        writes = {
            "index": ("POST", "PUT", "PATCH", "DELETE"),
            "registry": ("POST", "PUT", "PATCH", "DELETE"),
            "discord": ("POST", "PATCH", "DELETE"),
            "azure": ("POST", "PUT", "PATCH", "DELETE"),
        }
        for name, methods in writes.items():
            for seen in self.proxies[name].requests()[self.marks.get(name, 0) :]:
                if seen.method in methods and seen.upstream is not None:
                    found.append(f"{name}: {seen.method} {seen.path} ({seen.upstream})")
        refs = self.remote_refs()
        for ref in sorted(set(refs) | set(self.initial_refs)):
            if refs.get(ref) != self.initial_refs.get(ref):
                found.append(f"remote: {ref} {self.initial_refs.get(ref)} -> {refs.get(ref)}")
        return found

    def leaks(self, since: int = 0, forms: dict[str, str] | None = None) -> list[Leak]:
        """Every place a known secret appears (must be none): in the runs' output
        (``::add-mask::`` lines aside), the scenario's files and the git objects of the clone
        and the remote. ``since``: the runs from that one on (every file is scanned in any
        case); ``forms``: {form: what it is} to look for (the world's secrets by default)."""
        forms = secret_forms() if forms is None else forms
        found: list[Leak] = []

        def scan(text: str, where: str) -> None:
            for form, name in forms.items():
                if form in text:
                    found.append(Leak(name, where))

        for number, outcome in enumerate(self.outcomes[since:], start=since):
            for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
                kept = "\n".join(
                    line for line in text.splitlines() if not line.startswith("::add-mask::")
                )
                scan(kept, f"{stream} of run {number} (invoke {' '.join(outcome.args)})")
        for path in sorted(self.root.rglob("*")):
            if (
                not path.is_file()
                or path.is_symlink()
                or "services" in path.relative_to(self.root).parts[:1]
            ):
                continue
            if path.name.endswith((".out", ".err")) and path.parent == self.root:
                continue  # the kill tests' captured output: scanned as outcomes
            scan(path.read_bytes().decode("latin-1"), str(path.relative_to(self.root)))
        for git_dir in (self.repo.path, self.repo.remote):
            if not git_dir.exists():
                continue
            objects = subprocess.run(
                ["git", "cat-file", "--batch-all-objects", "--batch"],
                cwd=git_dir,
                capture_output=True,
                check=True,
            ).stdout.decode("latin-1")
            scan(objects, f"the git objects of {git_dir.relative_to(self.root)}")
        return found

    def duplicates(self) -> list[str]:
        """Work done twice that must be done once (must be none)."""
        found = []
        uploads: dict[str, int] = {}
        for seen in self.index.requests("POST"):
            if seen.upstream in (200, 201) and seen.upload:
                uploads[seen.upload] = uploads.get(seen.upload, 0) + 1
        found += [f"{name} uploaded {n} times" for name, n in uploads.items() if n > 1]
        messages = self.discord_messages()
        if len(messages) > 1:
            found.append(f"{len(messages)} Discord messages")
        bumps = self.bump_commits()
        if len(bumps) > 1:
            found.append(f"{len(bumps)} bump commits on the remote")
        for repository in IMAGES:
            puts = [
                s
                for s in self.registry.requests("PUT", rf"^/v2/{repository}/manifests/{VERSION}$")
                if s.upstream == 201
            ]
            if len(puts) > 1 and len({s.body_sha256 for s in puts}) > 1:
                found.append(f"{repository}:{VERSION} overwritten with another manifest")
        return found

    def backward_moves(self) -> list[str]:
        """Channel tags the proxy saw moved to a lower version than they held."""
        final = self.registry_tags()
        moves = []
        for repository in IMAGES:
            held = final[repository]
            version_of = {d: t for t, d in held.items() if t[0].isdigit() and t.count(".") == 2}
            current = {
                channel: version
                for version, channels in SEEDED[repository].items()
                for channel in channels
            }
            for seen in self.registry.requests("PUT", rf"^/v2/{repository}/manifests/"):
                tag = seen.path.rsplit("/", 1)[-1]
                if seen.upstream != 201 or (tag[0].isdigit() and tag.count(".") == 2):
                    continue
                version = version_of.get(f"sha256:{seen.body_sha256}")
                if version is None:
                    continue
                before = current.get(tag)
                if before is not None and _key(version) < _key(before):
                    moves.append(f"{repository}:{tag} moved back from {before} to {version}")
                current[tag] = version
        return moves

    def violations(self, *, notify: bool = True) -> list[str]:
        """The invariants of a finished release (empty: all hold)."""
        problems: list[str] = []
        index = self.index_files()
        if index != self.built:
            problems.append(f"the index holds {index}, not the built files {self.built}")
        tags = self.registry_tags()
        for repository in IMAGES:
            if VERSION not in tags.get(repository, {}):
                problems.append(f"{repository}:{VERSION} is not in the registry")
        channels = self.channel_versions()
        if channels != EXPECTED_CHANNELS:
            problems.append(f"channels point at {channels}, expected {EXPECTED_CHANNELS}")
        problems += self.backward_moves()
        if self.remote_refs().get(f"refs/tags/{TAG}") is None:
            problems.append(f"{TAG} is missing on the remote")
        elif (
            run(["git", "rev-parse", f"{TAG}^{{commit}}"], self.repo.remote).stdout.strip()
            != self.tagged
        ):
            problems.append(f"{TAG} moved on the remote")
        bumps = self.bump_commits()
        main = run(["git", "rev-parse", "main"], self.repo.remote).stdout.strip()
        if len(bumps) != 1 or main != bumps[0]:
            problems.append(f"the remote's main has {len(bumps)} bump commit(s), tip {main[:12]}")
        elif run(["git", "rev-parse", f"{main}^"], self.repo.remote).stdout.strip() != self.tagged:
            problems.append("the bump commit is not on top of the tagged commit")
        messages = self.discord_messages()
        if notify and len(messages) != 1:
            problems.append(f"Discord holds {len(messages)} messages, not one")
        succeeded = [d for d in self.deployments() if d.outcome == "success" and d.complete]
        if not succeeded:
            problems.append("the UI was not deployed")
        notes = self.remote_notes()
        local = self.state()
        for step in STEPS:
            if step == "notify" and not notify:
                continue
            if notes.get(step) is None:
                problems.append(f"the remote has no state note of {step}")
            elif local.get(step) is not None and local[step] != notes[step]:
                problems.append(f"the remote's state of {step} differs from the local one")
        record = notes.get("notify") or {}
        if notify and messages and record.get("message_id") not in (None, messages[0]["id"]):
            problems.append("the notify state names another message than the one posted")
        return problems


@dataclass
class Running:
    """A tool process started by :meth:`World.spawn`."""

    world: World
    args: tuple[str, ...]
    process: subprocess.Popen[str]
    out: Any
    err: Any

    def kill(self) -> Outcome:
        """SIGKILL the whole process group (as a runner that is shut down) and collect it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=60)
        self.world.settle()
        return self._collect()

    def wait(self, timeout: float = 600) -> Outcome:
        self.process.wait(timeout=timeout)
        return self._collect()

    def _collect(self) -> Outcome:
        self.out.seek(0)
        self.err.seek(0)
        outcome = Outcome(self.args, self.process.returncode, self.out.read(), self.err.read())
        self.out.close()
        self.err.close()
        self.world.outcomes.append(outcome)
        return outcome

    def wait_for(self, condition: Any, what: str, timeout: float = 120) -> None:
        """Poll ``condition()`` until it is true; fail when the process ended first."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                outcome = self._collect()
                raise AssertionError(f"the release ended before {what}:\n{outcome}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {what} within {timeout:g} s")
            time.sleep(0.05)


# Discord's client timeout in the scenarios: long enough that a loaded runner never times
# out a post nobody held; the scenarios that hold a post on purpose set SHORT_DISCORD_TIMEOUT.
DISCORD_TIMEOUT = 30
SHORT_DISCORD_TIMEOUT = {"RELEASE_DISCORD_TIMEOUT": "3"}


# The remote's side of a push runs in its own session, as a server's does: a runner killed
# with its whole process group must not take the server's ref update down with it (that
# leaves a stale ref lock on the remote, which no real server leaves behind).
RECEIVE_PACK_APART = "setsid git receive-pack"


def serve_pushes_apart(repo: Repo) -> Repo:
    repo.git("config", "remote.origin.receivepack", RECEIVE_PACK_APART)
    return repo


def receiving(remote: Path) -> bool:
    """Whether a ``git receive-pack`` process is serving a push into ``remote``."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"receive-pack" not in argv[:2] and not argv[0].endswith(b"git-receive-pack"):
                continue
            if Path(os.readlink(f"/proc/{pid}/cwd")) == remote:
                return True
        except OSError:  # the process ended while we looked
            continue
    return False


def built_files(repo: Repo) -> dict[str, str]:
    """The verified build of the template: {file name: digest of its contents}."""
    folder = repo.path / ".git" / "release-dist" / VERSION
    manifest = next(folder.glob("*.json"))
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return {d["filename"]: archive_digest(folder / d["filename"]) for d in data["dists"]}


def archive_digest(path: Path) -> str:
    """The sha256 of an archive's member names and contents, not of its bytes: a setuptools
    sdist carries the time it was built, so two builds of one commit (on two runners)
    differ in bytes and are the same file (docs/design.md "Re-runs and state")."""
    digest = hashlib.sha256()
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                digest.update(member.name.encode() + b"\0")
                content = archive.extractfile(member) if member.isfile() else None
                digest.update(content.read() if content is not None else b"")
    elif path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            for name in sorted(archive.namelist()):
                digest.update(name.encode() + b"\0" + archive.read(name))
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


_LOCAL_URL = re.compile(r"127\.0\.0\.1:\d+")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _without_times(embeds: Any) -> Any:
    if not isinstance(embeds, list):
        return embeds
    return [{k: v for k, v in e.items() if k != "timestamp"} for e in embeds]


def _is_version(tag: str) -> bool:
    return tag[:1].isdigit() and tag.count(".") == 2


def _state_summary(
    step: str,
    record: Any,
    main: str,
    messages: list[dict[str, Any]],
    registry: dict[str, dict[str, str]],
) -> Any:
    """What a step's state note says about the end state (not how this run got there)."""
    if not isinstance(record, dict):
        return None
    if step == "bump":
        return record.get("commit") == main
    if step in ("build", "upload"):  # the files' contents are compared on the index
        files = record.get("dists") or record.get("files") or []
        return sorted(f.get("filename") for f in files)
    if step == "push-image":
        return {
            name: image.get("digest") == registry.get(name, {}).get(VERSION)
            for name, image in record.get("images", {}).items()
        }
    if step == "deploy-ui":
        return record.get("status")
    if step == "notify":  # --assume-posted after a lost answer cannot know the message's id
        if record.get("status") == "assumed-posted" and record.get("message_id") is None:
            return len(messages) == 1
        posted = record.get("status") in ("posted", "assumed-posted")
        return posted and record.get("message_id") in [m["id"] for m in messages]
    return record


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(0.05)
