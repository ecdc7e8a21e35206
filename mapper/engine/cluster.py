"""The Dask executor: a collection's key ranges run as tasks on a Dask cluster.

The run's process (the leader) holds the snapshot-exporting transaction for the whole run,
streams the root table's keys and cuts them into ranges of `batch_size` keys (only the gaps
a checkpoint has not done: `ranges.Ledger`). Each range is one task: on a worker it imports
the leader's snapshot, reads, builds and encodes its documents, writes them to the target
itself (idempotently: `Sink.write_range`) and returns their accounting (`Written`), which the
leader counts, lists in the reject file and checkpoints as ranges complete, in any order.
A worker that dies mid-task has its task run again by the scheduler; the documents it had
sent are written again, harmlessly.

The source and target URLs travel to the workers inside `Secret`s, whose text is hidden:
Dask's logs quote a failed task's arguments, and the URLs hold passwords.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import sqlalchemy as sa

from mapper import plan as p
from mapper.catalog import Catalog
from mapper.compile import Compiler
from mapper.config import redact
from mapper.engine import accounting
from mapper.engine.accounting import Written
from mapper.engine.batches import encode_range, spans
from mapper.engine.build import Builder
from mapper.engine.duplicates import SeenIds
from mapper.engine.executor import KeyRange, RangeDone
from mapper.engine.extract import Extractor, snapshot
from mapper.engine.load import Sink, open_sink
from mapper.engine.ranges import Key, Ledger, Span
from mapper.errors import MapperError, SourceError, TargetError, UsageError

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

log = logging.getLogger(__name__)
T = TypeVar("T")
LOCAL_WORKERS = 2  # dask-local without a count
TASKS_PER_THREAD = 2  # ranges in flight per worker thread: each busy while one is counted
CONNECT_SECONDS = 10.0  # to reach a scheduler
EXECUTOR = "--executor"


def cluster_of(spec: str) -> str | int:
    """The scheduler address of `dask://HOST:PORT`, or the number of worker processes of
    `dask-local[:N]`; anything else is a `UsageError`."""
    if spec.startswith("dask://") and spec.removeprefix("dask://"):
        return "tcp://" + spec.removeprefix("dask://")
    name, _, count = spec.partition(":")
    if name == "dask-local" and (not count or (count.isdigit() and int(count) >= 1)):
        return int(count) if count else LOCAL_WORKERS
    raise UsageError(
        f"unknown executor {spec!r}: use dask://HOST:PORT (a Dask scheduler) or "
        "dask-local[:N] (N local worker processes)",
        setting=EXECUTOR,
    )


@dataclass(frozen=True)
class Secret(Generic[T]):
    """A value (a URL with its password) that no log or repr shows."""

    value: T = field(repr=False)


@dataclass(frozen=True)
class _Job:
    """What every range task of one collection works with: sent to each worker once."""

    collection: p.CollectionPlan
    catalog: Catalog
    source: Secret[sa.URL]
    target: Secret[str]
    snapshot: str


class DaskExecutor:
    """Runs each collection's ranges on the cluster of `client` (`connected` makes one)."""

    def __init__(self, client: Client, source: sa.URL, target: str, batch_size: int):
        self.client = client
        self.source = Secret(source)
        self.target = Secret(_for_workers(target))
        self.batch_size = batch_size
        self._reached = False

    def ranges(
        self, work: KeyRange, extractor: Extractor, ledger: Ledger
    ) -> Generator[RangeDone, None, None]:
        """The ranges of `work` not done in `ledger`, as the cluster completes them."""
        from distributed import as_completed

        collection = work.collection
        snapshot_id = extractor.export_snapshot()
        job = _Job(collection, extractor.compiler.catalog, self.source, self.target, snapshot_id)
        shared = self.client.scatter(job, broadcast=True, hash=False)  # to the workers only
        if not self._reached:
            self._check_reach(job, shared)
        window = TASKS_PER_THREAD * max(1, sum(self.client.nthreads().values()))
        cut = _cut(collection, extractor, ledger, self.batch_size)
        pending: dict[Future[Written], int] = {}
        completed = as_completed(loop=self.client.loop)
        ran = 0

        def submit() -> None:
            nonlocal ran
            for index, (after, through) in cut:
                key = f"mapper-{collection.name}-{index}-{snapshot_id}"
                future = self.client.submit(_run_range, shared, index, after, through, key=key)
                pending[future] = index
                completed.add(future)
                ran += 1
                if len(pending) >= window:
                    return

        try:
            submit()
            for future in completed:
                index = pending.pop(future)
                yield RangeDone(index, _result(future, collection, index))
                submit()
        finally:
            self.client.cancel(list(pending))
            log.info("`%s`: %d range tasks ran on the cluster", collection.name, ran)

    def _check_reach(self, job: _Job, shared: Future[_Job]) -> None:
        """One task that connects to the source (in the snapshot) and the target, so that a
        cluster that cannot reach them fails at once, saying which."""
        future = self.client.submit(_reach, shared, key=f"mapper-reach-{job.snapshot}")
        _result(future, job.collection, None)
        self._reached = True


