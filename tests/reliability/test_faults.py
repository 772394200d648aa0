"""Faults (CI tier)."""

from __future__ import annotations

from tests.reliability.conftest import MakeWorld, assert_clean


def test_an_undisturbed_release_meets_every_invariant(make_world: MakeWorld) -> None:
    world = make_world()
    outcome = world.release()
    assert outcome.returncode == 0, outcome
    assert_clean(world)
