"""``status``: one view of a release -- every step of the catalog, where it stands, what it
published, and the command that finishes the release.

Read-only, and open to anyone who can read the repository: it fetches the remote's state
notes (``refs/notes/release/*``) into a namespace of its own (``refs/notes/release-status/*``,
replaced by every run), never into the clone's ``refs/notes/release/*`` (``--offline``: the
clone's notes, and its local state) and changes nothing anywhere else. A tag the clone
lacks is fetched from the remote first.

No pre-flight check runs, so none can refuse: the plan (which steps run for this tag, and
why the others do not) is made from the tagged commit's configuration alone. Every key that
decides whether a step runs (the release's kind, ``version-files``, ``packages``,
``images`` and their ``release-on``, ``ui``, ``discord``, and a later step's own table)
comes from the tagged commit; the rules read from the default branch (who may release,
from which branch, where channels point) decide whether a release may run, not which steps
it has. Only three things stop ``status`` (exit 1): the tag does not exist (here or on
the remote), the notes cannot be fetched, and the repository cannot be read at all (a
malformed tag or none to be found is a usage error, exit 2). What it can still report
through:

- the checkout's own configuration is invalid (it names the tag prefix and the remote):
  the defaults (``version/``, ``origin``) are used, with a notice;
- the tagged commit's configuration is invalid or missing: every step is shown from its
  record; a step without one is pending, the reason naming the configuration's problem;
- a step's record or note is not one release-tasks wrote (``release.run.records``): that
  step is failed, the reason naming the note and how to remove it;
- any pre-flight problem (a moved tag, a branch that is not allowed, missing credentials,
  an unreachable service): not looked at.

Each step is ``done``, ``failed``, ``pending`` (not started, or started and not finished:
still running, or its run was killed) or ``skipped`` (the plan's reason), from the lifecycle
its record carries (``step_status``, docs/design.md "Re-runs and state"). A step that
recorded nothing while a step that needs it is done did its work elsewhere (the workflow's
build job, ``build --output``, records nothing): it is done. What a step published is its
record's own fields (``--json``) and the lines its catalog entry's ``published`` renders
(the summary's lines).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from release.commands.release import releasing_workflow
from release.core import console
from release.core.config import parse_config
from release.core.errors import ReleaseError
from release.core.git import Git, GitError, TagInfo
from release.core.version import ReleaseVersion, parse_tag
from release.pipeline.preflight import resolve_tag, tagged_config, working_tree_config
from release.run import catalog, records, rules
from release.run.plan import Observed, make_plan
from release.run.state import ReleaseState

STATUS_NOTES = "refs/notes/release-status"
"""Where ``status`` fetches the remote's state notes (``refs/notes/release`` stays as it is)."""

DONE, FAILED, PENDING, SKIPPED = "done", "failed", "pending", "skipped"
UNFINISHED = (PENDING, FAILED)


@dataclass(frozen=True)
class StepStatus:
    """Where one step of the catalog stands, and what it published."""

    step: str
    status: str  # done, failed, pending, skipped
    reason: str | None = None
    published: Mapping[str, Any] = field(default_factory=dict)  # its record's own fields
    lines: tuple[str, ...] = ()  # what it published, as the summary says it

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "published": dict(self.published)}


@dataclass(frozen=True)
class ReleaseStatus:
    tag: str
    version: ReleaseVersion
    commit: str
    source: str  # where the records were read
    steps: tuple[StepStatus, ...]
    finish: str | None  # the command that finishes the release; None when nothing is left

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "version": self.version.pep440,
            "steps": {s.step: s.to_json() for s in self.steps},
            "finish": self.finish,
        }


def show_status(
    tag: str | None,
    *,
    as_json: bool = False,
    offline: bool = False,
    env: Mapping[str, str] | None = None,
) -> ReleaseStatus:
    """``invoke status``: print where the release of ``tag`` stands (text, or ``--json``)."""
    if as_json:
        console.reserve_stdout()  # the JSON object alone, even in GitHub Actions
    found = release_status(tag, offline=offline, env=dict(env if env is not None else os.environ))
    if as_json:
        console.write_json(found.to_json())
    else:
        print_status(found)
    return found


