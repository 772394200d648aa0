"""The index's upload API: one file POSTed as a multipart form, streamed from disk.

The form is what twine sends (its package reader gives the metadata), with a rich progress
bar fed from the bytes of the file sent. twine's ``Repository.upload`` is not used because it
retries 5xx without backoff, does not retry connection errors and prints to stdout itself.

The streamed body must be reopened for every try, which urllib3 cannot do, so
:func:`post_file` keeps a small loop; every number in it (tries, backoff, the cap on
``Retry-After``, the deadline) comes from the one HTTP policy (``release.core.http``), with a
longer read timeout for a large file. Redirects are not followed.

With trusted publishing the session's ``auth`` is the
:class:`~release.steps.pypi.oidc.TrustedPublisher`: each request carries its current token
(a new one when the old is near its end), and when the index answers that the token is not
valid any more (:func:`~release.steps.pypi.oidc.token_refused`), a new token is minted and
the file is sent once more.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import (
    POLICY,
    USER_AGENT,
    insecure_for_credentials,
    not_https,
    public_url,
    retry_wait,
)
from release.core.http import session as new_session
from release.steps.pypi.comparison import CONFLICT_HINT, Status, compare, conflict_message
from release.steps.pypi.credentials import Credentials
from release.steps.pypi.dists import Dist
from release.steps.pypi.index import Index, answer_text
from release.steps.pypi.oidc import TrustedPublisher, token_refused

if TYPE_CHECKING:
    import requests

# The policy's tries, backoff and caps; the index may take minutes to read a large file.
UPLOAD_POLICY = dataclasses.replace(POLICY, timeout=(10.0, 600.0))


def upload_session(creds: Credentials) -> requests.Session:
    """A session that sends ``creds``; it retries nothing itself (:func:`post_file` does)."""
    session = new_session(policy=None)
    # Trusted publishing: the publisher sets each request's token, renewed on need.
    session.auth = creds.publisher or (creds.username, creds.password)
    session.headers["User-Agent"] = f"{USER_AGENT} (twine-compatible)"
    if creds.cacert:
        session.verify = creds.cacert
    if creds.client_cert:
        session.cert = creds.client_cert
    return session


def form_fields(metadata: Any) -> list[tuple[str, Any]]:
    """twine's metadata as the upload form's fields (what warehouse's form parser reads)."""
    fields: list[tuple[str, Any]] = []
    for key, value in metadata.items():
        if key in ("gpg_signature", "attestations"):
            continue
        if key == "project_urls" and isinstance(value, dict):
            fields.extend((key, f"{name}, {link}") for name, link in value.items())
        elif key == "keywords" and isinstance(value, list):
            fields.append((key, ", ".join(value)))
        elif isinstance(value, (list, tuple)):
            fields.extend((key, item) for item in value)
        elif value is not None:
            fields.append((key, value))
    fields += [(":action", "file_upload"), ("protocol_version", "1")]
    return fields


def upload_dist(
    session: requests.Session,
    url: str,
    path: Path,
    on_progress: Callable[[int], None],
    *,
    index: Index | None,
    dist: Dist,
) -> str:
    """Upload one file; "uploaded", or "already on the index" when another run was faster."""
    from twine.package import PackageFile

    fields = form_fields(PackageFile.from_filename(str(path), None).metadata_dictionary())
    response = post_file(session, url, fields, path, on_progress)
    publisher = session.auth if isinstance(session.auth, TrustedPublisher) else None
    if publisher is not None and token_refused(response):
        # The token expired during a long upload (or was revoked): once more with a new one.
        console.info(f"{path.name}: the index answered {answer_text(response)}")
        response.close()
        publisher.renew()
        response = post_file(session, url, fields, path, on_progress)
    status = response.status_code
    if status in (200, 201):
        return "uploaded"
    said = answer_text(response)
    if _already_exists(response) and index is not None:
        comparison = compare(path, dist.sha256, index.files(dist.name, fresh=True), index.download)
        if comparison.status is Status.IDENTICAL:
            console.info(f"{path.name}: uploaded meanwhile by another run, identical: done")
            return "already on the index"
        if comparison.status is Status.DIFFERENT:
            raise ReleaseError(conflict_message(dist, comparison), CONFLICT_HINT)
    if response.is_redirect:
        location = public_url(str(response.headers.get("location")))
        raise ReleaseError(
            f"the index redirected the upload of {path.name} to {location}",
            "set repository-url (or TWINE_REPOSITORY_URL) to the upload endpoint itself",
        )
    if publisher is not None and token_refused(response):
        raise ReleaseError(
            f"the index refused {path.name} with a newly minted token too: {said}",
            "check the trusted publisher of the project on the index (the repository, "
            "workflow and environment), or set TWINE_USERNAME=__token__ and TWINE_PASSWORD",
        )
    raise ReleaseError(f"the index refused {path.name}: {said}")


def _already_exists(response: requests.Response) -> bool:
    text = f"{response.reason} {response.text}".lower()
    return response.status_code == 409 or (response.status_code == 400 and "already exist" in text)


def post_file(
    session: requests.Session,
    url: str,
    fields: Sequence[tuple[str, Any]],
    path: Path,
    on_progress: Callable[[int], None],
) -> requests.Response:
    """POST ``fields`` and the file as multipart, streamed from disk, under ``UPLOAD_POLICY``.

    Connection errors and the policy's statuses (5xx, 429) are tried again after the policy's
    wait (or the answer's ``Retry-After``, capped); redirects are not followed. Returns the
    final response; raises ``ReleaseError`` when no try reached the index, and before any try
    when the credentials would go over plain HTTP to another machine. The URL's own user
    information is never sent or shown: the session carries the credentials.
    """
    import requests
    from requests_toolbelt import (  # type: ignore[import-untyped]
        MultipartEncoder,
        MultipartEncoderMonitor,
    )

    if insecure_for_credentials(url):
        raise ReleaseError(
            f"the upload URL {not_https(url)}: nothing was sent",
            "set repository-url in [tool.release.pypi] (or TWINE_REPOSITORY_URL) to its "
            "https:// URL",
        )
    url = public_url(url)
    policy = UPLOAD_POLICY
    failures = 0
    first_failure = 0.0  # the policy's deadline counts from the first failed try
    while True:
        with path.open("rb") as handle:
            encoder = MultipartEncoder(
                [*fields, ("content", (path.name, handle, "application/octet-stream"))]
            )
            monitor = MultipartEncoderMonitor(
                encoder, _file_progress(encoder.len, path, on_progress)
            )
            try:
                response = session.post(
                    url,
                    data=monitor,
                    headers={"Content-Type": monitor.content_type},
                    allow_redirects=False,
                    timeout=policy.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                failures += 1
                first_failure = first_failure or time.monotonic()
                if not policy.allows(failures, first_failure):
                    raise ReleaseError(
                        f"uploading {path.name} to {public_url(url)} failed after "
                        f"{failures} attempts ({type(error).__name__})"
                    ) from None
                delay = retry_wait(failures, None, policy)
            else:
                if response.status_code not in policy.statuses:
                    return response
                failures += 1
                first_failure = first_failure or time.monotonic()
                if not policy.allows(failures, first_failure):
                    return response
                delay = retry_wait(failures, response.headers, policy)
                response.close()
                console.warn(f"{path.name}: the index answered {response.status_code}; retrying")
        time.sleep(delay)


def _file_progress(
    total: int, path: Path, on_progress: Callable[[int], None]
) -> Callable[[Any], None]:
    """Report the bytes of the file sent (the form fields before it are not counted)."""
    file_size = path.stat().st_size
    overhead = total - file_size

    def report(monitor: Any) -> None:
        on_progress(min(file_size, max(0, monitor.bytes_read - overhead)))

    return report
