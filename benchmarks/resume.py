"""A clean run, a resume after Ctrl-C at half of it, and a re-run, into the MongoDB-wire server.

    python -m benchmarks.resume --scale 10 [--repeat N]

Creates the demo in a fresh PostgreSQL database (the test bed's servers, or those in
`MAPPER_TEST_POSTGRES_URL` / `MAPPER_TEST_MONGODB_URI`) and times, each in a process of its
own, `mapper run` of the shipped mappings into an empty database; the same run again into an
empty database, sent SIGINT (Ctrl-C) once its checkpoints count half of the rows, then
`mapper run --resume`; and a re-run over the finished target (every document unchanged).
With `--repeat N` the whole sequence runs N times and each step's fastest time is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_SECONDS = 3600  # for the checkpoints to reach half: a hung run, not a slow one


def _mapper(*args: str) -> list[str]:
    return [sys.executable, "-m", "mapper", "-q", "run", *args]


def timed(command: list[str]) -> tuple[int, float]:
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    return code, time.perf_counter() - started


def _written(state: Path) -> int:
    try:
        saved = json.loads(state.read_text())
    except (OSError, ValueError):  # not written yet, or being replaced
        return 0
    return sum(c.get("passed", 0) for c in saved.get("collections", {}).values())


def interrupted_at(command: list[str], state: Path, rows: int) -> tuple[int, float]:
    """Run `command`, send it SIGINT once `state` counts `rows` read rows; (exit, seconds)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while process.poll() is None and _written(state) < rows:
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the run never reached half of its rows")
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    code = process.wait()
    return code, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.resume")
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="keep each step's fastest")
    args = parser.parse_args(argv)
    from mapper.demo import create_demo

    source = f"mapper_resume_{harness._tag(args.scale)}_{os.getpid()}"
    with (
        harness.servers(harness.Config(variants=["mapper-mongo"])) as (postgres, mongo),
        harness.database(postgres, source, False) as url,
        tempfile.TemporaryDirectory() as work,
    ):
        assert mongo, "no MongoDB-wire server"
        counts = create_demo(url, scale=args.scale, seed=42)
        harness.settle(url)
        rows = counts["tasks"] + counts["projects"] + counts["organizations"] + counts["users"]
        common = [str(ROOT / "mappings"), "--source", url, "--decimal-as", "string"]
        results: dict[str, tuple[int, float]] = {}
        for attempt, name in enumerate(["clean", "resumed"] * args.repeat):
            target = harness._mongo_database(mongo, f"mapper_resume_{attempt}_{os.getpid()}")
            state, rejects = Path(work, f"{attempt}.state"), f"{work}/{attempt}.rejects.jsonl"
            command = _mapper(*common, "--target", target, "--state", str(state))
            command += ["--rejects", rejects]
            try:
                steps = (
                    {"clean run": timed(command), "re-run, all unchanged": timed(command)}
                    if name == "clean"
                    else {
                        "run to Ctrl-C at half": interrupted_at(command, state, rows // 2),
                        "resume after Ctrl-C": timed([*command, "--resume"]),
                    }
                )
                for step, (code, seconds) in steps.items():
                    best = results.get(step, (code, seconds))
                    results[step] = (max(code, best[0]), min(seconds, best[1]))
            finally:
                harness._drop_mongo(target)
    for name, (code, seconds) in results.items():
        print(f"{name:<24} exit {code:>3}  {seconds:7.1f} s")
    ratio = results["resume after Ctrl-C"][1] / results["clean run"][1]
    print(f"resume / clean run: {ratio:.2f}x (scale {args.scale:g}, {rows:,} root rows)")
    codes = [code for code, _ in results.values()]
    return 0 if codes == [0, 0, 130, 0] else 1


if __name__ == "__main__":
    sys.exit(main())
