"""The version writers on real-looking files (no git: a folder is a tree of files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release.core.config import Config, Package, VersionFile, load_config
from release.core.version import ReleaseVersion, parse_version
from release.core.writers.change import BumpError
from release.core.writers.plan import holds_version, plan_writes, write_versions

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

V6_VERSION = '''"""The version of vantage6-node."""
import json
import os

here = os.path.abspath(os.path.dirname(__file__))

with open(os.path.join(here, "__build__")) as fp:
    __build__ = json.load(fp)

# Module version
version_info = (4, 1, 3, "final", __build__, 0)

# Module version stage suffix map
_specifier_ = {"alpha": "a", "beta": "b", "candidate": "rc", "final": ""}
version = f"{version_info[0]}.{version_info[1]}.{version_info[2]}"
pre_release_version = (
    f"{version}{_specifier_[version_info[3]]}{version_info[4]}"
    if version_info[3] != "final"
    else version
)
__version__ = pre_release_version + (f".post{version_info[5]}" if version_info[5] else "")
'''

DEMO_COMMON = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "Demo_Common"
# Written by release-tasks; do not edit by hand.
version   =   '4.1.3'    # the released version
description = "Shared code"
dependencies = [
  "requests >= 2.31",
]
"""

DEMO_NODE = """[project]
name = "demo-node"
dynamic = ["version"]
dependencies = [
    "demo-common==4.1.3",  # released in lock-step with this package
    "demo-common[extra] == 4.1.3 ; python_version == '3.11'",
    "demo-server>=4.1",
    "other-project==4.1.3",
    'demo-common===4.1.3',
]

[project.optional-dependencies]
dev = ["demo-common==4.1.3", "pytest"]
"""


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    return root


def config(*entries: VersionFile, packages: tuple[str, ...] = ()) -> Config:
    return Config(version_files=entries, packages=tuple(Package(p) for p in packages))


def vf(path: str, kind: str, **options: str) -> VersionFile:
    return VersionFile(path=path, kind=kind, **options)  # type: ignore[arg-type]


def written(root: Path, cfg: Config, version: str) -> dict[str, str]:
    changes = write_versions(cfg, root, parse_version(version))
    return {c.path: (root / c.path).read_bytes().decode("utf-8") for c in changes if c.changed}


@pytest.mark.parametrize(
    ("version", "tuple_text", "build"),
    [
        ("4.2.0rc1", '(4, 2, 0, "candidate", __build__, 0)', "1"),
        ("4.2.0", '(4, 2, 0, "final", __build__, 0)', "0"),
        ("4.2.0.post2", '(4, 2, 0, "final", __build__, 2)', "0"),
        ("5.0.0a3", '(5, 0, 0, "alpha", __build__, 0)', "3"),
        ("5.0.0b12", '(5, 0, 0, "beta", __build__, 0)', "12"),
    ],
)
def test_version_info_keeps_the_build_name_and_writes_the_number_beside(
    tmp_path: Path, version: str, tuple_text: str, build: str
):
    make_tree(
        tmp_path,
        {
            "vantage6-node/vantage6/node/_version.py": V6_VERSION,
            "vantage6-node/vantage6/node/__build__": "7\n",
        },
    )
    cfg = config(vf("*/vantage6/**/_version.py", "version-info"))
    result = written(tmp_path, cfg, version)
    text = (tmp_path / "vantage6-node/vantage6/node/_version.py").read_text()
    assert f"version_info = {tuple_text}\n" in text
    assert text.replace(tuple_text, '(4, 1, 3, "final", __build__, 0)') == V6_VERSION
    assert (tmp_path / "vantage6-node/vantage6/node/__build__").read_text() == f"{build}\n"
    assert "vantage6-node/vantage6/node/_version.py" in result


def test_version_info_with_a_literal_build_number_rewrites_it_in_place(tmp_path: Path):
    make_tree(tmp_path, {"pkg/_version.py": "version_info = ( 1,0,0, 'final', 0, 0, )\n"})
    written(tmp_path, config(vf("pkg/_version.py", "version-info")), "2.1.0b4")
    assert (tmp_path / "pkg/_version.py").read_text() == (
        "version_info = ( 2,1,0, 'beta', 4, 0, )\n"
    )


def test_version_info_without_its_build_file_names_the_missing_file(tmp_path: Path):
    make_tree(tmp_path, {"node/_version.py": V6_VERSION})
    with pytest.raises(BumpError) as error:
        plan_writes(
            config(vf("node/_version.py", "version-info")), tmp_path, parse_version("4.2.0")
        )
    assert "node/__build__: file does not exist" in str(error.value)


