"""What the package index already holds: the simple API, read only.

The upload step asks the index (``index-url``, the simple API that PyPI and pypiserver
both serve) which files of a project exist, before it uploads anything:

- PEP 691 JSON is asked for first, PEP 503 HTML is understood too (pypiserver serves only
  HTML); a 404 means the project is not published.
- Connection errors, 5xx and 429 (rate limited) answers are retried with backoff (a 429's
  ``Retry-After`` is honoured, up to a minute); any other answer is final.
- Redirects are followed only on the same host: the tool never follows the index to
  another host (an unknown project on a misconfigured mirror must not be looked up on
  pypi.org). Links to files may point elsewhere (PyPI's files live on another host).

``compare`` decides, per built file, whether the index holds the same file (the same
sha256, or for an archive whose bytes carry build times, such as a setuptools sdist, the
same members with the same contents), a different one (a conflict), or none.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from release.core import http as httpclient
from release.core.errors import ReleaseError
from release.core.http import same_origin

if TYPE_CHECKING:
    import requests

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
RETRIES = 4  # after the first attempt: waits of 1, 2, 4, 8 seconds
BACKOFF = 1.0
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is cut to this
TIMEOUT = (10.0, 60.0)  # connect, read
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


def retryable(status: int) -> bool:
    """Whether an answer with ``status`` is worth another attempt: 5xx, or 429 (rate limited)."""
    return status >= 500 or status == 429


def retry_delay(response: requests.Response, default: float) -> float:
    """How long to wait before the next attempt: the answer's ``Retry-After`` seconds when
    it gives them (at most ``MAX_RETRY_AFTER``), else ``default``."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """``method url`` with retries on connection errors, 5xx and 429, redirects on the same
    host only.

    Returns the final response, whatever its status (the caller decides what a 404 means).
    Raises ``IndexFailure`` when every attempt failed or a redirect leaves the host.
    """
    import requests

    attempt = 0
    while True:
        delay = backoff * 2**attempt
        try:
            response = _follow(session, method, url, stream=stream, headers=headers)
        except (requests.ConnectionError, requests.Timeout) as error:
            if attempt >= retries:
                raise IndexFailure(
                    f"{url} is not reachable after {attempt + 1} attempts ({_reason(error)})"
                ) from None
        else:
            if not retryable(response.status_code) or attempt >= retries:
                return response
            delay = retry_delay(response, delay)
            response.close()
        time.sleep(delay)
        attempt += 1


def _follow(
    session: requests.Session,
    method: str,
    url: str,
    *,
    stream: bool,
    headers: Mapping[str, str] | None,
) -> requests.Response:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        response = session.request(
            method,
            current,
            allow_redirects=False,
            stream=stream,
            headers=dict(headers or {}),
            timeout=TIMEOUT,
        )
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers["location"])
        response.close()
        if not same_origin(current, target):
            raise IndexFailure(
                f"{current} redirects to another host ({_origin(target)}): refusing to follow it",
                "point index-url (or RELEASE_INDEX_URL) at the index itself",
            )
        current = target
    raise IndexFailure(f"{url} redirects more than {MAX_REDIRECTS} times")


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
    """The simple API at ``url``, read with retries and without leaving its host."""

    def __init__(
        self,
        url: str,
        session: requests.Session | None = None,
        *,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
    ) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.session = session or httpclient.session()
        self.retries = retries
        self.backoff = backoff
        self._pages: dict[str, list[IndexFile]] = {}

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
        response = request(
            self.session,
            "GET",
            url,
            retries=self.retries,
            backoff=self.backoff,
            headers={"Accept": ACCEPT},
        )
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
        response = request(
            self.session, "GET", file.url, retries=self.retries, backoff=self.backoff, stream=True
        )
        with response:
            if response.status_code != 200:
                raise IndexFailure(f"downloading {file.url} failed: {answer_text(response)}")
            with tempfile.TemporaryDirectory(prefix="release-index-") as folder:
                path = Path(folder) / Path(file.filename).name
                with path.open("wb") as handle:
                    for chunk in response.iter_content(CHUNK):
                        handle.write(chunk)
                yield path


# -- comparing built files with the index -------------------------------------------


class Status(StrEnum):
    MISSING = "missing"  # not on the index: to upload
    IDENTICAL = "identical"  # the same file is there: done
    DIFFERENT = "different"  # another file under the same name: a conflict


@dataclass(frozen=True)
class Comparison:
    """Whether one local file is on the index, and how it compares."""

    local: Path
    status: Status
    remote: IndexFile | None = None
    reason: str = ""


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return _digest(handle)


def file_identity(filename: str) -> tuple[object, ...] | None:
    """What makes two distribution files "the same file" for the index.

    A wheel: its name, version, build tag and tags. An sdist: its name and version (an
    index takes one sdist per release, whatever the spelling of its file name).
    """
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return ("wheel", name, version, build, frozenset(tags))
        name, version = parse_sdist_filename(filename)
        return ("sdist", name, version)
    except (InvalidSdistFilename, InvalidWheelFilename):
        return None


def counterpart(local_name: str, remote: Iterable[IndexFile]) -> IndexFile | None:
    """The file on the index that ``local_name`` would be uploaded as, if there is one."""
    identity = file_identity(local_name)
    for candidate in remote:
        if candidate.filename == local_name:
            return candidate
        if identity is not None and file_identity(candidate.filename) == identity:
            return candidate
    return None


def compare(
    local: Path,
    sha256: str,
    remote_files: Iterable[IndexFile],
    download: Callable[[IndexFile], AbstractContextManager[Path]],
) -> Comparison:
    """How the built file ``local`` compares with the index's files of its project.

    ``download`` is a context manager factory yielding the remote file's path (``Index.download``);
    it is called only when the hashes differ or the index gives none.
    """
    remote = counterpart(local.name, remote_files)
    if remote is None:
        return Comparison(local, Status.MISSING)
    if remote.sha256 is not None and remote.sha256 == sha256:
        return Comparison(local, Status.IDENTICAL, remote, "same sha256")
    with download(remote) as fetched:
        if sha256_of(fetched) == sha256:
            return Comparison(local, Status.IDENTICAL, remote, "same sha256")
        difference = archive_difference(local, fetched)
    if difference is None:
        return Comparison(
            local, Status.IDENTICAL, remote, "same members and contents, only build times differ"
        )
    return Comparison(local, Status.DIFFERENT, remote, difference)


def archive_difference(first: Path, second: Path) -> str | None:
    """None when both archives hold the same members with the same contents, else what differs."""
    try:
        a, b = archive_members(first), archive_members(second)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
        return f"the files differ and cannot be compared as archives ({error})"
    if a == b:
        return None
    only_here = sorted(set(a) - set(b))
    only_there = sorted(set(b) - set(a))
    if only_here:
        return f"the local file has members the index's lacks ({', '.join(only_here[:3])})"
    if only_there:
        return f"the index's file has members the local one lacks ({', '.join(only_there[:3])})"
    changed = sorted(name for name in a if a[name] != b[name])
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"members differ in content: {shown}"


def archive_members(path: Path) -> dict[str, str]:
    """{member name: what it is}, from contents only (times, owners and modes ignored)."""
    name = path.name
    if name.endswith((".whl", ".zip")):
        return _zip_members(path)
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return _tar_members(path)
    raise OSError(f"{name} is not a known archive format")


def _zip_members(path: Path) -> dict[str, str]:
    members = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                members[info.filename] = "dir"
                continue
            with archive.open(info) as handle:
                members[info.filename] = "file:" + _digest(handle)
    return members


def _tar_members(path: Path) -> dict[str, str]:
    members = {}
    with tarfile.open(path) as archive:
        for info in archive:
            if info.isdir():
                members[info.name.rstrip("/")] = "dir"
            elif info.issym() or info.islnk():
                members[info.name] = f"link:{info.linkname}"
            elif info.isfile():
                handle = archive.extractfile(info)
                members[info.name] = "file:" + (_digest(handle) if handle else "")
    return members


def _digest(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()
