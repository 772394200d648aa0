"""Whole release: ``invoke release --yes`` of the demo scaled to N packages and M images,
against the seed's pipeline doing the same work, alternately, in the same script.

The scaled repository is generated from ``examples/demo`` for every run (so nothing is
"already done"): a ``common`` package (the demo's hatchling ``demo-common``) and N-1
``node`` packages (the demo's setuptools ``demo-node``, version kept the vantage6 way in
``_version.py``), node k pinned to ``common`` and to node k-1; M images built ``FROM
scratch`` from copies of the demo's Dockerfiles, each with the channels ``codename``,
``minor`` and ``latest``. Files hold 1.0.0, the annotated tag is ``version/1.1.0``, and a
bare ``origin`` takes the bump commit. Every run uses new project and repository names
(``r<run>o-`` for ours; ``r<run>r-``, ``t-``, ``w-`` for the references), so the index and
the registry hold nothing of it. The UI and Discord are left out: the reference pipelines
have no counterpart for them. ``--layout realsize`` releases the real-size layout of
``bench/scaled.py`` instead (N ``setup.py`` packages reading the monorepo's ``README.md``,
siblings pinned ``==``, 16 real third-party dependencies pinned ``==``, whose smoke install
comes from the package index); its packages set ``wheel-from = "source"`` (``--wheel-from
sdist``: complete sdists instead), and the reference then builds both files from the source
folder (``python -m build --sdist --wheel``), as such a project's own pipeline does.

- **ours**: ``python -m invoke -r <checkout> release --tag version/1.1.0 --yes`` (bump
  commit and push, build with sdist then wheel from it, twine check, version check, smoke
  install, comparison with the index, upload, image builds and pushes, channel moves in the
  registry, state notes), as a user runs it.
- **reference** (the seed's pipeline, sequential, one CLI call after another): write the
  version into the same files, ``git commit`` and ``git push``; ``python -m build`` of each
  package (sdist, then wheel from it, pip-built isolated environments); ``twine upload`` of
  each package's files; ``docker build`` (legacy builder, like ours) and ``docker push``
  of each image; then for each channel of each image ``docker pull``, ``docker tag``,
  ``docker push``.

- **tuned** (the fastest a person would script by hand today, verifying nothing): the
  version files written with ``sed``, one commit and push; ``uv build`` of every package in
  parallel (one process per core); one ``twine upload`` of all files; every ``docker
  build`` in parallel, then every ``docker push`` in parallel; each channel tag by one
  manifest PUT to the registry (``curl``; the version tag's manifest read once per image).
- **own** (``--layout realsize`` sizes only: a setuptools monorepo's own way): the version
  files with ``sed``, one commit and push; in each package ``python setup.py sdist
  bdist_wheel`` with the installed setuptools and wheel, then ``twine upload`` of each,
  sequentially; images (if any) as the seed does. It verifies nothing.

A size is ``NxM`` (the ``--layout``) or ``NxMr`` (the real-size layout whatever
``--layout`` says), so one grid mixes both; ``--seed-sizes`` limits the slow seed reference
to some sizes. For real-size sizes the local index is seeded once with the pinned
third-party wheels (``pip download``) and ``RELEASE_SMOKE_INDEX_URL`` points ours' smoke
install at it, so no side depends on the network's speed. The peak RSS of ours is
``ru_maxrss`` from ``wait4`` of the ``invoke release`` process (the largest of that process
and the processes it waited for).

The runs go round after round over every size (a change in the machine's load then
spreads over all sizes), each side going first in turn. Besides the wall time, the CPU
time of each side's own processes is recorded (``RUSAGE_CHILDREN``; the engine, registry
and index serve both and are not counted).

The services are started once, as ``devservices/demo.py`` does (``devservices``):
a real pypiserver, the Docker engine and Debian's registry on 127.0.0.1. One warm-up run of
each side at the smallest size fills pip's, uv's and the engine's caches first (not counted).
After every run the index and the registry are checked to hold exactly what the run should
have published (each side did the whole work).

    python bench/release.py [--sizes 1x1 2x2 4x4 4x1 1x4 8x4r | --grid] [--runs 3]
                            [--json FILE] [--layout demo|realsize] [--wheel-from source|sdist]
                            [--sides ours tuned reference own] [--seed-sizes 4x4 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaled import (
    CHECKOUT,
    LAYOUTS,
    NEW,
    OLD,
    TAG,
    THIRD_PARTY,
    WHEEL_FROM,
    Scaled,
    Services,
    child_env,
    run,
    scaled_repo,
    services,
)

CHANNELS = ("troltunga", "1.1", "latest")  # codename of major 1, minor, latest
DEFAULT_SIZES = ("1x1", "2x2", "4x4", "4x1", "1x4")
GRID = ("1x1", "1x4", "4x1", "4x4", "8x1r", "8x4r")  # N=8 with the real-size layout
DOCKER_BUILD = ("docker", "build", "-q", "-f")
BUILD_ARGS = ("--build-arg", f"TAG={NEW}", "--build-arg", "BASE=1.1")
SIDES = ("reference", "tuned", "own", "ours")
LETTER = {"reference": "r", "tuned": "t", "own": "w", "ours": "o"}  # in the run's names
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)


# -- the two sides -----------------------------------------------------------------


Phases = dict[str, float]  # what was finished -> seconds since the start
# The progress lines of `invoke release` off a terminal: "[build] ready" once a step's local
# work is done (older versions said "prepared"), "[build] done: ..." once it is published.
PROGRESS = re.compile(r"^\[([\w-]+)\] (ready|prepared|done)\b")
TWINE_UPLOAD = [sys.executable, "-m", "twine", "upload", "--non-interactive"]


class Timeline:
    """One hand-written pipeline's run: its output and when each phase was finished."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.phases: Phases = {}
        self.started = time.perf_counter()

    def phase(self, name: str) -> None:
        self.phases[name] = time.perf_counter() - self.started

    def result(self) -> tuple[float, str, Phases]:
        return time.perf_counter() - self.started, "".join(self.log), self.phases


