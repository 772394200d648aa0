"""Which builder an image needs, and whether this machine can run it: light, standard library.

An image without ``platforms``, or whose only platform is the engine's own, is built by the
Docker engine as before. Any other (two platforms or more, or one the engine is not) is built
by buildah (``release.steps.images.buildah``), one build per platform, joined into one OCI
image index. buildah runs here, on this machine: a ``RUN`` instruction for a platform whose
processor this machine does not have runs under QEMU, through the handler the kernel has
registered for it (``/proc/sys/fs/binfmt_misc/qemu-<arch>``). Both are checked before
anything is built (``builder_problems``, called by ``release.steps.images.checks`` and by
the step itself).
"""

from __future__ import annotations

import os
import platform as _platform
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from release.core.config import Image

BINFMT = Path("/proc/sys/fs/binfmt_misc")
BUILDAH_FIX = (
    "install buildah (Debian and Ubuntu: apt-get install buildah; GitHub's Ubuntu runners "
    "have it), or set the image's platforms to the Docker engine's own"
)
QEMU_FIX = (
    "register QEMU's handlers: `docker run --privileged --rm tonistiigi/binfmt --install all` "
    "(GitHub Actions: docker/setup-qemu-action), or Debian's qemu-user-static package"
)

# uname -m -> the OCI architecture (and variant) of this machine.
_MACHINES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i686": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64le",
}
# An OCI architecture -> the name of QEMU's binfmt handler for it.
_QEMU = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm": "arm",
    "386": "i386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64le": "mips64el",
}
# Architectures a processor runs without help, besides its own.
_NATIVE_ALSO = {"amd64": ("386",)}


def machine_platform() -> str:
    """This machine's platform, ``linux/amd64`` for instance (buildah builds here)."""
    machine = _platform.machine().lower()
    return f"linux/{_MACHINES.get(machine, machine)}"


def arch(platform: str) -> str:
    """``arm64`` of ``linux/arm64``, ``arm`` of ``linux/arm/v7``."""
    return platform.split("/")[1]


def uses_buildah(image: Image, engine_platform: str | None) -> bool:
    """Whether ``image`` is built by buildah: it names platforms, and they are not exactly
    the engine's own (``engine_platform``; None when unknown, which counts as another)."""
    if not image.platforms:
        return False
    return tuple(image.platforms) != (engine_platform,)


def single_platform_images(images: Iterable[Image]) -> bool:
    """Whether the builder of some image depends on the engine's platform (one named)."""
    return any(len(image.platforms) == 1 for image in images)


def buildah_program(env: Mapping[str, str]) -> str | None:
    """The buildah on ``PATH`` (of ``env``), or None."""
    return shutil.which("buildah", path=env.get("PATH", os.defpath))


def qemu_handler(architecture: str, root: Path = BINFMT) -> Path:
    """Where the kernel lists QEMU's handler for ``architecture``."""
    return root / f"qemu-{_QEMU.get(architecture, architecture)}"


def qemu_registered(architecture: str, root: Path = BINFMT) -> bool:
    """Whether QEMU's handler for ``architecture`` is registered and enabled."""
    try:
        first = qemu_handler(architecture, root).read_text(encoding="ascii").splitlines()[:1]
    except (OSError, UnicodeDecodeError):
        return False
    return first == ["enabled"]


def foreign(platform: str, machine: str) -> bool:
    """Whether a ``RUN`` for ``platform`` needs QEMU on a ``machine`` platform."""
    mine = arch(machine)
    return arch(platform) != mine and arch(platform) not in _NATIVE_ALSO.get(mine, ())


_FROM_NATIVE = re.compile(r"--platform=\$\{?BUILDPLATFORM\}?(?:\s|$)", re.IGNORECASE)


def runs_for_target(dockerfile: str) -> bool:
    """Whether the Dockerfile has a ``RUN`` in a stage built for the target platform, that
    is a stage not ``FROM --platform=$BUILDPLATFORM`` (those run on this machine's own)."""
    native = False
    for instruction in _instructions(dockerfile):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            native = bool(_FROM_NATIVE.search(rest))
        elif keyword == "RUN" and not native:
            return True
    return False


def pulls_from(dockerfile: str, host: str) -> bool:
    """Whether a ``FROM`` may name an image of registry ``host`` (one with a variable may)."""
    for instruction in _instructions(dockerfile):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() != "FROM":
            continue
        words = [w for w in rest.split() if not w.startswith("--")]
        if words and ("$" in words[0] or words[0].lower().startswith(f"{host.lower()}/")):
            return True
    return False


def _instructions(dockerfile: str) -> list[str]:
    """The instructions, continuation lines joined, comments and heredoc bodies left out."""
    found: list[str] = []
    current = ""
    heredoc: list[str] = []
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if heredoc:
            if line == heredoc[-1]:
                heredoc.pop()
            continue
        if not line or line.startswith("#"):
            continue  # inside a continuation too, as Docker reads them
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        instruction = (current + line).strip()
        current = ""
        found.append(instruction)
        heredoc = [m[1] for m in re.finditer(r"<<-?[\"']?([A-Za-z_][A-Za-z0-9_]*)", instruction)]
        heredoc.reverse()
    if current.strip():
        found.append(current.strip())
    return found


def builder_problems(
    images: Sequence[Image],
    dockerfiles: Mapping[str, str | None],
    env: Mapping[str, str],
    engine_platform: str | None,
    machine: str | None = None,
    root: Path = BINFMT,
    *,
    qemu: bool = True,
) -> list[str]:
    """One line per problem of the images buildah builds: buildah is not on ``PATH``; a
    Dockerfile (``dockerfiles``: its text by image name) runs ``RUN`` for a platform this
    machine runs only under QEMU, and QEMU's handler for it is not registered (unless
    ``qemu`` is false)."""
    multi = [i for i in images if uses_buildah(i, engine_platform)]
    if not multi:
        return []
    found = []
    if buildah_program(env) is None:
        names = "; ".join(f"{i.name} ({', '.join(i.platforms)})" for i in multi)
        found.append(
            f"buildah is not installed (not on PATH), and it builds {names}: {BUILDAH_FIX}"
        )
    machine = machine or machine_platform()
    for image in multi if qemu else ():
        text = dockerfiles.get(image.name)
        if text is None or not runs_for_target(text):
            continue
        for platform in image.platforms:
            if foreign(platform, machine) and not qemu_registered(arch(platform), root):
                found.append(
                    f"{image.name}: {image.dockerfile} has RUN instructions for {platform}, "
                    f"which this {machine} machine runs only under QEMU, and no QEMU handler "
                    f"for {arch(platform)} is registered ({qemu_handler(arch(platform), root)} "
                    f"is missing): {QEMU_FIX}"
                )
    return found
