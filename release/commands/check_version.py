"""``check-version``: validate the tag, run the pre-flight checks and print the plan."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from release.commands.resolve import context_for, print_plan
from release.core import console
from release.core.errors import UsageError
from release.pipeline.preflight import check
from release.run.context import DIRECT_TASKS, Options
from release.run.plan import Plan, github_output_lines


def check_version(
    tag: str | None,
    *,
    as_json: bool = False,
    github_output: bool = False,
    offline: bool = False,
    skip_credentials: bool = False,
    branch: str | None = None,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Validate the tag, run the pre-flight checks and print the plan.

    Called directly it also runs the checks of every step the plan will run;
    as the prerequisite of one step it runs the common checks (the step runs its own).
    """
    if as_json:
        console.reserve_stdout()  # the JSON object alone, even in GitHub Actions
    options = Options(
        dry_run=dry_run,
        offline=offline,
        skip_credentials=skip_credentials,
        branch=branch,
        env=dict(env if env is not None else os.environ),
    )
    ctx = context_for(tag, options)
    direct = "check-version" in DIRECT_TASKS or not DIRECT_TASKS
    if as_json:
        check(ctx, steps=direct)
        console.write_json(ctx.plan.to_json())
    else:
        print_plan(ctx.plan)
        check(ctx, steps=direct)
    if github_output:
        write_github_output(ctx.plan.to_json(), options.env)
    return ctx.plan


def write_github_output(data: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Append ``data`` to ``$GITHUB_OUTPUT``, masked: the values first (a secret in them is
    replaced before it is JSON-encoded), then each line in whatever form it took. A value
    that spans lines is written in the file's multi-line form (``key<<DELIMITER``), so no
    line of it can be read as an output of its own."""
    import secrets

    path = env.get("GITHUB_OUTPUT")
    if not path:
        raise UsageError(
            "--github-output needs GITHUB_OUTPUT to name a file (GitHub Actions sets it)"
        )
    with Path(path).open("a", encoding="utf-8") as handle:
        for line in github_output_lines(console.mask_data(dict(data))):
            key, _, value = console.mask(line).partition("=")
            if "\n" in value or "\r" in value:
                delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
                handle.write(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                handle.write(f"{key}={value}\n")
