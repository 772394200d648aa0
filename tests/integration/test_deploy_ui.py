"""``invoke deploy-ui`` on the demo: a real npm build, deployed to the Kudu contract server.

Each test runs the real ``invoke`` command in a fresh clone of ``examples/demo`` with a bare
remote, pointed at one ``KuduServer`` per session (``RELEASE_AZURE_SCM_URL``). The demo's UI
build needs nothing from the network (``npm ci`` of a package without dependencies).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from devservices.azure import KuduServer, publish_profile
from tests.repos import DEMO, Repo
from tests.services import KUDU_PASSWORD

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")

PASSWORD = KUDU_PASSWORD
TAG = "version/4.2.0"


@pytest.fixture(scope="session")
def reference_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    """What the demo UI's own build produces for a version, built outside the tool."""
    built: dict[str, dict[str, bytes]] = {}
    for version in ("4.2.0", "4.2.0-post1"):
        folder = tmp_path_factory.mktemp("reference-ui") / "ui"
        shutil.copytree(DEMO / "ui", folder, ignore=shutil.ignore_patterns("node_modules", "dist"))
        manifest = json.loads((folder / "package.json").read_text())
        manifest["version"] = version
        (folder / "package.json").write_text(json.dumps(manifest))
        subprocess.run(["node", "build.js"], cwd=folder, check=True, capture_output=True)
        dist = folder / "dist"
        built[version] = {
            p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()
        }
    return built


def deploy(
    repo: Repo, kudu: KuduServer, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return repo.invoke("deploy-ui", *args, env={**kudu.env(), **env})


def assert_no_secret(result: subprocess.CompletedProcess[str], repo: Repo) -> None:
    assert PASSWORD not in result.stdout
    assert PASSWORD not in result.stderr
    notes = repo.git("notes", "--ref", "refs/notes/release/deploy-ui", "list", check=False)
    assert PASSWORD not in notes
    for path in (repo.path / ".git").rglob("*.json"):
        assert PASSWORD not in path.read_text(errors="replace")


def test_deploy_ui_deploys_exactly_the_npm_build_of_the_tagged_version(
    demo_repo: Repo, kudu: KuduServer, reference_builds: dict[str, dict[str, bytes]]
) -> None:
    demo_repo.tag(TAG)

    result = deploy(demo_repo, kudu, "--tag", TAG)

    assert result.returncode == 0, result.stderr
    assert len(kudu.deployments) == 1
    deployed = kudu.last
    assert deployed.api == "zipdeploy" and deployed.query == {"isAsync": "true"}
    assert deployed.files() == reference_builds["4.2.0"]
    assert json.loads(deployed.files()["version.json"]) == {"version": "4.2.0"}
    assert f"deployment {deployed.id} succeeded" in result.stderr
    assert "built demo UI 4.2.0" in result.stderr  # the build's own output, streamed
    assert demo_repo.git("status", "--porcelain") == ""
    assert json.loads((demo_repo.path / "ui" / "package.json").read_text())["version"] == "1.0.0"
    record = json.loads(
        demo_repo.git("notes", "--ref", "refs/notes/release/deploy-ui", "show", f"{TAG}^{{commit}}")
    )["4.2.0"]
    assert (record["status"], record["deployment_id"], record["files"]) == (
        "succeeded",
        deployed.id,
        3,
    )
    assert_no_secret(result, demo_repo)

    again = deploy(demo_repo, kudu, "--tag", TAG)

    assert again.returncode == 0, again.stderr
    assert len(kudu.deployments) == 1
    assert (
        f"was deployed to demo-ui (production) earlier (deployment {deployed.id})" in again.stderr
    )
    assert "built demo UI" not in again.stderr


def test_dry_run_builds_and_zips_and_shows_what_would_go_where(
    demo_repo: Repo, kudu: KuduServer
) -> None:
    demo_repo.tag(TAG)

    result = deploy(demo_repo, kudu, "--tag", TAG, "--dry-run")

    assert result.returncode == 0, result.stderr
    host = kudu.url.removeprefix("http://")
    assert "would deploy ui/dist 4.2.0 (3 file(s), " in result.stderr
    assert f"to {host}" in result.stderr
    assert f"POST {kudu.url}/api/zipdeploy?isAsync=true (zipdeploy)" in result.stderr
    assert "at most 600 s" in result.stderr
    assert "version.json" in result.stderr
    assert kudu.deployments == []
    assert [r for r in kudu.requests if r[0] == "POST"] == []
    assert_no_secret(result, demo_repo)


def test_a_pre_release_is_built_and_not_deployed(demo_repo: Repo, kudu: KuduServer) -> None:
    demo_repo.tag("version/4.2.0rc1")

    result = demo_repo.invoke("deploy-ui", "--tag", "version/4.2.0rc1")  # no credentials at all

    assert result.returncode == 0, result.stderr
    assert "built demo UI 4.2.0-rc.1" in result.stderr
    assert "not deployed: pre-releases are built, not deployed" in result.stderr
    assert kudu.requests == []


def test_a_post_release_deploys_its_npm_version_and_commits_nothing(
    demo_repo: Repo, kudu: KuduServer, reference_builds: dict[str, dict[str, bytes]]
) -> None:
    demo_repo.tag(TAG)
    demo_repo.write("ui/README.md", "The UI changed after 4.2.0.\n")
    head = demo_repo.commit("UI-only change")
    demo_repo.push()
    demo_repo.tag("version/4.2.0-post1")
    committed = demo_repo.git("show", "HEAD:ui/package.json")

    result = deploy(demo_repo, kudu, "--tag", "version/4.2.0-post1")

    assert result.returncode == 0, result.stderr
    assert kudu.last.files() == reference_builds["4.2.0-post1"]
    assert demo_repo.git("status", "--porcelain") == ""
    assert demo_repo.git("rev-parse", "HEAD") == head
    assert demo_repo.git("ls-remote", "origin", "refs/heads/main").split()[0] == head
    assert demo_repo.git("show", "HEAD:ui/package.json") == committed
    assert (demo_repo.path / "ui" / "package.json").read_text() == committed + "\n"
    assert_no_secret(result, demo_repo)


def test_a_failed_deployment_fails_the_task_with_azures_log_and_a_rerun_deploys_again(
    demo_repo: Repo, kudu: KuduServer
) -> None:
    demo_repo.tag(TAG)
    kudu.fail_next("Oryx build failed: could not find a start command")

    failed = deploy(demo_repo, kudu, "--tag", TAG)

    assert failed.returncode == 1
    first = kudu.last
    assert f"error: deployment {first.id} of 4.2.0 to demo-ui (production) failed" in failed.stderr
    assert "Azure's deployment log:" in failed.stderr
    assert "| Oryx build failed: could not find a start command" in failed.stderr
    assert "|   at deployment step 'oryx build'" in failed.stderr  # the entry's details
    assert "Traceback" not in failed.stderr
    assert_no_secret(failed, demo_repo)

    again = deploy(demo_repo, kudu, "--tag", TAG)

    assert again.returncode == 0, again.stderr
    assert [d.status for d in kudu.deployments] == [3, 4]


def test_a_failing_build_fails_with_its_exit_code_and_last_lines_and_deploys_nothing(
    demo_repo: Repo, kudu: KuduServer
) -> None:
    pyproject = demo_repo.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'build = "npm run build"',
            "build = \"node -e \\\"console.log('compiling'); console.error('SyntaxError: "
            'unexpected token\'); process.exit(3)\\""',
        )
    )
    demo_repo.commit("a broken UI build")
    demo_repo.push()
    demo_repo.tag(TAG)

    result = deploy(demo_repo, kudu, "--tag", TAG)

    assert result.returncode == 1
    assert "error: the UI's build command `node -e" in result.stderr
    assert "failed with exit code 3 in ui; the last lines of its output:" in result.stderr
    assert "| SyntaxError: unexpected token" in result.stderr
    assert kudu.deployments == []
    assert_no_secret(result, demo_repo)


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        ("", "AZURE_WEBAPP_PUBLISH_PROFILE is not set: it holds the publish profile of demo-ui"),
        (
            f'<publishData><publishProfile publishMethod="MSDeploy" userPWD="{PASSWORD}"',
            "AZURE_WEBAPP_PUBLISH_PROFILE is not a valid publish profile: the XML is malformed",
        ),
        (
            publish_profile("demo-ui", PASSWORD, slot="staging"),
            "is for slot 'staging' of demo-ui, but [tool.release.ui] slot is 'production'",
        ),
        (
            publish_profile("demo-ui", "not-the-password-" + PASSWORD[::-1]),
            "refused the publish profile's credentials (401). SCM basic authentication may be "
            "disabled on the app: enable it with `az resource update --resource-group <group> "
            "--namespace Microsoft.Web --resource-type basicPublishingCredentialsPolicies "
            "--parent sites/demo-ui --name scm --set properties.allow=true`",
        ),
    ],
    ids=["missing", "malformed", "other-slot", "unauthorized"],
)
def test_credential_problems_stop_before_the_build_with_one_clear_message(
    demo_repo: Repo, kudu: KuduServer, profile: str, says: str
) -> None:
    demo_repo.tag(TAG)

    result = deploy(demo_repo, kudu, "--tag", TAG, AZURE_WEBAPP_PUBLISH_PROFILE=profile)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert says in errors[0]
    assert "built demo UI" not in result.stderr
    assert [r for r in kudu.requests if r[0] == "POST"] == []
    assert PASSWORD not in result.stdout + result.stderr
    assert PASSWORD[::-1] not in result.stdout + result.stderr


