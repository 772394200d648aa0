"""The git command line, and nothing else.

Every call goes through ``Git.run`` so that errors carry git's own message and the
command that failed. Output is parsed from porcelain formats only.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.core.errors import ReleaseError
from release.core.gitauth import (
    NETWORK_COMMANDS,
    auth_environment,
    remote_argument,
    token_of,
    without_token,
)
from release.core.gitobjects import cat_file, cat_file_batch, decoded

# How often a push that lost a race to another push (a moved branch or notes ref) is retried.
PUSH_ATTEMPTS = 5


class GitError(ReleaseError):
    """A git command failed; ``stderr`` holds git's own words."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:2])} failed: {_cause(stderr, returncode)}")
        self.args_ = tuple(args)
        self.returncode = returncode
        self.stderr = stderr


def _cause(stderr: str, returncode: int) -> str:
    """git's own reason: its first ``fatal:``/``error:`` line, else its last line.

    After the reason git often adds advice ("Please make sure you have the correct access
    rights / and the repository exists."), whose last line alone says nothing.
    """
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line.removeprefix(prefix)
    return lines[-1] if lines else f"exit code {returncode}"


def remote_said(stderr: str) -> list[str]:
    """The non-blank lines the remote sent during a push (``remote: ...``), without the prefix."""
    return [
        line.removeprefix("remote:").strip()
        for line in stderr.splitlines()
        if line.startswith("remote:") and line.removeprefix("remote:").strip()
    ]


def push_refusal(stderr: str) -> str:
    """Why a ``git push`` failed, in git's and the remote's words: the remote's errors (or
    its hook's message), then the rejected ref's line. ``error: failed to push some refs``,
    git's last line, names neither."""
    said = remote_said(stderr)
    errors = [line for line in said if line.startswith(("error:", "fatal:"))]
    rejected = [
        line.strip().removeprefix("! ")
        for line in stderr.splitlines()
        if line.strip().startswith("! [")
    ]
    reason = "; ".join([*(errors or said)[:3], *rejected[:1]])
    return reason or _cause(stderr, 1)


_FULL_HASH = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

# ``git remote`` and ``git config`` forms that only read (anything else may change a URL).
_REMOTE_READS = frozenset({"get-url", "show", "-v", "--verbose"})
_CONFIG_READS = frozenset({"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list", "-l"})


def _may_change_remotes(args: Sequence[str]) -> bool:
    """Whether ``git <args>`` may change a remote's URL (``git remote set-url``, ``git config
    remote.origin.url ...``): the remembered URLs are then forgotten."""
    index = 0
    while index < len(args) and args[index] in ("-c", "-C"):
        index += 2  # options of git itself, before the command
    if index >= len(args):
        return False
    command, rest = args[index], args[index + 1 :]
    if command == "remote":
        return bool(rest) and rest[0] not in _REMOTE_READS
    if command == "config":
        return not any(arg in _CONFIG_READS for arg in rest)
    return False


@dataclass(frozen=True)
class TagInfo:
    """What a tag is: its commit, and for an annotated tag its tagger."""

    name: str
    commit: str
    annotated: bool
    tagger_name: str | None = None
    tagger_email: str | None = None
    object_id: str | None = None  # what the tag ref names: the tag object, or the commit