def release_status(tag_arg: str | None, *, offline: bool, env: Mapping[str, str]) -> ReleaseStatus:
    """Where the release of the tag stands, from its state notes and its plan."""
    git = Git.discover()
    try:
        working = working_tree_config(git, env)
    except ReleaseError as error:  # the checkout's own configuration: only the tag prefix
        console.notice(f"{error}; the default tag prefix and remote are used")
        working = parse_config("[tool.release]\n", None, env, source="the defaults")
    prefix = working.tag_prefix
    tag = resolve_tag(git, tag_arg, env, prefix)
    version = parse_tag(tag, prefix)
    remote: str | None = rules.rules_remote(env, working)
    if remote is not None and git.remote_url(remote) is None:
        remote = None
    info = git.tag(tag) or _fetched_tag(git, tag, None if offline else remote)
    if info is None:
        where = f"this repository or on {remote}" if remote and not offline else "this repository"
        raise ReleaseError(
            f"tag {tag} does not exist in {where}",
            f"check its spelling (the release's tags: git tag --list '{prefix}*')",
        )
    fetched = not offline and remote is not None
    # Fetched into a namespace of its own: the clone's refs/notes/release/* stay untouched.
    scratch = STATUS_NOTES if fetched else None
    state = ReleaseState(
        git, info.commit, version.pep440, remote if fetched else None, scratch=scratch
    )
    state.fetch()
    if offline or remote is None:
        source = "this clone's records (nothing fetched)"
    else:
        source = f"the state notes of {remote}"
    skipped, unplanned = _plan(git, info.commit, version, tag, env)
    steps = _steps(state, skipped, unplanned)
    return ReleaseStatus(
        tag=tag,
        version=version,
        commit=info.commit,
        source=source,
        steps=steps,
        finish=_finish(git, info.commit, prefix, tag, steps),
    )


def _fetched_tag(git: Git, tag: str, remote: str | None) -> TagInfo | None:
    """The tag fetched from ``remote`` when the clone lacks it (None: not there either)."""
    if remote is None:
        return None
    try:
        git.fetch(remote, f"refs/tags/{tag}:refs/tags/{tag}")
    except GitError:
        return None
    return git.tag(tag)


def _plan(
    git: Git, commit: str, version: ReleaseVersion, tag: str, env: Mapping[str, str]
) -> tuple[dict[str, str | None], str | None]:
    """Each step's skip reason (None: it runs), from the tagged commit's configuration; or,
    when no plan can be made, why not."""
    try:
        config = tagged_config(git, commit, env, tag)
        plan = make_plan(version, config, Observed(tag=tag, commit=commit, branch="?"))
    except ReleaseError as error:
        return {}, f"the plan of {tag} cannot be made: {error}"
    return {action.step: action.skipped for action in plan.actions}, None


def _steps(
    state: ReleaseState, skipped: Mapping[str, str | None], unplanned: str | None
) -> tuple[StepStatus, ...]:
    entries: dict[str, Mapping[str, Any] | None] = {}
    unreadable: dict[str, str] = {}
    for entry in catalog.CATALOG:
        try:
            entries[entry.name] = state.entry(entry.name)
        except ReleaseError as error:  # a record release-tasks did not write: nothing used
            entries[entry.name] = None
            unreadable[entry.name] = str(error)
    found: dict[str, StepStatus] = {}
    for entry in catalog.CATALOG:
        name, record = entry.name, entries[entry.name]
        own = records.own_fields(record) if record else {}
        lines = tuple(_published_lines(entry, own)) if own else ()
        reason = skipped.get(name)
        if name in unreadable:
            status = StepStatus(name, FAILED, unreadable[name])
        elif reason is not None:
            status = StepStatus(name, SKIPPED, reason, own, lines)
        elif record is not None:
            status = _recorded(name, record, own, lines)
        else:
            status = _unrecorded(entry, entries, found, unplanned)
        found[name] = status
    return tuple(found[entry.name] for entry in catalog.CATALOG)


