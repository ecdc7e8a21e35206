"""The benchmark run: servers, one demo database per scale, every variant in a subprocess.

For each scale: create a database, load the demo (seed 42), pick the samples, run each variant
`repeat` times in a fresh `python -m benchmarks.worker` process, compare its sampled documents
with mapper's, and keep the fastest repetition. Then print a table, write
`results/<timestamp>.json` and, with matplotlib, `results/<timestamp>.png`.
"""

from __future__ import annotations

import compileall
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from benchmarks import REFERENCE, VARIANTS, aggregates, server_cpu
from benchmarks.compare import compare
from benchmarks.latency import delayed
from benchmarks.worker import SPAWNED_AT
from mapper.config import CACHE_VARIABLE, redact, sqlalchemy_url
from mapper.ids import oid
from mapper.spec import load_offline

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BASELINES = ("nplus1", "handtuned", "indb")
WORKER_TIMEOUT = 3600
SEED = 42


@dataclass
class Config:
    scales: list[float] = field(default_factory=lambda: [1.0])
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    repeat: int = 1
    batch_size: int = 1000
    workers: int | str = "auto"  # mapper's default
    aggregates: bool = True  # also measure a mapping with aggregates against one without
    compare: int = 50
    nplus1_sample: int = 300
    out_dir: Path = RESULTS
    plot: bool = True
    profile: bool = False
    profile_top: int = 25
    keep_databases: bool = False
    postgres_url: str | None = None
    mongodb_uri: str | None = None
    quiet: bool = False
    latency_ms: float = 0.0
    stamp: str = ""  # the run's UTC timestamp, naming its result files


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as the libpq URI that psycopg2.connect takes: the
    baselines' (a single-purpose script imports no SQLAlchemy)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def say(config: Config, message: str) -> None:
    if not config.quiet:
        print(message, file=sys.stderr, flush=True)


# --- servers and databases ------------------------------------------------------------------


@contextlib.contextmanager
def servers(config: Config) -> Iterator[tuple[str, str | None]]:
    """(PostgreSQL URL, MongoDB URI or None): given, from the environment, or the test bed's.

    Like `testbed.servers()`, but the MongoDB-wire server is FerretDB alone (throughput), a
    missing one (no Go to build FerretDB) only skips `mapper-mongo`, and none is started when
    it is not measured.
    """
    import testbed

    postgres = config.postgres_url or os.environ.get("MAPPER_TEST_POSTGRES_URL")
    mongo = config.mongodb_uri or os.environ.get("MAPPER_TEST_MONGODB_URI")
    with contextlib.ExitStack() as stack:
        if "mapper-mongo" in config.variants and not mongo:
            try:
                mongo = stack.enter_context(testbed.ferretdb())
            except testbed.TestbedUnavailable as error:
                say(config, f"no MongoDB-wire server ({error}); skipping mapper-mongo")
        if not postgres:
            postgres = stack.enter_context(testbed.postgres())
        yield postgres, mongo


def _tag(scale: float) -> str:
    return f"{scale:g}".replace(".", "_").replace("-", "m")


