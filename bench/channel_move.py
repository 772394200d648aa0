"""Moving a channel tag: the registry-side manifest copy against docker pull + tag + push.

For each image size (10, 100, 500 MB of incompressible data in one layer, built FROM
scratch) the script pushes ``bench/size-<N>mb:1.0.0`` to a local registry, then times,
alternately in the same run so machine noise hits both:

- **move**: ``RegistryClient.copy_manifest`` (GET the version's manifest, PUT it under the
  channel tag), as ``push-image`` and ``invoke channels --apply`` do;
- **pull+tag+push**: the seed's way with the docker CLI (``docker pull``, ``docker tag``,
  ``docker push``), each run after ``docker rmi`` of the image so the pull is real (the
  ``rmi`` is not timed).

It prints a Markdown table of medians and ratios, and with ``--write`` replaces the
"Channel move" section of ``bench/RESULTS.md``. Target (issue "Release channels"): the
move takes the same time whatever the size, and is at least 20x faster at 500 MB.

    python bench/channel_move.py [--sizes 10 100 500] [--runs 5] [--write]

Needs root or a running engine (``devservices`` starts dockerd and Debian's
docker-registry in a temporary folder, as the tests do) and the docker CLI on PATH.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
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

from devservices.engine import DockerEngine, docker_client  # noqa: E402
from devservices.registry import Registry  # noqa: E402
from release.core.config import Registry as RegistryConfig  # noqa: E402
from release.steps.images.registry import RegistryClient  # noqa: E402

RESULTS = CHECKOUT / "bench" / "RESULTS.md"
SECTION = "## Channel move"
CHUNK = 1 << 20


def build_image(engine: DockerEngine, workdir: Path, reference: str, megabytes: int) -> None:
    """Build FROM scratch with one COPY of ``megabytes`` MB of random bytes, then push."""
    context = workdir / f"context-{megabytes}"
    context.mkdir()
    with (context / "payload.bin").open("wb") as payload:
        for _ in range(megabytes):
            payload.write(os.urandom(CHUNK))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY payload.bin /payload.bin\n")
    client = docker_client(engine.docker_host, timeout=1800)
    try:
        client.images.build(path=str(context), tag=reference, rm=True, network_mode="none")
        repository, _, tag = reference.rpartition(":")
        for event in client.images.push(repository, tag, stream=True, decode=True):
            if "error" in event:
                raise SystemExit(f"push of {reference} failed: {event['error']}")
    finally:
        client.close()
    shutil.rmtree(context)


def docker(env: dict[str, str], *args: str) -> None:
    subprocess.run(["docker", *args], env=env, check=True, capture_output=True)


def remove_local(env: dict[str, str], repository: str) -> None:
    """``docker rmi`` every local tag of ``repository`` so the next pull downloads."""
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    if listed:
        docker(env, "rmi", "--force", *listed)


def seed_way(env: dict[str, str], repository: str, channel: str) -> float:
    remove_local(env, repository)
    started = time.perf_counter()
    docker(env, "pull", f"{repository}:1.0.0")
    docker(env, "tag", f"{repository}:1.0.0", f"{repository}:{channel}")
    docker(env, "push", f"{repository}:{channel}")
    return time.perf_counter() - started


def manifest_copy(client: RegistryClient, name: str, channel: str) -> float:
    started = time.perf_counter()
    client.copy_manifest(name, "1.0.0", channel)
    return time.perf_counter() - started


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        cpu = found[1].strip() if found else cpu
    except OSError:
        pass
    memory = ""
    try:
        total = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        memory = f", {int(total[1]) / 1024 / 1024:.0f} GB RAM" if total else ""
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Linux {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each way per size")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    if shutil.which("docker") is None:
        raise SystemExit("the docker CLI is not on PATH: the pull+tag+push side needs it")

    with tempfile.TemporaryDirectory(prefix="channel-move-") as folder:
        workdir = Path(folder)
        with DockerEngine(workdir / "engine") as engine, Registry(workdir / "registry") as registry:
            env = {**os.environ, "DOCKER_HOST": engine.docker_host}
            server = "{{.Server.Version}} (API {{.Server.APIVersion}})"
            versions = subprocess.run(
                ["docker", "version", "--format", server],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            rows = []
            with RegistryClient(RegistryConfig(registry.host)) as client:
                for size in args.sizes:
                    name = f"bench/size-{size}mb"
                    repository = f"{registry.host}/{name}"
                    print(f"building and pushing {repository}:1.0.0 ...", file=sys.stderr)
                    build_image(engine, workdir, f"{repository}:1.0.0", size)
                    moves, pulls = [], []
                    manifest_copy(client, name, "warm-up")
                    for run in range(args.runs):
                        moves.append(manifest_copy(client, name, f"move-{run}"))
                        pulls.append(seed_way(env, repository, f"seed-{run}"))
                        print(f"  {size} MB run {run + 1}: move {moves[-1] * 1000:.1f} ms, "
                              f"pull+tag+push {pulls[-1]:.2f} s", file=sys.stderr)  # fmt: skip
                    remove_local(env, repository)
                    move, pull = statistics.median(moves), statistics.median(pulls)
                    rows.append((size, move, pull))
    table = [
        "| image | move (manifest copy) | docker pull + tag + push | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for size, move, pull in rows:
        table.append(f"| {size} MB | {move * 1000:.1f} ms | {pull:.2f} s | {pull / move:,.0f}x |")
    verdict = [
        f"Target (at least 20x faster at 500 MB): {'met' if pull / move >= 20 else 'NOT met'} "
        f"({pull / move:,.0f}x)."
        for size, move, pull in rows
        if size == 500
    ]
    date = datetime.date.today().isoformat()
    command = (
        f"python bench/channel_move.py --sizes {' '.join(map(str, args.sizes))} --runs {args.runs}"
    )
    section = "\n".join(
        [
            SECTION,
            "",
            "Moving a channel tag (`petronas`, `X.Y`, `latest`) the way `push-image` and "
            "`invoke channels --apply` do it (the registry copies the manifest: one GET and one "
            "PUT of a few hundred bytes) against the seed's way (`docker pull`, `docker tag`, "
            "`docker push`, after `docker rmi` so the pull is real; the `rmi` is not timed). "
            "One layer of random bytes per image, `FROM scratch`; local registry (Debian's "
            "docker-registry 2.8) and engine on 127.0.0.1; both ways alternate in the same run; "
            f"medians of {args.runs} runs.",
            "",
            f"- Machine: {machine()}; engine {versions}",
            f"- Date: {date}",
            f"- Command: `{command}`",
            "",
            *table,
            "",
            "The move does not depend on the image size (no layer is read); the seed's way "
            "grows with it, mostly in the pull (download and extraction); its push only finds "
            "that every layer exists. The move's few milliseconds of spread are the shared "
            "machine's noise, not the size.",
            *(["", *verdict] if verdict else []),
            "",
        ]
    )
    print(section)
    if args.write:
        write_section(section)
    return 0


def write_section(section: str) -> None:
    """Replace (or append) the "Channel move" section of bench/RESULTS.md."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
