"""The documentation stands alone: a short README, docs/ for the rest, no link leaves the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
DOCS = ("tasks", "configuration", "ci", "protection", "design", "development")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
# Files the project was specified from, which a user of this repository does not have.
OUTSIDE = ("DESIGN" + ".md", "STYLE" + ".md", "../" + "shared")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=CHECKOUT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in names:
        path = CHECKOUT / name
        if path.suffix in {".png", ".whl", ".gz", ".zip"} or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found.append(path)
    return found


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    lines = (CHECKOUT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200


@pytest.mark.parametrize("name", DOCS)
def test_the_reference_lives_in_docs(name: str):
    page = CHECKOUT / "docs" / f"{name}.md"
    assert page.is_file()
    assert f"docs/{name}.md" in (CHECKOUT / "README.md").read_text(encoding="utf-8")


def test_every_relative_link_of_the_docs_resolves():
    broken = []
    for page in [CHECKOUT / "README.md", *sorted((CHECKOUT / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(CHECKOUT)} -> {target}")
    assert broken == []


def test_nothing_in_the_repository_points_to_files_outside_it():
    citing = [
        f"{path.relative_to(CHECKOUT)}: {word}"
        for path in tracked_text_files()
        for word in OUTSIDE
        if word in path.read_text(encoding="utf-8")
    ]
    assert citing == []
