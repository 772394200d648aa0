"""The rules over what the release's wheels install, and the two keys that steer the build.

``release.steps.pypi.clash`` is pure: file lists in, warnings out, so the rules are tables.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from release.core.config import parse_config
from release.core.errors import ConfigError
from release.core.version import parse_tag
from release.steps.pypi.checks import build_planned
from release.steps.pypi.clash import (
    generic_names,
    installed_paths,
    shared_files,
    top_level_names,
    wheel_warnings,
)
from release.steps.pypi.dists import missing_file, not_self_contained
from release.steps.pypi.verify import clash_warnings


def record(*paths: str) -> list[str]:
    return installed_paths(paths)


@pytest.mark.parametrize(
    ("paths", "installed"),
    [
        (
            ["pkg/__init__.py", "pkg-1.0.dist-info/RECORD"],
            ["pkg/__init__.py", "pkg-1.0.dist-info/RECORD"],
        ),
        (["pkg-1.0.data/purelib/tests/__init__.py"], ["tests/__init__.py"]),
        (["pkg-1.0.data/platlib/fast.so"], ["fast.so"]),
        (["pkg-1.0.data/scripts/run"], ["[scripts]/run"]),
        (["pkg-1.0.data/data/share/pkg/x.json"], ["[data]/share/pkg/x.json"]),
        (["pkg-1.0.data/headers/pkg.h"], ["[headers]/pkg-1.0/pkg.h"]),
        (["", "pkg/"], []),
    ],
)
def test_installed_paths_say_where_each_file_lands(paths: list[str], installed: list[str]) -> None:
    assert installed_paths(paths) == installed


@pytest.mark.parametrize(
    ("paths", "names", "generic"),
    [
        (
            ["demo/__init__.py", "tests/__init__.py", "tests/test_a.py"],
            ["demo", "tests"],
            ["tests"],
        ),
        (["test.py", "demo.py"], ["demo", "test"], ["test"]),
        (["docs/index.md", "examples/run.py"], ["docs", "examples"], ["docs", "examples"]),
        (["benchmarks/b.py", "scripts/s.py"], ["benchmarks", "scripts"], ["benchmarks", "scripts"]),
        (["Tests/__init__.py"], ["Tests"], ["Tests"]),
        # a package's own tests are inside it; a console script is not a package
        (["demo/__init__.py", "demo/tests/test_a.py"], ["demo"], []),
        (["demo/__init__.py", "[scripts]/tests"], ["demo"], []),
        (["demo-1.0.dist-info/METADATA", "demo.pth"], [], []),
        (
            ["testing/__init__.py", "tests_helper.py", "docs_theme/x.css"],
            ["docs_theme", "testing", "tests_helper"],
            [],
        ),
    ],
)
def test_top_level_names_and_the_generic_ones(
    paths: list[str], names: list[str], generic: list[str]
) -> None:
    assert top_level_names(paths) == names
    assert generic_names(paths) == generic


VANTAGE_COMMON = record(
    "vantage6/common/__init__.py",
    "vantage6/common/globals.py",
    "vantage6_common-4.0.0.dist-info/RECORD",
)
VANTAGE_CLIENT = record(
    "vantage6/client/__init__.py",
    "vantage6/client/utils.py",
    "vantage6_client-4.0.0.dist-info/RECORD",
)
VANTAGE_NODE = record(
    "vantage6/node/__init__.py",
    "vantage6_node-4.0.0.dist-info/RECORD",
)


@pytest.mark.parametrize(
    ("wheels", "shared"),
    [
        # PEP 420: one namespace folder, each distribution's own subpackage: no clash
        (
            {"common.whl": VANTAGE_COMMON, "client.whl": VANTAGE_CLIENT, "node.whl": VANTAGE_NODE},
            [],
        ),
        # the shared folder is a regular package in two of them: its __init__.py clashes
        (
            {
                "common.whl": [*VANTAGE_COMMON, "vantage6/__init__.py"],
                "client.whl": [*VANTAGE_CLIENT, "vantage6/__init__.py"],
                "node.whl": VANTAGE_NODE,
            },
            [(("client.whl", "common.whl"), ["vantage6/__init__.py"])],
        ),
        # same folder name, different files: no clash
        ({"a.whl": ["data/a.json"], "b.whl": ["data/b.json"]}, []),
        # one group per set of wheels that share files
        (
            {
                "a.whl": ["tests/__init__.py", "tests/test_a.py", "[scripts]/run"],
                "b.whl": ["tests/__init__.py", "tests/test_b.py"],
                "c.whl": ["tests/__init__.py", "[scripts]/run"],
            },
            [
                (("a.whl", "b.whl", "c.whl"), ["tests/__init__.py"]),
                (("a.whl", "c.whl"), ["[scripts]/run"]),
            ],
        ),
        # a file listed twice in one wheel is not a clash with itself
        ({"a.whl": ["x.py", "x.py"], "b.whl": ["y.py"]}, []),
    ],
)
def test_wheels_clash_on_shared_files_not_on_shared_folders(
    wheels: dict[str, list[str]], shared: list[tuple[tuple[str, ...], list[str]]]
) -> None:
    assert shared_files(wheels) == shared


def test_namespace_packages_of_one_release_give_no_warning() -> None:
    wheels = {"common.whl": VANTAGE_COMMON, "client.whl": VANTAGE_CLIENT, "node.whl": VANTAGE_NODE}
    assert wheel_warnings(wheels) == []


def test_the_warnings_name_the_wheels_the_paths_and_the_fix() -> None:
    wheels = {
        "demo_a-1.0-py3-none-any.whl": ["demo_a/__init__.py", "tests/__init__.py", "tests/t1.py"],
        "demo_b-1.0-py3-none-any.whl": ["demo_b/__init__.py", "tests/__init__.py"],
    }
    generic_a, generic_b, clash = wheel_warnings(wheels)
    assert generic_a.startswith("demo_a-1.0-py3-none-any.whl installs a top-level package 'tests'")
    assert "find_packages(exclude=['tests', 'tests.*'])" in generic_a
    assert generic_b.startswith("demo_b-1.0-py3-none-any.whl installs a top-level package 'tests'")
    assert clash.startswith(
        "demo_a-1.0-py3-none-any.whl and demo_b-1.0-py3-none-any.whl install the same file(s): "
        "tests/__init__.py ("
    )
    assert "namespace folder without __init__.py, PEP 420" in clash


def test_a_long_list_of_shared_files_is_counted() -> None:
    files = [f"common/m{i}.py" for i in range(5)]
    (clash,) = wheel_warnings({"a.whl": files, "b.whl": files})
    assert "common/m0.py, common/m1.py, common/m2.py and 2 more (" in clash


def test_the_warnings_are_read_from_the_wheels_records(tmp_path: Path) -> None:
    def wheel(name: str, *paths: str) -> Path:
        path = tmp_path / f"{name}-1.0-py3-none-any.whl"
        rows = "".join(f"{p},sha256=x,1\n" for p in paths)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(
                f"{name}-1.0.dist-info/RECORD", rows + f"{name}-1.0.dist-info/RECORD,,\n"
            )
        return path

    a = wheel("ns_a", "ns/a/__init__.py", "ns_a-1.0.data/purelib/tests/__init__.py")
    b = wheel("ns_b", "ns/b/__init__.py", "tests/__init__.py")
    c = wheel("ns_c", "ns/c/__init__.py")
    warnings = clash_warnings([a, b, c])
    assert len(warnings) == 3
    assert (
        "ns_a-1.0-py3-none-any.whl and ns_b-1.0-py3-none-any.whl install the same file(s): tests/__init__.py"
        in warnings[2]
    )
    assert clash_warnings([a, c]) == [warnings[0]]


# -- the file a wheel built from an sdist looked for ---------------------------------------


@pytest.mark.parametrize(
    ("output", "found"),
    [
        (
            "Traceback...\nFileNotFoundError: [Errno 2] No such file or directory: '../README.md'\n",
            (
                "../README.md",
                "FileNotFoundError: [Errno 2] No such file or directory: '../README.md'",
            ),
        ),
        (
            'OSError: [Errno 2] No such file or directory: "/tmp/s/pkg-1.0/../VERSION"',
            ("../VERSION", 'OSError: [Errno 2] No such file or directory: "../VERSION"'),
        ),
        (
            "OSError: Readme file does not exist: ../README.md",
            ("../README.md", "OSError: Readme file does not exist: ../README.md"),
        ),
        (
            "error: package directory 'src/pkg' does not exist",
            ("src/pkg", "error: package directory 'src/pkg' does not exist"),
        ),
        ("RuntimeError: something else went wrong", None),
    ],
)
def test_the_missing_file_is_taken_from_the_backend_error(
    output: str, found: tuple[str, str] | None
) -> None:
    assert missing_file(output, Path("/tmp/s/pkg-1.0")) == found


def test_a_sdist_that_is_not_self_contained_is_said_with_both_fixes() -> None:
    output = "FileNotFoundError: [Errno 2] No such file or directory: '../README.md'"
    message = str(not_self_contained("demo-node", output))
    assert message.startswith("demo-node: the wheel built from its sdist fails")
    assert "the build looked for ../README.md, which the sdist does not hold" in message
    assert "MANIFEST.in" in message
    assert 'wheel-from = "source"' in message
    unnamed = str(not_self_contained("demo-node", "RuntimeError: no"))
    assert "a file the sdist does not hold (RuntimeError: no)" in unnamed


# -- the configuration and the plan ------------------------------------------------------------

FILES = ["pyproject.toml", "a/setup.py", "b/pyproject.toml"]
BASE = '[tool.release]\n{top}[[tool.release.packages]]\npath = "a"\n{a}[[tool.release.packages]]\npath = "b"\n'


def config(top: str = "", a: str = ""):
    return parse_config(BASE.format(top=top, a=a), FILES, {})


def test_wheel_from_and_strict_wheels_default_to_the_pypa_way_and_warnings() -> None:
    found = config()
    assert [p.wheel_from for p in found.packages] == ["sdist", "sdist"]
    assert found.strict_wheels is False
    tag = parse_tag("version/1.0.0", "version/")
    assert build_planned(tag, found, "main") == (
        "build sdist and wheel of a, b; twine check, version check, smoke install"
    )


def test_the_plan_says_which_package_builds_from_its_source_folder() -> None:
    found = config(top="strict-wheels = true\n", a='wheel-from = "source"\n')
    assert [p.wheel_from for p in found.packages] == ["source", "sdist"]
    assert found.strict_wheels is True
    tag = parse_tag("version/1.0.0", "version/")
    assert build_planned(tag, found, "main") == (
        'build sdist and wheel of a, b (a: both from the source folder, wheel-from = "source"); '
        "twine check, version check, smoke install; clashing wheels refused (strict-wheels)"
    )


@pytest.mark.parametrize(
    ("top", "a", "message"),
    [
        (
            "",
            'wheel-from = "wheel"\n',
            "tool.release.packages[0].wheel-from: 'wheel' is not one of 'sdist', 'source'",
        ),
        (
            "",
            "wheel-from = true\n",
            "tool.release.packages[0].wheel-from: expected a string, got a boolean",
        ),
        (
            'strict-wheels = "yes"\n',
            "",
            "tool.release.strict-wheels: expected true or false, got a string",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(top: str, a: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(top=top, a=a)
    assert str(caught.value).startswith(message)
