"""`python -m benchmarks.worker VARIANT --job JOB.json --out RESULT.json`: measure one variant.

Runs in a fresh process so that its peak RSS is its own. The job names the source database,
the batch size and the sampled `_id`s whose BSON the result carries (hex) for comparison.
Only `run()` is timed: connecting, reflecting and planning are setup.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import time

from bson import ObjectId


def variants() -> dict:
    from benchmarks.baseline_handtuned import HandTuned
    from benchmarks.baseline_indb import InDatabase
    from benchmarks.baseline_nplus1 import NPlusOne
    from benchmarks.variant_mapper import Mapper, MapperFile, MapperMongo

    return {"mapper-null": Mapper, "mapper-file": MapperFile, "mapper-mongo": MapperMongo,
            "nplus1": NPlusOne, "handtuned": HandTuned, "indb": InDatabase}


def _status_mb(field: str) -> float | None:
    """VmHWM (peak RSS) or VmRSS of this process from /proc/self/status, in MiB.

    Not `ru_maxrss`: Linux carries the parent's high-water mark over fork+exec into the
    child's `ru_maxrss`, so a worker would report the harness's own peak (which grows with
    the scale it just generated). VmHWM belongs to the worker's own address space.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_mb() -> float:
    """Peak RSS so far: VmHWM where /proc exists, else ru_maxrss (KiB on Linux)."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(name: str, job: dict, profile: str | None = None) -> dict:
    variant = variants()[name](job)
    variant.setup()
    wanted = {ObjectId(h) for h in job["compare"]}
    kept: dict = {}
    rss_before = _rss_mb()
    profiler = cProfile.Profile() if profile else None
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if profiler:
        profiler.enable()
    documents = variant.run(wanted, kept)
    if profiler:
        profiler.disable()
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    peak = _rss_mb()
    if profiler:
        profiler.dump_stats(profile)
    extra = getattr(variant, "after", dict)()
    read_back = getattr(variant, "read_back", lambda _wanted: None)(wanted)
    if read_back is not None:
        kept = read_back
    variant.close()
    return {
        "variant": name, "scope": variant.scope, "documents": documents,
        "seconds": seconds, "cpu_user": after.ru_utime - before.ru_utime,
        "cpu_system": after.ru_stime - before.ru_stime,
        "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "rss_before_mb": rss_before, "peak_rss_mb": peak,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "statements": variant.statements, "batches": variant.batches,
        "profiled": bool(profile),
        "samples": {str(key): data.hex() for key, data in kept.items()},
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("variant")
    parser.add_argument("--job", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", help="write cProfile stats of the timed part here")
    args = parser.parse_args(argv)
    with open(args.job, encoding="utf-8") as file:
        job = json.load(file)
    result = measure(args.variant, job, args.profile)
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump(result, file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
