"""A real Docker engine for the tests, and a base image that needs no Docker Hub.

``DockerEngine`` reuses an engine that already answers (``DOCKER_HOST`` when it points at a
unix socket or at loopback, else ``/var/run/docker.sock``), which is what CI does after
``.ci/services.sh`` started one. Otherwise it starts Debian's ``dockerd`` as root in a
temporary directory: no iptables, no bridge (builds run without network; only 127.0.0.1
registries are reachable and dockerd pushes from the host's namespace), its own containerd
namespace and an empty daemon config so the machine's ``/etc/docker/daemon.json`` cannot
interfere. The unix socket and the exec-root (which holds containerd's socket) live in a
short ``/tmp/rt-XXXXXXXX`` directory because socket paths are limited to about 100 bytes.

Storage driver: overlay2 is tried first and vfs (slow, but works on any filesystem,
including an overlay root inside a container) second. On the development VM (ext4 root,
cgroup v1, kernel 6.x) overlay2 works; the daemon answers in 0.2 s and stops in 1 s.

``ensure_base_image`` imports a busybox root filesystem (from Debian's busybox-static) as
``release-test/busybox:latest``, so Dockerfiles can ``RUN`` shell commands without pulling.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import docker
import docker.errors

from devservices import LocalService, ServiceError, ServiceProcess, wait_until

__all__ = [
    "BASE_IMAGE",
    "BUSYBOX",
    "DEFAULT_SOCKET",
    "DockerEngine",
    "EngineUnavailableError",
    "base_rootfs",
    "cannot_start_reason",
    "docker_client",
    "ensure_base_image",
    "running_engine",
]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
BASE_IMAGE = "release-test/busybox:latest"
BUSYBOX = Path("/bin/busybox")
"""Debian's busybox-static installs a statically linked busybox here."""

# Where Debian puts the daemon and its helpers; /usr/sbin is often not on a user's PATH.
_SYSTEM_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
_APPLETS = (
    "sh", "ash", "echo", "cat", "ls", "true", "false", "test", "[", "env", "printf", "pwd",
    "mkdir", "rm", "cp", "mv", "ln", "touch", "chmod", "id", "uname", "sleep", "head", "tail",
    "grep", "sed", "wc", "tr", "sort", "find", "xargs", "tar", "gzip", "date", "hostname",
    "whoami", "which", "basename", "dirname", "readlink",
)  # fmt: skip


class EngineUnavailableError(ServiceError):
    """No Docker engine answers and none can be started here; the message says why."""


def docker_client(docker_host: str, timeout: int = 60) -> docker.DockerClient:
    """A Docker SDK client for ``docker_host`` that speaks the daemon's API version.

    ``version="auto"`` (also docker-py's default) asks the daemon: Debian's dockerd 20.10
    speaks API 1.41 and refuses a client pinned to docker-py's newer default constant.
    """
    return docker.DockerClient(base_url=docker_host, version="auto", timeout=timeout)


def _answers(docker_host: str) -> bool:
    try:
        client = docker_client(docker_host, timeout=5)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


def _is_local(docker_host: str) -> bool:
    parts = urlsplit(docker_host)
    if parts.scheme == "unix":
        return True
    return parts.scheme in ("tcp", "http") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def running_engine() -> str | None:
    """Return the ``DOCKER_HOST`` URL of an engine that answers now, or None.

    ``DOCKER_HOST`` is tried first, but only a unix socket or a loopback address (tests
    talk to nothing else), then Docker's default socket.
    """
    candidates = [os.environ.get("DOCKER_HOST", ""), DEFAULT_SOCKET]
    for host in dict.fromkeys(c for c in candidates if c and _is_local(c)):
        if _answers(host):
            return host
    return None


def _find_program(name: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SYSTEM_DIRS])
    return shutil.which(name, path=path)


def cannot_start_reason() -> str | None:
    """Why this process cannot start its own ``dockerd``, or None when it can try.

    Checks only what is known before trying: the platform, root, and the three programs.
    Whether the daemon then runs (cgroups, storage driver) only a start can tell; its
    failure is an :class:`EngineUnavailableError` with the end of dockerd's log.
    """
    if not sys.platform.startswith("linux"):
        return f"dockerd runs only on Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return (
            f"starting dockerd needs root (running as uid {os.geteuid()}): start an engine "
            "and set DOCKER_HOST, or source .ci/services.sh"
        )
    missing = [name for name in ("dockerd", "containerd", "runc") if _find_program(name) is None]
    if missing:
        return (
            f"no {', '.join(missing)} binary on PATH or in /usr/sbin (install Debian's docker.io)"
        )
    return None


