"""``build --output`` in one job, ``upload --from`` and ``deploy-ui --from`` in others.

The demo is built once (``build --output``, as the workflow's build job does); every publishing
test runs in a fresh clone of the remote (a fresh runner: no ``.git/release-dist``), against
a real pypiserver and the Kudu contract server, with ``RELEASE_BUILD_MANIFEST`` set as the
workflow sets it from the build job's output. A build output that changed on its way (a file,
an extra file, a link, the manifest) is refused before anything is uploaded or deployed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devservices.azure import KuduServer
from devservices.pypi import PypiServer
from tests.repos import Repo, make_repo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed"),
]

TAG = "version/4.2.0"
VERSION = "4.2.0"
DISTS = (
    "demo_common-4.2.0-py3-none-any.whl",
    "demo_common-4.2.0.tar.gz",
    "demo_node-4.2.0-py3-none-any.whl",
    "demo_node-4.2.0.tar.gz",
)
UI_ZIP = "demo-ui-4.2.0.zip"
INDEX_PASSWORD = "handoff-index-secret-Qm3v8Lw"
KUDU_PASSWORD = "handoff-kudu-secret-Zr5n2Tx"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class BuildOutput:
    folder: Path
    digest: str  # the manifest's sha256, as the build job published it
    result: subprocess.CompletedProcess[str]
    github_output: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    repo = make_repo(tmp_path_factory.mktemp("handoff-demo"))
    repo.tag(TAG)
    return repo


@pytest.fixture(scope="module")
def built(demo: Repo, tmp_path_factory: pytest.TempPathFactory) -> BuildOutput:
    """The build job: ``build --output``, without any credential."""
    root = tmp_path_factory.mktemp("build-job")
    output = root / "github-output"
    result = demo.invoke(
        "build", "--tag", TAG, "--output", str(root / "release-build"),
        env={"GITHUB_OUTPUT": str(output)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = output.read_text()
    digest = text.strip().removeprefix("manifest-sha256=")
    return BuildOutput(root / "release-build", digest, result, text)


@pytest.fixture
def handed(built: BuildOutput, tmp_path: Path) -> Path:
    """The build output as downloaded by a publishing job (a copy each test may change)."""
    folder = tmp_path / "downloaded"
    shutil.copytree(built.folder, folder)
    return folder


@pytest.fixture
def job(demo: Repo, tmp_path: Path) -> Repo:
    """A publishing job's checkout: a fresh clone of the remote, tags included."""
    return demo.clone(tmp_path / "job")


@pytest.fixture
def index(tmp_path: Path) -> Iterator[PypiServer]:
    with PypiServer(tmp_path / "index", "releaser", INDEX_PASSWORD) as server:
        yield server


@pytest.fixture
def kudu_site() -> Iterator[KuduServer]:
    with KuduServer("$demo-ui", KUDU_PASSWORD) as server:
        yield server


