"""The pure parts of ``release.steps.images``: targets, labels, source URLs, build output."""

from __future__ import annotations

import base64
import json

import pytest

from release.core import console
from release.core.config import Config, Image, Registry
from release.core.errors import ReleaseError
from release.core.version import parse_version
from release.steps.images.credentials import registry_credentials
from release.steps.images.engine import BuildLog, parse_step, push_auth
from release.steps.images.step import PreparedImages
from release.steps.images.targets import created_time, image_targets, oci_labels, source_url

NODE = Image(
    name="infrastructure/node",
    dockerfile="docker/node.Dockerfile",
    build_args={"TAG": "{version}", "BASE": "{major}.{minor}", "NAME": "{codename}"},
    extra_tags=["{version}-slim", "{codename}-live", "edge"],
)
CONFIG = Config(registry=Registry("harbor2.vantage6.ai"), images=(NODE,))


def test_targets_carry_the_fixed_tags_version_first_and_templated_build_args():
    [target] = image_targets(CONFIG, parse_version("5.2.0rc1"), {"x": "y"})
    assert target.repository == "harbor2.vantage6.ai/infrastructure/node"
    assert target.tags == ("5.2.0rc1", "5.2.0rc1-slim")  # channels are not fixed tags
    assert target.build_args == {"TAG": "5.2.0rc1", "BASE": "5.2", "NAME": ""}  # no codename 5
    [fourth] = image_targets(CONFIG, parse_version("4.2.0rc1"), {})
    assert fourth.build_args["NAME"] == "cotopaxi"  # the default codename of major 4
    assert target.labels == {"x": "y"}


def test_the_version_tag_is_pushed_last_so_that_it_marks_a_complete_image():
    [target] = image_targets(CONFIG, parse_version("3.1.0.post1"), {})
    assert target.push_order == ("3.1.0.post1-slim", "3.1.0.post1")
    assert target.build_args["NAME"] == "petronas"


def test_oci_labels_use_the_docker_tag_the_commit_and_its_time():
    labels = oci_labels(parse_version("3.1.0.post1"), "abc123", "2024-05-01T12:00:00Z", None)
    assert labels == {
        "org.opencontainers.image.version": "3.1.0.post1",
        "org.opencontainers.image.revision": "abc123",
        "org.opencontainers.image.created": "2024-05-01T12:00:00Z",
    }


def test_created_is_iso_8601_in_utc():
    assert created_time(0) == "1970-01-01T00:00:00Z"
    assert created_time(1714564800) == "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("git@github.com:vantage6/vantage6.git", "https://github.com/vantage6/vantage6"),
        ("https://github.com/vantage6/vantage6.git", "https://github.com/vantage6/vantage6"),
        (
            "https://x-access-token:ghs_secret@github.com/vantage6/vantage6",
            "https://github.com/vantage6/vantage6",
        ),
        ("ssh://git@gitlab.example.org:2222/a/b.git", "https://gitlab.example.org:2222/a/b"),
        (None, None),
    ],
)
def test_the_source_label_is_the_remote_without_credentials(remote, expected):
    assert source_url(remote, {}) == expected


def test_the_source_label_in_github_actions_is_the_repository_page():
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "vantage6/vantage6"}
    assert source_url("/tmp/x.git", env) == "https://github.com/vantage6/vantage6"


def test_a_local_remote_path_is_kept_as_the_source(tmp_path):
    assert source_url(str(tmp_path), {}) == str(tmp_path)


def test_step_lines_are_parsed():
    assert parse_step("Step 3/8 : COPY missing.txt /m") == (3, 8, "COPY missing.txt /m")
    assert parse_step(" ---> Running in 123") is None


def test_the_build_log_joins_split_chunks_and_names_the_failing_step():
    log = BuildLog()
    lines = []
    for chunk in (
        {"stream": "Step 1/2 : FROM scratch"},
        {"stream": "\n"},
        {"stream": " ---> \n"},
        {"stream": "Step 2/2 : RUN false"},
        {"stream": "\n ---> Running in abc\n"},
        {"errorDetail": {"message": "The command '/bin/sh -c false' returned\na non-zero code: 1"}},
    ):
        lines += log.feed(chunk)
    assert lines == [
        "Step 1/2 : FROM scratch",
        " --->",
        "Step 2/2 : RUN false",
        " ---> Running in abc",
    ]
    assert log.failure("demo/node") == (
        "building demo/node failed at Step 2/2 : RUN false: "
        "The command '/bin/sh -c false' returned a non-zero code: 1"
    )


