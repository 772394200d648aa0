"""What ``invoke release`` shows: the live view of every step's state, and the final summary.

- On a terminal (stdout and stderr both, no ``NO_COLOR``, not GitHub Actions) a
  ``rich.live.Live`` table shows every step's state while the release runs; what the steps
  print scrolls above it. Elsewhere every state change is one plain line (``progress_line``).
- At the end one table lists what was published where: index files with their sha256, image
  digests with every tag, channel moves old -> new, the Discord message, the UI deployment
  (from each step's record), or why a step did not run. In GitHub Actions the same table is
  appended to ``$GITHUB_STEP_SUMMARY`` as Markdown. Everything passes the secret mask.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from release.core import console
from release.pipeline.scheduler import ACTIVE, Outcome, Report
from release.run import catalog

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

STATE_LABELS = {
    "pending": "waiting",
    "preparing": "preparing",
    "prepared": "ready",
    "running": "publishing",
    "describing": "describing",
    "done": "done",
    "dry-run": "would run",
    "skipped": "skipped",
    "failed": "FAILED",
    "blocked": "not run",
}
FINAL_LABELS = {**STATE_LABELS, "pending": "not run", "prepared": "not run (built only)"}
COLUMNS = ["step", "result", "what was published where"]
DRY_RUN_COLUMNS = ["step", "result", "what it would publish where"]


# -- the final summary ------------------------------------------------------------------------


def rows(report: Report) -> list[list[str]]:
    """One row per step: its name, its result and what it published where (or why not)."""
    return [
        [o.step, FINAL_LABELS.get(o.state, o.state), "\n".join(line for line in lines(o) if line)]
        for o in report.outcomes.values()
    ]


def lines(outcome: Outcome) -> list[str]:
    """What one step did, from its record when it finished, else its summary or error."""
    if outcome.state in ("failed", "blocked"):
        return [outcome.error or ""]
    if outcome.state == "pending":
        return ["not started"]
    if outcome.state == "prepared":
        return ["its local work finished; it published nothing"]
    published = catalog.spec(outcome.step).published
    if outcome.state == "done" and outcome.record and published is not None:
        return [outcome.summary, *catalog.load(published)(outcome.record)]
    return [outcome.summary, *outcome.details]


def title(report: Report) -> str:
    if report.dry_run:
        return f"Dry run of {report.tag}: what the release would do"
    return f"Release {report.tag}"


def columns(report: Report) -> list[str]:
    return DRY_RUN_COLUMNS if report.dry_run else COLUMNS


def print_summary(report: Report) -> None:
    console.table(title(report), columns(report), rows(report))


def markdown(report: Report) -> str:
    """The summary as a GitHub Actions step summary (Markdown), masked.

    Each text is masked before it is split into lines and escaped for a table cell (a
    secret with a newline, a ``|`` or a ``<`` would otherwise reach the file in a form
    the mask does not see), and the document is masked again as a whole.
    """
    header = f"| {' | '.join(columns(report))} |"
    text = [f"## {_escape(title(report))}", "", header, "|---|---|---|"]
    for step, result, details in rows(report):
        cell = "<br>".join(_escape(line) for line in console.mask(details).splitlines() if line)
        text.append(f"| {_escape(step)} | {_escape(result)} | {cell} |")
    return console.mask("\n".join(text) + "\n\n")


def _escape(text: str) -> str:
    """Masked, then safe in a table cell: a pipe would end the cell, a ``<`` could start HTML."""
    return console.markdown_cell(console.mask(text))


def write_step_summary(report: Report, env: Mapping[str, str]) -> None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` when it names a file (GitHub Actions)."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown(report))


# -- while it runs ----------------------------------------------------------------------------


def progress_line(outcome: Outcome) -> None:
    """One plain line per state change (the view when not on a terminal)."""
    if outcome.state == "pending":
        return
    text = f"[{outcome.step}] {STATE_LABELS.get(outcome.state, outcome.state)}"
    if outcome.state in ("failed", "blocked") and outcome.error:
        text += f": {outcome.error}"
    elif outcome.state in ("done", "dry-run", "skipped") and outcome.summary:
        text += f": {outcome.summary}"
    console.info(text)


class View(Protocol):
    """Shows the steps' states while the release runs."""

    def __enter__(self) -> View: ...

    def __exit__(self, *exc: object) -> None: ...

    def on_change(self, outcome: Outcome) -> None: ...

    def paused(self) -> AbstractContextManager[None]:
        """The terminal to itself for a moment (the confirmation prompt)."""
        ...


