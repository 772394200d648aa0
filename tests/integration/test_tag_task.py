"""`invoke tag --version X.Y.Z` on a real bare remote: one annotated tag pushed, or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repos import Repo, make_repo, run

CONFIG = '[tool.release]\nbranches = ["main", "release/*"]\n'


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path, source=None, files={"pyproject.toml": CONFIG})


def remote_refs(repo: Repo) -> set[str]:
    return set(repo.git("ls-remote", str(repo.remote)).splitlines())


def refused(repo: Repo, *args: str, code: int = 1) -> str:
    """Run ``invoke tag`` expecting a refusal; nothing may be tagged or pushed."""
    local, remote = repo.git("tag", "--list"), remote_refs(repo)
    result = repo.invoke("tag", *args)
    assert result.returncode == code, result.stderr
    assert repo.git("tag", "--list") == local
    assert remote_refs(repo) == remote
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_tag_creates_and_pushes_exactly_one_annotated_tag(repo: Repo) -> None:
    repo.tag("version/0.9.0")  # an older release: must not be pushed again or touched
    repo.git("tag", "-a", "-m", "local only", "scratch")  # a local tag that must stay local
    before = remote_refs(repo)
    result = repo.invoke("tag", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    head = repo.git("rev-parse", "HEAD")
    tag_object = repo.git("rev-parse", "refs/tags/version/1.0.0")
    assert remote_refs(repo) - before == {
        f"{tag_object}\trefs/tags/version/1.0.0",
        f"{head}\trefs/tags/version/1.0.0^{{}}",
    }
    assert before <= remote_refs(repo)
    assert repo.git("cat-file", "-t", "version/1.0.0") == "tag"
    assert "tagger Release Tester <tester@example.org>" in repo.git(
        "cat-file", "tag", "version/1.0.0"
    )
    assert "created the annotated tag version/1.0.0" in result.stderr
    assert "CI now runs the release" in result.stderr


def test_dry_run_shows_the_tag_and_changes_nothing(repo: Repo) -> None:
    before = remote_refs(repo)
    result = repo.invoke("tag", "--version", "1.0.0", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would create the annotated tag version/1.0.0" in result.stderr
    assert "git push origin refs/tags/version/1.0.0" in result.stderr
    assert repo.git("tag", "--list") == ""
    assert remote_refs(repo) == before


def test_a_malformed_version_is_a_usage_error(repo: Repo) -> None:
    assert "drop the v: write 1.0.0" in refused(repo, "--version", "v1.0.0", code=2)


def test_a_dirty_tree_is_refused(repo: Repo) -> None:
    repo.write("pyproject.toml", CONFIG + "# edited\n")
    assert "uncommitted changes (pyproject.toml)" in refused(repo, "--version", "1.0.0")


def test_a_branch_behind_its_remote_is_refused_saying_by_how_much(
    repo: Repo, tmp_path: Path
) -> None:
    other = repo.clone(tmp_path / "other")
    for n in range(2):
        other.write("notes.txt", f"{n}\n")
        other.commit(f"note {n}")
    other.push("main")
    error = refused(repo, "--version", "1.0.0")
    assert "main is 2 commits behind origin/main: update it (git pull --ff-only)" in error


def test_a_branch_ahead_of_its_remote_is_refused(repo: Repo) -> None:
    repo.write("notes.txt", "unpushed\n")
    repo.commit("unpushed")
    assert "main is 1 commit ahead of origin/main: push it first" in refused(
        repo, "--version", "1.0.0"
    )


def test_a_branch_that_is_not_allowed_is_refused(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature/x")
    repo.push("feature/x")
    error = refused(repo, "--version", "1.0.0")
    assert "feature/x is not a release branch (tool.release.branches: main, release/*)" in error


def test_an_existing_tag_is_refused_also_when_only_the_remote_has_it(
    repo: Repo, tmp_path: Path
) -> None:
    other = repo.clone(tmp_path / "other")
    other.tag("version/1.0.0")
    error = refused(repo, "--version", "1.0.0")
    assert "version/1.0.0 already exists on origin" in error


def test_an_existing_tag_in_the_other_spelling_is_refused(repo: Repo) -> None:
    repo.tag("version/1.0.0")
    repo.tag("version/1.0.0-post1", push=False)
    error = refused(repo, "--version", "1.0.0.post1")
    assert "version/1.0.0-post1 already exists in this clone" in error


def test_a_lower_version_needs_backport_on_a_release_branch(repo: Repo) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.write("notes.txt", "1.1\n")
    repo.commit("1.1")
    repo.push("main")
    repo.tag("version/1.1.0")
    error = refused(repo, "--version", "1.0.1")
    assert "1.0.1 is lower than 1.1.0, the highest release of 1.x" in error
    assert "--backport tags from a release/* branch, not main" in refused(
        repo, "--version", "1.0.1", "--backport"
    )
    repo.git("checkout", "-q", "-b", "release/1.0", first)
    repo.push("release/1.0")
    assert "is lower than 1.1.0" in refused(repo, "--version", "1.0.1")
    result = repo.invoke("tag", "--version", "1.0.1", "--backport")
    assert result.returncode == 0, result.stderr
    assert repo.git("rev-parse", "version/1.0.1^{commit}") == first
    assert "refs/tags/version/1.0.1" in repo.git("ls-remote", "origin", "refs/tags/version/1.0.1")


def test_require_signed_tags_on_main_makes_tag_sign_and_check_version_accept_it(
    tmp_path: Path,
) -> None:
    key = tmp_path / "key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", str(key)], tmp_path)
    public = key.with_suffix(".pub").read_text().strip()
    repo = make_repo(
        tmp_path,
        source=None,
        files={
            "pyproject.toml": (
                '[tool.release]\nrequire-signed-tags = true\nallowed-signers = "allowed_signers"\n'
            ),
            "allowed_signers": f"tester@example.org {public}\n",
        },
    )
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(key))
    result = repo.invoke("tag", "--version", "1.0.0")  # no --sign: the rule on main asks for it
    assert result.returncode == 0, result.stderr
    assert "created the signed annotated tag version/1.0.0" in result.stderr
    assert "-----BEGIN SSH SIGNATURE-----" in repo.git("cat-file", "tag", "version/1.0.0")
    check = repo.invoke("check-version", "--tag", "version/1.0.0")
    assert check.returncode == 0, check.stderr
