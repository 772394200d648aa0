"""The UI's npm side: its version in ``package.json``, and its commands run in the release tree.

The npm form of the version is written into the release tree only (never the user's working
tree), by the bump's ``package-json`` writer. ``ui.install`` and ``ui.build`` run in a shell
with their output streamed; a failure names the command, its exit code and the last lines
of its output. Release secrets never reach their environment.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from release.core import console
from release.core.config import Config, VersionFile
from release.core.errors import ReleaseError
from release.core.gitauth import TOKEN_VARIABLES
from release.run.context import ReleaseContext
from release.steps.deploy_ui.profile import PROFILE_ENV, configured_ui

TAIL_LINES = 20  # lines of a failed command's output, or of Azure's log, in the error

# Environment variables a UI build never needs and must not see.
BUILD_ENV_SECRETS = (
    PROFILE_ENV,
    "TWINE_PASSWORD",
    "TWINE_USERNAME",
    "DISCORD_WEBHOOK_URL",
    "RELEASE_REGISTRY_PASSWORD",
    "RELEASE_REGISTRY_USERNAME",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_RUNTIME_TOKEN",
    *TOKEN_VARIABLES,  # the job's git token (GITHUB_TOKEN)
)


def run_command(command: str, cwd: Path, env: Mapping[str, str], what: str) -> None:
    """Run ``command`` in a shell in ``cwd``, streaming its output; fail with its exit code
    and the last lines of its output."""
    console.info(f"$ {command}  (in {cwd.name})")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as error:
        raise ReleaseError(f"{what} `{command}` could not start: {error}") from None
    assert process.stdout is not None
    with process:
        for line in process.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            console.info(f"  {line}")
    if process.returncode != 0:
        last = "\n".join(f"  | {line}" for line in tail) or "  | (no output)"
        raise ReleaseError(
            f"{what} `{command}` failed with exit code {process.returncode} in {cwd.name}; "
            f"the last lines of its output:\n{last}"
        )


def build_env(ctx: ReleaseContext) -> dict[str, str]:
    """The environment of the UI's commands: the caller's, without release secrets."""
    env = {k: v for k, v in os.environ.items() if k not in BUILD_ENV_SECRETS}
    env["SOURCE_DATE_EPOCH"] = str(ctx.git.commit_time(ctx.commit))
    env.setdefault("CI", "true")  # npm and many build tools: no prompts, no spinners
    return env


def write_ui_version(ctx: ReleaseContext, tree: Path) -> None:
    """Make sure ``<ui.path>/package.json`` (and its lock) hold the npm version in ``tree``.

    The release tree already holds every configured version file; when the UI's
    ``package.json`` or ``package-lock.json`` is not one of them, the package-json
    writer writes it here, into the tree only.
    """
    from release.core.writers.plan import write_versions

    ui = configured_ui(ctx)
    configured = {match for vf in ctx.config.version_files for match in vf.matches}
    missing = tuple(
        VersionFile(path=name, kind="package-json", matches=(name,))
        for name in (f"{ui.path}/package.json", f"{ui.path}/package-lock.json")
        if name not in configured and (tree / name).is_file()
    )
    if missing:
        write_versions(Config(version_files=missing), tree, ctx.version)
    _check_npm_version(tree / ui.path / "package.json", ctx.version.npm)


def _check_npm_version(path: Path, expected: str) -> None:
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("version")
    except RecursionError:
        raise ReleaseError(
            f"cannot read the UI's {path.name}: it nests arrays or objects too deeply",
            "flatten it, or regenerate it with npm",
        ) from None
    except (OSError, ValueError, AttributeError) as error:
        raise ReleaseError(f"cannot read the UI's {path.name}: {error}") from None
    if found != expected:
        raise ReleaseError(
            f"the UI's package.json holds version {found!r} after the version was written, "
            f"not {expected!r}"
        )
