"""Putting images into the test registry: through the API (blobs and manifests, any media
type) or through the real engine (build ``FROM scratch`` with a COPY, tag, push).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from devservices.engine import DockerEngine
from release.steps.images.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    manifest_digest_of,
)

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_TYPES = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def session() -> requests.Session:
    """A session that never goes through a proxy: every target is 127.0.0.1."""
    http = requests.Session()
    http.trust_env = False
    return http


def tag_digests(base_url: str, repo: str, auth: tuple[str, str] | None = None) -> dict[str, str]:
    """Every tag of ``repo`` and the digest of the manifest it points to ({}: no such repo)."""
    with session() as http:
        listed = http.get(f"{base_url}/v2/{repo}/tags/list", auth=auth, timeout=30)
        if listed.status_code == 404:
            return {}
        listed.raise_for_status()
        found = {}
        for tag in listed.json().get("tags") or []:
            head = http.head(
                f"{base_url}/v2/{repo}/manifests/{tag}",
                headers={"Accept": MANIFEST_TYPES},
                auth=auth,
                timeout=30,
            )
            head.raise_for_status()
            found[tag] = head.headers["Docker-Content-Digest"]
    return found


def upload_blob(
    http: requests.Session,
    base_url: str,
    repo: str,
    data: bytes,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Upload ``data`` as a blob of ``repo`` (monolithic: POST then PUT) and return its digest."""
    digest = sha256(data)
    started = http.post(f"{base_url}/v2/{repo}/blobs/uploads/", headers=headers, timeout=30)
    assert started.status_code == 202, started.text
    location = urljoin(base_url, started.headers["Location"])
    separator = "&" if "?" in location else "?"
    done = http.put(
        f"{location}{separator}digest={digest}",
        data=data,
        headers={**(headers or {}), "Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert done.status_code == 201, done.text
    return digest


@dataclass(frozen=True)
class Pushed:
    """A manifest in the registry: its exact bytes, media type, digest and size."""

    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return manifest_digest_of(self.data)

    def descriptor(self, platform: Mapping[str, str] | None = None) -> dict[str, object]:
        entry: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
        }
        if platform is not None:
            entry["platform"] = dict(platform)
        return entry


def put_manifest(
    http: requests.Session,
    base_url: str,
    repo: str,
    tag: str,
    data: bytes,
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Pushed:
    response = http.put(
        f"{base_url}/v2/{repo}/manifests/{tag}",
        data=data,
        headers={**(headers or {}), "Content-Type": media_type},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return Pushed(data, media_type)


def api_image(
    http: requests.Session,
    base_url: str,
    repo: str,
    tag: str,
    content: str,
    *,
    docker: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Pushed:
    """An image of one small layer, pushed through the API as an OCI or Docker v2 manifest.

    The manifest is written indented with its keys in an unusual order, so a client that
    re-serialised it instead of copying its bytes would change its digest.
    """
    layer = content.encode()
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [
            sha256(layer)]}, "config": {"Labels": {"content": content}}}
    ).encode()  # fmt: skip
    config_digest = upload_blob(http, base_url, repo, config, headers)
    layer_digest = upload_blob(http, base_url, repo, layer, headers)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {
        "config": {
            "size": len(config),
            "digest": config_digest,
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
        },
        "layers": [
            {
                "size": len(layer),
                "digest": layer_digest,
                "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
            }
        ],
        "mediaType": media_type,
        "schemaVersion": 2,
    }
    data = json.dumps(manifest, indent=3).encode()
    return put_manifest(http, base_url, repo, tag, data, media_type, headers)


def api_index(
    http: requests.Session,
    base_url: str,
    repo: str,
    tag: str,
    images: Mapping[str, Pushed],
    *,
    docker: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Pushed:
    """An OCI index (or Docker manifest list) over ``images`` {architecture: manifest}."""
    media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
    index = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            image.descriptor({"architecture": arch, "os": "linux"})
            for arch, image in images.items()
        ],
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    if docker:
        del index["annotations"]
    data = json.dumps(index, indent=1, sort_keys=False).encode() + b"\n"
    return put_manifest(http, base_url, repo, tag, data, media_type, headers)


def engine_image(engine: DockerEngine, reference: str, content: str) -> None:
    """Build ``FROM scratch`` with one COPY of ``content`` in the engine, tag, and push."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in (("Dockerfile", "FROM scratch\nCOPY v.txt /v.txt\n"), ("v.txt", content)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    repository, _, tag = reference.rpartition(":")
    client = engine.client()
    try:
        client.images.build(
            fileobj=context, custom_context=True, tag=reference, rm=True, network_mode="none"
        )
        events = client.images.push(repository, tag, stream=True, decode=True)
        errors = [str(event["error"]) for event in events if "error" in event]
    finally:
        client.close()
    assert errors == [], errors