def _for_workers(target: str) -> str:
    """A `file:` target as an absolute path: workers may run in another directory (elsewhere,
    the path must name a shared file system)."""
    if target.startswith("file:"):
        path = target.removeprefix("file:").removeprefix("//") or "out"
        return f"file:{Path(path).resolve()}"
    return target


def _cut(
    collection: p.CollectionPlan, extractor: Extractor, ledger: Ledger, size: int
) -> Iterator[tuple[int, Span]]:
    """The ranges of `size` keys of each gap the ledger has, in key order, each added to it;
    a gap's last range reaches to its end, and a gap without keys is done at once."""
    for after, through in ledger.gaps():
        keys = extractor.batches(p.keys_after(collection, after, through), size, collection.table)
        last: Span | None = None
        for _, span in spans(keys, tuple, after):
            if last is not None:
                yield ledger.add(last), last
            last = span
        if last is None:
            if through is not None:
                ledger.add((after, through), done=True)
            continue
        last = (last[0], through or last[1])
        yield ledger.add(last), last


def _result(future: Future[Any], collection: p.CollectionPlan, index: int | None) -> Any:
    """A task's result; its error as the run's, saying it happened on the cluster."""
    from distributed import KilledWorker

    what = f"range {index} of `{collection.table}`" if index is not None else "a first task"
    try:
        return future.result()
    except KilledWorker:
        raise SourceError(
            f"the Dask workers running {what} died each time it was tried (out of memory?); "
            "nothing of that range was checkpointed",
            table=collection.table,
        ) from None
    except MapperError as error:
        error.args = (f"on a Dask worker, {what}: {error}",)
        raise


