"""Bad input: malformed tags, configurations, publish profiles, changelogs and Dockerfiles.

Each input gets one clear message (``error:`` lines that say what is wrong), the
documented exit code (2 for a malformed tag, 1 for everything else: docs/tasks.md "Tasks"),
no traceback and no internal error, and nothing changed anywhere: the remote's refs, the
index, the registry, Discord and Azure see no write.

The corpus runs in one world per module (the inputs that need a commit get their own
branch ``release/<case>`` from the tagged commit, pushed with their own version tag before
the command runs); every input is its own scenario in the suite's table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from devservices.azure import publish_profile
from devservices.engine import DockerEngine
from tests.reliability.summary import Row, passed, record
from tests.reliability.world import AZURE_PASSWORD, TAG, World

Edit = Callable[[Any], None]


@dataclass(frozen=True)
class Case:
    """One bad input and what the tool must say about it."""

    group: str  # tag, config, profile, changelog, dockerfile
    name: str
    says: str  # a piece of the error that tells what is wrong
    exit: int = 1
    tag: str | None = None  # a tag given as is (the tag cases); else a new version tag
    files: Mapping[str, str | bytes | None] = field(default_factory=dict)  # None: deleted
    config: Edit | None = None  # an edit of the tagged commit's [tool.release] table
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ("release", "--yes")
    checkout: bool = True  # run in a checkout of the tag (as CI); False: in main's checkout

    @property
    def id(self) -> str:
        return f"{self.group}-{self.name}"


def _set(key: str, value: Any) -> Edit:
    def edit(table: Any) -> None:
        table[key] = value

    return edit


def _image(key: str, value: Any) -> Edit:
    def edit(table: Any) -> None:
        image = table["images"][0]
        if value is None:
            del image[key]
        else:
            image[key] = value

    return edit


def _sub(table_name: str, key: str, value: Any) -> Edit:
    def edit(table: Any) -> None:
        table[table_name][key] = value

    return edit


def _drop(key: str) -> Edit:
    def edit(table: Any) -> None:
        del table[key]

    return edit


TAGS = [
    Case("tag", "v-prefix", "must start with 'version/'", 2, tag="v1.1.0"),
    Case("tag", "two-numbers", "not a valid version", 2, tag="version/1.1"),
    Case("tag", "four-numbers", "not a valid version", 2, tag="version/1.1.0.0"),
    Case("tag", "dash-rc", "version/1.1.0rc1", 2, tag="version/1.1.0-rc1"),
    Case("tag", "leading-zero", "not a valid version", 2, tag="version/01.1.0"),
    Case("tag", "dev", "not a valid version", 2, tag="version/1.1.0.dev1"),
    Case("tag", "local", "not a valid version", 2, tag="version/1.1.0+local"),
    Case("tag", "pre-and-post", "not a valid version", 2, tag="version/1.1.0rc1.post1"),
    Case("tag", "alpha-word", "not a valid version", 2, tag="version/1.1.0alpha1"),
    Case("tag", "epoch", "not a valid version", 2, tag="version/1!1.1.0"),
    Case("tag", "space", "not a valid version", 2, tag="version/ 1.1.0"),
    Case("tag", "upper-case", "not a valid version", 2, tag="Version/1.1.0"),
    Case("tag", "missing", "does not exist", 1, tag="version/9.9.9"),
]

CONFIGS = [
    Case("config", "unknown-key", "tag-prefx", config=_set("tag-prefx", "version/")),
    Case("config", "wrong-type", "branches", config=_set("branches", "main")),
    Case(
        "config",
        "missing-package",
        "packages",
        config=lambda t: t["packages"].append({"path": "no-such-package"}),
    ),
    Case("config", "image-without-dockerfile", "dockerfile", config=_image("dockerfile", None)),
    Case(
        "config", "missing-dockerfile", "dockerfile", config=_image("dockerfile", "no.Dockerfile")
    ),
    Case("config", "unknown-template-field", "nope", config=_image("extra-tags", ["{nope}-live"])),
    Case("config", "build-arg-field", "nope", config=_image("build-args", {"TAG": "{nope}"})),
    Case("config", "codename-key", "codenames", config=_sub("codenames", "one", "x")),
    Case("config", "registry-without-host", "host", config=lambda t: t["registry"].remove("host")),
    Case("config", "missing-changelog", "changelog", config=_sub("discord", "changelog", "NO.md")),
    Case("config", "missing-ui", "ui", config=_sub("ui", "path", "no-ui")),
    Case(
        "config",
        "commit-message-field",
        "commit-message",
        config=_set("commit-message", "Release {nope}"),
    ),
    Case(
        "config",
        "regex-without-group",
        "pattern",
        config=lambda t: t["version-files"].append(
            {"path": "CHANGELOG.md", "kind": "regex", "pattern": "version"}
        ),
    ),
    Case("config", "toml-syntax", "pyproject.toml", files={"pyproject.toml": "[tool.release\n"}),
    Case("config", "not-utf8", "pyproject.toml", files={"pyproject.toml": b"[tool.release]\xff\n"}),
    Case(
        "config",
        "not-utf8-at-tag",
        "not UTF-8",
        files={"pyproject.toml": b"[tool.release]\xff\n"},
        checkout=False,
    ),
    Case(
        "config",
        "toml-syntax-at-tag",
        "pyproject.toml at version/",
        files={"pyproject.toml": "[tool.release\n"},
        checkout=False,
    ),
]

_OTHER_APP = publish_profile("other-app", AZURE_PASSWORD)
PROFILES = [
    Case(
        "profile",
        "not-xml",
        "AZURE_WEBAPP_PUBLISH_PROFILE",
        env={"AZURE_WEBAPP_PUBLISH_PROFILE": "this is not a publish profile"},
    ),
    Case(
        "profile",
        "truncated",
        "AZURE_WEBAPP_PUBLISH_PROFILE",
        env={"AZURE_WEBAPP_PUBLISH_PROFILE": _OTHER_APP[: _OTHER_APP.index("userPWD") + 30]},
    ),
    Case(
        "profile",
        "no-profiles",
        "AZURE_WEBAPP_PUBLISH_PROFILE",
        env={"AZURE_WEBAPP_PUBLISH_PROFILE": "<publishData></publishData>"},
    ),
    Case("profile", "another-app", "other-app", env={"AZURE_WEBAPP_PUBLISH_PROFILE": _OTHER_APP}),
    Case(
        "profile",
        "ftp-only",
        "AZURE_WEBAPP_PUBLISH_PROFILE",
        env={
            "AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile(
                "demo-ui", AZURE_PASSWORD, methods=("FTP",)
            )
        },
    ),
    Case(
        "profile",
        "another-slot",
        "staging",
        env={
            "AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile(
                "demo-ui", AZURE_PASSWORD, slot="staging"
            )
        },
    ),
    Case(
        "profile",
        "empty-password",
        "AZURE_WEBAPP_PUBLISH_PROFILE",
        env={"AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile("demo-ui", "")},
    ),
]

CHANGELOGS = [
    Case(
        "changelog",
        "not-utf8",
        "CHANGELOG.md",
        files={"CHANGELOG.md": b"# Changelog\n\n## 1.2.0\n\n- caf\xe9 \xff\n"},
    ),
    Case(
        "changelog",
        "binary",
        "CHANGELOG.md",
        files={"CHANGELOG.md": b"\x00\x01\x02PK\x03\x04" * 40},
    ),
    Case("changelog", "deleted", "changelog", files={"CHANGELOG.md": None}),
]

DOCKERFILES = [
    Case(
        "dockerfile",
        "unknown-instruction",
        "FROMM",
        files={"docker/server.Dockerfile": "FROMM scratch\n"},
    ),
    Case(
        "dockerfile",
        "missing-file",
        "no-such-file",
        files={"docker/server.Dockerfile": "FROM scratch\nCOPY app/no-such-file /x\n"},
    ),
    Case(
        "dockerfile",
        "run-without-shell",
        "RUN",
        files={"docker/server.Dockerfile": "FROM scratch\nRUN echo hello\n"},
    ),
    Case(
        "dockerfile", "no-from", "no build stage", files={"docker/server.Dockerfile": "LABEL a=b\n"}
    ),
]

CORPUS = TAGS + CONFIGS + PROFILES + CHANGELOGS + DOCKERFILES


@pytest.fixture(scope="module")
def corpus_world(
    tmp_path_factory: pytest.TempPathFactory, template: Path, docker_engine: DockerEngine
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("reliability-bad-input") / "world"
    with World.create(template, root, docker_engine.docker_host) as world:
        yield world


def prepare(world: World, case: Case, number: int) -> str:
    """The tag the case releases: given as is, or a new version on its own branch."""
    repo = world.repo
    repo.git("checkout", "-q", "main")  # the working tree of the tag: as a CI checkout
    if case.tag is not None:
        return case.tag
    if not case.files and case.config is None:
        return TAG
    branch = f"release/{case.id}"
    repo.git("checkout", "-q", "-B", branch, world.tagged)
    for name, content in case.files.items():
        path = repo.path / name
        if content is None:
            path.unlink()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.config is not None:
        document = tomlkit.parse((repo.path / "pyproject.toml").read_text(encoding="utf-8"))
        case.config(document["tool"]["release"])  # type: ignore[index]
        (repo.path / "pyproject.toml").write_text(tomlkit.dumps(document), encoding="utf-8")
    repo.commit(f"bad input: {case.id}")
    tag = f"version/1.{number + 2}.0"
    repo.git("push", "-q", "origin", branch)
    repo.tag(tag)
    if not case.checkout:
        repo.git("checkout", "-q", "main")
    return tag


@pytest.fixture
def corpus_row(request: pytest.FixtureRequest, corpus_world: World) -> Iterator[World]:
    """The shared world, marked; the case's row (with its leaks) goes into the table."""
    started = time.monotonic()
    first = len(corpus_world.outcomes)
    yield corpus_world
    record(
        Row(
            group="bad input",
            name=request.node.name,
            passed=passed(request.node),
            secrets=len(corpus_world.leaks(since=first)),
            duplicates=len(corpus_world.duplicates()),
            seconds=time.monotonic() - started,
        )
    )


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_bad_input_is_refused_with_one_clear_message_and_changes_nothing(
    corpus_row: World, case: Case
) -> None:
    world = corpus_row
    first = len(world.outcomes)
    tag = prepare(world, case, CORPUS.index(case))
    world.mark()
    outcome = world.invoke(*case.command[:1], "--tag", tag, *case.command[1:], env=case.env)
    assert outcome.returncode == case.exit, outcome
    errors = outcome.errors()
    assert errors, outcome
    assert case.says.lower() in "\n".join(errors).lower(), outcome
    assert not any("internal error" in line for line in errors), outcome
    assert "Traceback" not in outcome.output, outcome
    assert world.side_effects() == [], outcome
    assert world.leaks(since=first) == []
