"""buildah: the builder of multi-platform images, one build per platform, one OCI index.

An image whose ``platforms`` are not just the engine's own (``release.steps.images.platforms``)
is built here, on this machine, by the ``buildah`` program:

- every build goes into a **private storage** in a temporary folder (``--root``,
  ``--runroot``, ``--storage-driver vfs``: no root-level state, no daemon, nothing shared
  with another run), removed by ``Buildah.close`` (the step's ``cleanup``);
- one ``buildah build --platform P`` per platform, with the image's build args, the same
  OCI labels the engine's images carry, and ``--timestamp`` of the tagged commit (the
  ``created`` time of the image and of every file in its layers: a rebuild is the same
  image); the platforms' images are joined into one manifest list of that storage;
- the push is ``buildah manifest push --all --format oci``: every platform's manifest and
  blobs, pushed by digest, then the OCI image index under one tag. The other fixed tags are
  the same bytes put by the registry client (``RegistryClient.put_manifest``), the version
  tag last. Why not push each platform and put the index ourselves: buildah cannot push an
  image without naming a tag (no tag means ``latest``), so every platform would leave a
  tag behind in the registry;
- the registry credentials reach buildah only in an auth file (``--authfile``) written for
  each command that pushes, or may pull a base image from the registry, in a private
  temporary folder (0700, the file 0600) and removed after it (a run killed meanwhile
  leaves it to the next run, which removes it: ``remove_stale``); never on its command
  line (``--creds`` would show them to every process on the machine), and buildah takes a
  push's password from nothing else (``--password-stdin`` is ``buildah login``'s, which
  writes such a file itself);
- buildah and the ``RUN`` steps it runs see a scrubbed environment: no secret of the
  release, no proxy variables passed into ``RUN`` (``--http-proxy=false``).

A failed push is tried again as ``release.core.http.POLICY`` says; a refusal of the
credentials is not.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from release.core import console
from release.core.errors import ReleaseError
from release.core.files import process_alive
from release.core.http import POLICY, retry_wait
from release.steps.images.engine import FAILURE_LINES, ImageBuildError
from release.steps.images.platforms import BUILDAH_FIX, buildah_program, pulls_from

if TYPE_CHECKING:
    from release.core.config import Registry
    from release.steps.images.credentials import RegistryCredentials
    from release.steps.images.display import Display
    from release.steps.images.targets import ImageTarget

STORAGE_DRIVER = "vfs"
PASSED_ENV = re.compile(
    r"PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TZ|XDG_RUNTIME_DIR|XDG_CONFIG_HOME|"
    r"SSL_CERT_FILE|SSL_CERT_DIR|(?:HTTPS?|NO|ALL)_PROXY|(?:https?|no|all)_proxy|"
    r"BUILDAH_ISOLATION|CONTAINERS_CONF|CONTAINERS_REGISTRIES_CONF|CONTAINERS_POLICY"
)
"""What of the release's environment buildah sees (its own settings, the proxies)."""
_STEP = re.compile(r"STEP (\d+)/(\d+): (.*)")


@dataclass(frozen=True)
class BuiltIndex:
    """A multi-platform image built into the private storage: each platform's image ID,
    and the manifest list that joins them."""

    target: ImageTarget
    images: tuple[tuple[str, str], ...]  # (platform, image ID)
    manifest_list: str

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(platform for platform, _ in self.images)


def scrubbed_env(env: Mapping[str, str], tmp: Path) -> dict[str, str]:
    """The variables buildah runs with: ``PASSED_ENV`` of ``env``, and ``TMPDIR`` in the
    private folder, so that nothing it writes outlives it."""
    kept = {k: v for k, v in env.items() if PASSED_ENV.fullmatch(k)}
    kept.setdefault("PATH", os.defpath)
    kept["TMPDIR"] = str(tmp)
    return kept