def ours(repo: Scaled, env: dict[str, str]) -> tuple[float, str, Phases]:
    """``invoke release``; the phases are the times of its progress lines (``[build] done``);
    ``peak RSS MB`` among them is the ``invoke`` process's peak (``wait4``)."""
    argv = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT), "release", "--tag", TAG, "--yes"]
    phases: Phases = {}
    lines: list[str] = []
    with tempfile.TemporaryFile("w+") as stdout:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, cwd=repo.work, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line)
            found = PROGRESS.match(line)
            if found:
                state = "done" if found[2] == "done" else "prepared"
                phases.setdefault(f"{found[1]} {state}", time.perf_counter() - started)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = code = os.waitstatus_to_exitcode(status)
        phases["peak RSS MB"] = usage.ru_maxrss / 1024
        stdout.seek(0)
        output = stdout.read() + "".join(lines)
    if code != 0:
        raise SystemExit(f"invoke release failed (exit {code}) in {repo.work}:\n{output[-4000:]}")
    return seconds, output, phases


def reference(repo: Scaled, svc: Services, env: dict[str, str]) -> tuple[float, str, Phases]:
    """The seed's pipeline: version commit, build each, upload each, image each, channels."""
    work = repo.work
    timeline = Timeline()
    log, phase = timeline.log, timeline.phase
    _write_versions(repo)
    log.append(_commit_versions(work, env))
    phase("version committed and pushed")
    dist = work / "dist"
    # A project whose sdists are not self-contained builds both files from the source folder.
    both = ["--sdist", "--wheel"] if repo.wheel_from == "source" else []
    for package in repo.packages:
        build = [sys.executable, "-m", "build", *both, "--outdir", str(dist / package), package]
        log.append(run(build, work, env))
    phase("packages built")
    for package in repo.packages:
        files = sorted(str(p) for p in (dist / package).iterdir())
        log.append(run([*TWINE_UPLOAD, "--repository-url", svc.upload_url, *files], work, env))
    phase("packages uploaded")
    _seed_images(repo, svc, env, timeline)
    return timeline.result()


