"""The reliability suite's table: scenarios run, passed, secrets found, duplicates found.

A pytest plugin (``tests/conftest.py`` lists it, so the xdist controller loads it too).
Each scenario of ``tests/reliability`` adds one row through :func:`record`; under xdist
every worker hands its rows to the controller (``workeroutput``), which prints the table
at the end of the run. ``RELEASE_RELIABILITY_TABLE=<file>`` also writes it there as
Markdown (``bench/RELIABILITY.md`` is made from it).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

TABLE_ENV = "RELEASE_RELIABILITY_TABLE"
FULL_ENV = "RELEASE_RELIABILITY_FULL"


@dataclass
class Row:
    """One scenario: its group (faults, kills, bad input ...), name and findings."""

    group: str
    name: str
    passed: bool
    secrets: int
    duplicates: int
    seconds: float


ROWS: list[Row] = []


def record(row: Row) -> None:
    ROWS.append(row)


def full_matrix() -> bool:
    return os.environ.get(FULL_ENV, "") not in ("", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.failed):
        item.stash[_REPORT] = report


_REPORT = pytest.StashKey[pytest.TestReport]()


def passed(item: pytest.Item) -> bool:
    report = item.stash.get(_REPORT, None)
    return report is not None and report.passed


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["reliability"] = json.dumps([asdict(row) for row in ROWS])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    rows = getattr(node, "workeroutput", {}).get("reliability")
    if rows:
        ROWS.extend(Row(**row) for row in json.loads(rows))


def table(rows: list[Row]) -> list[str]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    lines = [
        "| scenarios | run | passed | secrets found | duplicates found | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for group, members in [*sorted(groups.items()), ("all", rows)]:
        lines.append(
            f"| {group} | {len(members)} | {sum(r.passed for r in members)} "
            f"| {sum(r.secrets for r in members)} | {sum(r.duplicates for r in members)} "
            f"| {sum(r.seconds for r in members):.0f} |"
        )
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not ROWS:
        return
    tier = "full matrix" if full_matrix() else "CI tier"
    rows = sorted(ROWS, key=lambda r: (r.group, r.name))
    lines = table(rows)
    terminalreporter.section(f"reliability suite ({tier})")
    for line in lines:
        terminalreporter.write_line(line)
    failed = [f"{r.group}: {r.name}" for r in rows if not r.passed or r.secrets or r.duplicates]
    for name in failed:
        terminalreporter.write_line(f"NOT CLEAN: {name}")
    target = os.environ.get(TABLE_ENV)
    if target:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        machine = f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        scenario_lines = [
            f"| {r.group} | {r.name} | {'passed' if r.passed else 'FAILED'} | {r.secrets} "
            f"| {r.duplicates} | {r.seconds:.1f} |"
            for r in rows
        ]
        text = "\n".join(
            [
                f"### {tier} ({stamp}; {machine})",
                "",
                *lines,
                "",
                "| group | scenario | result | secrets | duplicates | seconds |",
                "|---|---|---|---:|---:|---:|",
                *scenario_lines,
                "",
            ]
        )
        Path(target).write_text(text, encoding="utf-8")
