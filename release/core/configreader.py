"""Typed reading of one TOML table of ``[tool.release]``, and the checks of single values.

Every error is a ``ConfigError`` that names the key path it is about
(``tool.release.images[1].dockerfile: ...``); a table refuses keys its reader never asked
for. ``release.core.config`` builds the configuration with these.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from release.core.errors import ConfigError, UsageError
from release.core.files import Listing, normalise, outside
from release.core.text import shown

T = TypeVar("T")

TEMPLATE_FIELDS = frozenset(
    {"version", "npm_version", "docker_tag", "major", "minor", "patch", "codename"}
)


class TableReader:
    """Typed access to one TOML table; every error is prefixed with its key path."""

    def __init__(self, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table, got {type_name(table)}")
        self.table: dict[str, Any] = table
        self.where = where
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}"

    def error(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.key(name)}: {message}")

    def get(self, name: str) -> Any:
        self.used.add(name)
        return self.table.get(name)

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.get(name)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return default
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {type_name(value)}")
        if value.strip() == "":
            raise self.error(name, "must not be empty")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {type_name(value)}")
        return value

    def strings(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, list):
            raise self.error(name, f"expected a list of strings, got {type_name(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(
                    f"{self.key(name)}[{index}]: expected a non-empty string, got {item!r}"
                )
        return tuple(value)

    def tables(self, name: str) -> list[TableReader]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(
                name, f"expected an array of tables ([[{self.key(name)}]]), got {type_name(value)}"
            )
        return [TableReader(item, f"{self.key(name)}[{index}]") for index, item in enumerate(value)]

    def sub(self, name: str) -> TableReader | None:
        value = self.get(name)
        if value is None:
            return None
        return TableReader(value, self.key(name))

    def done(self) -> None:
        """Refuse keys that are not in the schema, naming them and the nearest known key."""
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            name = unknown[0]
            known = ", ".join(sorted(self.used))
            raise self.error(name, f"unknown key (known keys here: {known})")


def type_name(value: Any) -> str:
    return {
        dict: "a table",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


def check_template(reader: TableReader, name: str, template: str) -> None:
    """Refuse a template that is not text with plain ``{field}`` placeholders of
    ``TEMPLATE_FIELDS``: no format spec (``{version:>9}``), no conversion (``{version!r}``),
    no attribute or index (``{version.x}``, ``{version[0]}``). ``str.format`` would obey
    them, and a spec like ``{version:>999999999}`` asks for a gigabyte."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise reader.error(
            name, f"invalid template {template!r}: {error} (write a literal brace as {{{{ or }}}})"
        ) from None
    fields = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
    for _, field_name, spec, conversion in parsed:
        if field_name is None:
            continue
        base = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if base not in TEMPLATE_FIELDS:
            raise reader.error(
                name, f"unknown template field {{{field_name}}} in {template!r} (known: {fields})"
            )
        if field_name != base or spec or conversion is not None:
            written = "{" + field_name + (f"!{conversion}" if conversion else "")
            written += (f":{spec}" if spec else "") + "}"
            raise reader.error(
                name,
                f"{shown(written)} in {shown(template)}: templates take plain fields only "
                f"(no format spec, conversion, attribute or index): write {{{base}}}",
            )


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(table: Any, where: str) -> None:
    """Refuse a NUL byte (or another control character but tab and line breaks) in any
    key or string of ``table``, at any depth, naming its key path: no path, command, ref or
    message holds one, and a NUL cannot even be handed to git or the operating system."""
    if isinstance(table, dict):
        for key, value in table.items():
            _check_string(key, f"{where}: the key {shown(key)}")
            check_text(value, f"{where}.{key}")
    elif isinstance(table, list):
        for index, item in enumerate(table):
            check_text(item, f"{where}[{index}]")
    elif isinstance(table, str):
        _check_string(table, f"{where}: {shown(table)}")