@contextmanager
def auth_file(host: str, credentials: RegistryCredentials) -> Iterator[Path | None]:
    """An auth file for ``host`` in a private temporary folder, removed on exit; None when
    there are no credentials (buildah then uses its own login, as the engine does)."""
    username, password = credentials
    if username is None or password is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix=_prefix("auth")))  # 0700
    try:
        path = folder / "auth.json"
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        console.register_secret(token)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"auths": {host: {"auth": token}}}, handle)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Buildah:
    """The ``buildah`` program over a private storage (see the module); ``close`` removes it."""

    def __init__(
        self, env: Mapping[str, str], registry: Registry, credentials: RegistryCredentials
    ) -> None:
        program = buildah_program(env)
        if program is None:
            raise ReleaseError("buildah is not installed (not on PATH)", BUILDAH_FIX)
        self.program = program
        self.registry = registry
        self._credentials = credentials
        remove_stale(program, scrubbed_env(env, Path(tempfile.gettempdir())))
        self.folder = Path(tempfile.mkdtemp(prefix=_prefix("buildah")))
        (self.folder / "tmp").mkdir()
        self.env = scrubbed_env(env, self.folder / "tmp")
        if registry.insecure:  # plain HTTP to this machine, as Docker does: pulls and pushes
            conf = self.folder / "registries.conf"
            conf.write_text(loopback_registries(registry.host, env), encoding="utf-8")
            self.env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
        self._files = itertools.count(1)  # next() is atomic: builds run in threads

    def __repr__(self) -> str:
        return f"Buildah({self.folder})"

    def argv(self, *args: str) -> list[str]:
        """buildah's command line over the private storage."""
        return [
            self.program,
            "--root", str(self.folder / "root"),
            "--runroot", str(self.folder / "run"),
            "--storage-driver", STORAGE_DRIVER,
            *args,
        ]  # fmt: skip

    def run(self, args: list[str], line: Callable[[str], None] | None = None) -> list[str]:
        """Run ``buildah args``; every output line to ``line``; the last lines on failure
        (``BuildahError``), the output lines otherwise."""
        process = subprocess.Popen(
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=self.env,
        )
        tail: deque[str] = deque(maxlen=FAILURE_LINES)
        lines: list[str] = []
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                text = raw.rstrip()
                if not text:
                    continue
                tail.append(text)
                if len(lines) < 10_000:
                    lines.append(text)
                if line is not None:
                    line(text)
        if process.wait() != 0:
            raise BuildahError(args[0], list(tail))
        return lines

    def _file(self, name: str) -> Path:
        return self.folder / f"{name}-{next(self._files)}"

    # -- builds ------------------------------------------------------------------

    def build(self, tree: Path, target: ImageTarget, show: Display) -> BuiltIndex:
        """Build ``target`` for each of its platforms, then join them in a manifest list."""
        image = target.image
        images = []
        # The credentials go only to a build that may pull a base image from the registry.
        dockerfile = (tree / image.dockerfile).read_text(encoding="utf-8", errors="replace")
        credentials = self._credentials
        if not pulls_from(dockerfile, self.registry.host):
            credentials = (None, None)
        for platform in image.platforms:
            iidfile = self._file("iid")
            args = ["build", "--platform", platform, "--timestamp", str(target.timestamp)]
            args += ["--format", "oci", "--identity-label=false", "--http-proxy=false"]
            args += ["--iidfile", str(iidfile), "-f", str(tree / image.dockerfile)]
            for key, value in target.build_args.items():
                args += ["--build-arg", f"{key}={value}"]
            for key, value in target.labels.items():
                args += ["--label", f"{key}={value}"]
            step: list[str] = []

            def shown(text: str, platform: str = platform, step: list[str] = step) -> None:
                match = _STEP.match(text)
                if match:
                    step[:] = [text]
                show.build_line(target, f"{platform} | {text}", None)

            try:
                with auth_file(self.registry.host, credentials) as authfile:
                    more = ["--authfile", str(authfile)] if authfile is not None else []
                    self.run([*args, *more, str(tree / image.context)], shown)
            except BuildahError as error:
                where = f" at {step[0]}" if step else ""
                raise ImageBuildError(
                    target.name,
                    f"building {target.name} for {platform} failed{where}: {error.reason}",
                    error.tail,
                ) from None
            images.append((platform, iidfile.read_text(encoding="utf-8").strip()))
            show.build_done(target, f"{images[-1][1]} ({platform})")
        manifest_list = f"localhost/{target.name}:{target.version_tag}"
        self.run(["manifest", "create", manifest_list])
        for _, image_id in images:
            self.run(["manifest", "add", manifest_list, image_id])
        return BuiltIndex(target, tuple(images), manifest_list)

    # -- pushes ------------------------------------------------------------------

    def push(self, built: BuiltIndex, tag: str) -> str:
        """Push every platform's image and the index as ``repository:tag``; the index's
        digest. Tried again as ``POLICY`` says, unless the credentials are refused."""
        registry = self.registry
        reference = f"docker://{built.target.ref(tag)}"
        name = f"{built.target.name}:{tag}"
        started: float | None = None
        failures = 0
        while True:
            digestfile = self._file("digest")
            args = ["manifest", "push", "--all", "--format", "oci", "--digestfile"]
            args.append(str(digestfile))
            if registry.insecure:
                args.append("--tls-verify=false")  # plain HTTP to this machine, as Docker does
            try:
                with auth_file(registry.host, self._credentials) as authfile:
                    if authfile is not None:
                        args += ["--authfile", str(authfile)]
                    self.run([*args, built.manifest_list, reference], _push_line(name))
                return digestfile.read_text(encoding="utf-8").strip()
            except BuildahError as error:
                failures += 1
                started = time.monotonic() if started is None else started
                said = error.reason.lower()
                message = f"pushing {built.target.ref(tag)} failed: {error.reason}"
                refused = any(w in said for w in ("unauthorized", "denied", "authentication"))
                if refused or not POLICY.allows(failures, started):
                    raise ReleaseError(message) from None
                delay = retry_wait(failures)
                console.warn(f"{message}; trying again in {delay:g} s")
                time.sleep(delay)

    def close(self) -> None:
        """Remove the private storage."""
        _remove(self.folder, self.program, self.env)


