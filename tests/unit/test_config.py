"""``[tool.release]`` validation: defaults, every error naming its key, env overrides."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from release.core.config import DEFAULT_CODENAMES, Config, load_config, parse_config
from release.core.errors import ConfigError

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
FILES = [
    "pyproject.toml",
    "CHANGELOG.md",
    "acme-core/pyproject.toml",
    "acme-core/src/acme/_version.py",
    "acme-node/setup.py",
    "acme-node/src/node/_version.py",
    "docker/node.Dockerfile",
    "Dockerfile",
    "ui/package.json",
    ".github/allowed_signers",
]


def parse(body: str, files=FILES, env=None):
    return parse_config("[tool.release]\n" + body, files, env or {})


def test_an_empty_table_takes_every_default():
    config = parse("")
    assert config.tag_prefix == "version/"
    assert config.branches == ("main", "release/*")
    assert config.default_branch == "main"
    assert config.remote == "origin"
    assert config.commit_message == "Updated the version to {version}"
    assert "**/*Dockerfile" in config.post_allowed_paths
    assert config.maintainers == ()
    assert config.require_signed_tags is False
    assert dict(config.codenames) == dict(DEFAULT_CODENAMES)
    assert config.pypi.repository_url == "https://upload.pypi.org/legacy/"
    assert config.pypi.index_url == "https://pypi.org/simple/"
    assert (config.registry, config.discord, config.ui) == (None, None, None)
    assert config.packages == () and config.images == () and config.version_files == ()


def test_the_design_example_is_accepted():
    config = parse(
        """
