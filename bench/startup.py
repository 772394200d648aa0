"""Start-up: ``invoke --list`` and ``invoke check-version --offline`` against a bare collection.

Each pair of commands runs alternately (reference, ours, reference, ours...) in the same
script so that machine noise hits both; the ratio of the medians is reported, for the wall
time and for the CPU time of the child (user + system, from ``RUSAGE_CHILDREN``), which a
busy machine disturbs less. Targets (issue 24): ``--list`` in this repository at most 1.1x
``--list`` over a one-task ``tasks.py``; ``check-version --offline`` of the demo at most
1.3x the same.

``check-version`` runs on a copy of ``examples/demo`` with a bare remote and an annotated
``version/1.1.0`` tag (``devservices.demo.make_demo_repository``), every step configured and
fake credentials in the environment (so every step's checks run and pass; nothing is
contacted with ``--offline``).

Bytecode: invoke turns off writing ``.pyc`` files (its ``--write-pyc`` flag), so a
checkout used only through ``invoke -r`` compiles ``release/`` on every start, while an
installed ``release-tasks`` has them (pip compiles at install). ``--bytecode installed``
(the default) compiles the checkout first, as pip does; ``--bytecode none`` removes the
``__pycache__`` folders first and measures the checkout as invoke leaves it.

    python bench/startup.py [--runs 21] [--bytecode installed|none] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))

BARE = "from invoke import task\n\n\n@task\ndef hello(c):\n    print('hello')\n"
TARGETS = {"list": 1.1, "check-version": 1.3}  # issue 24


def fake_credentials() -> dict[str, str]:
    """Credentials of the right shape for every step; no service is contacted (--offline)."""
    from devservices.azure import publish_profile

    return {
        "TWINE_USERNAME": "bench",
        "TWINE_PASSWORD": "bench-password-not-a-secret",
        "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/bench-token",
        "AZURE_WEBAPP_PUBLISH_PROFILE": publish_profile("demo-ui", "bench-password"),
    }


def child_env() -> dict[str, str]:
    from scaled import release_env

    return release_env(fake_credentials())


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run; fails loudly if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def compare(
    reference: tuple[list[str], Path], ours: tuple[list[str], Path], runs: int, env: dict[str, str]
) -> dict[str, float]:
    timed(*reference, env), timed(*ours, env)  # warm the page cache
    ref_wall, ref_cpu, our_wall, our_cpu = [], [], [], []
    for _ in range(runs):
        wall, cpu = timed(*reference, env)
        ref_wall.append(wall)
        ref_cpu.append(cpu)
        wall, cpu = timed(*ours, env)
        our_wall.append(wall)
        our_cpu.append(cpu)
    return {
        "ref_wall": statistics.median(ref_wall),
        "our_wall": statistics.median(our_wall),
        "ref_cpu": statistics.median(ref_cpu),
        "our_cpu": statistics.median(our_cpu),
    }


def prepare_bytecode(mode: str) -> None:
    """Remove the checkout's bytecode; with ``installed``, compile it as pip does."""
    for cache in [*(CHECKOUT / "release").rglob("__pycache__"), CHECKOUT / "__pycache__"]:
        shutil.rmtree(cache, ignore_errors=True)
    if mode == "installed":
        sources = [str(CHECKOUT / "release"), str(CHECKOUT / "tasks.py")]
        subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], check=True)


def measure(runs: int, bytecode: str) -> list[dict[str, object]]:
    from devservices.demo import make_demo_repository

    prepare_bytecode(bytecode)
    env = child_env()
    invoke = [sys.executable, "-m", "invoke"]
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp)
        bare = root / "bare"
        bare.mkdir()
        (bare / "tasks.py").write_text(BARE)
        repo = make_demo_repository(root)
        reference = ([*invoke, "--list"], bare)
        numbers = compare(reference, ([*invoke, "--list"], CHECKOUT), runs, env)
        rows.append({"name": "list", "command": "invoke --list", **numbers})
        ours = ([*invoke, "-r", str(CHECKOUT), "check-version", "--offline"], repo)
        numbers = compare(reference, ours, runs, env)
        rows.append(
            {"name": "check-version", "command": "invoke check-version --offline", **numbers}
        )
    for row in rows:
        row["target"] = TARGETS[str(row["name"])]
        row["ratio_wall"] = float(row["our_wall"]) / float(row["ref_wall"])  # type: ignore[arg-type]
        row["ratio_cpu"] = float(row["our_cpu"]) / float(row["ref_cpu"])  # type: ignore[arg-type]
        row["bytecode"] = bytecode
        row["runs"] = runs
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| command | bytecode | bare `--list` wall (median) | ours wall (median) | ratio wall "
        "| ratio CPU | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        met = "yes" if float(row["ratio_wall"]) <= float(row["target"]) else "**no**"  # type: ignore[arg-type]
        lines.append(
            f"| `{row['command']}` | {row['bytecode']} | {float(row['ref_wall']):.3f} s "  # type: ignore[arg-type]
            f"| {float(row['our_wall']):.3f} s | {float(row['ratio_wall']):.2f}x "  # type: ignore[arg-type]
            f"| {float(row['ratio_cpu']):.2f}x | <= {row['target']}x | {met} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--bytecode", choices=("installed", "none"), default="installed")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    rows = measure(args.runs, args.bytecode)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
