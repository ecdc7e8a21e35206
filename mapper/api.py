"""The library: what the command line, the tests, the benchmarks and users' code call.

    import mapper

    with mapper.prepare(["mappings/tasks.yaml"], "postgresql://app@db/tasks") as prepared:
        summary = mapper.migrate(prepared, "mongodb://localhost/tasks")
        report = mapper.validate(prepared, "mongodb://localhost/tasks")

`prepare` is the one place that reads mapping files, connects to the source, reflects it and
plans; every option that changes documents (`DocumentOptions`) is applied to the plan there,
once, so that a run, its checkpoints and `validate` all see the same plan. Errors are
`MapperError`s (`mapper.errors`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from mapper import catalog as catalog_module
from mapper import collector, data_lint, pipeline
from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.config import redact
from mapper.engine import executor as executors
from mapper.engine.duplicates import unproven_id
from mapper.engine.load import Sink, open_sink
from mapper.engine.preview import preview as preview_documents
from mapper.engine.rejects import RejectFile
from mapper.engine.run import RunOptions, RunSummary, run
from mapper.engine.state import Checkpoints, fingerprint
from mapper.errors import MapperError, Problem, SpecError, UsageError
from mapper.progress import Hook, Progress, progress_of
from mapper.resolve import keyed, resolve
from mapper.spec import MappingFile, load_offline

if TYPE_CHECKING:  # imported where used (or when first asked for): a run needs none
    from mapper import proposal as proposal_stage
    from mapper.demo import DEMO_SCHEMAS, create_demo
    from mapper.report import summary_data, summary_text
    from mapper.validation import Report, render

log = logging.getLogger(__name__)
DecimalAs = Literal["decimal128", "string", "double"]


@dataclass(frozen=True)
class DocumentOptions:
    """The options that change documents: applied to the plan by `prepare`, recorded in
    checkpoints (a resume with others is refused) and given to `validate`'s rebuild."""

    decimal_as: DecimalAs = "decimal128"

    def flags(self) -> dict[str, str]:
        """By command-line flag, as checkpoints record them."""
        return {"--decimal-as": self.decimal_as}


@dataclass(frozen=True)
class Prepared:
    """Mapping files planned against a live source: what `migrate` and `validate` take.
    Close it (or use it as a context manager) to release the source's connections (an
    engine the caller passed to `prepare` stays the caller's to dispose of)."""

    mappings: tuple[MappingFile, ...]
    engine: sa.Engine
    catalog: Catalog
    plan: p.Plan  # with `options` applied
    options: DocumentOptions = DocumentOptions()
    warnings: tuple[Problem, ...] = ()
    owns_engine: bool = True  # made by `prepare` from a URL: `close` disposes of it

    def collection_names(self, only: Sequence[str] = ()) -> tuple[str, ...]:
        """The plan's collections, or those of `only`; a name not in the plan is refused."""
        names = tuple(c.name for c in self.plan.collections)
        unknown = set(only) - set(names)
        if unknown:
            raise UsageError(
                f"--only names unknown collections: {', '.join(sorted(unknown))} (the "
                f"mappings' collections: {', '.join(names)})",
                setting="--only",
            )
        return tuple(only) or names

    def close(self) -> None:
        if self.owns_engine:
            self.engine.dispose()

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare(
    files: Sequence[str | Path],
    source: str | sa.Engine,
    options: DocumentOptions = DocumentOptions(),
    *,
    check_access: bool = True,
) -> Prepared:
    """Read and check `files`, connect to `source` (a URL or an engine), reflect it and plan.
    Raises `SpecError` with every problem when any is an error; warnings are kept in
    `Prepared.warnings`. With `check_access`, tables the source's role may not read are
    refused (`PermissionDenied`) before anything else happens. The cyclic collector is
    paused meanwhile: what it makes lives as long as the run (`mapper.collector`)."""
    with collector.paused():
        with _phase("read the mapping files"):
            mappings = _read(files)
        with _phase("connected to the source"):
            engine = pipeline.connect(source) if isinstance(source, str) else source
        try:
            catalog, planned, problems = _planned(mappings, engine)
            if any(problem.severity == "error" for problem in problems):
                raise SpecError(problems)
            if check_access:
                with _phase("checked read access"):
                    pipeline.check_access(engine, catalog, planned)
        except BaseException:
            if isinstance(source, str):
                engine.dispose()
            raise
    prepared = Prepared(
        tuple(mappings),
        engine,
        catalog,
        p.with_decimals(planned, options.decimal_as),
        options,
        tuple(problems),
        owns_engine=isinstance(source, str),
    )
    if log.isEnabledFor(logging.DEBUG):
        log.debug("the plan:\n%s", explain(prepared))
    return prepared


