"""An image's ``platforms`` key: ``os/arch[/variant]`` names, read and checked for
``release.core.config`` (``linux/amd64``, ``linux/arm64``, ``linux/arm/v7``)."""

from __future__ import annotations

import re

from release.core.configreader import TableReader
from release.core.errors import ConfigError

PLATFORM_ARCH = ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le")
PLATFORM = rf"(?:linux|windows)/(?:{'|'.join(PLATFORM_ARCH)})(?:/v[5-9])?"
"""One platform: ``os/arch[/variant]``."""


def read_platforms(reader: TableReader) -> tuple[str, ...]:
    """An image's ``platforms``: distinct ``os/arch[/variant]``, at least one when set."""
    platforms = reader.strings("platforms", ())
    if reader.get("platforms") is not None and not platforms:
        raise reader.error("platforms", 'is empty: name one or more, e.g. ["linux/amd64"]')
    for index, value in enumerate(platforms):
        where = f"{reader.key('platforms')}[{index}]"
        if value in platforms[:index]:
            raise ConfigError(f"{where}: {value!r} is listed twice")
        if not re.fullmatch(PLATFORM, value):
            raise ConfigError(
                f"{where}: {value!r} is not os/arch[/variant] (os linux or windows; arch "
                f"{', '.join(PLATFORM_ARCH)}; variant v5 to v9; "
                'e.g. "linux/amd64", "linux/arm/v7")'
            )
    return platforms
