"""The ``bump`` step (``BUMP``, ``invoke bump``): the release version written, committed, pushed.

Without ``--commit`` it writes the working tree; with ``--commit`` it commits the files written
into the release tree and pushes the commit to the tag's branch (see ``Bump``). The version
files themselves are read and written by ``release.core.writers``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from release.core.config import Config
from release.core.errors import ReleaseError
from release.core.git import PUSH_ATTEMPTS, Git, push_refusal, remote_said
from release.core.text import last_line
from release.core.version import ReleaseVersion
from release.core.writers.change import FileChange, holds, write_changes
from release.core.writers.plan import plan_tree, plan_writes
from release.core.writers.trees import CommitTree
from release.run.step import Step, StepResult
from release.steps.bump.checks import commit_identity, commit_mode

if TYPE_CHECKING:
    from release.run.context import ReleaseContext


@dataclass(frozen=True)
class BumpCommit:
    """The bump commit, made locally on top of the tagged commit before anything is pushed.

    ``commit`` is None when the tagged commit already holds the version (nothing to commit).
    """

    commit: str | None
    parent: str
    message: str
    changes: tuple[FileChange, ...]
    identity: Mapping[str, str]

    @property
    def files(self) -> list[str]:
        return [c.path for c in self.changes if c.changed]


def commit_message(config: Config, version: ReleaseVersion) -> str:
    return config.commit_message.format(**version.fields(config.codename(version.major)))


def make_bump_commit(ctx: ReleaseContext) -> BumpCommit:
    """Commit the files written into the release tree on top of the tagged commit.

    Only objects are created (no ref, no checkout changes): a temporary index is filled from
    the tagged commit plus the written files (``git add`` applies the repository's filters, as
    a commit by hand would), and ``git commit-tree`` makes the commit.
    """
    from release.run.worktree import release_tree, tree_changes

    message = commit_message(ctx.config, ctx.version)
    identity = commit_identity(ctx.git, ctx.env)
    with release_tree(ctx) as tree:
        changes = tree_changes(tree)
        changed = [c.path for c in changes if c.changed]
        if not changed:
            return BumpCommit(None, ctx.commit, message, changes, identity)
        tree_git = Git(tree)
        with tempfile.TemporaryDirectory(prefix="release-bump-") as folder:
            index = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
            tree_git.run("read-tree", ctx.commit, env=index)
            tree_git.run("add", "--", *changed, env=index)
            tree_id = tree_git.run("write-tree", env=index).stdout.strip()
    commit = _commit_tree(ctx.git, tree_id, ctx.commit, message, identity)
    return BumpCommit(commit, ctx.commit, message, changes, identity)


def _commit_tree(
    git: Git, tree_id: str, parent: str, message: str, identity: Mapping[str, str]
) -> str:
    result = git.run("commit-tree", tree_id, "-p", parent, "-F", "-", input=message, env=identity)
    return result.stdout.strip()


def remote_tip(git: Git, remote: str, branch: str) -> str:
    """Fetch ``branch`` from ``remote`` and return its tip."""
    from release.core.git import GitError

    try:
        git.fetch(remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    except GitError as error:
        raise ReleaseError(
            f"could not fetch {branch} from {remote}: {error.message}",
            "check that the remote is reachable and has that branch",
        ) from None
    tip = git.rev(f"refs/remotes/{remote}/{branch}")
    if tip is None:
        raise ReleaseError(f"{remote} has no branch {branch}")
    return tip


def commit_holds(git: Git, commit: str, config: Config, version: ReleaseVersion) -> bool:
    """Whether every version file of ``commit`` holds ``version`` ("the branch holds it")."""
    try:
        return holds(plan_tree(config, CommitTree(git, commit), version))
    except ReleaseError:
        return False


def rebase_bump(ctx: ReleaseContext, made: BumpCommit, tip: str) -> str:
    """The bump commit replayed onto ``tip`` (a descendant of the tagged commit).

    ``git merge-tree`` merges without a checkout; the merge base of ``tip`` and the bump
    commit is the tagged commit, so this is exactly a cherry-pick. A conflict raises, and
    nothing has changed anywhere.
    """
    assert made.commit is not None
    remote, branch = ctx.config.remote, ctx.branch
    result = ctx.git.run(
        "merge-tree", "--write-tree", "--name-only", "--no-messages", tip, made.commit, check=False
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode == 1:
        files = ", ".join(dict.fromkeys(lines[1:])) or "the version files"
        raise ReleaseError(
            f"{remote}/{branch} moved since {ctx.tag} and changed the same lines as the bump "
            f"commit ({files}); nothing was pushed and your branch and working tree are as "
            "they were",
            f"finish by hand: git switch {branch} && git pull {remote} {branch} && "
            f"invoke bump --tag {ctx.tag} (writes the files; resolve what it reports), then "
            f"git commit -am {made.message!r} && git push {remote} {branch}",
        )
    if result.returncode != 0 or not lines:
        raise ReleaseError(
            f"could not replay the bump commit onto {remote}/{branch}: "
            f"{result.stderr.strip() or 'git merge-tree failed'}"
        )
    rebased = _commit_tree(ctx.git, lines[0], tip, made.message, made.identity)
    if not commit_holds(ctx.git, rebased, ctx.config, ctx.version):
        raise ReleaseError(
            f"the bump commit replayed onto {remote}/{branch} ({tip[:12]}) does not hold "
            f"{ctx.version.pep440}: the branch changed the version files since {ctx.tag}",
            "nothing was pushed; update the version files on the branch by hand",
        )
    return rebased


@dataclass(frozen=True)
class _Pushed:
    ok: bool
    race: bool = False
    reason: str = ""
    already: bool = False  # the remote held this very commit (a racing run made the same one)


# How a push that lost a race shows: the branch moved before (rejected by our side) or while
# (the server could not update the ref it had locked for another push) it was sent.
_RACE_SIGNS = ("(fetch first)", "(non-fast-forward)", "(failed to update ref)", "(failed to lock)")


def push_commit(git: Git, remote: str, commit: str, branch: str) -> _Pushed:
    """Push ``commit`` to ``branch`` on ``remote``, never forced."""
    result = git.run(
        "push",
        "--porcelain",
        "--no-follow-tags",
        remote,
        f"{commit}:refs/heads/{branch}",
        check=False,
    )
    if result.returncode == 0:
        already = any(line.startswith("=\t") for line in result.stdout.splitlines())
        return _Pushed(ok=True, already=already)
    status = [line for line in result.stdout.splitlines() if line.startswith("!")]
    summary = status[0].split("\t")[-1] if status else ""
    if "cannot lock ref" in result.stderr:  # the remote's words name the ref and its lock
        return _Pushed(ok=False, race=True, reason=push_refusal(result.stderr))
    if any(sign in summary for sign in _RACE_SIGNS):
        return _Pushed(ok=False, race=True, reason=summary)
    reason = "; ".join([*remote_said(result.stderr), summary or last_line(result.stderr)])
    return _Pushed(ok=False, reason=reason)


def update_local_branch(git: Git, remote: str, branch: str, commit: str) -> str | None:
    """Bring the local ``branch`` (when there is one) to the pushed bump commit, if safe.

    A checked-out branch is fast-forwarded only when its working tree has no change other
    than files that already equal the bump commit's; otherwise it is left as it is, and the
    returned line says how to catch up.
    """
    ref = f"refs/heads/{branch}"
    old = git.rev(ref)
    if old is None or old == commit:
        return None
    pull = f"`git pull {remote} {branch}` brings in the bump commit"
    if not git.is_ancestor(old, commit):
        return f"your local {branch} has commits {remote}/{branch} lacks: {pull}"
    if git.current_branch() == branch:
        dirty = git.dirty_files()
        if dirty and git.run("diff", "--quiet", commit, "--", *dirty, check=False).returncode:
            return f"your working tree has changes, so {branch} was left as it is: {pull}"
        if dirty:  # they equal the bump commit's files: the fast-forward brings them back
            git.run("checkout", "--quiet", "HEAD", "--", *dirty)
        git.run("merge", "--ff-only", "--quiet", commit)
        return f"fast-forwarded your {branch} to {commit[:12]}"
    checked_out = git.run("worktree", "list", "--porcelain").stdout.splitlines()
    if f"branch {ref}" in checked_out:
        return f"{branch} is checked out in another worktree: {pull} there"
    git.run("update-ref", ref, commit, old)
    return f"moved your local {branch} to {commit[:12]}"


def show_changes(changes: Sequence[FileChange]) -> None:
    """A diff-style summary: the diff of every changed file, then what was passed over."""
    from release.core import console

    screen = console.out()
    for change in changes:
        if change.changed:
            for line in change.diff.splitlines():
                style = None
                if line.startswith(("+++", "---")):
                    style = "bold"
                elif line.startswith("+"):
                    style = "green"
                elif line.startswith("-"):
                    style = "red"
                elif line.startswith("@@"):
                    style = "cyan"
                screen.print(line, markup=False, style=style, highlight=False)
    for change in changes:
        if change.skipped:
            screen.print(f"passed over {change.path}: {change.skipped}", markup=False)
        if change.note:
            screen.print(f"{change.path}: {change.note}", markup=False)


class Bump:
    """The ``bump`` step (seed step 2): the version written, committed and pushed to the branch.

    - Without ``--commit`` (``invoke bump --tag ...``): writes the files into your working
      tree and shows the diff; nothing is committed. A second run says it holds the version.
    - With ``--commit`` (and inside ``invoke release``): the bump commit is made from the
      files written into the release tree, on top of the tagged commit, with objects only:
      your working tree and branches are not touched until the push succeeded. It is pushed
      to the branch the tag belongs to, never forced; when the branch moved since the tag,
      the commit is replayed onto its tip first, and a conflict stops with nothing pushed.
      A push that lost a race is retried on the new tip. Done when the branch holds the
      version. After the push a local copy of the branch is fast-forwarded when that is safe.
    - In CI (a detached, possibly shallow checkout of the tag) nothing differs: the commit is
      objects on top of the tagged commit, pushed as ``<commit>:refs/heads/<branch>``; the
      author comes from git config, else ``RELEASE_GIT_AUTHOR``/``RELEASE_GIT_EMAIL``.
    """

    name = "bump"

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Without ``--commit`` the run writes the working tree only: no lifecycle recorded."""
        return not commit_mode(ctx)

    def run(self, ctx: ReleaseContext) -> StepResult:
        if not commit_mode(ctx):
            return self.write_working_tree(ctx)
        if ctx.options.offline and ctx.options.dry_run:
            return self.describe(ctx, self.prepare(ctx))
        _require_remote(ctx)
        tip = remote_tip(ctx.git, ctx.config.remote, ctx.branch)
        if commit_holds(ctx.git, tip, ctx.config, ctx.version):
            return self._held(ctx, tip, ctx.options.dry_run)
        made = self.prepare(ctx)
        if ctx.options.dry_run:
            return self.describe(ctx, made)
        return self.publish(ctx, made)

    def write_working_tree(self, ctx: ReleaseContext) -> StepResult:
        version = ctx.version.pep440
        root = ctx.git.root
        changes = plan_writes(ctx.config, root, ctx.version)
        show_changes(changes)
        changed = [c for c in changes if c.changed]
        if not changed:
            return StepResult(
                self.name, "done", f"the working tree already holds {version}: nothing to do"
            )
        details: list[str] = []
        head = ctx.git.head()
        if head != ctx.commit:
            details.append(
                f"your checkout is at {(head or '?')[:12]}, not at {ctx.tag} "
                f"({ctx.commit[:12]}): its files were written"
            )
        files = f"{len(changed)} file(s) of the working tree"
        if ctx.options.dry_run:
            return StepResult(
                self.name, "dry-run", f"would write {version} into {files}", tuple(details)
            )
        write_changes(root, changed)
        details.append("commit them yourself, or use --commit to commit and push the bump")
        return StepResult(self.name, "done", f"wrote {version} into {files}", tuple(details))

    def cleanup(self, prepared: BumpCommit) -> None:
        """Nothing is held after ``publish`` or ``describe``; see ``release.run.step``."""
        pass  # the commit is objects only: nothing to release

    def prepare(self, ctx: ReleaseContext) -> BumpCommit:
        """Local work: the bump commit (objects only)."""
        return make_bump_commit(ctx)

    def describe(self, ctx: ReleaseContext, made: BumpCommit) -> StepResult:
        """The dry run: the diff and the commit that would be pushed."""
        return self._publish(ctx, made, dry_run=True)

    def publish(self, ctx: ReleaseContext, made: BumpCommit) -> StepResult:
        return self._publish(ctx, made, dry_run=ctx.options.dry_run)

    def _publish(self, ctx: ReleaseContext, made: BumpCommit, *, dry_run: bool) -> StepResult:
        remote, branch = ctx.config.remote, ctx.branch
        where = f"{remote}/{branch}"
        if made.commit is None:
            return self._held(ctx, made.parent, dry_run, ctx.tag)
        author = f"{made.identity['GIT_AUTHOR_NAME']} <{made.identity['GIT_AUTHOR_EMAIL']}>"
        details = [f"commit: {made.message!r} by {author}", f"files: {', '.join(made.files)}"]
        if ctx.options.offline and dry_run:
            show_changes(made.changes)
            details.append(f"{where} was not read (--offline): it may need a replay first")
            summary = f"would push {made.commit[:12]} ({made.message!r}) to {where}"
            return StepResult(self.name, "dry-run", summary, tuple(details))
        _require_remote(ctx)
        shown, lost = False, ""
        for _ in range(PUSH_ATTEMPTS):
            tip = remote_tip(ctx.git, remote, branch)
            if commit_holds(ctx.git, tip, ctx.config, ctx.version):
                return self._held(ctx, tip, dry_run)
            if not ctx.git.is_ancestor(made.parent, tip):
                raise ReleaseError(
                    f"{where} ({tip[:12]}) does not contain {ctx.tag} ({made.parent[:12]}); "
                    "nothing was pushed",
                    f"push {branch} first if the tagged commit is only in your clone; if the "
                    f"branch's history was rewritten since the tag, update the version by hand",
                )
            candidate = made.commit if tip == made.parent else rebase_bump(ctx, made, tip)
            if candidate != made.commit:
                details.append(f"replayed onto {where} {tip[:12]}, which moved since {ctx.tag}")
            if not shown:
                show_changes(made.changes)
                shown = True
            if dry_run:
                return StepResult(
                    self.name,
                    "dry-run",
                    f"would push {candidate[:12]} ({made.message!r}) to {where}",
                    tuple(details),
                )
            pushed = push_commit(ctx.git, remote, candidate, branch)
            if pushed.already:
                return self._held(ctx, candidate, dry_run)
            if pushed.ok:
                local = update_local_branch(ctx.git, remote, branch, candidate)
                if local:
                    details.append(local)
                record = {
                    "result": "pushed",
                    "commit": candidate,
                    "branch": branch,
                    "remote": remote,
                    "files": made.files,
                }
                ctx.state.record(self.name, record)
                summary = f"pushed {candidate[:12]} ({made.message!r}) to {where}"
                return StepResult(self.name, "done", summary, tuple(details), record)
            if not pushed.race:
                raise ReleaseError(
                    f"{remote} refused the bump commit {candidate[:12]} for {branch}: "
                    f"{pushed.reason}",
                    f"nothing was pushed and your branch and working tree are as they were; "
                    f"allow the push (branch protection) and run the same command again, or "
                    f"push it by hand: git push {remote} {candidate}:refs/heads/{branch}",
                )
            details.append(f"{where} moved while pushing: trying again on its new tip")
            lost = pushed.reason
        if "File exists" in lost:  # a lock a crashed process left looks like a race each time
            raise ReleaseError(
                f"{remote} could not lock {branch} for the bump commit {PUSH_ATTEMPTS} times: "
                f"{lost}",
                "nothing was pushed; if no push to the remote is running, a crashed one left "
                "that lock file: remove it on the remote and run the same command again",
            )
        raise ReleaseError(
            f"{where} kept moving: the bump commit lost the race {PUSH_ATTEMPTS} times",
            "nothing was pushed; run the same command again",
        )

    def _held(
        self, ctx: ReleaseContext, commit: str, dry_run: bool, holder: str | None = None
    ) -> StepResult:
        """The bump is done: the branch (or already the tagged commit) holds the version."""
        holder = holder or f"{ctx.config.remote}/{ctx.branch}"
        record = {
            "result": "held",
            "commit": commit,
            "branch": ctx.branch,
            "remote": ctx.config.remote,
            "files": [],
        }
        if not dry_run:
            ctx.state.record(self.name, record)
        summary = f"{holder} already holds {ctx.version.pep440}: nothing to do"
        return StepResult(self.name, "done", summary, (), record)


def _require_remote(ctx: ReleaseContext) -> None:
    if ctx.options.offline:
        raise ReleaseError("the bump commit is pushed to the remote, which --offline forbids")


BUMP: Step[BumpCommit] = Bump()