def test_version_info_refuses_a_format(tmp_path: Path):
    make_tree(tmp_path, {"node/_version.py": V6_VERSION, "node/__build__": "0"})
    entry = vf("node/_version.py", "version-info", format="{major}.{minor}")
    with pytest.raises(BumpError, match="format does not apply to version-info"):
        plan_writes(config(entry), tmp_path, parse_version("4.2.0"))


def test_pyproject_keeps_comments_spacing_and_quotes(tmp_path: Path):
    make_tree(tmp_path, {"common/pyproject.toml": DEMO_COMMON})
    written(tmp_path, config(vf("common/pyproject.toml", "pyproject")), "4.2.0rc1")
    assert (tmp_path / "common/pyproject.toml").read_text() == DEMO_COMMON.replace(
        "'4.1.3'", "'4.2.0rc1'"
    )


def test_pyproject_pins_siblings_exactly_and_leaves_everything_else(tmp_path: Path):
    make_tree(
        tmp_path,
        {"common/pyproject.toml": DEMO_COMMON, "node/pyproject.toml": DEMO_NODE},
    )
    cfg = config(vf("node/pyproject.toml", "pyproject"), packages=("common", "node"))
    written(tmp_path, cfg, "4.2.0")
    text = (tmp_path / "node/pyproject.toml").read_text()
    assert text == (
        DEMO_NODE.replace('"demo-common==4.1.3"', '"demo-common==4.2.0"')
        .replace("demo-common[extra] == 4.1.3 ;", "demo-common[extra] == 4.2.0 ;")
        .replace("'demo-common===4.1.3'", "'demo-common===4.2.0'")
    )
    assert "python_version == '3.11'" in text  # the marker's == is not a pin
    assert "other-project==4.1.3" in text and "demo-server>=4.1" in text
    # common (name spelled Demo_Common) was found as a sibling through [[packages]]
    assert (tmp_path / "common/pyproject.toml").read_text() == DEMO_COMMON


def test_pyproject_with_crlf_line_endings_keeps_them(tmp_path: Path):
    crlf = DEMO_COMMON.replace("\n", "\r\n")
    make_tree(tmp_path, {"pyproject.toml": crlf.encode()})
    write_versions(config(vf("pyproject.toml", "pyproject")), tmp_path, parse_version("4.2.0"))
    data = (tmp_path / "pyproject.toml").read_bytes()
    assert data == crlf.replace("'4.1.3'", "'4.2.0'").encode()


def test_pyproject_without_a_project_version_names_what_was_looked_for(tmp_path: Path):
    make_tree(tmp_path, {"pyproject.toml": "[tool.release]\n"})
    with pytest.raises(BumpError) as error:
        plan_writes(config(vf("pyproject.toml", "pyproject")), tmp_path, parse_version("4.2.0"))
    message = str(error.value)
    assert "pyproject.toml has no [project] with version" in message
    assert "no file was changed" in message


def test_dunder_single_quotes_annotation_and_crlf(tmp_path: Path):
    source = (
        '"""pkg"""\r\n__version__: str = \'0.1.0\'\r\n\r\ndef f():\r\n    __version__ = "x"\r\n'
    )
    make_tree(tmp_path, {"pkg/__init__.py": source.encode()})
    write_versions(config(vf("pkg/__init__.py", "dunder")), tmp_path, parse_version("1.2.3"))
    assert (tmp_path / "pkg/__init__.py").read_bytes() == source.replace(
        "'0.1.0'", "'1.2.3'"
    ).encode()


def test_dunder_missing_is_an_error_naming_the_file(tmp_path: Path):
    make_tree(tmp_path, {"pkg/__init__.py": "from ._version import __version__\n"})
    with pytest.raises(BumpError, match=r"pkg/__init__.py has no module-level __version__"):
        plan_writes(config(vf("pkg/__init__.py", "dunder")), tmp_path, parse_version("1.2.3"))


PACKAGE_JSON = '{\n\t"name": "ui",\n\t"private": true,\n\t"version":   "1.0.0",\n\t"scripts": {"version": "echo 1.0.0"}\n}\n'
LOCK_V3 = """{
  "name": "ui",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "ui",
      "version": "1.0.0",
      "dependencies": {"left-pad": "1.0.0"}
    },
    "node_modules/left-pad": {
      "version": "1.0.0"
    }
  }
}
"""
LOCK_V1 = (
    '{\n  "name": "ui",\n  "version": "1.0.0",\n  "lockfileVersion": 1,\n  "dependencies": {}\n}\n'
)


