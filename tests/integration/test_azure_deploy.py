"""The deployment half of ``deploy-ui`` against the Kudu contract server, without a UI build.

A prepared zip is deployed through ``release.steps.deploy_ui.step.deploy_archive`` with a context resolved
from a real demo repository (the state goes to its bare remote), so the API's answers
(409, a deployment that never ends, OneDeploy, an interrupted run) are exercised quickly.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from devservices.azure import KuduServer
from release.core.errors import ReleaseError, StepError
from release.core.http import POLICY
from release.pipeline.preflight import resolve
from release.run.context import Options, ReleaseContext
from release.steps.deploy_ui.archive import Archive, zip_folder
from release.steps.deploy_ui.kudu import target_for
from release.steps.deploy_ui.profile import parse_publish_profile
from release.steps.deploy_ui.step import DEPLOY_UI, deploy_archive
from tests.reliability.faultproxy import FaultProxy
from tests.repos import Repo
from tests.services import KUDU_PASSWORD

PASSWORD = KUDU_PASSWORD
TAG = "version/4.2.0"


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<p>4.2.0</p>\n")
    (dist / "assets" / "app.css").write_text("p {}\n")
    return zip_folder(dist, tmp_path / "ui.zip", 1_700_000_000)


def context(repo: Repo, kudu: KuduServer, timeout: int = 600, **env: str) -> ReleaseContext:
    repo.tag(TAG)
    options = Options(env={**kudu.env(), **env})
    ctx = resolve(TAG, options, start=repo.path)
    assert ctx.config.ui is not None
    ui = dataclasses.replace(ctx.config.ui, deploy_timeout=timeout)
    return dataclasses.replace(ctx, config=dataclasses.replace(ctx.config, ui=ui))


def deploy(ctx: ReleaseContext, archive: Archive) -> str:
    profile = parse_publish_profile(ctx.env["AZURE_WEBAPP_PUBLISH_PROFILE"])
    return deploy_archive(ctx, target_for(ctx, profile), profile, archive).summary


def test_a_busy_site_is_retried_until_it_accepts_the_deployment(
    demo_repo: Repo, kudu: KuduServer, archive: Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    kudu.busy(2)

    summary = deploy(context(demo_repo, kudu), archive)

    assert summary.startswith("deployed 4.2.0 to demo-ui (production): deployment ")
    assert kudu.conflicts == 2
    assert len(kudu.deployments) == 1
    assert kudu.last.data == archive.path.read_bytes()
    assert "another deployment is in progress (409); retrying" in capsys.readouterr().err


def test_a_site_that_stays_busy_fails_within_the_timeout_having_deployed_nothing(
    demo_repo: Repo, kudu: KuduServer, archive: Archive
) -> None:
    kudu.busy(-1)

    with pytest.raises(ReleaseError) as raised:
        deploy(context(demo_repo, kudu, timeout=1), archive)

    assert not isinstance(raised.value, StepError)
    assert str(raised.value) == (
        "another deployment to demo-ui (production) was still in progress when the deploy "
        "timeout ran out (409 Conflict); nothing was deployed: wait for it to finish, then run "
        "the same command again"
    )
    assert kudu.deployments == []


def test_a_deployment_that_does_not_finish_in_time_says_where_to_look_and_how_to_go_on(
    demo_repo: Repo, kudu: KuduServer, archive: Archive
) -> None:
    kudu.hang_next()
    ctx = context(demo_repo, kudu, timeout=1)

    with pytest.raises(StepError) as raised:
        deploy(ctx, archive)

    running = kudu.last
    assert str(raised.value) == (
        f"deployment {running.id} to demo-ui (production) did not finish within 1 s (last "
        f"status: Building); it may still finish: see {kudu.url}/api/deployments/{running.id}: "
        "run the same command again to follow it, or raise [tool.release.ui] deploy-timeout"
    )
    record = ctx.state.get("deploy-ui")
    assert record is not None
    assert (record["status"], record["deployment_id"]) == ("deploying", running.id)


def test_a_rerun_follows_the_interrupted_deployment_instead_of_deploying_again(
    demo_repo: Repo, kudu: KuduServer, archive: Archive
) -> None:
    kudu.hang_next()
    ctx = context(demo_repo, kudu, timeout=1)
    with pytest.raises(StepError):
        deploy(ctx, archive)
    running = kudu.last
    running.outcome = "success"  # Azure finished it after the first run gave up

    result = DEPLOY_UI.run(ctx)

    assert result.status == "done"
    assert (
        result.summary
        == f"deployed 4.2.0 to demo-ui (production): deployment {running.id} succeeded"
    )
    assert len(kudu.deployments) == 1
    assert (
        json.loads(
            demo_repo.git(
                "notes", "--ref", "refs/notes/release/deploy-ui", "show", f"{TAG}^{{commit}}"
            )
        )["4.2.0"]["status"]
        == "succeeded"
    )


def test_onedeploy_is_used_when_chosen(demo_repo: Repo, kudu: KuduServer, archive: Archive) -> None:
    ctx = context(demo_repo, kudu, RELEASE_AZURE_DEPLOY_API="onedeploy")

    deploy(ctx, archive)

    assert kudu.last.api == "onedeploy"
    assert kudu.last.query == {"type": "zip", "async": "true"}
    assert ("GET", f"/api/deployments/{kudu.last.id}") in kudu.requests
    record = ctx.state.get("deploy-ui")
    assert record is not None and record["api"] == "onedeploy"


def test_the_password_never_reaches_the_state(
    demo_repo: Repo, kudu: KuduServer, archive: Archive
) -> None:
    ctx = context(demo_repo, kudu)

    deploy(ctx, archive)

    notes = demo_repo.git(
        "notes", "--ref", "refs/notes/release/deploy-ui", "show", f"{TAG}^{{commit}}"
    )
    assert PASSWORD not in notes
    assert PASSWORD not in ctx.state.local_path.read_text()


def test_a_retry_after_of_an_hour_waits_at_most_the_policys_cap(
    demo_repo: Repo, kudu: KuduServer, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # nothing really waits
    with FaultProxy(kudu.url, "azure") as proxy:
        post = proxy.fault("status", "POST", r"^/api/zipdeploy", status=503, retry_after=3600)
        poll = proxy.fault("status", "GET", r"^/api/deployments/.", status=503, retry_after=3600)
        ctx = context(demo_repo, kudu, RELEASE_AZURE_SCM_URL=proxy.url)

        summary = deploy(ctx, archive)

    assert summary.startswith("deployed 4.2.0 to demo-ui (production): deployment ")
    assert (post.hits, poll.hits) == (1, 1)  # the zip's POST (our loop) and a poll (urllib3)
    assert waits.count(POLICY.max_wait) == 2
    assert max(waits) == POLICY.max_wait
    assert len(kudu.deployments) == 1
