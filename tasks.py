"""The release task collection: one version tag in, a finished release out.

Each task is thin: arguments in, one call into ``release/``, result out. Heavy
libraries are imported inside the calls, so ``invoke --list`` stays fast.
The repository released is the git repository of the current directory.
"""

from __future__ import annotations

from invoke import Context, task

from release.console import boundary

TAG_HELP = (
    "the version tag, e.g. version/4.2.0 (default: $RELEASE_TAG, then $GITHUB_REF_NAME "
    "on a tag push, then the single version tag on HEAD)"
)
DRY_RUN_HELP = "check and build, show what would be done, change nothing"
OFFLINE_HELP = "skip the checks that need the network"
BRANCH_HELP = "the allowed branch the release belongs to, when the tag is on several"


@task(
    help={
        "tag": TAG_HELP,
        "json": "print the release's facts and plan as one JSON object on stdout, nothing else",
        "github_output": "also append the same keys to the file named by $GITHUB_OUTPUT",
        "offline": OFFLINE_HELP,
        "skip_credentials": (
            "skip the checks that credentials are present (for a CI job holding none)"
        ),
        "branch": BRANCH_HELP,
        "dry_run": "accepted for symmetry with the other tasks; check-version changes nothing",
    }
)
@boundary
def check_version(
    c: Context,
    tag: str | None = None,
    json: bool = False,
    github_output: bool = False,
    offline: bool = False,
    skip_credentials: bool = False,
    branch: str | None = None,
    dry_run: bool = False,
) -> None:
    """Validate the tag, run the pre-flight checks and print the plan."""
    from release.commands import check_version as run

    run(
        tag,
        as_json=json,
        github_output=github_output,
        offline=offline,
        skip_credentials=skip_credentials,
        branch=branch,
        dry_run=dry_run,
    )


@task(
    pre=[check_version],
    help={
        "tag": TAG_HELP,
        "dry_run": "run every check and local build, print the plan and the would-be summary, "
        "publish nothing",
        "yes": "do not ask for confirmation before the first side effect",
        "local": "release from this machine even though a CI workflow releases version tags",
        "offline": OFFLINE_HELP,
        "branch": BRANCH_HELP,
    },
)
@boundary
def release(
    c: Context,
    tag: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    local: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> None:
    """Release everything the plan says, each step once: local work first, then side effects."""
    from release.commands import release_all

    release_all(tag, dry_run=dry_run, yes=yes, local=local, offline=offline, branch=branch)


@task(help={"keep": "keep the temporary repository and service folders for a look afterwards"})
@boundary
def demo(c: Context, keep: bool = False) -> None:
    """Release examples/demo end to end into local services started for it (from a checkout)."""
    from release.demo import run_demo

    run_demo(keep=keep)


@task(
    help={
        "apply": "move every channel to its target, backwards included (a rollback)",
        "yes": "confirm moves that are not forward without asking (needed without a terminal)",
    }
)
@boundary
def channels(c: Context, apply: bool = False, yes: bool = False) -> None:
    """Show which version every channel tag points to; --apply moves them where the rules say."""
    import os

    from release.channelcmd import show_channels

    show_channels(apply=apply, yes=yes, env=dict(os.environ))
