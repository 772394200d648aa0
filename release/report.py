"""The end of a release: what was published where, as a table and as GitHub step summary Markdown.

The rows come from each step's result (its summary and details: index files with sha256,
image digests and tags, channel moves old -> new, the Discord message, the UI deployment).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from release import console
from release.scheduler import Outcome, Report

STATE_LABELS = {
    "done": "done",
    "dry-run": "would run",
    "skipped": "skipped",
    "failed": "FAILED",
    "blocked": "not run",
    "pending": "not run",
    "prepared": "prepared only",
}


def rows(report: Report) -> list[list[str]]:
    table = []
    for outcome in report.outcomes.values():
        what = outcome.error if outcome.state in ("failed", "blocked") else outcome.summary
        lines = [what or "", *outcome.details]
        table.append(
            [outcome.step, STATE_LABELS.get(outcome.state, outcome.state), "\n".join(lines)]
        )
    return table


def print_summary(report: Report) -> None:
    title = f"{'Dry run of' if report.dry_run else 'Release'} {report.tag}"
    console.table(title, ["step", "result", "what was published where"], rows(report))


def markdown(report: Report) -> str:
    """The summary as a GitHub Actions step summary (Markdown), masked."""
    title = f"{'Dry run of' if report.dry_run else 'Release'} `{report.tag}`"
    lines = [f"## {title}", "", "| step | result | details |", "|---|---|---|"]
    for step, result, details in rows(report):
        cell = "<br>".join(_escape(line) for line in details.splitlines() if line)
        lines.append(f"| {step} | {result} | {cell} |")
    return console.mask("\n".join(lines) + "\n")


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def write_step_summary(report: Report, env: Mapping[str, str]) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown(report))


def progress_line(outcome: Outcome) -> None:
    """One plain line per state change (the live view when not on a terminal)."""
    if outcome.state in ("pending",):
        return
    text = f"[{outcome.step}] {outcome.state}"
    if outcome.state in ("failed", "blocked") and outcome.error:
        text += f": {outcome.error}"
    elif outcome.state == "done" and outcome.summary:
        text += f": {outcome.summary}"
    console.info(text)
