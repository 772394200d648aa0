"""``[tool.release]`` -> frozen dataclasses (DESIGN.md "Configuration").

The whole schema is validated up front and every error names the offending key
path (``tool.release.images[1].dockerfile: file docker/x.Dockerfile does not
exist``). Existence is checked against a list of the files of a tree (the
tagged commit's, from ``git ls-tree``), so validation itself stays pure;
``load_config`` reads a working tree for callers that have no commit yet.
"""

from __future__ import annotations

import os
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from release.core.errors import ConfigError, UsageError

DEFAULT_POST_ALLOWED = (
    "**/*Dockerfile",
    "**/requirements*.txt",
    "**/*.lock",
    "**/package-lock.json",
)
DEFAULT_CODENAMES: Mapping[int, str] = {1: "troltunga", 2: "harukas", 3: "petronas"}
DEFAULT_COMMIT_MESSAGE = "Updated the version to {version}"
PYPI_UPLOAD_URL = "https://upload.pypi.org/legacy/"
PYPI_INDEX_URL = "https://pypi.org/simple/"
VERSION_FILE_KINDS = ("pyproject", "version-info", "dunder", "package-json", "dockerfile", "regex")
CHANNEL_KINDS = ("codename", "minor", "latest")
TEMPLATE_FIELDS = frozenset(
    {"version", "npm_version", "docker_tag", "major", "minor", "patch", "codename"}
)


@dataclass(frozen=True)
class VersionFile:
    """One ``[[tool.release.version-files]]`` entry: a path or glob and its writer."""

    path: str
    kind: str
    pattern: str | None = None
    format: str | None = None
    arg: str | None = None
    matches: tuple[str, ...] = ()  # the files of the tree the path or glob selects


@dataclass(frozen=True)
class Package:
    path: str


@dataclass(frozen=True)
class Pypi:
    repository_url: str = PYPI_UPLOAD_URL
    index_url: str = PYPI_INDEX_URL


@dataclass(frozen=True)
class Registry:
    host: str

    @property
    def insecure(self) -> bool:
        """Plain HTTP for loopback hosts, as Docker does."""
        from release.core.http import is_loopback

        hostname = self.host.rsplit(":", 1)[0] if not self.host.startswith("[") else self.host
        return is_loopback(hostname)

    @property
    def base_url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.host}"


@dataclass(frozen=True)
class Image:
    name: str
    dockerfile: str
    context: str = "."
    build_args: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[str, ...] = CHANNEL_KINDS
    extra_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Discord:
    project_name: str
    changelog: str | None = None


@dataclass(frozen=True)
class UI:
    path: str
    azure_app: str
    install: str = "npm ci"
    build: str = "npm run build"
    output: str = "dist"
    slot: str = "production"
    deploy_timeout: int = 600  # seconds to wait for Azure to finish the deployment


@dataclass(frozen=True)
class Config:
    """The validated ``[tool.release]`` table, with environment overrides applied."""

    tag_prefix: str = "version/"
    branches: tuple[str, ...] = ("main", "release/*")
    default_branch: str = "main"
    remote: str = "origin"
    commit_message: str = DEFAULT_COMMIT_MESSAGE
    post_allowed_paths: tuple[str, ...] = DEFAULT_POST_ALLOWED
    maintainers: tuple[str, ...] = ()
    require_signed_tags: bool = False
    allowed_signers: str | None = None
    yanked: tuple[str, ...] = ()
    version_files: tuple[VersionFile, ...] = ()
    packages: tuple[Package, ...] = ()
    pypi: Pypi = field(default_factory=Pypi)
    registry: Registry | None = None
    codenames: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_CODENAMES))
    images: tuple[Image, ...] = ()
    discord: Discord | None = None
    ui: UI | None = None

    def codename(self, major: int) -> str | None:
        return self.codenames.get(major)

    def branch_allowed(self, branch: str) -> bool:
        return any(_glob_match(pattern, branch) for pattern in self.branches)