@contextlib.contextmanager
def database(server_url: str, name: str, keep: bool) -> Iterator[str]:
    """A fresh PostgreSQL database on the server; dropped afterwards unless `keep`."""
    server_url = sqlalchemy_url(server_url)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settle(url: str) -> None:
    """VACUUM (FREEZE, ANALYZE) the fresh load: statistics for stable plans, hint bits and the
    visibility map set now, so that no variant pays for them (or for autovacuum) in its run."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("VACUUM (FREEZE, ANALYZE)"))
    finally:
        engine.dispose()


def _mongo_database(uri: str, name: str) -> str:
    base, _, query = uri.partition("?")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{name}" + (f"?{query}" if query else "")


def _drop_mongo(uri: str) -> None:
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(client.get_default_database().name)
    finally:
        client.close()


# --- samples and row counts -----------------------------------------------------------------


def _spread(items: list, count: int) -> list:
    """`count` items evenly spread over `items` (all of them when there are fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


def samples(url: str, config: Config) -> dict:
    """Task ids for N+1, the `_id`s to compare (a subset), and source row counts.

    The compared ones are spread over the id order and include the hard cases: the task with
    the most comments, one without author, one without description and one without comments
    or labels.
    """
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            ids = [
                str(r[0]) for r in connection.execute(sa.text("SELECT id FROM tasks ORDER BY id"))
            ]
            special = [
                str(r[0])
                for r in connection.execute(
                    sa.text("""
                SELECT id FROM (SELECT t.id FROM tasks t JOIN comments c ON c.task_id = t.id
                                GROUP BY t.id ORDER BY count(*) DESC, t.id LIMIT 1) a
                UNION ALL (SELECT id FROM tasks WHERE created_by IS NULL ORDER BY id LIMIT 1)
                UNION ALL (SELECT id FROM tasks WHERE description IS NULL ORDER BY id LIMIT 1)
                UNION ALL (SELECT id FROM tasks t WHERE NOT EXISTS
                             (SELECT 1 FROM comments c WHERE c.task_id = t.id)
                           AND NOT EXISTS (SELECT 1 FROM task_labels l WHERE l.task_id = t.id)
                           ORDER BY id LIMIT 1)""")
                )
            ]
            nplus1 = _spread(ids, config.nplus1_sample)
            chosen = list(dict.fromkeys(special + _spread(nplus1, config.compare)))
            chosen = chosen[: max(config.compare, len(special))]
            nplus1 = sorted(set(nplus1) | set(chosen))
            counts = {}
            for table in ("tasks", "task_labels", "task_assignees", "comments"):
                counts[table] = connection.execute(
                    sa.text(f"SELECT count(*) FROM {table}")
                ).scalar_one()
            sampled = 0
            for table, column in (
                ("tasks", "id"),
                ("task_labels", "task_id"),
                ("task_assignees", "task_id"),
                ("comments", "task_id"),
            ):
                sampled += _count_in(connection, table, column, nplus1)
    finally:
        engine.dispose()
    return {
        "nplus1": nplus1,
        "compare": [str(oid("tasks", [key])) for key in chosen],
        "source_rows": sum(counts.values()),
        "nplus1_source_rows": sampled,
        "source_counts": counts,
    }


def _count_in(connection: sa.Connection, table: str, column: str, keys: list[str]) -> int:
    statement = sa.text(f"SELECT count(*) FROM {table} WHERE {column}::text = ANY(:keys)")
    return connection.execute(statement, {"keys": keys}).scalar_one()


# --- running the variants -------------------------------------------------------------------


def run_worker(variant: str, job: dict, workdir: Path, profile: Path | None = None) -> dict:
    """One measurement of one variant in a fresh interpreter; errors come back as a dict."""
    workdir.mkdir(parents=True, exist_ok=True)
    job = {**job, "workdir": str(workdir)}
    job_path, out_path = workdir / "job.json", workdir / "result.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        variant,
        "--job",
        str(job_path),
        "--out",
        str(out_path),
    ]
    if profile:
        command += ["--profile", str(profile)]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": path, SPAWNED_AT: repr(time.time())},
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"timed out after {WORKER_TIMEOUT}s"}
    if done.returncode != 0 or not out_path.exists():
        return {
            "variant": variant,
            "error": f"worker exited {done.returncode}: {done.stderr.strip()[-1500:]}",
        }
    return json.loads(out_path.read_text(encoding="utf-8"))


def _rates(result: dict, source_rows: int) -> None:
    seconds = result["seconds"] or float("nan")
    result["docs_per_s"] = result["documents"] / seconds
    result["source_rows"] = source_rows
    result["rows_per_s"] = source_rows / seconds
    result["cpu_us_per_doc"] = 1e6 * result["cpu_seconds"] / max(result["documents"], 1)
    if result.get("server_cpu_seconds") is not None:
        result["server_cpu_us_per_doc"] = (
            1e6 * result["server_cpu_seconds"] / max(result["documents"], 1)
        )