def _discard(process: ServiceProcess, short_dir: Path, data_root: Path | None) -> None:
    """Stop a dockerd of ours, detach what it left mounted and remove its short directory.

    The data root stays (with the log beside it) for inspection until pytest prunes it.
    """
    # dockerd stops its containers and its containerd on SIGTERM; give it time.
    process.stop(grace=30.0)
    _unmount_under(short_dir, *([data_root] if data_root is not None else []))
    shutil.rmtree(short_dir, ignore_errors=True)


def _unmount_under(*roots: Path) -> None:
    """Detach every mount below ``roots`` (deepest first) that a dockerd left behind.

    dockerd bind-mounts its data root onto itself and unmounts it on a clean shutdown only;
    a daemon that failed to start or was killed leaves the mount, and the directory then
    cannot be removed ("Device or resource busy").
    """
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    except OSError:
        return
    prefixes = tuple(f"{root.resolve()}" for root in roots)
    points = []
    for line in mountinfo.splitlines():
        # Field 5 is the mount point, with spaces and such escaped as octal (\040).
        point = line.split()[4].encode().decode("unicode_escape")
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)


class DockerEngine(LocalService):
    """A Docker engine for the session: the running one if any, else our own ``dockerd``.

    ``docker_host`` is the ``DOCKER_HOST`` URL to use; ``owned`` says whether this object
    started the daemon (and will stop it); ``storage_driver`` is the driver it runs with.
    ``start`` raises :class:`EngineUnavailableError` with the reason when there is no engine.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        storage_drivers: Sequence[str] = ("overlay2", "vfs"),
        reuse_running: bool = True,
        startup_timeout: float = 60.0,
    ) -> None:
        self.workdir = workdir
        self.storage_drivers = tuple(storage_drivers)
        self.reuse_running = reuse_running
        self.log_path = workdir / "dockerd.log"
        self.owned = False
        self.storage_driver: str | None = None
        self._startup_timeout = startup_timeout
        self._docker_host: str | None = None
        self._process: ServiceProcess | None = None
        self._short_dir: Path | None = None
        self._data_root: Path | None = None

    def __repr__(self) -> str:
        state = self._docker_host or "not started"
        return f"DockerEngine({state}, owned={self.owned}, driver={self.storage_driver})"

    @property
    def docker_host(self) -> str:
        """The ``unix://...`` (or loopback ``tcp://``) URL of the engine; only while started."""
        if self._docker_host is None:
            raise ServiceError("the Docker engine is not started")
        return self._docker_host

    def env(self) -> dict[str, str]:
        """Environment that points the Docker CLI, the SDK and the release tool here."""
        return {"DOCKER_HOST": self.docker_host}

    def client(self, timeout: int = 300) -> docker.DockerClient:
        """A new Docker SDK client for this engine (the caller closes it)."""
        return docker_client(self.docker_host, timeout=timeout)

    def start(self) -> Self:
        """Find a running engine or start ``dockerd``, trying each storage driver in turn."""
        if self._docker_host is not None:
            return self
        if self.reuse_running:
            running = running_engine()
            if running is not None:
                self._docker_host = running
                self.storage_driver = self._query_driver()
                return self
        reason = cannot_start_reason()
        if reason is not None:
            raise EngineUnavailableError(f"no Docker engine answers and {reason}")
        failures: list[str] = []
        for driver in self.storage_drivers:
            try:
                self._start_daemon(driver)
            except ServiceError as error:
                failures.append(f"with --storage-driver {driver}: {error}")
                continue
            return self
        raise EngineUnavailableError("dockerd did not start\n" + "\n".join(failures))

    def stop(self) -> None:
        """Stop the daemon if this object started it; a reused engine is left running."""
        if self._process is not None and self._short_dir is not None:
            _discard(self._process, self._short_dir, self._data_root)
        self._process = self._short_dir = None
        self._docker_host = None
        self.owned = False

    def _start_daemon(self, driver: str) -> None:
        dockerd = _find_program("dockerd")
        if dockerd is None:  # checked by cannot_start_reason; here for the type checker
            raise ServiceError("no dockerd binary")
        short = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
        socket_url = f"unix://{short}/d.sock"
        data_root = self.workdir / f"data-{driver}"
        config = short / "daemon.json"
        config.write_text("{}\n", encoding="utf-8")
        # containerd namespaces allow [A-Za-z0-9] runs joined by . _ or -: no mkdtemp name.
        namespace = f"release-test-{secrets.token_hex(4)}"
        argv = [
            dockerd,
            "--host", socket_url,
            "--data-root", str(data_root),
            "--exec-root", str(short / "x"),
            "--pidfile", str(short / "d.pid"),
            "--config-file", str(config),
            "--storage-driver", driver,
            "--containerd-namespace", namespace,
            "--containerd-plugins-namespace", f"{namespace}-plugins",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--bridge=none",
            "--userland-proxy=false",
            "--insecure-registry", "127.0.0.0/8",
        ]  # fmt: skip
        # dockerd finds containerd and runc on PATH; make sure Debian's sbin is on it.
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), *_SYSTEM_DIRS])
        process = ServiceProcess(argv, self.log_path, name=dockerd, env=env)
        popen = process.start()
        try:
            wait_until(
                lambda: True if _answers(socket_url) else None,
                self._startup_timeout,
                what=f"waiting for {socket_url}",
                process=popen,
            )
        except (ServiceError, TimeoutError) as error:
            _discard(process, short, data_root)
            raise process.failure(f"did not answer ({error})", noise="module=grpc") from error
        except BaseException:
            _discard(process, short, data_root)
            raise
        self._process, self._short_dir, self._data_root = process, short, data_root
        self._docker_host = socket_url
        self.owned = True
        self.storage_driver = self._query_driver()

    def _query_driver(self) -> str | None:
        client = self.client(timeout=30)
        try:
            driver = client.info().get("Driver")
            return str(driver) if driver else None
        finally:
            client.close()


