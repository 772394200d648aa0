"""The lifecycle every state record carries (``step_status``), as ``release.run.records``
checks and reads it: a step's own fields and its own ``status`` stay as they were."""

from __future__ import annotations

from typing import Any

import pytest

from release.run.records import lifecycle_of, own_fields, problem


def stamped(step: str, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "step": step, "version": "1.1.0", "recorded_at": 1714564800.25}


@pytest.mark.parametrize("step", ["notify", "deploy-ui", "upload", "bump", "github-release"])
@pytest.mark.parametrize("status", ["running", "done", "failed"])
def test_a_mark_before_the_steps_first_record_is_a_valid_record(step: str, status: str):
    record = stamped(step, {"step_status": status, "step_started_at": 1714564790.5})
    if status == "failed":
        record["step_error"] = "Discord answered 503: try again later"
    assert problem(step, "1.1.0", record) is None


def test_a_record_with_fields_of_its_own_still_needs_its_own_status():
    record = stamped("notify", {"step_status": "running", "message_id": "123"})
    assert "status" in (problem("notify", "1.1.0", record) or "")


def test_the_lifecycle_keeps_the_steps_own_status():
    record = stamped(
        "deploy-ui", {"status": "deploying", "deployment_id": "temp-1", "step_status": "running"}
    )
    assert problem("deploy-ui", "1.1.0", record) is None
    assert own_fields(record) == {"status": "deploying", "deployment_id": "temp-1"}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("step_status", "finished", "'finished' is not one of running, done, failed"),
        ("step_status", 1, "1 is not one of"),
        ("step_error", ["no"], "is not text"),
        ("step_error", "line\x1b[31m", "holds a control character"),
        ("step_started_at", "soon", "'soon' is not a time"),
    ],
)
def test_a_lifecycle_that_release_tasks_did_not_write_is_refused(field: str, value: Any, says: str):
    record = stamped("upload", {"files": [], "step_status": "done", field: value})
    found = problem("upload", "1.1.0", record)
    assert found is not None and says in found


@pytest.mark.parametrize(
    ("step", "record", "expected"),
    [
        ("upload", {"step_status": "failed", "files": []}, "failed"),
        ("notify", {"step_status": "done", "status": "sending"}, "done"),  # the mark decides
        # records written before the lifecycle: their step's own status says it
        ("notify", {"status": "posted"}, "done"),
        ("notify", {"status": "assumed-posted"}, "done"),
        ("notify", {"status": "sending"}, "running"),
        ("notify", {"status": "unknown"}, "failed"),
        ("deploy-ui", {"status": "deploying"}, "running"),
        ("deploy-ui", {"status": "succeeded"}, "done"),
        ("deploy-ui", {"status": "failed"}, "failed"),
        ("bump", {"result": "pushed"}, "done"),  # written when the step finished
    ],
)
def test_lifecycle_of(step: str, record: dict[str, Any], expected: str):
    assert lifecycle_of(step, record) == expected


@pytest.mark.parametrize("value", [1e20, 253402300800, -1, 2**33, True, float("nan")])
@pytest.mark.parametrize("field", ["step_started_at", "recorded_at"])
def test_a_time_no_run_could_have_written_is_refused(field: str, value: Any):
    # 1e20 overflowed and 253402300800 (year 10000) raised in ``invoke status``'s dates
    record = {**stamped("upload", {"files": [], "step_status": "done"}), field: value}
    found = problem("upload", "1.1.0", record)
    assert found is not None and f"{field}: " in found and "is not a time" in found


@pytest.mark.parametrize("value", [1e20, 253402300800, -1e12])
def test_status_shows_a_time_that_is_no_date_as_unknown(value: float):
    from release.commands.status import _when

    assert _when(value) == "at an unknown time"
    assert _when(1714564800) == "at 2024-05-01T12:00:00Z"


def test_a_record_from_the_far_future_is_refused():
    # it would win release.run.state's choice of the newest record
    import time

    later = {**stamped("upload", {"files": []}), "recorded_at": time.time() + 2 * 86400}
    assert "is in the future" in (problem("upload", "1.1.0", later) or "")
    soon = {**stamped("upload", {"files": []}), "recorded_at": time.time() + 3600}
    assert problem("upload", "1.1.0", soon) is None
