"""The GitHub release of a version tag (``github-release``): one release, its files attached.

The release of ``version/X`` is named after the project and the version; its body is the
release's notes with the links the announcement shows (``release.run.notes``,
``release.steps.github_release.rules``); a pre-release is marked ``prerelease``; "Latest" is
taken only by the highest final or post release of the repository's version tags
(``rules.make_latest``). Its files are the release's built files (``files``), each checked
after the upload by name, size and sha256 (GitHub's ``digest``, else the downloaded bytes).

Safe to run again: the release is created as a draft, its files are uploaded, then it is
published. A run finds its release first (the id in its state note, else the published
release of the tag, else by listing the repository's releases, drafts included: a draft is
not found by its tag) and finishes it, never creating a second. A file already attached with
the same sha256 is done; a different file under the same name is refused before anything
changes. A create or an upload whose answer was lost is looked for before it is sent again
(``client``: a POST is never repeated blindly); an incomplete asset a broken upload left is
deleted and uploaded again.

The record (``refs/notes/release/github-release``; no secret in it): ``{"phase": "creating" |
"draft" | "published", "repository", "api", "tag", "release_id", "html_url", "prerelease",
"make_latest", "assets": [{"name", "size", "sha256", "id", "url"}]}``; each asset is recorded
as it lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from release.core import console
from release.core.errors import ReleaseError, StepError
from release.core.http import POLICY, public_url
from release.core.version import Kind
from release.run.handoff import handed_off
from release.run.links import github_repository
from release.run.notes import previous_release, rebuilt_with, release_links, release_notes
from release.run.step import Step, StepResult, run_staged
from release.steps.github_release.client import AlreadyExists, AnswerLost, GitHubClient
from release.steps.github_release.credentials import TOKEN_ENV, TOKEN_FIX, Target, target_of
from release.steps.github_release.files import release_files, required_files
from release.steps.github_release.rules import (
    CONFLICT_FIX,
    AssetPlan,
    LocalAsset,
    RemoteAsset,
    compare_assets,
    conflict_message,
    make_latest,
    release_body,
    release_name,
)

if TYPE_CHECKING:
    from release.run.context import ReleaseContext

STEP = "github-release"


@dataclass(frozen=True)
class Text:
    """What the release says and how it is marked."""

    name: str
    body: str
    prerelease: bool
    make_latest: str  # "true" or "false"


@dataclass(frozen=True)
class Prepared:
    target: Target
    files: list[LocalAsset] | None  # None: the build is not there yet, taken when publishing


def release_text(ctx: ReleaseContext, target: Target) -> Text:
    """The release's name, body and marks (``rules``), from git, the state and the config."""
    config = ctx.config
    project = config.discord.project_name if config.discord else target.repository.split("/")[1]
    previous = previous_release(ctx.git, ctx.commit, ctx.version, config.tag_prefix)
    github = github_repository(ctx.git.remote_url(config.remote))
    if github is None and target.api == "https://api.github.com":
        github = f"https://github.com/{target.repository}"
    notes = release_notes(ctx.git, ctx.commit, ctx.version, config, previous, github)
    sections, _ = release_links(ctx, previous, github)
    body = release_body(
        project=project,
        version=ctx.version,
        notes=notes,
        sections=sections,
        rebuilt_with=rebuilt_with(ctx),
    )
    tags = ctx.git.tags(f"{config.tag_prefix}*")
    latest = make_latest(ctx.version, tags, config.tag_prefix, config.yanked)
    pre = ctx.version.kind is Kind.PRE
    return Text(release_name(project, ctx.version), body, pre, latest)


def find_release(ctx: ReleaseContext, client: GitHubClient) -> dict[str, Any] | None:
    """This tag's release: the one the state names, else the published one, else its draft."""
    record = ctx.state.get(STEP)
    repository = client.target.repository
    if record and record.get("repository") == repository and record.get("release_id"):
        found = client.release(int(record["release_id"]))
        if found is not None and found.get("tag_name") == ctx.tag:
            return found
    found = client.release_by_tag(ctx.tag)
    if found is not None:
        return found
    of_tag = [r for r in client.releases() if r.get("tag_name") == ctx.tag]
    published = [r for r in of_tag if not r.get("draft")]
    if published:
        return published[0]
    drafts = sorted(of_tag, key=lambda r: int(r.get("id") or 0))
    if len(drafts) > 1:
        console.notice(
            f"github-release: {len(drafts)} drafts of {ctx.tag} on {repository}: finishing the "
            f"oldest (id {drafts[0].get('id')}); delete the others on GitHub"
        )
    return drafts[0] if drafts else None