@contextlib.contextmanager
def _phase(done: str) -> Iterator[None]:
    """Logs (at debug: `-vv`) what a phase did and how long it took."""
    started = time.perf_counter()
    yield
    log.debug("%s in %.3f s", done, time.perf_counter() - started)


def _planned(
    mappings: Sequence[MappingFile], engine: sa.Engine
) -> tuple[Catalog, p.Plan, list[Problem]]:
    """The source reflected (the schemas the mappings name), with the `key` the mappings
    name for its views, and the mappings resolved against it, with every problem found
    (`prepare` and `lint` decide what they mean)."""
    with _phase("reflected the source"):
        catalog = catalog_module.reflect(
            engine, pipeline.schemas_of(mappings), pipeline.named_in(mappings)
        )
    with _phase("planned the collections"):
        catalog, key_problems = keyed(mappings, catalog)
        planned, problems = resolve(mappings, catalog)
    return catalog, planned, sorted(key_problems + problems)


def _read(files: Sequence[str | Path]) -> list[MappingFile]:
    mappings, problems = load_offline(files)
    if any(problem.severity == "error" for problem in problems):
        raise SpecError(problems)
    return mappings


@dataclass(frozen=True)
class MigrateOptions:
    """How `migrate` runs; none of these change the documents (see `DocumentOptions`)."""

    batch_size: int = 1000
    # processes that read, build and encode (PostgreSQL sources); auto: what is fastest for
    # each table, one per CPU for a large one, this process alone for a small one or SQLite
    workers: int | Literal["auto"] = "auto"
    executor: str | None = None  # a Dask cluster: dask://HOST:PORT or dask-local[:N]
    on_error: Literal["stop", "skip"] = "skip"
    max_errors: int | None = None
    drop: bool = False
    only: tuple[str, ...] = ()
    rejects: Path = Path("mapper-rejects.jsonl")
    state: Path = Path(".mapper-state.json")  # checkpoints, for mongodb:// targets
    resume: bool = False

    def __post_init__(self) -> None:
        for setting, value, minimum in (
            ("--batch-size", self.batch_size, 1),
            ("--workers", 1 if self.workers == "auto" else self.workers, 1),
            ("--max-errors", self.max_errors if self.max_errors is not None else 0, 0),
        ):
            if value < minimum:
                raise UsageError(
                    f"{setting} must be {minimum} or more, not {value}", setting=setting
                )
        if self.executor is not None:
            from mapper.engine import cluster  # Dask's, with --executor only

            cluster.cluster_of(self.executor)
            if self.workers != "auto" and self.workers > 1:
                raise UsageError(
                    "--workers is for one machine; with --executor the cluster's workers "
                    "do the work",
                    setting="--workers",
                )


def migrate(
    prepared: Prepared,
    target: str | Sink,
    options: MigrateOptions = MigrateOptions(),
    *,
    progress: Progress | Hook | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
    snapshot: str | None = None,
) -> RunSummary:
    """Migrate the prepared plan into `target`: a URL (`mongodb://`, `file:DIR`, `null:`) or
    a `Sink`. Into `mongodb://` targets the run keeps checkpoints in `options.state` and
    `options.resume` continues from them. `snapshot`: a PostgreSQL snapshot id that the run
    reads in (exported by another transaction, as a replication slot's: `sync`)."""
    only = prepared.collection_names(options.only) if options.only else ()
    if options.executor is not None:
        _check_ids_proven(prepared, only)
    checkpoints = _checkpoints(prepared, target, options)
    sink = open_sink(target) if isinstance(target, str) else target
    run_options = RunOptions(
        on_error=options.on_error, max_errors=options.max_errors, drop=options.drop, only=only
    )
    with _phase("migrated"), _executor(prepared, target, options) as executor:
        return run(
            prepared.plan,
            prepared.engine,
            prepared.catalog,
            sink,
            RejectFile(Path(options.rejects)),
            run_options,
            executor,
            progress_of(progress),
            checkpoints,
            stop_requested,
            snapshot,
        )