class Git:
    """The git repository at ``root`` (its top level, found from any folder inside)."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self._env = dict(env) if env is not None else None
        # Answers that cannot change while the process runs: the common git directory, and
        # files and listings of a commit named by its full hash (objects are immutable).
        self._git_dir: Path | None = None
        self._blobs: dict[tuple[str, str], bytes] = {}
        self._entries: dict[str, list[tuple[str, str]]] = {}
        # Remote URLs by remote name: forgotten whenever this wrapper runs a ``git remote``
        # or ``git config`` that may change them (``_may_change_remotes``).
        self._remote_urls: dict[str, str | None] = {}

    @classmethod
    def discover(cls, start: Path | None = None) -> Git:
        """The repository containing ``start`` (default: the current directory)."""
        folder = Path(start or Path.cwd())
        try:
            out = subprocess.run(
                ["git", "rev-parse", "--show-toplevel", "--git-common-dir"],
                cwd=folder,
                capture_output=True,
                text=True,
                env=without_token(os.environ),
                check=False,
            )
        except FileNotFoundError:
            raise ReleaseError("git is not installed", "install git and run again") from None
        if out.returncode != 0:
            raise ReleaseError(
                f"{folder} is not inside a git repository",
                "run the task from the repository you want to release",
            )
        top, common = out.stdout.splitlines()[:2]
        git = cls(Path(top))
        # Asked in the same call (one git process less at start-up); relative to ``folder``.
        git._git_dir = (folder / common).resolve()
        return git

    # -- plumbing ------------------------------------------------------------

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        base = os.environ if self._env is None else self._env
        merged = without_token(base)  # the job's token reaches git's network calls only
        merged.setdefault("GIT_TERMINAL_PROMPT", "0")
        merged["LC_ALL"] = "C"
        if env:
            merged.update(without_token(env))
        if _may_change_remotes(args):
            self._remote_urls.clear()
        if args and args[0] in NETWORK_COMMANDS and token_of(base) is not None:
            remote = remote_argument(args)
            url = (self.remote_url(remote) or remote) if remote is not None else None
            merged.update(auth_environment({**base, **merged}, url))
        result = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            encoding="utf-8",
            errors="replace",  # a commit message in another encoding must not crash a read
            input=input,
            env=merged,
            check=False,
        )
        if check and result.returncode != 0:
            raise GitError(args, result.returncode, result.stderr)
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    # -- refs and objects ----------------------------------------------------

    def git_dir(self) -> Path:
        """The common git directory (shared by worktrees)."""
        if self._git_dir is None:
            path = Path(self.out("rev-parse", "--git-common-dir"))
            self._git_dir = path if path.is_absolute() else (self.root / path).resolve()
        return self._git_dir

    def rev(self, ref: str) -> str | None:
        result = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def head(self) -> str | None:
        return self.rev("HEAD")

    def current_branch(self) -> str | None:
        result = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def tag(self, name: str) -> TagInfo | None:
        ref = f"refs/tags/{name}"
        result = self.run(
            "for-each-ref",
            "--format=%(objecttype)%00%(*objectname)%00%(objectname)%00%(taggername)%00%(taggeremail)",
            ref,
            check=False,
        )
        line = result.stdout.strip()
        if not line:
            return None
        objtype, peeled, obj, tagger, email = line.split("\0")
        if objtype == "tag":
            return TagInfo(name, peeled, True, tagger or None, email.strip("<>") or None, obj)
        return TagInfo(name, obj, False, object_id=obj)

    def tags(self, pattern: str = "*") -> list[str]:
        return [t for t in self.out("tag", "--list", pattern).splitlines() if t]

    def tags_at(self, commit: str) -> list[str]:
        return [t for t in self.out("tag", "--points-at", commit).splitlines() if t]

    def branches_containing(self, commit: str) -> dict[str, str]:
        """Local and remote-tracking branches whose tip contains ``commit``: {ref: short name}.

        Remote-tracking names are returned without the remote (``origin/main`` -> ``main``).
        """
        found: dict[str, str] = {}
        out = self.out(
            "for-each-ref",
            "--contains",
            commit,
            "--format=%(refname)",
            "refs/heads",
            "refs/remotes",
        )
        for ref in out.splitlines():
            if ref.startswith("refs/heads/"):
                found[ref] = ref.removeprefix("refs/heads/")
            elif ref.startswith("refs/remotes/"):
                name = ref.removeprefix("refs/remotes/").split("/", 1)
                if len(name) == 2 and name[1] != "HEAD":
                    found[ref] = name[1]
        return found

    def is_shallow(self) -> bool:
        return self.out("rev-parse", "--is-shallow-repository") == "true"

    def remote_url(self, remote: str) -> str | None:
        """The URL of ``remote`` (None when there is no such remote).

        Remembered per remote within the process: several checks ask it of one remote, and it
        changes only through ``git remote``/``git config``, which ``run`` forgets it for.
        """
        if remote not in self._remote_urls:
            result = self.run("remote", "get-url", remote, check=False)
            url = result.stdout.strip() or None if result.returncode == 0 else None
            self._remote_urls[remote] = url
        return self._remote_urls[remote]

    def remote_head(self, remote: str) -> str | None:
        """The branch the remote's ``HEAD`` names (``git ls-remote --symref``), as the remote
        has it now; None when its ``HEAD`` names no branch. Raises ``GitError`` when the
        remote cannot be read."""
        out = self.out("ls-remote", "--symref", remote, "HEAD")
        for line in out.splitlines():
            target, _, name = line.partition("\t")
            if name == "HEAD" and target.startswith("ref: refs/heads/"):
                return target.removeprefix("ref: refs/heads/") or None
        return None

    def tracking_head(self, remote: str) -> str | None:
        """The branch ``refs/remotes/<remote>/HEAD`` names (the remote's ``HEAD`` as last
        fetched, set by ``git clone`` or ``git remote set-head``); None without it."""
        result = self.run("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD", check=False)
        prefix = f"refs/remotes/{remote}/"
        ref = result.stdout.strip()
        if result.returncode != 0 or not ref.startswith(prefix):
            return None
        return ref.removeprefix(prefix) or None

    def fetch(self, remote: str, *refspecs: str, unshallow: bool = False) -> None:
        args = ["fetch", "--quiet", "--no-tags"]
        if unshallow and self.is_shallow():
            args.append("--unshallow")
        self.run(*args, remote, *refspecs)

    def ls_remote(self, remote: str, *patterns: str) -> dict[str, str]:
        """{ref: object} on the remote."""
        out = self.out("ls-remote", remote, *patterns)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, ref = line.split("\t", 1)
            refs[ref] = sha
        return refs

    # -- trees and files -----------------------------------------------------

    def entries(self, commit: str) -> list[tuple[str, str]]:
        """(mode, path) of every file of ``commit`` (``git ls-tree -r --full-tree``), paths
        from the top level.

        One listing serves both the names (``files``) and the modes (the symbolic links a
        version file must not be read through); a full commit hash's is remembered.
        """
        if commit in self._entries:
            return list(self._entries[commit])
        out = self.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout
        entries = []
        for entry in out.split("\0"):
            if entry:
                info, _, path = entry.partition("\t")
                entries.append((info.split(" ", 1)[0], path))
        if _FULL_HASH.fullmatch(commit):
            self._entries[commit] = entries
        return list(entries)

    def files(self, commit: str) -> list[str]:
        """The path of every file of ``commit``, from the top level, in git's order."""
        return [path for _, path in self.entries(commit)]

    def show(self, commit: str, path: str) -> str | None:
        """The text of ``path`` in ``commit`` (None when it has no such file).

        Raises a ``ReleaseError`` naming the file when it is not UTF-8 text. Files of a full
        commit hash are remembered within the process (a commit never changes).
        """
        return decoded(commit, path, self.blob(commit, path))

    def show_many(
        self, commit: str, paths: Sequence[str], *, strict: bool = True
    ) -> dict[str, str | None]:
        """``show`` of each of ``paths`` in ``commit``, read by one git process.

        A file that is not UTF-8 text raises as ``show`` does (the first of ``paths`` that
        is not), or with ``strict=False`` is None like a missing one.
        """
        found = self.blobs(commit, paths)
        texts: dict[str, str | None] = {}
        for path in paths:
            try:
                texts[path] = decoded(commit, path, found[path])
            except ReleaseError:
                if strict:
                    raise
                texts[path] = None
        return texts

    def blob(self, commit: str, path: str) -> bytes | None:
        """The bytes of ``path`` in ``commit`` (None when it has no such file)."""
        return self.blobs(commit, [path])[path]

    def blobs(self, commit: str, paths: Sequence[str]) -> dict[str, bytes | None]:
        """The bytes of each of ``paths`` in ``commit`` (None: no such file), from one
        ``git cat-file --batch`` for those not yet read.

        Files of a full commit hash are remembered; a missing one is not (a later fetch may
        bring the object).
        """
        found: dict[str, bytes | None] = {}
        wanted: list[str] = []
        for path in paths:
            if (commit, path) in self._blobs:
                found[path] = self._blobs[(commit, path)]
            elif path not in wanted:
                wanted.append(path)
        env = without_token(os.environ if self._env is None else self._env)
        batched = [path for path in wanted if "\n" not in path and "\r" not in path]
        # One file alone is read by ``git cat-file blob``, several by one batch.
        read = cat_file_batch(self.root, env, commit, batched) if len(batched) > 1 else {}
        for path in wanted:
            data = read[path] if path in read else cat_file(self.root, env, commit, path)
            found[path] = data
            if data is not None and _FULL_HASH.fullmatch(commit):
                self._blobs[(commit, path)] = data
        return found

    def changed_files(self, base: str, head: str) -> list[str]:
        out = self.run("diff", "--name-only", "-z", "--no-renames", base, head).stdout
        return [name for name in out.split("\0") if name]

    def dirty_files(self) -> list[str]:
        """Tracked files with changes in the index or the working tree (untracked ignored)."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=no").stdout
        entries = [e for e in out.split("\0") if e]
        names: list[str] = []
        skip = False
        for entry in entries:
            if skip:
                skip = False
                continue
            status, name = entry[:2], entry[3:]
            names.append(name)
            if "R" in status or "C" in status:
                skip = True  # the next entry is the rename's source
        return names

    def commit_time(self, commit: str) -> int:
        return int(self.out("show", "-s", "--format=%ct", commit))

    def config(self, key: str) -> str | None:
        result = self.run("config", "--get", key, check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def identity(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The ``GIT_AUTHOR_*``/``GIT_COMMITTER_*`` variables of a commit or note the tool makes.

        The author is ``GIT_AUTHOR_NAME``/``GIT_AUTHOR_EMAIL``, else ``git config user.name``/
        ``user.email``, else ``RELEASE_GIT_AUTHOR``/``RELEASE_GIT_EMAIL`` (a CI job's bot);
        the committer is ``GIT_COMMITTER_*`` when set, else the author. A name or e-mail that
        nothing sets is left out. ``env`` defaults to this repository's environment.
        """
        env = env if env is not None else (os.environ if self._env is None else self._env)
        found: dict[str, str] = {}
        for part, key, fallback in (("NAME", "user.name", "RELEASE_GIT_AUTHOR"),
                                    ("EMAIL", "user.email", "RELEASE_GIT_EMAIL")):  # fmt: skip
            value = env.get(f"GIT_AUTHOR_{part}") or self.config(key) or env.get(fallback)
            if value:
                found[f"GIT_AUTHOR_{part}"] = value
                found[f"GIT_COMMITTER_{part}"] = env.get(f"GIT_COMMITTER_{part}") or value
        return found

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", ancestor, descendant)

    def ahead_behind(self, local: str, upstream: str) -> tuple[int, int]:
        """(commits only in ``local``, commits only in ``upstream``)."""
        counts = self.out("rev-list", "--left-right", "--count", f"{local}...{upstream}")
        ahead, behind = counts.split()
        return int(ahead), int(behind)

    # -- signatures ----------------------------------------------------------

    def tag_object(self, name: str) -> str | None:
        """The raw annotated tag object (headers, message, signature); None if not annotated."""
        result = self.run("cat-file", "tag", f"refs/tags/{name}", check=False)
        return result.stdout if result.returncode == 0 else None

    def verify_tag(
        self, name: str, settings: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``git verify-tag`` with ``-c key=value`` settings for this call; never raises."""
        options: list[str] = []
        for key, value in (settings or {}).items():
            options += ["-c", f"{key}={value}"]
        return self.run(*options, "verify-tag", f"refs/tags/{name}", check=False)
