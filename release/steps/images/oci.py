"""The OCI distribution API's vocabulary, without I/O: the manifest media types, a manifest
and its digest, the ``WWW-Authenticate`` challenge, and a registry's own words in an error.

``release.steps.images.registry.RegistryClient`` speaks the API with these.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
"""The manifests a retag copies byte for byte (also the ``Accept`` of every manifest request)."""


class Manifest(NamedTuple):
    """A manifest as the registry stores it: its exact bytes, media type and digest."""

    data: bytes
    media_type: str
    digest: str


class Challenge(NamedTuple):
    """A parsed ``WWW-Authenticate`` header: the scheme and its parameters."""

    scheme: str  # "basic" or "bearer", lower case
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm="..."``).

    Quoted values may contain commas (a scope with ``pull,push``); unquoted ones may not.
    """
    match = re.match(r"\s*([A-Za-z]+)\s*(.*)$", header, re.DOTALL)
    if match is None:
        return None
    params: dict[str, str] = {}
    for item in re.finditer(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', match[2]):
        value = item[2] if item[2] is not None else item[3]
        params[item[1].lower()] = re.sub(r"\\(.)", r"\1", value)
    return Challenge(match[1].lower(), params)


def manifest_digest_of(data: bytes) -> str:
    """The content digest of a manifest: ``sha256:`` and the hex digest of its bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def failure_reason(error: BaseException) -> str:
    """The innermost cause of a requests error, in a few words."""
    text = str(error)
    for pattern in (
        r"\[Errno -?\d+\] ([^'\")]+)",
        r"(Read timed out)",
        r"(too many \w+ responses)",
    ):
        match = re.search(pattern, text)
        if match:
            return match[1].strip()
    return type(error).__name__


def error_detail(response: requests.Response) -> str:
    """The registry's own words: the ``errors`` of its JSON body, else a short text body."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip() if response.request.method != "HEAD" else ""
        return text[:200]
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        parts = []
        for item in body["errors"]:
            if isinstance(item, dict):
                parts.append(
                    " ".join(str(item[k]) for k in ("code", "message") if item.get(k)).strip()
                )
        return "; ".join(p for p in parts if p)
    if isinstance(body, dict):
        for key in ("details", "message", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])[:200]
    return ""
