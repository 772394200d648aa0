"""The step catalog is the one registry of steps: every entry is complete and consistent."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
from invoke import Collection

from release.pipeline import scheduler
from release.run import catalog
from release.run.step import load_checks, load_step

TASKS = Path(__file__).resolve().parents[2] / "tasks.py"
PROTOCOL = ("prepare", "describe", "publish", "cleanup", "run", "local_only")


def task_names() -> set[str]:
    spec = importlib.util.spec_from_file_location("catalog_test_tasks", TASKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(Collection.from_module(module).task_names)


def test_the_order_puts_notify_last_and_bump_first():
    assert catalog.NAMES == (
        "bump", "build", "upload", "push-image", "deploy-ui", "github-release", "notify"
    )  # fmt: skip


def test_step_names_are_unique():
    assert len(set(catalog.NAMES)) == len(catalog.NAMES)


@pytest.mark.parametrize("entry", catalog.CATALOG, ids=catalog.NAMES)
def test_every_step_has_a_task_of_its_name(entry: catalog.StepSpec):
    assert entry.name in task_names()


@pytest.mark.parametrize("entry", catalog.CATALOG, ids=catalog.NAMES)
def test_every_step_depends_only_on_steps_before_it(entry: catalog.StepSpec):
    earlier = catalog.NAMES[: catalog.NAMES.index(entry.name)]
    assert set(entry.depends) <= set(earlier)


@pytest.mark.parametrize("entry", catalog.CATALOG, ids=catalog.NAMES)
def test_every_step_has_an_implementation_of_the_protocol(entry: catalog.StepSpec):
    step = load_step(entry.name)
    assert step.name == entry.name
    for call in PROTOCOL:
        assert callable(getattr(step, call, None)), f"{entry.name} has no {call}"
    # prepare takes the context; describe and publish take it and what prepare returned.
    assert len(inspect.signature(step.prepare).parameters) == 1
    assert len(inspect.signature(step.describe).parameters) == 2
    assert len(inspect.signature(step.publish).parameters) >= 2


@pytest.mark.parametrize("entry", catalog.CATALOG, ids=catalog.NAMES)
def test_every_step_has_light_checks_a_plan_line_and_a_summary(entry: catalog.StepSpec):
    checks = load_checks(entry.name)
    assert checks is None or callable(checks)
    assert entry.checks is None or entry.checks.split(":")[0].endswith(".checks")
    assert callable(catalog.load(entry.planned))
    assert entry.published is None or callable(catalog.load(entry.published))
    assert entry.description


@pytest.mark.parametrize("entry", catalog.CATALOG, ids=catalog.NAMES)
def test_every_step_is_turned_on_by_a_configuration_attribute(entry: catalog.StepSpec):
    from release.core.config import Config

    assert entry.configured_by in Config.__dataclass_fields__
    assert set(entry.skipped_for) <= {"final", "pre", "post"}


def test_the_scheduler_takes_order_and_dependencies_from_the_catalog():
    assert scheduler.ORDER == catalog.NAMES
    assert {name: tuple(deps) for name, deps in scheduler.DEPENDS.items()} == {
        entry.name: entry.depends for entry in catalog.CATALOG
    }


def test_an_unknown_step_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown step 'deploy' .*deploy-ui"):
        catalog.spec("deploy")