def _check_ids_proven(prepared: Prepared, only: Sequence[str]) -> None:
    """Refuse a cluster run of a collection whose `_id` may repeat: its ranges are checked
    each on its own, so a repeat across two would overwrite a document unseen."""
    for collection in prepared.plan.collections:
        if only and collection.name not in only:
            continue
        why = unproven_id(collection, prepared.catalog.table(collection.table))
        if why is not None:
            raise UsageError(
                f"collection `{collection.name}` cannot run with --executor: its `_id` is "
                f"{why}, so two rows in different ranges could make one `_id` and the later "
                "overwrite the other unseen; run it in one process (without --executor, "
                "--workers N for parallel batches), which rejects the repeats",
                table=collection.table,
                setting="--executor",
            )


@contextlib.contextmanager
def _executor(
    prepared: Prepared, target: str | Sink, options: MigrateOptions
) -> Iterator[executors.Executor | executors.RangeExecutor]:
    """This machine's processes, or the Dask cluster `options.executor` names."""
    if options.executor is None:
        yield executors.choose(prepared.engine, options.batch_size, options.workers)
        return
    if not isinstance(target, str):
        raise UsageError("--executor needs a target URL, which the cluster's workers open")
    if prepared.engine.dialect.name != "postgresql":
        raise UsageError(
            "--executor needs a PostgreSQL source: its workers share the run's exported "
            f"snapshot, which this source ({prepared.engine.dialect.name}) has not",
            setting="--executor",
        )
    from mapper.engine import cluster

    with cluster.connected(
        options.executor, prepared.engine.url, target, options.batch_size
    ) as on_cluster:
        yield on_cluster


def _checkpoints(
    prepared: Prepared, target: str | Sink, options: MigrateOptions
) -> Checkpoints | None:
    if not (isinstance(target, str) and target.startswith("mongodb")):
        if options.resume:
            raise UsageError(
                "--resume needs a mongodb:// target (file: targets are rewritten "
                "whole on every run)",
                setting="--resume",
            )
        return None
    executor = "local" if options.executor is None else "dask"  # how its progress is kept
    checkpoints = Checkpoints(
        Path(options.state),
        fingerprint(prepared.plan, redact(target)),
        {**prepared.options.flags(), "--executor": executor},
    )
    if options.resume:
        checkpoints.load()
    return checkpoints


@dataclass(frozen=True)
class ValidateOptions:
    """What `validate` compares: `sample` documents per collection in full (None: every
    document); `values=False` shows differences as paths and BSON types only."""

    sample: int | None = 200
    seed: int | None = None
    only: tuple[str, ...] = ()
    values: bool = True

    def __post_init__(self) -> None:
        if self.sample is not None and self.sample < 0:
            raise UsageError("--sample must be 0 or more", setting="--sample")


def validate(
    prepared: Prepared,
    target: str,
    options: ValidateOptions = ValidateOptions(),
    *,
    progress: Progress | None = None,
) -> Report:
    """Check a `mongodb://` or `file:` target against the source (`mapper.validation`);
    `progress` has a task per collection."""
    from mapper.validation import validate as validate_target

    only = prepared.collection_names(options.only) if options.only else ()
    return validate_target(
        prepared.plan,
        prepared.engine,
        prepared.catalog,
        target,
        mappings=list(prepared.mappings),
        sample=options.sample,
        decimal_as=prepared.options.decimal_as,
        seed=options.seed,
        only=only,
        values=options.values,
        progress=progress_of(progress),
    )