class PlainView:
    """A line per state change: logs, CI, pipes, ``NO_COLOR``."""

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def on_change(self, outcome: Outcome) -> None:
        progress_line(outcome)

    def paused(self) -> AbstractContextManager[None]:
        return nullcontext()


class LiveView:
    """A ``rich.live.Live`` table of every step, redrawn as states change.

    While it shows, ``sys.stdout`` and ``sys.stderr`` are replaced by streams that print
    whole lines above the table, and that say they are not a terminal, so the steps' own
    output (tables, build and push progress) comes out as plain lines instead of drawing
    displays of its own through the live one. The table is transient: it makes way for the
    confirmation prompt, and at the end for the summary table.
    """

    def __init__(self, heading: str, outcomes: Mapping[str, Outcome]) -> None:
        self.heading = heading
        self.outcomes = outcomes
        self._live: Live | None = None
        self._saved: tuple[IO[str], IO[str]] | None = None

    def __enter__(self) -> LiveView:
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def on_change(self, outcome: Outcome) -> None:
        live = self._live
        if live is not None:
            live.refresh()

    @contextmanager
    def paused(self) -> Iterator[None]:
        self._stop()
        try:
            yield
        finally:
            self._start()

    def _start(self) -> None:
        from rich.live import Live

        target = console.out()
        self._live = Live(
            get_renderable=self.render, console=target, refresh_per_second=4, transient=True
        )
        self._live.start()
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Above(target, sys.stdout)  # type: ignore[assignment]
        sys.stderr = _Above(target, sys.stderr)  # type: ignore[assignment]

    def _stop(self) -> None:
        if self._saved is not None:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            sys.stdout, sys.stderr = self._saved
            self._saved = None
        if self._live is not None:
            self._live.stop()
            self._live = None

    def render(self) -> RenderableType:
        from rich import box
        from rich.spinner import Spinner
        from rich.table import Table

        now = time.monotonic()
        grid = Table(title=self.heading, box=box.ROUNDED, title_justify="left")
        for column in ("", "step", "state", "time", "what"):
            grid.add_column(column, overflow="fold")
        for outcome in self.outcomes.values():
            mark: RenderableType = _MARKS.get(outcome.state, " ")
            if outcome.state in ACTIVE:
                mark = Spinner("dots")
            seconds = outcome.elapsed(now)
            what = outcome.error if outcome.state in ("failed", "blocked") else outcome.summary
            grid.add_row(
                mark,
                outcome.step,
                STATE_LABELS.get(outcome.state, outcome.state),
                f"{seconds:.0f}s" if seconds else "",
                console.mask(what or ""),
            )
        return grid


_MARKS = {"done": "✓", "dry-run": "·", "skipped": "-", "failed": "✗", "blocked": "✗"}


class _Above:
    """A text stream whose complete lines are printed above a live display."""

    def __init__(self, target: Console, real: IO[str]) -> None:
        self._target = target
        self._real = real
        self._buffer = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._buffer += text
            if "\n" not in self._buffer:
                return len(text)
            complete, _, self._buffer = self._buffer.rpartition("\n")
        self._print(complete)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            rest, self._buffer = self._buffer, ""
        if rest:
            self._print(rest)

    def _print(self, text: str) -> None:
        from rich.text import Text

        self._target.print(Text.from_ansi(console.mask(text)), soft_wrap=True)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return getattr(self._real, "encoding", "utf-8")

    def fileno(self) -> int:
        return self._real.fileno()


def live_possible(env: Mapping[str, str] | None = None) -> bool:
    """A live view needs a terminal on stdout and stderr, colour, and no CI log."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("GITHUB_ACTIONS") == "true" or env.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


def view_for(tag: str, outcomes: Mapping[str, Outcome], *, dry_run: bool = False) -> View:
    """The live table on a terminal, plain lines elsewhere."""
    if live_possible():
        return LiveView(f"{'Dry run of' if dry_run else 'Releasing'} {tag}", outcomes)
    return PlainView()
