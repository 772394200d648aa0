"""Run every benchmark and write ``bench/RESULTS.md``.

    python bench/run.py [--only release startup memory channel-move] [--quick]

Each benchmark is its own script (``release.py``, ``startup.py``, ``memory.py``,
``channel_move.py``), run here as a child process with ``--json`` so that none disturbs
another's memory or caches; this script then writes the method, the machine, the date, one
table per benchmark, the command that reproduces it alone, and whether its target is met
(when not: by how much, and why). Sections of ``RESULTS.md`` that this script does not
write (the reliability suite's) are kept as they are; ``--only`` rewrites only the named
sections and keeps the others. ``--quick`` runs fewer repetitions (a smoke test of the
benchmarks, not numbers to publish).

Needs root (or a running Docker engine), the docker CLI, Debian's docker-registry and
network access to the package registry for the build requirements, as the tests do.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
TITLE = "# Benchmark results"
DATE = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
ORDER = ("Method and machine", "Whole release", "Start-up", "Memory", "Channel move")

Row = dict[str, Any]


# -- machine -----------------------------------------------------------------------


def _first(pattern: str, path: str) -> str | None:
    try:
        found = re.search(pattern, Path(path).read_text())
    except OSError:
        return None
    return found[1].strip() if found else None


def _command(*argv: str) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (
        (result.stdout or result.stderr).strip().splitlines()[0]
        if result.returncode == 0
        else "not found"
    )


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _debian(name: str) -> str:
    return _command("dpkg-query", "-W", "-f", "${Version}", name)


def machine() -> list[str]:
    memory_kib = _first(r"MemTotal:\s+(\d+)", "/proc/meminfo")
    memory = f"{int(memory_kib) / 1024 / 1024:.1f} GiB" if memory_kib else "unknown"
    cpu = _first(r"model name\s*:\s*(.+)", "/proc/cpuinfo") or platform.processor()
    return [
        f"- CPU: {cpu}; `nproc`: {_command('nproc')}; memory: {memory}; Linux {platform.release()}",
        f"- Python {platform.python_version()}; invoke {_package('invoke')}, build "
        f"{_package('build')}, twine {_package('twine')}, pip {_package('pip')}, "
        f"{_command('uv', '--version')}, rich {_package('rich')}, docker (SDK) "
        f"{_package('docker')}, requests {_package('requests')}",
        f"- Docker engine: Debian docker.io {_debian('docker.io')} (legacy builder); docker "
        f"CLI: {_command('docker', '--version')}; registry: Debian docker-registry "
        f"{_debian('docker-registry')}; package index: pypiserver {_package('pypiserver')}",
    ]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


# -- running the benchmarks --------------------------------------------------------


def run_json(script: str, args: Sequence[str]) -> Any:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, str(BENCH / script), *args, "--json", str(out)]
        print(f"$ {' '.join(command[1:])}", file=sys.stderr, flush=True)
        subprocess.run(command, check=True)
        return json.loads(out.read_text())


def command_line(script: str, args: Sequence[str]) -> str:
    return " ".join(["python", f"bench/{script}", *args])


# -- whole release -----------------------------------------------------------------


RELEASE_TARGET = 0.6


def release_section(rows: list[Row], args: Sequence[str]) -> str:
    lines = [
        "## Whole release",
        "",
        "`invoke release --tag version/1.1.0 --yes` of the demo scaled to N packages and M "
        "images (`bench/scaled.py`: a hatchling `common` package and N-1 setuptools `node` "
        "packages, node k pinned to `common` and to node k-1, versions kept as in the demo; "
        "M images `FROM scratch` with the channels codename, minor and latest), against the "
        "seed's pipeline doing the same work in the same script: the version written into "
        "the same files, committed and pushed; `python -m build` of each package; `twine "
        "upload` of each; `docker build` and `docker push` of each image; then `docker "
        "pull`, `docker tag`, `docker push` for each channel. Ours does more on top (twine "
        "check, the metadata version check, a smoke install with imports, the comparison "
        "with the index and the registry, state notes). Every run releases a freshly "
        "generated repository with new project and image names (nothing is already done), "
        "into one real pypiserver, Docker engine and registry on 127.0.0.1; the two sides "
        "alternate and swap which goes first; one warm-up run of each (not counted) fills "
        "pip's, uv's and the engine's caches. After every run the index and the registry "
        "are checked to hold all files and tags. The runs go round after round over every "
        "size, so that the shared machine's changing load spreads over all of them. The CPU "
        "column counts the processes each side starts (for ours the `invoke` process, its "
        "build hooks, uv and git; for the reference every CLI call and what it starts); the "
        "Docker engine, the registry and the index serve both and are not counted. The UI "
        "and Discord steps are not configured: the seed's pipeline of the issue has no "
        "counterpart for them.",
        "",
        f"- Command: `{command_line('release.py', args)}`",
        f"- Date: {DATE}; load average (1 / 5 / 15 min) after it: {load()}",
        "",
        "| packages N | images M | reference (median) | ours (median) | ours / reference "
        "| CPU, reference / ours (median) | runs (seconds: reference; ours) |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        ref, our = row["ref_median"], row["our_median"]
        raw = (
            ", ".join(f"{t:.1f}" for t in row["reference"])
            + "; "
            + ", ".join(f"{t:.1f}" for t in row["ours"])
        )
        cpu = f"{row['ref_cpu']:.1f} s / {row['our_cpu']:.1f} s" if "ref_cpu" in row else ""
        lines.append(
            f"| {row['packages']} | {row['images']} | {ref:.1f} s | {our:.1f} s "
            f"| {our / ref:.2f}x | {cpu} | {raw} |"
        )
    lines += ["", *release_matrix(rows), *release_growth(rows), "", *release_phases(rows)]
    lines += ["", *release_verdict(rows)]
    return "\n".join(lines) + "\n"


def _by_size(rows: list[Row]) -> dict[tuple[int, int], Row]:
    return {(row["packages"], row["images"]): row for row in rows}


def release_matrix(rows: list[Row]) -> list[str]:
    """N down, M across: ``ours / reference`` seconds (medians), when the grid was run."""
    sizes = _by_size(rows)
    ns = sorted({n for n, _ in sizes})
    ms = sorted({m for _, m in sizes})
    if len(sizes) != len(ns) * len(ms) or len(ns) < 2 or len(ms) < 2:
        return []
    lines = [
        "The same medians as a grid (ours / reference, seconds):",
        "",
        "| | " + " | ".join(f"M={m}" for m in ms) + " |",
        "|---|" + "---:|" * len(ms),
    ]
    for n in ns:
        cells = [
            f"{sizes[(n, m)]['our_median']:.1f} / {sizes[(n, m)]['ref_median']:.1f}" for m in ms
        ]
        lines.append(f"| N={n} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def release_growth(rows: list[Row]) -> list[str]:
    sizes = _by_size(rows)
    lines: list[str] = []
    for label, low, high in (
        ("package", (1, 1), (4, 1)),
        ("image", (1, 1), (1, 4)),
    ):
        if low in sizes and high in sizes:
            steps = (high[0] - low[0]) + (high[1] - low[1])
            ref = (sizes[high]["ref_median"] - sizes[low]["ref_median"]) / steps
            our = (sizes[high]["our_median"] - sizes[low]["our_median"]) / steps
            lines.append(
                f"- each further {label} ({low[0]}x{low[1]} -> {high[0]}x{high[1]}): "
                f"reference +{ref:.1f} s, ours +{our:.1f} s"
            )
    if (1, 1) in sizes and (4, 4) in sizes:
        ref = sizes[(4, 4)]["ref_median"] / sizes[(1, 1)]["ref_median"]
        our = sizes[(4, 4)]["our_median"] / sizes[(1, 1)]["our_median"]
        lines.append(f"- 1x1 -> 4x4: the reference takes {ref:.1f}x as long, ours {our:.1f}x")
    if lines:
        lines = ["Growth (from the medians):", "", *lines, ""]
    return [*lines, RELEASE_NOTES]


RELEASE_NOTES = (
    "Why. The reference is sequential: each `python -m build` creates two pip-built "
    "isolated environments (one for the sdist, one for the wheel built from it) and runs "
    "four backend hooks, each a new Python process importing the backend; each `twine "
    "upload`, `docker build` and `docker push` is a new process; each channel costs a "
    "`docker pull` (a manifest round trip, the image being local), a `docker tag` and a "
    "`docker push` (the engine checks every layer with the registry). Ours builds the "
    "packages in parallel threads (one per core), each in one uv-built environment shared "
    "by its sdist and its wheel, while the engine builds the images concurrently; uploads, "
    "pushes and the other side effects start only when all of that local work has passed "
    '(docs/tasks.md "Tasks"), and each channel is one manifest copy in the registry. The '
    "package builds dominate ours (a setuptools package's environment and four hooks, "
    "each hook importing setuptools, are about 1.3 s of CPU here; the hatchling one about "
    "0.7 s), so ours grows with N by a fraction of the reference's growth. With M both sides "
    "grow by well under a second per image: both build in the same engine, and ours builds "
    "its images concurrently, but on 2 cores they compete with the package builds, so at "
    "N=1 ours' lead narrows as M grows. Both sides share the same 2 cores with other jobs: "
    "the raw runs in the table show the spread."
)


def release_phases(rows: list[Row]) -> list[str]:
    """When each side finished what, at the largest size (medians over its runs)."""
    row = max(rows, key=lambda r: (r["packages"] * r["images"], r["packages"]))
    lines = [
        f"Where the time goes at N={row['packages']}, M={row['images']} (median seconds from "
        "the start; ours from the progress lines `invoke release` prints):",
        "",
        "| ours: finished | at | reference: finished | at |",
        "|---|---:|---|---:|",
    ]
    ours = list(row.get("our_phases", {}).items())
    reference = list(row.get("ref_phases", {}).items())
    for index in range(max(len(ours), len(reference))):
        left = ours[index] if index < len(ours) else ("", None)
        right = reference[index] if index < len(reference) else ("", None)
        cells = [
            f"`{left[0]}`" if left[0] else "",
            f"{left[1]:.1f} s" if left[1] is not None else "",
            right[0],
            f"{right[1]:.1f} s" if right[1] is not None else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def release_verdict(rows: list[Row]) -> list[str]:
    row = _by_size(rows).get((4, 4))
    if row is None:
        return ["Target (ours <= 0.6x the reference at N=M=4): not measured in this run."]
    ratio = row["our_median"] / row["ref_median"]
    if ratio <= RELEASE_TARGET:
        return [f"Target (ours <= 0.6x the reference at N=M=4): **met** ({ratio:.2f}x)."]
    return [
        f"Target (ours <= 0.6x the reference at N=M=4): **missed** ({ratio:.2f}x, "
        f"{ratio / RELEASE_TARGET - 1:.0%} over)."
    ]


# -- start-up ----------------------------------------------------------------------


def startup_section(installed: list[Row], none: list[Row], args: Sequence[str]) -> str:
    lines = [
        "## Start-up",
        "",
        "`invoke --list` in this repository, and `invoke check-version --offline` of the demo "
        "(a copy with a bare remote and an annotated `version/1.1.0` tag, every step "
        "configured, fake credentials in the environment so every step's own checks run and "
        "pass), each against `invoke --list` over a one-task `tasks.py`, alternating in the "
        "same script; medians of wall time, and of the child's CPU time (user + system), "
        "which a busy machine disturbs less.",
        "",
        "invoke does not write bytecode (its `--write-pyc` flag is off), so a checkout used "
        "only through `invoke -r` compiles `release/` on every start, while an installed "
        "`release-tasks` has its bytecode (pip compiles at install). The targets are judged "
        "on the installed case; the checkout without bytecode is shown too.",
        "",
        f"- Command: `{command_line('startup.py', args)}` (and `--bytecode none`)",
        f"- Date: {DATE}; load average (1 / 5 / 15 min) after it: {load()}",
        "",
        "| command | bytecode | bare `--list` (median) | ours (median) | ratio, wall "
        "| ratio, CPU | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in [*installed, *none]:
        met = "yes" if row["ratio_wall"] <= row["target"] else "**no**"
        lines.append(
            f"| `{row['command']}` | {row['bytecode']} | {row['ref_wall'] * 1000:.0f} ms "
            f"| {row['our_wall'] * 1000:.0f} ms | {row['ratio_wall']:.2f}x "
            f"| {row['ratio_cpu']:.2f}x | <= {row['target']}x | {met} |"
        )
    lines.append("")
    for row in installed:
        ratio, target = row["ratio_wall"], row["target"]
        if ratio <= target:
            lines.append(f"- `{row['command']}`: target **met** ({ratio:.2f}x <= {target}x).")
        else:
            lines.append(
                f"- `{row['command']}`: target **missed** ({ratio:.2f}x, {target}x allowed: "
                f"{(ratio - target) * row['ref_wall'] * 1000:.0f} ms too slow)."
            )
    missed = any(row["ratio_wall"] > row["target"] for row in installed)
    lines += ["", STARTUP_NOTES_MISSED if missed else STARTUP_NOTES_MET]
    return "\n".join(lines) + "\n"


STARTUP_NOTES_COMMON = (
    "What was changed for it (each a small commit, behaviour unchanged). First session: the "
    "upload credential check imported twine's configuration reader, and with it requests and "
    "keyring, even when there is no `~/.pypirc` (over 100 ms): it now imports it only when "
    "the file exists; `release.images` imported docker and requests at module level, and "
    "the registry credential check imported docker to find no Docker config file: both now "
    "import them where they are used; the git CLI wrapper remembers the common git "
    "directory and a full hash's files and tree listing within a process. Second session "
    "(2.22x to the figure above): every step's pre-flight checks moved out of the step "
    "modules into light modules (`release/checks/`, one per step; the step's `problems` "
    "delegates to them), so `check-version` imports none of the build, upload, image, "
    "Discord and UI machinery (about 40 ms; `tests/integration/test_startup_imports.py` "
    "guards it); `pathspec` is imported only when a wildmatch is needed, not for a literal "
    "branch pattern such as `main`; the plan's upload line no longer imports the "
    "announcement renderer; two git subprocesses fewer. `invoke --list` imports only "
    "`release.core.console` and invoke itself."
)
STARTUP_NOTES_MET = STARTUP_NOTES_COMMON
STARTUP_NOTES_MISSED = (
    STARTUP_NOTES_COMMON
    + "\n\nWhy `check-version` is still over: what is left is the work it exists to do, "
    "measured in-process on this machine (installed bytecode, a quiet moment): about 32 ms "
    "for rich (`rich.console` 22 ms, `rich.table` 5 ms, rendering 4 ms) to print the plan "
    "table (the issue names rich's live display as heavy, not its console; the standards "
    "ask for rich's tables, so there is no hand-written plain table for it); about 26 ms "
    "for 13 git subprocesses at about 2 ms each (HEAD and its tags, the tag, the tagged "
    "`pyproject.toml` and tree listing, the branches containing the commit, the remote and "
    "its default branch, the clean-tree status, the bump author, the changelog, the notify "
    "state note); about 13 ms for `pathspec`, which expands the demo's version-file globs "
    "(the configuration names it for git's wildmatch rules); about 26 ms importing the "
    "configuration, plan, version, protection and check modules with `packaging` and "
    "`tomllib` (Python 3.11 spends about 0.4 ms creating each of their 25 frozen "
    "dataclasses); about 19 ms of Python work to parse and validate three `pyproject.toml` "
    "(the working tree's for the tag prefix, the tagged one, the default branch's rules), "
    "plan and check; and invoke's own parser, which deep-copies the argument definitions of "
    "all eleven tasks before it runs one. Removing rich and pathspec from this path would "
    "be needed to reach 1.6x; both are the libraries the project's standards ask for."
)


# -- memory ------------------------------------------------------------------------


MEMORY_TARGET = 50.0


def memory_section(rows: list[Row], args: Sequence[str]) -> str:
    base = rows[0]
    lines = [
        "## Memory",
        "",
        "Peak resident memory of `invoke upload --tag version/1.1.0` (pre-flight, the build "
        "step finding the verified files, the comparison with the index, the upload of the "
        "sdist and the wheel to a real pypiserver, the state note) for a one-package demo "
        "whose package carries a payload of random bytes (so both files are as large as the "
        "payload), against the same command with a 1 MB payload, alternating in the same "
        "script. `invoke build` runs first and is not measured. The peak is `ru_maxrss` of "
        "`RUSAGE_CHILDREN` in a small wrapper process around the command alone (its largest "
        "descendant: the `invoke` process).",
        "",
        f"- Command: `{command_line('memory.py', args)}`",
        f"- Date: {DATE}; load average (1 / 5 / 15 min) after it: {load()}",
        "",
        "| payload (each file) | peak RSS (median) | growth over "
        f"{base['payload_mb']} MB | upload command time (median) | runs (peaks, MB) |",
        "|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        peaks = ", ".join(f"{p:.1f}" for p in row["peaks_mb"])
        lines.append(
            f"| {row['payload_mb']} MB | {row['peak_mb']:.1f} MB "
            f"| {row['peak_mb'] - base['peak_mb']:+.1f} MB | {row['seconds']:.1f} s | {peaks} |"
        )
    largest = rows[-1]
    growth = largest["peak_mb"] - base["peak_mb"]
    met = growth <= MEMORY_TARGET
    lines += [
        "",
        f"Target (a {largest['payload_mb']} MB artifact grows the peak by at most "
        f"{MEMORY_TARGET:.0f} MB): **{'met' if met else 'missed'}** ({growth:+.1f} MB).",
        "",
        "Each file is streamed from disk: the sha256 and twine's metadata reader read in "
        "chunks, and the upload is a multipart body read from the open file "
        "(`requests_toolbelt`'s encoder), never the whole file in memory.",
    ]
    return "\n".join(lines) + "\n"


# -- RESULTS.md --------------------------------------------------------------------


def sections(text: str) -> dict[str, str]:
    """The ``## `` sections of ``text`` by heading (each with its heading line)."""
    found: dict[str, str] = {}
    for match in re.finditer(r"^## (.+?)\n.*?(?=^## |\Z)", text, re.DOTALL | re.MULTILINE):
        found[match[1].strip()] = match[0].rstrip("\n") + "\n"
    return found


