"""The UI release: the npm version, the npm build, and the deployment to an Azure App Service.

``deploy-ui`` (DESIGN.md "Tasks", issue 9):

1. In the release worktree of the tagged commit (``release.run.worktree.release_tree``) the npm
   form of the version is in ``<ui.path>/package.json`` and ``package-lock.json`` (written
   by the bump writers; written here when they are not configured version files). The
   user's working tree is never touched, and nothing is committed.
2. ``ui.install`` and ``ui.build`` run in ``<ui.path>`` of a private copy of that tree (the
   tree is shared with the image builds, which must not see ``node_modules``), their output
   streamed; a failure names the command, its exit code and the last lines of its output.
3. ``<ui.path>/<ui.output>`` is zipped deterministically (sorted entries, the tag's time as
   every entry's timestamp: fixed for one tag, newer for each release, because zip deploy
   copies only files whose timestamps changed) and deployed with Kudu's API, with the
   credentials of the publish profile in ``AZURE_WEBAPP_PUBLISH_PROFILE``:
   ``POST /api/zipdeploy?isAsync=true`` by default, or OneDeploy,
   ``POST /api/publish?type=zip&async=true``, with ``RELEASE_AZURE_DEPLOY_API=onedeploy``.
   The ``Location`` answered is polled until the deployment succeeds (status 4) or fails
   (3, with Azure's log), at most ``ui.deploy-timeout`` seconds. ``409`` (another
   deployment running) waits and retries within the same time; ``401`` explains how to
   enable SCM basic authentication. A cut connection, a 5xx or a 429 is tried again (four
   attempts, 1, 2 and 4 s apart, or ``Retry-After``): polls are reads, and deploying the
   same zip twice leaves the same site. ``RELEASE_AZURE_SCM_URL`` replaces the SCM site of the
   profile (tests point it at ``devservices.azure``).

The slot is the profile's (a slot's profile names its site ``<app>__<slot>``); a configured
``ui.slot`` or ``ui.azure-app`` that does not match it is an error. The deployment id and
outcome go into the release's state: a re-run after a success is done; a re-run after an
interrupted deployment looks at that deployment first.

The publish profile is read by ``release.steps.deploy_ui.profile``; the pre-flight checks (the API,
the SCM site, the profile) are ``release.steps.deploy_ui.checks``, which imports this module only
to ask the SCM site, online.

Pre-releases are built and not deployed (``deploy_ui``, the task's entry point).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from release.core import console
from release.core.config import UI, Config, VersionFile
from release.core.errors import ReleaseError, StepError
from release.core.http import session
from release.run.context import ReleaseContext
from release.run.step import StepResult
from release.steps.deploy_ui.checks import SCM_URL_ENV, deploy_api, scm_base_url
from release.steps.deploy_ui.profile import (
    PRODUCTION,
    PROFILE_ENV,
    PublishProfile,
    profile_problems,
    read_publish_profile,
)
from release.steps.deploy_ui.profile import (
    parse_publish_profile as parse_publish_profile,  # re-exported
)

if TYPE_CHECKING:
    import requests

STEP = "deploy-ui"
TAIL_LINES = 20  # lines of a failed command's output, or of Azure's log, in the error
POLL_SECONDS = 2.0  # between status polls, unless the server says otherwise (Retry-After)
CONFLICT_SECONDS = 10.0  # before retrying a deployment refused with 409
MIN_WAIT = 0.1
HTTP_TIMEOUT = (10.0, 300.0)  # connect, read (an upload of a large zip takes a while)
HTTP_ATTEMPTS = 4  # per request, for a cut connection, a 5xx or a 429
HTTP_BACKOFF = 1.0  # seconds before the second attempt, doubled for each further one
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold

# Environment variables a UI build never needs and must not see.
BUILD_ENV_SECRETS = (
    PROFILE_ENV,
    "TWINE_PASSWORD",
    "TWINE_USERNAME",
    "DISCORD_WEBHOOK_URL",
    "RELEASE_REGISTRY_PASSWORD",
)


class DeployStatus(IntEnum):
    """Kudu's ``DeployStatus``: the ``status`` of a deployment record."""

    PENDING = 0
    BUILDING = 1
    DEPLOYING = 2
    FAILED = 3
    SUCCESS = 4
    COMPLETE = 5  # newer Kudu: finished without failure


