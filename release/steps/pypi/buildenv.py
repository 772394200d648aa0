"""Isolated build environments, one per ``build-system.requires``, shared by the release's packages.

PyPA build isolation gives every package a fresh environment holding exactly its
``build-system.requires`` and the requirements its backend asks for
(``get_requires_for_build``). Creating one per package costs a virtual environment, an
install of the backend and a first import that compiles it, for every package of a monorepo
whose packages all use the same backend. So the packages of one release whose
``build-system.requires`` are the same share one environment, created once, and the result
is what isolation promises: each hook runs in an environment holding exactly those
requirements. A package whose backend asks for anything the shared environment lacks (a
``setup_requires``, or ``wheel`` from a setuptools older than 70.1) moves to a private
environment of its own, as every package had before, with the same contents a per-package
build would give; the shared one never changes after it is made, so no package's hooks see
another's requirements. All the packages come from the same tagged commit: sharing crosses
no trust boundary. Hooks of several packages may run in one environment at the same time;
each writes only its own output and trees (bytecode files are written atomically).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from build.env import DefaultIsolatedEnv

# install(env, requirements): the release's own installer, run without the job's secrets.
Install = Callable[["DefaultIsolatedEnv", Collection[str]], None]


@dataclass
class _Shared:
    lock: threading.Lock = field(default_factory=threading.Lock)
    env: DefaultIsolatedEnv | None = None
    failure: Exception | None = None  # its install failed: every package sharing it fails so


class BuildEnvironments:
    """The shared environments of one build, removed when the build ends (a context manager)."""

    def __init__(self, installer: str, install: Install) -> None:
        self.installer = installer
        self.install = install
        self._lock = threading.Lock()
        self._shared: dict[frozenset[str], _Shared] = {}
        self._stack = ExitStack()

    def __enter__(self) -> BuildEnvironments:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def fresh(self, stack: ExitStack) -> DefaultIsolatedEnv:
        """A new empty isolated environment that ``stack`` removes."""
        from build.env import DefaultIsolatedEnv

        return stack.enter_context(DefaultIsolatedEnv(installer=self.installer))  # type: ignore[arg-type]

    def shared(self, requires: Collection[str]) -> DefaultIsolatedEnv:
        """The environment holding exactly ``requires``, made by the first package asking."""
        key = frozenset(requires)
        with self._lock:
            slot = self._shared.setdefault(key, _Shared())
        with slot.lock:  # the others asking for the same key wait for it to be ready
            if slot.failure is not None:
                raise slot.failure  # not installed again by each package, one after another
            if slot.env is None:
                try:
                    with ExitStack() as stack:
                        env = self.fresh(stack)
                        self.install(env, key)
                        with self._lock:
                            self._stack.push(stack.pop_all())
                except Exception as error:
                    slot.failure = error
                    raise
                slot.env = env
            return slot.env

    @contextmanager
    def lease(self, requires: Collection[str]) -> Iterator[PackageEnvironment]:
        """Where one package's hooks run: the shared environment of ``requires`` while the
        package needs nothing more; a private one (removed on leaving) from then on."""
        with ExitStack() as stack:
            yield PackageEnvironment(self, stack, self.shared(requires), frozenset(requires))


class PackageEnvironment:
    """One package's environment: ask with :meth:`need` before each hook that builds."""

    def __init__(
        self,
        pool: BuildEnvironments,
        stack: ExitStack,
        env: DefaultIsolatedEnv,
        installed: frozenset[str],
    ) -> None:
        self._pool = pool
        self._stack = stack
        self.env = env
        self.installed = set(installed)
        self.private = False

    def need(self, requirements: Collection[str]) -> None:
        """Make sure ``requirements`` are installed, moving to a private environment (with
        what the shared one holds) the first time something is missing."""
        missing = set(requirements) - self.installed
        if not missing:
            return
        if not self.private:
            private = self._pool.fresh(self._stack)
            self._pool.install(private, self.installed)
            self.env, self.private = private, True
        self._pool.install(self.env, missing)
        self.installed |= missing
