"""``[tool.release]`` -> frozen dataclasses (docs/configuration.md).

The whole schema is validated up front and every error names the offending key
path (``tool.release.images[1].dockerfile: file docker/x.Dockerfile does not
exist``). Existence is checked against a list of the files of a tree (the
tagged commit's, from ``git ls-tree``), so validation itself stays pure;
``load_config`` reads a working tree for callers that have no commit yet.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from release.core.configreader import (
    TableReader,
    check_pattern,
    check_template,
    check_text,
    check_unique,
    read_codenames,
    read_github,
    read_path,
    read_url,
    read_yanked,
    type_name,
)
from release.core.errors import ConfigError
from release.core.files import Listing, glob_match, is_glob, normalise, outside, walk_files
from release.core.platformspec import read_platforms

DEFAULT_POST_ALLOWED = (
    "**/*Dockerfile",
    "**/requirements*.txt",
    "**/*.lock",
    "**/package-lock.json",
)
DEFAULT_CODENAMES: Mapping[int, str] = {
    1: "troltunga",
    2: "harukas",
    3: "petronas",
    4: "cotopaxi",
}
DEFAULT_COMMIT_MESSAGE = "Updated the version to {version}"
PYPI_UPLOAD_URL = "https://upload.pypi.org/legacy/"
PYPI_INDEX_URL = "https://pypi.org/simple/"
VERSION_FILE_KINDS = ("pyproject", "version-info", "dunder", "package-json", "dockerfile", "regex")
CHANNEL_KINDS = ("codename", "minor", "latest")
WHEEL_FROM = ("sdist", "source")
"""A package's ``wheel-from``: the wheel built from its sdist (PyPA's default) or its folder."""
RELEASE_ON = ("every", "minor")
"""An image's ``release-on``: built for every release, or only when a minor opens (X.Y.0)."""


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
    wheel_from: str = "sdist"  # one of WHEEL_FROM

    @property
    def pyproject(self) -> str:
        """The path of the package's ``pyproject.toml`` in the tree."""
        return normalise(f"{self.path}/pyproject.toml")


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
    release_on: str = "every"  # one of RELEASE_ON
    platforms: tuple[str, ...] = ()  # empty: the engine's own platform, built by the engine


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
class GitHub:
    """``[tool.release.github]``: owner/name (None: found at run time) and ``assets``."""

    repository: str | None = None
    assets: bool = True


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
    strict_wheels: bool = False  # clashing wheels are an error, not a warning
    pypi: Pypi = field(default_factory=Pypi)
    registry: Registry | None = None
    codenames: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_CODENAMES))
    images: tuple[Image, ...] = ()
    discord: Discord | None = None
    ui: UI | None = None
    github: GitHub | None = None

    def codename(self, major: int) -> str | None:
        return self.codenames.get(major)

    def branch_allowed(self, branch: str) -> bool:
        return any(glob_match(pattern, branch) for pattern in self.branches)


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
    files = walk_files(root) if check_paths else None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte at offset {error.start})", "save it as UTF-8"
        ) from None
    return parse_config(text, files, env, source=str(path))


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
    except RecursionError:
        raise ConfigError(
            f"{source} nests arrays or tables too deeply to be read",
            "flatten the nesting (no configuration needs more than a few levels)",
        ) from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(
            f"tool: expected a table, got {type_name(tool)} (in {source})",
            "remove that key and configure the release in a [tool.release] table "
            "(see docs/configuration.md)",
        )
    table = tool.get("release")
    if table is None:
        raise ConfigError(
            f"{source} has no [tool.release] table",
            "add one (see docs/configuration.md)",
        )
    if not isinstance(table, dict):
        raise ConfigError(
            f"tool.release: expected a table, got {type_name(table)} (in {source})",
            "write the configuration as a [tool.release] table (see docs/configuration.md)",
        )
    check_text(table, "tool.release")
    tree = Listing(files)
    reader = TableReader(table, "tool.release")
    return _build(reader, tree, env if env is not None else os.environ, project_folder)


def _build(
    reader: TableReader, tree: Listing, env: Mapping[str, str], project_folder: str | None
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
    check_template(reader, "commit-message", commit_message)
    post_allowed = reader.strings("post-allowed-paths", DEFAULT_POST_ALLOWED)
    maintainers = reader.strings("maintainers", ())
    require_signed = reader.boolean("require-signed-tags", False)
    allowed_signers = read_path(reader, "allowed-signers", tree, kind="file", required=False)
    yanked = read_yanked(reader)
    version_files = tuple(_version_file(r, tree) for r in reader.tables("version-files"))
    packages = tuple(_package(r, tree) for r in reader.tables("packages"))
    strict_wheels = reader.boolean("strict-wheels", False)
    pypi = _pypi(reader.sub("pypi"), env)
    images = tuple(_image(r, tree) for r in reader.tables("images"))
    registry = _registry(reader, env, bool(images))
    codenames = read_codenames(reader, DEFAULT_CODENAMES)
    discord = _discord(reader.sub("discord"), tree, project_folder)
    ui = _ui(reader.sub("ui"), tree)
    github = read_github(reader.sub("github"), GitHub)
    check_unique(reader, "packages", [p.path for p in packages])
    check_unique(reader, "images", [i.name for i in images])
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
        strict_wheels=strict_wheels,
        pypi=pypi,
        registry=registry,
        codenames=codenames,
        images=images,
        discord=discord,
        ui=ui,
        github=github,
    )


