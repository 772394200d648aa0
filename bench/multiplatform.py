"""A multi-platform image's build and push: ``invoke push-image`` against buildah by hand.

For each payload size (10 and 100 MB of incompressible data in one layer, ``FROM scratch``)
the script makes a repository whose one image sets ``platforms = ["linux/amd64",
"linux/arm64"]`` (no channels: the reference moves none), and times, alternately in the same
run so machine noise hits both, a new version each run:

- **ours**: ``invoke push-image --tag version/1.0.N`` (a new commit and tag per run, made
  before the clock starts): the pre-flight, one ``buildah build`` per platform in a private
  vfs storage, the index pushed with every platform (``buildah manifest push --all``), the
  state recorded, the storage removed;
- **reference**: the same by hand, one buildah command at a time in a fresh vfs storage:
  ``buildah build --platform P`` for each platform, ``buildah manifest create``,
  ``buildah manifest add`` for each, ``buildah manifest push --all`` to the registry, then
  the storage removed; ``--timestamp`` is the run's commit time shifted (``SHIFT``).

Both ways push layers the registry has not seen: ``--timestamp`` sets the time of every
file in a layer, so a new commit's layer is a new blob (a fixed timestamp would let the
second run of one way skip its upload).

It prints a Markdown table of medians and ratios, and with ``--write`` replaces the
"Multi-platform image" section of ``bench/RESULTS.md``.

    python bench/multiplatform.py [--sizes 10 100] [--runs 3] [--write]

Needs buildah on PATH and Debian's docker-registry (``devservices`` starts it in a
temporary folder, as the tests do); no Docker engine: buildah builds both platforms.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))

from bench.channel_move import machine  # noqa: E402
from devservices.demo import IDENTITY, publish_tagged  # noqa: E402
from devservices.registry import Registry  # noqa: E402

RESULTS = CHECKOUT / "bench" / "RESULTS.md"
SECTION = "## Multi-platform image"
PLATFORMS = ("linux/amd64", "linux/arm64")
CHUNK = 1 << 20
SHIFT = 500_000  # seconds added to the reference's --timestamp: never one of ours
PYPROJECT = """[tool.release]
tag-prefix = "version/"
branches = ["main"]

[tool.release.registry]
host = "127.0.0.1:5000"

