"""The benchmark harness end to end at a tiny scale: a result file with sane, equal output.

Only the null-sink mapper and the hand-tuned baseline run, each in its own worker process;
nothing about speed is asserted.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from benchmarks import dask_executor, server_cpu
from benchmarks.harness import Config, run_benchmarks, table

pytestmark = pytest.mark.integration


def test_harness_writes_a_result_with_equal_samples(postgres_server, tmp_path):
    config = Config(
        scales=[0.05],
        variants=["mapper-null", "handtuned"],
        compare=10,
        nplus1_sample=20,
        out_dir=tmp_path,
        plot=False,
        postgres_url=postgres_server,
        quiet=True,
    )

    result, path = run_benchmarks(config)

    assert path.parent == tmp_path and path.suffix == ".json"
    written = json.loads(path.read_text(encoding="utf-8"))
    (entry,) = written["scales"]
    assert entry["scale"] == 0.05
    assert set(entry["variants"]) == {"mapper-null", "handtuned"}
    tasks = entry["source_counts"]["tasks"]
    for name, variant in entry["variants"].items():
        assert "error" not in variant, (name, variant.get("error"))
        assert variant["documents"] == tasks > 0
        assert variant["docs_per_s"] > 0 and variant["rows_per_s"] > 0
        assert variant["peak_rss_mb"] > 0 and variant["cpu_seconds"] >= 0
        assert variant["server_cpu_seconds"] is None or variant["server_cpu_seconds"] >= 0
        check = variant["sample_check"]
        assert check["ok"], check["problems"]
        assert check["equal"] == check["compared"] >= 10
    mapper = entry["variants"]["mapper-null"]
    assert mapper["statements"] >= 1 + 3 * mapper["batches"]  # root + one per array per batch
    assert entry["ratios"]["handtuned"]["docs_per_s"] > 0
    assert "mapper-null" in table(result)


def test_the_dask_benchmark_measures_every_run(postgres_server):
    result = dask_executor.bench(postgres_server, 0.05, [20], repeat=1)
    runs = {row["run"]: row for row in result["rows"]}
    assert set(runs) == {"one process", "--workers 2", "dask-local, 2 workers"}
    assert all(row["documents"] == 50 and row["documents_per_second"] > 0 for row in runs.values())
    assert runs["dask-local, 2 workers"]["batches"] == 3  # ranges of 20 keys
    assert "extra_ms_per_range" in runs["dask-local, 2 workers"]
    assert "dask-local" in dask_executor.table(result)


def test_the_servers_cpu_counts_a_query_that_ran_in_it(postgres_server):
    main = server_cpu.postmaster(postgres_server)
    if main is None:
        pytest.skip("PostgreSQL does not run on this machine")
    before, children = server_cpu.cpu_seconds(main)
    engine = sa.create_engine(postgres_server)
    with engine.connect() as connection:  # a backend of its own, ended before measuring
        connection.exec_driver_sql("SELECT sum(i) FROM generate_series(1, 3000000) AS i")
    engine.dispose()
    assert server_cpu.settled(main, children) - before >= 0.1
