"""Who may release and signed tags, through the real ``invoke check-version`` on real git.

The rules live on the remote's default branch; these tests change them there and
tag other commits, to show that the tagged commit never decides who releases.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.repos import Repo, make_repo, run

TAG = "version/1.0.0"
MAINTAINERS = '[tool.release]\nmaintainers = ["alice", "bob@example.org"]\n'
MALLORY = {
    "GIT_COMMITTER_NAME": "Mallory",
    "GIT_COMMITTER_EMAIL": "mallory@example.org",
}
BOB = {"GIT_COMMITTER_NAME": "Bob", "GIT_COMMITTER_EMAIL": "bob@example.org"}


def actions(actor: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": actor}


def check(repo: Repo, tag: str = TAG, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = repo.invoke("check-version", "--tag", tag, env=env)
    return result.returncode, result.stderr


def tag_as(repo: Repo, identity: dict[str, str], name: str = TAG) -> None:
    """An annotated tag whose tagger is ``identity``, pushed."""
    run(["git", "tag", "-a", "-m", "release", name], repo.path, {**repo.env, **identity})
    repo.git("push", "-q", "origin", f"refs/tags/{name}")


@pytest.fixture
def guarded(tmp_path: Path) -> Repo:
    """main lists alice and bob@example.org as maintainers; the head of main is tagged 1.0.0."""
    repo = make_repo(tmp_path, source=None, files={"pyproject.toml": MAINTAINERS})
    repo.tag(TAG, annotated=False)
    return repo


def test_a_github_actor_on_the_list_may_release(guarded: Repo) -> None:
    code, stderr = check(guarded, env=actions("alice"))
    assert code == 0, stderr


def test_a_github_actor_off_the_list_is_refused_naming_who_and_where(guarded: Repo) -> None:
    code, stderr = check(guarded, env=actions("mallory"))
    assert code == 1
    assert (
        "error: mallory (GITHUB_ACTOR) may not release: not in tool.release.maintainers on "
        "origin/main (alice, bob@example.org)"
    ) in stderr


def test_the_tagger_of_an_annotated_tag_must_be_a_maintainer(guarded: Repo) -> None:
    tag_as(guarded, BOB, "version/1.0.1")
    tag_as(guarded, MALLORY, "version/1.0.2")
    code, stderr = check(guarded, "version/1.0.1")
    assert code == 0, stderr
    code, stderr = check(guarded, "version/1.0.2")
    assert code == 1
    assert ("Mallory <mallory@example.org> (the tagger of version/1.0.2) may not release") in stderr


def test_a_branch_that_adds_its_author_to_maintainers_is_still_refused(guarded: Repo) -> None:
    guarded.git("checkout", "-q", "-b", "release/1.x")
    guarded.write("pyproject.toml", MAINTAINERS.replace('"alice"', '"alice", "mallory"'))
    guarded.commit("make me a maintainer")
    guarded.push("release/1.x")
    tag_as(guarded, MALLORY, "version/1.1.0")
    code, stderr = check(guarded, "version/1.1.0")
    assert code == 1
    assert "(the tagger of version/1.1.0) may not release" in stderr
    code, stderr = check(guarded, "version/1.1.0", env=actions("mallory"))
    assert code == 1
    assert "mallory (GITHUB_ACTOR) may not release" in stderr


def test_the_list_is_read_from_the_remote_tip_after_a_fetch(guarded: Repo, tmp_path: Path) -> None:
    # Another maintainer adds mallory on main; this clone has not fetched it yet, and
    # the tagged commit (the old head of main) does not list mallory either.
    other = guarded.clone(tmp_path / "other")
    other.write("pyproject.toml", MAINTAINERS.replace('"alice"', '"alice", "mallory"'))
    other.commit("welcome mallory")
    other.push("main")
    code, stderr = check(guarded, env=actions("mallory"))
    assert code == 0, stderr
    # With --offline nothing is fetched: origin/main as last seen does not list mallory.
    fresh = other.clone(tmp_path / "fresh")
    other.write("pyproject.toml", MAINTAINERS)
    other.commit("mallory leaves")
    other.push("main")
    offline = fresh.invoke("check-version", "--tag", TAG, "--offline", env=actions("mallory"))
    assert offline.returncode == 0, offline.stderr
    online = fresh.invoke("check-version", "--tag", TAG, env=actions("mallory"))
    assert online.returncode == 1
    assert "mallory (GITHUB_ACTOR) may not release" in online.stderr


def test_without_a_remote_the_local_default_branch_is_read_with_a_notice(guarded: Repo) -> None:
    guarded.git("remote", "remove", "origin")
    code, stderr = check(guarded, env=actions("mallory"))
    assert code == 1
    assert "notice: there is no remote origin: tool.release.branches, maintainers" in stderr
    assert "not in tool.release.maintainers on main (alice, bob@example.org)" in stderr


def test_a_default_branch_key_on_the_default_branch_does_not_move_the_rules(guarded: Repo) -> None:
    # The remote's HEAD names the default branch; the key is only a fallback where nothing
    # names it, so main saying "trunk" still has its own rules read.
    guarded.write("pyproject.toml", MAINTAINERS + 'default-branch = "trunk"\n')
    guarded.commit("rules live on trunk")
    guarded.push("main")
    guarded.tag("version/1.0.1")
    code, stderr = check(guarded, "version/1.0.1", env=actions("alice"))
    assert code == 0, stderr
    code, stderr = check(guarded, "version/1.0.1", env=actions("mallory"))
    assert code == 1
    assert "not in tool.release.maintainers on origin/main (alice, bob@example.org)" in stderr


def test_a_refused_release_stops_at_check_version_and_changes_nothing(
    guarded: Repo, tmp_path: Path
) -> None:
    outputs = tmp_path / "github_output"
    outputs.touch()
    before = guarded.git("ls-remote", "origin")
    result = guarded.invoke(
        "check-version",
        "--tag",
        TAG,
        "--github-output",
        env={**actions("mallory"), "GITHUB_OUTPUT": str(outputs)},
    )
    assert result.returncode == 1
    assert "::error::mallory (GITHUB_ACTOR) may not release" in result.stdout
    assert outputs.read_text() == ""  # the jobs after check-version get nothing to run with
    assert guarded.git("ls-remote", "origin") == before
    assert guarded.git("status", "--porcelain") == ""


def test_with_maintainers_set_a_release_by_someone_else_stops_before_any_side_effect(
    demo_repo: Repo,
) -> None:
    text = (demo_repo.path / "pyproject.toml").read_text()
    demo_repo.write("pyproject.toml", text.replace("[tool.release]\n", MAINTAINERS, 1))
    demo_repo.commit("only alice and bob release")
    demo_repo.push("main")
    demo_repo.tag(TAG)
    before = demo_repo.git("ls-remote", "origin")
    result = demo_repo.invoke("release", "--tag", TAG, "--yes", env=actions("mallory"))
    assert result.returncode == 1
    assert "error: mallory (GITHUB_ACTOR) may not release" in result.stderr
    assert demo_repo.git("ls-remote", "origin") == before  # no bump commit, no state notes
    assert demo_repo.git("status", "--porcelain") == ""
    assert not (demo_repo.path / ".git" / "release-state").exists()


# -- signed tags ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two throwaway SSH keys: ``trusted`` is listed in allowed-signers, ``stranger`` is not."""
    folder = tmp_path_factory.mktemp("keys")
    found = {}
    for name in ("trusted", "stranger"):
        key = folder / name
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], folder)
        found[name] = key
    yield found


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Repo:
    """main requires signed tags and lists the trusted key; tags are made by the tests."""
    public = keys["trusted"].with_suffix(".pub").read_text().strip()
    repo = make_repo(
        tmp_path_factory.mktemp("signing"),
        source=None,
        files={
            "pyproject.toml": (
                "[tool.release]\nrequire-signed-tags = true\n"
                'allowed-signers = ".github/allowed_signers"\n'
            ),
            ".github/allowed_signers": f'tester@example.org namespaces="git" {public}\n',
        },
    )
    repo.git("config", "gpg.format", "ssh")
    return repo


