"""GitHub's REST API for releases and their assets, on the one HTTP policy.

The calls the step makes: the repository (the pre-flight's "can the token see it"), the
releases (listed with their drafts: a draft is not found by its tag), one release by id or
by tag, the latest release, a release created, updated and published, its assets listed,
uploaded to the ``upload_url`` the API answers, deleted (the leftover of a broken upload),
and downloaded (to compare one whose ``digest`` GitHub does not give).

GitHub's documented contract, as the client follows it:

- every request carries ``Authorization: Bearer <GITHUB_TOKEN>`` (masked), ``Accept:
  application/vnd.github+json`` and ``X-GitHub-Api-Version``; redirects are not followed,
  except a download's to its storage, without the token;
- a rate limit (403 or 429 with ``x-ratelimit-remaining: 0``, or a ``retry-after``, or a
  secondary limit's message) waits what GitHub asks, ``retry-after`` or until
  ``x-ratelimit-reset``, never more than the policy's cap, and tries again, within the
  policy's attempts and deadline; a refused request did nothing, so a POST is tried again too;
- a cut connection or a 5xx is tried again for the calls that may be repeated (GET, PATCH
  of the same fields, DELETE); a POST (a release created, an asset uploaded) whose answer
  is lost raises ``AnswerLost``: GitHub may have done it, and the step looks before it
  sends it again;
- 401 and 404 are errors naming the token's or the repository's problem; a 422
  ``already_exists`` raises ``AlreadyExists``, which the step compares, not fatal.

Every number of the retries (attempts, backoff, the cap on any wait, the deadline) comes
from ``release.core.http.POLICY``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import (
    POLICY,
    insecure_for_credentials,
    is_loopback,
    not_https,
    parse_retry_after,
    public_url,
    same_origin,
    sent_nothing,
    session,
)
from release.steps.github_release.credentials import API_ENV, TOKEN_ENV, TOKEN_FIX, Target
from release.steps.github_release.rules import LocalAsset

if TYPE_CHECKING:
    import requests

API_VERSION = "2022-11-28"
MAX_PAGES = 100  # of 100 releases each
UPLOAD_TIMEOUT = (10.0, 600.0)
SERVER_ERRORS = frozenset({500, 502, 503, 504})
CONTENT_TYPES = {".zip": "application/zip", ".gz": "application/gzip"}
_WEB_PAGE = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'*+,;=%-]{1,2000}")


# The sha256 of each asset downloaded in this process: an asset's bytes never change under its
# id (a different file is a new asset), so the step's local phase and its publish share them.
_downloaded: dict[tuple[str, str, int], str] = {}


class GitHubError(ReleaseError):
    """GitHub refused a request and said why."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class AnswerLost(ReleaseError):
    """The request was sent and no answer came: GitHub may have acted on it."""


class AlreadyExists(GitHubError):
    """422 ``already_exists``: a release of the tag, or an asset of the name, is there."""


def upload_host_problem(api: str, url: str) -> str | None:
    """Why the token may not go to the upload URL ``url`` of the API at ``api`` (None: it may).

    The token goes only to the API's own host or ``uploads.<host>`` (api.github.com's
    uploads.github.com, a GitHub Enterprise server's own host), and, when the API is on this
    machine (a contract server), to this machine on any port."""
    api_host = (urlsplit(api).hostname or "").lower()
    host = (urlsplit(url).hostname or "").lower()
    base = api_host.removeprefix("api.")
    if host in {api_host, f"uploads.{base}"} or (is_loopback(api_host) and is_loopback(host)):
        return None
    return f"{public_url(url)} is not on {api_host} or uploads.{base}: the token is not sent there"


def access_problem(target: Target) -> str | None:
    """Why the token cannot see the repository (None: it can)."""
    client = GitHubClient(target)
    try:
        client.repository()
    except ReleaseError as error:
        return str(error)
    finally:
        client.close()
    return None