[[tool.release.images]]
name = "bench/{name}"
dockerfile = "Dockerfile"
channels = []
platforms = {platforms}
"""
DOCKERFILE = "FROM scratch\nARG TAG=latest\nLABEL version=${TAG}\nCOPY payload.bin /payload.bin\n"


def git(work: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=work, env={**os.environ, **IDENTITY}, check=True,
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def make_repository(root: Path, name: str, megabytes: int) -> Path:
    """A repository releasing one two-platform image of ``megabytes`` MB of random bytes."""
    work = root / name / "work"
    work.mkdir(parents=True)
    with (work / "payload.bin").open("wb") as payload:
        for _ in range(megabytes):
            payload.write(os.urandom(CHUNK))
    platforms = "[" + ", ".join(f'"{p}"' for p in PLATFORMS) + "]"
    (work / "pyproject.toml").write_text(PYPROJECT.format(name=name, platforms=platforms))
    (work / "Dockerfile").write_text(DOCKERFILE)
    publish_tagged(work, root / name / "remote.git", "Benchmark image", tag="version/1.0.0")
    return work


def new_version(work: Path, version: str) -> int:
    """A new commit tagged ``version``, pushed (not timed); its commit time."""
    time.sleep(1)  # a commit time of its own: every run's layers are new to the registry
    git(work, "commit", "-q", "--allow-empty", "-m", f"release {version}")
    git(work, "tag", "-a", "-m", version, f"version/{version}")
    git(work, "push", "-q", "origin", "main", f"version/{version}")
    return int(git(work, "show", "-s", "--format=%ct", "HEAD"))


def ours(work: Path, env: dict[str, str], version: str) -> float:
    """``invoke push-image --tag version/<version>``."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "push-image", "--tag",
         f"version/{version}"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"invoke push-image failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def reference(work: Path, host: str, name: str, version: str, timestamp: int) -> float:
    """One buildah command per platform, then ``manifest create/add/push --all``."""
    storage = Path(tempfile.mkdtemp(prefix="bench-buildah-"))
    base = ["buildah", "--root", str(storage / "root"), "--runroot", str(storage / "run")]
    base += ["--storage-driver", "vfs"]
    started = time.perf_counter()
    try:
        ids = []
        for platform in PLATFORMS:
            iid = storage / f"iid-{platform.replace('/', '-')}"
            subprocess.run(
                [*base, "build", "--platform", platform, "--timestamp", str(timestamp),
                 "--build-arg", f"TAG={version}", "--iidfile", str(iid), "-f",
                 str(work / "Dockerfile"), str(work)],
                check=True, capture_output=True,
            )  # fmt: skip
            ids.append(iid.read_text().strip())
        manifest_list = f"localhost/bench/{name}:{version}"
        subprocess.run(
            [*base, "manifest", "create", manifest_list], check=True, capture_output=True
        )
        for image_id in ids:
            subprocess.run(
                [*base, "manifest", "add", manifest_list, image_id], check=True, capture_output=True
            )
        subprocess.run(
            [*base, "manifest", "push", "--all", "--format", "oci", "--tls-verify=false",
             manifest_list, f"docker://{host}/bench/{name}-reference:{version}"],
            check=True, capture_output=True,
        )  # fmt: skip
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each way per size")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if shutil.which("buildah") is None:
        raise SystemExit("buildah is not on PATH (apt-get install buildah)")
    version_line = subprocess.run(
        ["buildah", "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="multiplatform-") as folder:
        root = Path(folder)
        with Registry(root / "registry") as registry:
            env = {**os.environ, **IDENTITY, "RELEASE_REGISTRY": registry.host}
            env.update({"RELEASE_REGISTRY_USERNAME": "", "RELEASE_REGISTRY_PASSWORD": ""})
            for key in ("CI", "GITHUB_ACTIONS", "RELEASE_TAG"):
                env.pop(key, None)
            for size in args.sizes:
                name = f"size-{size}mb"
                work = make_repository(root, name, size)
                print(f"{name}: warm-up of both ways ...", file=sys.stderr)
                timestamp = new_version(work, "1.0.1")
                ours(work, env, "1.0.1")
                reference(work, registry.host, name, "1.0.1", timestamp + SHIFT)
                mine, theirs = [], []
                for run in range(args.runs):
                    version = f"1.0.{run + 2}"
                    timestamp = new_version(work, version)
                    first, second = (ours, reference) if run % 2 == 0 else (reference, ours)
                    for way in (first, second):
                        if way is ours:
                            mine.append(ours(work, env, version))
                        else:
                            # Another time than ours': its layer is new to the registry too.
                            theirs.append(
                                reference(work, registry.host, name, version, timestamp + SHIFT)
                            )
                    print(f"  {size} MB run {run + 1}: ours {mine[-1]:.2f} s, "
                          f"reference {theirs[-1]:.2f} s", file=sys.stderr)  # fmt: skip
                rows.append(
                    (size, statistics.median(mine), statistics.median(theirs), mine, theirs)
                )
    table = [
        "| image | ours: `invoke push-image` | reference: buildah by hand | ours / reference "
        "| runs (seconds: ours; reference) |",
        "|---:|---:|---:|---:|---|",
    ]
    for size, mine_median, ref_median, mine, theirs in rows:
        runs = ", ".join(f"{t:.2f}" for t in mine) + "; " + ", ".join(f"{t:.2f}" for t in theirs)
        table.append(
            f"| {size} MB | {mine_median:.2f} s | {ref_median:.2f} s | "
            f"{mine_median / ref_median:.2f}x | {runs} |"
        )
    sizes = " ".join(map(str, args.sizes))
    section = "\n".join(
        [
            SECTION,
            "",
            "Building and pushing one image for linux/amd64 and linux/arm64 (`FROM scratch`, "
            "one layer of random bytes, no `RUN`: no QEMU) as one OCI image index. Ours: "
            "`invoke push-image` of a new version each run (its pre-flight, one `buildah build` "
            "per platform in a private vfs storage, `buildah manifest push --all`, the state "
            "recorded, the storage removed; a new Python process, as a user runs it). "
            "Reference: the same buildah commands by hand in a fresh vfs storage (one "
            "`buildah build --platform` per platform, `manifest create`, `manifest add`, "
            "`manifest push --all`), with the run's commit time shifted by 500000 s as its "
            "`--timestamp`, so that each way's layer is new to the registry (ours uses the "
            "commit's time: a new release's layer is a new blob). No channel moves on either "
            "side. Local registry "
            "(Debian's docker-registry 2.8) on 127.0.0.1; both ways alternate, one warm-up run "
            f"each not counted; medians of {args.runs} runs.",
            "",
            f"- Machine: {machine()}; {version_line}",
            f"- Date: {datetime.date.today().isoformat()}",
            f"- Command: `python bench/multiplatform.py --sizes {sizes} --runs {args.runs}`",
            "",
            *table,
            "",
            "The builds and the push are the same buildah work. The difference is ours' own: "
            "a Python process, the git and registry pre-flight and the state note (fixed), and "
            "the release tree, the tagged commit checked out with the version written, which "
            "the image is built from (it grows with the files: the 100 MB payload is written "
            "once more).",
            "",
        ]
    )
    print(section)
    if args.write:
        write_section(section)
    return 0


def write_section(section: str) -> None:
    """Replace (or insert before the reliability suite) the section in bench/RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    elif "\n## Reliability suite" in text:
        text = text.replace("\n## Reliability suite", "\n" + section + "\n## Reliability suite", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