def signed_tag(repo: Repo, name: str, key: Path) -> None:
    repo.git("-c", f"user.signingkey={key}", "tag", "-s", "-m", "release", name)


def test_a_tag_signed_with_an_allowed_ssh_key_passes(signing: Repo, keys: dict[str, Path]) -> None:
    signed_tag(signing, "version/2.0.0", keys["trusted"])
    code, stderr = check(signing, "version/2.0.0")
    assert code == 0, stderr


def test_a_tag_signed_with_a_key_not_on_the_default_branch_is_refused(
    signing: Repo, keys: dict[str, Path]
) -> None:
    signed_tag(signing, "version/2.0.1", keys["stranger"])
    code, stderr = check(signing, "version/2.0.1")
    assert code == 1
    assert "git verify-tag refused version/2.0.1" in stderr
    assert "a key listed in .github/allowed_signers on origin/main" in stderr


def test_an_unsigned_annotated_tag_is_refused_with_how_to_sign(signing: Repo) -> None:
    signing.tag("version/2.0.2", push=False)
    code, stderr = check(signing, "version/2.0.2")
    assert code == 1
    assert (
        "version/2.0.2 is not signed, but tool.release.require-signed-tags on origin/main" in stderr
    )
    assert "git tag -s" in stderr


def test_a_lightweight_tag_is_refused_when_signed_tags_are_required(signing: Repo) -> None:
    signing.tag("version/2.0.3", annotated=False, push=False)
    code, stderr = check(signing, "version/2.0.3")
    assert code == 1
    assert "version/2.0.3 is a lightweight tag, but tool.release.require-signed-tags" in stderr


