"""What a step's record in the release state may hold, checked before anything uses it.

A record comes from a git note on the remote (``refs/notes/release/<step>``), which anyone
who can push to the remote can write, or from the local state file. Its ids end up in URL
paths (the Discord message that is edited, the Kudu deployment that is followed), its names
and links in the announcement and the step summary. So ``ReleaseState.get`` checks every
record against the table below before a step sees it: the fields a step reads must match
strict patterns (a Discord id is digits, a Kudu deployment id a short token), a status
must be one the step writes, the lifecycle the pipeline adds to every record
(``step_status`` running, done or failed, ``step_error``, ``step_started_at``) must have
its shape, and no string is longer than ``MAX_TEXT`` or holds a control character. A
record that fails is refused as a whole (``problem`` says why), never trusted in part.

Records are checked for their shape, not their truth: a well-formed record that says a
step is done is believed (docs/protection.md "The release state").
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from release.core.text import shown

Check = Callable[[Any], "str | None"]  # why the value is wrong, or None

MAX_TEXT = 4096  # characters of any one string of a record
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # tab and newline are allowed

DISCORD_ID = re.compile(r"[0-9]{1,20}")  # a snowflake
KUDU_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")  # a GUID, "temp-1a2b3c", ...


def pattern(regex: str | re.Pattern[str], what: str) -> Check:
    compiled = re.compile(regex)

    def check(value: Any) -> str | None:
        if isinstance(value, str) and compiled.fullmatch(value):
            return None
        return f"{shown(value)} is not {what}"

    return check


def one_of(*values: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in values:
            return None
        return f"{shown(value)} is not one of {', '.join(values)}"

    return check


def count(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return None
    return f"{shown(value)} is not a count"


def snowflake(value: Any) -> str | None:
    """A Discord id: digits (a string, as Discord sends them; an integer is taken too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and DISCORD_ID.fullmatch(value):
        return None
    return f"{shown(value)} is not a Discord id (digits only)"


def list_of(item: Check) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"{shown(value)} is not a list"
        for index, element in enumerate(value):
            problem = item(element)
            if problem is not None:
                return f"[{index}]: {problem}"
        return None

    return check


def fields(table: Mapping[str, Check]) -> Check:
    """An object whose listed keys, where present and not null, pass their checks (other
    keys are let through: a newer release-tasks may record more)."""

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"{shown(value)} is not an object"
        for key, field_check in table.items():
            if value.get(key) is None:
                continue
            problem = field_check(value[key])
            if problem is not None:
                return f"{key}{'' if problem.startswith('[') else ': '}{problem}"
        return None

    return check


def keyed(key: Check, value: Check) -> Check:
    """An object whose every key and value pass ``key`` and ``value``."""

    def check(mapping: Any) -> str | None:
        if not isinstance(mapping, dict):
            return f"{shown(mapping)} is not an object"
        for name, item in mapping.items():
            problem = key(name)
            if problem is None:
                problem = value(item)
                if problem is not None:
                    return f"{name}: {problem}" if not problem.startswith("[") else name + problem
            else:
                return f"key {problem}"
        return None

    return check


HEX64 = pattern(r"[0-9a-f]{64}", "a sha256 in hex")
COMMIT = pattern(r"[0-9a-f]{40}(?:[0-9a-f]{24})?", "a commit id")
DIGEST = pattern(r"sha256:[0-9a-f]{64}", "an image digest (sha256:...)")
HOST = pattern(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?",
    "a host[:port]",
)
URL = pattern(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'*+,;=%-]{1,2040}", "an http(s) URL")
NAME = pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", "a plain name")
PROJECT = pattern(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?", "a project name")
DIST_FILE = pattern(
    r"[A-Za-z0-9][A-Za-z0-9._+-]{0,250}\.(?:tar\.gz|zip|whl)", "a distribution file name"
)
IMAGE = pattern(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*", "an image name")
IMAGE_REF = pattern(r"[A-Za-z0-9._:/\[\]-]{1,255}", "an image repository")
PLATFORM = pattern(r"[a-z0-9]{1,16}/[a-z0-9_]{1,16}(?:/[a-z0-9]{1,16})?", "an os/arch platform")
DOCKER_TAG = pattern(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "a Docker tag")
GIT_TAG = pattern(r"[^\s\x00-\x1f\x7f~^:?*\[\\]{1,255}", "a tag name")
BRANCH = pattern(r"[^\s\x00-\x1f\x7f~^:?*\[\\]{1,255}", "a branch name")
NPM_VERSION = pattern(r"[0-9A-Za-z.+-]{1,64}", "a version")
GITHUB_REPOSITORY = pattern(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}",
    "a GitHub repository (owner/name)",
)
ASSET_NAME = pattern(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,254}", "a release asset's file name")
TIME = pattern(r"[0-9T:.+Z-]{1,40}", "a time")
PATH = pattern(r"[^\x00-\x1f\x7f]{1,1024}", "a path")


def _project_item(value: Any) -> str | None:
    if isinstance(value, str):
        return PROJECT(value)
    return fields({"name": PROJECT, "project": PROJECT})(value)


_UPLOADED = fields(
    {
        "filename": DIST_FILE,
        "package": PATH,
        "project": PROJECT,
        "sha256": HEX64,
        "status": one_of("uploaded", "already on the index"),
        "url": URL,
    }
)


def _file_item(value: Any) -> str | None:
    return DIST_FILE(value) if isinstance(value, str) else _UPLOADED(value)


STATUSES: Mapping[str, tuple[str, ...]] = {
    "notify": ("posted", "sending", "unknown", "failed", "assumed-posted"),
    "deploy-ui": ("deploying", "succeeded", "failed"),
}
"""The ``status`` values each step writes; one of them is required in its record (unless
the record holds nothing of the step's own: a lifecycle mark before its first record)."""

# -- the lifecycle: every step's record says whether its work is running, done or failed ----

RUNNING, DONE, FAILED = "running", "done", "failed"
LIFECYCLE_KEYS = ("step_status", "step_error", "step_started_at")
"""The fields the pipeline adds to every step's record (``ReleaseState.mark``); a step's own
fields never use these names, so its own ``status`` (notify's ``posted``, deploy-ui's
``succeeded``) and its re-run logic are untouched."""
META_KEYS = ("step", "version", "recorded_at")
"""The fields ``ReleaseState.record`` adds to every record."""

OWN_LIFECYCLE: Mapping[str, Mapping[str, str]] = {
    "notify": {
        "posted": DONE,
        "assumed-posted": DONE,
        "sending": RUNNING,
        "unknown": FAILED,
        "failed": FAILED,
    },
    "deploy-ui": {"succeeded": DONE, "deploying": RUNNING, "failed": FAILED},
}
"""What a record without ``step_status`` (written before release-tasks recorded the
lifecycle) says through the step's own ``status``; any other such record was written when
its step finished."""


MAX_TIME = 2**33
"""Times are seconds since 1970 in [0, 2**33) (until the year 2242): any other number cannot
be a moment a release-tasks run wrote, and would not convert to a date."""


SKEW = 86400.0
"""How far ahead of this machine's clock a record's ``recorded_at`` may be (another runner's
clock): a record from further in the future would win every comparison of the state."""


def _time(value: Any) -> bool:
    return _finite_number(value) and 0 <= value < MAX_TIME


def _stamp(value: Any) -> str | None:
    return None if _time(value) else f"{shown(value)} is not a time"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else f"{shown(value)} is not text"


LIFECYCLE: Mapping[str, Check] = {
    "step_status": one_of(RUNNING, DONE, FAILED),
    "step_error": _text,
    "step_started_at": _stamp,
}


def own_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` without the fields the pipeline and the state add: what the step wrote."""
    return {k: v for k, v in record.items() if k not in LIFECYCLE_KEYS and k not in META_KEYS}


def lifecycle_of(step: str, record: Mapping[str, Any]) -> str:
    """Whether the work a (checked) record describes is running, done or failed."""
    status = record.get("step_status")
    if isinstance(status, str):
        return status
    own = OWN_LIFECYCLE.get(step, {})
    return own.get(str(record.get("status")), DONE) if own else DONE


SCHEMAS: Mapping[str, Mapping[str, Check]] = {
    "bump": {
        "result": one_of("pushed", "held"),
        "commit": COMMIT,
        "branch": BRANCH,
        "remote": NAME,
        "files": list_of(PATH),
    },
    "upload": {
        "repository": URL,
        "index": URL,
        "files": list_of(_file_item),
        "projects": list_of(_project_item),
        "distributions": list_of(_project_item),
        "packages": list_of(_project_item),
    },
    "push-image": {
        "registry": HOST,
        "images": keyed(
            IMAGE,
            fields(
                {
                    "repository": IMAGE_REF,
                    "tags": list_of(DOCKER_TAG),
                    "pushed": list_of(DOCKER_TAG),
                    "kept": list_of(DOCKER_TAG),
                    "digest": DIGEST,
                    "platforms": keyed(PLATFORM, DIGEST),
                }
            ),
        ),
    },
    "deploy-ui": {
        "deployment_id": pattern(KUDU_ID, "a Kudu deployment id (letters, digits, - and _)"),
        "app": NAME,
        "slot": NAME,
        "host": HOST,
        "api": one_of("zipdeploy", "onedeploy"),
        "npm_version": NPM_VERSION,
        "files": count,
        "bytes": count,
        "sha256": HEX64,
    },
    "github-release": {
        "phase": one_of("creating", "draft", "published"),
        "repository": GITHUB_REPOSITORY,
        "release_id": count,
        "html_url": URL,
        "api": URL,
        "tag": GIT_TAG,
        "make_latest": one_of("true", "false"),
        "assets": list_of(
            fields({"name": ASSET_NAME, "size": count, "sha256": HEX64, "id": count, "url": URL})
        ),
    },
    "notify": {
        "message_id": snowflake,
        "webhook_id": snowflake,
        "channel_id": snowflake,
        "guild_id": snowflake,
        "tag": GIT_TAG,
        "digest": HEX64,
        "posted_at": TIME,
        "edited_at": TIME,
    },
}
"""The fields each step's record is read for, and what they must look like."""


def problem(step: str, version: str, record: Any) -> str | None:
    """Why ``record`` cannot be the record of ``step`` for ``version`` (None: it can)."""
    if not isinstance(record, dict):
        return f"the record is {shown(record)}, not an object"
    text = _text_problem(record, 0)
    if text is not None:
        return text
    for key, expected in (("step", step), ("version", version)):
        if key in record and record[key] != expected:
            return f"{key}: {shown(record[key])} is not {expected!r}"
    stamp = record.get("recorded_at")
    if stamp is not None and not _time(stamp):
        return f"recorded_at: {shown(stamp)} is not a time"
    if stamp is not None and stamp > time.time() + SKEW:
        return f"recorded_at: {shown(stamp)} is in the future"
    lifecycle = fields(LIFECYCLE)(record)
    if lifecycle is not None:
        return lifecycle
    statuses = STATUSES.get(step)
    if statuses is not None and own_fields(record):
        status_problem = one_of(*statuses)(record.get("status"))
        if status_problem is not None:
            return f"status: {status_problem}"
    return fields(SCHEMAS.get(step, {}))(record)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text_problem(value: Any, depth: int) -> str | None:
    """A string that is too long or holds a control character, anywhere in ``value``."""
    if depth > 20:
        return "the record is nested too deeply"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return f"{shown(value)} is longer than {MAX_TEXT} characters"
        if CONTROL.search(value):
            return f"{shown(value)} holds a control character"
        return None
    items: list[Any] = []
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    for item in items:
        found = _text_problem(item, depth + 1)
        if found is not None:
            return found
    return None
