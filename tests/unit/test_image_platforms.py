"""Multi-platform images without services: the ``platforms`` key, which builder an image
needs, the Dockerfile's ``RUN`` for a foreign platform and QEMU's handlers, the pre-flight
lines, the auth file and environment buildah gets, the record, the plan and summary lines."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from release.core import console
from release.core.config import Image, parse_config
from release.core.errors import ConfigError
from release.core.version import parse_tag
from release.run.plan import Observed, make_plan
from release.run.records import problem
from release.steps.images.buildah import (
    _HOST,
    BuildahError,
    _prefix,
    auth_file,
    loopback_registries,
    remove_stale,
    scrubbed_env,
)
from release.steps.images.checks import planned, published
from release.steps.images.oci import OCI_INDEX, OCI_MANIFEST, Manifest, manifest_digest_of
from release.steps.images.platforms import (
    builder_problems,
    foreign,
    machine_platform,
    pulls_from,
    qemu_registered,
    runs_for_target,
    uses_buildah,
)
from release.steps.images.provenance import index_platforms

FILES = ["pyproject.toml", "Dockerfile"]
REGISTRY = '[tool.release]\n[tool.release.registry]\nhost = "registry.example"\n'
IMAGE = '[[tool.release.images]]\nname = "acme/node"\ndockerfile = "Dockerfile"\n'
BOTH = ("linux/amd64", "linux/arm64")
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def image(*platforms: str) -> Image:
    return Image(name="acme/node", dockerfile="Dockerfile", platforms=platforms)


# -- the configuration ----------------------------------------------------------------------


def test_platforms_default_to_none_and_are_read_in_order():
    assert parse_config(REGISTRY + IMAGE, FILES, {}).images[0].platforms == ()
    text = REGISTRY + IMAGE + 'platforms = ["linux/arm64", "linux/amd64", "linux/arm/v7"]\n'
    assert parse_config(text, FILES, {}).images[0].platforms == (
        "linux/arm64",
        "linux/amd64",
        "linux/arm/v7",
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[]", "tool.release.images[0].platforms: is empty: name one or more"),
        ('"linux/amd64"', "tool.release.images[0].platforms: expected a list of strings"),
        ('["amd64"]', "platforms[0]: 'amd64' is not os/arch[/variant]"),
        ('["linux/x86_64"]', "platforms[0]: 'linux/x86_64' is not os/arch[/variant]"),
        ('["Linux/amd64"]', "is not os/arch[/variant]"),
        ('["linux/arm/v7/x"]', "is not os/arch[/variant]"),
        ('["linux/arm64", "linux/arm64"]', "platforms[1]: 'linux/arm64' is listed twice"),
        ('[""]', "platforms[0]: expected a non-empty string"),
    ],
)
def test_a_bad_platform_is_one_error_naming_the_key_and_the_form(value: str, says: str):
    with pytest.raises(ConfigError) as raised:
        parse_config(REGISTRY + IMAGE + f"platforms = {value}\n", FILES, {})
    assert says in str(raised.value)
    if "os/arch" in says:
        assert 'e.g. "linux/amd64"' in str(raised.value)


# -- which builder ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platforms", "engine", "buildah"),
    [
        ((), "linux/amd64", False),  # the default: the engine, as before
        ((), None, False),
        (("linux/amd64",), "linux/amd64", False),  # the engine's own
        (("linux/arm64",), "linux/amd64", True),  # one the engine is not
        (("linux/amd64",), None, True),  # the engine's unknown
        (BOTH, "linux/amd64", True),
    ],
)
def test_buildah_builds_what_the_engine_cannot(platforms, engine, buildah):
    assert uses_buildah(image(*platforms), engine) is buildah


def test_a_run_for_another_processor_needs_qemu():
    assert foreign("linux/arm64", "linux/amd64")
    assert foreign("linux/arm/v7", "linux/amd64")
    assert foreign("linux/amd64", "linux/arm64")
    assert not foreign("linux/amd64", "linux/amd64")
    assert not foreign("linux/386", "linux/amd64")  # an amd64 processor runs 386 itself


@pytest.mark.parametrize(
    ("dockerfile", "runs"),
    [
        ("FROM scratch\nCOPY a /a\n", False),
        ("FROM debian\nRUN apt-get update\n", True),
        ("from debian\nrun true\n", True),
        ("# RUN in a comment\nFROM scratch\nLABEL a=RUN\n", False),
        ("FROM scratch\nLABEL a=1 \\\n  b=2\nCOPY x /x\n", False),
        ("FROM debian\nCOPY x \\\n  /x\n  # comment\nRUN true\n", True),
        ("FROM scratch\nCOPY a \\\n\n  RUN /b\n", False),  # a blank line inside: still COPY
        # a build stage on this machine's own platform, the target copying from it
        (
            "FROM --platform=$BUILDPLATFORM golang AS build\nRUN go build\n"
            "FROM scratch\nCOPY --from=build /app /app\n",
            False,
        ),
        ("FROM --platform=${BUILDPLATFORM} golang\nRUN x\nFROM debian\nRUN y\n", True),
        ("FROM --platform=$TARGETPLATFORM debian\nRUN y\n", True),
        # a heredoc's body is not instructions
        ("FROM scratch\nCOPY <<EOF /a\nRUN not an instruction\nEOF\n", False),
    ],
)
def test_a_run_for_the_target_platform_is_found(dockerfile: str, runs: bool):
    assert runs_for_target(dockerfile) is runs


@pytest.mark.parametrize(
    ("dockerfile", "pulls"),
    [
        ("FROM scratch\nCOPY a /a\n", False),
        ("FROM docker.io/library/debian:12\nRUN true\n", False),
        ("FROM registry.example/acme/base:1 AS build\nFROM scratch\n", True),
        ("FROM --platform=$BUILDPLATFORM Registry.Example/acme/base\n", True),
        ("ARG BASE=registry.example/acme/base\nFROM ${BASE}\n", True),  # cannot tell: yes
        ("FROM registry.example.evil/acme/base\n", False),
    ],
)
def test_the_build_gets_the_credentials_only_when_it_may_pull_from_the_registry(
    dockerfile: str, pulls: bool
):
    assert pulls_from(dockerfile, "registry.example") is pulls


def test_a_killed_runs_private_folders_are_removed_by_the_next_and_no_others(tmp_path: Path):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f"release-auth.{gone}.{_HOST}.a"
    stale_storage = tmp_path / f"release-buildah.{gone}.{_HOST}.x"
    mine = tmp_path / (_prefix("buildah") + "y")  # this process: alive
    elsewhere = tmp_path / f"release-auth.{gone}.00000000.z"  # another machine's name
    unrelated = tmp_path / f"release-tree-{gone}-w"
    for folder in (stale, stale_storage, mine, elsewhere, unrelated):
        folder.mkdir()
        (folder / "auth.json").write_text("{}")
    removed = remove_stale(None, {}, tmp_path)
    assert sorted(removed) == sorted([stale, stale_storage])
    assert not stale.exists() and not stale_storage.exists()
    assert mine.exists() and elsewhere.exists() and unrelated.exists()


def test_a_registry_on_this_machine_is_marked_insecure_for_buildah_alone(tmp_path: Path):
    system = tmp_path / "registries.conf"
    system.write_text('unqualified-search-registries = ["docker.io"]\n')
    text = loopback_registries("127.0.0.1:5000", {"CONTAINERS_REGISTRIES_CONF": str(system)})
    assert text == (
        'unqualified-search-registries = ["docker.io"]\n\n'
        '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n'
    )
    import tomllib

    assert tomllib.loads(text)["registry"] == [{"location": "127.0.0.1:5000", "insecure": True}]
    named = tmp_path / "named.conf"
    named.write_text('[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n')
    conf = {"CONTAINERS_REGISTRIES_CONF": str(named)}
    assert loopback_registries("127.0.0.1:5000", conf) == named.read_text()


def handlers(root: Path, **states: str) -> Path:
    root.mkdir(exist_ok=True)
    for name, state in states.items():
        (root / f"qemu-{name}").write_text(f"{state}\ninterpreter /usr/bin/qemu-{name}\n")
    return root


def test_a_qemu_handler_counts_when_registered_and_enabled(tmp_path: Path):
    root = handlers(tmp_path / "binfmt", aarch64="enabled", arm="disabled")
    assert qemu_registered("arm64", root)
    assert not qemu_registered("arm", root)
    assert not qemu_registered("s390x", root)


def test_the_preflight_names_a_missing_buildah_and_each_platform_without_qemu(tmp_path: Path):
    images = [image(*BOTH), image()]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    root = handlers(tmp_path / "binfmt")
    found = builder_problems(
        images, {"acme/node": "FROM debian\nRUN true\n"}, {"PATH": str(empty)}, None,
        machine="linux/amd64", root=root,
    )  # fmt: skip
    assert found[0] == (
        "buildah is not installed (not on PATH), and it builds acme/node (linux/amd64, "
        "linux/arm64): install buildah (Debian and Ubuntu: apt-get install buildah; GitHub's "
        "Ubuntu runners have it), or set the image's platforms to the Docker engine's own"
    )
    assert found[1] == (
        f"acme/node: Dockerfile has RUN instructions for linux/arm64, which this linux/amd64 "
        f"machine runs only under QEMU, and no QEMU handler for arm64 is registered "
        f"({root}/qemu-aarch64 is missing): register QEMU's handlers: `docker run --privileged "
        "--rm tonistiigi/binfmt --install all` (GitHub Actions: docker/setup-qemu-action), or "
        "Debian's qemu-user-static package"
    )
    assert len(found) == 2  # amd64 runs here
    # With the handler registered, and no RUN at all, nothing is in the way.
    registered = handlers(tmp_path / "binfmt", aarch64="enabled")
    fake = tmp_path / "bin" / "buildah"  # a buildah on PATH, whatever this machine has
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    path = {"PATH": str(fake.parent)}
    with_handler = builder_problems(
        images, {"acme/node": "FROM debian\nRUN true\n"}, path, None, "linux/amd64", registered
    )
    assert [p for p in with_handler if "QEMU" in p] == []
    no_run = {"acme/node": "FROM scratch\nCOPY a /a\n"}
    assert builder_problems(images, no_run, path, None, "linux/amd64", root) == []
    # An engine-built image needs neither.
    assert builder_problems([image("linux/amd64")], {}, {"PATH": ""}, "linux/amd64") == []


def test_this_machine_has_a_platform():
    assert machine_platform().startswith("linux/")


# -- what buildah is given ---------------------------------------------------------------------


def test_the_auth_file_is_private_and_removed_and_none_without_credentials(tmp_path: Path):
    with auth_file("registry.example", (None, None)) as nothing:
        assert nothing is None
    with auth_file("registry.example", ("user", "p4ss-word")) as path:
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        auth = json.loads(path.read_text())["auths"]["registry.example"]["auth"]
        assert auth == "dXNlcjpwNHNzLXdvcmQ="
        assert console.mask(f"token {auth}") == "token ***"
    assert not path.exists() and not path.parent.exists()


def test_buildah_sees_a_scrubbed_environment(tmp_path: Path):
    env = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "HTTPS_PROXY": "http://proxy:3128",
        "RELEASE_REGISTRY_PASSWORD": "secret",
        "GITHUB_TOKEN": "ghs_x",
        "TWINE_PASSWORD": "y",
        "DOCKER_HOST": "unix:///x",
        "TMPDIR": "/elsewhere",
    }
    kept = scrubbed_env(env, tmp_path)
    assert kept == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "HTTPS_PROXY": "http://proxy:3128",
        "TMPDIR": str(tmp_path),
    }


def test_a_buildah_failure_says_its_own_error_line():
    tail = ["STEP 3/4: RUN true", 'Error: building at STEP "RUN true": exec format error']
    error = BuildahError("build", tail)
    assert error.reason == 'building at STEP "RUN true": exec format error'
    assert BuildahError("build", []).reason == "no output"


# -- an index's platforms; the record; the plan and summary lines ------------------------------


def test_an_index_lists_its_platforms_without_attestations():
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"digest": D1, "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": D2, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"digest": D2, "platform": {"os": "unknown", "architecture": "unknown"}},
        ],
    }
    data = json.dumps(body).encode()
    index = Manifest(data, OCI_INDEX, manifest_digest_of(data))
    assert index_platforms(index) == {"linux/amd64": D1, "linux/arm/v7": D2}
    assert index_platforms(Manifest(b"{}", OCI_MANIFEST, D1)) == {}


def record(platforms: object) -> dict[str, object]:
    return {
        "registry": "registry.example",
        "images": {
            "acme/node": {
                "repository": "registry.example/acme/node",
                "tags": ["4.2.0"],
                "digest": D1,
                "pushed": ["4.2.0"],
                "kept": [],
                "platforms": platforms,
            }
        },
        "channels": {},
    }


def test_the_record_holds_each_platforms_digest_and_refuses_anything_else():
    assert problem("push-image", "4.2.0", record({"linux/amd64": D1, "linux/arm/v7": D2})) is None
    bad = problem("push-image", "4.2.0", record({"linux/amd64": "latest"}))
    assert bad is not None and "is not an image digest" in bad
    bad = problem("push-image", "4.2.0", record({"../x y": D1}))
    assert bad is not None and "is not an os/arch platform" in bad


def test_the_summary_lists_the_platforms_with_their_digests():
    lines = published(record({"linux/amd64": D1, "linux/arm64": D2}))
    assert lines[:3] == [
        f"registry.example/acme/node@{D1}",
        f"  linux/amd64: {D1}",
        f"  linux/arm64: {D2}",
    ]
    assert published(record(None))[1].startswith("  tags:")


def test_the_plan_names_the_platforms():
    config = parse_config(
        REGISTRY + IMAGE + 'platforms = ["linux/amd64", "linux/arm64"]\n', FILES, {}
    )
    version = parse_tag("version/4.2.0", "version/")
    line = planned(version, config, "main")
    assert line == (
        "build and push registry.example/acme/node:4.2.0 (linux/amd64, linux/arm64); "
        "channels forward only"
    )
    observed = Observed(tag="version/4.2.0", commit="c0ffee" * 6 + "c0ff", branch="main")
    assert make_plan(version, config, observed).action("push-image").runs