def _check_string(text: str, what: str) -> None:
    found = CONTROL.search(text)
    if found is None:
        return
    nul = found[0] == "\x00"
    char = "a NUL byte" if nul else f"the control character {found[0]!r}"
    raise ConfigError(
        f"{what} holds {char} (character {found.start() + 1})",
        "remove it (in TOML it is the escape \\u0000)" if nul else "remove it",
    )


def read_path(reader: TableReader, name: str, tree: Listing, *, kind: str, required: bool) -> Any:
    """A path inside the repository, normalised; ``kind`` "file" or "folder" must exist."""
    value = reader.string(name, required=required)
    if value is None:
        return None
    if outside(value):
        raise reader.error(name, f"{value!r} must be a path inside the repository")
    checks: dict[str, Callable[[str], bool]] = {"file": tree.is_file, "folder": tree.is_dir}
    if kind in checks and not checks[kind](value):
        raise reader.error(name, f"{kind} {value} does not exist")
    return normalise(value)


def read_url(reader: TableReader, name: str, default: str) -> str:
    """An http(s) URL; the credentials it may carry are secrets from here on (masked)."""
    from release.core.http import public_url, url_credentials

    value: str = reader.string(name, default)
    url_credentials(value)
    if not value.startswith(("https://", "http://")):
        what = "the value" if "@" in public_url(value) else repr(public_url(value))
        raise reader.error(name, f"{what} is not an http(s) URL (write https://...)")
    return value


def read_yanked(reader: TableReader) -> tuple[str, ...]:
    """``yanked``: version numbers, in their canonical PEP 440 spelling."""
    from release.core.version import parse_version

    values = reader.strings("yanked", ())
    canonical = []
    for index, value in enumerate(values):
        try:
            canonical.append(parse_version(value).pep440)
        except UsageError as error:
            raise ConfigError(f"{reader.key('yanked')}[{index}]: {error}") from None
    return tuple(canonical)


def check_unique(reader: TableReader, name: str, values: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(f"{reader.key(name)}[{index}]: {value!r} is listed twice")
        seen.add(value)


def check_pattern(reader: TableReader, pattern: str) -> None:
    """A regex writer's ``pattern``: valid, with one group for the version."""
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as error:
        raise reader.error("pattern", f"invalid regular expression: {error}") from None
    if "version" not in compiled.groupindex and compiled.groups != 1:
        raise reader.error(
            "pattern",
            "needs one group for the version: a named group (?P<version>...) or one (...)",
        )


def read_codenames(reader: TableReader, default: Mapping[int, str]) -> Mapping[int, str]:
    """``codenames``: a Docker tag for each major version (``1 = "name"``)."""
    sub = reader.sub("codenames")
    if sub is None:
        return dict(default)
    result: dict[int, str] = {}
    for key, value in sub.table.items():
        sub.used.add(key)
        if not key.isdigit() or (len(key) > 1 and key.startswith("0")):
            raise sub.error(key, 'codename keys are major version numbers (1 = "name")')
        if not isinstance(value, str) or not value.strip():
            raise sub.error(key, f"expected a non-empty string, got {value!r}")
        if not valid_docker_tag(value):
            raise sub.error(key, f"{value!r} is not a valid Docker tag")
        result[int(key)] = value
    return result


def valid_docker_tag(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text) is not None


GITHUB_REPOSITORY = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}"
"""A GitHub repository, ``owner/name``."""


def read_github(reader: TableReader | None, made: Callable[..., T]) -> T | None:
    """``[tool.release.github]``: ``repository`` (``owner/name``) and ``assets``, as ``made``."""
    if reader is None:
        return None
    repository = reader.string("repository")
    if repository is not None and not re.fullmatch(GITHUB_REPOSITORY, repository):
        raise reader.error("repository", f"{repository!r} is not a GitHub repository: owner/name")
    assets = reader.boolean("assets", True)
    reader.done()
    return made(repository=repository, assets=assets)
