"""The UI release: the npm version, the npm build, and the deployment to an Azure App Service.

``deploy-ui`` (issue 9):

1. In the release worktree of the tagged commit (``release.run.worktree.release_tree``) the npm
   form of the version is in ``<ui.path>/package.json`` and ``package-lock.json`` (written
   by the bump writers; written here when they are not configured version files). The
   user's working tree is never touched, and nothing is committed (``npm``).
2. ``ui.install`` and ``ui.build`` run in ``<ui.path>`` of a private copy of that tree (the
   tree is shared with the image builds, which must not see ``node_modules``), their output
   streamed; a failure names the command, its exit code and the last lines of its output.
3. ``<ui.path>/<ui.output>`` is zipped deterministically (``archive``: sorted entries, the
   tag's time as every entry's timestamp) and deployed with Kudu's API (``kudu``), with the
   credentials of the publish profile in ``AZURE_WEBAPP_PUBLISH_PROFILE``: zip deploy by
   default, OneDeploy with ``RELEASE_AZURE_DEPLOY_API=onedeploy``. The ``Location``
   answered is polled until the deployment succeeds (status 4) or fails (3, with Azure's
   log), at most ``ui.deploy-timeout`` seconds. ``409`` (another deployment running) waits
   and retries within the same time; ``401`` explains how to enable SCM basic
   authentication; a cut connection, a 5xx or a 429 is tried again under the one HTTP
   policy (``release.core.http``). ``RELEASE_AZURE_SCM_URL`` replaces the SCM site of the
   profile (tests point it at ``devservices.azure``).

The slot is the profile's (a slot's profile names its site ``<app>__<slot>``); a configured
``ui.slot`` or ``ui.azure-app`` that does not match it is an error. The deployment id and
outcome go into the release's state: a re-run after a success is done; a re-run after an
interrupted deployment looks at that deployment first.

Pre-releases are built and not deployed (``release.commands.deploy_ui``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from release.core import console
from release.core.errors import ReleaseError, StepError
from release.run.context import ReleaseContext
from release.run.handoff import handed_off
from release.run.step import Step, StepResult
from release.steps.deploy_ui.archive import Archive, build_archive
from release.steps.deploy_ui.handed import archive_from
from release.steps.deploy_ui.kudu import MIN_WAIT, Deployment, Kudu, Target, target_for
from release.steps.deploy_ui.npm import TAIL_LINES
from release.steps.deploy_ui.profile import (
    PROFILE_ENV,
    PublishProfile,
    configured_ui,
    profile_problems,
    read_publish_profile,
)

STEP = "deploy-ui"


@dataclass
class Prepared:
    """What ``DeployUI.prepare`` made ready: the zip and where it goes, or the earlier result."""

    done: StepResult | None = None
    profile: PublishProfile | None = None
    target: Target | None = None
    archive: Archive | None = None
    scratch: tempfile.TemporaryDirectory[str] | None = None

    def cleanup(self) -> None:
        if self.scratch is not None:
            self.scratch.cleanup()
            self.scratch = None


class DeployUI:
    """``deploy-ui``: build the UI of the tagged commit and deploy it to its App Service."""

    name = STEP

    def run(self, ctx: ReleaseContext) -> StepResult:
        done = self._finished(ctx)
        if done is not None:
            return done if ctx.options.dry_run else _recorded_again(ctx, done)
        if not ctx.options.dry_run:
            earlier = self._resume(ctx)
            if earlier is not None:
                return earlier
        prepared = self.prepare(ctx)
        try:
            if ctx.options.dry_run:
                return self.describe(ctx, prepared)
            return self.publish(ctx, prepared, resume=False)
        finally:
            self.cleanup(prepared)

    # The scheduler of `release` calls these: all local work first, then the side effects.

    def cleanup(self, prepared: Prepared) -> None:
        """Remove the scratch folder of the build."""
        prepared.cleanup()

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Run as its own task, this step always records its lifecycle."""
        return False

    def prepare(self, ctx: ReleaseContext) -> Prepared:
        """Everything before the deployment: the credentials, the target and the built zip."""
        done = self._finished(ctx)
        if done is not None:
            return Prepared(done=done)
        ui = configured_ui(ctx)
        profile = read_publish_profile(ctx.env)
        if profile is None and not ctx.options.dry_run:
            raise ReleaseError(
                f"{PROFILE_ENV} is not set: it holds the publish profile of {ui.azure_app}"
            )
        if profile is not None:
            problems = profile_problems(profile, ui)
            if problems:
                raise ReleaseError(problems[0])
        target = target_for(ctx, profile)
        handoff = handed_off(ctx)
        if handoff is not None:  # --from: the build job's zip, nothing built here
            return Prepared(profile=profile, target=target, archive=archive_from(handoff))
        scratch = tempfile.TemporaryDirectory(prefix="release-ui-")
        try:
            archive = build_archive(ctx, Path(scratch.name))
        except BaseException:
            scratch.cleanup()
            raise
        return Prepared(profile=profile, target=target, archive=archive, scratch=scratch)

    def publish(
        self, ctx: ReleaseContext, prepared: Prepared, *, resume: bool = True
    ) -> StepResult:
        """Deploy the prepared zip (after following an interrupted earlier deployment)."""
        if prepared.done is not None:
            return _recorded_again(ctx, prepared.done)
        if resume:
            earlier = self._resume(ctx)
            if earlier is not None:
                return earlier
        assert prepared.profile and prepared.target and prepared.archive
        return deploy_archive(ctx, prepared.target, prepared.profile, prepared.archive)

    def describe(self, ctx: ReleaseContext, prepared: Prepared) -> StepResult:
        """What ``publish`` would do (``--dry-run``)."""
        if prepared.done is not None:
            return prepared.done
        assert prepared.target and prepared.archive
        return self._dry_run(ctx, prepared.target, prepared.archive)

    def _finished(self, ctx: ReleaseContext) -> StepResult | None:
        record = ctx.state.get(STEP)
        if not record or record.get("status") != "succeeded":
            return None
        where = f"{record.get('app')} ({record.get('slot')})"
        return StepResult(
            step=STEP,
            status="done",
            summary=f"{ctx.version.npm} was deployed to {where} earlier "
            f"(deployment {record.get('deployment_id')})",
            record=record,
        )

    def _resume(self, ctx: ReleaseContext) -> StepResult | None:
        """An earlier run started a deployment and stopped: finish with its outcome."""
        record = ctx.state.get(STEP)
        if not record or record.get("status") != "deploying" or not record.get("deployment_id"):
            return None
        profile = read_publish_profile(ctx.env)
        if profile is None:
            return None
        target = target_for(ctx, profile)
        kudu = Kudu(target, profile)
        try:
            found = kudu.find(str(record["deployment_id"]))
            if found is None or found.failed:
                return None
            console.info(f"deploy-ui: an earlier run started deployment {found.id}; following it")
            url = target.deployment_url(found.id)
            deadline = time.monotonic() + configured_ui(ctx).deploy_timeout
            final = wait_for(kudu, url, deadline, ctx, record)
            return _finish(ctx, kudu, final, record)
        finally:
            kudu.close()

    def _dry_run(self, ctx: ReleaseContext, target: Target, archive: Archive) -> StepResult:
        ui = configured_ui(ctx)
        details = [
            f"POST {target.deploy_url} ({target.api}), app {target.app}, slot {target.slot}",
            f"poll its deployment until status 4 (success) or 3 (failed), at most "
            f"{ui.deploy_timeout} s",
            *(f"  {name}" for name in archive.files),
        ]
        return StepResult(
            step=STEP,
            status="dry-run",
            summary=f"would deploy {ui.path}/{ui.output} {ctx.version.npm} ({archive.describe()}) "
            f"to {target.host}",
            details=tuple(details),
        )


