"""Bad input through the real ``invoke`` command (issue 19, hole 8): each is one ``error:`` line
that names the place and the fix, exit 1, no "internal error", no traceback, nothing changed.

The inputs: ``[tool]`` or ``[tool.release]`` that is not a table, a NUL byte or a control
character in a configured string, a template with a format spec, a conversion or an
attribute, a ``package.json`` or ``package-lock.json`` nested without end, and a state note
(``refs/notes/release/<step>``) whose record is not one release-tasks wrote.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from devservices.azure import publish_profile
from tests.repos import Repo, make_repo

TAG = "version/1.2.0"
WEBHOOK = "http://127.0.0.1:9/api/webhooks/1234567890/hookTokenOfTheIntegrationTests0123"
CREDENTIALS = {
    "DISCORD_WEBHOOK_URL": WEBHOOK,
    "AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile("demo-ui", "azPasswordOfTheTests99"),
    "RELEASE_AZURE_SCM_URL": "http://127.0.0.1:9",
}
COMMIT_MESSAGE = 'commit-message = "Updated the version to {version}"'


def one_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The run failed with exit 1 and one error line holding every ``expected`` piece."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "internal error" not in errors[0]
    for piece in expected:
        assert piece in errors[0], errors[0]
    assert len(result.stdout + result.stderr) < 5000  # nothing huge repeated
    return errors[0]


def replace(old: str, new: str) -> Callable[[Repo], None]:
    def edit(repo: Repo) -> None:
        path = repo.path / "pyproject.toml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def tagged(tmp_path: Path, edit: Callable[[Repo], None] | None = None) -> Repo:
    repo = make_repo(tmp_path)
    if edit is not None:
        edit(repo)
        repo.commit("bad input")
        repo.push()
    repo.tag(TAG)
    return repo


CONFIG_CASES = {
    "tool-is-an-integer": (
        lambda repo: repo.write("pyproject.toml", "tool = 1\n"),
        ("tool: expected a table, got an integer", "[tool.release] table"),
    ),
    "tool-release-is-an-integer": (
        lambda repo: repo.write("pyproject.toml", "[tool]\nrelease = 1\n"),
        ("tool.release: expected a table, got an integer", "[tool.release] table"),
    ),
    "toml-nested-without-end": (
        lambda repo: repo.write("pyproject.toml", "x = " + "[" * 3000 + "]" * 3000 + "\n"),
        ("pyproject.toml nests arrays or tables too deeply", "flatten"),
    ),
    "nul-in-the-remote": (
        replace('remote = "origin"', 'remote = "ori\\u0000gin"'),
        ("tool.release.remote: 'ori\\x00gin' holds a NUL byte", "remove it"),
    ),
    "nul-in-a-ui-command": (
        replace('install = "npm ci"', 'install = "npm ci\\u0000"'),
        ("tool.release.ui.install:", "NUL byte", "remove it"),
    ),
    "nul-in-the-project-name": (
        replace('project-name = "demo"', 'project-name = "de\\u0000mo"'),
        ("tool.release.discord.project-name:", "NUL byte"),
    ),
    "escape-sequence-in-the-project-name": (
        replace('project-name = "demo"', 'project-name = "\\u001b]0;pwned\\u0007demo"'),
        ("tool.release.discord.project-name:", "control character '\\x1b'"),
    ),
    "format-spec-in-the-commit-message": (
        replace(COMMIT_MESSAGE, 'commit-message = "Release {version:>999999999}"'),
        ("tool.release.commit-message:", "{version:>999999999}", "plain fields only", "{version}"),
    ),
    "conversion-in-an-extra-tag": (
        replace('extra-tags = ["{codename}-live"]', 'extra-tags = ["{codename!r}-live"]'),
        ("tool.release.images[1].extra-tags[0]:", "plain fields only", "write {codename}"),
    ),
    "attribute-in-a-build-arg": (
        replace('TAG = "{version}", BASE', 'TAG = "{version.__class__}", BASE'),
        ("tool.release.images[0].build-args.TAG:", "plain fields only", "write {version}"),
    ),
    "format-spec-in-a-version-file-format": (
        replace('format = "{major}.{minor}"', 'format = "{major:x}.{minor}"'),
        ("tool.release.version-files[4].format:", "plain fields only", "write {major}"),
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_configuration_is_one_clear_error(tmp_path: Path, case: str) -> None:
    edit, expected = CONFIG_CASES[case]
    repo = tagged(tmp_path, edit)
    result = repo.invoke("check-version", "--tag", TAG, "--offline", "--skip-credentials")
    one_error(result, *expected)


DEEP_JSON = {
    "ui/package.json": '{"name": "ui", "version": "1.0.0", "a": '
    + "[" * 100_000
    + "]" * 100_000
    + "}\n",
    "ui/package-lock.json": '{"version": "1.0.0", "packages": '
    + '{"": ' * 100_000
    + "1"
    + "}" * 100_000
    + "}\n",
}


@pytest.mark.parametrize("name", sorted(DEEP_JSON))
def test_a_manifest_nested_without_end_is_one_clear_error_and_nothing_is_written(
    tmp_path: Path, name: str
) -> None:
    repo = tagged(tmp_path, lambda repo: repo.write(name, DEEP_JSON[name]))
    result = repo.invoke("bump", "--tag", TAG)
    one_error(result, f"{name}: is nested too deeply to be read as JSON", "no file was changed")
    assert repo.git("status", "--porcelain") == ""


def test_a_package_pyproject_nested_without_end_names_the_file(tmp_path: Path) -> None:
    deep = "\n[tool.x]\ny = " + "[" * 3000 + "]" * 3000 + "\n"

    def edit(repo: Repo) -> None:
        path = repo.path / "demo-common" / "pyproject.toml"
        path.write_text(path.read_text(encoding="utf-8") + deep, encoding="utf-8")

    repo = tagged(tmp_path, edit)
    result = repo.invoke("bump", "--tag", TAG)
    one_error(result, "demo-common/pyproject.toml: is not valid TOML", "nested")
    assert repo.git("status", "--porcelain") == ""


def test_a_default_branch_pyproject_nested_without_end_is_one_clear_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.git("checkout", "-q", "-b", "release/1.x")
    repo.push("release/1.x")
    repo.tag(TAG)
    repo.git("checkout", "-q", "main")
    path = repo.path / "pyproject.toml"
    deep = "x = " + "[" * 3000 + "]" * 3000 + "\n"
    path.write_text(path.read_text(encoding="utf-8") + deep, encoding="utf-8")
    repo.commit("deep")
    repo.push("main")
    repo.git("checkout", "-q", TAG)
    result = repo.invoke("check-version", "--tag", TAG, "--skip-credentials")
    one_error(result, "pyproject.toml on", "nests arrays or tables too deeply", "flatten")


HOSTILE_NOTES = {
    "notify-message-id-is-a-path": (
        "notify",
        {"1.2.0": {"status": "posted", "message_id": "../../webhooks/x"}},
        "message_id: '../../webhooks/x' is not a Discord id",
    ),
    "notify-message-id-of-10-mb": (
        "notify",
        {"1.2.0": {"status": "posted", "message_id": "9" * 10_000_000}},
        "it is 9.5 MiB long",
    ),
    "notify-record-is-a-string": ("notify", {"1.2.0": "posted"}, "the record is 'posted'"),
    "notify-unknown-status": ("notify", {"1.2.0": {"status": "pwned"}}, "status: 'pwned'"),
    "notify-note-is-not-json": ("notify", "posted!", "it is not JSON"),
    "deploy-ui-deployment-id-is-a-path": (
        "deploy-ui",
        {"1.2.0": {"status": "deploying", "deployment_id": "../../api/command"}},
        "deployment_id: '../../api/command' is not a Kudu deployment id",
    ),
    "deploy-ui-done-with-a-forged-host": (
        "deploy-ui",
        {"1.2.0": {"status": "succeeded", "host": "x` @everyone"}},
        "host: 'x` @everyone' is not a host[:port]",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_NOTES))
def test_a_hostile_state_note_is_refused_with_the_way_to_remove_it(
    tmp_path: Path, case: str
) -> None:
    step, note, says = HOSTILE_NOTES[case]
    repo = tagged(tmp_path)
    source = tmp_path / "note.json"
    source.write_text(note if isinstance(note, str) else json.dumps(note), encoding="utf-8")
    repo.git("notes", "--ref", f"release/{step}", "add", "-F", str(source), "HEAD")
    commit = repo.git("rev-parse", "HEAD")
    ref = f"refs/notes/release/{step}"
    result = repo.invoke(step, "--tag", TAG, "--dry-run", "--offline", env=CREDENTIALS)
    one_error(
        result,
        f"the state note of {step} for 1.2.0 ({ref} on commit {commit[:12]})",
        "was not written by release-tasks, so nothing in it was used",
        says,
        f"git notes --ref {ref} remove {commit}",
        f"git push origin {ref}",
    )
    if step == "notify":  # the pre-flight of every task refuses it as well
        checked = repo.invoke("check-version", "--tag", TAG, "--offline", env=CREDENTIALS)
        one_error(checked, f"the state note of {step}", says)