def bench_scale(
    scale: float, postgres: str, mongo: str | None, config: Config, scratch: Path
) -> dict:
    tag = f"{_tag(scale)}_{os.getpid()}"
    entry: dict = {"scale": scale, "variants": {}}
    with database(postgres, f"mapper_bench_{tag}", config.keep_databases) as url:
        from mapper.demo import create_demo

        say(config, f"scale {scale:g}: loading the demo (seed {SEED}) ...")
        started = time.perf_counter()
        entry["rows"] = create_demo(url, scale=scale, seed=SEED, drop=True)
        entry["load_seconds"] = time.perf_counter() - started
        settle(url)
        picked = samples(url, config)
        entry.update({k: picked[k] for k in ("source_rows", "nplus1_source_rows", "source_counts")})
        entry["nplus1_documents"] = len(picked["nplus1"])
        mongo_uri = _mongo_database(mongo, f"mapper_bench_{tag}") if mongo else None
        entry["latency_ms"] = config.latency_ms
        with delayed(url, config.latency_ms) as worker_url:
            job = {
                "url": worker_url,
                "dsn": libpq_url(worker_url),
                "mongo_uri": mongo_uri,
                "batch_size": config.batch_size,
                "workers": config.workers,
                "nplus1_sample": picked["nplus1"],
                "compare": picked["compare"],
                "scale": scale,
                "postmaster": server_cpu.postmaster(url),
            }
            _measure(entry, job, picked, mongo_uri, config, scratch, tag)
        if config.aggregates:
            say(config, f"scale {scale:g}: a mapping with aggregates against one without")
            entry["aggregates"] = aggregates.measure(url, config.repeat)
        if mongo_uri and not config.keep_databases:
            with contextlib.suppress(Exception):
                _drop_mongo(mongo_uri)
    entry["ratios"] = ratios(entry["variants"])
    return entry


def _measure(
    entry: dict,
    job: dict,
    picked: dict,
    mongo_uri: str | None,
    config: Config,
    scratch: Path,
    tag: str,
) -> None:
    """Every variant, `repeat` times round-robin; the fastest run of each goes in `entry`."""
    scale = job["scale"]
    runs: dict[str, list[dict]] = {variant: [] for variant in config.variants}
    # Repetitions go round-robin over the variants, so that a burst of load from
    # elsewhere on the machine spreads over all of them instead of hitting one.
    for attempt in range(config.repeat):
        for variant in config.variants:
            # The MongoDB-wire server dominates that variant's time (minutes on
            # FerretDB): once is enough. A variant that failed is not retried.
            if attempt and (variant == "mapper-mongo" or any("error" in r for r in runs[variant])):
                continue
            if variant == "mapper-mongo" and not mongo_uri:
                runs[variant].append({"variant": variant, "error": "no MongoDB server"})
                continue
            repeat = 1 if variant == "mapper-mongo" else config.repeat
            say(config, f"scale {scale:g}: {variant} (run {attempt + 1}/{repeat})")
            result = run_worker(variant, job, scratch / f"{tag}-{variant}-{attempt}")
            if "error" in result:
                say(config, f"  failed: {result['error']}")
            else:
                rows = (
                    picked["nplus1_source_rows"]
                    if result["scope"] == "sample"
                    else picked["source_rows"]
                )
                _rates(result, rows)
                say(
                    config,
                    f"  {result['documents']} documents in "
                    f"{result['seconds']:.2f}s ({result['docs_per_s']:,.0f}/s, "
                    f"peak {peak_mb(result):.0f} MB)",
                )
            runs[variant].append(result)
    reference = _best(runs.get(REFERENCE, []))
    reference_samples = reference["samples"] if reference else None
    for variant in config.variants:
        best = _best(runs[variant])
        if best is None:
            entry["variants"][variant] = runs[variant][-1]
            continue
        best = dict(best)
        samples_hex = best.pop("samples")
        best["sample_check"] = (
            compare(reference_samples, samples_hex, picked["compare"])
            if reference_samples is not None
            else {"ok": False, "problems": ["no mapper reference"]}
        )
        good = [r for r in runs[variant] if "error" not in r]
        best["runs"] = [
            {
                k: r.get(k)
                for k in (
                    "startup_seconds",
                    "seconds",
                    "cpu_seconds",
                    "server_cpu_seconds",
                    "peak_rss_mb",
                    "peak_pss_mb",
                    "docs_per_s",
                )
            }
            for r in good
        ]
        best["peak_mb_max"] = max(peak_mb(r) for r in good)
        entry["variants"][variant] = best
        if not best["sample_check"]["ok"]:
            say(config, f"  {variant}: SAMPLE MISMATCH: {best['sample_check']['problems'][:3]}")
    if config.profile and scale == max(config.scales):
        entry["profile"] = profile_mapper(job, config, scratch / f"{tag}-profile")


