"""Whose image a version tag holds: an existing fixed tag is this release's, or it is refused.

A version tag (and a ``{version}`` extra tag) names one image forever: it is never
overwritten, and a release whose tag exists counts it as done. That is only right when the
tag holds *this* release's image, so before anything of the release is pushed each fixed
tag that exists is read back (docs/design.md "Tags that never move"):

- it is this release's when its digest is the one this release's state records as pushed
  for it (a re-run after a lost answer), or when its image's ``org.opencontainers.image.revision``
  label is the tagged commit (every image the step builds carries it; the legacy builder
  never repeats a digest, so in practice the label decides);
- otherwise, another commit's image or an unlabelled one, it is refused, naming the tag,
  both revisions and the fix: release a new version.

The revision is read from the registry: the tag's manifest, then its config blob. For a
multi-arch index every platform's image is read (attestation manifests aside); they must
all carry the tagged commit, else the tag is refused with each platform's revision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from release.steps.images.oci import DOCKER_MANIFEST_LIST, OCI_INDEX, Manifest

if TYPE_CHECKING:
    from release.steps.images.registry import RegistryClient

REVISION_LABEL = "org.opencontainers.image.revision"
MAX_PLATFORMS = 32  # an index with more is not read further (its revisions are "unknown")


@dataclass(frozen=True)
class Revision:
    """The revision one image of a tag carries (None: no label), and its platform."""

    value: str | None
    platform: str | None = None

    def shown(self) -> str:
        text = self.value if self.value is not None else f"no {REVISION_LABEL} label"
        return f"{text} ({self.platform})" if self.platform else text


@dataclass(frozen=True)
class ForeignTag:
    """A fixed tag that exists and holds an image that is not this release's."""

    reference: str  # host/name:tag
    digest: str
    revisions: tuple[Revision, ...]
    commit: str

    @property
    def message(self) -> str:
        theirs = ", ".join(r.shown() for r in self.revisions) or "unknown (no image in it)"
        its = "its revisions are" if len(self.revisions) > 1 else "its revision is"
        return (
            f"{self.reference} exists and holds another image ({self.digest}): {its} "
            f"{theirs}, this release's is {self.commit}"
        )

    @property
    def hint(self) -> str:
        return (
            "a version tag is never overwritten; release a new version "
            "(or delete the tag from the registry if it was pushed by mistake)"
        )

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}"


def _clean(value: Any) -> str | None:
    """A label value fit for one line of output (None when it is not a string)."""
    if not isinstance(value, str):
        return None
    text = "".join(c if c.isprintable() else "?" for c in value.strip())
    return text if len(text) <= 80 else text[:77] + "..."


def config_revision(data: bytes) -> str | None:
    """The revision label of an image config blob (Docker's or OCI's), None without one."""
    try:
        config = json.loads(data)
    except ValueError:
        return None
    inner = config.get("config") if isinstance(config, dict) else None
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return _clean(labels.get(REVISION_LABEL)) if isinstance(labels, dict) else None


def _platform(descriptor: Mapping[str, Any]) -> str | None:
    platform = descriptor.get("platform")
    if not isinstance(platform, dict):
        return None
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(p) for p in parts if p) or None


def _is_attestation(descriptor: Mapping[str, Any]) -> bool:
    """BuildKit's provenance and SBOM entries of an index: not an image of a platform."""
    annotations = descriptor.get("annotations")
    if isinstance(annotations, dict) and "vnd.docker.reference.type" in annotations:
        return True
    platform = descriptor.get("platform")
    return isinstance(platform, dict) and platform.get("os") == "unknown"


def revisions(client: RegistryClient, repo: str, reference: str) -> tuple[Revision, ...]:
    """The revision of each image ``repo:reference`` holds: one for an image, one per
    platform for an index."""
    manifest = client.manifest(repo, reference)
    body = _json(manifest.data)
    if manifest.media_type not in (OCI_INDEX, DOCKER_MANIFEST_LIST):
        return (_image_revision(client, repo, body, None),)
    found = []
    entries = [d for d in body.get("manifests") or [] if isinstance(d, dict)]
    for descriptor in [d for d in entries if not _is_attestation(d)][:MAX_PLATFORMS]:
        platform = _platform(descriptor)
        digest = descriptor.get("digest")
        if not isinstance(digest, str):
            found.append(Revision(None, platform))
            continue
        inner = client.manifest(repo, digest)
        if inner.media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST):
            found.append(Revision(None, platform))  # an index in an index: not read further
            continue
        found.append(_image_revision(client, repo, _json(inner.data), platform))
    return tuple(found)


def index_platforms(manifest: Manifest) -> dict[str, str]:
    """{platform: manifest digest} of an index ({} for an image of one platform),
    attestation manifests aside."""
    if manifest.media_type not in (OCI_INDEX, DOCKER_MANIFEST_LIST):
        return {}
    entries = [d for d in _json(manifest.data).get("manifests") or [] if isinstance(d, dict)]
    found = {}
    for descriptor in [d for d in entries if not _is_attestation(d)][:MAX_PLATFORMS]:
        platform, digest = _platform(descriptor), descriptor.get("digest")
        if platform and isinstance(digest, str):
            found[platform] = digest
    return found


def _image_revision(
    client: RegistryClient, repo: str, manifest: Mapping[str, Any], platform: str | None
) -> Revision:
    config = manifest.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        return Revision(None, platform)
    size = config.get("size") if isinstance(config.get("size"), int) else None
    return Revision(config_revision(client.blob(repo, config["digest"], size)), platform)


def _json(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def is_this_release(found: Iterable[Revision], commit: str) -> bool:
    """Whether every image of a tag carries the tagged commit as its revision."""
    values = [r.value.lower() if r.value else None for r in found]
    return bool(values) and all(value == commit.lower() for value in values)


def foreign_tags(
    client: RegistryClient,
    repository: str,
    name: str,
    existing: Mapping[str, str],
    commit: str,
    ours: Iterable[str] = (),
) -> list[ForeignTag]:
    """The fixed tags of image ``name`` that exist (``existing``: {tag: digest}) and hold an
    image that is not this release's. ``ours``: digests this release's state records as
    pushed by it, accepted without reading the image."""
    known = set(ours)
    found = []
    for tag, digest in existing.items():
        if digest in known:
            continue
        held = revisions(client, name, tag)
        if not is_this_release(held, commit):
            found.append(ForeignTag(f"{repository}:{tag}", digest, held, commit))
    return found


def pushed_digests(record: Mapping[str, Any] | None, name: str) -> set[str]:
    """The digests this release's state records as pushed for image ``name`` (not those
    it found and kept: an earlier version of the tool kept any image)."""
    images = (record or {}).get("images")
    image = images.get(name) if isinstance(images, Mapping) else None
    if not isinstance(image, Mapping) or not image.get("pushed"):
        return set()
    digest = image.get("digest")
    return {digest} if isinstance(digest, str) else set()
