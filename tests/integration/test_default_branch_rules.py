"""Where the rules are read, and a moved tag: the real ``invoke`` on real git with a bare remote.

Nothing in the tagged commit chooses the rules: they are read from the remote's default
branch, which is named by the remote's HEAD (or, in GitHub Actions, the event payload),
never by the tagged commit's ``default-branch``. In GitHub Actions, the run of a tag's
push releases the commit that push named (``GITHUB_SHA``) or nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import tomlkit

from release.pipeline.preflight import resolve
from release.run.context import Options
from tests.repos import Repo, clean_env, make_repo, run

MAINTAINERS = '[tool.release]\nmaintainers = ["alice", "bob@example.org"]\n'
REFUSED_ON_MAIN = "not in tool.release.maintainers on origin/main (alice, bob@example.org)"


def actions(actor: str, **extra: str) -> dict[str, str]:
    return {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": actor, **extra}


def guarded(tmp_path: Path) -> Repo:
    """main lists alice and bob@example.org as maintainers."""
    return make_repo(tmp_path, source=None, files={"pyproject.toml": MAINTAINERS})


def remote_refs(repo: Repo) -> str:
    return repo.git("ls-remote", str(repo.remote))


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def branch_with(repo: Repo, branch: str, pyproject: str, tag: str) -> None:
    """A branch whose commit says ``pyproject``, pushed, with ``tag`` on it, pushed."""
    repo.git("checkout", "-q", "-b", branch)
    repo.write("pyproject.toml", pyproject)
    repo.commit(f"{branch}'s own rules")
    repo.push(branch)
    repo.tag(tag, annotated=False)


def test_a_branch_that_names_itself_the_default_branch_grants_itself_nothing(
    tmp_path: Path,
) -> None:
    repo = guarded(tmp_path)
    evil = (
        '[tool.release]\nmaintainers = ["mallory"]\nbranches = ["evil"]\ndefault-branch = "evil"\n'
    )
    branch_with(repo, "evil", evil, "version/1.1.0")
    before = remote_refs(repo)
    # Run from the evil checkout: its working tree says default-branch = "evil" too.
    result = repo.invoke("check-version", "--tag", "version/1.1.0", env=actions("mallory"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    found = errors(result.stderr)
    assert any(f"mallory (GITHUB_ACTOR) may not release: {REFUSED_ON_MAIN}" in e for e in found)
    assert any(
        "is not on an allowed branch (main, release/*), as tool.release.branches on origin/main"
        in e
        for e in found
    ), found
    assert remote_refs(repo) == before


def test_invoke_tag_reads_the_release_branches_from_the_default_branch(tmp_path: Path) -> None:
    repo = guarded(tmp_path)
    repo.git("checkout", "-q", "-b", "evil")
    repo.write("pyproject.toml", MAINTAINERS + 'branches = ["evil"]\ndefault-branch = "evil"\n')
    repo.commit("evil may release")
    repo.push("evil")
    before = remote_refs(repo)
    result = repo.invoke("tag", "--version", "1.1.0")
    assert result.returncode == 1, result.stderr
    (line,) = errors(result.stderr)
    assert "evil is not a release branch (tool.release.branches: main, release/*)" in line
    assert repo.git("tag", "--list") == ""
    assert remote_refs(repo) == before


def test_a_default_branch_that_does_not_exist_is_refused_not_a_notice(tmp_path: Path) -> None:
    repo = guarded(tmp_path)
    branch_with(
        repo, "release/1.x", '[tool.release]\ndefault-branch = "does-not-exist"\n', "version/1.1.0"
    )
    # The remote's HEAD names main: the tagged commit's key changes nothing.
    online = repo.invoke("check-version", "--tag", "version/1.1.0", env=actions("mallory"))
    assert online.returncode == 1, online.stderr
    assert f"mallory (GITHUB_ACTOR) may not release: {REFUSED_ON_MAIN}" in online.stderr
    # Where nothing names the default branch the key does, and a branch that cannot be
    # read refuses the release: offline without origin/HEAD, ...
    offline = repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--offline", env=actions("mallory")
    )
    assert offline.returncode == 1, offline.stderr
    (line,) = errors(offline.stderr)
    assert line.startswith("error: this clone has no origin/does-not-exist to read ")
    assert "fetch it (git fetch origin does-not-exist" in line
    # ... or online with a remote whose HEAD names no branch.
    run(["git", "symbolic-ref", "HEAD", "refs/heads/unborn"], repo.remote)
    headless = repo.invoke("check-version", "--tag", "version/1.1.0", env=actions("mallory"))
    assert headless.returncode == 1, headless.stderr
    (line,) = errors(headless.stderr)
    assert line.startswith(
        "error: origin has no branch does-not-exist (named by tool.release.default-branch of "
        "the working tree)"
    )
    assert "origin's HEAD names no branch" in headless.stderr  # the notice says why


def test_in_github_actions_the_event_payload_names_the_default_branch(tmp_path: Path) -> None:
    repo = guarded(tmp_path)
    # trunk, on the remote, lists carol only; the remote's HEAD still names main.
    repo.git("checkout", "-q", "-b", "trunk")
    repo.write("pyproject.toml", '[tool.release]\nmaintainers = ["carol"]\n')
    repo.commit("carol maintains trunk")
    repo.push("trunk")
    repo.git("checkout", "-q", "main")
    repo.tag("version/1.0.0", annotated=False)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "trunk"}}), encoding="utf-8")
    payload = {"GITHUB_EVENT_PATH": str(event)}
    refused = repo.invoke(
        "check-version", "--tag", "version/1.0.0", env=actions("alice", **payload)
    )
    assert refused.returncode == 1, refused.stderr
    assert (
        "alice (GITHUB_ACTOR) may not release: not in tool.release.maintainers on origin/trunk "
        "(carol)"
    ) in refused.stderr
    allowed = repo.invoke(
        "check-version", "--tag", "version/1.0.0", env=actions("carol", **payload)
    )
    assert allowed.returncode == 0, allowed.stderr
    # Without a payload the remote's HEAD names main; outside GitHub Actions none is read.
    assert (
        repo.invoke("check-version", "--tag", "version/1.0.0", env=actions("alice")).returncode == 0
    )
    outside = repo.invoke("check-version", "--tag", "version/1.0.0", env=payload)
    assert outside.returncode == 1  # nobody identifies the releaser: main's list refuses
    assert "tool.release.maintainers on origin/main" in outside.stderr
    assert "origin/trunk" not in outside.stderr


def test_a_tag_that_widens_an_images_channels_gets_the_default_branchs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    path = repo.path / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    images = document["tool"]["release"]["images"]  # type: ignore[index]
    images[0]["channels"] = ["minor"]  # type: ignore[index]
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    repo.commit("demo/node moves its minor channel only")
    repo.push()
    # The tag's commit widens demo/node again, adds extra tags, and adds an image.
    repo.git("checkout", "-q", "-b", "release/1.x")
    images[0]["channels"] = ["codename", "minor", "latest"]  # type: ignore[index]
    images[0]["extra-tags"] = ["stable", "{version}-signed"]  # type: ignore[index]
    images[1]["extra-tags"] = ["{codename}-live", "edge"]  # type: ignore[index]
    images.append(  # type: ignore[union-attr]
        {"name": "demo/extra", "dockerfile": "docker/node.Dockerfile", "extra-tags": ["stable"]}
    )
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    repo.commit("widen the channels")
    repo.push("release/1.x")
    repo.tag("version/1.1.0")
    repo.git("remote", "set-head", "origin", "main")  # as a clone has it
    result = repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--json", "--offline", "--skip-credentials"
    )
    assert result.returncode == 0, result.stderr
    tags = json.loads(result.stdout)["image_tags"]
    assert tags == {
        "demo/node": ["1.1.0"],
        "demo/server": ["1.1.0"],
        "demo/agent": ["1.1.0"],
        "demo/extra": ["1.1.0"],
    }
    assert (
        "notice: image demo/extra is not in tool.release.images on origin/main: it moves the "
        "default channels (codename, minor, latest) and no extra tags"
    ) in result.stderr
    # The channels the push-image step will move are main's.
    ctx = resolve("version/1.1.0", Options(offline=True, env=clean_env()), start=repo.path)
    moves = {i.name: (i.channels, i.extra_tags) for i in ctx.config.images}
    assert moves == {
        "demo/node": (("minor",), ()),
        "demo/server": (("codename", "minor", "latest"), ("{codename}-live",)),
        "demo/agent": (("codename", "minor", "latest"), ()),
        "demo/extra": (("codename", "minor", "latest"), ()),
    }


def test_a_moved_tag_is_refused_in_github_actions_naming_both_commits(tmp_path: Path) -> None:
    repo = guarded(tmp_path)
    pushed = repo.git("rev-parse", "HEAD")
    repo.tag("version/1.0.0")
    repo.write("README.md", "changed after the tag was pushed\n")
    moved = repo.commit("after the tag")
    repo.push()
    repo.git("tag", "-f", "-a", "-m", "moved", "version/1.0.0", moved)
    repo.git("push", "-q", "-f", "origin", "refs/tags/version/1.0.0")
    outputs = tmp_path / "github_output"
    outputs.touch()
    env = actions(
        "alice",
        GITHUB_REF="refs/tags/version/1.0.0",
        GITHUB_SHA=pushed,
        GITHUB_OUTPUT=str(outputs),
    )
    before = remote_refs(repo)
    result = repo.invoke("check-version", "--tag", "version/1.0.0", "--github-output", env=env)
    assert result.returncode == 1, result.stderr
    (line,) = errors(result.stderr)
    assert f"version/1.0.0 points to commit {moved}" in line
    assert f"at commit {pushed} (GITHUB_SHA)" in line
    assert "a pushed version tag never moves" in line
    assert outputs.read_text() == ""
    assert remote_refs(repo) == before
    # The run of the push that made the tag where it is now goes ahead.
    again = repo.invoke("check-version", "--tag", "version/1.0.0", env={**env, "GITHUB_SHA": moved})
    assert again.returncode == 0, again.stderr


def test_a_tag_cannot_send_credentials_to_a_host_of_its_choice(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    repo.git("checkout", "-q", "-b", "release/1.x")
    path = repo.path / "pyproject.toml"
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    release = document["tool"]["release"]  # type: ignore[index]
    release["pypi"]["repository-url"] = "https://evil.example/legacy/"  # type: ignore[index]
    release["pypi"]["index-url"] = "https://evil.example/simple/"  # type: ignore[index]
    release["registry"]["host"] = "registry.evil.example"  # type: ignore[index]
    release["github"] = {"repository": "victim/other"}
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    repo.commit("upload elsewhere")
    repo.push("release/1.x")
    repo.tag("version/1.1.0")
    repo.git("remote", "set-head", "origin", "main")
    ctx = resolve("version/1.1.0", Options(offline=True, env=clean_env()), start=repo.path)
    main = resolve_main_config(repo)
    assert ctx.config.pypi == main.pypi
    assert ctx.config.registry == main.registry
    assert ctx.config.github is not None and ctx.config.github.repository is None
    result = repo.invoke(
        "check-version", "--tag", "version/1.1.0", "--offline", "--skip-credentials"
    )
    assert "evil.example" not in result.stdout + result.stderr


def resolve_main_config(repo: Repo):
    from release.core.config import parse_config

    text = repo.git("show", "origin/main:pyproject.toml")
    return parse_config(text, None, clean_env())


def test_a_detached_checkout_of_the_tag_does_not_choose_the_remote_of_the_rules(
    tmp_path: Path,
) -> None:
    repo = guarded(tmp_path)
    # alice's fork, added for review, whose main lets anyone release from anywhere.
    fork = make_repo(
        tmp_path / "fork",
        source=None,
        files={"pyproject.toml": ('[tool.release]\nbranches = ["*"]\n')},
    )
    repo.git("remote", "add", "alice", str(fork.remote))
    repo.git("fetch", "-q", "alice")
    repo.git("remote", "set-head", "alice", "main")
    branch_with(repo, "evil", MAINTAINERS + 'remote = "alice"\nbranches = ["*"]\n', "version/1.1.0")
    repo.git("checkout", "-q", "--detach", "version/1.1.0")
    # Not in GitHub Actions: the person releasing is this clone's git user, on no list.
    result = repo.invoke("check-version", "--tag", "version/1.1.0")
    assert result.returncode == 1, result.stderr
    assert "are not trusted to say where the release rules are" in result.stderr
    found = errors(result.stderr)
    assert any("tool.release.branches on origin/main" in e for e in found), found
    assert any("tool.release.maintainers on origin/main" in e for e in found), found
    assert "alice/main" not in result.stderr
