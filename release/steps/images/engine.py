"""The Docker engine: a client for the one ``DOCKER_HOST`` names, builds and pushes.

Builds use the legacy builder (``docker build``, no buildx); its JSON stream becomes lines,
the current ``Step N/M`` and the image ID (:class:`BuildLog`). A push that fails (the engine
retries layers, not the manifest: a 5xx or a cut connection on it fails the push) is tried
again as ``release.core.http.POLICY`` says; a push is idempotent, and a refusal of the
credentials is not retried.

The Docker SDK and ``requests`` are imported only where the engine is used, so that the
pre-flight checks stay light until they go online.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError
from release.core.http import POLICY, retry_wait

if TYPE_CHECKING:
    from release.steps.images.credentials import RegistryCredentials
    from release.steps.images.display import Display
    from release.steps.images.targets import ImageTarget

FAILURE_LINES = 15  # lines of build output shown with a failed build
ENGINE_TIMEOUT = 600  # seconds: a push of a large layer answers slowly


# -- the client ----------------------------------------------------------------------


def engine_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of the Docker SDK and of requests under it (imported on use)."""
    import docker.errors
    import requests

    return (docker.errors.DockerException, requests.RequestException)


def engine_client(env: Mapping[str, str]) -> Any:
    """A Docker SDK client for the engine ``DOCKER_HOST`` names (its default socket otherwise)."""
    import docker  # the SDK and requests load only where the engine is used (start-up)

    try:
        return docker.from_env(environment=dict(env), timeout=ENGINE_TIMEOUT)
    except docker.errors.DockerException as error:
        raise ReleaseError(
            f"the Docker engine at {engine_address(env)} does not answer ({error})",
            "start it, or point DOCKER_HOST at one",
        ) from None


def engine_address(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def engine_message(error: BaseException) -> str:
    """The first line of an engine error's explanation."""
    text = str(getattr(error, "explanation", None) or error).strip()
    return text.splitlines()[0] if text else repr(error)


def engine_problems(env: Mapping[str, str]) -> list[str]:
    """Whether the engine answers (a problem line when it does not)."""
    try:
        client = engine_client(env)
    except ReleaseError as error:
        return [str(error)]
    try:
        client.ping()
    except engine_errors() as error:
        return [
            f"the Docker engine at {engine_address(env)} does not answer "
            f"({engine_message(error)}): start it, or point DOCKER_HOST at one"
        ]
    finally:
        client.close()
    return []


def engine_platform(env: Mapping[str, str]) -> str | None:
    """The engine's own platform (``linux/amd64``), None when it does not answer."""
    try:
        client = engine_client(env)
    except ReleaseError:
        return None
    try:
        version = client.version()
    except engine_errors():
        return None
    finally:
        client.close()
    os_name, arch = version.get("Os"), version.get("Arch")
    return f"{os_name}/{arch}" if os_name and arch else None


# -- builds --------------------------------------------------------------------------

_STEP_LINE = re.compile(r"Step (?P<n>\d+)/(?P<m>\d+) : (?P<instruction>.*)")


def parse_step(line: str) -> tuple[int, int, str] | None:
    """``(N, M, instruction)`` of a legacy builder's ``Step N/M : INSTRUCTION`` line."""
    match = _STEP_LINE.fullmatch(line.strip())
    if match is None:
        return None
    return int(match["n"]), int(match["m"]), match["instruction"]


@dataclass
class BuildLog:
    """The legacy builder's JSON stream turned into lines, the current step and the result.

    The builder sends ``Step N/M : ...`` without its newline and the newline as a
    separate chunk, so text is buffered until a line is complete.
    """

    step: tuple[int, int, str] | None = None
    image_id: str | None = None
    error: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=FAILURE_LINES))
    _partial: str = ""

    def feed(self, chunk: Mapping[str, Any]) -> list[str]:
        """Take one decoded chunk; return the complete lines it finished."""
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            self.error = str(detail.get("message") or chunk.get("error") or "unknown error")
            return self._lines(self._partial + "\n") if self._partial else []
        aux = chunk.get("aux")
        if isinstance(aux, Mapping) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        text = chunk.get("stream")
        if not isinstance(text, str):
            return []
        return self._lines(self._partial + text)

    def _lines(self, text: str) -> list[str]:
        *complete, self._partial = text.split("\n")
        lines = [line.rstrip() for line in complete if line.strip()]
        for line in lines:
            self.tail.append(line)
            step = parse_step(line)
            if step is not None:
                self.step = step
        return lines

    def failure(self, name: str) -> str:
        """One line naming the image, the failing instruction and the builder's message."""
        where = f" at Step {self.step[0]}/{self.step[1]} : {self.step[2]}" if self.step else ""
        message = " ".join((self.error or "unknown error").split())
        return f"building {name} failed{where}: {message}"


