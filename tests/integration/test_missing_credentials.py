"""``invoke check-version`` with every step configured and no credential at all.

The real command, in a demo repository whose every step runs for a final release, against
real services that want credentials (pypiserver with authenticated upload, a registry with
Basic auth, the Docker engine), with ``HOME`` an empty folder (no ``~/.pypirc``, no
``~/.docker/config.json``), no keyring and no credential variable: one run lists every
missing credential, each on its own line with its fix, and exits 1 having changed nothing.

The steps expected to complain are read from the step catalog: every entry with pre-flight
checks, except those whose checks need no credential. A new step with checks fails this
test until its missing credential (and its fix) has a row in ``CREDENTIALS``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from devservices.engine import DockerEngine
from devservices.pypi import PypiServer
from devservices.registry import Registry
from release.run.catalog import CATALOG, NAMES
from tests.repos import CHECKOUT, Repo, clean_env

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TAG = "version/3.0.0"  # a final release: every step runs

# The steps whose pre-flight checks ask for no credential (the bump pushes with git's own).
NO_CREDENTIAL = {"bump"}

# Per step: the phrases of its one error line, the missing credential and then its fix.
# ``{upload}`` and ``{registry}`` are the services' addresses.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "upload": (
        "no upload credentials for {upload}",
        "set TWINE_USERNAME and TWINE_PASSWORD",
        "add a ~/.pypirc entry whose repository is this URL",
    ),
    "push-image": (
        "registry {registry} requires credentials and none are set",
        "set RELEASE_REGISTRY_USERNAME and RELEASE_REGISTRY_PASSWORD, or run `docker login "
        "{registry}`",
    ),
    "deploy-ui": (
        "AZURE_WEBAPP_PUBLISH_PROFILE is not set",
        "the Azure portal's 'Download publish profile'; in CI, a secret",
    ),
    "notify": (
        "DISCORD_WEBHOOK_URL is not set",
        "set it to the channel's webhook URL",
    ),
    "github-release": (
        "GITHUB_TOKEN is not set",
        "set GITHUB_TOKEN to a token that may write the repository's contents",
    ),
}

# What turns a step on where the demo leaves it off (the demo's remote is a local folder, so
# a GitHub release needs its repository named).
CONFIGURE = {"github-release": ("github", {"repository": "demo-org/demo"})}

# Any variable that could hand the tool a credential, or point it at one.
CREDENTIAL_WORDS = ("TOKEN", "PASSWORD", "SECRET", "WEBHOOK", "PROFILE", "USERNAME", "_AUTH_")
CREDENTIAL_PREFIXES = ("TWINE_", "RELEASE_REGISTRY_", "ACTIONS_", "GITHUB_", "DOCKER_CONFIG")


def expected_steps() -> list[str]:
    return [s.name for s in CATALOG if s.checks is not None and s.name not in NO_CREDENTIAL]


def without_credentials(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        name: value
        for name, value in clean_env().items()
        if not any(word in name for word in CREDENTIAL_WORDS)
        and not name.startswith(CREDENTIAL_PREFIXES)
        and name not in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "PIP_INDEX_URL")
    }
    env.update(extra)
    env["HOME"] = str(home)
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # no keyring to ask
    return env


def invoke(repo: Repo, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), *args],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def configure_every_step(repo: Repo, env: dict[str, str]) -> None:
    """Turn on the catalog's steps the demo leaves off; then every step runs for ``TAG``."""
    plan = invoke(
        repo, env, "check-version", "--tag", TAG, "--json", "--offline", "--skip-credentials"
    )
    assert plan.returncode == 0, plan.stderr
    off = [name for name, what in json.loads(plan.stdout)["steps"].items() if what != "run"]
    if off:
        path = repo.path / "pyproject.toml"
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        for name in off:
            assert name in CONFIGURE, f"{name} is not configured by the demo: {plan.stdout}"
            table, values = CONFIGURE[name]
            document["tool"]["release"][table] = values  # type: ignore[index]
        path.write_text(tomlkit.dumps(document), encoding="utf-8")
        repo.commit("configure every step")
        repo.push()
        repo.git("tag", "-d", TAG)
        repo.git("push", "-q", "origin", f":refs/tags/{TAG}")
        repo.tag(TAG)
        plan = invoke(
            repo, env, "check-version", "--tag", TAG, "--json", "--offline", "--skip-credentials"
        )
        assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["steps"] == dict.fromkeys(NAMES, "run")


def test_every_missing_credential_is_listed_in_one_run_each_with_its_fix(
    demo_repo: Repo,
    pypi_server: PypiServer,
    auth_registry: Registry,
    docker_engine: DockerEngine,
    tmp_path: Path,
):
    steps = expected_steps()
    assert set(steps) <= set(CREDENTIALS), (
        f"a step with checks has no row in CREDENTIALS: {set(steps) - set(CREDENTIALS)}"
    )
    home = tmp_path / "home"
    home.mkdir()
    services = {
        "TWINE_REPOSITORY_URL": pypi_server.upload_url,
        "RELEASE_INDEX_URL": pypi_server.index_url,
        "RELEASE_REGISTRY": auth_registry.host,
        **docker_engine.env(),
    }
    env = without_credentials(home, services)
    assert not any(w in n for n in env for w in ("PASSWORD", "TOKEN", "WEBHOOK"))
    demo_repo.tag(TAG)
    configure_every_step(demo_repo, env)
    remote = demo_repo.git("ls-remote", "origin")
    head = demo_repo.git("rev-parse", "HEAD")

    result = invoke(demo_repo, env, "check-version", "--tag", TAG)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors[-1] == f"error: {len(steps)} pre-flight checks failed: nothing was changed"
    by_step = {line.split(":")[1].strip(): line for line in errors[:-1]}
    assert len(by_step) == len(errors) - 1, errors  # one line per step
    assert sorted(by_step) == sorted(steps), errors  # every credential, and nothing else
    addresses = {"upload": pypi_server.upload_url, "registry": auth_registry.host}
    for step in steps:
        line = by_step[step]
        phrases = [p.format(**addresses) for p in CREDENTIALS[step]]
        positions = [line.find(phrase) for phrase in phrases]
        assert -1 not in positions, (step, phrases, line)
        assert positions == sorted(positions), line  # what is missing, then the fix
    assert list(home.iterdir()) == []
    assert demo_repo.git("ls-remote", "origin") == remote
    assert demo_repo.git("rev-parse", "HEAD") == head
    assert demo_repo.git("status", "--porcelain") == ""
