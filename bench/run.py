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


SIDES = ("reference", "tuned", "own", "ours")
SIDE_NAMES = {
    "reference": "seed (sequential)",
    "tuned": "tuned by hand",
    "own": "project's own",
    "ours": "ours",
}
PLOT = BENCH / "release.png"
# The grid of the issue (N in 1, 4, 8 x M in 1, 4; N=8 real-size) and the packages-only
# real-size size against the project's own way; the slow seed pipeline only where a target
# compares with it (and 1x1).
RELEASE_SIZES = ("1x1", "1x4", "4x1", "4x4", "8x1r", "8x4r", "8x0r")
SEED_SIZES = ("1x1", "4x4")
RSS_TARGET_MB = 200.0


def _median(row: Row, side: str) -> float | None:
    got = row.get(side)
    return float(got["median"]) if isinstance(got, dict) else None


def release_section(rows: list[Row], args: Sequence[str], plot: str | None) -> str:
    lines = [
        "## Whole release",
        "",
        "`invoke release --tag version/1.1.0 --yes` of a generated monorepo (`bench/scaled.py`) "
        "with N packages and M images, against up to three references doing the same "
        "publishing in the same script, alternating (each side goes first in turn), against "
        "one real pypiserver, Docker engine and registry on 127.0.0.1. Sizes `NxM` use the "
        "demo layout (a hatchling `common` and N-1 setuptools `node` packages); `NxMr` the "
        "real-size layout (N `setup.py` packages reading the monorepo's README, siblings and "
        '16 real third-party dependencies pinned `==`, `wheel-from = "source"`); M images '
        "`FROM scratch` with the channels codename, minor and latest. The sides:",
        "",
        "- **seed (sequential)**: the seed's pipeline, one CLI call after another: the "
        "version written, commit, push; `python -m build` of each package; `twine upload` of "
        "each; `docker build` and `docker push` of each image; `docker pull`, `docker tag`, "
        "`docker push` for each channel.",
        "- **tuned by hand**: the fastest a person would script today: the version files "
        "with `sed`, one commit and push; `uv build` of every package in parallel (one "
        "process per core); one `twine upload` of all files; every `docker build` in "
        "parallel, then every `docker push` in parallel; each channel tag by one manifest "
        "PUT (`curl`).",
        "- **project's own** (real-size layout, packages only): the version files with `sed`, "
        "one commit and push; `python setup.py sdist bdist_wheel` in each package with the "
        "installed setuptools and wheel; `twine upload` of each, sequentially.",
        "- **ours**: everything above plus what the references skip: twine check, the "
        "version inside every file, a smoke install of all wheels into a fresh environment "
        "with imports, the comparison with the index and the registry, state notes.",
        "",
        "Every run releases a freshly generated repository with new project and image names "
        "(nothing is already done); after every run the index and the registry are checked "
        "to hold every file and tag. One warm-up run of each side per layout (not counted) "
        "fills pip's, uv's and the engine's caches for all sides alike; the real-size smoke "
        "install takes its third-party wheels from the same local index, seeded once "
        "(`RELEASE_SMOKE_INDEX_URL`), so no side depends on the network. CPU counts the "
        "processes each side starts; the engine, registry and index serve all sides and are "
        "not counted.",
        "",
        f"- Command: `{command_line('release.py', args)}`",
        f"- Date: {DATE}; load average (1 / 5 / 15 min) after it: {load()}",
        "",
        "| size | seed | tuned | own | ours | ours / tuned | ours / seed | ours / own "
        "| CPU tuned / ours | peak RSS ours |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        medians = {side: _median(row, side) for side in SIDES}
        cells = [f"{v:.1f} s" if v is not None else "-" for v in medians.values()]
        our = medians["ours"] or 0.0

        ratios = {side: f"{our / other:.2f}x" if other else "-" for side, other in medians.items()}
        cpu = "-"
        if "tuned" in row and "ours" in row:
            cpu = f"{row['tuned']['cpu']:.1f} s / {row['ours']['cpu']:.1f} s"
        rss = row.get("ours", {}).get("phases", {}).get("peak RSS MB")
        lines.append(
            f"| {row['size']} | "
            + " | ".join(cells)
            + f" | {ratios['tuned']} | {ratios['reference']} | {ratios['own']} | {cpu} "
            + f"| {f'{rss:.0f} MB' if rss else '-'} |"
        )
    lines += ["", "Raw runs (seconds):", "", "| size | side | runs |", "|---|---|---|"]
    for row in rows:
        for side in SIDES:
            if side in row:
                raw = ", ".join(f"{t:.1f}" for t in row[side]["runs"])
                lines.append(f"| {row['size']} | {SIDE_NAMES[side]} | {raw} |")
    if plot:
        lines += ["", f"![seconds against packages]({plot})"]
    lines += ["", *release_growth(rows), *release_phases(rows), *release_targets(rows)]
    return "\n".join(lines) + "\n"


def _sizes(rows: list[Row]) -> dict[str, Row]:
    return {str(row["size"]): row for row in rows}


def release_growth(rows: list[Row]) -> list[str]:
    sizes = _sizes(rows)
    lines: list[str] = []
    for label, low, high in (
        ("package", "1x1", "4x1"),
        ("package", "1x4", "4x4"),
        ("image", "1x1", "1x4"),
        ("image", "4x1", "4x4"),
        ("image", "8x1r", "8x4r"),
    ):
        if low not in sizes or high not in sizes:
            continue
        n0, m0 = (int(x) for x in low.rstrip("r").split("x"))
        n1, m1 = (int(x) for x in high.rstrip("r").split("x"))
        steps = (n1 - n0) + (m1 - m0)
        parts = []
        for side in SIDES:
            a, b = _median(sizes[low], side), _median(sizes[high], side)
            if a is not None and b is not None:
                parts.append(f"{SIDE_NAMES[side]} {(b - a) / steps:+.2f} s")
        lines.append(f"- each further {label} ({low} -> {high}): " + ", ".join(parts))
    return ["Growth (from the medians):", "", *lines, ""] if lines else []


def release_phases(rows: list[Row]) -> list[str]:
    """When each side finished what (medians over its runs), at the sizes the targets use."""
    sizes = _sizes(rows)
    lines: list[str] = []
    for name in ("4x4", "8x4r", "8x0r"):
        row = sizes.get(name)
        if row is None:
            continue
        lines += [
            f"Where the time goes at {name} (median seconds from the start; ours from the "
            "progress lines `invoke release` prints: `X ready` = its local work done, "
            "`X done` = published):",
            "",
            "| side | finished | at |",
            "|---|---|---:|",
        ]
        for side in SIDES:
            phases = row.get(side, {}).get("phases", {})
            for phase, at in phases.items():
                if phase == "peak RSS MB":
                    continue
                shown = phase.replace(" prepared", " ready")
                lines.append(f"| {SIDE_NAMES[side]} | {shown} | {at:.1f} s |")
        lines.append("")
    return lines


def release_targets(rows: list[Row]) -> list[str]:
    sizes = _sizes(rows)
    lines = ["Targets (medians, same run):", ""]

    def check(label: str, size: str, side: str, limit: float) -> None:
        row = sizes.get(size)
        our = _median(row, "ours") if row else None
        other = _median(row, side) if row else None
        if our is None or other is None:
            lines.append(f"- {label}: **not measured** in this run.")
            return
        ratio = our / other
        verdict = "met" if ratio <= limit else "missed"
        lines.append(f"- {label}: **{verdict}** ({ratio:.2f}x, {our:.1f} s / {other:.1f} s).")

    check("real-size N=8, packages only (8x0r): ours <= 1.0x the project's own", "8x0r", "own", 1.0)
    check("N=4, M=4: ours <= 1.2x tuned", "4x4", "tuned", 1.2)
    check("N=4, M=4: ours <= 0.3x the seed's", "4x4", "reference", 0.3)
    check("N=8 (real-size), M=4: ours <= 1.2x tuned", "8x4r", "tuned", 1.2)
    growth = []
    for low, high in (("1x1", "1x4"), ("4x1", "4x4"), ("8x1r", "8x4r")):
        if low in sizes and high in sizes:
            ours = (_median(sizes[high], "ours") or 0) - (_median(sizes[low], "ours") or 0)
            tuned = (_median(sizes[high], "tuned") or 0) - (_median(sizes[low], "tuned") or 0)
            growth.append((f"{low} -> {high}", ours / 3, tuned / 3))
    if growth:
        met = all(o <= t for _, o, t in growth)
        shown = "; ".join(f"{w}: ours {o:+.2f} s, tuned {t:+.2f} s" for w, o, t in growth)
        lines.append(
            f"- each further image grows ours no faster than tuned: "
            f"**{'met' if met else 'missed'}** ({shown})."
        )
    rss = sizes.get("8x4r", {}).get("ours", {}).get("phases", {}).get("peak RSS MB")
    if rss:
        verdict = "met" if rss <= RSS_TARGET_MB else "missed"
        lines.append(
            f"- peak RSS of `invoke release` at 8x4r <= {RSS_TARGET_MB:.0f} MB: **{verdict}** "
            f"({rss:.0f} MB, `ru_maxrss` of the process from `wait4`)."
        )
    return [*lines, ""]


def release_plot(rows: list[Row]) -> str | None:
    """Seconds against packages, one line per side and image count; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(8, 5))
    styles = {"reference": ":", "tuned": "--", "own": "-.", "ours": "-"}
    for side in SIDES:
        for m in sorted({int(row["images"]) for row in rows}):
            points = sorted(
                (int(row["packages"]), _median(row, side))
                for row in rows
                if int(row["images"]) == m and _median(row, side) is not None
            )
            if len(points) < 1:
                continue
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, styles[side], marker="o", label=f"{SIDE_NAMES[side]}, M={m}")
    axes.set_xlabel("packages N (N=8: real-size layout)")
    axes.set_ylabel("seconds (median)")
    axes.set_title("Whole release: seconds against packages")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)
    plt.close(figure)
    return PLOT.name


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
    "the file exists; the image step imported docker and requests at module level, and "
    "the registry credential check imported docker to find no Docker config file: both now "
    "import them where they are used; the git CLI wrapper remembers the common git "
    "directory and a full hash's files and tree listing within a process. Second session: "
    "every step's pre-flight checks moved into a light module of their own (each step "
    "package's `checks`), so `check-version` imports none of the build, upload, image, "
    "Discord and UI machinery (about 40 ms; `tests/integration/test_startup_imports.py` "
    "guards it); `pathspec` is imported only when a wildmatch is needed, not for a literal "
    "branch pattern such as `main`; the plan's upload line no longer imports the "
    "announcement renderer. Third session: the git wrapper remembers each remote's URL "
    "(forgotten when it runs a `git remote` or `git config` that may change one) and one "
    "tree listing per commit, and reads several files of a commit with one `git cat-file "
    "--batch` (the Dockerfiles here; the packages' `pyproject.toml` and the workflows "
    "elsewhere): 24 git processes to 18 for the demo, none asked twice "
    "(`tests/integration/test_git_memory.py` fails if one is); about 10 ms. `invoke --list` "
    "imports only `release.core.console` and invoke itself."
)
STARTUP_NOTES_MET = STARTUP_NOTES_COMMON
STARTUP_NOTES_MISSED = (
    STARTUP_NOTES_COMMON
    + "\n\nWhy `check-version` is still over (profiled with `python -X importtime` and "
    "`GIT_TRACE` on the same demo copy, installed bytecode, a quiet moment): 18 git "
    "processes, each asked once, at about 2 ms each (HEAD and its tags, the tag, the tagged "
    "commit's tree, `pyproject.toml` and Dockerfiles, the branches containing it, the "
    "remote, its default branch and that branch's rules, the clean-tree status, the bump "
    "author, the changelog, the notify state note): about 35 ms; `rich.console` 20 ms, "
    "to print the plan table (the standards ask for rich's tables); `release.run.context` "
    "17 ms (the configuration, plan, version and protection modules with `packaging` and "
    "`tomllib`); `pathspec` 12 ms, which expands the demo's version-file globs by git's "
    "wildmatch rules; regular expressions compiled at import across the modules; and the "
    "Python work of parsing and validating three `pyproject.toml` (the working tree's, the "
    "tagged one, the default branch's rules), planning and checking. 1.3x is about 30 ms "
    "above bare invoke: the git questions alone take more, and they are the checks "
    "themselves. One small cut is left: `rev-parse --is-shallow-repository` could be asked "
    "in the start-up's own `rev-parse` (one process). `invoke --list` is over by 1 ms "
    "(1.11x installed, 1.09x without bytecode): noise around 1.1x, nothing of ours runs."
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
    parser.add_argument("--runs", type=int, default=5, help="runs of each release size")
    parser.add_argument("--startup-runs", type=int, default=31, help="runs of each start-up")
    args = parser.parse_args()
    quick = args.quick
    started = load()
    new: dict[str, str] = {}
    done: list[str] = []
    jobs: dict[str, Callable[[], None]] = {}

    def release() -> None:
        runs = "1" if quick else str(args.runs)
        options = ["--sizes", *RELEASE_SIZES, "--runs", runs, "--seed-sizes", *SEED_SIZES]
        rows = run_json("release.py", options)
        new["Whole release"] = release_section(rows, options, release_plot(rows))

    def startup() -> None:
        options = ["--runs", "5" if quick else str(args.startup_runs)]
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