# -- where the deployment goes -------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The SCM site and API a deployment uses."""

    base_url: str  # scheme://host[:port] of the SCM site, no trailing slash
    api: str  # "zipdeploy" or "onedeploy"
    app: str
    slot: str

    @property
    def deploy_url(self) -> str:
        if self.api == "onedeploy":
            return f"{self.base_url}/api/publish?type=zip&async=true"
        return f"{self.base_url}/api/zipdeploy?isAsync=true"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def same_site(self, url: str) -> str:
        """``url`` (absolute or relative) on this SCM site: credentials never go elsewhere."""
        absolute = urlsplit(urljoin(self.base_url + "/", url))
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, absolute.path, absolute.query, ""))


def target_for(ctx: ReleaseContext, profile: PublishProfile | None) -> Target:
    ui = _ui(ctx)
    return Target(
        base_url=scm_base_url(profile, ui, ctx.env),
        api=deploy_api(ctx.env),
        app=profile.app if profile else ui.azure_app,
        slot=profile.slot if profile else ui.slot,
    )


# -- the build -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """The zip of the UI's build output."""

    path: Path
    files: tuple[str, ...]
    size: int  # bytes of the zip
    sha256: str

    def describe(self) -> str:
        return f"{len(self.files)} file(s), {_size(self.size)}, sha256 {self.sha256[:12]}"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"


