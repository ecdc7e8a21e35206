"""A mapping with aggregates against the same mapping without them (issue 17's target: within
1.3×), on an indexed join column and then, with its index dropped, on an unindexed one: the
shipped `mappings/tasks.yaml`, and the same with four aggregates over the comments (a filtered
`count`, `min`, `max`, a `distinct` count of their authors).

`python -m benchmarks.aggregates --scale 3 --scale 30` loads the demo into the test bed's
PostgreSQL (or `MAPPER_TEST_POSTGRES_URL`) and prints one line per scale; `python -m benchmarks`
runs the same measurement (`measure`) at each of its scales. Each run is `api.migrate` of the
`tasks` table in one process into `null:` (the documents built and BSON-encoded, then
discarded); runs alternate between the two mappings and the fastest of `repeat` is kept (with
`repeat` two or more, of more alternations where the runs are short: `MEASURED_SECONDS`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from mapper import api

PLAIN = (Path(__file__).resolve().parent.parent / "mappings" / "tasks.yaml").read_text()
AGGREGATES = """\
      edited_comments: {count: comments, filter: {edited_at: {is_null: false}}}
      first_comment: {min: comments.created_at}
      last_comment: {max: comments.created_at}
      commenters: {count: users, via: [comments], distinct: true}
"""  # added to the `tasks` documents of the shipped mapping, after its `comment_count`
JOIN_COLUMN = ("comments", "task_id")  # the column the aggregates join on
# short runs repeat until each mapping's add up to this many seconds (as `timeit` ranges its
# loops), at most MOST_ATTEMPTS times each: this VM's speed drifts by a third within seconds
MEASURED_SECONDS, MOST_ATTEMPTS = 3.0, 10


def with_aggregates(mapping: str) -> str:
    """The shipped mapping with the aggregates added to its `tasks` documents."""
    anchor = "      comment_count: {count: comments}\n"
    assert anchor in mapping, "mappings/tasks.yaml moved its comment_count"
    return mapping.replace(anchor, anchor + AGGREGATES)


def run_once(url: str, mapping: Path, workdir: Path) -> tuple[float, int]:
    """Seconds that `migrate` took, and the documents it built."""
    with api.prepare([mapping], url) as prepared:
        options = api.MigrateOptions(
            batch_size=1000,
            workers=1,
            rejects=workdir / "rejects.jsonl",
            state=workdir / "state.json",
        )
        started = time.perf_counter()
        summary = api.migrate(prepared, "null:", options)
        seconds = time.perf_counter() - started
    assert summary.balanced and summary.rejected == 0, summary
    return seconds, sum(c.written for c in summary.collections)


def _index_of(connection: sa.Connection, table: str, column: str) -> str:
    [name] = [
        index["name"]
        for index in sa.inspect(connection).get_indexes(table)
        if index["column_names"] == [column]
    ]
    assert name is not None
    return name


@contextlib.contextmanager
def unindexed(url: str, table: str, column: str):
    """The join column without its index for the duration, then indexed again."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            name = _index_of(connection, table, column)
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
            connection.exec_driver_sql(f'ANALYZE "{table}"')
        yield
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
            connection.exec_driver_sql(f'ANALYZE "{table}"')
    finally:
        engine.dispose()


def _short(spent: dict[str, float]) -> bool:
    """Whether some mapping's runs add up to less than `MEASURED_SECONDS`."""
    return min(spent.values()) < MEASURED_SECONDS


def _round_robin(url: str, mappings: dict[str, Path], repeat: int, workdir: Path) -> dict:
    """The fastest of `repeat` alternating runs of each mapping, or, asked for two or more,
    of more where the runs are short (`MEASURED_SECONDS`)."""
    best: dict[str, float] = {}
    spent = dict.fromkeys(mappings, 0.0)
    documents = attempt = 0
    more = repeat > 1  # repetitions asked for: short runs get more of them
    while attempt < repeat or (more and attempt < MOST_ATTEMPTS and _short(spent)):
        order = list(mappings.items())
        for name, mapping in order if attempt % 2 == 0 else reversed(order):  # neither first
            seconds, documents = run_once(url, mapping, workdir)
            best[name] = min(best.get(name, seconds), seconds)
            spent[name] += seconds
        attempt += 1
    return {
        "documents": documents,
        "plain_seconds": best["plain"],
        "aggregates_seconds": best["aggregates"],
        "ratio": best["aggregates"] / best["plain"],
        "attempts": attempt,
    }


def measure(url: str, repeat: int = 3) -> dict:
    """Per join column state (`indexed`, `unindexed`): the fastest run of each mapping of
    `repeat` alternating runs, and the ratio aggregates/plain."""
    with tempfile.TemporaryDirectory(prefix="mapper-aggregates-") as scratch:
        workdir = Path(scratch)
        mappings = {"plain": workdir / "plain.yaml", "aggregates": workdir / "aggregates.yaml"}
        mappings["plain"].write_text(PLAIN)
        mappings["aggregates"].write_text(with_aggregates(PLAIN))
        result = {"indexed": _round_robin(url, mappings, repeat, workdir)}
        with unindexed(url, *JOIN_COLUMN):
            result["unindexed"] = _round_robin(url, mappings, repeat, workdir)
    return result


def line(scale: float, result: dict) -> str:
    parts = [
        f"{state}: {r['plain_seconds']:.2f} s plain, {r['aggregates_seconds']:.2f} s with "
        f"aggregates ({r['ratio']:.2f}×)"
        for state, r in result.items()
    ]
    documents = next(iter(result.values()))["documents"]
    return f"scale {scale:g} ({documents} tasks): " + "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.harness import SEED, database, settle
    from mapper.demo import create_demo

    parser = argparse.ArgumentParser(prog="python -m benchmarks.aggregates")
    parser.add_argument("--scale", type=float, action="append")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import testbed

    with contextlib.ExitStack() as stack:
        server = os.environ.get("MAPPER_TEST_POSTGRES_URL") or stack.enter_context(
            testbed.postgres()
        )
        for scale in args.scale or [3.0]:
            name = f"mapper_aggregates_{scale:g}_{os.getpid()}".replace(".", "_")
            with database(server, name, keep=False) as url:
                create_demo(url, scale=scale, seed=SEED, drop=True)
                settle(url)
                print(line(scale, measure(url, args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
