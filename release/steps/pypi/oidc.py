"""Trusted publishing: short-lived upload tokens from the CI's OIDC identity, renewed.

The documented exchange (https://docs.pypi.org/trusted-publishers/), for the origin of the
upload URL (``https://upload.pypi.org`` for ``https://upload.pypi.org/legacy/``):

1. the audience: ``GET <origin>/_/oidc/audience`` answers ``{"audience": "pypi"}``;
2. an ID token for that audience from the CI. In GitHub Actions, ``GET
   $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud>`` with ``Authorization: bearer
   $ACTIONS_ID_TOKEN_REQUEST_TOKEN`` answers ``{"value": "<JWT>"}`` (both variables exist
   only in a job with ``permissions: id-token: write``). On the other CIs the ``id`` package
   supports (GitLab, Google Cloud, Buildkite, CircleCI), ``id.detect_credential``. The
   token's ``aud`` claim must be the audience: a token for another audience is not sent on;
3. the exchange: ``POST <origin>/_/oidc/mint-token`` with ``{"token": "<JWT>"}`` answers
   ``{"success": true, "token": "<API token>", "expires": <epoch s>}``, or 422 with
   ``{"message": ..., "errors": [{"code", "description"}]}``: ``invalid-token`` (the ID
   token is not valid for this index: another audience, expired), ``invalid-publisher`` (no
   trusted publisher of the index matches the token's claims, which the error shows),
   ``invalid-reuse-token``, ``invalid-payload``, ``not-enabled``;
4. the upload, as ``__token__`` with that API token (:class:`TrustedPublisher` is the
   session's ``auth``).

Renewal, the contract with the index: a minted token is used until a third of its lifetime
is left (at most 5 minutes before ``expires``; without ``expires``, PyPI's 15 minutes from
minting), then the next request gets a new one. And when the index answers an upload with
401, or with 403 saying the credentials are not (or no longer) valid (PyPI's "Invalid or
non-existent authentication information", "Invalid API Token", or any message with
"expired": :func:`token_refused`), the upload mints a new token and sends that file once
more; the same answer to the new token is the error.

Why this is the tool's own code and not twine's exchange (``twine.auth.Resolver``): twine's
lives inside the credential resolution of its own upload, which the tool does not use
(``release.steps.pypi.upload_api``); it builds ``https://<host>/_/oidc/...`` itself, so it
speaks only HTTPS to those fixed paths (no local index in the tests); it renews by its clock
only, never because the index said the token expired during a long upload; and its requests
are outside the one HTTP policy. The ``id`` package is used where it fits: other CIs' ID
tokens and the token's claims (``id.decode_oidc_token``); GitHub Actions' endpoint is asked
here, under the policy (retries, timeouts, plain HTTP only to this machine), from the run's
own environment rather than the process's.

Every token is a secret from the moment it exists: the request token when read, the ID
token and the API token when received (and the ``Authorization`` value made of it) are
registered with the console's mask; none is stored, recorded or shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import (
    POLICY,
    basic_authorization,
    insecure_for_credentials,
    is_loopback,
    not_https,
    public_url,
    retry_wait,
)

if TYPE_CHECKING:
    import requests

TOKEN_USERNAME = "__token__"
AUDIENCE_PATH = "/_/oidc/audience"
MINT_PATH = "/_/oidc/mint-token"
LIFETIME = 900.0  # PyPI's minted tokens, when the answer gives no "expires"
LONGEST = 86400.0  # an "expires" further away than this is not believed
RENEW_MARGIN = 300.0  # renew at most this long before "expires" (less for shorter tokens)
PYPI_AUDIENCES = {"upload.pypi.org": "pypi", "test.pypi.org": "testpypi"}
PERMISSION_HINT = "in GitHub Actions the job needs `permissions: id-token: write`"
PUBLISHER_HINT = (
    "register this repository, its workflow (release.yml) and environment (release) as a "
    "trusted publisher of the project on the index, or set TWINE_USERNAME=__token__ and "
    "TWINE_PASSWORD to an API token"
)
TOKEN_HINT = (
    "check that the audience the index announces is the one its exchange verifies, or set "
    "TWINE_USERNAME=__token__ and TWINE_PASSWORD to an API token"
)
CLAIMS_SHOWN = ("repository", "workflow_ref", "job_workflow_ref", "ref", "environment")
REFUSED_WORDS = ("invalid or non-existent authentication", "invalid api token", "expired")


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, without user information."""
    parts = urlsplit(public_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def in_github_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def actions_request(env: Mapping[str, str]) -> tuple[str, str] | None:
    """GitHub Actions' ID-token request URL and token (None: the job has no id-token
    permission); the token is a secret from here on."""
    url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL") or ""
    token = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN") or ""
    console.register_secret(token)
    return (url, token) if url and token else None


def unavailable(url: str, env: Mapping[str, str], *, probe: bool = True) -> str | None:
    """Why trusted publishing cannot give upload credentials for ``url`` here (None: it can).

    In GitHub Actions: the ID-token variables are there and the request URL is HTTPS (or
    this machine); for an index other than PyPI and TestPyPI, unless ``probe`` is False
    (``--offline``), the index answers its audience. Elsewhere, for PyPI and TestPyPI only:
    ``id`` finds the identity of another CI. Nothing is minted.
    """
    host = urlsplit(url).hostname or ""
    if not in_github_actions(env):
        if host not in PYPI_AUDIENCES:
            return (
                "trusted publishing is not available (with an index other than PyPI and "
                "TestPyPI only from GitHub Actions with `permissions: id-token: write`)"
            )
        return _other_ci_unavailable(PYPI_AUDIENCES[host])
    request = actions_request(env)
    if request is None:
        missing = [
            name
            for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            if not env.get(name)
        ]
        return (
            f"trusted publishing is not available ({' and '.join(missing)} not set: "
            f"{PERMISSION_HINT})"
        )
    if insecure_for_credentials(request[0]):
        return (
            f"trusted publishing is not available (ACTIONS_ID_TOKEN_REQUEST_URL "
            f"{not_https(request[0])})"
        )
    if host in PYPI_AUDIENCES or not probe:
        return None
    try:
        fetch_audience(url)
    except ReleaseError as error:
        return f"trusted publishing is not available ({error.message})"
    return None


def _other_ci_unavailable(audience: str) -> str | None:
    from id import AmbientCredentialError, detect_credential

    try:
        token = detect_credential(audience)
    except AmbientCredentialError as error:
        return f"trusted publishing is not available ({error}; {PERMISSION_HINT})"
    if token is None:
        return (
            "trusted publishing is not available (this is not a CI run that provides an OIDC "
            "identity, such as GitHub Actions with `permissions: id-token: write`)"
        )
    console.register_secret(token)
    return None


def _session(url: str) -> requests.Session:
    from release.core.http import session

    # Loopback (the tests): no proxy, no .netrc; the policy retries the GETs.
    return session(direct=is_loopback(urlsplit(url).hostname))


def fetch_audience(url: str) -> str:
    """The audience the index of upload URL ``url`` announces at ``/_/oidc/audience``."""
    import requests

    where = origin(url) + AUDIENCE_PATH
    with _session(where) as http:
        try:
            response = http.get(where, timeout=POLICY.timeout, allow_redirects=False)
        except requests.RequestException as error:
            raise ReleaseError(
                f"the index's audience {where} cannot be read ({type(error).__name__})"
            ) from None
        audience = _json(response).get("audience") if response.status_code == 200 else None
        if not isinstance(audience, str) or not audience:
            raise ReleaseError(
                f"the index offers no trusted publishing: GET {where} answered {_said(response)}",
                "set TWINE_USERNAME and TWINE_PASSWORD (an API token: TWINE_USERNAME=__token__)",
            )
    return audience


class TrustedPublisher:
    """Upload tokens for one index, minted from the CI's identity and minted again on need.

    Called by ``requests`` as the session's ``auth``: it sets ``Authorization: Basic`` of
    ``__token__`` and the current token, minting one first when there is none or it is
    near its end. :meth:`renew` mints a new one at once (the index said it expired).
    """

    def __init__(self, upload_url: str, env: Mapping[str, str]) -> None:
        self.upload_url = public_url(upload_url)
        self.origin = origin(upload_url)
        self.env = env
        self.mints = 0
        self._audience: str | None = None
        self._token: str | None = None
        self._minted_at = 0.0
        self._expires = 0.0

    def __repr__(self) -> str:  # never a token
        return f"TrustedPublisher({self.origin}, mints={self.mints})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = basic_authorization(TOKEN_USERNAME, self.token())
        return request

    def token(self) -> str:
        """The current upload token, minted when there is none or too little time is left."""
        now = time.time()
        margin = min(RENEW_MARGIN, (self._expires - self._minted_at) / 3)
        if self._token is None or now >= self._expires - margin:
            self._mint()
        assert self._token is not None
        return self._token

    def renew(self) -> str:
        """A new upload token now: the index refused the current one."""
        console.info("trusted publishing: the index refused the upload token; minting a new one")
        self._mint()
        assert self._token is not None
        return self._token

    # -- the exchange ---------------------------------------------------------------------

    def audience(self) -> str:
        if self._audience is None:
            self._audience = fetch_audience(self.upload_url)
        return self._audience

    def id_token(self) -> str:
        """An ID token for the index's audience from the CI (checked to be for it)."""
        audience = self.audience()
        if in_github_actions(self.env):
            request = actions_request(self.env)
            if request is None:
                problem = unavailable(self.upload_url, self.env, probe=False)
                raise ReleaseError(problem or "trusted publishing is not available")
            token = _actions_id_token(*request, audience)
            where = "GitHub Actions"
        else:
            token = _other_ci_id_token(audience)
            where = "the CI"
        claims = _claims(token)
        audiences = claims.get("aud")
        if audience not in (audiences if isinstance(audiences, list) else [audiences]):
            raise ReleaseError(
                f"{where} issued an ID token for the audience {audiences!r}, not the index's "
                f"{audience!r}: it was not sent to the index",
                "check ACTIONS_ID_TOKEN_REQUEST_URL (the job's own ID-token endpoint)",
            )
        return token

    def _mint(self) -> None:
        """POST a fresh ID token to mint-token; each try asks the CI for a new ID token (an
        index refuses one it has seen: ``invalid-reuse-token``)."""
        import requests

        where = self.origin + MINT_PATH
        if insecure_for_credentials(where):
            raise ReleaseError(
                f"the token exchange {not_https(where)}: no ID token was sent",
                "set repository-url (or TWINE_REPOSITORY_URL) to its https:// URL",
            )
        failures = 0
        first_failure = 0.0
        with _session(where) as http:
            while True:
                id_token = self.id_token()
                response: requests.Response | None = None
                try:
                    response = http.post(
                        where,
                        json={"token": id_token},
                        timeout=POLICY.timeout,
                        allow_redirects=False,
                    )
                except requests.RequestException as error:
                    why = type(error).__name__
                else:
                    if response.status_code not in POLICY.statuses:
                        break
                    why = f"HTTP {response.status_code}"
                failures += 1
                first_failure = first_failure or time.monotonic()
                if not POLICY.allows(failures, first_failure):
                    raise ReleaseError(
                        f"the token exchange {where} failed after {failures} attempts ({why})"
                    )
                delay = retry_wait(failures, response.headers if response is not None else None)
                console.info(f"POST {where}: {why}; trying again in {delay:.0f} s")
                time.sleep(delay)
        body = _json(response)
        token = body.get("token") if response.status_code == 200 else None
        if isinstance(token, str) and token:
            console.register_secret(token)
            basic_authorization(TOKEN_USERNAME, token)  # the header's form, masked too
        else:
            raise self._refusal(response, body, id_token)
        now = time.time()
        expires = body.get("expires")
        self._token = token
        self._minted_at = now
        self._expires = expiry(expires, now)
        self.mints += 1
        until = datetime.fromtimestamp(self._expires, UTC).strftime("%H:%M:%S UTC")
        console.info(
            f"trusted publishing: minted an upload token for {self.origin} "
            f"(audience {self.audience()!r}, valid until {until})"
        )

    def _refusal(
        self, response: requests.Response, body: dict[str, Any], id_token: str
    ) -> ReleaseError:
        """The index's refusal of the exchange, in its own words, with the fix."""
        errors = body.get("errors")
        codes: list[str] = []
        reasons: list[str] = []
        if isinstance(errors, list):
            for error in errors:
                if isinstance(error, dict):
                    code = str(error.get("code") or "")
                    codes.append(code)
                    reasons.append(f"{code}: {error.get('description') or ''}".strip(": "))
        said = "; ".join(reasons) or _said(response)
        message = f"the index {self.origin} refused the trusted publishing exchange ({said})"
        if "invalid-publisher" in codes:
            claims = _claims(id_token)
            if claims.get("job_workflow_ref") == claims.get("workflow_ref"):
                claims.pop("job_workflow_ref", None)  # not a reusable workflow: said once
            shown = ", ".join(f"{k}={claims[k]}" for k in CLAIMS_SHOWN if claims.get(k))
            return ReleaseError(f"{message}; the ID token's claims: {shown}", PUBLISHER_HINT)
        if "invalid-token" in codes:
            return ReleaseError(
                f"{message}; the ID token was for the audience {self.audience()!r}, the one "
                f"{self.origin}{AUDIENCE_PATH} announces",
                TOKEN_HINT,
            )
        return ReleaseError(
            message, "set TWINE_USERNAME=__token__ and TWINE_PASSWORD to an API token"
        )


def token_refused(response: requests.Response) -> bool:
    """Whether the index's answer to an upload says the token is not (or no longer) valid:
    401, or 403 with PyPI's words for it (see the module's contract)."""
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    text = f"{response.reason or ''} {response.text[:2000]}".lower()
    return any(word in text for word in REFUSED_WORDS)


def _actions_id_token(request_url: str, request_token: str, audience: str) -> str:
    """GitHub Actions' ID token for ``audience`` (GET, retried under the policy)."""
    import requests

    if insecure_for_credentials(request_url):
        raise ReleaseError(
            f"ACTIONS_ID_TOKEN_REQUEST_URL {not_https(request_url)}: the request token was not sent"
        )
    separator = "&" if urlsplit(request_url).query else "?"
    url = f"{request_url}{separator}audience={quote(audience, safe='')}"
    shown = request_url.split("?", 1)[0]
    with _session(url) as http:
        try:
            response = http.get(
                url,
                headers={"Authorization": f"bearer {request_token}"},
                timeout=POLICY.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise ReleaseError(
                f"GitHub Actions' ID-token endpoint {shown} cannot be reached "
                f"({type(error).__name__})"
            ) from None
    value = _json(response).get("value") if response.status_code == 200 else None
    if isinstance(value, str) and value:
        console.register_secret(value)
        return value
    raise ReleaseError(
        f"GitHub Actions refused an ID token for the audience {audience!r}: {shown} "
        f"answered {_said(response)}",
        PERMISSION_HINT,
    )


def _other_ci_id_token(audience: str) -> str:
    from id import AmbientCredentialError, detect_credential

    try:
        token = detect_credential(audience)
    except AmbientCredentialError as error:
        raise ReleaseError(
            f"trusted publishing: the CI gave no ID token ({error})", PERMISSION_HINT
        ) from None
    if not token:
        raise ReleaseError(
            "trusted publishing is not available (this is not a CI run that provides an OIDC "
            "identity)",
            "set TWINE_USERNAME=__token__ and TWINE_PASSWORD to an API token",
        )
    console.register_secret(token)
    return token


def _claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it (the index verifies)."""
    from id import decode_oidc_token

    try:
        payload = json.loads(decode_oidc_token(token)[1])
    except (ValueError, UnicodeDecodeError):
        raise ReleaseError("the CI's ID token is not a JWT") from None
    return payload if isinstance(payload, dict) else {}


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _said(response: requests.Response) -> str:
    from release.steps.pypi.index import answer_text

    return answer_text(response)


def expiry(expires: Any, now: float) -> float:
    """When a token minted at ``now`` expires: the index's ``expires`` when it is a time
    between now and a day from now, else ``now + LIFETIME`` (a number of 1e20 would not
    convert to a date, NaN would never renew, ``true`` is no time)."""
    if (
        isinstance(expires, (int, float))
        and not isinstance(expires, bool)
        and now <= expires <= now + LONGEST
    ):
        return float(expires)
    return now + LIFETIME
