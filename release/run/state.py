"""What a release has done (docs/design.md "Re-runs and state").

Each step records a small JSON object per version. The record is written to a
local file inside the git directory (``.git/release-state/<version>.json``, never
tracked, so no ``.gitignore`` entry is needed in the released repository) and to
a git note on the tagged commit under one ref per step,
``refs/notes/release/<step>``, pushed to the remote. A fresh CI runner fetches the
notes and sees what earlier runners did; concurrent steps never write the same
ref. A note push that lost a race fetches, merges its own record and retries.

A note holds ``{"<version>": {...record...}}`` because one commit may carry
several version tags (``4.2.0rc1`` and ``4.2.0``).

Around its work every step marks its record ``running``, then ``done`` or ``failed`` (with
the error), in the fields ``step_status``, ``step_started_at`` and ``step_error`` that
only the pipeline writes (``mark``; ``release.run.step.recorded``). ``get`` hands a step
its own fields only, so a step's re-run logic sees what it always saw; ``entry`` is the
whole record, for ``invoke status``.

Anyone who can push to the remote can write a note, so every record is checked before a
step sees it (``release.run.records``: its ids end up in URL paths): a note or a record
that is not what release-tasks writes is an error naming the note and how to remove it,
and nothing of it is used.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from release.core import console
from release.core.console import without_credentials
from release.core.errors import ReleaseError
from release.core.git import PUSH_ATTEMPTS, Git, GitError, push_refusal
from release.core.text import human_size, shown
from release.run import notelock, records

NOTES_NAMESPACE = "refs/notes/release"
MAX_NOTE = 1024 * 1024  # characters: a note holds a few kilobytes of records
LOCAL_FIX = "delete it; the git notes on the remote still hold the shared state"

Record = dict[str, Any]


def notes_ref(step: str) -> str:
    return f"{NOTES_NAMESPACE}/{step}"


class ReleaseState:
    """The records of one version's steps, local and on the remote."""

    def __init__(
        self,
        git: Git,
        commit: str,
        version: str,
        remote: str | None,
        *,
        mask: Callable[[str], str] | None = None,
        scratch: str | None = None,
    ) -> None:
        """``scratch``: a notes namespace (under ``refs/notes/``) the remote's notes are
        fetched into and read from, instead of the step refs (``invoke status``: the clone's
        own ``refs/notes/release/*`` stay as they are)."""
        self.git = git
        self.commit = commit
        self.version = version
        self.remote = remote  # None: offline, nothing fetched or pushed
        self._mask = mask
        self._fetched = False
        self._scratch = scratch
        self._lifecycle: dict[str, Record] = {}  # step -> its current mark (``mark``)
        # The steps of `invoke release` share this object from several threads: one fetch,
        # and one writer of the local file at a time.
        self._lock = threading.RLock()

    # -- reading -------------------------------------------------------------

    @property
    def local_path(self) -> Path:
        return self.git.git_dir() / "release-state" / f"{self.version}.json"

    def _local(self) -> dict[str, Record]:
        try:
            data = json.loads(self.local_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as error:
            why = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise ReleaseError(
                f"the local release state {self.local_path} is unreadable ({why})",
                LOCAL_FIX,
            ) from None
        if not isinstance(data, dict):
            raise ReleaseError(
                f"the local release state {self.local_path} is {shown(data)}, not an object",
                LOCAL_FIX,
            )
        return data

    def _note(self, step: str, *, strict: bool = False) -> dict[str, Any]:
        """The note of ``step`` on the commit: ``{version: record}``. One that is not such
        an object is an error when ``strict`` (reading), else taken as empty (writing
        replaces it)."""
        ref = notes_ref(step) if self._scratch is None else f"{self._scratch}/{step}"
        result = self.git.run("notes", "--ref", ref, "show", self.commit, check=False)
        if result.returncode != 0:
            return {}
        why = None
        if len(result.stdout) > MAX_NOTE:
            why = f"it is {human_size(len(result.stdout))} long"
        else:
            try:
                data = json.loads(result.stdout)
            except ValueError:
                why = "it is not JSON"
            except RecursionError:
                why = "it is nested too deeply"
            else:
                if not isinstance(data, dict):
                    why = f"it is {shown(data)}, not an object"
        if why is None:
            return data  # type: ignore[no-any-return]
        if strict:
            raise self._untrusted(step, why, in_note=True)
        return {}

    def _checked(self, step: str, record: Any, *, in_note: bool) -> Record:
        """``record``, or the error that says why no step may use it (``records``)."""
        why = records.problem(step, self.version, record)
        if why is not None:
            raise self._untrusted(step, why, in_note=in_note)
        return record  # type: ignore[no-any-return]

    def _untrusted(self, step: str, why: str, *, in_note: bool) -> ReleaseError:
        """A record release-tasks did not write: where it is, and how to remove it."""
        if not in_note:
            return ReleaseError(
                f"the record of {step} for {self.version} in the local release state "
                f"{self.local_path} cannot be used: {why}",
                LOCAL_FIX,
            )
        ref, remote = notes_ref(step), self.remote or "origin"
        return ReleaseError(
            f"the state note of {step} for {self.version} ({ref} on commit {self.commit[:12]}) "
            f"was not written by release-tasks, so nothing in it was used: {why}",
            f"see who pushed it to {remote}, then remove it and run the same command again: "
            f"git fetch {remote} +{ref}:{ref} && git notes --ref {ref} remove {self.commit} && "
            f"git push {remote} {ref}",
        )

    def fetch(self) -> None:
        """Bring the remote's notes for every step into the local notes refs (once)."""
        with self._lock:
            if self.remote is None or self._fetched:
                return
            if self._scratch is None:
                notelock.claim(self.git.git_dir(), NOTES_NAMESPACE)
            try:
                into = self._scratch or NOTES_NAMESPACE
                prune = ("--prune",) if self._scratch else ()  # a note the remote dropped
                self.git.run(
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    *prune,
                    self.remote,
                    f"+{NOTES_NAMESPACE}/*:{into}/*",
                )
            except GitError as error:
                raise ReleaseError(
                    f"could not read the release state from {self.remote}: {error.message}",
                    "check that the remote is reachable, or pass --offline",
                ) from None
            self._fetched = True

    def get(self, step: str) -> Record | None:
        """What ``step`` recorded for this version (the newest record, local or from the
        remote's note, each checked first by ``release.run.records``: a record that fails is
        an error), without the lifecycle the pipeline adds; None when there is nothing of
        the step's own (no record, or only a lifecycle mark)."""
        record = self.entry(step)
        if record is None or not records.own_fields(record):
            return None
        return {k: v for k, v in record.items() if k not in records.LIFECYCLE_KEYS}

    def entry(self, step: str) -> Record | None:
        """The newest whole record of ``step``, lifecycle included (``invoke status``)."""
        self.fetch()
        local, note = self._local().get(step), self._note(step, strict=True).get(self.version)
        found = [
            self._checked(step, record, in_note=in_note)
            for record, in_note in ((local, False), (note, True))
            if record is not None
        ]
        if not found:
            return None
        return max(found, key=lambda r: float(r.get("recorded_at") or 0))

    def all(self, steps: tuple[str, ...]) -> dict[str, Record]:
        found = {step: self.get(step) for step in steps}
        return {step: record for step, record in found.items() if record is not None}

    # -- writing -------------------------------------------------------------

    def mark(self, step: str, status: str, error: str | None = None) -> Record:
        """Record that the work of ``step`` is running, done or failed (``error``: why, shown
        by ``invoke status``), keeping what the step recorded of its own. Until the next
        mark, every record the step writes carries this lifecycle too."""
        with self._lock:
            started = self._lifecycle.get(step, {}).get("step_started_at")
            lifecycle: Record = {"step_status": status}
            if status == records.RUNNING or started is None:
                started = time.time()
            lifecycle["step_started_at"] = started
            if error is not None:
                lifecycle["step_error"] = _error_text(error, self._mask)
            self._lifecycle[step] = lifecycle
        current = self.entry(step)
        return self.record(step, records.own_fields(current) if current else {}, advisory=True)

    def record(self, step: str, data: Mapping[str, Any], *, advisory: bool = False) -> Record:
        """Write ``data`` as the record of ``step``: locally first, then the note, then push.

        The lifecycle of the step's current mark (``mark``) replaces any in ``data``. An
        ``advisory`` record (a mark) that cannot be pushed is a warning, not an error: the
        step's own records carry what a re-run needs, and its next record pushes the mark."""
        with self._lock:
            lifecycle = self._lifecycle.get(step)
        if lifecycle is not None:
            own = {k: v for k, v in data.items() if k not in records.LIFECYCLE_KEYS}
            data = {**own, **lifecycle}
        record: Record = _without_credentials(
            {**data, "step": step, "version": self.version, "recorded_at": time.time()}
        )
        text = json.dumps(record, sort_keys=True)
        if self._mask is not None and self._mask(text) != text:
            raise ReleaseError(f"refusing to record a secret in the state of step {step}")
        self._write_local(step, record)
        self._write_note(step, record)
        if self.remote is not None:
            try:
                self._push(step, record)
            except ReleaseError as error:
                if not advisory:
                    raise
                console.warn(str(error))
        return record

    def _write_local(self, step: str, record: Record) -> None:
        with self._lock:
            self._replace_local(step, record)

    def _replace_local(self, step: str, record: Record) -> None:
        data = self._local()
        data[step] = record
        path = self.local_path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)

    def _write_note(self, step: str, record: Record) -> None:
        notelock.claim(self.git.git_dir(), NOTES_NAMESPACE)
        note = self._note(step)
        note[self.version] = record
        self.git.run(
            "notes",
            "--ref",
            notes_ref(step),
            "add",
            "--force",
            "--file",
            "-",
            self.commit,
            input=json.dumps(note, indent=2, sort_keys=True) + "\n",
            env=_notes_identity(self.git),
        )

    def _push(self, step: str, record: Record) -> None:
        assert self.remote is not None
        ref = notes_ref(step)
        last = ""
        for _ in range(PUSH_ATTEMPTS):
            result = self.git.run("push", "--quiet", self.remote, f"{ref}:{ref}", check=False)
            if result.returncode == 0:
                return
            last = push_refusal(result.stderr)
            # Lost a race (or the remote has notes we lack): take theirs, re-apply ours.
            fetched = self.git.run(
                "fetch", "--quiet", "--no-tags", self.remote, f"+{ref}:{ref}", check=False
            )
            if fetched.returncode != 0:
                break
            self._write_note(step, record)
        raise ReleaseError(
            f"recorded step {step} locally but could not push its state to {self.remote} ({last})",
            "run the same command again to push it",
        )


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _error_text(error: str, mask: Callable[[str], str] | None) -> str:
    """``error`` as a record may hold it: masked, without control characters, not too long."""
    text = _CONTROL.sub(" ", mask(error) if mask is not None else error)
    if len(text) > records.MAX_TEXT:
        text = text[: records.MAX_TEXT - 3] + "..."
    return text


def _without_credentials(data: Any) -> Any:
    """``data`` with the user information of every URL in its strings dropped: a record
    names where things went (an index, a file on it), never with which credentials."""
    if isinstance(data, str):
        return without_credentials(data)
    if isinstance(data, dict):
        return {key: _without_credentials(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_without_credentials(item) for item in data]
    return data


_NEUTRAL_IDENTITY = {
    "GIT_AUTHOR_NAME": "release-tasks",
    "GIT_COMMITTER_NAME": "release-tasks",
    "GIT_AUTHOR_EMAIL": "release-tasks@localhost",
    "GIT_COMMITTER_EMAIL": "release-tasks@localhost",
}


def _notes_identity(git: Git) -> dict[str, str]:
    """git notes needs a committer: the bump commit's (``Git.identity``), else a neutral one
    on bare CI runners."""
    return {**_NEUTRAL_IDENTITY, **git.identity()}