def tuned(repo: Scaled, svc: Services, env: dict[str, str]) -> tuple[float, str, Phases]:
    """The fastest hand-written pipeline: sed, one commit and push, ``uv build`` of every
    package in parallel, one upload, docker builds then pushes in parallel, a manifest PUT
    per channel. Verifies nothing."""
    work = repo.work
    timeline = _versions_by_sed(repo, env)
    log, phase = timeline.log, timeline.phase
    dist = work / "dist"
    both = ["--sdist", "--wheel"] if repo.wheel_from == "source" else []
    cores = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=cores) as pool:
        builds = [
            ["uv", "build", "-q", *both, "--out-dir", str(dist), package]
            for package in repo.packages
        ]
        log += pool.map(lambda argv: run(argv, work, env), builds)
    phase("packages built")
    files = sorted(str(p) for p in dist.iterdir() if p.suffix in (".whl", ".gz"))
    log.append(run([*TWINE_UPLOAD, "--repository-url", svc.upload_url, *files], work, env))
    phase("packages uploaded")
    refs = [f"{svc.registry_host}/{image}:{NEW}" for image in repo.images]
    if refs:
        with ThreadPoolExecutor(max_workers=len(refs)) as pool:
            builds = [
                [*DOCKER_BUILD, f"docker/img{j}.Dockerfile", *BUILD_ARGS, "-t", ref, "."]
                for j, ref in enumerate(refs)
            ]
            log += pool.map(lambda argv: run(argv, work, env), builds)
            phase("images built")
            log += pool.map(lambda ref: run(["docker", "push", ref], work, env), refs)
            phase("images pushed")
            log += pool.map(lambda image: _put_channels(image, svc, work, env), repo.images)
        phase("channels tagged (manifest PUT)")
    return timeline.result()


def _put_channels(image: str, svc: Services, work: Path, env: dict[str, str]) -> str:
    """The version tag's manifest read once, then one PUT of it per channel (curl)."""
    base = f"{svc.registry_url}/v2/{image}/manifests"
    manifest = work / f".{image.replace('/', '_')}.manifest"
    headers = run(
        [
            "curl",
            "-sf",
            "-D",
            "-",
            "-H",
            f"Accept: {MANIFEST_TYPES}",
            "-o",
            str(manifest),
            f"{base}/{NEW}",
        ],
        work,
        env,
    )
    kind = re.search(r"^content-type:\s*(\S+)", headers, re.I | re.M)
    if kind is None:
        raise SystemExit(f"tuned: no content type for {image}:{NEW}")
    log = [headers]
    for channel in CHANNELS:
        put = ["curl", "-sf", "-X", "PUT", "-H", f"Content-Type: {kind[1]}"]
        put += ["--data-binary", f"@{manifest}", f"{base}/{channel}"]
        log.append(run(put, work, env))
    return "".join(log)


def own(repo: Scaled, svc: Services, env: dict[str, str]) -> tuple[float, str, Phases]:
    """A setuptools monorepo's own way: sed, one commit and push, ``python setup.py sdist
    bdist_wheel`` in each package, ``twine upload`` of each, one after the other; images
    (if any) as the seed does. Verifies nothing."""
    work = repo.work
    timeline = _versions_by_sed(repo, env)
    log, phase = timeline.log, timeline.phase
    for package in repo.packages:
        log.append(run([sys.executable, "setup.py", "sdist", "bdist_wheel"], work / package, env))
    phase("packages built")
    for package in repo.packages:
        files = sorted(str(p) for p in (work / package / "dist").iterdir())
        log.append(run([*TWINE_UPLOAD, "--repository-url", svc.upload_url, *files], work, env))
    phase("packages uploaded")
    if repo.images:
        _seed_images(repo, svc, env, timeline)
    return timeline.result()