def write_results(new: Mapping[str, str]) -> None:
    old = sections(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    merged = {**old, **new}
    names = [n for n in ORDER if n in merged] + [n for n in merged if n not in ORDER]
    body = "\n".join(merged[name] for name in names)
    RESULTS.write_text(f"{TITLE}\n\n{body}", encoding="utf-8")


def method_section(started: str, ended: str, date: str, commands: list[str]) -> str:
    lines = [
        "## Method and machine",
        "",
        "Every number below comes from `python bench/run.py` (each section names the command "
        "that reproduces it alone). Each benchmark runs our way and the reference way in the "
        "same script, alternating, against real services on 127.0.0.1, and reports medians; "
        "the raw runs are in the tables. The machine is shared: other jobs ran on the same 2 "
        "cores during the runs (load average shown), which widens the spread of both sides "
        "alike.",
        "",
        *machine(),
        f"- Last `bench/run.py`: {date}, running {', '.join(commands)}; load average "
        f"(1 / 5 / 15 min) at its start: {started}, at its end: {ended}. Each section gives "
        "its own date.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choices = ("release", "startup", "memory", "channel-move")
    parser.add_argument("--only", nargs="+", choices=choices, default=list(choices))
    parser.add_argument("--quick", action="store_true", help="fewer runs (not for publishing)")
    args = parser.parse_args()
    quick = args.quick
    started = load()
    new: dict[str, str] = {}
    done: list[str] = []
    jobs: dict[str, Callable[[], None]] = {}

    def release() -> None:
        options = ["--runs", "1"] if quick else ["--grid", "--runs", "5"]
        new["Whole release"] = release_section(run_json("release.py", options), options)

    def startup() -> None:
        options = ["--runs", "5" if quick else "31"]
        installed = run_json("startup.py", [*options, "--bytecode", "installed"])
        none = run_json("startup.py", [*options, "--bytecode", "none"])
        new["Start-up"] = startup_section(installed, none, options)

    def memory() -> None:
        options = ["--runs", "1" if quick else "3"]
        new["Memory"] = memory_section(run_json("memory.py", options), options)

    def channel_move() -> None:
        options = ["--runs", "1" if quick else "5", "--write"]
        print("$ " + command_line("channel_move.py", options), file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(BENCH / "channel_move.py"), *options], check=True)

    jobs = {"release": release, "startup": startup, "memory": memory, "channel-move": channel_move}
    for name in choices:
        if name in args.only:
            jobs[name]()
            done.append(name)
    new["Method and machine"] = method_section(started, load(), DATE, done)
    write_results(new)
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
