"""``twine check`` of the built files (``release.steps.pypi.verify.twine_problems``).

Done through public interfaces (twine's ``PackageFile`` and ``readme_renderer``), it must
judge every file as twine's own ``twine check`` does: each case is also given to
``twine.commands.check.check`` (its documented command function) and both must agree.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from release.steps.pypi.verify import twine_problems

BROKEN_RST = "demo\n=====\n\nSee `the docs <https://example.org>`_ and `broken\n"
GOOD_RST = "demo\n====\n\nSee `the docs <https://example.org>`_.\n"


def wheel(
    folder: Path,
    description: str,
    content_type: str | None,
    name: str = "demo",
    metadata_name: str | None = None,
) -> Path:
    """A minimal wheel whose METADATA carries ``description`` as its long description."""
    path = folder / f"{name}-1.0-py3-none-any.whl"
    headers = [
        "Metadata-Version: 2.1",
        f"Name: {metadata_name or name}",
        "Version: 1.0",
        "Summary: a demo",
    ]
    if content_type is not None:
        headers.append(f"Description-Content-Type: {content_type}")
    metadata = "\n".join(headers) + "\n\n" + description
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "")
        archive.writestr(f"{info}/METADATA", metadata)
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


def twine_fails(path: Path) -> bool:
    from twine.commands.check import check

    return check([str(path)])


@pytest.mark.parametrize(
    ("description", "content_type", "fails"),
    [
        (BROKEN_RST, "text/x-rst", True),
        (BROKEN_RST, "text/x-rst; charset=UTF-8", True),
        (BROKEN_RST, None, True),  # no content type: read as reStructuredText
        (BROKEN_RST, "text/markdown", False),  # Markdown cannot fail to render
        (BROKEN_RST, "text/plain", False),
        (GOOD_RST, "text/x-rst", False),
        ("", "text/x-rst", False),  # a missing description is twine's warning, not an error
    ],
)
def test_twine_problems_judges_each_file_as_twine_check_does(
    tmp_path: Path, description: str, content_type: str | None, fails: bool
):
    path = wheel(tmp_path, description, content_type)

    problems = twine_problems([path])

    assert bool(problems) is fails
    assert twine_fails(path) is fails


def test_a_broken_description_is_named_with_its_file_and_docutils_own_words(tmp_path: Path):
    path = wheel(tmp_path, BROKEN_RST, "text/x-rst")

    (problem,) = twine_problems([path])

    assert problem == (
        "twine check demo-1.0-py3-none-any.whl: the long description (text/x-rst) has syntax "
        "errors in markup and would not be rendered on the index: line 4: Warning: Inline "
        "interpreted text or phrase reference start-string without end-string."
    )


def test_a_report_is_given_without_the_source_lines_docutils_quotes(tmp_path: Path):
    path = wheel(tmp_path, "demo\n====\n\n.. frobnicate:: now\n", "text/x-rst")

    (problem,) = twine_problems([path])

    assert problem.endswith(': line 4: Error: Unknown directive type "frobnicate".')
    assert ".. frobnicate:: now" not in problem


def test_metadata_twine_would_refuse_is_named_with_twines_words(tmp_path: Path):
    path = wheel(tmp_path, GOOD_RST, "text/x-rst", metadata_name="-demo-")

    (problem,) = twine_problems([path])

    assert problem == (
        "twine check demo-1.0-py3-none-any.whl: Invalid distribution metadata: "
        "'-demo-' is invalid for 'name'"
    )


def test_only_the_broken_files_are_named(tmp_path: Path):
    (tmp_path / "good").mkdir()
    good = wheel(tmp_path / "good", GOOD_RST, "text/x-rst", name="good")
    bad = wheel(tmp_path, BROKEN_RST, None)

    problems = twine_problems([good, bad])

    assert [p.split(":")[0] for p in problems] == ["twine check demo-1.0-py3-none-any.whl"]