def loopback_registries(host: str, env: Mapping[str, str]) -> str:
    """The registries configuration buildah would read, with ``host`` (a registry on this
    machine, over plain HTTP) marked insecure: a base image there is pulled as Docker
    pulls it. Only this host: ``--tls-verify=false`` on a build would cover every registry
    it pulls from."""
    home = env.get("HOME")
    candidates = [env.get("CONTAINERS_REGISTRIES_CONF")]
    if os.geteuid() != 0 and home:
        candidates.append(f"{home}/.config/containers/registries.conf")
    candidates.append("/etc/containers/registries.conf")
    text = ""
    for candidate in filter(None, candidates):
        try:
            text = Path(candidate).read_text(encoding="utf-8")
            break
        except (OSError, UnicodeDecodeError):
            continue
    if f'"{host}"' in text:
        return text  # the machine's configuration names it already
    return f'{text.rstrip()}\n\n[[registry]]\nlocation = "{host}"\ninsecure = true\n'.lstrip()


def _prefix(kind: str) -> str:
    """``release-buildah.<pid>.<host>.``: whose folder it is, for ``remove_stale``."""
    return f"release-{kind}.{os.getpid()}.{_HOST}."


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_STALE = re.compile(rf"release-(?:buildah|auth)\.(?P<pid>[0-9]+)\.{_HOST}\.")


def remove_stale(
    program: str | None, env: Mapping[str, str], folder: Path | None = None
) -> list[Path]:
    """Remove the private folders (storage, auth file) that a killed run left in the
    temporary folder: this machine's and this user's, named by a process that is gone."""
    removed = []
    root = Path(folder or tempfile.gettempdir())
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for path in entries:
        match = _STALE.match(path.name)
        if match is None or process_alive(int(match["pid"])):
            continue
        try:
            if path.is_symlink() or path.stat().st_uid != os.geteuid():
                continue
        except OSError:
            continue
        _remove(path, program, env)
        removed.append(path)
    return removed


def _remove(folder: Path, program: str | None, env: Mapping[str, str]) -> None:
    """Remove ``folder`` (a rootless buildah's files need its user namespace)."""
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists() and os.geteuid() != 0 and program is not None:
        subprocess.run(
            [program, "unshare", "rm", "-rf", str(folder)],
            capture_output=True,
            env=dict(env),
            check=False,
        )


def _push_line(name: str) -> Callable[[str], None]:
    def line(text: str) -> None:
        if text.startswith(("Copying blob", "Copying config", "Copying image", "Writing")):
            console.info(f"{name} | {text}")

    return line


class BuildahError(ReleaseError):
    """buildah failed; ``tail`` holds its last lines, ``reason`` its own error line."""

    def __init__(self, command: str, tail: list[str]) -> None:
        self.tail = tail
        errors = [line for line in tail if re.match(r"(?i)(error|fatal)\b", line)]
        last = errors[-1] if errors else (tail[-1] if tail else "no output")
        self.reason = " ".join(re.sub(r"(?i)^(error|fatal)\W*", "", last).split())[:500]
        super().__init__(f"buildah {command} failed: {self.reason}")