# -- signed tags, GPG ----------------------------------------------------------


@pytest.fixture(scope="module")
def gpg_homes() -> Iterator[dict[str, tuple[Path, str]]]:
    """Two GPG keyrings, each with its own key: ``trusted`` is the runner's, ``stranger`` not.

    Short folders under /tmp: gpg-agent's socket path must stay within the kernel's limit.
    """
    homes: dict[str, tuple[Path, str]] = {}
    try:
        for name in ("trusted", "stranger"):
            home = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))
            home.chmod(0o700)
            env = {"GNUPGHOME": str(home)}
            uid = f"{name} <{name}@example.org>"
            gpg = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", ""]
            run([*gpg, "--quick-gen-key", uid, "ed25519", "sign", "never"], home, env)
            listing = run(["gpg", "--with-colons", "--list-secret-keys"], home, env).stdout
            fingerprint = next(
                line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
            )
            homes[name] = (home, fingerprint)
        yield homes
    finally:
        for home, _ in homes.values():
            run(["gpgconf", "--kill", "gpg-agent"], home, {"GNUPGHOME": str(home)}, check=False)
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def gpg_signing(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """main requires signed tags and names no allowed-signers file: the keyring decides."""
    return make_repo(
        tmp_path_factory.mktemp("gpg-signing"),
        source=None,
        files={"pyproject.toml": "[tool.release]\nrequire-signed-tags = true\n"},
    )


def gpg_signed_tag(repo: Repo, name: str, home: Path, fingerprint: str) -> None:
    run(
        ["git", "-c", f"user.signingkey={fingerprint}", "tag", "-s", "-m", "release", name],
        repo.path,
        {**repo.env, "GNUPGHOME": str(home)},
    )


def test_a_tag_signed_with_a_gpg_key_of_the_runners_keyring_passes(
    gpg_signing: Repo, gpg_homes: dict[str, tuple[Path, str]]
) -> None:
    home, fingerprint = gpg_homes["trusted"]
    gpg_signed_tag(gpg_signing, "version/3.0.0", home, fingerprint)
    code, stderr = check(gpg_signing, "version/3.0.0", env={"GNUPGHOME": str(home)})
    assert code == 0, stderr


def test_a_tag_signed_with_a_gpg_key_the_runner_does_not_know_is_refused(
    gpg_signing: Repo, gpg_homes: dict[str, tuple[Path, str]]
) -> None:
    stranger_home, stranger = gpg_homes["stranger"]
    gpg_signed_tag(gpg_signing, "version/3.0.1", stranger_home, stranger)
    code, stderr = check(
        gpg_signing, "version/3.0.1", env={"GNUPGHOME": str(gpg_homes["trusted"][0])}
    )
    assert code == 1
    assert "git verify-tag refused version/3.0.1" in stderr
    assert "a key this machine's GPG keyring trusts" in stderr