def _recorded(
    name: str, record: Mapping[str, Any], own: Mapping[str, Any], lines: tuple[str, ...]
) -> StepStatus:
    lifecycle = records.lifecycle_of(name, record)
    said = f" (its record says {record['status']})" if isinstance(record.get("status"), str) else ""
    if lifecycle == records.DONE:
        return StepStatus(name, DONE, None, own, lines)
    if lifecycle == records.FAILED:
        why = record.get("step_error") or f"its record says {record.get('status')}"
        return StepStatus(name, FAILED, str(why), own, lines)
    started = _when(record.get("step_started_at") or record.get("recorded_at"))
    return StepStatus(
        name,
        PENDING,
        f"started {started} and not finished: still running, or its run was stopped{said}",
        own,
        lines,
    )


def _unrecorded(
    entry: catalog.StepSpec,
    entries: Mapping[str, Mapping[str, Any] | None],
    found: Mapping[str, StepStatus],
    unplanned: str | None,
) -> StepStatus:
    """A step without any record: done elsewhere when a step that needs it is done, else
    pending (waiting for the steps it needs that are not done)."""
    users = [
        other.name
        for other in catalog.CATALOG
        if entry.name in other.depends
        and entries.get(other.name) is not None
        and records.lifecycle_of(other.name, entries[other.name] or {}) == records.DONE
    ]
    if users:
        return StepStatus(
            entry.name,
            DONE,
            f"recorded nothing itself; {', '.join(users)}, which needs it, is done",
        )
    if unplanned is not None:
        return StepStatus(entry.name, PENDING, unplanned)
    waiting = [
        f"{dep} ({found[dep].status})"
        for dep in entry.depends
        if dep in found and found[dep].status in UNFINISHED
    ]
    reason = "not started" + (f": it waits for {', '.join(waiting)}" if waiting else "")
    return StepStatus(entry.name, PENDING, reason)


def _published_lines(entry: catalog.StepSpec, own: Mapping[str, Any]) -> list[str]:
    """What a step published: its catalog entry's ``published`` lines, else its record's fields."""
    if entry.published is not None:
        try:
            lines: list[str] = catalog.load(entry.published)(own)
            return lines
        except Exception:  # noqa: BLE001 - a partial record: its fields are shown instead
            pass
    return _fields(own)


def _fields(own: Mapping[str, Any]) -> list[str]:
    """A record's fields as lines (steps without a ``published`` renderer: bump, build)."""
    lines = []
    for key, value in own.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            lines.append(f"{key}:")
            lines += [f"  {_item(item)}" for item in value]
        elif isinstance(value, list):
            lines.append(f"{key}: {', '.join(str(item) for item in value)}")
        elif isinstance(value, dict):
            text = json.dumps(value, sort_keys=True)
            lines.append(f"{key}: {text if len(text) <= 200 else text[:197] + '...'}")
        else:
            lines.append(f"{key}: {value}")
    return lines


def _item(item: Mapping[str, Any]) -> str:
    name = item.get("filename") or item.get("name") or json.dumps(item, sort_keys=True)[:200]
    return f"{name}" + (f", sha256 {item['sha256']}" if item.get("sha256") else "")


def _when(stamp: Any) -> str:
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
        return "at an unknown time"
    try:
        moment = datetime.fromtimestamp(float(stamp), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return "at an unknown time"
    return "at " + moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _finish(
    git: Git, commit: str, prefix: str, tag: str, steps: tuple[StepStatus, ...]
) -> str | None:
    """The command that finishes the release, when a step is pending or failed."""
    if not any(s.status in UNFINISHED for s in steps):
        return None
    local = f"invoke release --tag {tag}"
    workflow = releasing_workflow(git, commit, prefix)
    if workflow is None:
        return local
    return (
        f"re-run the failed or missing jobs of {workflow} for {tag} in GitHub Actions, "
        f"or from a clone: {local} --local"
    )


def print_status(found: ReleaseStatus) -> None:
    """The status as text on stdout: a header, each step with its lines, the finish."""
    out = console.out()
    v = found.version
    out.print(
        f"{found.tag}: {v.kind.value} release {v.pep440} of commit {found.commit[:12]}, "
        f"from {found.source}",
        markup=False,
    )
    for step in found.steps:
        head = f"{step.step}: {step.status}" + (f": {step.reason}" if step.reason else "")
        out.print(head, markup=False)
        for line in step.lines:
            out.print(f"  {line}", markup=False)
    if found.finish is None:
        out.print(f"{found.tag} is released: nothing is pending or failed", markup=False)
    else:
        out.print(f"to finish it: {found.finish}", markup=False)