def remote_notes(repo: Repo, step: str) -> dict:
    result = subprocess.run(
        ["git", "--git-dir", str(repo.remote), "notes", "--ref", f"release/{step}", "show",
         repo.git("rev-parse", f"{TAG}^{{commit}}")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return json.loads(result.stdout) if result.returncode == 0 else {}


def no_secret(result: subprocess.CompletedProcess[str], repo: Repo) -> None:
    for secret in (INDEX_PASSWORD, KUDU_PASSWORD):
        assert secret not in result.stdout + result.stderr
        for path in (repo.path / ".git").rglob("*.json"):
            assert secret not in path.read_text(errors="replace")


# -- the build job -----------------------------------------------------------------------


def test_build_output_writes_every_file_and_a_manifest_of_their_sizes_and_hashes(
    built: BuildOutput, demo: Repo
) -> None:
    folder = built.folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*DISTS, UI_ZIP, "release-build.json"]
    )
    manifest = folder / "release-build.json"
    data = json.loads(manifest.read_text())
    assert (data["tag"], data["version"]) == (TAG, VERSION)
    assert data["commit"] == demo.git("rev-parse", f"{TAG}^{{commit}}")
    listed = {f["name"]: f for f in data["files"]}
    assert sorted(listed) == sorted([*DISTS, UI_ZIP])
    for name, entry in listed.items():
        assert entry["size"] == (folder / name).stat().st_size
        assert entry["sha256"] == sha256(folder / name)
    assert listed[UI_ZIP]["kind"] == "ui"
    assert listed["demo_node-4.2.0.tar.gz"]["kind"] == "sdist"
    assert listed["demo_node-4.2.0.tar.gz"]["package"] == "demo-node"
    with zipfile.ZipFile(folder / UI_ZIP) as archive:
        assert json.loads(archive.read("version.json")) == {"version": VERSION}
    # its sha256 is published as the job output, and printed
    assert built.github_output == f"manifest-sha256={sha256(manifest)}\n"
    assert sha256(manifest) in built.result.stderr
    # the build job records nothing: no state note, no local state
    assert remote_notes(demo, "build") == {}
    assert not (demo.path / ".git" / "release-state").exists()
    assert demo.git("status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (("version/2.7.0rc1",), ["demo-ui-2.7.0-rc.1.zip", "demo_common-2.7.0rc1-py3-none-any.whl",
                                 "demo_common-2.7.0rc1.tar.gz", "demo_node-2.7.0rc1-py3-none-any.whl",
                                 "demo_node-2.7.0rc1.tar.gz"]),
        (("version/2.7.0", "version/2.7.0-post1"), ["demo-ui-2.7.0-post1.zip"]),
    ],
    ids=["pre-release: packages and UI", "post release: the UI only"],
)  # fmt: skip
def test_build_output_of_a_pre_and_a_post_release(
    demo: Repo, tmp_path: Path, tags: tuple[str, ...], expected: list[str]
) -> None:
    clone = demo.clone(tmp_path / "clone")
    for tag in tags:
        clone.tag(tag, push=False)

    result = clone.invoke("build", "--tag", tags[-1], "--output", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "release-build.json").read_text())
    assert sorted(f["name"] for f in data["files"]) == expected
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [*expected, "release-build.json"]


def test_build_output_refuses_a_folder_that_is_not_empty_and_writes_nothing(
    demo: Repo, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "stale.whl").write_text("from an earlier build")

    result = demo.invoke("build", "--tag", TAG, "--output", str(folder))

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "exists and is not an empty folder" in errors[0]
    assert "give a new or empty folder" in errors[0]
    assert [p.name for p in folder.iterdir()] == ["stale.whl"]
    assert "Traceback" not in result.stderr


def test_the_ui_build_sees_neither_the_git_token_nor_any_other_credential(
    tmp_path: Path,
) -> None:
    build_js = (Path(__file__).parents[2] / "examples" / "demo" / "ui" / "build.js").read_text()
    dumping = build_js + (
        'fs.writeFileSync(path.join(out, "env.json"), JSON.stringify(process.env) + "\\n");\n'
    )
    repo = make_repo(tmp_path / "repo", files={"ui/build.js": dumping})
    repo.tag(TAG)
    held = {
        "GITHUB_TOKEN": "ghs_jobTokenValue0123456789",
        "GH_TOKEN": "gho_otherTokenValue0123456789",
        "ACTIONS_RUNTIME_TOKEN": "runtimeTokenValue0123456789",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidcRequestToken0123456789",
        "RELEASE_REGISTRY_USERNAME": "registry-user-0123456789",
    }

    result = repo.invoke(
        "build", "--tag", TAG, "--output", str(tmp_path / "out"),
        env={**held, "GITHUB_ACTIONS": "true"},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "out" / UI_ZIP) as archive:
        seen = json.loads(archive.read("env.json"))
    assert "PATH" in seen  # the dump is the build's environment
    assert sorted(set(held) & set(seen)) == []
    assert not any(value in json.dumps(seen) for value in held.values())


# -- the publishing jobs ------------------------------------------------------------------


