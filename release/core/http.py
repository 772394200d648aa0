"""The one HTTP policy: what every client of the tool shares (index, registry, Discord, Azure).

- :data:`POLICY`: how often and how long a request is tried again (a 429, a 5xx, a cut
  connection): exponential backoff from one second, ``Retry-After`` honoured but never above
  60 s, and a deadline per call;
- :func:`session`: a ``requests`` session built on that policy (urllib3's ``Retry``, for the
  methods that may be repeated), that says who is asking (``User-Agent: release-tasks``) and,
  for a loopback target (the tests, the demo), ignores the proxy variables and ``.netrc``;
- :func:`retry_wait` and :func:`parse_retry_after`: the same policy for the few requests
  urllib3 cannot repeat by itself (a streamed upload body that must be reopened, a POST, a
  429 whose wait is in the JSON body): their small loops take every number from here;
- :func:`is_loopback` and :func:`same_origin`: where a request may go (plain HTTP only to
  loopback, redirects only to the same scheme, host and port); :func:`insecure_for_credentials`:
  credentials go only over HTTPS, or to this machine;
- :func:`public_url`: a URL without its user information, fit to be shown;
  :func:`url_credentials`: the user information of a URL, registered as a secret when read;
- :func:`basic_authorization`: the ``Authorization: Basic`` value, registered as a secret
  the moment it exists (it is the password, base64-encoded).

``requests`` is imported only when a session is made, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import ipaddress
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from release.core import console

if TYPE_CHECKING:
    import requests

USER_AGENT = "release-tasks"
LOOPBACK_HOSTS = frozenset({"localhost", "localhost."})  # by name; addresses below
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
TOKEN_LENGTH = 16  # a user name alone in a URL this long is taken for a token (a secret)


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed request is tried again: the numbers every client takes.

    ``attempts`` counts every try (the first included); the wait before try ``n + 1`` is
    ``backoff * 2 ** (n - 1)``, or the server's ``Retry-After`` when that is longer, and never
    more than ``max_wait``; no retry starts once ``deadline`` seconds have passed since the
    first failure of the call.
    """

    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 60.0
    deadline: float = 300.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    timeout: tuple[float, float] = (10.0, 60.0)  # connect, read

    def wait(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed try (1 for the first)."""
        delay = self.backoff * float(2 ** max(0, failures - 1))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_wait)

    def allows(self, failures: int, started: float, now: float | None = None) -> bool:
        """Whether a try may follow ``failures`` failed ones of a call begun at ``started``."""
        elapsed = (time.monotonic() if now is None else now) - started
        return failures < self.attempts and elapsed < self.deadline


POLICY = RetryPolicy()


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None when absent or bad."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_wait(failures: int, headers: Any = None, policy: RetryPolicy = POLICY) -> float:
    """The policy's wait after ``failures`` failed tries, honouring ``headers``' Retry-After."""
    retry_after = parse_retry_after(headers.get("Retry-After")) if headers is not None else None
    return policy.wait(failures, retry_after)


def _retry_class() -> Any:
    """urllib3's ``Retry`` with the policy's cap on ``Retry-After`` and its deadline per call.

    urllib3 honours ``Retry-After`` without a ceiling and has no deadline; both are added here
    rather than by a loop of our own, so every idempotent request is retried by urllib3.
    """
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class PolicyRetry(Retry):  # type: ignore[misc]
        policy: RetryPolicy = POLICY
        started: float | None = None  # time.monotonic() of the call's first failure
        host: str = ""

        def new(self, **kw: Any) -> PolicyRetry:
            made: PolicyRetry = super().new(**kw)
            made.policy = self.policy
            made.host = self.host
            made.started = self.started if self.started is not None else time.monotonic()
            return made

        def failures(self) -> int:
            """Failed tries of the call so far (a redirect starts a new count, as in urllib3)."""
            count = 0
            for attempt in reversed(self.history):
                if attempt.redirect_location is not None:
                    break
                count += 1
            return count

        def get_retry_after(self, response: Any) -> float | None:
            seconds = parse_retry_after(response.headers.get("Retry-After"))
            return None if seconds is None else min(seconds, self.policy.max_wait)

        def get_backoff_time(self) -> float:
            failures = self.failures()
            return self.policy.wait(failures) if failures else 0.0

        def sleep(self, response: Any = None) -> None:
            # urllib3 waits nothing after a first failure and exactly a short Retry-After;
            # the policy waits 1 s, 2 s, 4 s, or the Retry-After when longer, capped, as every
            # other retry of the tool does, and says so (a wait of a minute is not silent).
            header = response.headers.get("Retry-After") if response is not None else None
            wait = self.policy.wait(self.failures(), parse_retry_after(header))
            if self.history:
                last = self.history[-1]
                why = f"HTTP {last.status}" if last.status else type(last.error).__name__
                path = (last.url or "").split("?", 1)[0]
                console.info(
                    f"{last.method} {self.host}{path}: {why}; trying again in {wait:.0f} s"
                )
            time.sleep(wait)

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            *args: Any,
            **kwargs: Any,
        ) -> PolicyRetry:
            made: PolicyRetry = super().increment(method, url, *args, **kwargs)
            pool = kwargs.get("_pool")
            if pool is not None and not made.host:
                made.host = str(getattr(pool, "host", "") or "")
            started = made.started if made.started is not None else time.monotonic()
            if time.monotonic() - started >= self.policy.deadline:
                raise MaxRetryError(pool, url or "", None)  # type: ignore[arg-type]
            return made

    return PolicyRetry


def urllib3_retry(
    policy: RetryPolicy = POLICY, methods: frozenset[str] = IDEMPOTENT_METHODS
) -> Any:
    """The urllib3 ``Retry`` that carries ``policy`` for ``methods``."""
    retry = _retry_class()(
        total=policy.attempts - 1,
        connect=policy.attempts - 1,
        read=policy.attempts - 1,
        status=policy.attempts - 1,
        other=0,
        redirect=0,
        allowed_methods=methods,
        status_forcelist=policy.statuses,
        backoff_factor=policy.backoff,  # get_backoff_time above follows the policy instead
        backoff_max=policy.max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.policy = policy
    return retry


def is_loopback(hostname: str | None) -> bool:
    """Whether ``hostname`` is this machine: ``localhost``, 127.0.0.0/8 or ``::1`` (also as
    ``[::1]``, or an IPv4-mapped ``::ffff:127.x.y.z``)."""
    name = (hostname or "").strip("[]").lower()
    if name in LOOPBACK_HOSTS:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def insecure_for_credentials(url: str) -> bool:
    """Whether credentials sent to ``url`` could be read on the way: anything but HTTPS,
    except plain HTTP to this machine (the tests, a local index)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return False
    return not (scheme == "http" and is_loopback(parts.hostname))


def not_https(url: str) -> str:
    """Why no credentials go to ``url`` (one where :func:`insecure_for_credentials` holds)."""
    return (
        f"{public_url(url)} is not HTTPS, and credentials go only over HTTPS "
        "(plain HTTP only to this machine: localhost, 127.0.0.0/8 or ::1)"
    )


def public_url(url: str) -> str:
    """``url`` without user information (an index URL may carry credentials)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]  # host and port as written
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def url_credentials(url: str | None) -> tuple[str, str] | None:
    """The user and password of ``url``'s user information (decoded), or None.

    Whatever they are, they are secrets from the moment the URL is read: the password as
    written in the URL and decoded, a user alone of ``TOKEN_LENGTH`` or more characters (a
    token as the user name, ``https://<token>@host/``) likewise, and
    the ``Authorization: Basic`` form a client makes of them; all are registered with the
    console's mask here. Call it wherever a URL enters the tool.
    """
    if not url:
        return None
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return None
    userinfo = netloc.rpartition("@")[0]
    user, colon, password = userinfo.partition(":")
    if not colon:  # a user alone: a token when it is long enough to be one
        if len(unquote(user)) >= TOKEN_LENGTH:
            console.register_secret(user)
            console.register_secret(unquote(user))
        return unquote(user), ""
    console.register_secret(password)
    console.register_secret(unquote(password))
    if password:
        basic_authorization(unquote(user), unquote(password))
        try:  # requests encodes a str pair in latin-1
            latin1 = f"{unquote(user)}:{unquote(password)}".encode("latin-1")
        except UnicodeEncodeError:
            pass
        else:
            console.register_secret(base64.b64encode(latin1).decode("ascii"))
    return unquote(user), unquote(password)


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs have the same scheme, host and port (where a redirect may lead)."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def basic_authorization(username: str, password: str) -> str:
    """``Basic <base64 of user:password>``; the encoded part is masked from now on."""
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    console.register_secret(encoded)
    return f"Basic {encoded}"


def session(
    *,
    direct: bool = False,
    policy: RetryPolicy | None = POLICY,
    methods: frozenset[str] = IDEMPOTENT_METHODS,
) -> requests.Session:
    """A session on the one policy, with the tool's ``User-Agent``.

    ``direct`` ignores proxies and ``.netrc``: pass it for loopback targets, and where the
    request carries its own credentials that no ``.netrc`` entry may replace. ``methods`` are
    retried by urllib3 under ``policy`` (idempotent ones by default); ``policy=None`` retries
    nothing, for a client whose requests are not safe to repeat blindly (Discord's posts),
    which then loops itself with :func:`retry_wait`. Timeouts stay per request
    (``policy.timeout``), as ``requests`` wants them.
    """
    import requests
    from requests.adapters import HTTPAdapter

    made = requests.Session()
    made.headers["User-Agent"] = USER_AGENT
    made.trust_env = not direct
    retries = urllib3_retry(policy, methods) if policy is not None else 0
    adapter = HTTPAdapter(max_retries=retries)
    made.mount("http://", adapter)
    made.mount("https://", adapter)
    return made


def sent_nothing(error: Exception) -> bool:
    """Whether a failed request left before any of its bytes did (a refused or timed-out
    connection), so that even a request that is not idempotent (a POST) may be sent again."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.Timeout):
        reason = error.args[0] if error.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False