def _seed_images(repo: Scaled, svc: Services, env: dict[str, str], timeline: Timeline) -> None:
    """The seed's image steps: build and push each, then pull, tag and push each channel."""
    work, log = repo.work, timeline.log
    for j, image in enumerate(repo.images):
        ref = f"{svc.registry_host}/{image}:{NEW}"
        build = ["docker", "build", "-q", "-f", f"docker/img{j}.Dockerfile"]
        build += ["--build-arg", f"TAG={NEW}", "--build-arg", "BASE=1.1", "-t", ref, "."]
        log.append(run(build, work, env))
        log.append(run(["docker", "push", ref], work, env))
    timeline.phase("images built and pushed")
    for image in repo.images:
        version = f"{svc.registry_host}/{image}:{NEW}"
        for channel in CHANNELS:
            target = f"{svc.registry_host}/{image}:{channel}"
            log.append(run(["docker", "pull", version], work, env))
            log.append(run(["docker", "tag", version, target], work, env))
            log.append(run(["docker", "push", target], work, env))
    timeline.phase("channels pulled, tagged and pushed")


def _versions_by_sed(repo: Scaled, env: dict[str, str]) -> Timeline:
    """A hand-written pipeline's start: the version files by ``sed``, committed and pushed."""
    timeline = Timeline()
    _sed_versions(repo, repo.work, env, timeline.log)
    timeline.log.append(_commit_versions(repo.work, env))
    timeline.phase("version committed and pushed")
    return timeline


def _commit_versions(work: Path, env: dict[str, str]) -> str:
    """The version commit, pushed to main, as every hand-written pipeline makes it."""
    commit = run(["git", "commit", "-q", "-am", f"Updated the version to {NEW}"], work, env)
    return commit + run(["git", "push", "-q", "origin", "HEAD:main"], work, env)


def _sed_versions(repo: Scaled, work: Path, env: dict[str, str], log: list[str]) -> None:
    """The same edits as ``_write_versions``, each file by one ``sed -i``."""
    by_file: dict[Path, list[str]] = {}
    for path, old, new in _version_edits(repo):
        if old not in path.read_text():
            raise SystemExit(f"sed: {old!r} not in {path}")
        pattern = re.sub(r"([\\/.*\[\]^$])", r"\\\1", old)
        replacement = re.sub(r"([\\/&])", r"\\\1", new)
        by_file.setdefault(path, []).append(f"s/{pattern}/{replacement}/")
    for path, expressions in by_file.items():
        argv = ["sed", "-i"] + [a for e in expressions for a in ("-e", e)] + [str(path)]
        log.append(run(argv, work, env))


def _write_versions(repo: Scaled) -> None:
    """What the seed's step 2 writes: the same files ours writes (pins of siblings included)."""
    for path, old, new in _version_edits(repo):
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"reference: {old!r} not in {path}")
        path.write_text(text.replace(old, new))


def _version_edits(repo: Scaled) -> list[tuple[Path, str, str]]:
    """(file, old text, new text) of every version the release writes."""
    work = repo.work
    common = repo.packages[0]
    edits = []
    if repo.layout == "demo":
        edits += [
            (work / common / "pyproject.toml", f'version = "{OLD}"', f'version = "{NEW}"'),
            (work / common / "src" / repo.module(common) / "__init__.py", f'"{OLD}"', f'"{NEW}"'),
        ]
        edits += [(work / p / "pyproject.toml", f"=={OLD}", f"=={NEW}") for p in repo.packages[1:]]
    # "realsize": every package's setup.py reads _version.py (its sibling pins too).
    versioned = repo.packages if repo.layout == "realsize" else repo.packages[1:]
    for package in versioned:
        edits.append(
            (repo.version_py(package), "version_info = (1, 0, 0,", "version_info = (1, 1, 0,")
        )
    for dockerfile in (work / "docker").iterdir():
        edits.append((dockerfile, "ARG BASE=1.0", "ARG BASE=1.1"))
    return edits