def test_the_ui_gets_its_version_even_when_package_json_is_not_a_configured_version_file(
    demo_repo: Repo, kudu: KuduServer
) -> None:
    pyproject = demo_repo.path / "pyproject.toml"
    text = pyproject.read_text()
    for name in ("ui/package.json", "ui/package-lock.json"):
        text = text.replace(
            f'[[tool.release.version-files]]\npath = "{name}"\nkind = "package-json"\n\n', ""
        )
    assert "ui/package" not in text
    pyproject.write_text(text)
    demo_repo.commit("the UI's version is not a configured version file")
    demo_repo.push()
    demo_repo.tag("version/4.3.0b2")

    result = deploy(demo_repo, kudu, "--tag", "version/4.3.0b2")

    assert result.returncode == 0, result.stderr
    assert "> demo-ui@4.3.0-beta.2 build" in result.stderr
    assert "built demo UI 4.3.0-beta.2" in result.stderr
    assert demo_repo.git("status", "--porcelain") == ""


def test_the_ui_build_leaves_the_shared_release_tree_as_it_was(
    demo_repo: Repo, tmp_path: Path
) -> None:
    from release.pipeline.preflight import resolve
    from release.run.context import Options
    from release.run.worktree import release_tree
    from release.steps.deploy_ui.archive import build_archive

    demo_repo.tag(TAG)
    ctx = resolve(TAG, Options(env={}), start=demo_repo.path)

    with release_tree(ctx) as shared:  # held open, as by a concurrent image build
        before = sorted(p.relative_to(shared).as_posix() for p in shared.rglob("*"))
        archive = build_archive(ctx, tmp_path)
        after = sorted(p.relative_to(shared).as_posix() for p in shared.rglob("*"))

    assert archive.files == ("assets/app.css", "index.html", "version.json")
    assert after == before
    assert "ui/dist" not in after