def test_package_json_changes_only_the_version_string(tmp_path: Path):
    make_tree(tmp_path, {"ui/package.json": PACKAGE_JSON})
    written(tmp_path, config(vf("ui/package.json", "package-json")), "4.2.0rc1")
    assert (tmp_path / "ui/package.json").read_text() == PACKAGE_JSON.replace(
        '"version":   "1.0.0"', '"version":   "4.2.0-rc.1"'
    )


def test_package_lock_writes_both_root_versions_and_no_dependency(tmp_path: Path):
    make_tree(tmp_path, {"ui/package-lock.json": LOCK_V3, "old/package-lock.json": LOCK_V1})
    cfg = config(vf("*/package-lock.json", "package-json"))
    written(tmp_path, cfg, "4.2.0.post1")
    text = (tmp_path / "ui/package-lock.json").read_text()
    assert text.count('"version": "4.2.0-post1"') == 2
    assert '"node_modules/left-pad": {\n      "version": "1.0.0"' in text
    assert '"left-pad": "1.0.0"' in text
    assert (tmp_path / "old/package-lock.json").read_text() == LOCK_V1.replace(
        "1.0.0", "4.2.0-post1"
    )


def test_package_json_with_bom_keeps_it(tmp_path: Path):
    make_tree(tmp_path, {"package.json": b"\xef\xbb\xbf" + PACKAGE_JSON.encode()})
    write_versions(config(vf("package.json", "package-json")), tmp_path, parse_version("2.0.0"))
    assert (tmp_path / "package.json").read_bytes().startswith(b'\xef\xbb\xbf{\n\t"name"')


def test_package_json_without_version_is_an_error(tmp_path: Path):
    make_tree(tmp_path, {"package.json": '{"name": "x", "scripts": {"version": "1"}}'})
    with pytest.raises(BumpError, match=r'package.json has no top-level "version" string'):
        plan_writes(config(vf("package.json", "package-json")), tmp_path, parse_version("2.0.0"))


BASE_DOCKERFILE = """# vantage6 base image
FROM python:3.10-slim-bookworm
LABEL version="4.14"
LABEL maintainer="F. Martin" \\
      org.opencontainers.image.version="keep" \\
      version="4.14"
"""
NODE_DOCKERFILE = """ARG BASE=4.14
ARG TAG=latest
FROM harbor2.vantage6.ai/infrastructure/infrastructure-base:${BASE}
ARG BASE
LABEL version=${TAG}
"""


def test_dockerfile_label_with_a_format_keeps_quotes_and_other_labels(tmp_path: Path):
    make_tree(tmp_path, {"docker/Dockerfile.base": BASE_DOCKERFILE})
    entry = vf("docker/Dockerfile.base", "dockerfile", format="{major}.{minor}")
    written(tmp_path, config(entry), "4.15.0rc2")
    assert (tmp_path / "docker/Dockerfile.base").read_text() == BASE_DOCKERFILE.replace(
        'version="4.14"', 'version="4.15"'
    )


def test_dockerfile_arg_is_rewritten_and_a_build_argument_label_left_alone(tmp_path: Path):
    make_tree(tmp_path, {"docker/node.Dockerfile": NODE_DOCKERFILE})
    entry = vf("docker/node.Dockerfile", "dockerfile", arg="BASE", format="{major}.{minor}")
    written(tmp_path, config(entry), "4.15.0")
    assert (tmp_path / "docker/node.Dockerfile").read_text() == NODE_DOCKERFILE.replace(
        "ARG BASE=4.14", "ARG BASE=4.15"
    )
    label = plan_writes(
        config(vf("docker/node.Dockerfile", "dockerfile")), tmp_path, parse_version("4.15.0")
    )
    assert not label[0].changed
    assert label[0].note is not None and "build argument: left alone" in label[0].note


def test_dockerfile_unquoted_label_gets_the_docker_tag(tmp_path: Path):
    make_tree(tmp_path, {"Dockerfile": "FROM scratch\nlabel version=1.0.0 other=x\n"})
    written(tmp_path, config(vf("Dockerfile", "dockerfile")), "1.1.0.post3")
    assert (tmp_path / "Dockerfile").read_text() == (
        "FROM scratch\nlabel version=1.1.0.post3 other=x\n"
    )


def test_dockerfile_arg_without_default_is_no_marker(tmp_path: Path):
    make_tree(tmp_path, {"Dockerfile": "FROM scratch\nARG BASE\nLABEL version=1\n"})
    entry = vf("Dockerfile", "dockerfile", arg="BASE")
    with pytest.raises(
        BumpError, match=r"Dockerfile has no ARG BASE=\.\.\. \(an ARG with a default"
    ):
        plan_writes(config(entry), tmp_path, parse_version("1.0.0"))