def _recorded_again(ctx: ReleaseContext, done: StepResult) -> StepResult:
    """A deployment found done is recorded again: a run killed while it pushed the note of
    its success left that note only in the local state, and a fresh CI runner reads the
    remote's."""
    return replace(done, record=ctx.state.record(STEP, dict(done.record)))


def deploy_archive(
    ctx: ReleaseContext, target: Target, profile: PublishProfile, archive: Archive
) -> StepResult:
    """Deploy ``archive`` and wait for Azure's verdict; record it in the release's state."""
    ui = configured_ui(ctx)
    base: dict[str, Any] = {
        "app": target.app,
        "slot": target.slot,
        "host": target.host,
        "api": target.api,
        "npm_version": ctx.version.npm,
        "files": len(archive.files),
        "bytes": archive.size,
        "sha256": archive.sha256,
    }
    handoff = handed_off(ctx)
    if handoff is not None:
        base["build"] = handoff.record()
    console.info(
        f"deploy-ui: deploying {archive.describe()} to {target.host} ({target.app}, "
        f"{target.slot}) with {target.api}, waiting at most {ui.deploy_timeout} s"
    )
    kudu = Kudu(target, profile)
    try:
        deadline = time.monotonic() + ui.deploy_timeout
        url = kudu.start(archive.path, deadline)
        final = wait_for(kudu, url, deadline, ctx, base)
        return _finish(ctx, kudu, final, base)
    finally:
        kudu.close()


