"""``release-on = "minor"`` images and the default codename of major 4: the configuration's
validation, the plan (its push-image line, skip reason and ``image_tags``) and the targets."""

from __future__ import annotations

import pytest

from release.core.config import DEFAULT_CODENAMES, parse_config
from release.core.errors import ConfigError
from release.core.version import parse_tag
from release.run.plan import Observed, Plan, image_skip_reason, make_plan
from release.steps.images.targets import image_targets

FILES = ["pyproject.toml", "Dockerfile", "gpu.Dockerfile"]
REGISTRY = '[tool.release]\n[tool.release.registry]\nhost = "registry.example"\n'
CORE = '[[tool.release.images]]\nname = "acme/core"\ndockerfile = "Dockerfile"\n'
GPU = (
    '[[tool.release.images]]\nname = "acme/gpu"\ndockerfile = "gpu.Dockerfile"\n'
    'release-on = "minor"\n'
)


def plan_for(text: str, version: str) -> Plan:
    config = parse_config(text, FILES, {})
    tag = f"version/{version}"
    observed = Observed(tag=tag, commit="c0ffee" * 6 + "c0ff", branch="main")
    return make_plan(parse_tag(tag, "version/"), config, observed)


def test_release_on_defaults_to_every_release():
    config = parse_config(REGISTRY + CORE, FILES, {})
    assert config.images[0].release_on == "every"
    config = parse_config(REGISTRY + GPU, FILES, {})
    assert config.images[0].release_on == "minor"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"major"', "tool.release.images[0].release-on: 'major' is not one of 'every', 'minor'"),
        ('"Minor"', "tool.release.images[0].release-on: 'Minor' is not one of 'every', 'minor'"),
        ("true", "tool.release.images[0].release-on: expected a string, got a boolean"),
        ('""', "tool.release.images[0].release-on: must not be empty"),
    ],
)
def test_an_unknown_release_on_names_the_key_and_the_allowed_values(value: str, expected: str):
    text = REGISTRY + CORE.replace('"Dockerfile"\n', f'"Dockerfile"\nrelease-on = {value}\n')
    with pytest.raises(ConfigError) as raised:
        parse_config(text, FILES, {})
    assert str(raised.value).startswith(expected)


@pytest.mark.parametrize(
    ("version", "built"),
    [
        ("3.1.0", True),
        ("3.1.0rc1", True),
        ("3.1.0a2", True),
        ("3.1.0.post1", True),
        ("4.0.0", True),
        ("3.1.1", False),
        ("3.1.2rc1", False),
        ("3.1.1.post2", False),
    ],
)
def test_a_minor_image_is_built_only_when_the_patch_is_0(version: str, built: bool):
    plan = plan_for(REGISTRY + CORE + GPU, version)
    assert plan.runs("push-image")  # acme/core is built for every release
    assert ("acme/gpu" in plan.image_tags) is built
    assert "acme/core" in plan.image_tags
    assert ("acme/gpu" in plan.to_json()["image_tags"]) is built
    line = plan.action("push-image").summary
    assert ("registry.example/acme/gpu:" in line) is built
    assert ("skips acme/gpu" in line) is not built


def test_the_plan_line_says_why_an_image_is_skipped():
    line = plan_for(REGISTRY + CORE + GPU, "3.1.1").action("push-image").summary
    assert line == (
        "build and push registry.example/acme/core:3.1.1; channels forward only; "
        'skips acme/gpu (release-on = "minor": built only for 3.1.0 (and its pre and post '
        "releases), not for the patch release 3.1.1)"
    )


def test_push_image_is_skipped_when_every_image_waits_for_a_minor():
    plan = plan_for(REGISTRY + GPU, "3.1.1")
    action = plan.action("push-image")
    assert not action.runs
    assert action.skipped is not None
    assert action.skipped.startswith('acme/gpu: release-on = "minor": built only for 3.1.0')
    assert plan.image_tags == {}
    assert plan.to_json()["steps"]["push-image"] == f"skip: {action.skipped}"
    assert plan_for(REGISTRY + GPU, "3.2.0").runs("push-image")


def test_the_targets_leave_a_skipped_image_out():
    config = parse_config(REGISTRY + CORE + GPU, FILES, {})
    patch = image_targets(config, parse_tag("version/3.1.1", "version/"), {})
    assert [t.name for t in patch] == ["acme/core"]
    minor = image_targets(config, parse_tag("version/3.2.0rc1", "version/"), {})
    assert [t.name for t in minor] == ["acme/core", "acme/gpu"]
    assert image_skip_reason(config.images[0], parse_tag("version/3.1.1", "version/")) is None


def test_major_4_is_cotopaxi_unless_the_repository_has_its_own_map():
    assert DEFAULT_CODENAMES[4] == "cotopaxi"
    plan = plan_for(REGISTRY + CORE, "4.0.0")
    assert plan.codename == "cotopaxi"
    assert not [n for n in plan.notices if "no codename" in n]
    own = REGISTRY.replace("[tool.release]\n", '[tool.release]\ncodenames = {4 = "uluru"}\n')
    assert plan_for(own + CORE, "4.0.0").codename == "uluru"