def _version_file(reader: TableReader, tree: Listing) -> VersionFile:
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
        check_pattern(reader, pattern)
    elif pattern is not None:
        raise reader.error("pattern", 'is only used when kind = "regex"')
    if arg is not None and kind != "dockerfile":
        raise reader.error("arg", 'is only used when kind = "dockerfile"')
    if fmt is not None:
        check_template(reader, "format", fmt)
    reader.done()
    matches: tuple[str, ...] = ()
    if tree.checked:
        matches = (
            tree.glob(path) if is_glob(path) else ((normalise(path),) if tree.is_file(path) else ())
        )
        if not matches:
            what = "matches no file" if is_glob(path) else f"file {path} does not exist"
            raise reader.error("path", what)
    return VersionFile(path=path, kind=kind, pattern=pattern, format=fmt, arg=arg, matches=matches)


def _package(reader: TableReader, tree: Listing) -> Package:
    path = read_path(reader, "path", tree, kind="folder", required=True)
    wheel_from = reader.string("wheel-from", "sdist")
    if wheel_from not in WHEEL_FROM:
        raise reader.error(
            "wheel-from",
            f"{wheel_from!r} is not one of {', '.join(repr(v) for v in WHEEL_FROM)} "
            '("source": both files from the package folder, for an sdist that is not '
            "self-contained)",
        )
    reader.done()
    package = Package(path=path, wheel_from=wheel_from)
    if tree.checked and not (tree.is_file(package.pyproject) or tree.is_file(f"{path}/setup.py")):
        raise reader.error("path", f"folder {path} has no pyproject.toml or setup.py")
    return package


def _pypi(reader: TableReader | None, env: Mapping[str, str]) -> Pypi:
    repository_url, index_url = PYPI_UPLOAD_URL, PYPI_INDEX_URL
    if reader is not None:
        repository_url = read_url(reader, "repository-url", PYPI_UPLOAD_URL)
        index_url = read_url(reader, "index-url", PYPI_INDEX_URL)
        reader.done()
    from release.core.http import insecure_for_credentials, not_https, url_credentials

    overrides = env.get("TWINE_REPOSITORY_URL"), env.get("RELEASE_INDEX_URL")
    for url in overrides:
        url_credentials(url)  # the password of a URL is a secret from the moment it is read
    pypi = Pypi(
        repository_url=overrides[0] or repository_url,
        index_url=overrides[1] or index_url,
    )
    # Credentials go only over HTTPS (or to this machine): the upload always sends them, the
    # index those its URL carries. Whoever names the URL, the tagged commit or the environment.
    for key, variable, url, sends in (
        ("repository-url", "TWINE_REPOSITORY_URL", pypi.repository_url, True),
        ("index-url", "RELEASE_INDEX_URL", pypi.index_url, url_credentials(pypi.index_url)),
    ):
        if sends and insecure_for_credentials(url):
            where = variable if env.get(variable) else f"tool.release.pypi.{key}"
            raise ConfigError(f"{where}: {not_https(url)}", f"set {where} to its https:// URL")
    return pypi


def _registry(reader: TableReader, env: Mapping[str, str], has_images: bool) -> Registry | None:
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


def _image(reader: TableReader, tree: Listing) -> Image:
    import re

    name = reader.string("name", required=True)
    if not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*", name):
        raise reader.error("name", f"{name!r} is not a valid repository name (lower case, a/b)")
    dockerfile = read_path(reader, "dockerfile", tree, kind="file", required=True)
    context = read_path(reader, "context", tree, kind="folder", required=False) or "."
    build_args_value = reader.get("build-args")
    build_args: dict[str, str] = {}
    if build_args_value is not None:
        if not isinstance(build_args_value, dict):
            raise reader.error("build-args", f"expected a table, got {type_name(build_args_value)}")
        for key, value in build_args_value.items():
            if not isinstance(value, str):
                raise ConfigError(
                    f"{reader.key('build-args')}.{key}: expected a string, got {type_name(value)}"
                )
            check_template(reader, f"build-args.{key}", value)
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
        check_template(reader, f"extra-tags[{index}]", template)
    release_on = reader.string("release-on", "every")
    if release_on not in RELEASE_ON:
        raise reader.error(
            "release-on",
            f"{release_on!r} is not one of {', '.join(repr(v) for v in RELEASE_ON)} "
            '("minor": built only for X.Y.0, its pre-releases and post releases)',
        )
    platforms = read_platforms(reader)  # release.core.platformspec
    reader.done()
    return Image(
        name=name,
        dockerfile=dockerfile,
        context=context,
        build_args=build_args,
        channels=channels,
        extra_tags=extra_tags,
        release_on=release_on,
        platforms=platforms,
    )


def _discord(
    reader: TableReader | None, tree: Listing, project_folder: str | None
) -> Discord | None:
    if reader is None:
        return None
    name = reader.string("project-name", project_folder or "project")
    changelog = read_path(reader, "changelog", tree, kind="file", required=False)
    reader.done()
    return Discord(project_name=name, changelog=changelog)


def _ui(reader: TableReader | None, tree: Listing) -> UI | None:
    if reader is None:
        return None
    path = read_path(reader, "path", tree, kind="folder", required=True)
    azure_app = reader.string("azure-app", required=True)
    install = reader.string("install", "npm ci")
    build = reader.string("build", "npm run build")
    output = reader.string("output", "dist")
    if outside(output):
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