def test_regex_named_group_and_single_group(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "chart/Chart.yaml": 'name: node\nappVersion: "4.1.0"  # app\nversion: 0.3.0\n',
            "docs/conf.py": "release = '4.1.0'\nversion = '4.1'\n",
        },
    )
    cfg = config(
        vf("chart/Chart.yaml", "regex", pattern=r'^appVersion: "(?P<version>[^"]+)"'),
        vf("docs/conf.py", "regex", pattern=r"^release = '([^']+)'"),
    )
    written(tmp_path, cfg, "4.2.0b1")
    assert (tmp_path / "chart/Chart.yaml").read_text() == (
        'name: node\nappVersion: "4.2.0b1"  # app\nversion: 0.3.0\n'
    )
    assert (tmp_path / "docs/conf.py").read_text() == "release = '4.2.0b1'\nversion = '4.1'\n"


def test_regex_without_a_match_names_the_pattern(tmp_path: Path):
    make_tree(tmp_path, {"VERSION.txt": "nothing here\n"})
    entry = vf("VERSION.txt", "regex", pattern=r"^v=(\S+)")
    with pytest.raises(
        BumpError, match=r"VERSION.txt has no match of the pattern '\^v=\(\\\\S\+\)'"
    ):
        plan_writes(config(entry), tmp_path, parse_version("1.0.0"))


def test_glob_passes_over_files_without_the_marker_and_lists_them(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "a/__init__.py": '__version__ = "1.0.0"\n',
            "b/__init__.py": "from a import __version__\n",
        },
    )
    changes = plan_writes(config(vf("*/__init__.py", "dunder")), tmp_path, parse_version("2.0.0"))
    by_path = {c.path: c for c in changes}
    assert by_path["a/__init__.py"].changed
    assert by_path["b/__init__.py"].skipped == 'has no module-level __version__ = "..." assignment'
    assert not by_path["b/__init__.py"].changed


def test_a_star_stays_in_its_folder_and_a_double_star_spans_folders(tmp_path: Path):
    make_tree(
        tmp_path,
        {
            "docker/node.Dockerfile": "LABEL version=1.0.0\n",
            "docker/old/server.Dockerfile": "LABEL version=1.0.0\n",
        },
    )
    version = parse_version("2.0.0")
    one = plan_writes(config(vf("docker/*", "dockerfile")), tmp_path, version)
    assert [c.path for c in one] == ["docker/node.Dockerfile"]
    both = plan_writes(config(vf("docker/**/*.Dockerfile", "dockerfile")), tmp_path, version)
    assert sorted(c.path for c in both) == [
        "docker/node.Dockerfile",
        "docker/old/server.Dockerfile",
    ]


def test_glob_without_any_marked_file_is_an_error_listing_them(tmp_path: Path):
    make_tree(tmp_path, {"a/__init__.py": "x = 1\n", "b/__init__.py": "y = 2\n"})
    with pytest.raises(BumpError) as error:
        plan_writes(config(vf("*/__init__.py", "dunder")), tmp_path, parse_version("2.0.0"))
    assert "none of its 2 file(s) has" in str(error.value)
    assert "a/__init__.py, b/__init__.py" in str(error.value)


def test_glob_matching_no_file_is_an_error(tmp_path: Path):
    make_tree(tmp_path, {"a.txt": ""})
    with pytest.raises(BumpError, match="matches no file"):
        plan_writes(config(vf("**/_version.py", "version-info")), tmp_path, parse_version("2.0.0"))


def test_one_bad_file_stops_every_write(tmp_path: Path):
    make_tree(
        tmp_path,
        {"good/__init__.py": '__version__ = "1.0.0"\n', "bad/__init__.py": "nothing\n"},
    )
    cfg = config(vf("good/__init__.py", "dunder"), vf("bad/__init__.py", "dunder"))
    with pytest.raises(BumpError, match=r"bad/__init__\.py"):
        write_versions(cfg, tmp_path, parse_version("2.0.0"))
    assert (tmp_path / "good/__init__.py").read_text() == '__version__ = "1.0.0"\n'


def test_every_problem_is_reported_at_once(tmp_path: Path):
    make_tree(tmp_path, {"a.py": "", "package.json": "{not json"})
    cfg = config(vf("a.py", "dunder"), vf("package.json", "package-json"), vf("b.py", "dunder"))
    with pytest.raises(BumpError) as error:
        plan_writes(cfg, tmp_path, parse_version("2.0.0"))
    message = str(error.value)
    assert "a.py has no module-level" in message
    assert "package.json: is not valid JSON" in message
    assert "b.py: file does not exist" in message