def test_upload_from_uploads_exactly_the_handed_files_and_builds_nothing(
    built: BuildOutput, handed: Path, job: Repo, index: PypiServer
) -> None:
    result = job.invoke(
        "upload", "--tag", TAG, "--from", str(handed),
        env={**index.env(), "RELEASE_BUILD_MANIFEST": built.digest},
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"upload: done: uploaded 4 file(s) of {VERSION}" in result.stderr
    on_index = {p.name: sha256(p) for p in index.packages_dir.iterdir()}
    assert on_index == {name: sha256(handed / name) for name in DISTS}
    # nothing was built: the build prerequisite did not run, no build backend, no smoke test
    assert not (job.path / ".git" / "release-dist").exists()
    assert "smoke test" not in result.stderr and "building" not in result.stderr
    assert f"manifest sha256 {built.digest}" in result.stderr
    record = remote_notes(job, "upload")[VERSION]
    assert record["build"]["manifest_sha256"] == built.digest
    assert sorted(f["name"] for f in record["build"]["files"]) == sorted([*DISTS, UI_ZIP])
    no_secret(result, job)


def test_deploy_ui_from_deploys_the_handed_zip_and_runs_no_npm(
    built: BuildOutput, handed: Path, job: Repo, kudu_site: KuduServer
) -> None:
    result = job.invoke(
        "deploy-ui", "--tag", TAG, "--from", str(handed),
        env={**kudu_site.env(), "RELEASE_BUILD_MANIFEST": built.digest},
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(kudu_site.deployments) == 1
    with zipfile.ZipFile(handed / UI_ZIP) as archive:
        zipped = {name: archive.read(name) for name in archive.namelist()}
    assert kudu_site.last.files() == zipped
    assert "$ npm" not in result.stderr and "built demo UI" not in result.stderr
    record = remote_notes(job, "deploy-ui")[VERSION]
    assert record["status"] == "succeeded"
    assert record["sha256"] == sha256(handed / UI_ZIP)
    assert record["build"]["manifest_sha256"] == built.digest
    no_secret(result, job)


def test_a_pre_release_from_a_build_output_is_not_deployed_and_not_built(
    demo: Repo, tmp_path: Path, kudu_site: KuduServer
) -> None:
    clone = demo.clone(tmp_path / "clone")
    clone.tag("version/2.8.0rc1", push=False)
    made = clone.invoke(
        "build", "--tag", "version/2.8.0rc1", "--output", str(tmp_path / "out"),
        env={"GITHUB_OUTPUT": str(tmp_path / "gh")},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    digest = (tmp_path / "gh").read_text().strip().removeprefix("manifest-sha256=")

    result = clone.invoke(
        "deploy-ui", "--tag", "version/2.8.0rc1", "--from", str(tmp_path / "out"),
        env={**kudu_site.env(), "RELEASE_BUILD_MANIFEST": digest},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "handed over ui 2.8.0-rc.1" in result.stderr
    assert "not deployed: pre-releases are built, not deployed" in result.stderr
    assert "$ npm" not in result.stderr
    assert kudu_site.requests == []


# -- what --from refuses -------------------------------------------------------------------


def _changed_wheel(folder: Path) -> str:
    with (folder / "demo_node-4.2.0-py3-none-any.whl").open("ab") as handle:
        handle.write(b"\0")
    return "demo_node-4.2.0-py3-none-any.whl does not match the manifest"


def _changed_zip(folder: Path) -> str:
    (folder / UI_ZIP).write_bytes((folder / UI_ZIP).read_bytes()[:-1] + b"\1")
    return f"{UI_ZIP} does not match the manifest"


def _extra_file(folder: Path) -> str:
    (folder / "evil-0.1-py3-none-any.whl").write_bytes(b"PK")
    return "the file evil-0.1-py3-none-any.whl is not in the manifest"


def _linked_file(folder: Path) -> str:
    # a link to an identical copy: the bytes match, the link does not
    elsewhere = folder.parent / "elsewhere.tar.gz"
    shutil.move(folder / "demo_common-4.2.0.tar.gz", elsewhere)
    (folder / "demo_common-4.2.0.tar.gz").symlink_to(elsewhere)
    return "demo_common-4.2.0.tar.gz is a symbolic link"


def _extra_link(folder: Path) -> str:
    (folder / "environ").symlink_to("/proc/self/environ")
    return "environ is a symbolic link"


def _rewritten_manifest(folder: Path) -> str:
    """The attacker changes a file and lists its new hash: the manifest's own hash differs."""
    wheel = folder / "demo_node-4.2.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    manifest = folder / "release-build.json"
    data = json.loads(manifest.read_text())
    for entry in data["files"]:
        if entry["name"] == wheel.name:
            entry["size"], entry["sha256"] = wheel.stat().st_size, sha256(wheel)
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return "is not the manifest the build job published"


TAMPERED: dict[str, Callable[[Path], str]] = {
    "a changed wheel": _changed_wheel,
    "a changed UI zip": _changed_zip,
    "an extra file": _extra_file,
    "a listed file replaced by a link": _linked_file,
    "an extra link": _extra_link,
    "a rewritten manifest": _rewritten_manifest,
}


def remote_refs(repo: Repo) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo.remote), "for-each-ref"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def refused_without_a_trace(
    result: subprocess.CompletedProcess[str], job: Repo, expected: str, refs_before: str
) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert expected in errors[0]
    assert "Traceback" not in result.stderr
    # nothing recorded or pushed
    assert remote_refs(job) == refs_before
    assert not (job.path / ".git" / "release-state").exists()
    assert not (job.path / ".git" / "release-dist").exists()  # and nothing built


def publish(
    step: str, job: Repo, folder: Path, index: PypiServer, kudu: KuduServer, **env: str
) -> subprocess.CompletedProcess[str]:
    return job.invoke(
        step, "--tag", TAG, "--from", str(folder), env={**index.env(), **kudu.env(), **env}
    )


@pytest.mark.parametrize("step", ["upload", "deploy-ui"])
@pytest.mark.parametrize("tamper", list(TAMPERED))
def test_a_build_output_changed_on_its_way_is_refused_before_anything_is_published(
    step: str,
    tamper: str,
    built: BuildOutput,
    handed: Path,
    job: Repo,
    index: PypiServer,
    kudu_site: KuduServer,
) -> None:
    expected = TAMPERED[tamper](handed)
    before = remote_refs(job)

    result = publish(step, job, handed, index, kudu_site, RELEASE_BUILD_MANIFEST=built.digest)

    refused_without_a_trace(result, job, expected, before)
    assert "download the build job's artifact of this run again" in result.stderr
    assert list(index.packages_dir.iterdir()) == []
    assert kudu_site.requests == []


@pytest.mark.parametrize("step", ["upload", "deploy-ui"])
def test_a_fingerprint_that_is_not_the_manifests_is_refused(
    step: str, handed: Path, job: Repo, index: PypiServer, kudu_site: KuduServer
) -> None:
    other = hashlib.sha256(b"another build").hexdigest()
    before = remote_refs(job)

    result = publish(step, job, handed, index, kudu_site, RELEASE_BUILD_MANIFEST=other)

    refused_without_a_trace(result, job, f"not {other} (RELEASE_BUILD_MANIFEST)", before)
    assert list(index.packages_dir.iterdir()) == [] and kudu_site.requests == []


@pytest.mark.parametrize("step", ["upload", "deploy-ui"])
def test_without_the_fingerprint_a_build_output_is_refused(
    step: str, handed: Path, job: Repo, index: PypiServer, kudu_site: KuduServer
) -> None:
    before = remote_refs(job)

    result = publish(step, job, handed, index, kudu_site)

    refused_without_a_trace(result, job, "RELEASE_BUILD_MANIFEST is not set", before)
    assert "set RELEASE_BUILD_MANIFEST to the build job's manifest-sha256 output" in result.stderr
    assert list(index.packages_dir.iterdir()) == [] and kudu_site.requests == []


def test_a_build_output_folder_that_is_a_link_is_refused(
    built: BuildOutput, handed: Path, job: Repo, index: PypiServer, kudu_site: KuduServer
) -> None:
    link = handed.parent / "link"
    link.symlink_to(handed)
    before = remote_refs(job)

    result = publish("upload", job, link, index, kudu_site, RELEASE_BUILD_MANIFEST=built.digest)

    refused_without_a_trace(
        result, job, "is a symbolic link: a build output is a plain folder", before
    )
    assert list(index.packages_dir.iterdir()) == []


def test_the_build_of_another_tag_is_refused(
    built: BuildOutput, handed: Path, demo: Repo, tmp_path: Path, index: PypiServer
) -> None:
    clone = demo.clone(tmp_path / "other")
    clone.write("CHANGELOG.md", "another change\n")
    clone.commit("another change")
    clone.tag("version/4.2.1", push=False)
    before = remote_refs(clone)

    result = clone.invoke(
        "upload", "--tag", "version/4.2.1", "--from", str(handed),
        env={**index.env(), "RELEASE_BUILD_MANIFEST": built.digest},
    )  # fmt: skip

    refused_without_a_trace(result, clone, "is of version/4.2.0 (version 4.2.0, commit", before)
    assert "not of version/4.2.1 (version 4.2.1" in result.stderr
    assert list(index.packages_dir.iterdir()) == []
