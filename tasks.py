"""The release task collection: one version tag in, a finished release out.

Each task is thin: arguments in, one call into ``release/``, result out. Heavy
libraries are imported inside the calls, so ``invoke --list`` stays fast.
The repository released is the git repository of the current directory.
"""

from __future__ import annotations

from invoke import Context, task

from release.core.console import boundary

TAG_HELP = (
    "the version tag, e.g. version/4.2.0 (default: $RELEASE_TAG, then $GITHUB_REF_NAME "
    "on a tag push, then the single version tag on HEAD)"
)
OFFLINE_HELP = "skip the checks that need the network"
BRANCH_HELP = "the allowed branch the release belongs to, when the tag is on several"
FROM_HELP = (
    "a build output folder (build --output): {what} exactly as built, after checking them "
    "against the manifest whose sha256 is $RELEASE_BUILD_MANIFEST; nothing is built"
)


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
    from release.commands.check_version import check_version as run

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
    from release.commands.release import release_all

    release_all(tag, dry_run=dry_run, yes=yes, local=local, offline=offline, branch=branch)


@task(help={"keep": "keep the temporary repository and service folders for a look afterwards"})
@boundary
def demo(c: Context, keep: bool = False) -> None:
    """Release examples/demo end to end into local services started for it (from a checkout)."""
    import sys
    from pathlib import Path

    checkout = Path(__file__).resolve().parent
    if not (checkout / "devservices" / "demo.py").is_file():
        from release.core.errors import ReleaseError

        raise ReleaseError(
            "the demo runs from a checkout of release-tasks: its local services are not in "
            "the installed package",
            "git clone the release-tasks repository, then in it: "
            "pip install -e '.[dev]' && invoke demo",
        )
    sys.path.insert(0, str(checkout))  # devservices/ is a folder of the checkout, not installed
    from devservices.demo import run_demo

    run_demo(keep=keep)


@task(
    help={
        "version": "the version to release, e.g. 4.3.0, 4.3.0rc1 or 4.3.0.post1 (the tag is "
        "<tag-prefix><version>)",
        "sign": "sign the tag (always done when require-signed-tags is set on the default branch)",
        "backport": "allow a version lower than the highest release of its major (on release/*)",
        "dry_run": "run every check and show the tag that would be created and pushed",
        "remote": "the remote to push the tag to (default: tool.release.remote)",
    }
)
@boundary
def tag(
    c: Context,
    version: str | None = None,
    sign: bool = False,
    backport: bool = False,
    dry_run: bool = False,
    remote: str | None = None,
) -> None:
    """Create the version tag on the current branch and push it: CI then runs the release."""
    from release.commands.tag import cut_tag

    cut_tag(version, sign=sign, backport=backport, dry_run=dry_run, remote=remote)


@task(
    pre=[check_version],
    help={
        "tag": TAG_HELP,
        "dry_run": "build and zip the UI, show what would be deployed where, deploy nothing",
        "offline": OFFLINE_HELP,
        "branch": BRANCH_HELP,
        "from_": FROM_HELP.format(what="deploy its UI zip"),
    },
)
@boundary
def deploy_ui(
    c: Context,
    tag: str | None = None,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
    from_: str | None = None,
) -> None:
    """Set the UI's npm version, build it and deploy it to its Azure App Service.

    Credentials: the publish profile in $AZURE_WEBAPP_PUBLISH_PROFILE. Pre-releases are
    built and not deployed. With --from, the zip of a build output is deployed instead.
    """
    from release.commands.deploy_ui import deploy_ui as run

    run(tag, dry_run=dry_run, offline=offline, branch=branch, from_=from_)


@task(
    pre=[check_version],
    help={
        "tag": TAG_HELP,
        "commit": (
            "commit exactly the version files and push the commit to the branch the tag was "
            "cut from (never forced; replayed onto the branch when it moved since the tag)"
        ),
        "dry_run": "show the diff (and with --commit the commit it would push), change nothing",
        "branch": BRANCH_HELP,
    },
)
@boundary
def bump(
    c: Context,
    tag: str | None = None,
    commit: bool = False,
    dry_run: bool = False,
    branch: str | None = None,
) -> None:
    """Write the version into the configured files; --commit commits and pushes it."""
    from release.commands.step import run_step

    run_step("bump", tag, dry_run=dry_run, branch=branch, extra={"commit": commit})


@task(
    pre=[check_version],
    help={
        "tag": TAG_HELP,
        "dry_run": "build the images and list every tag that would be pushed; push nothing",
        "branch": BRANCH_HELP,
    },
)
@boundary
def push_image(
    c: Context, tag: str | None = None, dry_run: bool = False, branch: str | None = None
) -> None:
    """Build every configured image and push its version tags (never overwriting one)."""
    from release.commands.step import run_step

    run_step("push-image", tag, dry_run=dry_run, branch=branch)


