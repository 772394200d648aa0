"""Discord's webhook endpoints: a post, an edit and a read, with Discord's faults handled.

A post is not idempotent: when its answer is lost after the request was sent, Discord may
have posted it, so the client raises ``AnswerLost`` and never sends it again (the step
records "answer unknown" and lets the maintainer settle it). Everything else that fails
for a reason that may pass (a 429, a 5xx, a connection error) is tried again by a small
loop of its own, since urllib3 can neither honour ``retry_after`` in a 429's JSON body nor
tell a post that left from one that did not: every number of that loop (attempts, backoff,
the cap on any wait, the deadline) comes from ``release.core.http.POLICY``.

``RELEASE_DISCORD_TIMEOUT`` (seconds, default 30) is how long an answer is awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError, UsageError
from release.core.http import POLICY, parse_retry_after, sent_nothing, session
from release.steps.notify.webhook import WEBHOOK_ENV, Webhook

if TYPE_CHECKING:
    import requests

TIMEOUT_ENV = "RELEASE_DISCORD_TIMEOUT"


class AnswerLost(ReleaseError):
    """The request was sent and no answer came: Discord may have acted on it."""


class DiscordError(ReleaseError):
    """Discord refused a request (4xx) and said why."""

    def __init__(self, status: int, code: Any, text: str, details: Sequence[str]) -> None:
        detail = f": {'; '.join(details[:3])}" if details else ""
        code_text = f", code {code}" if code not in (None, "") else ""
        super().__init__(f"Discord answered {status} ({text}{code_text}){detail}")
        self.status = status
        self.code = code


def discord_timeout(env: Mapping[str, str]) -> float:
    """How long an answer is awaited after sending (``RELEASE_DISCORD_TIMEOUT``, seconds)."""
    raw = env.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{TIMEOUT_ENV} must be more than 0 seconds")
    return value


def error_details(errors: Any, path: str = "") -> list[str]:
    """Discord's nested ``errors`` object as ``embeds.0.description: message`` lines."""
    found: list[str] = []
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            if key == "_errors" and isinstance(value, list):
                for item in value:
                    if isinstance(item, Mapping):
                        found.append(
                            f"{path or 'message'}: {item.get('message', item.get('code'))}"
                        )
            else:
                found += error_details(value, f"{path}.{key}" if path else str(key))
    return found


def retry_delay(headers: Mapping[str, str], body: Any) -> float | None:
    """How long a 429 asks to wait: ``retry_after`` in the JSON body, else ``Retry-After``
    (uncapped: the policy caps the wait itself)."""
    if isinstance(body, Mapping):
        value = body.get("retry_after")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))


class DiscordClient:
    """Discord's webhook endpoints, with its rate limits and faults handled.

    - 429: waits ``retry_after`` (body, else ``Retry-After``; at least the policy's
      backoff, at most its cap) and tries again;
    - 5xx, and connection errors before the request was sent: tries again after the
      policy's backoff;
    - no answer after the request was sent: ``AnswerLost`` for a post (Discord
      may have posted it); an edit or a read is simply tried again;
    - 4xx: ``DiscordError`` with Discord's own message; redirects are not followed.

    Every call makes at most ``POLICY.attempts`` tries, and starts none once
    ``POLICY.deadline`` seconds have passed since its first failure.
    """

    def __init__(
        self,
        webhook: Webhook,
        *,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.webhook = webhook
        self.timeout = timeout
        self._sleep = sleep
        # No urllib3 retries: this client decides what may be sent again. Loopback targets
        # (tests, demo) never go through a proxy or .netrc.
        self._session = session(direct=webhook.loopback, policy=None)

    def close(self) -> None:
        self._session.close()

    def get_webhook(self) -> dict[str, Any]:
        return self._request("GET", self.webhook.base, None, replayable=True)

    def execute(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", self.webhook.execute_url, payload, replayable=False)

    def edit(self, message_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._request(
            "PATCH", self.webhook.message_url(message_id), payload, replayable=True
        )

    def _request(
        self, method: str, url: str, payload: Mapping[str, Any] | None, *, replayable: bool
    ) -> dict[str, Any]:
        import requests

        tries = _Tries()
        server_errors = 0
        while True:
            try:
                response = self._session.request(
                    method,
                    url,
                    json=payload,
                    timeout=(min(10.0, self.timeout), self.timeout),
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                last = _describe(error, self.timeout)
                if not replayable and not sent_nothing(error):
                    raise AnswerLost(last) from None
                if not tries.fail() or not isinstance(
                    error, (requests.ConnectionError, requests.Timeout)
                ):
                    raise ReleaseError(
                        f"could not reach Discord ({last}, {tries.failures} attempt(s))",
                        "check the network and run the same command again",
                    ) from None
                self._backoff(tries, last)
                continue
            body = _json(response)
            status = response.status_code
            if status == 429:
                asked = retry_delay(response.headers, body)
                # A wait longer than the policy's cap is not shortened into tries that are
                # bound to be refused again: the rate limit is reported at once.
                too_long = asked is not None and asked > POLICY.max_wait
                if too_long or not tries.fail():
                    waited = f" (asked to wait {asked:.0f} s)" if asked is not None else ""
                    raise ReleaseError(
                        f"Discord keeps rate-limiting the webhook{waited}",
                        "run the same command again later",
                    )
                delay = tries.wait(asked)
                console.info(f"notify: Discord rate limit: waiting {delay:.2f} s, then again")
                self._sleep(delay)
                continue
            if status in POLICY.statuses:  # 429 is handled above
                server_errors += 1
                last = f"{status} {response.reason or ''}".strip()
                if not tries.fail():
                    raise ReleaseError(
                        f"Discord answered {last} {server_errors} times",
                        "Discord has trouble: run the same command again later",
                    )
                self._backoff(tries, last)
                continue
            if 300 <= status < 400:
                raise ReleaseError(
                    f"Discord answered with a redirect ({status}), which is not followed",
                    f"check {WEBHOOK_ENV}",
                )
            if status >= 400:
                message = body.get("message", response.reason) if isinstance(body, dict) else ""
                code = body.get("code") if isinstance(body, dict) else None
                errors = body.get("errors") if isinstance(body, dict) else None
                raise DiscordError(
                    status, code, str(message or response.reason), error_details(errors)
                )
            return body if isinstance(body, dict) else {}

    def _backoff(self, tries: _Tries, why: str) -> None:
        delay = tries.wait()
        console.info(f"notify: Discord: {why}; trying again in {delay:.1f} s")
        self._sleep(delay)


class _Tries:
    """The failed tries of one call, held to the policy's attempts and deadline."""

    def __init__(self) -> None:
        self.failures = 0
        self.started: float | None = None  # when the first try failed

    def fail(self) -> bool:
        """Count a failed try; whether the policy allows another one."""
        self.failures += 1
        if self.started is None:
            self.started = time.monotonic()
        return POLICY.allows(self.failures, self.started)

    def wait(self, retry_after: float | None = None) -> float:
        """The policy's wait before the next try (``retry_after`` honoured, capped)."""
        return POLICY.wait(self.failures, retry_after)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _describe(error: Exception, timeout: float) -> str:
    """A short description of a transport error that never includes the URL."""
    import requests

    if isinstance(error, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return f"no answer came within {timeout:g} s"
    if sent_nothing(error):
        return "the connection was refused or the host is unknown"
    if isinstance(error, requests.ConnectionError):
        return "the connection broke before the answer came"
    return console.mask(type(error).__name__)
