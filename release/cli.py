"""The ``release-tasks`` program: invoke's ``Program`` over the collection shipped in the package.

Another repository adopts the pipeline with ``pip install release-tasks`` and its own
``[tool.release]`` table, then runs ``release-tasks check-version`` (and every other task)
without copying ``tasks.py``. The wheel ships this repository's ``tasks.py`` as
``release/collection/tasks.py``; from a checkout the root ``tasks.py`` is used.

Unlike plain ``invoke``, a command line that invoke's parser refuses (an unknown flag)
exits with 2, as every other usage error does.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from invoke.collection import Collection
from invoke.exceptions import Exit, ParseError
from invoke.program import Program

from release import __version__
from release.executor import ReleaseExecutor


def collection_path() -> Path:
    """Where the shipped ``tasks.py`` is: inside the package, else the checkout root."""
    package = Path(__file__).resolve().parent
    shipped = package / "collection" / "tasks.py"
    return shipped if shipped.is_file() else package.parent / "tasks.py"


def load_collection(path: Path | None = None) -> Collection:
    path = path or collection_path()
    spec = importlib.util.spec_from_file_location("release_tasks_collection", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot load the task collection at {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Collection.from_module(module)


class ReleaseProgram(Program):
    """invoke's Program, with parser errors mapped to exit code 2."""

    def parse_core(self, argv: list[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ParseError as error:
            raise Exit(f"error: {error}", code=2) from None

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as error:
            raise Exit(f"error: {error}", code=2) from None


def main(argv: list[str] | None = None) -> None:
    program = ReleaseProgram(
        name="release-tasks",
        binary="release-tasks",
        binary_names=["release-tasks"],
        version=__version__,
        namespace=load_collection(),
        executor_class=ReleaseExecutor,
    )
    program.run(argv if argv is not None else sys.argv)


if __name__ == "__main__":
    main()
