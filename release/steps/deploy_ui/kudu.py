"""The client of Kudu, an App Service's SCM site: deploy a zip, read the deployment's status.

With the publish profile's Basic credentials (``release.steps.deploy_ui.profile``):
``POST /api/zipdeploy?isAsync=true`` (or OneDeploy's ``POST /api/publish?type=zip&async=true``)
answers a ``Location`` whose record (``/api/deployments/<id>``) is polled. The HTTP policy
is ``release.core.http``'s: reads (status polls, logs, the access check) are retried by
urllib3; the zip's POST, a file body reopened for each try, by a small loop on the same
numbers (deploying the same zip twice leaves the same site). Two waits are not retries and
keep their own cadence: between status polls (``POLL_SECONDS``) and while another
deployment runs (409, ``CONFLICT_SECONDS``); a server's ``Retry-After`` replaces either,
capped at the policy's ``max_wait``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import POLICY, parse_retry_after, retry_wait, session
from release.core.text import shown
from release.run.records import KUDU_ID
from release.steps.deploy_ui.profile import (
    PRODUCTION,
    PROFILE_ENV,
    SCM_URL_ENV,
    PublishProfile,
    configured_ui,
    deploy_api,
    scm_base_url,
)

if TYPE_CHECKING:
    from pathlib import Path

    import requests

    from release.run.context import ReleaseContext

POLL_SECONDS = 2.0  # between status polls, unless the server says otherwise (Retry-After)
CONFLICT_SECONDS = 10.0  # before retrying a deployment refused with 409
MIN_WAIT = 0.1
# The policy, with a longer read timeout: an upload of a large zip takes a while.
KUDU_POLICY = replace(POLICY, timeout=(POLICY.timeout[0], 300.0))


class DeployStatus(IntEnum):
    """Kudu's ``DeployStatus``: the ``status`` of a deployment record."""

    PENDING = 0
    BUILDING = 1
    DEPLOYING = 2
    FAILED = 3
    SUCCESS = 4
    COMPLETE = 5  # newer Kudu: finished without failure


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

    def deployment_url(self, deployment_id: str) -> str:
        """The record of one deployment; its id (from Kudu's answer or the state note) must
        be a plain token (``records.KUDU_ID``), never a path."""
        if not KUDU_ID.fullmatch(deployment_id):
            raise ReleaseError(
                f"refusing to read Kudu deployment {shown(deployment_id)}: not a deployment id"
            )
        return self.url(f"/api/deployments/{deployment_id}")

    def same_site(self, url: str) -> str:
        """``url`` (absolute or relative) on this SCM site: credentials never go elsewhere."""
        absolute = urlsplit(urljoin(self.base_url + "/", url))
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, absolute.path, absolute.query, ""))