# -- checks ------------------------------------------------------------------------


def published_problems(repo: Scaled, svc: Services) -> list[str]:
    """What is missing from the index and the registry after a run (empty: all there)."""
    import requests

    problems = []
    with requests.Session() as session:
        session.trust_env = False
        for package in repo.packages:
            page = session.get(f"{svc.index_url}{package}/", timeout=30).text
            files = set(re.findall(r">([^<>]+\.(?:whl|tar\.gz))<", page))
            stem = package.replace("-", "_")
            # An older setuptools (the "own" side's) keeps the dash in the sdist's name.
            sdists = {f"{stem}-{NEW}.tar.gz", f"{package}-{NEW}.tar.gz"}
            if f"{stem}-{NEW}-py3-none-any.whl" not in files or not sdists & files:
                problems.append(f"{package}: index has {sorted(files)}")
        for image in repo.images:
            answer = session.get(f"{svc.registry_url}/v2/{image}/tags/list", timeout=30)
            tags = set(answer.json().get("tags") or []) if answer.ok else set()
            if not {NEW, *CHANNELS} <= tags:
                problems.append(f"{image}: registry has {sorted(tags)}")
    return problems


# -- the benchmark -----------------------------------------------------------------


def children_cpu() -> float:
    """User + system CPU seconds of every finished child process of this script so far.

    The services (index, engine, registry) are children too but run until the end, so a
    run's difference counts only the processes the run itself started and waited for.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_phases(runs: list[Phases]) -> Phases:
    """The median time of each phase over the runs, in the order they finished."""
    names = sorted(
        {n for marks in runs for n in marks}, key=lambda n: min(r.get(n, 1e9) for r in runs)
    )
    return {n: statistics.median(r[n] for r in runs if n in r) for n in names}


def parse_size(text: str, layout: str = "demo") -> tuple[int, int, str]:
    """``NxM`` (in ``layout``) or ``NxMr`` (the real-size layout)."""
    if text.endswith("r"):
        text, layout = text[:-1], "realsize"
    n, _, m = text.partition("x")
    return int(n), int(m), layout


def size_name(n: int, m: int, layout: str) -> str:
    return f"{n}x{m}" + ("r" if layout == "realsize" else "")


def seed_index(svc: Services, packages_dir: Path) -> None:
    """The pinned third-party wheels of the real-size layout (and what they need) on the
    local index, once: ours' smoke install takes them from there."""
    pins = [f"{dist}=={version}" for dist, (version, _) in THIRD_PARTY.items()]
    command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:"]
    run([*command, "-d", str(packages_dir), *pins], packages_dir, dict(os.environ))