def wait_for(
    kudu: Kudu, url: str, deadline: float, ctx: ReleaseContext, base: Mapping[str, Any]
) -> Deployment:
    """Poll ``url`` until the deployment completes or ``deadline`` passes."""
    recorded: str | None = None
    last: Deployment | None = None
    while True:
        try:
            current, wait = kudu.deployment(url)
        except ReleaseError as error:
            raise StepError(
                f"the deployment was started, but {error}",
                "run the same command again to follow it",
            ) from None
        if recorded != current.id:
            ctx.state.record(STEP, {**base, "status": "deploying", "deployment_id": current.id})
            recorded = current.id
            # Poll the deployment itself from now on: "latest" may become another one.
            url = kudu.target.deployment_url(current.id)
        if last is None or last.status != current.status:
            console.info(f"deploy-ui: deployment {current.id}: {current.status_name}")
        last = current
        if current.succeeded or current.failed:
            return current
        if time.monotonic() + wait > deadline:
            ui = configured_ui(ctx)
            raise StepError(
                f"deployment {current.id} to {kudu.target.app} ({kudu.target.slot}) did not "
                f"finish within {ui.deploy_timeout} s (last status: {current.status_name}); it "
                f"may still finish: see {kudu.target.deployment_url(current.id)}",
                "run the same command again to follow it, or raise [tool.release.ui] "
                "deploy-timeout",
            )
        time.sleep(max(wait, MIN_WAIT))


def _finish(
    ctx: ReleaseContext, kudu: Kudu, final: Deployment, base: Mapping[str, Any]
) -> StepResult:
    where = f"{kudu.target.app} ({kudu.target.slot})"
    data = {**base, "deployment_id": final.id}
    if final.succeeded:
        record = ctx.state.record(STEP, {**data, "status": "succeeded"})
        return StepResult(
            step=STEP,
            status="done",
            summary=f"deployed {ctx.version.npm} to {where}: deployment {final.id} succeeded",
            record=record,
        )
    ctx.state.record(STEP, {**data, "status": "failed"})
    log = kudu.log(final)
    shown = "\n".join(f"  | {line}" for line in log[-TAIL_LINES:]) or "  | (Azure returned no log)"
    raise StepError(
        f"deployment {final.id} of {ctx.version.npm} to {where} failed "
        f"(status {final.status_name}); Azure's deployment log:\n{shown}\n"
        "Nothing else changed; fix the cause and run the same command again to deploy again"
    )


DEPLOY_UI: Step[Prepared] = DeployUI()
