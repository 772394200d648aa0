"""What the package index already holds: the simple API, read only.

The upload step asks the index (``index-url``, the simple API that PyPI and pypiserver
both serve) which files of a project exist, before it uploads anything:

- PEP 691 JSON is asked for first, PEP 503 HTML is understood too (pypiserver serves only
  HTML); a 404 means the project is not published.
- Connection errors, 5xx and 429 (rate limited) answers are retried by the session under
  the one HTTP policy (``release.core.http``: backoff, ``Retry-After`` honoured up to its
  cap); any other answer is final.
- Redirects are followed only on the same host: the tool never follows the index to
  another host (an unknown project on a misconfigured mirror must not be looked up on
  pypi.org). Links to files may point elsewhere (PyPI's files live on another host).
- Credentials in the index URL (``https://user:password@host/simple/``) are taken out of it:
  they are sent only to the index's own scheme, host and port, only over HTTPS (or to this
  machine), and every URL the client shows or hands on (errors, file links, the state) is
  the URL without them.

``release.steps.pypi.comparison`` decides, per built file, whether the index holds the same
file.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from release.core import http as httpclient
from release.core.errors import ReleaseError
from release.core.http import (
    POLICY,
    insecure_for_credentials,
    not_https,
    public_url,
    same_origin,
    url_credentials,
)

if TYPE_CHECKING:
    import requests

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
MAX_REDIRECTS = 5
CHUNK = 1024 * 1024


class IndexFailure(ReleaseError):
    """The index could not be read (unreachable, refused, redirected to another host)."""


def normalize(name: str) -> str:
    """The PEP 503 form of a project name (``Demo_Common`` -> ``demo-common``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class IndexFile:
    """One file of a project on the index."""

    filename: str
    url: str
    sha256: str | None


# -- HTTP ----------------------------------------------------------------------


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> requests.Response:
    """``method url`` on ``session`` (which retries), following redirects on the same host only.

    ``auth`` goes with every request (all on the same scheme, host and port as ``url``).
    Returns the final response, whatever its status (the caller decides what a 404 means).
    Raises ``IndexFailure`` when the index cannot be reached or a redirect leaves the host;
    its message shows URLs without their credentials (requests' own messages are not used).
    """
    import requests

    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = session.request(
                method,
                current,
                allow_redirects=False,
                stream=stream,
                headers=dict(headers or {}),
                timeout=POLICY.timeout,
                auth=auth,
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise IndexFailure(
                f"{public_url(url)} is not reachable after {POLICY.attempts} attempts "
                f"({_reason(error)})"
            ) from None
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers["location"])
        response.close()
        if not same_origin(current, target):
            raise IndexFailure(
                f"{public_url(current)} redirects to another host ({_origin(target)}): "
                "refusing to follow it",
                "point index-url (or RELEASE_INDEX_URL) at the index itself",
            )
        current = target
    raise IndexFailure(f"{public_url(url)} redirects more than {MAX_REDIRECTS} times")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _reason(error: Exception) -> str:
    text = str(error)
    # requests wraps urllib3's long messages; the last parenthesis holds the cause.
    match = re.search(r"\(Caused by (\w+)\(", text)
    return match.group(1) if match else type(error).__name__


def answer_text(response: requests.Response, limit: int = 300) -> str:
    """What the server said: its reason and the start of its body, tags stripped."""
    body = response.text if response.content else ""
    if "html" in response.headers.get("content-type", ""):
        # The page's head (its title repeats the status, its style is noise) goes first.
        body = re.sub(r"(?is)<(head|style|script)\b.*?</\1\s*>", " ", body)
        body = html.unescape(re.sub(r"<[^>]+>", " ", body))
    body = " ".join(body.split())
    said = f"{response.status_code} {response.reason or ''}".strip()
    if body and body not in said:
        said += f": {body[:limit]}" + ("..." if len(body) > limit else "")
    return said


# -- reading the simple API ------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_html(text: str, base_url: str) -> list[IndexFile]:
    """The files of a PEP 503 project page (hashes from the ``#sha256=`` fragments)."""
    parser = _Links()
    parser.feed(text)
    files = []
    for href, label in parser.links:
        url, fragment = urldefrag(urljoin(base_url, href))
        name = label or url.rsplit("/", 1)[-1]
        sha256 = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        files.append(IndexFile(filename=name, url=url, sha256=sha256))
    return files


def parse_json(text: str, base_url: str) -> list[IndexFile]:
    """The files of a PEP 691 project page."""
    data = json.loads(text)
    files = []
    for entry in data.get("files", []):
        url, _ = urldefrag(urljoin(base_url, entry["url"]))
        sha256 = (entry.get("hashes") or {}).get("sha256")
        files.append(IndexFile(filename=entry["filename"], url=url, sha256=sha256))
    return files


class Index:
    """The simple API at ``url``, read with retries and without leaving its host.

    ``url`` may carry credentials: they are registered with the mask, taken out of
    ``self.url`` (the URL shown, joined and recorded) and sent only to the index's origin.
    """

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self._auth = url_credentials(url)
        self._insecure = self._auth is not None and insecure_for_credentials(url)
        url = public_url(url)
        self.url = url if url.endswith("/") else url + "/"
        self.session = session or httpclient.session()
        self._pages: dict[str, list[IndexFile]] = {}

    def _get(
        self, url: str, *, stream: bool = False, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        """GET ``url``, with the index's credentials when it is on the index's origin."""
        auth = self._auth if same_origin(url, self.url) else None
        if auth is not None and self._insecure:
            raise IndexFailure(
                f"the index URL {not_https(self.url)}: its credentials were not sent",
                "set index-url in [tool.release.pypi] (or RELEASE_INDEX_URL) to its https:// URL",
            )
        return request(self.session, "GET", url, stream=stream, headers=headers, auth=auth)

    def project_url(self, name: str) -> str:
        return f"{self.url}{normalize(name)}/"

    def files(self, name: str, *, fresh: bool = False) -> list[IndexFile]:
        """Every file of project ``name`` on the index ([] when the project is unknown)."""
        key = normalize(name)
        if fresh or key not in self._pages:
            self._pages[key] = self._read(name)
        return self._pages[key]

    def _read(self, name: str) -> list[IndexFile]:
        url = self.project_url(name)
        response = self._get(url, headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise IndexFailure(f"the index answered {answer_text(response)} for {url}")
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            if kind == JSON_TYPE:
                return parse_json(response.text, response.url)
            return parse_html(response.text, response.url)
        except (ValueError, KeyError, TypeError) as error:
            raise IndexFailure(f"{url} is not a simple API page ({error})") from None

    @contextmanager
    def download(self, file: IndexFile) -> Iterator[Path]:
        """The file, streamed into a temporary file that is removed afterwards."""
        response = self._get(file.url, stream=True)
        with response:
            if response.status_code != 200:
                raise IndexFailure(
                    f"downloading {public_url(file.url)} failed: {answer_text(response)}"
                )
            with tempfile.TemporaryDirectory(prefix="release-index-") as folder:
                path = Path(folder) / Path(file.filename).name
                with path.open("wb") as handle:
                    for chunk in response.iter_content(CHUNK):
                        handle.write(chunk)
                yield path
