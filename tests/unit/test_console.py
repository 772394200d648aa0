"""Output: the secret mask, plain text for pipes and NO_COLOR, GitHub Actions annotations."""

from __future__ import annotations

import re

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


# -- secrets with the characters that outputs encode (issue 19, hole 6) -------------------------

# Each holds one character class that an output escapes or splits on; lines are long enough to
# be secrets of their own.
TRICKY = {
    "pipe": "pipe|secret-value",
    "angle": "angle<secret>value",
    "quote": 'quote"secret-value',
    "backslash": "back\\slash-secret",
    "percent": "per%cent%41-secret",
    "newline": "first-line-secret\nsecond-line-secret",
    "carriage-return": "first-part-secret\rsecond-part-secret",
    "everything": 'every|thing<"\\%-line\nand-its-second-line',
}


def encoded_forms(secret: str) -> dict[str, str]:
    """How the tool's outputs could spell ``secret``: {form: what encoding}; with its lines
    joined too, since rich drops a ``\r`` (only that joined text itself counts)."""
    import re

    from tests.secrets import encoded_forms as forms_of

    forms = forms_of(secret)
    lines = [line for line in re.split(r"\r\n|\r|\n", secret) if line]
    if len(lines) > 1:
        forms.setdefault("".join(lines), "joined raw")
    return forms


def leaks(secret: str, text: str) -> list[str]:
    return [what for form, what in encoded_forms(secret).items() if form in text]


def unescape_data(value: str) -> str:
    return value.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


@pytest.mark.parametrize("secret", TRICKY.values(), ids=TRICKY.keys())
def test_every_encoded_form_of_a_secret_is_masked_on_the_console(secret, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    console.register_secret(secret)
    capsys.readouterr()  # the ::add-mask:: lines: checked below
    message = f"the index said {secret} (twice: {secret})"
    console.info(message)
    console.warn(message)
    console.error(message)
    console.notice(message)
    with console.group(f"building {secret}"):
        pass
    console.table(f"Upload {secret}", ["file", "note"], [["x" * 190 + secret, message]])
    console.fail(RuntimeError(message))
    captured = capsys.readouterr()
    assert leaks(secret, captured.out + captured.err) == []
    assert "***" in captured.err


@pytest.mark.parametrize("secret", TRICKY.values(), ids=TRICKY.keys())
def test_the_json_document_masks_the_json_escaped_secret(secret, capsys):
    import json

    console.register_secret(secret)
    console.write_json({"problem": f"refused {secret}", "list": [secret], secret: 1})
    out = capsys.readouterr().out
    assert leaks(secret, out) == []
    document = json.loads(out)
    assert document == {"problem": "refused ***", "list": ["***"], "***": 1}


@pytest.mark.parametrize("secret", TRICKY.values(), ids=TRICKY.keys())
def test_each_line_of_a_secret_is_announced_to_actions_escaped(secret, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    console.register_secret(secret)
    lines = capsys.readouterr().out.splitlines()
    masks = [line.removeprefix("::add-mask::") for line in lines]
    assert all(line.startswith("::add-mask::") for line in lines), lines
    assert all("\r" not in value for value in masks)
    # Every % is an escape (%25, %0D, %0A): GitHub reads the value back exactly.
    assert all(re.fullmatch(r"([^%]|%25|%0D|%0A)*", value) for value in masks), masks
    announced = {unescape_data(value) for value in masks}
    for line in re.split(r"\r\n|\r|\n", secret):
        assert line in announced, (line, announced)


def test_workflow_command_values_and_properties_are_escaped():
    command = console.workflow_command("error", "50% done\r\nnext", title="a: b, c%")
    assert command == "::error title=a%3A b%2C c%25::50%25 done%0D%0Anext"


def test_the_user_information_of_urls_never_passes_the_mask():
    assert console.mask("GET https://user:pw@host/simple/ failed") == (
        "GET https://host/simple/ failed"
    )
    assert console.mask("see https://TOKEN@github.com/o/r.git") == "see https://github.com/o/r.git"
    assert console.mask("ssh://git@github.com/o/r and me@example.org") == (
        "ssh://git@github.com/o/r and me@example.org"
    )
