"""Whole release: ``invoke release --yes`` of the demo scaled to N packages and M images,
against the seed's pipeline doing the same work, alternately, in the same script.

The scaled repository is generated from ``examples/demo`` for every run (so nothing is
"already done"): a ``common`` package (the demo's hatchling ``demo-common``) and N-1
``node`` packages (the demo's setuptools ``demo-node``, version kept the vantage6 way in
``_version.py``), node k pinned to ``common`` and to node k-1; M images built ``FROM
scratch`` from copies of the demo's Dockerfiles, each with the channels ``codename``,
``minor`` and ``latest``. Files hold 1.0.0, the annotated tag is ``version/1.1.0``, and a
bare ``origin`` takes the bump commit. Every run uses new project and repository names
(``r<run>o-`` for ours, ``r<run>r-`` for the reference), so the index and the registry
hold nothing of it. The UI and Discord are left out: the reference pipeline of the issue
has no counterpart for them. ``--layout realsize`` releases the real-size layout of
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

The runs go round after round over every size (a change in the machine's load then
spreads over all sizes), each side going first in turn. Besides the wall time, the CPU
time of each side's own processes is recorded (``RUSAGE_CHILDREN``; the engine, registry
and index serve both and are not counted).

The services are started once, as ``devservices/demo.py`` does (``devservices``):
a real pypiserver, the Docker engine and Debian's registry on 127.0.0.1. One warm-up run of
each side at the smallest size fills pip's, uv's and the engine's caches first (not counted).
After every run the index and the registry are checked to hold exactly what the run should
have published (each side did the whole work).

    python bench/release.py [--sizes 1x1 2x2 4x4 4x1 1x4 | --grid] [--runs 3] [--json FILE]
                            [--layout demo|realsize] [--wheel-from source|sdist]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaled import (
    CHECKOUT,
    LAYOUTS,
    NEW,
    OLD,
    TAG,
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
GRID = tuple(f"{n}x{m}" for n in (1, 2, 4) for m in (1, 2, 4))


# -- the two sides -----------------------------------------------------------------


Phases = dict[str, float]  # what was finished -> seconds since the start
# The progress lines of `invoke release` off a terminal: "[build] ready" once a step's local
# work is done (older versions said "prepared"), "[build] done: ..." once it is published.
PROGRESS = re.compile(r"^\[([\w-]+)\] (ready|prepared|done)\b")


def ours(repo: Scaled, env: dict[str, str]) -> tuple[float, str, Phases]:
    """``invoke release``; the phases are the times of its progress lines (``[build] done``)."""
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
        code = child.wait()
        seconds = time.perf_counter() - started
        stdout.seek(0)
        output = stdout.read() + "".join(lines)
    if code != 0:
        raise SystemExit(f"invoke release failed (exit {code}) in {repo.work}:\n{output[-4000:]}")
    return seconds, output, phases


def reference(repo: Scaled, svc: Services, env: dict[str, str]) -> tuple[float, str, Phases]:
    """The seed's pipeline: version commit, build each, upload each, image each, channels."""
    work = repo.work
    log: list[str] = []
    phases: Phases = {}
    started = time.perf_counter()

    def phase(name: str) -> None:
        phases[name] = time.perf_counter() - started

    _write_versions(repo)
    log.append(run(["git", "commit", "-q", "-am", f"Updated the version to {NEW}"], work, env))
    log.append(run(["git", "push", "-q", "origin", "HEAD:main"], work, env))
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
        upload = [sys.executable, "-m", "twine", "upload", "--non-interactive"]
        log.append(run([*upload, "--repository-url", svc.upload_url, *files], work, env))
    phase("packages uploaded")
    for j, image in enumerate(repo.images):
        ref = f"{svc.registry_host}/{image}:{NEW}"
        build = ["docker", "build", "-q", "-f", f"docker/img{j}.Dockerfile"]
        build += ["--build-arg", f"TAG={NEW}", "--build-arg", "BASE=1.1", "-t", ref, "."]
        log.append(run(build, work, env))
        log.append(run(["docker", "push", ref], work, env))
    phase("images built and pushed")
    for image in repo.images:
        version = f"{svc.registry_host}/{image}:{NEW}"
        for channel in CHANNELS:
            target = f"{svc.registry_host}/{image}:{channel}"
            log.append(run(["docker", "pull", version], work, env))
            log.append(run(["docker", "tag", version, target], work, env))
            log.append(run(["docker", "push", target], work, env))
    phase("channels pulled, tagged and pushed")
    return time.perf_counter() - started, "".join(log), phases