def zip_folder(folder: Path, target: Path, timestamp: int) -> Archive:
    """Zip every file under ``folder`` into ``target``, reproducibly.

    Entries are the files' paths relative to ``folder`` in sorted order, each with the same
    timestamp (``timestamp``, seconds since the epoch, UTC) and permissions 0644 (0755 when
    executable); a symbolic link to a file is stored as that file. The same folder gives the
    same bytes.
    """
    files = sorted(
        (path.relative_to(folder).as_posix(), path) for path in folder.rglob("*") if path.is_file()
    )
    stamp = time.gmtime(max(timestamp, ZIP_EPOCH))[:6]
    with zipfile.ZipFile(target, "w") as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that the permissions below mean what they say
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    data = target.read_bytes()
    return Archive(
        path=target,
        files=tuple(name for name, _ in files),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
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
    from release.core.writers import write_versions

    ui = _ui(ctx)
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
    except (OSError, ValueError, AttributeError) as error:
        raise ReleaseError(f"cannot read the UI's {path.name}: {error}") from None
    if found != expected:
        raise ReleaseError(
            f"the UI's package.json holds version {found!r} after the version was written, "
            f"not {expected!r}"
        )


def tag_time(ctx: ReleaseContext) -> int:
    """When the tag was made (the tagger's date, else the commit's): every zip timestamp."""
    committed = ctx.git.commit_time(ctx.commit)
    result = ctx.git.run(
        "for-each-ref", "--format=%(taggerdate:raw)", f"refs/tags/{ctx.tag}", check=False
    )
    tagged = result.stdout.split()[:1]
    if result.returncode == 0 and tagged and tagged[0].isdigit():
        return max(int(tagged[0]), committed)
    return committed


def build_archive(ctx: ReleaseContext, destination: Path) -> Archive:
    """Build the UI from the release tree and zip its output into ``destination``.

    The release tree is shared with the other builds of the release (image builds send it
    as their context), so the UI is built in a private copy of it (without ``.git``):
    ``node_modules`` and the build output never appear in another build.
    """
    from release.run.worktree import release_tree

    ui = _ui(ctx)
    tree = destination / "tree"
    with release_tree(ctx) as shared:
        shutil.copytree(shared, tree, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    try:
        folder = tree / ui.path
        write_ui_version(ctx, tree)
        env = build_env(ctx)
        with console.group(f"deploy-ui: build {ui.path} {ctx.version.npm}"):
            run_command(ui.install, folder, env, "the UI's install command")
            run_command(ui.build, folder, env, "the UI's build command")
        output = folder / ui.output
        if not output.is_dir():
            raise ReleaseError(
                f"the UI's build did not create {ui.path}/{ui.output}",
                "check [tool.release.ui] output (relative to the UI's path)",
            )
        archive = zip_folder(
            output, destination / f"{ui.azure_app}-{ctx.version.npm}.zip", tag_time(ctx)
        )
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    if not archive.files:
        raise ReleaseError(f"the UI's build left {ui.path}/{ui.output} empty: nothing to deploy")
    console.info(f"deploy-ui: built {ui.path}/{ui.output}: {archive.describe()}")
    return archive


# -- the deployment API ----------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """A Kudu deployment record (the JSON of ``/api/deployments/<id>``)."""

    id: str
    status: int
    status_text: str
    complete: bool
    log_url: str | None
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status in (DeployStatus.SUCCESS, DeployStatus.COMPLETE)

    @property
    def failed(self) -> bool:
        return self.status == DeployStatus.FAILED

    @property
    def status_name(self) -> str:
        try:
            name = DeployStatus(self.status).name.capitalize()
        except ValueError:
            name = str(self.status)
        return (
            f"{name} ({self.status_text})"
            if self.status_text and self.status_text != name
            else name
        )


class Kudu:
    """The client of one SCM site's deployment API, with the profile's Basic credentials."""

    def __init__(self, target: Target, profile: PublishProfile) -> None:
        self.target = target
        self.profile = profile
        self.session = session(direct=True)  # no proxies or .netrc: the profile is the credential
        self.session.headers["Authorization"] = profile.authorization

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """``method url``; a cut connection, a 5xx or a 429 is tried again (HTTP_ATTEMPTS)."""
        import requests

        for attempt in range(1, HTTP_ATTEMPTS + 1):
            delay = HTTP_BACKOFF * 2 ** (attempt - 1)
            try:
                response = self.session.request(
                    method, url, timeout=HTTP_TIMEOUT, allow_redirects=False, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt == HTTP_ATTEMPTS:
                    raise ReleaseError(
                        f"could not reach the SCM site {self.target.host}: "
                        f"{type(error).__name__} ({attempt} attempts)",
                        f"check the network, or {SCM_URL_ENV} when it is set",
                    ) from None
                why = type(error).__name__
            except requests.RequestException as error:
                raise ReleaseError(
                    f"could not reach the SCM site {self.target.host}: {type(error).__name__}",
                    f"check the network, or {SCM_URL_ENV} when it is set",
                ) from None
            else:
                if response.status_code == 401:
                    raise ReleaseError(self._unauthorized())
                status = response.status_code
                if attempt == HTTP_ATTEMPTS or not (status == 429 or status >= 500):
                    return response
                why = f"HTTP {status}"
                delay = _retry_after(response, delay)
                response.close()
            console.info(
                f"deploy-ui: {method} {urlsplit(url).path} at {self.target.host}: {why}; "
                f"trying again in {delay:g} s"
            )
            time.sleep(max(delay, MIN_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover

    def _unauthorized(self) -> str:
        app, slot = self.target.app, self.target.slot
        parent = f"sites/{app}" if slot == PRODUCTION else f"sites/{app}/slots/{slot}"
        return (
            f"the SCM site {self.target.host} refused the publish profile's credentials (401). "
            "SCM basic authentication may be disabled on the app: enable it with `az resource "
            f"update --resource-group <group> --namespace Microsoft.Web --resource-type "
            f"basicPublishingCredentialsPolicies --parent {parent} --name scm --set "
            "properties.allow=true`, or in the portal (the app's Configuration > General "
            "settings > SCM Basic Auth Publishing Credentials: On); if the credentials were "
            f"reset, download the publish profile again and update {PROFILE_ENV}"
        )

    def check_access(self) -> None:
        """List the site's deployments: raises when it is unreachable, refuses us, or keeps
        failing (a 5xx after every attempt: the deployment would meet the same site)."""
        response = self._request("GET", self.target.url("/api/deployments"))
        if response.status_code == 403:
            raise ReleaseError(
                f"the SCM site {self.target.host} refused access (403)",
                "check the app's access restrictions for its SCM site",
            )
        if response.status_code >= 400:
            raise ReleaseError(
                f"the SCM site {self.target.host} cannot list its deployments: "
                f"{_describe(response)}",
                "check the app's health in the portal, then run the same command again",
            )

    def start(self, archive: Archive, deadline: float) -> str:
        """POST the zip; the URL to poll. A 409 waits and retries until ``deadline``."""
        data = archive.path.read_bytes()
        while True:
            response = self._request(
                "POST",
                self.target.deploy_url,
                data=data,
                headers={"Content-Type": "application/zip"},
            )
            if response.status_code in (200, 202):
                location = response.headers.get("Location")
                return self.target.same_site(location or "/api/deployments/latest")
            if response.status_code != 409:
                raise ReleaseError(
                    f"the SCM site {self.target.host} refused the deployment: {_describe(response)}"
                )
            wait = _retry_after(response, CONFLICT_SECONDS)
            if time.monotonic() + wait > deadline:
                raise ReleaseError(
                    f"another deployment to {self.target.app} ({self.target.slot}) was still "
                    "in progress when the deploy timeout ran out (409 Conflict); nothing was "
                    "deployed",
                    "wait for it to finish, then run the same command again",
                )
            console.info(
                f"deploy-ui: another deployment is in progress (409); retrying in {wait:g} s"
            )
            time.sleep(max(wait, MIN_WAIT))

    def deployment(self, url: str) -> tuple[Deployment, float]:
        """The deployment record at ``url`` and how long to wait before the next poll."""
        return self._record(self._request("GET", url))

    def _record(self, response: requests.Response) -> tuple[Deployment, float]:
        if response.status_code not in (200, 202):
            raise ReleaseError(
                f"reading the deployment status at {self.target.host} failed: {_describe(response)}"
            )
        try:
            body = response.json()
            record = Deployment(
                id=str(body["id"]),
                status=int(body["status"]),
                status_text=str(body.get("status_text") or ""),
                complete=bool(body.get("complete")),
                log_url=body.get("log_url"),
                message=str(body.get("message") or ""),
            )
        except (ValueError, KeyError, TypeError):
            raise ReleaseError(
                f"the SCM site {self.target.host} answered the deployment status with "
                "something that is not a Kudu deployment record"
            ) from None
        return record, _retry_after(response, POLL_SECONDS)

    def find(self, deployment_id: str) -> Deployment | None:
        """The record of an earlier deployment, or None when the site does not know it."""
        response = self._request("GET", self.target.url(f"/api/deployments/{deployment_id}"))
        if response.status_code == 404:
            return None
        return self._record(response)[0]

    def log(self, deployment: Deployment) -> list[str]:
        """Azure's log of ``deployment``: its entries, each followed by its details."""
        url = self.target.same_site(deployment.log_url or f"/api/deployments/{deployment.id}/log")
        lines: list[str] = []
        for entry in self._entries(url):
            lines.append(str(entry.get("message", "")))
            details = entry.get("details_url")
            if details:
                lines.extend(
                    f"  {e.get('message', '')}"
                    for e in self._entries(self.target.same_site(details))
                )
        return [line for line in lines if line.strip()]

    def _entries(self, url: str) -> list[dict[str, Any]]:
        try:
            response = self._request("GET", url)
            entries = response.json() if response.status_code == 200 else []
        except (ReleaseError, ValueError):
            return []
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _retry_after(response: requests.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else default


def _describe(response: requests.Response) -> str:
    text = " ".join(response.text.split())[:300]
    return f"HTTP {response.status_code} {response.reason}" + (f": {text}" if text else "")


# -- the step -------------------------------------------------------------------------------


def access_problems(target: Target, profile: PublishProfile) -> list[str]:
    """Whether the SCM site answers and accepts the credentials (a read-only request): the
    online part of the pre-flight checks (``release.steps.deploy_ui.checks``)."""
    kudu = Kudu(target, profile)
    try:
        kudu.check_access()
    except ReleaseError as error:
        return [str(error)]
    finally:
        kudu.close()
    return []


def _ui(ctx: ReleaseContext) -> UI:
    if ctx.config.ui is None:
        raise ReleaseError("[tool.release.ui] is not configured: there is no UI to deploy")
    return ctx.config.ui


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
        if ctx.options.dry_run:
            return self.describe(ctx, prepared)
        return self.publish(ctx, prepared, resume=False)

    # The scheduler of `release` calls these: all local work first, then the side effects.

    def cleanup(self, prepared: Prepared) -> None:
        """Remove the scratch folder of the build, if ``publish`` or ``describe`` did not."""
        prepared.cleanup()

    def prepare(self, ctx: ReleaseContext) -> Prepared:
        """Everything before the deployment: the credentials, the target and the built zip."""
        done = self._finished(ctx)
        if done is not None:
            return Prepared(done=done)
        ui = _ui(ctx)
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
        try:
            if prepared.done is not None:
                return _recorded_again(ctx, prepared.done)
            if resume:
                earlier = self._resume(ctx)
                if earlier is not None:
                    return earlier
            assert prepared.profile and prepared.target and prepared.archive
            return deploy_archive(ctx, prepared.target, prepared.profile, prepared.archive)
        finally:
            prepared.cleanup()

    def describe(self, ctx: ReleaseContext, prepared: Prepared) -> StepResult:
        """What ``publish`` would do (``--dry-run``)."""
        try:
            if prepared.done is not None:
                return prepared.done
            assert prepared.target and prepared.archive
            return self._dry_run(ctx, prepared.target, prepared.archive)
        finally:
            prepared.cleanup()

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
            url = target.url(f"/api/deployments/{found.id}")
            deadline = time.monotonic() + _ui(ctx).deploy_timeout
            final = wait_for(kudu, url, deadline, ctx, record)
            return _finish(ctx, kudu, final, record)
        finally:
            kudu.close()

    def _dry_run(self, ctx: ReleaseContext, target: Target, archive: Archive) -> StepResult:
        ui = _ui(ctx)
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
    ui = _ui(ctx)
    base = {
        "app": target.app,
        "slot": target.slot,
        "host": target.host,
        "api": target.api,
        "npm_version": ctx.version.npm,
        "files": len(archive.files),
        "bytes": archive.size,
        "sha256": archive.sha256,
    }
    console.info(
        f"deploy-ui: deploying {archive.describe()} to {target.host} ({target.app}, "
        f"{target.slot}) with {target.api}, waiting at most {ui.deploy_timeout} s"
    )
    kudu = Kudu(target, profile)
    try:
        deadline = time.monotonic() + ui.deploy_timeout
        url = kudu.start(archive, deadline)
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
            url = kudu.target.url(f"/api/deployments/{current.id}")
        if last is None or last.status != current.status:
            console.info(f"deploy-ui: deployment {current.id}: {current.status_name}")
        last = current
        if current.succeeded or current.failed:
            return current
        if time.monotonic() + wait > deadline:
            ui = _ui(ctx)
            raise StepError(
                f"deployment {current.id} to {kudu.target.app} ({kudu.target.slot}) did not "
                f"finish within {ui.deploy_timeout} s (last status: {current.status_name}); it "
                f"may still finish: see {kudu.target.url('/api/deployments/' + current.id)}",
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


DEPLOY_UI = DeployUI()