@contextlib.contextmanager
def connected(spec: str, source: sa.URL, target: str, batch_size: int) -> Iterator[DaskExecutor]:
    """A `DaskExecutor` on the cluster `spec` names (`cluster_of`): a local one started for
    the run, or a scheduler's; closed (the workers' connections too) at the end."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "the Dask executor needs the package `distributed`: pip install 'mapper-migrate[dask]'",
            setting=EXECUTOR,
        ) from None
    where = cluster_of(spec)
    with contextlib.ExitStack() as stack:
        if isinstance(where, int):
            local = local_cluster(where)
            stack.callback(local.close)
            client = Client(local)
        else:
            try:
                client = Client(where, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as error:
                raise UsageError(
                    f"cannot reach the Dask scheduler at {where}: {error}", setting=EXECUTOR
                ) from None
        stack.callback(client.close)
        stack.callback(_close_workers, client)
        yield DaskExecutor(client, source, target, batch_size)


def local_cluster(workers: int) -> LocalCluster:
    """A Dask cluster on this machine: `workers` processes of one thread, no dashboard (the
    scheduler's own HTTP routes on a free port, not 8787, which another cluster may hold), its
    logs at errors only. Its processes ignore Ctrl-C, which a terminal sends them too: the
    leader decides when to stop (after the ranges in flight)."""
    from distributed import LocalCluster

    with _interrupts_ignored():
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.ERROR,
        )


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored while processes start (they keep it ignored); the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _close_workers(client: Client) -> None:
    with contextlib.suppress(Exception):  # a cluster gone already holds nothing
        client.run(_dispose)


# --- on a worker ----------------------------------------------------------------------------

_engines: dict[str, sa.Engine] = {}  # by the source URL with its password
_sinks: dict[str, Sink] = {}  # by the target URL
_compilers: dict[str, Compiler] = {}  # by the snapshot: one per collection's job
_lock = threading.Lock()
_thread = threading.local()  # this thread's builder (by snapshot), its range's extractor and
# the SQL statements it has sent


def _connections(job: _Job) -> tuple[sa.Engine, Sink]:
    """This worker's engine of the source and sink of the target, made once."""
    source = job.source.value.render_as_string(hide_password=False)
    with _lock:
        if job.snapshot not in _compilers:  # its statements compiled once, not per range
            _compilers.clear()
            _compilers[job.snapshot] = Compiler(job.catalog)
        if source not in _engines:
            _engines[source] = sa.create_engine(job.source.value, pool_pre_ping=True)
            sa.event.listen(_engines[source], "before_cursor_execute", _counted)
        if job.target.value not in _sinks:
            _sinks[job.target.value] = open_sink(job.target.value)
        return _engines[source], _sinks[job.target.value]


@contextlib.contextmanager
def _on_source(job: _Job) -> Iterator[sa.Connection]:
    """A connection in the leader's snapshot; its failure names the source as workers see it."""
    engine, _ = _connections(job)
    try:
        with snapshot(engine, imported=job.snapshot) as connection:
            yield connection
    except SourceError as error:
        url = redact(job.source.value.render_as_string(hide_password=False))
        raise SourceError(f"cannot read the source {url} from this worker: {error}") from None


def _reach(job: _Job) -> None:
    with _on_source(job):
        pass
    try:
        _connections(job)[1].preflight([job.collection])
    except TargetError as error:
        raise TargetError(
            f"cannot write the target {redact(job.target.value)} from this worker: {error}"
        ) from None


def _run_range(job: _Job, index: int, after: Key | None, through: Key) -> Written:
    """Read, build, encode and write the range (after, through] of the job's collection."""
    collection = job.collection
    sent = _sent()
    with _on_source(job) as connection:
        extractor = _thread.extractor = Extractor(connection, _compilers[job.snapshot])
        render = _connections(job)[1].render
        batch = encode_range(collection, extractor, _builder(job), after, through, render)
    batch.statements = _sent() - sent  # the snapshot's import too
    return accounting.write(collection, batch, _connections(job)[1], SeenIds(), index)


def _counted(*_: object) -> None:
    _thread.statements = _sent() + 1


def _sent() -> int:
    """The SQL statements this thread has sent."""
    sent: int = getattr(_thread, "statements", 0)
    return sent


def _builder(job: _Job) -> Builder:
    """This thread's builder of the job's collection, made (its code generated) once; it reads
    arrays through the extractor of the range this thread runs."""
    if getattr(_thread, "snapshot", None) != job.snapshot:
        _thread.builder = Builder(
            job.collection,
            lambda *query: _thread.extractor.children(*query),
            by_range=_thread.extractor.by_range,  # as in one process: `batches.local`
        )
        _thread.snapshot = job.snapshot
    builder: Builder = _thread.builder
    return builder


def _dispose() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        for sink in _sinks.values():
            sink.close()
        _engines.clear()
        _sinks.clear()
        _compilers.clear()