class GitHubClient:
    """The releases of one repository (see the module for the contract it follows)."""

    def __init__(self, target: Target, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.target = target
        self.base = f"{target.api}/repos/{target.repository}"
        self._sleep = sleep
        self._session = session(direct=is_loopback(urlsplit(target.api).hostname), policy=None)
        self._session.headers["Accept"] = "application/vnd.github+json"
        self._session.headers["X-GitHub-Api-Version"] = API_VERSION
        if target.token:
            self._session.headers["Authorization"] = f"Bearer {target.token}"

    def close(self) -> None:
        self._session.close()

    # -- the calls ---------------------------------------------------------------------

    def repository(self) -> dict[str, Any]:
        return self._json(self._request("GET", self.base, what=f"the repository {self._repo}"))

    def releases(self) -> list[dict[str, Any]]:
        """Every release of the repository, drafts included (the token may push)."""
        found = self._pages(f"{self.base}/releases?per_page=100", "the releases")
        return [_release(item) for item in found]

    def release(self, release_id: int) -> dict[str, Any] | None:
        response = self._request(
            "GET", f"{self.base}/releases/{int(release_id)}", what="a release", missing=True
        )
        return None if response is None else _release(self._json(response))

    def release_by_tag(self, tag: str) -> dict[str, Any] | None:
        """The published release of ``tag`` (drafts are not found by tag)."""
        url = f"{self.base}/releases/tags/{quote(tag, safe='')}"
        response = self._request("GET", url, what=f"the release of {tag}", missing=True)
        return None if response is None else _release(self._json(response))

    def latest(self) -> dict[str, Any] | None:
        url = f"{self.base}/releases/latest"
        response = self._request("GET", url, what="the latest release", missing=True)
        return None if response is None else _release(self._json(response))

    def create(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        what = f"the release of {payload.get('tag_name')}"
        url = f"{self.base}/releases"
        response = self._request("POST", url, json=payload, what=what, replayable=False)
        return _release(self._json(response))

    def update(self, release_id: int, payload: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/releases/{int(release_id)}"
        return _release(self._json(self._request("PATCH", url, json=payload, what="the release")))

    def assets(self, release_id: int) -> list[dict[str, Any]]:
        url = f"{self.base}/releases/{int(release_id)}/assets?per_page=100"
        return self._pages(url, "the release's assets")

    def delete_asset(self, asset_id: int) -> None:
        url = f"{self.base}/releases/assets/{int(asset_id)}"
        self._request("DELETE", url, what="an asset", missing=True)

    def upload(self, release: Mapping[str, Any], asset: LocalAsset) -> dict[str, Any]:
        """Upload ``asset`` to ``release``'s ``upload_url`` (never sent twice blindly)."""
        template = str(release.get("upload_url") or "")
        url = template.split("{", 1)[0]
        if not url.startswith(("https://", "http://")):
            raise ReleaseError(f"GitHub gave the release no upload URL ({template[:80]!r})")
        if insecure_for_credentials(url):
            raise ReleaseError(f"the release's upload URL: {not_https(url)}; nothing uploaded")
        foreign = upload_host_problem(self.target.api, url)
        if foreign is not None:
            raise ReleaseError(f"the release's upload URL: {foreign}; nothing uploaded")
        suffix = asset.name.rsplit(".", 1)[-1]
        headers = {
            "Content-Type": CONTENT_TYPES.get(f".{suffix}", "application/octet-stream"),
            "Content-Length": str(asset.size),
        }
        response = self._request(
            "POST",
            f"{url}?name={quote(asset.name, safe='')}",
            body=asset,
            headers=headers,
            what=f"the upload of {asset.name}",
            replayable=False,
            timeout=UPLOAD_TIMEOUT,
        )
        return self._json(response)

    def download_sha256(self, asset_id: int) -> str:
        """The sha256 of an asset's bytes, downloaded (from its storage, without the token)."""
        key = (self.target.api, self.target.repository, int(asset_id))
        if key not in _downloaded:
            _downloaded[key] = self._download_sha256(asset_id)
        return _downloaded[key]

    def _download_sha256(self, asset_id: int) -> str:
        url = f"{self.base}/releases/assets/{int(asset_id)}"
        headers = {"Accept": "application/octet-stream"}
        response = self._request("GET", url, headers=headers, what="an asset", stream=True)
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            parts = urlsplit(location)
            if parts.scheme != "https" and not (
                parts.scheme == "http" and is_loopback(parts.hostname)
            ):
                raise ReleaseError(f"GitHub sent the asset's download to {public_url(location)}")
            response = self._session.get(
                location,
                headers={"Authorization": None, "Accept": "application/octet-stream"},  # type: ignore[dict-item]
                timeout=UPLOAD_TIMEOUT,
                stream=True,
                allow_redirects=False,
            )
            if response.status_code != 200:
                response.close()
                raise ReleaseError(f"the asset's download answered {response.status_code}")
        digest = hashlib.sha256()
        with response:
            for chunk in response.iter_content(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()

    # -- the policy --------------------------------------------------------------------

    @property
    def _repo(self) -> str:
        return self.target.repository

    def _pages(self, url: str, what: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            response = self._request("GET", url, what=what)
            page = _body(response, list)
            found += [item for item in page if isinstance(item, dict)]
            following = response.links.get("next", {}).get("url")
            if not following or not same_origin(following, self.target.api):
                break
            url = following
        return found

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        json: Mapping[str, Any] | None = None,
        body: LocalAsset | None = None,
        headers: Mapping[str, str] | None = None,
        replayable: bool = True,
        missing: bool = False,
        stream: bool = False,
        timeout: tuple[float, float] = POLICY.timeout,
    ) -> Any:
        import requests

        failures = 0
        started: float | None = None

        def fail() -> bool:
            nonlocal failures, started
            failures += 1
            started = time.monotonic() if started is None else started
            return POLICY.allows(failures, started)

        while True:
            handle = body.path.open("rb") if body is not None else None
            try:
                response = self._session.request(
                    method,
                    url,
                    json=json,
                    data=handle,
                    headers=dict(headers or {}),
                    timeout=timeout,
                    allow_redirects=False,
                    stream=stream,
                )
            except requests.RequestException as error:
                last = _describe(error)
                if not replayable and not sent_nothing(error):
                    raise AnswerLost(f"{what} was sent to GitHub, but {last}") from None
                if not fail():
                    raise ReleaseError(
                        f"could not reach GitHub for {what} ({last}, {failures} attempt(s))",
                        "check the network and run the same command again",
                    ) from None
                self._wait(POLICY.wait(failures), f"{what}: {last}")
                continue
            finally:
                if handle is not None:
                    handle.close()
            status = response.status_code
            asked = _rate_limit_wait(response)
            if asked is not None:
                if not fail():
                    raise ReleaseError(
                        f"GitHub's rate limit for {TOKEN_ENV} still holds after {failures} "
                        f"attempt(s) ({_limit_text(response)})",
                        "run the same command again once the limit resets",
                    )
                wait = POLICY.wait(failures, asked)
                self._wait(wait, f"GitHub's rate limit (asked to wait {asked:.0f} s)")
                continue
            if status in SERVER_ERRORS:
                if not replayable:
                    raise AnswerLost(f"{what} was sent to GitHub, but it answered {status}")
                if not fail():
                    raise ReleaseError(
                        f"GitHub answered {status} to {what} {failures} times",
                        "GitHub has trouble: run the same command again later",
                    )
                self._wait(POLICY.wait(failures), f"{what}: HTTP {status}")
                continue
            if status == 404 and missing:
                return None
            if status >= 300 and not (stream and response.is_redirect):
                raise self._refusal(status, response, what)
            return response

    def _wait(self, seconds: float, why: str) -> None:
        console.info(f"github-release: {why}; trying again in {seconds:.0f} s")
        self._sleep(seconds)

    def _refusal(self, status: int, response: requests.Response, what: str) -> GitHubError:
        body = _body(response)
        message = str(body.get("message") or response.reason or "") if body else response.reason
        details = [
            f"{e.get('resource', '')}.{e.get('field', '')} {e.get('code', '')}".strip(". ")
            for e in body.get("errors", []) or []
            if isinstance(e, Mapping)
        ]
        said = f"{status} {message}".strip() + (f": {'; '.join(details[:3])}" if details else "")
        repo = self._repo
        if status == 401:
            return GitHubError(status, f"GitHub refused {TOKEN_ENV} ({said})", TOKEN_FIX)
        if status == 404:
            return GitHubError(
                status,
                f"GitHub answered 404 for {what}: the repository {repo} does not exist, or "
                f"{TOKEN_ENV} cannot see it ({self.target.source or 'as configured'})",
                f'check [tool.release.github] repository = "owner/name" (or {API_ENV}), and '
                f"that the token has access to {repo}",
            )
        if status == 403:
            refused = f"GitHub refused {what} ({said}): {TOKEN_ENV} may not write to {repo}"
            return GitHubError(status, refused, TOKEN_FIX)
        if status == 422 and any(
            isinstance(e, Mapping) and e.get("code") == "already_exists"
            for e in body.get("errors", []) or []
        ):
            return AlreadyExists(status, f"{what} already exists on GitHub ({said})")
        if 300 <= status < 400:
            return GitHubError(
                status,
                f"GitHub answered {what} with a redirect ({status}), which is not followed",
                f"check {API_ENV}",
            )
        return GitHubError(status, f"GitHub refused {what} ({said})")

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        data = _body(response, dict)
        if not isinstance(data, dict) or not data:
            raise ReleaseError(
                f"GitHub's answer ({response.status_code}) is not the JSON object its API "
                "documents",
                f"check {API_ENV}",
            )
        return data


def _release(data: dict[str, Any]) -> dict[str, Any]:
    """``data``, a release as the API documents it (an integer id, a tag, its marks, a web
    page): anything else is refused before it reaches a URL path or the state."""
    release_id, url = data.get("id"), data.get("html_url")
    if (
        not isinstance(release_id, int)
        or isinstance(release_id, bool)
        or not 0 < release_id < 2**63
        or not isinstance(data.get("tag_name"), str)
        or not isinstance(data.get("draft", False), bool)
        or not isinstance(url, str)
        or not _WEB_PAGE.fullmatch(url)
    ):
        raise ReleaseError(
            "GitHub's answer is not a release as its API documents one (an id, a tag_name, a "
            "draft mark and an html_url)",
            f"check {API_ENV}",
        )
    return data


def _body(response: requests.Response, kind: type = dict) -> Any:
    try:
        data = response.json()
    except ValueError:
        return kind()
    return data if isinstance(data, kind) else kind()


def _rate_limit_wait(response: requests.Response) -> float | None:
    """How long a rate-limited answer asks to wait (None: it is not a rate limit)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(headers.get("x-ratelimit-reset") or "") - time.time())
        except ValueError:
            return POLICY.max_wait
    message = str(_body(response).get("message") or "").lower()
    if response.status_code == 429 or "rate limit" in message:
        return POLICY.max_wait  # a secondary limit without a header: at least a minute
    return None


def _limit_text(response: requests.Response) -> str:
    reset = response.headers.get("x-ratelimit-reset")
    try:
        when = time.strftime("%H:%M:%S UTC", time.gmtime(float(reset or "")))
    except ValueError:
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}; it resets at {when}"


def _describe(error: Exception) -> str:
    """A short description of a transport error that never includes the URL."""
    import requests

    if isinstance(error, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return "no answer came in time"
    if sent_nothing(error):
        return "the connection was refused or the host is unknown"
    if isinstance(error, requests.ConnectionError):
        return "the connection broke before the answer came"
    return console.mask(type(error).__name__)