class GitHubRelease:
    """Create the release as a draft, attach its files, publish it; finish it on a re-run."""

    name = STEP

    def local_only(self, ctx: ReleaseContext) -> bool:
        """Run as its own task, this step always records its lifecycle."""
        return False

    def prepare(self, ctx: ReleaseContext) -> Prepared:
        """Where it goes, and the files; a file that differs from the one already attached
        is refused now, before the release's first side effect (when the files are there)."""
        target = target_of(ctx)
        if target.token is None and not ctx.options.dry_run:
            raise ReleaseError(f"{TOKEN_ENV} is not set", TOKEN_FIX)
        files = release_files(ctx)
        if files is not None and target.token and not ctx.options.offline:
            client = GitHubClient(target)
            try:
                release = find_release(ctx, client)
                if release is not None:
                    _Run(ctx, client, files).compare(release)
            finally:
                client.close()
        return Prepared(target, files)

    def describe(self, ctx: ReleaseContext, prepared: Prepared) -> StepResult:
        """The dry run: the release's text and files, and whether it would be made or finished."""
        target = prepared.target
        files = prepared.files if prepared.files is not None else release_files(ctx)
        text = release_text(ctx, target)
        where = f"the GitHub release of {ctx.tag} in {target.repository}"
        count = "its built files" if files is None else f"{len(files)} file(s)"
        summary = f"would create or finish {where} with {count}"
        if target.token and not ctx.options.offline and files is not None:
            client = GitHubClient(target)
            try:
                release = find_release(ctx, client)
                if release is None:
                    summary = f"would create {where} as a draft, upload {count}, then publish it"
                else:
                    plan = _Run(ctx, client, files).compare(release)
                    state = "draft" if release.get("draft") else "published release"
                    summary = (
                        f"would finish the {state} {release.get('html_url')}: "
                        f"{len(plan.done)} file(s) there, {len(plan.upload) + len(plan.replace)} "
                        "to upload" + (", then publish it" if release.get("draft") else "")
                    )
            finally:
                client.close()
        details = [
            f"name: {text.name}",
            f"prerelease: {str(text.prerelease).lower()}, make_latest: {text.make_latest}",
            *(f"file: {f.name} ({f.size} bytes, sha256 {f.sha256})" for f in files or []),
            "body:",
            *(f"  {line}" for line in text.body.splitlines()),
        ]
        return StepResult(STEP, "dry-run", summary, details=tuple(details))

    def publish(self, ctx: ReleaseContext, prepared: Prepared) -> StepResult:
        target = prepared.target
        if target.token is None:
            raise ReleaseError(f"{TOKEN_ENV} is not set", TOKEN_FIX)
        files = prepared.files if prepared.files is not None else required_files(ctx)
        text = release_text(ctx, target)
        client = GitHubClient(target)
        try:
            return _Run(ctx, client, files).finish(text)
        finally:
            client.close()

    def cleanup(self, prepared: Prepared) -> None:
        """Nothing is held between prepare and publish."""

    def run(self, ctx: ReleaseContext) -> StepResult:
        return run_staged(self, ctx)


