"""`python -m benchmarks.worker VARIANT --job JOB.json --out RESULT.json`: measure one variant.

Runs in a fresh process so that its peak RSS is its own. The job names the source database,
the batch size and the sampled `_id`s whose BSON the result carries (hex) for comparison.
Only `run()` is timed: connecting, reflecting and planning are setup; `startup_seconds` is
the time from the harness starting this process to the end of setup (interpreter, imports,
setup: what comes before the first row).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib
import importlib.util
import json
import os
import resource
import sys
import threading
import time

from bson import ObjectId

from benchmarks import server_cpu

VARIANT_CLASSES = {  # variant → (module, class): only the measured one is imported
    "mapper-null": ("benchmarks.variant_mapper", "Mapper"),
    "mapper-serial": ("benchmarks.variant_mapper", "MapperSerial"),
    "mapper-file": ("benchmarks.variant_mapper", "MapperFile"),
    "mapper-mongo": ("benchmarks.variant_mapper", "MapperMongo"),
    "nplus1": ("benchmarks.baseline_nplus1", "NPlusOne"),
    "handtuned": ("benchmarks.baseline_handtuned", "HandTuned"),
    "indb": ("benchmarks.baseline_indb", "InDatabase"),
}
SPAWNED_AT = "BENCH_SPAWNED_AT"  # the harness's time.time() when it started this process


def variant_class(name: str) -> type:
    """The variant's class, every variant's modules imported as `python -m mapper` imports
    its own (`mapper.collector.frozen_after`, not imported here: the baselines import no
    mapper): the cyclic collector off, then what they made frozen and the collector on."""
    module, name = VARIANT_CLASSES[name]
    gc.disable()
    try:
        found: type = getattr(importlib.import_module(module), name)
    finally:
        gc.freeze()
        gc.enable()
    return found


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


class TreeMemory:
    """The peak PSS of this process and its children (mapper's worker processes), sampled
    every 50 ms by a thread. PSS divides pages shared after fork among the processes that
    share them, so that a forked worker is not counted as a second copy of its parent. None
    without psutil."""

    def __init__(self) -> None:
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        if importlib.util.find_spec("psutil"):
            self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            total = 0
            for process in (me, *me.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    total += process.memory_full_info().pss
            self.peak_mb = max(self.peak_mb or 0.0, total / 2**20)
            if self._stop.wait(0.05):
                return


def measure(name: str, job: dict, profile: str | None = None) -> dict:
    variant = variant_class(name)(job)
    variant.setup()
    spawned = os.environ.get(SPAWNED_AT)
    startup = time.time() - float(spawned) if spawned else None  # interpreter, imports, setup
    wanted = {ObjectId(h) for h in job["compare"]}
    kept: dict = {}
    rss_before = _rss_mb()
    profiler = cProfile.Profile() if profile else None
    server = job.get("postmaster")  # the local PostgreSQL's main process, if any
    server_before = server_cpu.cpu_seconds(server) if server else None
    before, started = _cpu(), time.perf_counter()
    with TreeMemory() as memory:
        if profiler:
            profiler.enable()
        documents = variant.run(wanted, kept)
        if profiler:
            profiler.disable()
        seconds, after = time.perf_counter() - started, _cpu()
    peak = _rss_mb()
    server_seconds = (
        server_cpu.settled(server, server_before[1]) - server_before[0] if server_before else None
    )
    if profiler:
        profiler.dump_stats(profile)
    extra = getattr(variant, "after", dict)()
    read_back = getattr(variant, "read_back", lambda _wanted: None)(wanted)
    if read_back is not None:
        kept = read_back
    variant.close()
    return {
        "variant": name,
        "scope": variant.scope,
        "documents": documents,
        "seconds": seconds,
        "startup_seconds": startup,
        "cpu_user": after[0] - before[0],
        "cpu_system": after[1] - before[1],
        "cpu_seconds": sum(after) - sum(before),
        "server_cpu_seconds": server_seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "peak_pss_mb": memory.peak_mb,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "statements": variant.statements,
        "batches": variant.batches,
        "profiled": bool(profile),
        "samples": {str(key): data.hex() for key, data in kept.items()},
        **extra,
    }


def _cpu() -> tuple[float, float]:
    """User and system CPU seconds of this process and its reaped children (mapper's
    worker processes, which have exited when `run` returns)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime


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
