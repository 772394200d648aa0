"""Bad input in ``pyproject.toml`` and the files the writers read: each a ``ConfigError`` (or a
writer's ``Unreadable``) naming the place and the fix, never another exception."""

from __future__ import annotations

import pytest

from release.core.config import VersionFile, parse_config
from release.core.errors import ConfigError
from release.core.version import parse_version
from release.core.writers.base import Job, Unreadable
from release.core.writers.manifests import package_json

FILES = ["pyproject.toml", "docker/node.Dockerfile", "ui/package.json"]


def parse(text: str):
    return parse_config(text, FILES, {}, source="pyproject.toml")


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


# -- [tool] and [tool.release] of another type ------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tool = 1\n", "tool: expected a table, got an integer (in pyproject.toml)"),
        ('tool = "release"\n', "tool: expected a table, got a string"),
        ("tool = [1]\n", "tool: expected a table, got a list"),
        ("[tool]\nrelease = 1\n", "tool.release: expected a table, got an integer"),
        ('[tool]\nrelease = "yes"\n', "tool.release: expected a table, got a string"),
        ("[[tool.release]]\ntag-prefix = 'v'\n", "tool.release: expected a table, got a list"),
    ],
)
def test_tool_or_tool_release_that_is_not_a_table_is_a_config_error(text: str, says: str) -> None:
    message = refused(text)
    assert says in message
    assert "[tool.release] table" in message  # the fix


def test_a_toml_nested_without_end_is_a_config_error() -> None:
    message = refused("x = " + "[" * 5000 + "]" * 5000 + "\n[tool.release]\n")
    assert "pyproject.toml nests arrays or tables too deeply" in message


# -- NUL bytes and control characters ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "place"),
    [
        ('tag-prefix = "ver\\u0000sion/"', "tool.release.tag-prefix"),
        ('remote = "ori\\u0000gin"', "tool.release.remote"),
        ('branches = ["main", "rel\\u0000"]', "tool.release.branches[1]"),
        ('commit-message = "Release {version}\\u0000"', "tool.release.commit-message"),
        (
            '[[tool.release.images]]\nname = "a"\ndockerfile = "docker/node.Dockerfile"\n'
            'build-args = { TAG = "{version}\\u0000" }',
            "tool.release.images[0].build-args.TAG",
        ),
        (
            '[tool.release.ui]\npath = "ui"\nazure-app = "a"\ninstall = "npm\\u0000ci"',
            "tool.release.ui.install",
        ),
        ('"odd\\u0000key" = 1', "tool.release: the key 'odd\\x00key'"),
    ],
)
def test_a_nul_byte_anywhere_is_refused_naming_the_key(body: str, place: str) -> None:
    message = refused("[tool.release]\n" + body + "\n")
    assert message.startswith(place), message
    assert "holds a NUL byte" in message
    assert "\x00" not in message  # shown escaped
    assert "remove it" in message


def test_other_control_characters_are_refused_but_tab_and_newline_are_not() -> None:
    message = refused('[tool.release.discord]\nproject-name = "\\u001b[2Jdemo"\n')
    assert "tool.release.discord.project-name" in message and "'\\x1b'" in message
    config = parse('[tool.release]\ncommit-message = """Release {version}\n\n\tdone"""\n')
    assert config.commit_message == "Release {version}\n\n\tdone"


# -- templates: plain {field} only ---------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{version:>999999999}",
        "{version:x}",
        "{major:d}",
        "{version!r}",
        "{version!s:>5}",
        "{version.__class__}",
        "{version[0]}",
        "{version:{major}}",
    ],
)
@pytest.mark.parametrize("where", ["commit-message", "extra-tags", "build-args", "format"])
def test_a_template_with_a_spec_conversion_or_access_is_refused(where: str, template: str) -> None:
    image = '[[tool.release.images]]\nname = "a"\ndockerfile = "docker/node.Dockerfile"\n'
    body = {
        "commit-message": f"[tool.release]\ncommit-message = {template!r}\n",
        "extra-tags": f"{image}extra-tags = [{template!r}]\n",
        "build-args": f"{image}build-args = {{ TAG = {template!r} }}\n",
        "format": (
            '[[tool.release.version-files]]\npath = "docker/node.Dockerfile"\n'
            f'kind = "dockerfile"\nformat = {template!r}\n'
        ),
    }[where]
    message = refused(body)
    assert "templates take plain fields only" in message
    assert "write {version}" in message or "write {major}" in message
    assert where in message.split(":")[0]


def test_plain_fields_and_literal_braces_are_still_templates() -> None:
    config = parse("[tool.release]\ncommit-message = 'Release {version} ({{major}} = {major})'\n")
    assert config.commit_message == "Release {version} ({{major}} = {major})"
    message = refused("[tool.release]\ncommit-message = 'Release {nope}'\n")
    assert "unknown template field {nope}" in message


# -- package.json and its lock, nested without end -----------------------------------------


def job() -> Job:
    entry = VersionFile(path="ui/package.json", kind="package-json")
    return Job(entry, parse_version("1.2.0"), "1.2.0", frozenset())


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "x", "version": "1.0.0", "a": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"version": "1.0.0", "packages": ' + '{"": ' * 100_000 + "1" + "}" * 100_000 + "}",
    ],
    ids=["arrays", "lock-objects"],
)
def test_a_package_json_nested_without_end_is_unreadable_not_a_crash(text: str) -> None:
    with pytest.raises(Unreadable, match="nested too deeply to be read as JSON"):
        package_json(text, job())


# -- a package's pyproject of another shape, read for its project name ----------------------


@pytest.mark.parametrize(
    "text",
    ["project = 1\n", "[project]\nname = 5\n", "x = " + "[" * 3000 + "]" * 3000 + "\n", "[x\n"],
)
def test_the_announcement_falls_back_to_the_folder_name(text: str) -> None:
    from release.core.config import Config, Package
    from release.run.notes import package_names_from_config

    class Tree:
        def show(self, commit: str, path: str) -> str:
            return text

    config = Config(packages=(Package("libs/demo-core"),))
    assert package_names_from_config(Tree(), "c0ffee", config) == ["demo-core"]  # type: ignore[arg-type]