class _Run:
    """One run's work on the release: find or create, compare, upload, publish, check."""

    def __init__(self, ctx: ReleaseContext, client: GitHubClient, files: list[LocalAsset]):
        self.ctx = ctx
        self.client = client
        self.files = files
        self.attached: dict[str, dict[str, Any]] = {}  # name -> its record, in file order
        self.uploaded: list[str] = []
        self.base: dict[str, Any] = {
            "repository": client.target.repository,
            "api": public_url(client.target.api),
            "tag": ctx.tag,
        }
        handoff = handed_off(ctx)
        if handoff is not None:
            self.base["build"] = handoff.record()

    @property
    def where(self) -> str:
        return f"the GitHub release of {self.ctx.tag}"

    def record(self, phase: str, release: dict[str, Any] | None = None) -> dict[str, Any]:
        data = {**self.base, "phase": phase}
        if release is not None:
            data["release_id"] = int(release["id"])
            data["html_url"] = release.get("html_url")
        data["assets"] = [self.attached[f.name] for f in self.files if f.name in self.attached]
        return self.ctx.state.record(STEP, data)

    # -- before anything changes ------------------------------------------------------

    def compare(self, release: dict[str, Any]) -> AssetPlan:
        """The files against the release's assets; a different file under a name is refused."""
        remote = [RemoteAsset.of(a) for a in self.client.assets(int(release["id"]))]
        plan = compare_assets(self.files, remote, self.where)
        for local, there in plan.unknown:  # GitHub gives no digest: compare the bytes
            if self.client.download_sha256(there.id) == local.sha256:
                plan.done.append((local, there))
            else:
                plan.conflicts.append(conflict_message(local, there, self.where))
        if plan.conflicts:
            raise ReleaseError("; ".join(plan.conflicts), CONFLICT_FIX)
        for local, there in plan.done:
            self.attached[local.name] = _asset_record(local, there)
        return plan

    # -- the side effects -------------------------------------------------------------

    def finish(self, text: Text) -> StepResult:
        self.base.update(prerelease=text.prerelease, make_latest=text.make_latest)
        release = find_release(self.ctx, self.client)
        created = release is None
        if release is None:
            release = self.create(text)
        plan = self.compare(release)
        self.record("draft" if release.get("draft") else "published", release)
        changed = self.edit(release, text)
        for local, leftover in plan.replace:
            console.info(
                f"github-release: {local.name} was left incomplete by a broken upload: "
                "deleted, uploading it again"
            )
            self.client.delete_asset(leftover.id)
        for local in [*plan.upload, *(local for local, _ in plan.replace)]:
            self.upload(release, local)
            self.record("draft" if release.get("draft") else "published", release)
        release, published = self.publish(release, text)
        self.verify(release)
        saved = self.record("published", release)
        url = release.get("html_url")
        if created or published or self.uploaded or changed:
            what = "created" if created else "finished"
            summary = (
                f"{what} {self.where} ({url}): {len(self.uploaded)} file(s) uploaded, "
                f"{len(self.files) - len(self.uploaded)} already there"
            )
        else:
            summary = f"{self.where} was already complete ({url}): nothing changed"
        if text.make_latest == "true":
            summary += "; it is the latest release"
        details = tuple(f"{a['name']}: sha256 {a['sha256']}" for a in saved.get("assets", []))
        return StepResult(STEP, "done", summary, details=details, record=saved)

    def create(self, text: Text) -> dict[str, Any]:
        """A draft of the release; a lost answer is looked for before it is sent again."""
        self.record("creating")
        payload = {
            "tag_name": self.ctx.tag,
            "name": text.name,
            "body": text.body,
            "draft": True,
            "prerelease": text.prerelease,
            "make_latest": text.make_latest,
        }
        for _ in range(POLICY.attempts):
            try:
                release = self.client.create(payload)
            except AlreadyExists:
                found = find_release(self.ctx, self.client)
                if found is None:
                    raise
                console.info(f"github-release: {self.where} exists already: finishing it")
                return found
            except AnswerLost as lost:
                found = find_release(self.ctx, self.client)
                if found is not None:
                    console.info(f"github-release: {lost.message}; the draft is there: using it")
                    return found
                console.info(f"github-release: {lost.message}; no draft is there: creating it")
                continue
            console.info(f"github-release: created a draft of {self.where} (id {release['id']})")
            return release
        raise StepError(
            f"{self.where} could not be created: its answer was lost {POLICY.attempts} times",
            "run the same command again: it looks for the draft before creating one",
        )

    def edit(self, release: dict[str, Any], text: Text) -> bool:
        """Bring the release's name, body and pre-release mark to this run's (if they differ)."""
        current = (
            release.get("name"),
            _normal(release.get("body")),
            bool(release.get("prerelease")),
        )
        if current == (text.name, _normal(text.body), text.prerelease):
            return False
        fields = {"name": text.name, "body": text.body, "prerelease": text.prerelease}
        release.update(self.client.update(int(release["id"]), fields))
        console.info(f"github-release: updated the name, text and marks of {self.where}")
        return True

    def upload(self, release: dict[str, Any], local: LocalAsset) -> None:
        """One file, checked after the upload; a lost answer is looked for, never blindly
        repeated."""
        for _ in range(POLICY.attempts):
            try:
                data: dict[str, Any] | None = self.client.upload(release, local)
            except AlreadyExists:
                data = self._asset(release, local.name)
                if data is None:
                    raise
            except AnswerLost as lost:
                data = self._asset(release, local.name)
                there = RemoteAsset.of(data) if data is not None else None
                if there is None or there.state != "uploaded":
                    if there is not None:
                        self.client.delete_asset(there.id)
                    console.info(
                        f"github-release: {lost.message}; {local.name} is not on the release: "
                        "uploading it again"
                    )
                    continue
            assert data is not None
            self.attached[local.name] = self.check(local, RemoteAsset.of(data))
            self.uploaded.append(local.name)
            console.info(f"github-release: attached {local.name} (sha256 {local.sha256[:16]}...)")
            return
        raise StepError(
            f"the upload of {local.name} to {self.where} lost its answer {POLICY.attempts} times",
            "run the same command again: files already attached are kept",
        )

    def _asset(self, release: dict[str, Any], name: str) -> dict[str, Any] | None:
        found = [a for a in self.client.assets(int(release["id"])) if a.get("name") == name]
        return found[0] if found else None

    def check(self, local: LocalAsset, there: RemoteAsset) -> dict[str, Any]:
        """The asset GitHub holds is this file: name, size and sha256 (its digest, or its
        downloaded bytes)."""
        digest = there.sha256 or self.client.download_sha256(there.id)
        if there.name != local.name or there.size != local.size or digest != local.sha256:
            held = RemoteAsset(there.id, there.name, there.size, there.state, digest, there.url)
            raise StepError(
                f"after the upload, {conflict_message(local, held, self.where)}",
                "delete the asset on GitHub and run the same command again",
            )
        return _asset_record(local, there)

    def publish(self, release: dict[str, Any], text: Text) -> tuple[dict[str, Any], bool]:
        """The draft published (with this run's "Latest" decision); a published release takes
        "Latest" only when it should and does not have it. Whether it was published now."""
        release_id = int(release["id"])
        if not release.get("draft"):
            if text.make_latest == "true":
                latest = self.client.latest()
                if latest is None or latest.get("id") != release_id:
                    release = self.client.update(release_id, {"make_latest": "true"})
            return release, False
        try:
            release = self.client.update(
                release_id,
                {"tag_name": self.ctx.tag, "draft": False, "make_latest": text.make_latest},
            )
        except AlreadyExists:
            raise StepError(
                f"another release of {self.ctx.tag} was published meanwhile, so the draft "
                f"{release.get('html_url')} cannot be",
                "delete the draft on GitHub and run the same command again",
            ) from None
        except ReleaseError as error:
            raise StepError(
                f"the draft of {self.ctx.tag} was sent to be published, but {error.message}",
                "run the same command again: it finds the release and finishes it",
            ) from None
        console.info(f"github-release: published {self.where}: {release.get('html_url')}")
        return release, True

    def verify(self, release: dict[str, Any]) -> None:
        """Every file is on the published release, whole and with its sha256."""
        remote = {a.name: a for a in map(RemoteAsset.of, self.client.assets(int(release["id"])))}
        missing = []
        for local in self.files:
            there = remote.get(local.name)
            if there is None or there.state != "uploaded" or there.size != local.size:
                missing.append(local.name)
            elif there.sha256 is not None and there.sha256 != local.sha256:
                missing.append(f"{local.name} (another sha256)")
        if missing:
            raise StepError(
                f"{self.where} does not hold {', '.join(missing)} as uploaded",
                "run the same command again",
            )


def _asset_record(local: LocalAsset, there: RemoteAsset) -> dict[str, Any]:
    return {
        "name": local.name,
        "size": local.size,
        "sha256": local.sha256,
        "id": there.id,
        "url": there.url,
    }


def _normal(text: Any) -> str:
    lines = str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


GITHUB_RELEASE: Step[Prepared] = GitHubRelease()
