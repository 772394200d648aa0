"""Shared fixtures: real git repositories with a bare remote, and the task runner.

Services (index, registry, engine, contract servers) come from ``tests.services``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.repos", "tests.services", "tests.reliability.summary"]

# No per-example deadline anywhere: on a loaded 2-core runner one slow example would fail
# a property test as "unreliable timings", which says nothing about the code under test.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")
