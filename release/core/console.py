"""Everything the tool prints: rich output, CI annotations and the secret mask.

- rich renders tables and colours on a terminal; when stdout is not a terminal, or
  ``NO_COLOR`` is set, output is plain text (no colours, ASCII tables).
- In GitHub Actions (``GITHUB_ACTIONS=true``) errors become ``::error::`` lines and
  long outputs are folded in ``::group::``; secrets are registered with
  ``::add-mask::``, the only line that may ever carry a secret value. These workflow
  commands go to stdout, or to stderr when ``--json`` reserves stdout for its document.
- Every line passes ``mask``: each registered secret (and its URL-encoded form)
  is replaced with ``***`` before it reaches a stream, a file or an exception.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import quote, quote_plus

from release.core.errors import PreflightError, ReleaseError

if TYPE_CHECKING:
    from rich.console import Console

MASK = "***"
_secrets: set[str] = set()
_MIN_SECRET = 4  # shorter values would mask ordinary words


def register_secret(value: str | None) -> None:
    """Mask ``value`` everywhere from now on (and tell GitHub Actions to mask it too)."""
    if not value or len(value) < _MIN_SECRET:
        return
    forms = {value, quote(value, safe=""), quote_plus(value)}
    new = forms - _secrets
    if not new:
        return
    _secrets.update(forms)
    if in_github_actions():
        for form in sorted(new):
            if "\n" in form:
                continue
            _commands().write(f"::add-mask::{form}\n")
        _commands().flush()


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``***`` (longest first)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_stdout_reserved: list[bool] = []


def reserve_stdout() -> None:
    """Keep stdout for one machine-readable document (``--json``).

    GitHub Actions workflow commands (``::add-mask::``, annotations, groups) then go to
    stderr, which the runner reads for them as well, so that a shell capturing stdout
    gets the JSON and nothing else.
    """
    _stdout_reserved.append(True)


def _commands() -> IO[str]:
    return sys.stderr if _stdout_reserved else sys.stdout


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def plain() -> bool:
    """Plain text: not a terminal, or NO_COLOR set (https://no-color.org)."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


class _MaskedStream:
    """A text stream that masks secrets in everything written to it."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(mask(text))

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")

    def fileno(self) -> int:
        return self._stream.fileno()


def _console(stream: IO[str]) -> Console:
    from rich.console import Console

    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(
        file=_MaskedStream(stream),  # type: ignore[arg-type]
        no_color=no_color,
        highlight=False,
        soft_wrap=True,
        emoji=False,
        width=None if stream.isatty() else 200,
    )


def out() -> Console:
    """The console for results (stdout)."""
    return _console(sys.stdout)


def err() -> Console:
    """The console for progress and diagnostics (stderr)."""
    return _console(sys.stderr)


def info(message: str) -> None:
    err().print(message, markup=False)


def warn(message: str) -> None:
    if in_github_actions():
        _commands().write(f"::warning::{_escape_annotation(mask(message))}\n")
        _commands().flush()
    err().print(f"warning: {message}", markup=False, style="yellow")


def notice(message: str) -> None:
    if in_github_actions():
        _commands().write(f"::notice::{_escape_annotation(mask(message))}\n")
        _commands().flush()
    err().print(f"notice: {message}", markup=False, style="cyan")


def error(message: str) -> None:
    if in_github_actions():
        _commands().write(f"::error::{_escape_annotation(mask(message))}\n")
        _commands().flush()
    err().print(f"error: {message}", markup=False, style="bold red")


def _escape_annotation(text: str) -> str:
    # GitHub's workflow command escaping for the message part.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@contextmanager
def group(title: str) -> Iterator[None]:
    """Fold the output inside in GitHub Actions; a plain heading elsewhere."""
    if in_github_actions():
        _commands().write(f"::group::{mask(title)}\n")
        _commands().flush()
        try:
            yield
        finally:
            _commands().write("::endgroup::\n")
            _commands().flush()
    else:
        info(title)
        yield


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a table to stdout: rich on a terminal, ASCII when plain."""
    from rich import box
    from rich.table import Table

    grid = Table(title=title, box=box.ASCII if plain() else box.ROUNDED, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*row)
    out().print(grid)


P = ParamSpec("P")
R = TypeVar("R")


def debug_enabled() -> bool:
    return os.environ.get("RELEASE_DEBUG", "") not in ("", "0")


def fail(exc: BaseException) -> int:
    """Print one line for ``exc`` and return its exit code (the task boundary)."""
    if isinstance(exc, PreflightError) and len(exc.problems) > 1:
        for problem in exc.problems:
            error(problem)
        error(f"{len(exc.problems)} pre-flight checks failed: nothing was changed")
        code = exc.exit_code
    elif isinstance(exc, ReleaseError):
        error(str(exc))
        code = exc.exit_code
    elif isinstance(exc, KeyboardInterrupt):
        error("interrupted: run the same command again to finish the release")
        return 130
    else:
        error(
            f"internal error: {type(exc).__name__}: {exc} "
            "(this is a bug in release-tasks; RELEASE_DEBUG=1 shows the traceback)"
        )
        code = 1
    if debug_enabled():
        sys.stderr.write(mask("".join(traceback.format_exception(exc))))
    return code


def boundary(function: Callable[P, R]) -> Callable[P, R]:
    """Turn release errors into one clear line and an exit code, with no traceback."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - the one place errors become exit codes
            raise SystemExit(fail(exc)) from None

    return wrapper


def write_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout, masked, and nothing else."""
    import json

    sys.stdout.write(mask(json.dumps(data)) + "\n")
    sys.stdout.flush()
