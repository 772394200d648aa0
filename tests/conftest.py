"""Shared fixtures: real git repositories with a bare remote, and the task runner.

Services (index, registry, engine, contract servers) come from ``tests.services``.
"""

from __future__ import annotations

pytest_plugins = ["tests.repos", "tests.services", "tests.reliability.summary"]