@task(
    pre=[check_version],
    help={
        "tag": TAG_HELP,
        "dry_run": "print the exact message that would be posted or edited; send nothing",
        "repost": "post the announcement again (after a lost answer, or a deleted message)",
        "assume_posted": "mark the announcement as posted without sending anything "
        "(after finding it in the channel)",
        "offline": OFFLINE_HELP,
        "branch": BRANCH_HELP,
    },
)
@boundary
def notify(
    c: Context,
    tag: str | None = None,
    dry_run: bool = False,
    repost: bool = False,
    assume_posted: bool = False,
    offline: bool = False,
    branch: str | None = None,
) -> None:
    """Announce the release on Discord: posted once, edited by every later run."""
    from release.commands.notify import notify as run

    run(
        tag,
        dry_run=dry_run,
        repost=repost,
        assume_posted=assume_posted,
        offline=offline,
        branch=branch,
    )


@task(
    pre=[check_version],
    help={
        "tag": TAG_HELP,
        "dry_run": "build and verify, record nothing",
        "offline": "smoke-install from the built files only (no package index)",
        "branch": BRANCH_HELP,
        "output": "also build the UI zip and write every file with the manifest "
        "release-build.json into this new or empty folder, for upload/deploy-ui --from; "
        "records nothing; appends manifest-sha256 to $GITHUB_OUTPUT",
    },
)
@boundary
def build(
    c: Context,
    tag: str | None = None,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
    output: str | None = None,
) -> None:
    """Build sdist and wheel of every package, twine check, version check, smoke install."""
    if output is not None:
        from release.commands.handoff import build_output

        build_output(tag, output, dry_run=dry_run, offline=offline, branch=branch)
        return
    from release.commands.step import run_step

    run_step("build", tag, dry_run=dry_run, offline=offline, branch=branch)


@task(
    pre=[build],
    help={
        "tag": TAG_HELP,
        "dry_run": "build, compare with the index and show what would be uploaded; upload nothing",
        "offline": "do not compare with the index first (it refuses files it already has)",
        "branch": BRANCH_HELP,
        "from_": FROM_HELP.format(what="upload its sdists and wheels"),
    },
)
@boundary
def upload(
    c: Context,
    tag: str | None = None,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
    from_: str | None = None,
) -> None:
    """Upload the built files to the package index (files already there are skipped)."""
    if from_ is not None:  # the executor does not run the build prerequisite then
        from release.commands.handoff import step_from

        step_from("upload", from_, tag, dry_run=dry_run, offline=offline, branch=branch)
        return
    from release.commands.step import run_step

    run_step("upload", tag, dry_run=dry_run, offline=offline, branch=branch)


@task(
    pre=[build],
    help={
        "tag": TAG_HELP,
        "dry_run": "show the release's name, text and files, and whether it would be created "
        "or finished; change nothing on GitHub",
        "offline": "do not look at GitHub first (the dry run then cannot say what is there)",
        "branch": BRANCH_HELP,
        "from_": FROM_HELP.format(what="attach its files"),
    },
)
@boundary
def github_release(
    c: Context,
    tag: str | None = None,
    dry_run: bool = False,
    offline: bool = False,
    branch: str | None = None,
    from_: str | None = None,
) -> None:
    """Create the tag's GitHub release with its files (a draft, its files, then published).

    Credentials: $GITHUB_TOKEN, for the repository of [tool.release.github] (or
    $GITHUB_REPOSITORY, or the remote's). A re-run finishes the same release, never a second.
    """
    if from_ is not None:  # the executor does not run the build prerequisite then
        from release.commands.handoff import step_from

        step_from("github-release", from_, tag, dry_run=dry_run, offline=offline, branch=branch)
        return
    from release.commands.step import run_step

    run_step("github-release", tag, dry_run=dry_run, offline=offline, branch=branch)


@task(
    help={
        "tag": TAG_HELP,
        "json": "print the status as one JSON object on stdout, nothing else",
        "offline": "read this clone's state notes and records as they are, fetch nothing",
    }
)
@boundary
def status(c: Context, tag: str | None = None, json: bool = False, offline: bool = False) -> None:
    """Show where the release of a tag stands: every step, what it published, what finishes it.

    Read-only, from any clone (the state notes are fetched from the remote); no pre-flight
    check runs.
    """
    from release.commands.status import show_status

    show_status(tag, as_json=json, offline=offline)


@task(
    help={
        "apply": "move every channel to its target, backwards included (a rollback)",
        "yes": "confirm moves that are not forward without asking (needed without a terminal)",
        "offline": "read the default branch as last fetched, without fetching it",
    }
)
@boundary
def channels(c: Context, apply: bool = False, yes: bool = False, offline: bool = False) -> None:
    """Show which version every channel tag points to; --apply moves them where the rules say."""
    import os

    from release.commands.channels import show_channels

    show_channels(apply=apply, yes=yes, offline=offline, env=dict(os.environ))
