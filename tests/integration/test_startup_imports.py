"""Heavy libraries load only in the tasks that need them (issue "Benchmarks", start-up).

The real ``invoke`` runs with ``PYTHONPROFILEIMPORTTIME``, which makes Python list the
modules it imports on stderr (those of import statements); the tests read that list. ``bench/startup.py`` measures the
time itself; these only guard against a heavy import creeping back in.
"""

from __future__ import annotations

import pytest

from devservices.azure import publish_profile
from tests.repos import Repo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Network, engine and display libraries that check-version --offline has no use for.
HEAVY = ("requests", "urllib3", "docker", "twine", "keyring", "rich.live", "rich.progress")
# The light modules of the steps: their pre-flight checks and what those read offline.
LIGHT_STEP_MODULES = ("checks", "credentials", "platforms", "profile", "webhook")
# What runs steps, which check-version has no use for either.
PIPELINE_MACHINERY = (
    "release.run.worktree",
    "release.pipeline.scheduler",
    "release.pipeline.report",
)
FAKE_SECRET = "startup-imports-secret-value"


def imported(stderr: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def credentials() -> dict[str, str]:
    """Credentials of every step, so that every step's own checks run and pass offline."""
    return {
        "TWINE_USERNAME": "ci",
        "TWINE_PASSWORD": FAKE_SECRET,
        "DISCORD_WEBHOOK_URL": f"https://discord.com/api/webhooks/1/{FAKE_SECRET}",
        "AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile("demo-ui", FAKE_SECRET),
        "PYTHONPROFILEIMPORTTIME": "1",
    }


def test_check_version_offline_imports_no_network_engine_or_live_display_library(
    demo_repo: Repo, tmp_path
):
    demo_repo.tag("version/1.0.0")
    home = tmp_path / "home"  # no ~/.pypirc and no ~/.docker/config.json
    home.mkdir()
    result = demo_repo.invoke(
        "check-version",
        "--tag",
        "version/1.0.0",
        "--offline",
        env={**credentials(), "HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    modules = imported(result.stderr)
    # The checks modules themselves are loaded by importlib.import_module, which the list does
    # not show; these are imported by the upload and push-image checks.
    assert {"release.steps.pypi.credentials", "release.steps.images.credentials"} <= modules
    # None of the steps' own machinery is: their checks import it only when online.
    machinery = {
        m
        for m in modules
        if m.startswith("release.steps.")
        and m.count(".") == 3
        and m.rsplit(".", 1)[1] not in LIGHT_STEP_MODULES
    }
    assert sorted(machinery | (modules & set(PIPELINE_MACHINERY))) == []
    assert "release.steps.pypi.credentials" in modules  # the filter above sees step modules
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY) == []
    assert FAKE_SECRET not in result.stdout + result.stderr


def test_list_imports_no_rich(demo_repo: Repo):
    result = demo_repo.invoke("--list", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    modules = imported(result.stderr)
    assert "release.core.console" in modules
    assert sorted(m for m in modules if m.split(".")[0] == "rich") == []