def _is_static_elf(path: Path) -> bool:
    """True when ``path`` is a 64- or 32-bit ELF without an interpreter (statically linked)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return False
    is64, endian = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        phoff, phentsize, phnum = (
            struct.unpack_from(endian + "Q", data, 0x20)[0],
            *struct.unpack_from(endian + "HH", data, 0x36),
        )
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(endian + "I", data, 0x1C)[0],
            *struct.unpack_from(endian + "HH", data, 0x2A),
        )
    pt_interp = 3
    segment_types = (
        struct.unpack_from(endian + "I", data, phoff + i * phentsize)[0] for i in range(phnum)
    )
    return pt_interp not in segment_types


def base_rootfs(busybox: Path = BUSYBOX) -> bytes:
    """A tar of a minimal root filesystem: static busybox in /bin, applet links, /etc, /tmp.

    Entries have fixed owners and times, so the layer is the same bytes on every run.
    """
    if not busybox.is_file():
        raise ServiceError(f"no {busybox}: install Debian's busybox-static")
    if not _is_static_elf(busybox):
        raise ServiceError(f"{busybox} is not statically linked: install busybox-static")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        for folder, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)):
            add(folder, tarfile.DIRTYPE, mode)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in _APPLETS:
            add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\n")
    return buffer.getvalue()


def ensure_base_image(docker_host: str, tag: str = BASE_IMAGE) -> str:
    """Make sure the engine has the busybox base image ``tag``; return the tag.

    The image is imported from :func:`base_rootfs` unless the tag exists already. It has
    ``PATH`` set and ``/bin/sh`` as its command, like a distribution image.
    """
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    client = docker_client(docker_host)
    try:
        try:
            client.images.get(f"{repository}:{version}")
            return f"{repository}:{version}"
        except docker.errors.ImageNotFound:
            pass
        client.api.import_image_from_data(
            base_rootfs(),
            repository=repository,
            tag=version,
            changes=[
                "ENV PATH=/bin",
                'CMD ["/bin/sh"]',
                "LABEL org.opencontainers.image.title=release-test-busybox",
            ],
        )
        client.images.get(f"{repository}:{version}")  # raises if the import did not tag it
        return f"{repository}:{version}"
    finally:
        client.close()