_WILDMATCH_SYNTAX = "*?[]\\!# /"


def _glob_match(pattern: str, name: str) -> bool:
    # A pattern without wildmatch syntax matches its own text: the usual release branch
    # ("main") is recognised without importing pathspec, which start-up feels (about 10 ms).
    if pattern == name and not any(c in pattern for c in _WILDMATCH_SYNTAX):
        return True
    return matches_any([pattern], name)


def matches_any(patterns: Iterable[str], path: str) -> bool:
    """Whether ``path`` matches one of git-wildmatch ``patterns`` (``**`` spans folders)."""
    import pathspec

    return pathspec.PathSpec.from_lines("gitignore", list(patterns)).match_file(path)


# -- reading -----------------------------------------------------------------


def load_config(
    root: Path, env: Mapping[str, str] | None = None, *, check_paths: bool = True
) -> Config:
    """Read and validate ``root/pyproject.toml`` against the files of the working tree."""
    path = root / "pyproject.toml"
    if not path.is_file():
        raise ConfigError(
            f"{path}: no pyproject.toml in the repository root",
            "add one with a [tool.release] table",
        )
    files = _working_tree_files(root) if check_paths else None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte at offset {error.start})", "save it as UTF-8"
        ) from None
    return parse_config(text, files, env, source=str(path))


def _working_tree_files(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "node_modules")]
        rel = Path(dirpath).relative_to(root)
        found.extend((rel / name).as_posix() for name in filenames)
    return found