def test_two_writers_on_one_file_apply_in_order(tmp_path: Path):
    make_tree(tmp_path, {"pkg/__init__.py": '__version__ = "1.0.0"\nVERSION_TUPLE = "1.0"\n'})
    cfg = config(
        vf("pkg/__init__.py", "dunder"),
        vf(
            "pkg/__init__.py",
            "regex",
            pattern=r'VERSION_TUPLE = "([^"]+)"',
            format="{major}.{minor}",
        ),
    )
    changes = write_versions(cfg, tmp_path, parse_version("3.4.5"))
    assert [c.kind for c in changes] == ["dunder+regex"]
    assert (tmp_path / "pkg/__init__.py").read_text() == (
        '__version__ = "3.4.5"\nVERSION_TUPLE = "3.4"\n'
    )


def test_writes_keep_permissions_and_bytes_and_leave_no_temporary_file(tmp_path: Path):
    script = b"#!/bin/sh\r\n# caf\xe9 (latin-1)\r\n__version__ = '1.0.0'\r\n"
    make_tree(tmp_path, {"bin/tool": script})
    os.chmod(tmp_path / "bin/tool", 0o751)
    write_versions(config(vf("bin/tool", "dunder")), tmp_path, parse_version("1.0.1"))
    assert (tmp_path / "bin/tool").read_bytes() == script.replace(b"1.0.0", b"1.0.1")
    assert stat.S_IMODE((tmp_path / "bin/tool").stat().st_mode) == 0o751
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["tool"]


def test_a_second_write_changes_nothing(tmp_path: Path):
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    import shutil

    shutil.copytree(demo, tmp_path / "demo", ignore=shutil.ignore_patterns("node_modules", "dist"))
    root = tmp_path / "demo"
    cfg = load_config(root)
    first = write_versions(cfg, root, parse_version("4.2.0rc1"))
    assert {c.path for c in first if c.changed} >= {
        "demo-common/pyproject.toml",
        "demo-node/pyproject.toml",
        "demo-node/src/demo_node/_version.py",
        "demo-node/src/demo_node/__build__",
        "docker/node.Dockerfile",
        "ui/package-lock.json",
    }
    again = write_versions(cfg, root, parse_version("4.2.0rc1"))
    assert not any(c.changed for c in again)
    for entry in cfg.version_files:
        for name in entry.matches:
            assert holds_version(entry, root / name, parse_version("4.2.0rc1"))
    build = root / "demo-node/src/demo_node/__build__"
    info = next(e for e in cfg.version_files if e.kind == "version-info")
    assert holds_version(info, build, parse_version("4.2.0rc1"))
    assert not holds_version(info, build, parse_version("4.2.0rc2"))


def test_holds_version_is_false_before_the_write(tmp_path: Path):
    make_tree(tmp_path, {"pkg/__init__.py": '__version__ = "1.0.0"\n'})
    entry = VersionFile("pkg/__init__.py", "dunder", matches=("pkg/__init__.py",))
    assert not holds_version(entry, tmp_path / "pkg/__init__.py", parse_version("2.0.0"))
    assert holds_version(entry, tmp_path / "pkg/__init__.py", parse_version("1.0.0"))


numbers = st.integers(0, 30)
versions = st.one_of(
    st.builds(
        ReleaseVersion,
        numbers,
        numbers,
        numbers,
        st.one_of(st.none(), st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(1, 20))),
    ),
    st.builds(ReleaseVersion, numbers, numbers, numbers, st.none(), st.integers(1, 5)),
)


@settings(max_examples=40, deadline=None)
@given(first=versions, second=versions)
def test_writing_one_version_over_another_equals_writing_it_directly(
    tmp_path_factory: pytest.TempPathFactory, first: ReleaseVersion, second: ReleaseVersion
):
    files = {
        "node/_version.py": V6_VERSION,
        "node/__build__": "0\n",
        "node/pyproject.toml": DEMO_COMMON,
        "ui/package-lock.json": LOCK_V3,
        "Dockerfile": BASE_DOCKERFILE,
    }
    cfg = config(
        vf("node/_version.py", "version-info"),
        vf("node/pyproject.toml", "pyproject"),
        vf("ui/package-lock.json", "package-json"),
        vf("Dockerfile", "dockerfile"),
    )
    direct = make_tree(tmp_path_factory.mktemp("direct"), files)
    twice = make_tree(tmp_path_factory.mktemp("twice"), files)
    write_versions(cfg, direct, second)
    write_versions(cfg, twice, first)
    write_versions(cfg, twice, second)
    for name in files:
        assert (twice / name).read_bytes() == (direct / name).read_bytes()
