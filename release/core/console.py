"""Everything the tool prints: rich output, CI annotations and the secret mask.

- rich renders tables and colours on a terminal; when stdout is not a terminal, or
  ``NO_COLOR`` is set, output is plain text (no colours, ASCII tables).
- In GitHub Actions (``GITHUB_ACTIONS=true``) errors become ``::error::`` lines and
  long outputs are folded in ``::group::``; secrets are registered with
  ``::add-mask::``, the only line that may ever carry a secret value (escaped as every
  workflow command value is, one line per line of a multi-line secret). These workflow
  commands go to stdout, or to stderr when ``--json`` reserves stdout for its document.
- Every line passes ``mask``: each registered secret, in every form the tool's outputs
  encode it (``secret_forms``: URL-encoded, JSON-, Markdown- and HTML-escaped, escaped as
  a workflow command value, base64, and each line of a multi-line value), is replaced with
  ``***``, and the user information of every URL is dropped (``without_credentials``),
  before it reaches a stream, a file or an exception. Text is masked before rich renders
  it too (rich drops control characters such as ``\r`` and folds long cells).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
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
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where GitHub Actions splits a value into lines


def escape_data(text: str) -> str:
    """A workflow command's value, escaped as GitHub Actions reads it (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property (``title=``): a value's escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def markdown_cell(text: str) -> str:
    """Safe in a Markdown table cell: a pipe would end the cell, a ``<`` could start HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def _encodings(value: str) -> set[str]:
    """``value`` as each output of the tool may encode it."""
    ascii_json = json.dumps(value)[1:-1]
    forms = {
        value,
        quote(value, safe=""),
        quote(value),  # "/" kept, as in a URL's path
        quote_plus(value),
        ascii_json,
        json.dumps(value, ensure_ascii=False)[1:-1],
        markdown_cell(value),
        html.escape(value),
        html.escape(value, quote=False),
        escape_data(value),
        base64.b64encode(value.encode()).decode("ascii"),
    }
    forms |= {re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), f) for f in forms}
    return forms


def secret_forms(value: str) -> set[str]:
    """Every form of ``value`` that the mask replaces: ``value``, each line of a multi-line
    value, and each of them encoded (``_encodings``); none shorter than ``_MIN_SECRET``."""
    parts = {value}
    if _LINE_BREAK.search(value):
        parts |= {line.strip() for line in _LINE_BREAK.split(value)}
    forms: set[str] = set()
    for part in parts:
        if len(part) >= _MIN_SECRET:
            forms |= _encodings(part)
    return {form for form in forms if len(form) >= _MIN_SECRET}


def register_secret(value: str | None) -> None:
    """Mask ``value`` everywhere from now on (and tell GitHub Actions to mask it too)."""
    if not value or len(value) < _MIN_SECRET:
        return
    new = secret_forms(value) - _secrets
    if not new:
        return
    _secrets.update(new)
    if in_github_actions():
        _announce(new)


def _announce(forms: set[str]) -> None:
    """``::add-mask::`` for each form, one line each: the runner masks line by line, so a
    multi-line value is announced as its lines (each escaped as a command value)."""
    lines: list[str] = []
    for form in sorted(forms):
        for line in _LINE_BREAK.split(form):
            command = f"::add-mask::{escape_data(line)}\n"
            if len(line.strip()) >= _MIN_SECRET and command not in lines:
                lines.append(command)
    if lines:
        _commands().write("".join(lines))
        _commands().flush()


# The user information of a URL (``scheme://user:password@``): every one goes (http, https),
# or the ones with a password (``ssh://git@host`` names no secret).
_USERINFO_CHARS = r"[\w.~%!$&'()*+,;=:-]*"  # RFC 3986's userinfo characters
_USERINFO = re.compile(
    rf"(?i)\b([a-z][a-z0-9+.-]*)://({_USERINFO_CHARS}(?:@{_USERINFO_CHARS})*)@"
)  # up to the last "@" of the authority, as urlsplit reads it


def without_credentials(text: str) -> str:
    """``text`` with the user information of every URL in it dropped."""

    def drop(match: re.Match[str]) -> str:
        scheme, userinfo = match.group(1), match.group(2)
        if scheme.lower() in ("http", "https") or ":" in userinfo:
            return f"{scheme}://"
        return match.group(0)

    return _USERINFO.sub(drop, text) if "@" in text else text


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``***`` (longest first), and URLs
    without their user information."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return without_credentials(text)


def mask_data(data: Any) -> Any:
    """``data`` (JSON-like: dicts, lists, strings) with every string in it masked."""
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, dict):
        return {mask_data(key): mask_data(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_data(item) for item in data]
    return data


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
    err().print(mask(message), markup=False)


def warn(message: str) -> None:
    _annotate("warning", message)
    err().print(f"warning: {mask(message)}", markup=False, style="yellow")


def notice(message: str) -> None:
    _annotate("notice", message)
    err().print(f"notice: {mask(message)}", markup=False, style="cyan")


def error(message: str) -> None:
    _annotate("error", message)
    err().print(f"error: {mask(message)}", markup=False, style="bold red")


def workflow_command(name: str, value: str, **properties: str) -> str:
    """``::name prop=...::value``, masked and escaped as GitHub Actions reads it."""
    props = ",".join(f"{key}={escape_property(mask(text))}" for key, text in properties.items())
    line = f"::{name}{' ' + props if props else ''}::{escape_data(mask(value))}"
    return mask(line)  # an escaped form of a secret, should one remain


def _annotate(kind: str, message: str) -> None:
    if in_github_actions():
        _commands().write(workflow_command(kind, message) + "\n")
        _commands().flush()


@contextmanager
def group(title: str) -> Iterator[None]:
    """Fold the output inside in GitHub Actions; a plain heading elsewhere."""
    if in_github_actions():
        _commands().write(workflow_command("group", title) + "\n")
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

    grid = Table(title=mask(title), box=box.ASCII if plain() else box.ROUNDED, title_justify="left")
    for column in columns:
        grid.add_column(mask(column), overflow="fold")
    for row in rows:  # masked before rich folds a long cell over lines
        grid.add_row(*(mask(cell) for cell in row))
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
    sys.stdout.write(mask(json.dumps(mask_data(data))) + "\n")
    sys.stdout.flush()