def _best(runs: list[dict]) -> dict | None:
    """The fastest successful repetition (least disturbed by other load on the machine)."""
    good = [r for r in runs if "error" not in r]
    return max(good, key=lambda r: r["docs_per_s"]) if good else None


def whole_seconds(variant: dict) -> float:
    """A variant's whole process: from its start to its last document."""
    seconds: float = variant["startup_seconds"] + variant["seconds"]
    return seconds


def ratios(variants: dict) -> dict:
    """mapper (null sink) against each baseline: >1 means mapper is faster / cheaper."""
    mapper = variants.get(REFERENCE)
    found = {}
    if not mapper or "error" in mapper:
        return found
    for name in BASELINES:
        other = variants.get(name)
        if other and "error" not in other:
            found[name] = {
                "docs_per_s": mapper["docs_per_s"] / other["docs_per_s"],
                "cpu_per_doc": other["cpu_us_per_doc"] / mapper["cpu_us_per_doc"],
            }
            if mapper.get("startup_seconds") and other.get("startup_seconds"):
                found[name]["whole_process"] = whole_seconds(other) / whole_seconds(mapper)
            serial = variants.get("mapper-serial")
            if serial and "error" not in serial and serial.get("startup_seconds"):
                found[name]["serial_whole_process"] = whole_seconds(other) / whole_seconds(serial)
    return found


def profile_mapper(job: dict, config: Config, workdir: Path) -> dict:
    """cProfile of mapper into the null sink, in one process (cProfile cannot see worker
    processes): the top functions by own time and cumulative."""
    import pstats

    config.out_dir.mkdir(parents=True, exist_ok=True)
    stats_path = config.out_dir / f"{config.stamp}-mapper-serial-scale{_tag(job['scale'])}.prof"
    say(config, f"scale {job['scale']:g}: profiling mapper-serial ...")
    result = run_worker("mapper-serial", job, workdir, profile=stats_path)
    if "error" in result:
        return {"error": result["error"]}
    stats = pstats.Stats(str(stats_path))
    total = stats.total_tt
    rows = []
    for (filename, line, function), (_cc, calls, own, cumulative, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({function})",
                "calls": calls,
                "own_s": own,
                "cumulative_s": cumulative,
            }
        )
    by_own = sorted(rows, key=lambda r: r["own_s"], reverse=True)[: config.profile_top]
    by_cumulative = sorted(rows, key=lambda r: r["cumulative_s"], reverse=True)[
        : config.profile_top
    ]
    return {
        "stats_file": str(stats_path),
        "total_s": total,
        "profiled_seconds": result["seconds"],
        "documents": result["documents"],
        "top_own": by_own,
        "top_cumulative": by_cumulative,
        "by_area": areas(rows, total),
    }


def _short(filename: str) -> str:
    """A profile entry's file without the interpreter's or the repository's prefix."""
    import re

    for pattern in (r".*/site-packages/", r".*/lib/python3\.\d+/", re.escape(str(REPO)) + "/"):
        shortened = re.sub(f"^{pattern}", "", filename)
        if shortened != filename:
            return shortened
    return filename