def parse_config(
    text: str,
    files: Iterable[str] | None,
    env: Mapping[str, str] | None = None,
    *,
    source: str = "pyproject.toml",
    project_folder: str | None = None,
) -> Config:
    """Validate ``[tool.release]`` from ``text``.

    ``files`` lists the tree's files (paths relative to the root, ``/``-separated);
    ``None`` skips the existence checks. ``env`` supplies the overrides
    (``TWINE_REPOSITORY_URL``, ``RELEASE_INDEX_URL``, ``RELEASE_REGISTRY``).
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source} is not valid TOML: {error}") from None
    table = document.get("tool", {}).get("release")
    if table is None:
        raise ConfigError(
            f"{source} has no [tool.release] table",
            "add one (see the README's configuration reference)",
        )
    tree = _Tree(files)
    reader = _Reader(table, "tool.release")
    return _build(reader, tree, env if env is not None else os.environ, project_folder)


class _Tree:
    """Existence checks over a list of files (folders are their prefixes)."""

    def __init__(self, files: Iterable[str] | None) -> None:
        self.files: list[str] | None = None if files is None else sorted(files)
        self.folders: set[str] = set()
        if self.files is not None:
            self.folders.add(".")
            for name in self.files:
                parent = PurePosixPath(name).parent
                while str(parent) != ".":
                    self.folders.add(str(parent))
                    parent = parent.parent

    @property
    def checked(self) -> bool:
        return self.files is not None

    def is_file(self, path: str) -> bool:
        return self.files is None or _norm(path) in set(self.files)

    def is_dir(self, path: str) -> bool:
        return self.files is None or _norm(path) in self.folders

    def glob(self, pattern: str) -> tuple[str, ...]:
        if self.files is None:
            return ()
        import pathspec

        spec = pathspec.PathSpec.from_lines("gitignore", [pattern])
        return tuple(name for name in self.files if spec.match_file(name))


def _norm(path: str) -> str:
    text = str(PurePosixPath(path))
    return text[2:] if text.startswith("./") else text


class _Reader:
    """Typed access to one TOML table; every error is prefixed with its key path."""

    def __init__(self, table: Any, where: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table, got {_type_name(table)}")
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

    def has(self, name: str) -> bool:
        return name in self.table

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.get(name)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return default
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {_type_name(value)}")
        if value.strip() == "":
            raise self.error(name, "must not be empty")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_type_name(value)}")
        return value

    def strings(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, list):
            raise self.error(name, f"expected a list of strings, got {_type_name(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(
                    f"{self.key(name)}[{index}]: expected a non-empty string, got {item!r}"
                )
        return tuple(value)

    def tables(self, name: str) -> list[_Reader]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(
                name, f"expected an array of tables ([[{self.key(name)}]]), got {_type_name(value)}"
            )
        return [_Reader(item, f"{self.key(name)}[{index}]") for index, item in enumerate(value)]

    def sub(self, name: str) -> _Reader | None:
        value = self.get(name)
        if value is None:
            return None
        return _Reader(value, self.key(name))

    def done(self) -> None:
        """Refuse keys that are not in the schema, naming them and the nearest known key."""
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            name = unknown[0]
            known = ", ".join(sorted(self.used))
            raise self.error(name, f"unknown key (known keys here: {known})")


def _type_name(value: Any) -> str:
    return {
        dict: "a table",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


def _check_template(reader: _Reader, name: str, template: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise reader.error(name, f"invalid template {template!r}: {error}") from None
    for _, field_name, _, _ in parsed:
        if field_name is not None and field_name not in TEMPLATE_FIELDS:
            fields = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
            raise reader.error(
                name, f"unknown template field {{{field_name}}} in {template!r} (known: {fields})"
            )


def _path(reader: _Reader, name: str, tree: _Tree, *, kind: str, required: bool) -> Any:
    value = reader.string(name, required=required)
    if value is None:
        return None
    if PurePosixPath(value).is_absolute() or ".." in PurePosixPath(value).parts:
        raise reader.error(name, f"{value!r} must be a path inside the repository")
    checks: dict[str, Callable[[str], bool]] = {"file": tree.is_file, "folder": tree.is_dir}
    if kind in checks and not checks[kind](value):
        raise reader.error(name, f"{kind} {value} does not exist")
    return _norm(value)


def _build(
    reader: _Reader, tree: _Tree, env: Mapping[str, str], project_folder: str | None
) -> Config:
    prefix = reader.string("tag-prefix", "version/")
    if any(c.isspace() for c in prefix):
        raise reader.error("tag-prefix", "must not contain spaces")
    branches = reader.strings("branches", ("main", "release/*"))
    if not branches:
        raise reader.error("branches", "must list at least one branch")
    default_branch = reader.string("default-branch", "main")
    remote = reader.string("remote", "origin")
    commit_message = reader.string("commit-message", DEFAULT_COMMIT_MESSAGE)
    _check_template(reader, "commit-message", commit_message)
    post_allowed = reader.strings("post-allowed-paths", DEFAULT_POST_ALLOWED)
    maintainers = reader.strings("maintainers", ())
    require_signed = reader.boolean("require-signed-tags", False)
    allowed_signers = _path(reader, "allowed-signers", tree, kind="file", required=False)
    yanked = _yanked(reader)
    version_files = tuple(_version_file(r, tree) for r in reader.tables("version-files"))
    packages = tuple(_package(r, tree) for r in reader.tables("packages"))
    pypi = _pypi(reader.sub("pypi"), env)
    images = tuple(_image(r, tree) for r in reader.tables("images"))
    registry = _registry(reader, env, bool(images))
    codenames = _codenames(reader)
    discord = _discord(reader.sub("discord"), tree, project_folder)
    ui = _ui(reader.sub("ui"), tree)
    _unique(reader, "packages", [p.path for p in packages])
    _unique(reader, "images", [i.name for i in images])
    reader.done()
    return Config(
        tag_prefix=prefix,
        branches=branches,
        default_branch=default_branch,
        remote=remote,
        commit_message=commit_message,
        post_allowed_paths=post_allowed,
        maintainers=maintainers,
        require_signed_tags=require_signed,
        allowed_signers=allowed_signers,
        yanked=yanked,
        version_files=version_files,
        packages=packages,
        pypi=pypi,
        registry=registry,
        codenames=codenames,
        images=images,
        discord=discord,
        ui=ui,
    )


def _unique(reader: _Reader, name: str, values: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ConfigError(f"{reader.key(name)}[{index}]: {value!r} is listed twice")
        seen.add(value)


def _yanked(reader: _Reader) -> tuple[str, ...]:
    from release.core.version import parse_version

    values = reader.strings("yanked", ())
    canonical = []
    for index, value in enumerate(values):
        try:
            canonical.append(parse_version(value).pep440)
        except UsageError as error:
            raise ConfigError(f"{reader.key('yanked')}[{index}]: {error}") from None
    return tuple(canonical)


def _version_file(reader: _Reader, tree: _Tree) -> VersionFile:
    path = reader.string("path", required=True)
    kind = reader.string("kind", required=True)
    if kind not in VERSION_FILE_KINDS:
        raise reader.error("kind", f"{kind!r} is not one of {', '.join(VERSION_FILE_KINDS)}")
    pattern = reader.string("pattern")
    fmt = reader.string("format")
    arg = reader.string("arg")
    if kind == "regex":
        if pattern is None:
            raise reader.error("pattern", 'is required when kind = "regex"')
        _check_pattern(reader, pattern)
    elif pattern is not None:
        raise reader.error("pattern", 'is only used when kind = "regex"')
    if arg is not None and kind != "dockerfile":
        raise reader.error("arg", 'is only used when kind = "dockerfile"')
    if fmt is not None:
        _check_template(reader, "format", fmt)
    reader.done()
    matches: tuple[str, ...] = ()
    if tree.checked:
        matches = (
            tree.glob(path) if _is_glob(path) else ((_norm(path),) if tree.is_file(path) else ())
        )
        if not matches:
            what = "matches no file" if _is_glob(path) else f"file {path} does not exist"
            raise reader.error("path", what)
    return VersionFile(path=path, kind=kind, pattern=pattern, format=fmt, arg=arg, matches=matches)


def _is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _check_pattern(reader: _Reader, pattern: str) -> None:
    import re

    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as error:
        raise reader.error("pattern", f"invalid regular expression: {error}") from None
    if "version" not in compiled.groupindex and compiled.groups != 1:
        raise reader.error(
            "pattern",
            "needs one group for the version: a named group (?P<version>...) or one (...)",
        )


def _package(reader: _Reader, tree: _Tree) -> Package:
    path = _path(reader, "path", tree, kind="folder", required=True)
    reader.done()
    if tree.checked and not (
        tree.is_file(f"{path}/pyproject.toml") or tree.is_file(f"{path}/setup.py")
    ):
        raise reader.error("path", f"folder {path} has no pyproject.toml or setup.py")
    return Package(path=path)


def _pypi(reader: _Reader | None, env: Mapping[str, str]) -> Pypi:
    repository_url, index_url = PYPI_UPLOAD_URL, PYPI_INDEX_URL
    if reader is not None:
        repository_url = _url(reader, "repository-url", PYPI_UPLOAD_URL)
        index_url = _url(reader, "index-url", PYPI_INDEX_URL)
        reader.done()
    return Pypi(
        repository_url=env.get("TWINE_REPOSITORY_URL") or repository_url,
        index_url=env.get("RELEASE_INDEX_URL") or index_url,
    )


def _url(reader: _Reader, name: str, default: str) -> str:
    value: str = reader.string(name, default)
    if not value.startswith(("https://", "http://")):
        raise reader.error(name, f"{value!r} is not an http(s) URL")
    return value


def _registry(reader: _Reader, env: Mapping[str, str], has_images: bool) -> Registry | None:
    sub = reader.sub("registry")
    host = None
    if sub is not None:
        host = sub.string("host", required=True)
        sub.done()
    if env.get("RELEASE_REGISTRY"):
        host = env["RELEASE_REGISTRY"]
    if host is None:
        if has_images:
            raise ConfigError(
                f"{reader.key('registry')}.host: is required when images are configured"
            )
        return None
    if "/" in host or "://" in host:
        raise ConfigError(
            f"{reader.key('registry')}.host: {host!r} must be a host[:port], without scheme or path"
        )
    return Registry(host=host)


def _codenames(reader: _Reader) -> Mapping[int, str]:
    sub = reader.sub("codenames")
    if sub is None:
        return dict(DEFAULT_CODENAMES)
    result: dict[int, str] = {}
    for key, value in sub.table.items():
        sub.used.add(key)
        if not key.isdigit() or (len(key) > 1 and key.startswith("0")):
            raise sub.error(key, 'codename keys are major version numbers (1 = "name")')
        if not isinstance(value, str) or not value.strip():
            raise sub.error(key, f"expected a non-empty string, got {value!r}")
        if not _valid_docker_tag(value):
            raise sub.error(key, f"{value!r} is not a valid Docker tag")
        result[int(key)] = value
    return result


def _valid_docker_tag(text: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", text) is not None


def _image(reader: _Reader, tree: _Tree) -> Image:
    import re

    name = reader.string("name", required=True)
    if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*", name):
        raise reader.error("name", f"{name!r} is not a valid repository name (lower case, a/b)")
    dockerfile = _path(reader, "dockerfile", tree, kind="file", required=True)
    context = _path(reader, "context", tree, kind="folder", required=False) or "."
    build_args_value = reader.get("build-args")
    build_args: dict[str, str] = {}
    if build_args_value is not None:
        if not isinstance(build_args_value, dict):
            raise reader.error(
                "build-args", f"expected a table, got {_type_name(build_args_value)}"
            )
        for key, value in build_args_value.items():
            if not isinstance(value, str):
                raise ConfigError(
                    f"{reader.key('build-args')}.{key}: expected a string, got {_type_name(value)}"
                )
            _check_template(reader, f"build-args.{key}", value)
            build_args[key] = value
    channels = reader.strings("channels", CHANNEL_KINDS)
    for index, channel in enumerate(channels):
        if channel not in CHANNEL_KINDS:
            raise ConfigError(
                f"{reader.key('channels')}[{index}]: {channel!r} is not one of "
                f"{', '.join(CHANNEL_KINDS)} (use extra-tags for other tags)"
            )
    extra_tags = reader.strings("extra-tags", ())
    for index, template in enumerate(extra_tags):
        _check_template(reader, f"extra-tags[{index}]", template)
    reader.done()
    return Image(
        name=name,
        dockerfile=dockerfile,
        context=context,
        build_args=build_args,
        channels=channels,
        extra_tags=extra_tags,
    )


def _discord(reader: _Reader | None, tree: _Tree, project_folder: str | None) -> Discord | None:
    if reader is None:
        return None
    name = reader.string("project-name", project_folder or "project")
    changelog = _path(reader, "changelog", tree, kind="file", required=False)
    reader.done()
    return Discord(project_name=name, changelog=changelog)


def _ui(reader: _Reader | None, tree: _Tree) -> UI | None:
    if reader is None:
        return None
    path = _path(reader, "path", tree, kind="folder", required=True)
    azure_app = reader.string("azure-app", required=True)
    install = reader.string("install", "npm ci")
    build = reader.string("build", "npm run build")
    output = reader.string("output", "dist")
    if PurePosixPath(output).is_absolute() or ".." in PurePosixPath(output).parts:
        raise reader.error("output", f"{output!r} must be a folder inside {path}")
    slot = reader.string("slot", "production")
    timeout = reader.get("deploy-timeout")
    if timeout is None:
        timeout = 600
    elif isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise reader.error(
            "deploy-timeout", f"expected a positive number of seconds, got {timeout!r}"
        )
    reader.done()
    return UI(
        path=path,
        azure_app=azure_app,
        install=install,
        build=build,
        output=output,
        slot=slot,
        deploy_timeout=timeout,
    )