def bench(
    sizes: list[tuple[int, int, str]],
    runs: int,
    keep_logs: Path | None,
    wheel_from: str = "source",
    sides: tuple[str, ...] = ("reference", "tuned", "own", "ours"),
    seed_sizes: set[tuple[int, int, str]] | None = None,
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        root = Path(tmp)
        with services(root / "services") as svc:
            env = child_env(svc)
            if any(layout == "realsize" for _, _, layout in sizes):
                seed_index(svc, root / "services" / "pypi" / "packages")
                env["RELEASE_SMOKE_INDEX_URL"] = svc.index_url
            counter = iter(range(1, 10_000))

            def one(side: str, n: int, m: int, layout: str) -> tuple[float, float, Phases]:
                """(wall seconds, CPU seconds of the side's own processes, phases)."""
                number = next(counter)
                prefix = f"r{number}{LETTER[side]}"
                repo = scaled_repo(
                    root / "repos", prefix, n, m, layout=layout, wheel_from=wheel_from
                )
                before = children_cpu()
                if side == "ours":
                    seconds, output, phases = ours(repo, env)
                elif side == "tuned":
                    seconds, output, phases = tuned(repo, svc, env)
                elif side == "own":
                    seconds, output, phases = own(repo, svc, env)
                else:
                    seconds, output, phases = reference(repo, svc, env)
                cpu = children_cpu() - before
                problems = published_problems(repo, svc)
                if keep_logs is not None:
                    keep_logs.mkdir(parents=True, exist_ok=True)
                    (keep_logs / f"{repo.prefix}-{n}x{m}.log").write_text(output)
                if problems:
                    raise SystemExit(f"{side} {n}x{m} did not publish everything: {problems}")
                shutil.rmtree(repo.work.parent / repo.prefix, ignore_errors=True)
                print(
                    f"  {side:9s} {size_name(n, m, layout)}: {seconds:6.1f} s (CPU {cpu:5.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                return seconds, cpu, phases

            def sides_of(n: int, m: int, layout: str) -> list[str]:
                found = [s for s in sides if s != "own" or layout == "realsize"]
                if seed_sizes is not None and (n, m, layout) not in seed_sizes:
                    found = [s for s in found if s != "reference"]
                return found

            print("warm-up (not counted)", file=sys.stderr, flush=True)
            for layout in sorted({layout for _, _, layout in sizes}):
                for side in sides_of(1, 1, layout):
                    one(side, 1, 1, layout)
            found: dict[tuple[int, int, str], dict[str, dict[str, list[Any]]]] = {
                size: {side: {"wall": [], "cpu": [], "phases": []} for side in sides_of(*size)}
                for size in sizes
            }
            # Round after round over every size (not all runs of one size, then the next), so
            # that a change in the machine's load spreads over all sizes; within a size the
            # sides take turns going first.
            for attempt in range(runs):
                for n, m, layout in sizes:
                    order = sides_of(n, m, layout)
                    shift = attempt % len(order)
                    for side in order[shift:] + order[:shift]:
                        seconds, cpu, marks = one(side, n, m, layout)
                        got = found[(n, m, layout)][side]
                        got["wall"].append(seconds)
                        got["cpu"].append(cpu)
                        got["phases"].append(marks)
            for (n, m, layout), by_side in found.items():
                row: dict[str, object] = {
                    "packages": n,
                    "images": m,
                    "size": size_name(n, m, layout),
                    "layout": layout if layout == "demo" else f"{layout} ({wheel_from})",
                    "runs": runs,
                }
                for side, got in by_side.items():
                    row[side] = {
                        "runs": got["wall"],
                        "median": statistics.median(got["wall"]),
                        "cpu": statistics.median(got["cpu"]),
                        "phases": median_phases(got["phases"]),
                    }
                rows.append(row)
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| size | " + " | ".join(SIDES) + " | runs |",
        "|---|" + "---:|" * len(SIDES) + "---:|",
    ]
    for row in rows:
        cells = [
            f"{row[side]['median']:.1f} s" if side in row else "-"  # type: ignore[index]
            for side in SIDES
        ]
        lines.append(f"| {row['size']} | " + " | ".join(cells) + f" | {row['runs']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="NxM or NxMr")
    parser.add_argument("--grid", action="store_true", help=f"the sizes {' '.join(GRID)}")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--logs", type=Path, help="keep every run's output in this folder")
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="demo", help="of NxM sizes without the r"
    )
    parser.add_argument(
        "--wheel-from", choices=WHEEL_FROM, default="source", help="realsize: source or sdist"
    )
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument(
        "--seed-sizes", nargs="+", help="run the seed reference only at these sizes"
    )
    args = parser.parse_args()
    sizes = [parse_size(s, args.layout) for s in (GRID if args.grid else args.sizes)]
    seed = {parse_size(s, args.layout) for s in args.seed_sizes} if args.seed_sizes else None
    rows = bench(sizes, args.runs, args.logs, args.wheel_from, tuple(args.sides), seed)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
