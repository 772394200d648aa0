"""What each configured image becomes for one version: repository, fixed tags, build args
and OCI labels. Pure, but for :func:`targets_for`, which reads the commit time and remote.

The labels are ``org.opencontainers.image.version/.revision/.source/.created``;
``created`` is the tagged commit's time, not the clock, so a rebuild labels alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from release.run.plan import fixed_image_tags, released_images

if TYPE_CHECKING:
    from release.core.config import Config, Image
    from release.core.version import ReleaseVersion
    from release.run.context import ReleaseContext

LABEL_PREFIX = "org.opencontainers.image"


@dataclass(frozen=True)
class ImageTarget:
    """One configured image for one version: where it goes and how it is built."""

    image: Image
    repository: str  # <registry host>/<name>
    tags: tuple[str, ...]  # the version tag first, then the {version} extra tags
    build_args: Mapping[str, str]
    labels: Mapping[str, str]
    timestamp: int = 0  # the tagged commit's time: buildah's --timestamp

    @property
    def name(self) -> str:
        return self.image.name

    @property
    def version_tag(self) -> str:
        return self.tags[0]

    def ref(self, tag: str) -> str:
        return f"{self.repository}:{tag}"

    @property
    def push_order(self) -> tuple[str, ...]:
        """Extra tags first, the version tag last: the version tag marks a complete image."""
        return (*self.tags[1:], self.tags[0])


def created_time(timestamp: int) -> str:
    """ISO 8601 in UTC (``2024-05-01T12:00:00Z``), as the OCI annotation wants."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def source_url(remote_url: str | None, env: Mapping[str, str]) -> str | None:
    """Where the source lives, for ``org.opencontainers.image.source``; never a credential.

    In GitHub Actions the repository's page; otherwise the remote's URL without
    user information (a token in an https remote) and with scp-like
    ``git@host:org/repo.git`` turned into ``https://host/org/repo``.
    """
    server, repository = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    if server and repository:
        return f"{server.rstrip('/')}/{repository}"
    if not remote_url:
        return None
    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", remote_url)
    if scp and not Path(remote_url).exists():
        return f"https://{scp.group(1)}/{scp.group(2).removesuffix('.git')}"
    parts = urlsplit(remote_url)
    if parts.scheme in ("http", "https", "ssh", "git") and parts.hostname:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
        return urlunsplit((scheme, host, parts.path.removesuffix(".git"), "", ""))
    return remote_url


def oci_labels(
    version: ReleaseVersion, revision: str, created: str, source: str | None
) -> dict[str, str]:
    """The OCI annotations every image carries."""
    labels = {
        f"{LABEL_PREFIX}.version": version.docker_tag,
        f"{LABEL_PREFIX}.revision": revision,
        f"{LABEL_PREFIX}.created": created,
    }
    if source:
        labels[f"{LABEL_PREFIX}.source"] = source
    return labels


def build_args(image: Image, fields: Mapping[str, str | int]) -> dict[str, str]:
    """The image's ``build-args`` with the template fields filled in."""
    return {key: template.format(**fields) for key, template in image.build_args.items()}


def image_targets(
    config: Config, version: ReleaseVersion, labels: Mapping[str, str], timestamp: int = 0
) -> list[ImageTarget]:
    """Every image ``version`` builds (``release-on`` skips some in a patch release):
    repository, fixed tags, args and labels (and the commit's time, for buildah)."""
    if config.registry is None:
        return []
    codename = config.codename(version.major)
    fields = version.fields(codename)
    return [
        ImageTarget(
            image=image,
            repository=f"{config.registry.host}/{image.name}",
            tags=fixed_image_tags(image, version, codename),
            build_args=build_args(image, fields),
            labels=dict(labels),
            timestamp=timestamp,
        )
        for image in released_images(config, version)
    ]


def targets_for(ctx: ReleaseContext) -> list[ImageTarget]:
    """``image_targets`` for the release in ``ctx`` (reads the commit time and the remote)."""
    timestamp = ctx.git.commit_time(ctx.commit)
    source = source_url(ctx.git.remote_url(ctx.config.remote), ctx.env)
    labels = oci_labels(ctx.version, ctx.commit, created_time(timestamp), source)
    return image_targets(ctx.config, ctx.version, labels, timestamp)
