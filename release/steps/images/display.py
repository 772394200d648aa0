"""Where build and push progress goes: rich bars on a terminal, prefixed lines otherwise.

``rich.progress`` is imported only when a terminal display is made.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from release.core import console

if TYPE_CHECKING:
    from release.steps.images.targets import ImageTarget


class Display(Protocol):
    """Where build and push progress goes: rich bars on a terminal, lines otherwise."""

    def build_line(
        self, target: ImageTarget, line: str, step: tuple[int, int, str] | None
    ) -> None: ...

    def build_done(self, target: ImageTarget, image_id: str) -> None: ...

    def push_event(self, target: ImageTarget, tag: str, event: Mapping[str, Any]) -> None: ...


class PlainDisplay:
    """Every build line and every finished layer, prefixed with the image's name."""

    def build_line(self, target: ImageTarget, line: str, step: tuple[int, int, str] | None) -> None:
        console.info(f"{target.name} | {line}")

    def build_done(self, target: ImageTarget, image_id: str) -> None:
        console.info(f"{target.name} | built {image_id} as {', '.join(target.tags)}")

    def push_event(self, target: ImageTarget, tag: str, event: Mapping[str, Any]) -> None:
        status, layer = str(event.get("status", "")), event.get("id")
        if layer and (status in ("Pushed", "Layer already exists") or status.startswith("Mounted")):
            console.info(f"{target.name}:{tag} | {layer}: {status}")
        elif "digest:" in status:
            console.info(f"{target.name}:{tag} | {status}")


class RichDisplay:
    """A progress bar per build (steps) and per pushed layer (bytes); build lines above them."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self._tasks: dict[tuple[str, ...], Any] = {}

    def _task(self, key: tuple[str, ...], description: str, total: float | None) -> Any:
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(description, total=total)
        return self._tasks[key]

    def build_line(self, target: ImageTarget, line: str, step: tuple[int, int, str] | None) -> None:
        self.progress.console.print(f"{target.name} | {line}", markup=False, style="dim")
        if step is not None and line.startswith("Step "):
            n, m, instruction = step
            task = self._task(("build", target.name), f"build {target.name}", m)
            self.progress.update(
                task, completed=n - 1, total=m, description=f"build {target.name}: {instruction}"
            )

    def build_done(self, target: ImageTarget, image_id: str) -> None:
        task = self._task(("build", target.name), f"build {target.name}", 1)
        total = self.progress.tasks[task].total or 1
        self.progress.update(task, completed=total, description=f"built {target.name}")

    def push_event(self, target: ImageTarget, tag: str, event: Mapping[str, Any]) -> None:
        layer, status = event.get("id"), str(event.get("status", ""))
        if not layer:
            return
        task = self._task(
            ("push", target.name, tag, str(layer)), f"{target.name}:{tag} {layer}", None
        )
        detail = event.get("progressDetail") or {}
        if status == "Pushing" and detail.get("total"):
            total = max(float(detail["total"]), float(detail.get("current", 0)))
            self.progress.update(task, total=total, completed=float(detail.get("current", 0)))
        elif status in ("Pushed", "Layer already exists") or status.startswith("Mounted"):
            total = self.progress.tasks[task].total or 1
            self.progress.update(
                task,
                total=total,
                completed=total,
                description=f"{target.name}:{tag} {layer} {status}",
            )


@contextmanager
def display() -> Iterator[Display]:
    """The display for this output: rich progress on a terminal, plain lines otherwise."""
    if console.plain():
        yield PlainDisplay()
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console.err(),
        transient=False,
    ) as progress:  # fmt: skip
        yield RichDisplay(progress)