def lint(
    files: Sequence[str | Path],
    source: str | None = None,
    max_children: int = data_lint.MAX_CHILDREN,
) -> list[Problem]:
    """Every problem of `files`: the schema's offline; with a source URL, also names, joins
    and types against it and the data's (unbounded arrays, oversized documents)."""
    mappings, problems = load_offline(files)
    if source is None:
        return sorted(problems)
    clean = [
        m
        for m in mappings
        if not any(pr.file == m.path and pr.severity == "error" for pr in problems)
    ]
    engine = pipeline.connect(source)
    try:
        catalog, planned, semantic = _planned(clean, engine)
        problems += semantic
        if not any(problem.severity == "error" for problem in semantic):
            problems += data_lint.data_problems(clean, planned, engine, catalog, max_children)
    finally:
        engine.dispose()
    return sorted(problems)


def init(
    source: str | sa.Engine,
    tables: Sequence[str] = (),
    *,
    budget_seconds: float = 60.0,
    progress: Progress | None = None,
) -> proposal_stage.Proposal:
    """Reflect `source` (its `tables`, or all), read its statistics within about
    `budget_seconds`, and propose collections with the reasons for each decision (render
    them with `init_files`)."""
    engine = pipeline.connect(source) if isinstance(source, str) else source
    try:
        from mapper import proposal as proposal_stage

        catalog = proposal_stage.only(catalog_module.reflect(engine), tables)
        return proposal_stage.proposal(engine, catalog, budget_seconds, progress_of(progress))
    finally:
        if isinstance(source, str):
            engine.dispose()


def init_files(
    proposal: proposal_stage.Proposal, form: Literal["yaml", "html"] = "yaml"
) -> dict[str, str]:
    """File name → text: one commented mapping file per collection, or the HTML report."""
    from mapper import proposal as proposal_stage

    if form == "html":
        return {proposal_stage.REPORT_FILE: proposal_stage.html(proposal)}
    return proposal_stage.yaml_files(proposal)


def write_files(
    files: dict[str, str], out: str | Path, force: bool = False
) -> proposal_stage.Written:
    """Write `files` into the folder `out`; an existing file that differs is never
    overwritten without `force` (nothing is written, and its diff is in the result)."""
    from mapper import proposal as proposal_stage

    return proposal_stage.write(files, Path(out), force)


PlanFormat = Literal["text", "json", "mermaid", "html"]
PLAN_FORMATS: tuple[PlanFormat, ...] = ("text", "json", "mermaid", "html")


def explain(prepared: Prepared, form: PlanFormat = "text") -> str:
    """The plan as `text` (each collection's SQL as the source's dialect renders it, and its
    document shape), as `json` (the same as data), or drawn: each collection's document tree
    and its references as a `mermaid` flowchart, or as an `html` page with an SVG."""
    if form in ("mermaid", "html"):
        from mapper import diagram

        return diagram.mermaid(prepared.plan) if form == "mermaid" else diagram.html(prepared.plan)
    from mapper.report import plan_data, plan_text

    compiler, dialect = Compiler(prepared.catalog), prepared.engine.dialect
    if form == "json":
        return json.dumps(plan_data(prepared.plan, compiler, dialect), indent=2, default=str)
    return plan_text(prepared.plan, compiler, dialect)


def preview(
    prepared: Prepared, count: int = 3, only: Sequence[str] = ()
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(collection, document) for the first `count` documents of each collection; writes
    nothing."""
    names = prepared.collection_names(only) if only else ()
    return preview_documents(prepared.plan, prepared.engine, prepared.catalog, count, names)


DEMO_NAMES = ("tasks", "retail")  # of `DEMO_SCHEMAS`, for `mapper demo --schema` (cheap)
_LAZY = {  # names of the API whose modules are imported when first asked for
    "DEMO_SCHEMAS": "mapper.demo",
    "create_demo": "mapper.demo",
    "Report": "mapper.validation",
    "render": "mapper.validation",
    "summary_data": "mapper.report",  # a run's summary, written after its first row
    "summary_text": "mapper.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEMO_SCHEMAS",
    "DocumentOptions",
    "MapperError",
    "MigrateOptions",
    "PLAN_FORMATS",
    "Prepared",
    "Report",
    "RunSummary",
    "ValidateOptions",
    "create_demo",
    "explain",
    "init",
    "init_files",
    "lint",
    "migrate",
    "prepare",
    "preview",
    "render",
    "summary_data",
    "summary_text",
    "validate",
    "write_files",
]
