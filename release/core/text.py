"""Small text helpers for messages: the end of a tool's output, a size in bytes, a value
quoted safely."""

from __future__ import annotations


def _kept(text: str | bytes | None) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return [line for line in (text or "").strip().splitlines() if line.strip()]


def tail(text: str | bytes | None, lines: int = 8) -> str:
    """The last ``lines`` non-blank lines of a tool's output on one line, joined by `` | ``."""
    kept = _kept(text)[-lines:]
    return " | ".join(kept) if kept else "no output"


def last_line(text: str | bytes | None) -> str:
    """The last non-blank line of ``text`` (empty when there is none)."""
    kept = _kept(text)
    return kept[-1] if kept else ""


def human_size(count: int) -> str:
    """``count`` bytes in binary units: ``512 B``, ``1.5 KiB``, ``3.2 MiB``, ``1.1 GiB``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def shown(value: object, limit: int = 60) -> str:
    """``value`` quoted for a message: a string escaped (``repr``: no control character
    reaches a terminal) and cut after ``limit`` characters, so a hostile 10 MB string stays
    one short line; a list or an object only named."""
    if isinstance(value, str):
        text = repr(value[:limit])
        return text if len(value) <= limit else f"{text}... ({len(value)} characters)"
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**limit else "a very large integer"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