@dataclass(frozen=True)
class BuiltImage:
    target: ImageTarget
    image_id: str


class ImageBuildError(ReleaseError):
    """A build failed; ``tail`` holds the last lines of its output."""

    def __init__(self, image: str, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.image = image
        self.tail = tail


def build_image(client: Any, tree: Path, target: ImageTarget, show: Display) -> BuiltImage:
    """Build one image with the legacy builder and tag it with all its fixed tags."""
    image = target.image
    log = BuildLog()
    try:
        stream = client.api.build(
            path=str(tree / image.context),
            dockerfile=str(tree / image.dockerfile),
            tag=target.ref(target.version_tag),
            buildargs=dict(target.build_args),
            labels=dict(target.labels),
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in stream:
            for line in log.feed(chunk):
                show.build_line(target, line, log.step)
    except engine_errors() as error:
        log.error = log.error or engine_message(error)
    if log.error is not None or log.image_id is None:
        log.error = log.error or "the builder reported no image"
        raise ImageBuildError(target.name, log.failure(target.name), list(log.tail))
    for tag in target.tags[1:]:
        client.api.tag(log.image_id, target.repository, tag)
    show.build_done(target, log.image_id)
    return BuiltImage(target, log.image_id)


# -- pushes --------------------------------------------------------------------------


def push_auth(credentials: RegistryCredentials) -> dict[str, str] | None:
    """The engine's ``auth_config`` for a push: the credentials the registry API uses."""
    username, password = credentials
    if username is None or password is None:
        return None
    return {"username": username, "password": password}


def push_tag(
    client: Any, target: ImageTarget, tag: str, auth: Mapping[str, str] | None, show: Display
) -> str | None:
    """Push ``repository:tag`` (``auth``: see :func:`push_auth`); return its digest."""
    digest = None
    try:
        for event in client.api.push(
            target.repository, tag=tag, stream=True, decode=True, auth_config=auth
        ):
            if "error" in event or "errorDetail" in event:
                detail = event.get("errorDetail") or {}
                raise ReleaseError(
                    f"pushing {target.ref(tag)} failed: {detail.get('message') or event['error']}"
                )
            aux = event.get("aux")
            if isinstance(aux, Mapping) and aux.get("Digest"):
                digest = str(aux["Digest"])
            show.push_event(target, tag, event)
    except engine_errors() as error:
        raise ReleaseError(f"pushing {target.ref(tag)} failed: {engine_message(error)}") from None
    return digest


def push_tag_with_retries(
    client: Any, target: ImageTarget, tag: str, auth: Mapping[str, str] | None, show: Display
) -> str | None:
    """``push_tag``, tried again under ``POLICY`` when it fails for another reason than the
    credentials (the engine's push goes over its socket, not through a retrying session).
    The policy's deadline counts from the first failure: a long push is not a failure."""
    started: float | None = None
    failures = 0
    while True:
        try:
            return push_tag(client, target, tag, auth, show)
        except ReleaseError as error:
            failures += 1
            started = time.monotonic() if started is None else started
            said = error.message.lower()
            if not POLICY.allows(failures, started) or "unauthorized" in said or "denied" in said:
                raise
            delay = retry_wait(failures)
            console.warn(f"{error.message}; trying again in {delay:g} s")
            time.sleep(delay)
