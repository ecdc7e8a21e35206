"""Documents/s of the Dask executor against `--workers` on this machine, and its cost per range.

    python -m benchmarks.dask_executor --scale 3 [--batch-size 1000 --batch-size 250]

Creates the demo in a fresh PostgreSQL database (the test bed's server, or the one in
`MAPPER_TEST_POSTGRES_URL`), then runs `mappings/tasks.yaml` into `null:` through the API:
in one process, with two forked workers (`--workers 2`), and on a local Dask cluster of two
worker processes (`--executor dask://...`, started once beforehand and warmed by one run, so
that its start is reported apart). Each is measured `--repeat` times (the fastest counts).
The cluster's extra time per range is its time less the forked workers', divided by its
ranges. Prints a table and writes `benchmarks/results/dask-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from benchmarks.harness import RESULTS, Config, _tag, database, servers, settle
from mapper import api
from mapper.engine.cluster import local_cluster

MAPPING = Path(__file__).resolve().parents[1] / "mappings" / "tasks.yaml"


def timed(url: str, options: api.MigrateOptions) -> tuple[float, int, int]:
    """(seconds, documents, ranges or batches) of one run into `null:`; setup excluded."""
    with api.prepare([MAPPING], url) as prepared:
        started = time.perf_counter()
        summary = api.migrate(prepared, "null:", options)
        seconds = time.perf_counter() - started
    collection = summary.collections[0]
    if not summary.balanced or collection.rejected:
        raise RuntimeError(f"run not clean: {collection}")
    return seconds, collection.written, collection.batches


def measure(url: str, executor: str, batch_sizes: list[int], repeat: int, work: Path) -> list:
    rows = []
    for batch_size in batch_sizes:
        runs = {
            "one process": {"workers": 1},
            "--workers 2": {"workers": 2},
            "dask-local, 2 workers": {"executor": executor},
        }
        measured = {}
        for name, choice in runs.items():
            options = api.MigrateOptions(
                batch_size=batch_size,
                rejects=work / "rejects.jsonl",
                state=work / "state.json",
                **choice,
            )
            seconds, documents, ranges = min(timed(url, options) for _ in range(repeat))
            measured[name] = seconds
            rows.append(
                {
                    "batch_size": batch_size,
                    "run": name,
                    "seconds": round(seconds, 3),
                    "documents": documents,
                    "batches": ranges,
                    "documents_per_second": round(documents / seconds, 1),
                }
            )
        extra = measured["dask-local, 2 workers"] - measured["--workers 2"]
        rows[-1]["extra_ms_per_range"] = round(1000 * extra / rows[-1]["batches"], 1)
    return rows


def bench(postgres: str, scale: float, batch_sizes: list[int], repeat: int) -> dict:
    """The measurements on a fresh demo database of the server `postgres` (dropped after)."""
    with database(postgres, f"mapper_bench_dask_{_tag(scale)}", keep=False) as url:
        api.create_demo(url, scale=scale, seed=42)
        settle(url)
        started = time.perf_counter()
        cluster = local_cluster(2)
        start_seconds = time.perf_counter() - started
        try:
            executor = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
            with tempfile.TemporaryDirectory() as directory:
                work = Path(directory)
                timed(url, api.MigrateOptions(executor=executor, rejects=work / "warm.jsonl"))
                rows = measure(url, executor, batch_sizes, repeat, work)
        finally:
            cluster.close()
    return {"scale": scale, "cluster_start_seconds": round(start_seconds, 2), "rows": rows}


def table(result: dict) -> str:
    lines = [
        f"scale {result['scale']:g}; the local cluster started in "
        f"{result['cluster_start_seconds']:.1f} s",
        f"{'batch':>6} {'run':<24} {'docs/s':>9} {'batches':>8} {'extra ms/range':>15}",
    ]
    for row in result["rows"]:
        lines.append(
            f"{row['batch_size']:>6} {row['run']:<24} {row['documents_per_second']:>9,.0f} "
            f"{row['batches']:>8} {row.get('extra_ms_per_range', ''):>15}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, action="append", dest="batch_sizes")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with servers(Config(variants=["mapper-null"])) as (postgres, _):
        result = bench(postgres, args.scale, args.batch_sizes or [1000, 250], args.repeat)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"dask-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