def target_for(ctx: ReleaseContext, profile: PublishProfile | None) -> Target:
    """Where the release's UI goes: the profile's app and slot (the configured ones without
    a profile, in a dry run), on its SCM site or the override."""
    ui = configured_ui(ctx)
    return Target(
        base_url=scm_base_url(profile, ui, ctx.env),
        api=deploy_api(ctx.env),
        app=profile.app if profile else ui.azure_app,
        slot=profile.slot if profile else ui.slot,
    )


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
        # No proxies or .netrc: the profile is the credential. Reads are retried by urllib3;
        # the zip's POST by `_post_zip` alone (urllib3 would also repeat its connect errors).
        self.session = session(direct=True, policy=KUDU_POLICY)
        self.uploads = session(direct=True, policy=None)
        authorization = profile.authorization
        for made in (self.session, self.uploads):
            made.headers["Authorization"] = authorization

    def close(self) -> None:
        self.session.close()
        self.uploads.close()

    def _get(self, url: str) -> requests.Response:
        """``GET url``, retried by urllib3 under the policy (a cut connection, a 5xx, a 429)."""
        import requests

        try:
            response = self.session.get(url, timeout=KUDU_POLICY.timeout, allow_redirects=False)
        except requests.RequestException as error:
            raise self._unreachable(error) from None
        return self._authorized(response)

    def _post_zip(self, path: Path) -> requests.Response:
        """POST the zip at ``path``; a cut connection or a policy status is tried again.

        urllib3 cannot repeat it (the file body is reopened for each try), so this loop does,
        with the policy's attempts, backoff, ``Retry-After`` cap and deadline.
        """
        import requests

        url = self.target.deploy_url
        failures = 0
        first_failure = 0.0
        while True:
            try:
                with path.open("rb") as body:
                    response = self.uploads.post(
                        url,
                        data=body,
                        headers={"Content-Type": "application/zip"},
                        timeout=KUDU_POLICY.timeout,
                        allow_redirects=False,
                    )
            except (requests.ConnectionError, requests.Timeout) as error:
                failures += 1
                first_failure = first_failure or time.monotonic()
                if not KUDU_POLICY.allows(failures, first_failure):
                    raise self._unreachable(error, attempts=failures) from None
                why, wait = type(error).__name__, retry_wait(failures, None, KUDU_POLICY)
            except requests.RequestException as error:
                raise self._unreachable(error) from None
            else:
                status = self._authorized(response).status_code
                if status not in KUDU_POLICY.statuses:
                    return response
                failures += 1
                first_failure = first_failure or time.monotonic()
                if not KUDU_POLICY.allows(failures, first_failure):
                    return response
                why, wait = f"HTTP {status}", retry_wait(failures, response.headers, KUDU_POLICY)
                response.close()
            console.info(
                f"deploy-ui: POST {urlsplit(url).path} at {self.target.host}: {why}; "
                f"trying again in {wait:g} s"
            )
            time.sleep(wait)

    def _unreachable(self, error: Exception, attempts: int = 0) -> ReleaseError:
        tried = f" ({attempts} attempts)" if attempts else ""
        return ReleaseError(
            f"could not reach the SCM site {self.target.host}: {type(error).__name__}{tried}",
            f"check the network, or {SCM_URL_ENV} when it is set",
        )

    def _authorized(self, response: requests.Response) -> requests.Response:
        if response.status_code == 401:
            response.close()
            raise ReleaseError(self._unauthorized())
        return response

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
        response = self._get(self.target.url("/api/deployments"))
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

    def start(self, path: Path, deadline: float) -> str:
        """POST the zip at ``path``; the URL to poll. A 409 (another deployment in
        progress) waits and tries again until ``deadline``."""
        while True:
            response = self._post_zip(path)
            if response.status_code in (200, 202):
                location = response.headers.get("Location")
                return self.target.same_site(location or "/api/deployments/latest")
            if response.status_code != 409:
                raise ReleaseError(
                    f"the SCM site {self.target.host} refused the deployment: {_describe(response)}"
                )
            wait = _server_wait(response, CONFLICT_SECONDS)
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
        return self._record(self._get(url))

    def _record(self, response: requests.Response) -> tuple[Deployment, float]:
        if response.status_code not in (200, 202):
            raise ReleaseError(
                f"reading the deployment status at {self.target.host} failed: {_describe(response)}"
            )
        try:
            body = response.json()
            if not KUDU_ID.fullmatch(str(body["id"])):
                raise ValueError("not a deployment id")
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
        return record, _server_wait(response, POLL_SECONDS)

    def find(self, deployment_id: str) -> Deployment | None:
        """The record of an earlier deployment, or None when the site does not know it."""
        response = self._get(self.target.deployment_url(deployment_id))
        if response.status_code == 404:
            return None
        return self._record(response)[0]

    def log(self, deployment: Deployment) -> list[str]:
        """Azure's log of ``deployment``: its entries, each followed by its details."""
        url = self.target.same_site(
            deployment.log_url or self.target.deployment_url(deployment.id) + "/log"
        )
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
            response = self._get(url)
            entries = response.json() if response.status_code == 200 else []
        except (ReleaseError, ValueError):
            return []
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


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


def _server_wait(response: requests.Response, default: float) -> float:
    """The server's ``Retry-After`` (capped at the policy's ``max_wait``), else ``default``."""
    seconds = parse_retry_after(response.headers.get("Retry-After"))
    return default if seconds is None else min(seconds, KUDU_POLICY.max_wait)


def _describe(response: requests.Response) -> str:
    text = " ".join(response.text.split())[:300]
    return f"HTTP {response.status_code} {response.reason}" + (f": {text}" if text else "")