def _write_versions(repo: Scaled) -> None:
    """What the seed's step 2 writes: the same files ours writes (pins of siblings included)."""
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
    for path, old, new in edits:
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"reference: {old!r} not in {path}")
        path.write_text(text.replace(old, new))


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
            wanted = {f"{stem}-{NEW}.tar.gz", f"{stem}-{NEW}-py3-none-any.whl"}
            if not wanted <= files:
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


def parse_size(text: str) -> tuple[int, int]:
    n, _, m = text.partition("x")
    return int(n), int(m)


def bench(
    sizes: list[tuple[int, int]],
    runs: int,
    keep_logs: Path | None,
    layout: str = "demo",
    wheel_from: str = "source",
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        root = Path(tmp)
        with services(root / "services") as svc:
            env = child_env(svc)
            counter = iter(range(1, 10_000))

            def one(side: str, n: int, m: int) -> tuple[float, float, Phases]:
                """(wall seconds, CPU seconds of the side's own processes, phases)."""
                number = next(counter)
                prefix = f"r{number}{side[0]}"
                repo = scaled_repo(
                    root / "repos", prefix, n, m, layout=layout, wheel_from=wheel_from
                )
                before = children_cpu()
                if side == "ours":
                    seconds, output, phases = ours(repo, env)
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
                    f"  {side:9s} {n}x{m}: {seconds:6.1f} s (CPU {cpu:5.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                return seconds, cpu, phases

            print("warm-up (not counted)", file=sys.stderr, flush=True)
            one("reference", 1, 1)
            one("ours", 1, 1)
            found: dict[tuple[int, int], dict[str, list[Any]]] = {
                size: {key: [] for key in ("reference", "ours", "ref_cpu", "our_cpu", "rp", "op")}
                for size in sizes
            }
            # Round after round over every size (not all runs of one size, then the next), so
            # that a change in the machine's load spreads over all sizes; within a size the
            # sides alternate which goes first.
            for attempt in range(runs):
                for n, m in sizes:
                    order = ("reference", "ours") if attempt % 2 == 0 else ("ours", "reference")
                    for side in order:
                        seconds, cpu, marks = one(side, n, m)
                        short = "ref" if side == "reference" else "our"
                        found[(n, m)][side].append(seconds)
                        found[(n, m)][f"{short}_cpu"].append(cpu)
                        found[(n, m)][f"{short[0]}p"].append(marks)
            for (n, m), got in found.items():
                rows.append(
                    {
                        "packages": n,
                        "images": m,
                        "layout": layout if layout == "demo" else f"{layout} ({wheel_from})",
                        "runs": runs,
                        "reference": got["reference"],
                        "ours": got["ours"],
                        "ref_median": statistics.median(got["reference"]),
                        "our_median": statistics.median(got["ours"]),
                        "ref_cpu": statistics.median(got["ref_cpu"]),
                        "our_cpu": statistics.median(got["our_cpu"]),
                        "ref_phases": median_phases(got["rp"]),
                        "our_phases": median_phases(got["op"]),
                    }
                )
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| packages N | images M | reference (median) | ours (median) | ours / reference | runs |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ref, our = float(row["ref_median"]), float(row["our_median"])  # type: ignore[arg-type]
        lines.append(
            f"| {row['packages']} | {row['images']} | {ref:.1f} s | {our:.1f} s "
            f"| {our / ref:.2f}x | {row['runs']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="NxM, e.g. 4x4")
    parser.add_argument("--grid", action="store_true", help="every N, M in 1, 2, 4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--logs", type=Path, help="keep every run's output in this folder")
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="demo", help="realsize: setup.py packages, real deps"
    )
    parser.add_argument(
        "--wheel-from", choices=WHEEL_FROM, default="source", help="realsize: source or sdist"
    )
    args = parser.parse_args()
    sizes = [parse_size(s) for s in (GRID if args.grid else args.sizes)]
    rows = bench(sizes, args.runs, args.logs, args.layout, args.wheel_from)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