maintainers = ["alice", "bob@example.org"]
allowed-signers = ".github/allowed_signers"
yanked = ["3.1.0"]
[[tool.release.version-files]]
path = "*/src/**/_version.py"
kind = "version-info"
[[tool.release.version-files]]
path = "docker/*.Dockerfile"
kind = "dockerfile"
arg = "BASE"
format = "{major}.{minor}"
[[tool.release.packages]]
path = "acme-core"
[[tool.release.packages]]
path = "acme-node"
[tool.release.registry]
host = "harbor2.vantage6.ai"
[tool.release.codenames]
4 = "uluru"
[[tool.release.images]]
name = "infrastructure/node"
dockerfile = "docker/node.Dockerfile"
build-args = { TAG = "{version}", BASE = "{major}.{minor}" }
extra-tags = ["{codename}-live"]
[tool.release.discord]
project-name = "acme"
changelog = "CHANGELOG.md"
[tool.release.ui]
path = "ui"
azure-app = "acme-ui"
"""
    )
    assert config.version_files[0].matches == (
        "acme-core/src/acme/_version.py",
        "acme-node/src/node/_version.py",
    )
    assert config.version_files[1].matches == ("docker/node.Dockerfile",)
    assert config.images[0].channels == ("codename", "minor", "latest")
    assert config.images[0].context == "."
    assert config.codename(4) == "uluru" and config.codename(3) is None
    assert (
        config.ui is not None and config.ui.install == "npm ci" and config.ui.slot == "production"
    )
    assert config.yanked == ("3.1.0",)


def test_double_star_matches_a_root_dockerfile():
    config = parse('post-allowed-paths = ["**/*Dockerfile"]')
    from release.core.files import matches_any

    assert matches_any(config.post_allowed_paths, "Dockerfile")
    assert matches_any(config.post_allowed_paths, "docker/node.Dockerfile")
    assert not matches_any(config.post_allowed_paths, "src/app.py")


ERRORS = [
    ("unknown = 1", "tool.release.unknown: unknown key"),
    ("branches = 'main'", "tool.release.branches: expected a list of strings"),
    ("require-signed-tags = 'yes'", "tool.release.require-signed-tags: expected true or false"),
    ("allowed-signers = 'missing'", "tool.release.allowed-signers: file missing does not exist"),
    ("yanked = ['3.1']", "tool.release.yanked[0]:"),
    ("commit-message = 'v{nope}'", "unknown template field {nope}"),
    (
        "[[tool.release.packages]]\npath = 'nowhere'",
        "tool.release.packages[0].path: folder nowhere does not exist",
    ),
    ("[[tool.release.packages]]\npath = 'docker'", "has no pyproject.toml or setup.py"),
    ("[[tool.release.packages]]\nfolder = 'x'", "tool.release.packages[0].path: is required"),
    (
        "[[tool.release.version-files]]\npath = 'x.py'\nkind = 'dunder'",
        "tool.release.version-files[0].path: file x.py does not exist",
    ),
    (
        "[[tool.release.version-files]]\npath = '**/*.cfg'\nkind = 'dunder'",
        "tool.release.version-files[0].path: matches no file",
    ),
    (
        "[[tool.release.version-files]]\npath = 'Dockerfile'\nkind = 'docker'",
        "tool.release.version-files[0].kind: 'docker' is not one of",
    ),
    (
        "[[tool.release.version-files]]\npath = 'Dockerfile'\nkind = 'regex'",
        "tool.release.version-files[0].pattern: is required",
    ),
    (
        "[[tool.release.version-files]]\npath = 'Dockerfile'\nkind = 'regex'\npattern = 'V=(a)(b)'",
        "needs one group",
    ),
    (
        "[[tool.release.images]]\nname = 'x/y'\ndockerfile = 'Dockerfile'",
        "tool.release.registry.host: is required when images are configured",
    ),
    (
        "[tool.release.registry]\nhost = 'h'\n[[tool.release.images]]\nname = 'x/y'\n"
        "dockerfile = 'Dockerfile'\n[[tool.release.images]]\nname = 'x/z'\ndockerfile = 'docker/x.Dockerfile'",
        "tool.release.images[1].dockerfile: file docker/x.Dockerfile does not exist",
    ),
    (
        "[tool.release.registry]\nhost = 'h'\n[[tool.release.images]]\nname = 'X'\ndockerfile = 'Dockerfile'",
        "tool.release.images[0].name: 'X' is not a valid repository name",
    ),
    (
        "[tool.release.registry]\nhost = 'h'\n[[tool.release.images]]\nname = 'x'\n"
        "dockerfile = 'Dockerfile'\nchannels = ['stable']",
        "tool.release.images[0].channels[0]: 'stable' is not one of",
    ),
    ("[tool.release.registry]\nhost = 'https://h/x'", "must be a host[:port]"),
    ("[tool.release.codenames]\nthree = 'petronas'", "tool.release.codenames.three:"),
    (
        "[tool.release.ui]\npath = 'ui'",
        "tool.release.ui.azure-app: is required",
    ),
    (
        "[tool.release.ui]\npath = 'web'\nazure-app = 'a'",
        "tool.release.ui.path: folder web does not exist",
    ),
    (
        "[tool.release.discord]\nchangelog = 'NEWS.md'",
        "tool.release.discord.changelog: file NEWS.md does not exist",
    ),
    (
        "[tool.release.pypi]\nindex-url = 'ftp://x'",
        "tool.release.pypi.index-url: 'ftp://x' is not an http(s) URL",
    ),
    (
        "[tool.release.pypi]\nupload = 'x'",
        "tool.release.pypi.upload: unknown key",
    ),
]


@pytest.mark.parametrize(("body", "expected"), ERRORS)
def test_invalid_configuration_names_the_key(body, expected):
    with pytest.raises(ConfigError) as caught:
        parse(body)
    assert expected in str(caught.value)
    assert caught.value.exit_code == 1


def test_invalid_toml_names_the_line():
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 3"):
        parse_config("[tool.release]\nbranches = ['main']\nremote = \n", FILES, {})


def test_missing_table_says_how_to_add_it():
    with pytest.raises(ConfigError, match=r"no \[tool.release\] table"):
        parse_config("[project]\nname = 'x'\n", FILES, {})


def test_environment_overrides_point_at_other_services():
    config = parse(
        "[tool.release.registry]\nhost = 'harbor.example'\n",
        env={
            "TWINE_REPOSITORY_URL": "http://127.0.0.1:1/",
            "RELEASE_INDEX_URL": "http://127.0.0.1:1/simple/",
            "RELEASE_REGISTRY": "127.0.0.1:5000",
        },
    )
    assert config.pypi.repository_url == "http://127.0.0.1:1/"
    assert config.pypi.index_url == "http://127.0.0.1:1/simple/"
    assert config.registry is not None and config.registry.host == "127.0.0.1:5000"
    assert config.registry.base_url == "http://127.0.0.1:5000"


def test_remote_registries_use_https():
    config = parse("[tool.release.registry]\nhost = 'harbor2.vantage6.ai'\n")
    assert config.registry is not None and config.registry.base_url == "https://harbor2.vantage6.ai"


def test_discord_project_name_defaults_to_the_repository_folder():
    config = parse_config("[tool.release.discord]\n", FILES, {}, project_folder="acme")
    assert config.discord is not None and config.discord.project_name == "acme"


def test_the_demo_configuration_is_valid():
    config = load_config(DEMO, {})
    assert [p.path for p in config.packages] == ["demo-common", "demo-node"]
    assert [i.name for i in config.images] == ["demo/node", "demo/server", "demo/agent"]
    assert config.images[2].platforms == ("linux/amd64", "linux/arm64")  # built by buildah
    assert config.version_files[3].matches == ("demo-node/src/demo_node/_version.py",)


@pytest.mark.parametrize(
    ("pattern", "name"),
    itertools.product(
        ["main", "release/*", "release/main", "v*.x", "**/main", "dev", "!main", "main/"],
        ["main", "release/main", "release/1.x", "v1.x", "x/main", "dev", "devx", "!main"],
    ),
)
def test_branch_patterns_follow_wildmatch_with_or_without_the_literal_shortcut(
    pattern: str, name: str
) -> None:
    """Config.branch_allowed answers as pathspec's wildmatch does, for every pattern shape."""
    import pathspec

    expected = pathspec.PathSpec.from_lines("gitignore", [pattern]).match_file(name)
    assert Config(branches=(pattern,)).branch_allowed(name) is expected
