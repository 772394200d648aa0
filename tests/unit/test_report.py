"""The end of ``invoke release``: the error that says where it stopped, the summary rows and
their Markdown for ``$GITHUB_STEP_SUMMARY``, and when the live view is used."""

from __future__ import annotations

import pytest

from release.core import console
from release.core.errors import StepError
from release.pipeline import report
from release.pipeline.scheduler import CANCELLED, LOCAL, ORDER, PUBLISHED, Outcome, Report, failure

SHA = "35f4b8653b7b161f5c334f1bf76544e79fe873cfaa36393e72746b891c04f98e"
DIGEST = "sha256:bd91eec11f6a0ea0852e6e956e529a9df8c766bda0348ad8423eb3be4e12499d"


def make_report(stage: str = PUBLISHED, **states: Outcome) -> Report:
    outcomes = {name: Outcome(name, state="done", summary=f"{name} finished") for name in ORDER}
    outcomes.update(states)
    return Report("version/3.0.0", False, outcomes, stage)


def test_a_failed_side_effect_says_what_was_done_what_not_and_how_to_finish() -> None:
    stopped = make_report(
        upload=Outcome("upload", state="failed", error="the index refused demo.tar.gz: 403"),
        notify=Outcome("notify", state="blocked", error="needs upload"),
        **{"github-release": Outcome("github-release", state="blocked", error="needs upload")},
    )
    error = failure(stopped)
    assert isinstance(error, StepError)
    assert str(error) == (
        "release version/3.0.0 did not finish: failed: upload (the index refused demo.tar.gz: "
        "403); not run: github-release (needs upload); notify (needs upload); done: bump, build, "
        "push-image, deploy-ui: run the same command again to finish it (finished work is recognised, nothing is published twice)"
    )


def test_a_failure_of_local_work_says_nothing_was_changed() -> None:
    stopped = make_report(
        LOCAL, upload=Outcome("upload", state="failed", error="demo.tar.gz differs")
    )
    error = failure(stopped)
    assert not isinstance(error, StepError)
    assert str(error).startswith(
        "the release stopped during local work, before any side effect: upload (demo.tar.gz "
        "differs): nothing was changed anywhere"
    )


def test_a_refused_confirmation_says_nothing_was_changed() -> None:
    assert "cancelled before any side effect: nothing was changed" in str(
        failure(make_report(CANCELLED))
    )


def test_the_summary_lists_every_index_file_with_its_sha256() -> None:
    record = {
        "files": [
            {
                "filename": "demo_common-3.0.0.tar.gz",
                "sha256": SHA,
                "status": "uploaded",
                "url": "http://127.0.0.1:8080/packages/demo_common-3.0.0.tar.gz",
            }
        ]
    }
    done = make_report(upload=Outcome("upload", "done", "uploaded 1 file(s)", record=record))
    (row,) = [r for r in report.rows(done) if r[0] == "upload"]
    assert row[1] == "done"
    assert f"demo_common-3.0.0.tar.gz: uploaded, sha256 {SHA}" in row[2].splitlines()


def test_the_summary_shows_each_image_digest_every_tag_and_channel_moves() -> None:
    record = {
        "images": {
            "demo/node": {
                "repository": "127.0.0.1:5000/demo/node",
                "tags": ["3.1.0"],
                "digest": DIGEST,
            }
        },
        "channels": {
            "demo/node": [
                {"channel": "petronas", "action": "moved", "from": "3.0.0", "to": "3.1.0"},
                {"channel": "latest", "action": "moved", "from": None, "to": "3.1.0"},
                {
                    "channel": "3.0",
                    "action": "stayed",
                    "from": "3.0.1",
                    "to": "3.0.1",
                    "summary": "3.0 stays on 3.0.1: another minor",
                },
            ]
        },
    }
    done = make_report(**{"push-image": Outcome("push-image", "done", "pushed", record=record)})
    (row,) = [r for r in report.rows(done) if r[0] == "push-image"]
    assert row[2].splitlines()[1:] == [
        f"127.0.0.1:5000/demo/node@{DIGEST}",
        "  tags: 3.1.0, petronas, latest",
        "  channel petronas: 3.0.0 -> 3.1.0",
        "  channel latest: (none) -> 3.1.0",
        "  channel 3.0 stays on 3.0.1: another minor",
    ]


def test_markdown_keeps_one_row_per_step_whatever_the_text_holds() -> None:
    console.register_secret("hunter2-webhook-token")
    odd = make_report(
        notify=Outcome(
            "notify", state="failed", error="Discord said <b>|no|</b> to hunter2-webhook-token"
        )
    )
    text = report.markdown(odd)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(ORDER)  # the header and one per step
    notify = next(line for line in rows if line.startswith("| notify |"))
    assert notify == "| notify | FAILED | Discord said &lt;b>\\|no\\|&lt;/b> to *** |"


def test_the_step_summary_is_appended_only_where_github_names_a_file(tmp_path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier job\n", encoding="utf-8")
    report.write_step_summary(make_report(), {"GITHUB_STEP_SUMMARY": str(summary)})
    report.write_step_summary(make_report(), {})
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier job\n## Release version/3.0.0\n")
    assert text.count("## Release") == 1


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"GITHUB_ACTIONS": "true"}, {"TERM": "dumb"}])
def test_no_live_view_without_colour_in_ci_or_on_a_dumb_terminal(env: dict[str, str]) -> None:
    assert not report.live_possible(env)
