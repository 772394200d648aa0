"""A client for the OCI distribution API: ping, authentication, tag lists, manifests.

Only what a release needs, over ``requests``:

- ``/v2/`` ping, with a clear line when the registry is unreachable or refuses the
  credentials;
- both authentication challenges: ``Basic`` (htpasswd registries), and ``Bearer`` per the
  Docker token specification (Harbor, Docker Hub, ``auth: token``): the 401 challenge names
  a realm, a service and a scope; the realm is asked for a token with the Basic credentials,
  and the token is cached per scope;
- tag lists, following ``Link: <...>; rel="next"`` pagination;
- manifest HEAD/GET/PUT with the four media types (Docker v2 manifest and manifest list,
  OCI manifest and index). A retag (``copy_manifest``) PUTs the exact bytes it got, so the
  digest is the same and a multi-arch index stays one: no layer is pulled or pushed;
- a small blob (an image's config, to read its labels), checked against its digest.

Requests are retried as ``release.core.http.POLICY`` says (its session). Redirects are
followed only to the same scheme and host: nothing is ever sent to another host, except the
token request to the realm the registry names (as Docker does), and a blob download that the
registry redirects to its storage (GHCR, Docker Hub and S3-backed registries do): that
redirect is followed over HTTPS only and carries no credentials (the URL is pre-signed).
The media types, manifests and challenges themselves are in ``release.steps.images.oci``;
the credentials the client is given come from ``release.steps.images.credentials``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urljoin, urlsplit

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import POLICY, basic_authorization, is_loopback, same_origin, session
from release.steps.images.oci import (
    MANIFEST_MEDIA_TYPES,
    Challenge,
    Manifest,
    error_detail,
    failure_reason,
    manifest_digest_of,
    parse_challenge,
)

if TYPE_CHECKING:
    import requests

    from release.core.config import Registry

TAG_PAGE_SIZE = 1000
# The one policy; only the read timeout is longer (a registry may answer a manifest slowly).
REGISTRY_POLICY = dataclasses.replace(POLICY, timeout=(10.0, 120.0))
_MAX_REDIRECTS = 5
_MAX_PAGES = 10_000
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_ANY_DIGEST = re.compile(r"(sha256|sha384|sha512):[0-9a-f]{32,128}")
BLOB_LIMIT = 4 * 1024 * 1024
"""The largest blob ``blob`` reads: an image config is a few kilobytes."""


class RegistryError(ReleaseError):
    """The registry refused or failed a request; the message names the registry and the call."""


class RegistryClient:
    """The OCI distribution API of one registry, with its credentials.

    Use it as a context manager (or call ``close``). Every method raises
    :class:`RegistryError` with one clear line on failure.
    """

    def __init__(
        self, registry: Registry, username: str | None = None, password: str | None = None
    ) -> None:
        self.registry = registry
        self.host = registry.host
        self.base_url = registry.base_url
        self.username = username
        self._password = password
        console.register_secret(password)
        self._basic = False  # the registry asked for Basic: send it with every request
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        # Proxy variables (and .netrc) serve real registries; a loopback one is reached directly.
        # The one policy retries the idempotent methods: GET, HEAD and a manifest PUT.
        self._session = session(direct=registry.insecure, policy=REGISTRY_POLICY)

    def __repr__(self) -> str:
        return f"RegistryClient({self.host}, user={self.username!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the API ---------------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry answers ``/v2/`` and accepts the credentials (if any)."""
        response = self._send("GET", "/v2/", scope=None)
        if response.status_code != 200:
            raise self._failure("GET /v2/", response, "is this an OCI registry?")

    def reach(self) -> None:
        """Check only that the registry answers ``/v2/``: any status, credentials unchecked.

        For a pre-flight that holds no credentials (``--skip-credentials``).
        """
        self._request("GET", urljoin(self.base_url, "/v2/"), {}, None, None).close()

    def tags(self, repo: str) -> list[str]:
        """Every tag of ``repo``, following ``Link`` pagination; [] for an unknown repository."""
        url: str | None = f"/v2/{repo}/tags/list?n={TAG_PAGE_SIZE}"
        found: list[str] = []
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise RegistryError(f"registry {self.host}: the tag list of {repo} does not end")
            seen.add(url)
            response = self._send("GET", url, scope=f"repository:{repo}:pull")
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise self._failure(f"listing the tags of {repo}", response)
            found.extend(response.json().get("tags") or [])
            url = self._next_page(response)
        return found

    def manifest(self, repo: str, ref: str) -> Manifest:
        """The manifest of ``repo`` at tag or digest ``ref``: its exact bytes, type and digest."""
        response = self._send(
            "GET", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull", accept=True
        )
        if response.status_code == 404:
            raise RegistryError(f"registry {self.host}: {repo}:{ref} does not exist")
        if response.status_code != 200:
            raise self._failure(f"getting the manifest {repo}:{ref}", response)
        data = response.content
        digest = manifest_digest_of(data)
        stated = response.headers.get("Docker-Content-Digest")
        if (stated and stated != digest) or (_DIGEST.fullmatch(ref) and ref != digest):
            raise RegistryError(
                f"registry {self.host}: the manifest of {repo}:{ref} does not match its digest "
                f"({stated or ref} stated, {digest} received)"
            )
        return Manifest(data, self._media_type(repo, ref, response, data), digest)

    def manifest_digest(self, repo: str, tag: str) -> str | None:
        """The digest ``repo:tag`` points to (HEAD), or None when the tag does not exist."""
        response = self._send(
            "HEAD", f"/v2/{repo}/manifests/{tag}", scope=f"repository:{repo}:pull", accept=True
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._failure(f"looking up {repo}:{tag}", response)
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        return self.manifest(repo, tag).digest  # a registry that omits the header on HEAD

    def blob(self, repo: str, digest: str, size: int | None = None) -> bytes:
        """The bytes of blob ``digest`` of ``repo`` (an image config), checked against the
        digest; a blob larger than ``BLOB_LIMIT`` (by its descriptor's ``size``) is refused."""
        if not _ANY_DIGEST.fullmatch(digest):
            raise RegistryError(f"registry {self.host}: {repo} names a blob {digest!r}")
        if size is not None and size > BLOB_LIMIT:
            raise RegistryError(
                f"registry {self.host}: blob {digest} of {repo} is {size} bytes, "
                f"more than an image config holds ({BLOB_LIMIT})"
            )
        response = self._send(
            "GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull", storage=True
        )
        if response.status_code == 404:
            raise RegistryError(f"registry {self.host}: blob {digest} of {repo} does not exist")
        if response.status_code != 200:
            raise self._failure(f"getting the blob {digest} of {repo}", response)
        data = response.content
        algorithm, _, expected = digest.partition(":")
        if len(data) > BLOB_LIMIT or hashlib.new(algorithm, data).hexdigest() != expected:
            raise RegistryError(
                f"registry {self.host}: the blob {digest} of {repo} does not match its digest"
            )
        return data

    def put_manifest(self, repo: str, tag: str, data: bytes, media_type: str) -> str:
        """Store ``data`` as ``repo:tag`` and return its digest (that of exactly these bytes)."""
        if media_type not in MANIFEST_MEDIA_TYPES:
            raise RegistryError(f"cannot push a manifest of type {media_type!r} to {repo}:{tag}")
        response = self._send(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            scope=f"repository:{repo}:pull,push",
            data=data,
            headers={"Content-Type": media_type},
        )
        if response.status_code not in (200, 201):
            raise self._failure(f"pushing {repo}:{tag}", response)
        digest = manifest_digest_of(data)
        stated = response.headers.get("Docker-Content-Digest")
        if stated and stated != digest:
            raise RegistryError(
                f"registry {self.host} stored {repo}:{tag} as {stated}, not {digest}: "
                "it rewrote the manifest"
            )
        return digest

    def copy_manifest(self, repo: str, source: str, tag: str) -> Manifest:
        """Point ``repo:tag`` at what ``repo:source`` holds (a server-side retag)."""
        manifest = self.manifest(repo, source)
        self.put_manifest(repo, tag, manifest.data, manifest.media_type)
        return manifest

    # -- transport and authentication --------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        scope: str | None,
        accept: bool = False,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        storage: bool = False,
    ) -> requests.Response:
        """One API call: authenticated, answering one 401 challenge, same-host redirects only
        (``storage``: a blob download may also go to the registry's storage, see the module)."""
        all_headers = dict(headers or {})
        if accept:
            all_headers["Accept"] = ", ".join(MANIFEST_MEDIA_TYPES)
        full_url = urljoin(self.base_url, url)
        response = self._request(method, full_url, all_headers, data, scope, storage)
        if response.status_code != 401:
            return response
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            raise RegistryError(
                f"registry {self.host} answered 401 without a WWW-Authenticate challenge"
            )
        if challenge.scheme == "basic":
            self._require_credentials()
            self._basic = True
        elif challenge.scheme == "bearer":
            token = self._fetch_token(challenge)
            self._tokens[challenge.params.get("scope", "")] = token
            if scope is not None:
                self._tokens[scope] = token
            scope = challenge.params.get("scope", scope or "")
        else:
            raise RegistryError(
                f"registry {self.host} asks for {challenge.scheme} authentication, which is "
                "not supported (only Basic and Bearer are)"
            )
        response = self._request(method, full_url, all_headers, data, scope, storage)
        if response.status_code == 401:
            raise self._refused(response)
        return response

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        scope: str | None,
        storage: bool = False,
    ) -> requests.Response:
        import requests

        away = False  # redirected to the registry's storage: no credentials go there
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=headers if away else {**headers, **self._authorization(scope)},
                    data=data,
                    timeout=REGISTRY_POLICY.timeout,
                    allow_redirects=False,
                )
            except requests.exceptions.RetryError as error:
                raise RegistryError(
                    f"registry {self.host} kept failing: {failure_reason(error)}"
                ) from None
            except requests.RequestException as error:
                raise RegistryError(
                    f"registry {self.host} is unreachable: {failure_reason(error)}",
                    "check RELEASE_REGISTRY or [tool.release.registry] host, and that it is up",
                ) from None
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(url, response.headers.get("Location", ""))
            if storage and method == "GET" and _storage_url(target):
                away = away or not same_origin(target, self.base_url)
            elif away or not same_origin(target, url):
                raise RegistryError(
                    f"registry {self.host} redirected {method} {urlsplit(url).path} to another "
                    f"host ({urlsplit(target).netloc}): not followed"
                )
            url = target
        raise RegistryError(f"registry {self.host}: too many redirects for {method} {url}")

    def _authorization(self, scope: str | None) -> dict[str, str]:
        token = self._tokens.get(scope or "")
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        if self._basic and self.username is not None and self._password is not None:
            return {"Authorization": basic_authorization(self.username, self._password)}
        return {}

    def _fetch_token(self, challenge: Challenge) -> str:
        """A token from the realm for the challenge's service and scope (Docker token spec)."""
        import requests

        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryError(f"registry {self.host} sent a Bearer challenge without a realm")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https"):
            raise RegistryError(f"registry {self.host} names a token realm that is not a URL")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise RegistryError(
                f"registry {self.host} names a plain-HTTP token realm ({parts.netloc}): "
                "credentials are not sent there"
            )
        params = {k: v for k, v in challenge.params.items() if k in ("service", "scope")}
        headers: dict[str, str] = {}
        if self.username is not None and self._password is not None:
            params["account"] = self.username
            headers["Authorization"] = basic_authorization(self.username, self._password)
        try:
            response = self._session.get(
                realm,
                params=params,
                headers=headers,
                timeout=REGISTRY_POLICY.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise RegistryError(
                f"the token server of registry {self.host} ({parts.netloc}) is unreachable: "
                f"{failure_reason(error)}"
            ) from None
        if response.status_code in (401, 403):
            raise self._refused(response, where=f"its token server {parts.netloc}")
        if response.status_code != 200:
            raise self._failure(f"getting a token from {parts.netloc}", response)
        try:
            body = response.json()
        except ValueError:
            body = {}
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the token server {parts.netloc} answered without a token")
        console.register_secret(token)
        return token

    def _require_credentials(self) -> None:
        if self.username is None or self._password is None:
            raise RegistryError(
                f"registry {self.host} requires credentials and none are set",
                "set RELEASE_REGISTRY_USERNAME and RELEASE_REGISTRY_PASSWORD, "
                f"or run `docker login {self.host}`",
            )

    def _refused(self, response: requests.Response, where: str = "") -> RegistryError:
        if self.username is None:
            self._require_credentials()
        place = f" ({where})" if where else ""
        detail = error_detail(response)
        return RegistryError(
            f"registry {self.host}{place} refused the credentials of {self.username}"
            + (f": {detail}" if detail else ""),
            "check RELEASE_REGISTRY_USERNAME/RELEASE_REGISTRY_PASSWORD (or `docker login`) "
            "and that this account may push",
        )

    def _failure(
        self, what: str, response: requests.Response, hint: str | None = None
    ) -> RegistryError:
        detail = error_detail(response)
        suffix = f": {detail}" if detail else ""
        return RegistryError(
            f"registry {self.host} answered {response.status_code} to {what}{suffix}", hint
        )

    def _next_page(self, response: requests.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        target = urljoin(self.base_url + "/", link)
        if not same_origin(target, self.base_url):
            raise RegistryError(
                f"registry {self.host} pointed the next tag page at another host: not followed"
            )
        parts = urlsplit(target)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _media_type(self, repo: str, ref: str, response: requests.Response, data: bytes) -> str:
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type in MANIFEST_MEDIA_TYPES:
            return media_type
        try:
            stated = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            stated = None
        if stated in MANIFEST_MEDIA_TYPES:
            return str(stated)
        raise RegistryError(
            f"registry {self.host}: {repo}:{ref} is a {media_type or 'manifest of unknown type'}, "
            "not a Docker v2 or OCI manifest or index: it cannot be copied"
        )


def _storage_url(url: str) -> bool:
    """Where a blob download may be redirected: HTTPS, or plain HTTP on this machine."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))