AREAS = (
    ("mapper/engine/build", "mapper: build documents"),
    ("mapper/engine/convert", "mapper: convert values"),
    ("mapper/ids", "mapper: ObjectIds"),
    ("mapper/engine/load", "mapper: encode/sink"),
    ("mapper/engine/", "mapper: run/extract"),
    ("bson", "bson (C encode + ObjectId)"),
    ("sqlalchemy", "SQLAlchemy (rows, result processing)"),
    ("psycopg2", "psycopg2"),
    ("uuid.py", "uuid module (UUID objects)"),
    ("hashlib", "hashlib"),
    ("decimal", "decimal"),
    ("datetime", "datetime"),
)


def areas(rows: list[dict], total: float) -> list[dict]:
    """Own time summed by where the function lives: a coarse map of the hot path."""
    sums: dict[str, float] = {}
    for row in rows:
        name = row["function"]
        area = next((label for marker, label in AREAS if marker in name), "other (builtins...)")
        sums[area] = sums.get(area, 0.0) + row["own_s"]
    return [
        {"area": area, "own_s": own, "share": own / total if total else 0.0}
        for area, own in sorted(sums.items(), key=lambda item: -item[1])
    ]


# --- machine, table, files, plot ------------------------------------------------------------


def machine(postgres: str, mongo: str | None) -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    engine = sa.create_engine(sqlalchemy_url(postgres))
    with contextlib.suppress(Exception), engine.connect() as connection:
        info["postgresql"] = connection.execute(sa.text("SHOW server_version")).scalar_one()
    engine.dispose()
    if mongo:
        with contextlib.suppress(Exception):
            import pymongo

            client = pymongo.MongoClient(mongo, serverSelectionTimeoutMS=3000)
            build = client.admin.command("buildInfo")
            info["mongodb_wire"] = (
                f"FerretDB {build['ferretdbVersion']} "
                f"(wire version of MongoDB {build.get('version')})"
                if "ferretdbVersion" in build
                else f"MongoDB {build.get('version')}"
            )
            client.close()
    info["mapper_source"] = source_version()
    from importlib import metadata

    info["packages"] = {}
    for name in ("sqlalchemy", "psycopg2-binary", "pymongo"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info["packages"][name] = metadata.version(name)
    return info


def source_version() -> dict:
    """The checkout measured: HEAD and the files of mapper/ changed since (read-only git)."""
    found: dict = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        changed = subprocess.run(
            ["git", "diff", "--name-only", "HEAD", "--", "mapper"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        found = {"commit": head.stdout.strip(), "changed": changed.stdout.split()}
    return found


def peak_mb(variant: dict) -> float:
    """The process tree's peak PSS (mapper's workers included) when sampled, else the
    process's peak RSS (results made without psutil, or before workers existed)."""
    return variant.get("peak_pss_mb") or variant["peak_rss_mb"]


def table(result: dict) -> str:
    header = (
        "scale",
        "variant",
        "docs",
        "docs/s",
        "rows/s",
        "CPU s",
        "CPU µs/doc",
        "PG µs/doc",
        "peak MB",
        "SQL/batches",
        "start s",
        "mapper× (rate)",
        "whole×",
        "mapper× (CPU)",
        "sample",
    )
    lines = [header]
    for entry in result["scales"]:
        for name, variant in entry["variants"].items():
            if "error" in variant:
                last = variant["error"].strip().splitlines()[-1][:70]
                lines.append((f"{entry['scale']:g}", name, "-", "error", last, *[""] * 10))
                continue
            ratio = entry["ratios"].get(name)
            check = variant["sample_check"]
            lines.append(
                (
                    f"{entry['scale']:g}",
                    name,
                    f"{variant['documents']:,}",
                    f"{variant['docs_per_s']:,.0f}",
                    f"{variant['rows_per_s']:,.0f}",
                    f"{variant['cpu_seconds']:.2f}",
                    f"{variant['cpu_us_per_doc']:,.0f}",
                    f"{server:,.0f}"
                    if (server := variant.get("server_cpu_us_per_doc")) is not None
                    else "",
                    f"{peak_mb(variant):.0f}",
                    f"{variant['statements']}/{variant['batches']}",
                    f"{start:.2f}" if (start := variant.get("startup_seconds")) else "",
                    f"{ratio['docs_per_s']:.2f}" if ratio else "",
                    f"{ratio['whole_process']:.2f}" if ratio and "whole_process" in ratio else "",
                    f"{ratio['cpu_per_doc']:.2f}" if ratio else "",
                    f"{check['equal']}/{check['compared']}" if "equal" in check else "no ref",
                )
            )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    rendered = []
    for number, line in enumerate(lines):
        cells = [
            str(cell).ljust(width) if i < 2 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        rendered.append("| " + " | ".join(cells) + " |")
        if number == 0:
            rendered.append(
                "|"
                + "|".join(
                    "-" * (w + 2) if i < 2 else "-" * (w + 1) + ":" for i, w in enumerate(widths)
                )
                + "|"
            )
    return "\n".join(rendered)


def plot(result: dict, path: Path) -> str | None:
    """documents/s and peak RSS against scale, one line per variant; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        return None
    figure, (rate_axis, rss_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = list(dict.fromkeys(n for e in result["scales"] for n in e["variants"]))
    for name in names:
        points = [
            (e["scale"], e["variants"][name])
            for e in result["scales"]
            if name in e["variants"] and "error" not in e["variants"][name]
        ]
        if not points:
            continue
        scales = [scale for scale, _ in points]
        color = f"C{VARIANTS.index(name)}" if name in VARIANTS else None  # same in every plot
        rate_axis.plot(
            scales, [v["docs_per_s"] for _, v in points], marker="o", label=name, color=color
        )
        rss_axis.plot(scales, [peak_mb(v) for _, v in points], marker="o", label=name, color=color)
    rate_axis.set(
        xlabel="demo scale",
        ylabel="documents/s",
        yscale="log",
        title="throughput (N+1 on a sample)",
    )
    rss_axis.set(
        xlabel="demo scale",
        ylabel="peak memory (MB)",
        title="peak memory (PSS of the process and its workers)",
    )
    rss_axis.set_ylim(bottom=0)
    scales = sorted({e["scale"] for e in result["scales"]})
    for axis in (rate_axis, rss_axis):
        axis.grid(True, alpha=0.3)
        if len(scales) > 2:
            axis.set_xscale("log")
        axis.set_xticks(scales, [f"{scale:g}" for scale in scales])
        axis.xaxis.set_minor_locator(ticker.NullLocator())
    rate_axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    rate_axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    rate_axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    handles, labels = rate_axis.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    latency = {e.get("latency_ms", 0) for e in result["scales"]} - {0}
    figure.suptitle(
        f"mapper benchmarks, {result['started']}"
        + (f", +{max(latency):g} ms per round trip" if latency else "")
    )
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return str(path)


def run_benchmarks(config: Config) -> tuple[dict, Path]:
    """Run everything the config asks for; return the result and the JSON file's path."""
    variants = [v for v in config.variants if v in VARIANTS]
    unknown = set(config.variants) - set(VARIANTS)
    if unknown:
        raise ValueError(
            f"unknown variants: {', '.join(sorted(unknown))} (choose from {', '.join(VARIANTS)})"
        )
    if REFERENCE not in variants:  # the reference for the sample comparison
        variants.insert(0, REFERENCE)
    variants.sort(key=lambda v: v != REFERENCE)
    config.variants = variants
    # every process starts as from an installed package, its bytecode compiled once (as pip
    # does, or a first run), even where PYTHONDONTWRITEBYTECODE keeps the interpreter from it
    for package in ("mapper", "benchmarks"):
        compileall.compile_dir(REPO / package, quiet=1)
    started = dt.datetime.now(dt.UTC)
    config.stamp = started.strftime("%Y%m%dT%H%M%SZ")
    result: dict = {"started": started.isoformat(timespec="seconds"), "scales": []}
    with (
        servers(config) as (postgres, mongo),
        tempfile.TemporaryDirectory(prefix="mapper-bench-") as scratch,
    ):
        say(config, f"PostgreSQL {redact(postgres)}; MongoDB-wire {mongo and redact(mongo)}")
        _pass_schema_check(Path(scratch) / "cache")
        result["machine"] = machine(postgres, mongo)
        for scale in config.scales:
            result["scales"].append(bench_scale(scale, postgres, mongo, config, Path(scratch)))
    result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["machine"]["load_average_end"] = os.getloadavg()
    result["config"] = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in asdict(config).items()
        if k not in ("postgres_url", "mongodb_uri", "stamp")
    }
    config.out_dir.mkdir(parents=True, exist_ok=True)
    path = config.out_dir / f"{config.stamp}.json"
    if config.plot:
        png = plot(result, path.with_suffix(".png"))
        result["plot"] = png
        if png is None:
            say(config, "matplotlib is not installed: no plot (pip install -e '.[bench]')")
    path.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return result, path


def _pass_schema_check(cache: Path) -> None:
    """Start mapper's processes as a run after `mapper lint`, or a second run: the shipped
    mapping known to pass the schema (kept in a cache folder of this run's own). A first run
    of a new or changed mapping checks it too, about 0.1 s more."""
    os.environ[CACHE_VARIABLE] = str(cache)  # inherited by every worker process
    _mappings, problems = load_offline([REPO / "mappings" / "tasks.yaml"])
    if problems:
        raise RuntimeError(f"the shipped tasks mapping does not pass the schema: {problems[0]}")


def profile_text(profile: dict, top: int = 15) -> str:
    if "error" in profile:
        return f"profile failed: {profile['error']}"
    lines = [
        f"cProfile of mapper-serial's main thread (its reads run in a background thread "
        f"and show as waiting): {profile['documents']:,} documents, "
        f"{profile['total_s']:.2f}s profiled (stats: {profile['stats_file']})",
        "",
        "own time by area:",
    ]
    lines += [f"  {a['share']:6.1%}  {a['own_s']:7.3f}s  {a['area']}" for a in profile["by_area"]]
    lines += ["", "top functions by own time:"]
    lines += [
        f"  {r['own_s']:7.3f}s own  {r['cumulative_s']:7.3f}s cum  {r['calls']:>9,}  "
        f"{r['function']}"
        for r in profile["top_own"][:top]
    ]
    lines += ["", "top functions by cumulative time:"]
    lines += [
        f"  {r['cumulative_s']:7.3f}s cum  {r['own_s']:7.3f}s own  {r['calls']:>9,}  "
        f"{r['function']}"
        for r in profile["top_cumulative"][:top]
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark mapper (mappings/tasks.yaml) against N+1, hand-tuned and "
        "in-database baselines on the demo database.",
    )
    parser.add_argument(
        "--scale",
        type=float,
        action="append",
        dest="scales",
        help="demo scale; repeat for several (default 1)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, from {','.join(VARIANTS)} (default all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each variant N times, keep the fastest (default 1)",
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=lambda text: text if text == "auto" else max(1, int(text)),
        default="auto",
        help="mapper's worker processes (MigrateOptions.workers) for mapper-null, "
        "-file and -mongo; mapper-serial always uses one (default auto, mapper's default)",
    )
    parser.add_argument(
        "--no-aggregates",
        action="store_true",
        help="skip the mapping with aggregates against the same without them (aggregates.py)",
    )
    parser.add_argument(
        "--compare",
        type=int,
        default=50,
        help="documents compared with mapper's per variant (default 50)",
    )
    parser.add_argument(
        "--nplus1-sample",
        type=int,
        default=300,
        help="tasks the N+1 baseline migrates (default 300)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile mapper-null at the largest scale"
    )
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="reach PostgreSQL through a proxy adding this much per round "
        "trip, as a remote database would (default 0: loopback)",
    )
    parser.add_argument(
        "--replot",
        type=Path,
        metavar="RESULT_JSON",
        help="only redraw the PNG (and reprint the table) of an earlier result",
    )
    args = parser.parse_args(argv)
    if args.replot:
        result = json.loads(args.replot.read_text(encoding="utf-8"))
        print(table(result))
        png = plot(result, args.replot.with_suffix(".png"))
        print(f"plot: {png}" if png else "matplotlib is not installed: no plot")
        return 0
    config = Config(
        scales=args.scales or [1.0],
        variants=[v.strip() for v in args.variants.split(",") if v.strip()],
        repeat=max(1, args.repeat),
        batch_size=args.batch_size,
        workers=args.workers,
        aggregates=not args.no_aggregates,
        compare=args.compare,
        nplus1_sample=args.nplus1_sample,
        out_dir=args.out,
        plot=not args.no_plot,
        profile=args.profile,
        keep_databases=args.keep_databases,
        latency_ms=args.latency_ms,
    )
    if any(not scale > 0 for scale in config.scales):
        parser.error("scales must be positive")
    try:
        result, path = run_benchmarks(config)
    except ValueError as error:
        parser.error(str(error))
    machine_info = result["machine"]
    print(
        f"\nmachine: {machine_info.get('cpu', '?')} ({machine_info['cpus']} CPUs), "
        f"{machine_info.get('memory_gb', '?')} GB; Python {machine_info['python']}; "
        f"PostgreSQL {machine_info.get('postgresql', '?')}; "
        f"{machine_info.get('mongodb_wire', 'no MongoDB-wire server')}; "
        f"load average at start {machine_info['load_average'][0]:.2f}"
    )
    source = machine_info.get("mapper_source") or {}
    if source:
        print(
            f"mapper at commit {source['commit']}"
            + (
                f" with local changes to {', '.join(source['changed'])}"
                if source["changed"]
                else ""
            )
        )
    if config.latency_ms > 0:
        print(
            f"workers reach PostgreSQL through a proxy adding {config.latency_ms:g} ms per "
            "round trip"
        )
    print(table(result))
    print(
        "\nrows = tasks + task_labels + task_assignees + comments rows behind the documents; "
        "N+1 runs on a sample.\nmapper× = mapper-null docs/s ÷ baseline docs/s, and "
        "baseline CPU/doc ÷ mapper CPU/doc (> 1: mapper is faster).\nPG µs/doc = the "
        "PostgreSQL server's CPU per document during the same run, when the server runs "
        "on this machine.\nSQL/batches = "
        "statements executed through SQLAlchemy (mapper) or the driver (baselines) / "
        "root batches."
    )
    for entry in result["scales"]:
        mongo = entry["variants"].get("mapper-mongo", {})
        if "validate_seconds" in mongo:
            sample, full = mongo["validate_seconds"], mongo["validate_full_seconds"]
            print(
                f"\nscale {entry['scale']:g}: validate took {sample:.2f}s "
                f"({sample / mongo['seconds']:.2f}× the run into the MongoDB-wire server), "
                f"validate --full {full:.2f}s ({full / mongo['seconds']:.2f}×) "
                f"({'all matched' if mongo['validate_ok'] else 'DIFFERENCES FOUND'})"
            )
    for entry in result["scales"]:
        if "aggregates" in entry:
            print("\naggregates, " + aggregates.line(entry["scale"], entry["aggregates"]))
    for entry in result["scales"]:
        if "profile" in entry:
            print(f"\nscale {entry['scale']:g}: " + profile_text(entry["profile"]))
    print(f"\nresults: {path}" + (f"\nplot: {result['plot']}" if result.get("plot") else ""))
    bad = [
        f"{e['scale']:g}/{n}"
        for e in result["scales"]
        for n, v in e["variants"].items()
        if "error" in v or not v["sample_check"]["ok"] or v.get("validate_ok") is False
    ]
    if bad:
        print(f"FAILED or MISMATCHED: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0