def test_the_build_log_keeps_the_image_id_and_the_last_lines():
    log = BuildLog()
    for n in range(40):
        log.feed({"stream": f"line {n}\n"})
    log.feed({"aux": {"ID": "sha256:abc"}})
    assert log.image_id == "sha256:abc"
    assert list(log.tail)[-1] == "line 39" and len(log.tail) < 40


def test_the_push_uses_the_credentials_of_the_registry_api():
    env = {"RELEASE_REGISTRY_USERNAME": "robot", "RELEASE_REGISTRY_PASSWORD": "hunter2-registry"}
    credentials = registry_credentials(Registry("harbor.example.org"), env)
    assert push_auth(credentials) == {"username": "robot", "password": "hunter2-registry"}
    assert console.mask("token hunter2-registry") == "token ***"


def test_without_credentials_the_engine_pushes_with_its_own_login():
    assert push_auth((None, None)) is None


def test_half_of_the_credential_pair_is_an_error():
    with pytest.raises(ReleaseError, match="RELEASE_REGISTRY_PASSWORD is not"):
        registry_credentials(Registry("h.example.org"), {"RELEASE_REGISTRY_USERNAME": "robot"})


def test_docker_login_credentials_are_used_when_the_environment_has_none(tmp_path):
    auth = base64.b64encode(b"robot:from-docker-config").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"h.example.org": {"auth": auth}}}))
    credentials = registry_credentials(Registry("h.example.org"), {"DOCKER_CONFIG": str(tmp_path)})
    assert push_auth(credentials) == {"username": "robot", "password": "from-docker-config"}
    assert console.mask("from-docker-config") == "***"


def test_the_prepared_step_never_shows_the_password():
    prepared = PreparedImages((), {}, (), ("robot", "hunter2-prepared"))
    assert "hunter2-prepared" not in repr(prepared)


# -- whose image a version tag holds (release.steps.images.provenance) -------------------------


def test_the_revision_label_is_read_from_a_docker_or_oci_config():
    from release.steps.images.provenance import config_revision

    label = "org.opencontainers.image.revision"
    assert config_revision(json.dumps({"config": {"Labels": {label: "abc"}}}).encode()) == "abc"
    assert config_revision(json.dumps({"config": {"Labels": None}}).encode()) is None
    assert config_revision(json.dumps({"config": {}}).encode()) is None
    assert config_revision(b"not json") is None
    shown = config_revision(json.dumps({"config": {"Labels": {label: "a\x1b[2Jb" * 40}}}).encode())
    assert shown is not None and "\x1b" not in shown and len(shown) == 80


def test_an_image_is_this_releases_only_when_every_platform_carries_the_commit():
    from release.steps.images.provenance import Revision, is_this_release

    commit = "ab" * 20
    assert is_this_release([Revision(commit)], commit)
    assert is_this_release([Revision(commit.upper(), "linux/amd64")], commit)
    assert is_this_release(
        [Revision(commit, "linux/amd64"), Revision(commit, "linux/arm64")], commit
    )
    assert not is_this_release(
        [Revision(commit, "linux/amd64"), Revision(None, "linux/arm64")], commit
    )
    assert not is_this_release([Revision("cd" * 20)], commit)
    assert not is_this_release([Revision(None)], commit)
    assert not is_this_release([], commit)


def test_only_a_digest_the_state_records_as_pushed_counts_as_this_releases():
    from release.steps.images.provenance import pushed_digests

    pushed = {"images": {"demo/node": {"digest": "sha256:1", "pushed": ["3.0.0"], "kept": []}}}
    kept = {"images": {"demo/node": {"digest": "sha256:2", "pushed": [], "kept": ["3.0.0"]}}}
    assert pushed_digests(pushed, "demo/node") == {"sha256:1"}
    assert pushed_digests(kept, "demo/node") == set()  # an older tool kept any image
    assert pushed_digests(pushed, "demo/server") == set()
    assert pushed_digests(None, "demo/node") == set()
