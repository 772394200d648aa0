"""Start-up: ``invoke --list`` and ``invoke check-version --offline`` against a bare collection.

Runs each command alternately (reference, ours, reference, ours...) in the same script so
that machine noise hits both, and reports the ratio of medians. Targets (issue "Benchmarks"):
``--list`` at most 1.3x a one-task ``tasks.py``; ``check-version --offline`` at most 1.6x.

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
BARE = "from invoke import task\n\n\n@task\ndef hello(c):\n    print('hello')\n"
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@x",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@x",
}


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - started


def demo_repo(root: Path) -> Path:
    work = root / "demo"
    shutil.copytree(CHECKOUT / "examples" / "demo", work)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-qm", "demo"],
        ["tag", "version/1.0.0"],
    ):
        subprocess.run(["git", *args], cwd=work, env=ENV, check=True, capture_output=True)
    return work


def compare(
    reference: list[str], ref_cwd: Path, ours: list[str], our_cwd: Path, runs: int
) -> tuple[float, float]:
    timed(reference, ref_cwd), timed(ours, our_cwd)  # warm caches
    ref_times, our_times = [], []
    for _ in range(runs):
        ref_times.append(timed(reference, ref_cwd))
        our_times.append(timed(ours, our_cwd))
    return statistics.median(ref_times), statistics.median(our_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    invoke = [sys.executable, "-m", "invoke"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = root / "bare"
        bare.mkdir()
        (bare / "tasks.py").write_text(BARE)
        repo = demo_repo(root)
        rows = []
        ref, ours = compare([*invoke, "--list"], bare, [*invoke, "--list"], CHECKOUT, args.runs)
        rows.append(("invoke --list", ref, ours, 1.3))
        ref, ours = compare(
            [*invoke, "--list"],
            bare,
            [*invoke, "-r", str(CHECKOUT), "check-version", "--offline"],
            repo,
            args.runs,
        )
        rows.append(("invoke check-version --offline", ref, ours, 1.6))
    print("| command | bare collection (median s) | ours (median s) | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for name, ref, ours, target in rows:
        ratio = ours / ref
        met = "yes" if ratio <= target else "NO"
        print(f"| `{name}` | {ref:.3f} | {ours:.3f} | {ratio:.2f}x | <= {target}x | {met} |")


if __name__ == "__main__":
    main()
