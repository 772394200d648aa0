"""Reading simple-API pages and deciding whether a built file is already on the index."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from release.core.files import sha256_of
from release.steps.pypi.comparison import Status, archive_difference, compare, counterpart
from release.steps.pypi.index import IndexFile, normalize, parse_html, parse_json

BASE = "http://127.0.0.1:8080/simple/demo-node/"


def test_html_page_gives_files_with_absolute_urls_and_sha256_fragments() -> None:
    page = """<!DOCTYPE html><html><body>
    <a href="../../packages/demo_node-1.0.0.tar.gz#sha256=abc123">demo_node-1.0.0.tar.gz</a><br>
    <a href="https://files.example.org/demo_node-1.0.0-py3-none-any.whl">demo_node-1.0.0-py3-none-any.whl</a>
    </body></html>"""
    files = parse_html(page, BASE)
    assert files == [
        IndexFile(
            "demo_node-1.0.0.tar.gz",
            "http://127.0.0.1:8080/packages/demo_node-1.0.0.tar.gz",
            "abc123",
        ),
        IndexFile(
            "demo_node-1.0.0-py3-none-any.whl",
            "https://files.example.org/demo_node-1.0.0-py3-none-any.whl",
            None,
        ),
    ]


def test_json_page_gives_files_with_their_sha256() -> None:
    page = """{"meta": {"api-version": "1.1"}, "name": "demo-node", "files": [
      {"filename": "demo_node-1.0.0.tar.gz", "url": "../../packages/demo_node-1.0.0.tar.gz",
       "hashes": {"sha256": "ff00"}},
      {"filename": "demo_node-1.0.0-py3-none-any.whl", "url": "x.whl", "hashes": {}}]}"""
    files = parse_json(page, BASE)
    assert files[0] == IndexFile(
        "demo_node-1.0.0.tar.gz", "http://127.0.0.1:8080/packages/demo_node-1.0.0.tar.gz", "ff00"
    )
    assert files[1].sha256 is None
    assert files[1].url == BASE + "x.whl"


@pytest.mark.parametrize(
    ("name", "normal"),
    [("Demo_Common", "demo-common"), ("demo.node", "demo-node"), ("a__b--c", "a-b-c")],
)
def test_project_names_are_normalized_as_pep_503_says(name: str, normal: str) -> None:
    assert normalize(name) == normal


def test_an_sdist_spelled_differently_on_the_index_is_the_same_release_file() -> None:
    remote = [IndexFile("demo-node-1.0.0.tar.gz", "u", None)]
    assert counterpart("demo_node-1.0.0.tar.gz", remote) == remote[0]


def test_a_wheel_for_other_tags_or_another_version_is_not_the_counterpart() -> None:
    remote = [
        IndexFile("demo_node-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl", "u", None),
        IndexFile("demo_node-1.0.1-py3-none-any.whl", "u", None),
        IndexFile("demo_node-1.0.0rc1.tar.gz", "u", None),
    ]
    assert counterpart("demo_node-1.0.0-py3-none-any.whl", remote) is None
    assert counterpart("demo_node-1.0.0.tar.gz", remote) is None


def _sdist(path: Path, members: dict[str, bytes], mtime: int) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            archive.addfile(info, io.BytesIO(data))
    return path


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


MEMBERS = {
    "demo_node-1.0.0/PKG-INFO": b"Metadata-Version: 2.1\nName: demo-node\nVersion: 1.0.0\n",
    "demo_node-1.0.0/src/demo_node/__init__.py": b"print('hi')\n",
}


def _serving(path: Path):  # type: ignore[no-untyped-def]
    calls: list[IndexFile] = []

    @contextmanager
    def download(file: IndexFile) -> Iterator[Path]:
        calls.append(file)
        yield path

    return download, calls


def test_same_sha256_is_identical_without_downloading(tmp_path: Path) -> None:
    local = _sdist(tmp_path / "demo_node-1.0.0.tar.gz", MEMBERS, 1)
    digest = sha256_of(local)
    download, calls = _serving(local)
    result = compare(local, digest, [IndexFile(local.name, "u", digest)], download)
    assert result.status is Status.IDENTICAL
    assert calls == []


def test_an_sdist_with_other_build_times_but_the_same_members_is_identical(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    local = _sdist(tmp_path / "a" / "demo_node-1.0.0.tar.gz", MEMBERS, 1_700_000_000)
    remote = _sdist(tmp_path / "b" / "demo_node-1.0.0.tar.gz", MEMBERS, 1_600_000_000)
    assert sha256_of(local) != sha256_of(remote)
    download, calls = _serving(remote)
    result = compare(
        local, sha256_of(local), [IndexFile(local.name, "u", sha256_of(remote))], download
    )
    assert result.status is Status.IDENTICAL
    assert "same members and contents" in result.reason
    assert len(calls) == 1


def test_an_sdist_with_a_changed_member_is_different_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    changed = {**MEMBERS, "demo_node-1.0.0/src/demo_node/__init__.py": b"print('changed')\n"}
    local = _sdist(tmp_path / "a" / "demo_node-1.0.0.tar.gz", changed, 1)
    remote = _sdist(tmp_path / "b" / "demo_node-1.0.0.tar.gz", MEMBERS, 1)
    download, _ = _serving(remote)
    result = compare(local, sha256_of(local), [IndexFile(local.name, "u", None)], download)
    assert result.status is Status.DIFFERENT
    assert "demo_node-1.0.0/src/demo_node/__init__.py" in result.reason


def test_a_file_not_on_the_index_is_missing(tmp_path: Path) -> None:
    local = _sdist(tmp_path / "demo_node-1.0.0.tar.gz", MEMBERS, 1)
    download, calls = _serving(local)
    assert compare(local, sha256_of(local), [], download).status is Status.MISSING
    assert calls == []


def test_wheels_with_an_extra_member_differ(tmp_path: Path) -> None:
    a = _wheel(tmp_path / "a.whl", {"x/__init__.py": b""})
    b = _wheel(tmp_path / "b.whl", {"x/__init__.py": b"", "x/extra.py": b""})
    assert archive_difference(a, a) is None
    assert (
        archive_difference(a, b) == "the index's file has members the local one lacks (x/extra.py)"
    )


def test_a_file_that_is_no_archive_differs_with_a_reason(tmp_path: Path) -> None:
    a = tmp_path / "x.tar.gz"
    a.write_bytes(b"not a tar")
    b = _sdist(tmp_path / "y.tar.gz", MEMBERS, 1)
    assert "cannot be compared as archives" in (archive_difference(a, b) or "")


def test_an_html_error_page_is_reduced_to_its_words_without_its_style() -> None:
    import requests

    from release.steps.pypi.index import answer_text

    response = requests.Response()
    response.status_code = 403
    response.reason = "Forbidden"
    response.headers["Content-Type"] = "text/html; charset=UTF-8"
    response._content = (
        b"<html><head><title>Error: 403 Forbidden</title><style type='text/css'>"
        b"html {background-color: #eee;}</style></head><body><h1>Error: 403 Forbidden</h1>"
        b"<p>Sorry, the requested URL <tt>&#039;http://127.0.0.1:8080/&#039;</tt> caused an "
        b"error:</p><pre>Forbidden</pre></body></html>"
    )
    said = answer_text(response)
    assert said == (
        "403 Forbidden: Error: 403 Forbidden Sorry, the requested URL "
        "'http://127.0.0.1:8080/' caused an error: Forbidden"
    )
