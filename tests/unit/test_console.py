"""Output: the secret mask, plain text for pipes and NO_COLOR, GitHub Actions annotations."""

from __future__ import annotations

import pytest

from release.core import console
from release.core.errors import PreflightError, ReleaseError, UsageError

SECRET = "pa55-w0rd/with spaces&more"


@pytest.fixture(autouse=True)
def fresh_mask(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(console, "_secrets", set())
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_registered_secrets_are_masked_in_every_form(capsys):
    console.register_secret(SECRET)
    console.info(f"url https://user:{SECRET}@host/ and quoted pa55-w0rd%2Fwith%20spaces%26more")
    console.table("t", ["a"], [[SECRET]])
    console.error(f"failed with {SECRET}")
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "pa55-w0rd" not in text
    assert "***" in captured.err


def test_github_actions_gets_add_mask_and_error_annotations(capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    console.register_secret(SECRET)
    console.error(f"upload refused for {SECRET}\nsecond line")
    out = capsys.readouterr().out
    assert f"::add-mask::{SECRET}" in out
    annotation = [line for line in out.splitlines() if line.startswith("::error::")]
    assert annotation == ["::error::upload refused for ***%0Asecond line"]


def test_plain_output_has_no_escape_codes(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    console.error("red?")
    console.table("Plan", ["step"], [["bump"]])
    captured = capsys.readouterr()
    assert "\x1b[" not in captured.out + captured.err
    assert "+--" in captured.out  # ASCII table when plain


def test_fail_turns_errors_into_one_line_and_exit_codes(capsys):
    assert console.fail(UsageError("bad tag", "write version/1.2.3")) == 2
    assert console.fail(ReleaseError("no tag")) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: bad tag: write version/1.2.3", "error: no tag"]


def test_all_preflight_problems_are_listed(capsys):
    assert console.fail(PreflightError(["dirty tree", "not on main"])) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == ["error: dirty tree", "error: not on main"]
    assert "nothing was changed" in err[2]


def test_unexpected_errors_are_masked_and_have_no_traceback(capsys):
    console.register_secret(SECRET)
    assert console.fail(RuntimeError(f"boom {SECRET}")) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "pa55" not in err and "internal error" in err


def test_short_values_are_not_treated_as_secrets():
    console.register_secret("ab")
    assert console.mask("about") == "about"
