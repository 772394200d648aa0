"""Trusted publishing's decisions without a network: when an index's answer means the token
is not valid any more (the renewal contract), and why trusted publishing cannot be used."""

from __future__ import annotations

import pytest
import requests

from release.steps.pypi.oidc import LIFETIME, expiry, origin, token_refused, unavailable

PYPI = "https://upload.pypi.org/legacy/"
ACTIONS = {
    "GITHUB_ACTIONS": "true",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.example/idtoken?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "unit-request-token-0123456789",
}


def answer(status: int, reason: str = "", body: str = "") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response._content = body.encode()
    return response


@pytest.mark.parametrize(
    ("status", "reason", "body"),
    [
        (401, "Unauthorized", ""),
        (
            403,
            "Invalid or non-existent authentication information. See "
            "https://pypi.org/help/#invalid-auth for more information.",
            "",
        ),
        (403, "Forbidden", "Invalid API Token: InvalidMacaroonError('token is expired')"),
        (403, "Forbidden", "The token has expired."),
    ],
)
def test_the_answers_that_mean_the_token_is_not_valid_any_more(
    status: int, reason: str, body: str
) -> None:
    assert token_refused(answer(status, reason, body))


@pytest.mark.parametrize(
    ("status", "reason", "body"),
    [
        (403, "Forbidden", "The user 'ci' isn't allowed to upload to project 'demo'."),
        (400, "File already exists.", ""),
        (200, "OK", ""),
        (503, "Service Unavailable", "expired"),  # retried by the policy, not a token matter
    ],
)
def test_other_refusals_are_not_answered_by_minting_again(
    status: int, reason: str, body: str
) -> None:
    assert not token_refused(answer(status, reason, body))


def test_the_exchange_goes_to_the_origin_of_the_upload_url_without_its_credentials() -> None:
    assert origin(PYPI) == "https://upload.pypi.org"
    assert origin("https://user:pw@index.example:8443/a/legacy/") == "https://index.example:8443"


def test_in_github_actions_with_the_id_token_variables_pypi_needs_no_request() -> None:
    assert unavailable(PYPI, ACTIONS) is None
    # Another index: offline, its audience is not asked for.
    assert unavailable("https://index.example/legacy/", ACTIONS, probe=False) is None


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        (("ACTIONS_ID_TOKEN_REQUEST_URL",), "ACTIONS_ID_TOKEN_REQUEST_URL not set"),
        (("ACTIONS_ID_TOKEN_REQUEST_TOKEN",), "ACTIONS_ID_TOKEN_REQUEST_TOKEN not set"),
    ],
)
def test_without_the_id_token_permission_the_variable_and_the_fix_are_named(
    missing: tuple[str, ...], said: str
) -> None:
    env = {k: v for k, v in ACTIONS.items() if k not in missing}
    why = unavailable(PYPI, env)
    assert why is not None
    assert said in why
    assert "permissions: id-token: write" in why


def test_an_id_token_endpoint_over_plain_http_elsewhere_gets_no_request_token() -> None:
    env = {**ACTIONS, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://pipelines.example/idtoken"}
    why = unavailable(PYPI, env)
    assert why is not None
    assert "http://pipelines.example/idtoken is not HTTPS" in why


def test_outside_github_actions_another_index_has_no_trusted_publishing() -> None:
    why = unavailable("https://index.example/legacy/", {})
    assert why is not None
    assert "only from GitHub Actions" in why


@pytest.mark.parametrize(
    "expires", [1e20, float("nan"), float("inf"), True, 1_000_000.0 - 1, 1_000_000.0 + 86401, "1"]
)
def test_an_expiry_that_is_no_time_within_a_day_gets_the_default_lifetime(expires: object) -> None:
    # 1e20 raised OverflowError mid-upload, NaN never renewed, true counted as 1.0
    assert expiry(expires, 1_000_000.0) == 1_000_000.0 + LIFETIME


@pytest.mark.parametrize("expires", [1_000_000, 1_000_900.5, 1_000_000.0 + 86400])
def test_an_expiry_within_a_day_is_the_indexs(expires: float) -> None:
    assert expiry(expires, 1_000_000.0) == float(expires)
