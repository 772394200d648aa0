"""Memory: the peak resident memory of ``invoke upload`` of a 200 MB artifact, against the
same command uploading a 1 MB one, in the same script.

For each size, a one-package scaled demo (``bench/scaled.py``) gets a file of that many MB
of random bytes in its package, so its sdist and its wheel each carry it (incompressible:
the files are as large as the payload). ``invoke build`` builds and verifies them first
(not measured); then ``invoke upload --tag version/1.1.0`` (the task a CI job runs: the
pre-flight, the build step finding the verified files, the comparison with the index, the
upload of both files to a real pypiserver, the state note) runs under a small wrapper
process whose ``RUSAGE_CHILDREN`` peak is the peak resident set of that command alone
(``ru_maxrss`` of its largest descendant: the ``invoke`` process). The growth is the 200 MB
run's peak minus the 1 MB run's. Target (issue "Benchmarks"): at most 50 MB.

    python bench/memory.py [--sizes 1 200] [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaled import CHECKOUT, TAG, child_env, run, scaled_repo, services

TARGET_MB = 50
# Runs argv[2:] with its output in the file argv[1]; prints its peak RSS (KiB) and time.
WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
with open(sys.argv[1], "w") as log:
    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": code, "peak_kib": peak, "seconds": time.perf_counter() - started}))
"""


def measured(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(log), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if answer["code"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{log.read_text()[-3000:]}")
    return {"peak_mb": answer["peak_kib"] / 1024, "seconds": answer["seconds"]}


def bench(sizes: list[int], runs: int) -> list[dict[str, object]]:
    invoke = [sys.executable, "-m", "invoke", "-r", str(CHECKOUT)]
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        root = Path(tmp)
        with services(root / "services", images=False) as svc:
            env = child_env(svc)
            peaks: dict[int, list[float]] = {size: [] for size in sizes}
            seconds: dict[int, list[float]] = {size: [] for size in sizes}
            for attempt in range(runs):
                for size in sizes:  # alternate the sizes, each run on new project names
                    repo = scaled_repo(root / "repos", f"m{attempt}s{size}", 1, 0, payload_mb=size)
                    run([*invoke, "build", "--tag", TAG], repo.work, env)
                    log = root / f"upload-{attempt}-{size}.log"
                    numbers = measured([*invoke, "upload", "--tag", TAG], repo.work, env, log)
                    if "uploaded 2 file(s)" not in log.read_text():
                        raise SystemExit(f"the upload of {size} MB did not upload both files")
                    peaks[size].append(numbers["peak_mb"])
                    seconds[size].append(numbers["seconds"])
                    files = sorted((repo.work / ".git" / "release-dist").rglob("*.*"))
                    largest = max(f.stat().st_size for f in files) / (1 << 20)
                    print(
                        f"  {size} MB payload (largest file {largest:.0f} MB): peak "
                        f"{numbers['peak_mb']:.1f} MB, {numbers['seconds']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    for size in sizes:
        rows.append(
            {
                "payload_mb": size,
                "peaks_mb": peaks[size],
                "peak_mb": statistics.median(peaks[size]),
                "seconds": statistics.median(seconds[size]),
                "runs": runs,
            }
        )
    return rows


def table(rows: list[dict[str, object]]) -> str:
    base = float(rows[0]["peak_mb"])  # type: ignore[arg-type]
    lines = [
        "| artifact payload | peak RSS of `invoke upload` (median) | growth over the smallest "
        "| upload time (median) | runs |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        peak = float(row["peak_mb"])  # type: ignore[arg-type]
        lines.append(
            f"| {row['payload_mb']} MB | {peak:.1f} MB | {peak - base:+.1f} MB "
            f"| {float(row['seconds']):.1f} s | {row['runs']} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    rows = bench(sorted(args.sizes), args.runs)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
