"""Peak memory of `mapper validate --full` against the run it checks, on the demo.

    python -m benchmarks.validate_memory --scale 30 [--target file|mongo]

Creates the demo in a fresh PostgreSQL database (the test bed's servers, or those in
`MAPPER_TEST_POSTGRES_URL` / `MAPPER_TEST_MONGODB_URI`), runs the shipped mappings into the
target, then validates every document; each command runs in a process of its own, whose peak
resident memory (VmHWM) is reported with the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import (
    Config,
    _drop_mongo,
    _mongo_database,
    _tag,
    database,
    servers,
    settle,
)

ROOT = Path(__file__).resolve().parents[1]


# The peak of the command's own memory (VmHWM), read as it ends: `ru_maxrss` of a child would
# count the memory of this process at the fork (it holds the demo just made).
_PROBE = """\
import os, sys
from mapper.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
with open(os.environ["MAPPER_PEAK_FILE"], "w") as out:
    out.write(peak)
sys.exit(code)
"""


def measured(command: list[str], work: str) -> tuple[int, float, float]:
    """(exit code, peak RSS in MB, seconds) of `mapper COMMAND...` in a process of its own."""
    peak = Path(work) / "peak"
    started = time.perf_counter()
    code = subprocess.run(
        [sys.executable, "-c", _PROBE, *command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "MAPPER_PEAK_FILE": str(peak)},
    ).returncode
    return code, int(peak.read_text()) / 1024, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.validate_memory")
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--target", choices=("file", "mongo"), default="file")
    args = parser.parse_args(argv)
    from mapper.demo import create_demo

    config = Config(variants=["mapper-mongo"] if args.target == "mongo" else [])
    with (
        servers(config) as (postgres, mongo),
        database(postgres, f"mapper_validate_{_tag(args.scale)}_{os.getpid()}", False) as url,
        tempfile.TemporaryDirectory() as work,
    ):
        create_demo(url, scale=args.scale, seed=42)
        settle(url)
        target = (
            f"file:{work}/out"
            if args.target == "file"
            else _mongo_database(mongo, f"mapper_validate_{os.getpid()}")
        )
        common = [str(ROOT / "mappings"), "--source", url, "--target", target]
        decimals = [] if args.target == "file" else ["--decimal-as", "string"]
        try:
            runs = {
                "run": measured(
                    ["run", *common, *decimals, "--rejects", f"{work}/rejects.jsonl"], work
                ),
                "validate --full": measured(["validate", *common, *decimals, "--full"], work),
            }
        finally:
            if args.target == "mongo":
                _drop_mongo(target)
    for name, (code, peak, seconds) in runs.items():
        print(f"{name:<16} exit {code}  peak RSS {peak:7.1f} MB  {seconds:7.1f} s")
    ratio = runs["validate --full"][1] / runs["run"][1]
    print(f"validate / run peak RSS: {ratio:.2f}x (scale {args.scale:g}, {args.target} target)")
    return 0 if all(code == 0 for code, _, _ in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
