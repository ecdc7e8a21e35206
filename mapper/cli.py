"""The command line: parse arguments, call the library, map errors to exit codes."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Literal

from mapper import __version__, api, config
from mapper.errors import (
    EXIT_DATA,
    EXIT_FAULT,
    EXIT_USAGE,
    MapperError,
    Problem,
    SpecError,
    UsageError,
)
from mapper.progress import Display

Command = Callable[[argparse.Namespace], int]
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a SIGINT


def cmd_demo(args: argparse.Namespace) -> int:
    url = config.source_url(args.source)
    with _display(args, "rows") as progress:
        counts = api.create_demo(
            url,
            scale=args.scale,
            seed=args.seed,
            drop=args.drop,
            schema=args.schema,
            progress=progress,
        )
    print(
        f"{args.schema} demo database at {config.redact(url)} "
        f"(scale {args.scale}, seed {args.seed}):"
    )
    for table, count in counts.items():
        print(f"  {table:<16} {count:>9,} rows")
    return 0


def _demo_cache() -> Path:
    return config.cache_dir() / "demo-scale1.sqlite"


def _source(args: argparse.Namespace) -> str:
    """The source URL; with neither a source nor a target configured, the demo database in
    SQLite (made on first use). A configured target without a source is an error: a typo in
    a variable's name must never migrate the demo into a real database."""
    url = config.setting(config.SOURCE_VARIABLE, args.source)
    if url:
        return url
    if config.setting(config.TARGET_VARIABLE, getattr(args, "target", None)):
        raise UsageError(
            f"no source, but a target is configured: pass --source URL, or set "
            f"{config.SOURCE_VARIABLE} in the environment or in .env"
            f"{_misspelt(config.SOURCE_VARIABLE)} (the demo database is used only "
            "when neither a source nor a target is configured)",
            setting=config.SOURCE_VARIABLE,
        )
    cache = _demo_cache()
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        print(f"no source configured: creating the demo database in {cache}", file=sys.stderr)
        partial = cache.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        api.create_demo(f"sqlite:///{partial}", scale=1, seed=42)
        partial.rename(cache)
    args.using_demo = True
    return f"sqlite:///{cache}"


def _misspelt(name: str) -> str:
    """A hint naming the variables of the environment or `.env` that look like `name`."""
    close = config.misspelt(name)
    return (
        f" ({', '.join(close)} {'is' if len(close) == 1 else 'are'} set: a typo?)" if close else ""
    )


@contextlib.contextmanager
def _prepare(args: argparse.Namespace) -> Iterator[api.Prepared]:
    """The mapping files planned against the source, with the document options of `args`;
    warnings are printed and `--only` is checked before anything else; closed on leaving,
    a refused `--only` included."""
    options = api.DocumentOptions(decimal_as=getattr(args, "decimal_as", "decimal128"))
    with api.prepare(args.files, _source(args), options) as prepared:
        for problem in prepared.warnings:
            print(problem, file=sys.stderr)
        prepared.collection_names(getattr(args, "only", None) or ())
        yield prepared


def cmd_plan(args: argparse.Namespace) -> int:
    with _prepare(args) as prepared:
        _emit(api.explain(prepared, args.format), args.output, "plan")
    return 0


def _emit(output: str, path: str | None, what: str) -> None:
    """`output` on stdout, or into the file `path` (saying so on stderr)."""
    if path:
        Path(path).write_text(output + "\n", encoding="utf-8")
        print(f"{what} written to {path}", file=sys.stderr)
    else:
        print(output)


def cmd_preview(args: argparse.Namespace) -> int:
    from bson import json_util

    options = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED, uuid_representation=4)
    with _prepare(args) as prepared:
        documents = api.preview(prepared, args.n, args.only or ())
        if args.format == "json":  # one object: {collection: [documents]}
            grouped: dict[str, list[dict[str, Any]]] = {}
            for collection, document in documents:
                grouped.setdefault(collection, []).append(document)
            print(json_util.dumps(grouped, json_options=options, indent=2, ensure_ascii=False))
            return 0
        for collection, document in documents:
            if args.format == "jsonl":  # one line per document
                line = {"collection": collection, "document": document}
                print(json_util.dumps(line, json_options=options, ensure_ascii=False))
            else:
                print(f"// {collection}")
                text = json_util.dumps(document, json_options=options, indent=2, ensure_ascii=False)
                print(text)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    target = config.setting(config.TARGET_VARIABLE, args.target) or "file:out"
    if args.validate and not target.startswith(("mongodb", "file:")):
        raise UsageError("--validate needs a mongodb:// or file: target", setting="--validate")
    options = api.MigrateOptions(
        batch_size=args.batch_size,
        workers=args.workers,
        executor=args.executor,
        on_error=args.on_error,
        max_errors=args.max_errors,
        drop=args.drop,
        only=tuple(args.only or ()),
        rejects=Path(args.rejects),
        state=Path(args.state),
        resume=args.resume,
    )
    with _prepare(args) as prepared:
        print(
            f"source {config.redact(prepared.engine.url.render_as_string(hide_password=False))}"
            f" → target {config.redact(target)}",
            file=sys.stderr,
        )
        with _display(args, "docs") as progress, _stop_on_interrupt() as stop_requested:
            summary = api.migrate(
                prepared, target, options, progress=progress, stop_requested=stop_requested
            )
        notes = sys.stderr if args.format == "json" else sys.stdout  # stdout stays JSON
        if args.format == "text":
            print(api.summary_text(summary))
        if summary.rejected:
            print(f"{summary.rejected} rejected rows: see {args.rejects}", file=notes)
        if getattr(args, "using_demo", False):
            print(
                "(demo source; point at your database with --source URL or "
                "MAPPER_SOURCE_URL, and at MongoDB with --target mongodb://HOST/DB or "
                "MAPPER_TARGET_URL)",
                file=notes,
            )
        failed = bool(summary.rejected or summary.stopped or not summary.balanced)
        report = None
        if args.validate and not summary.stopped:
            report = api.validate(prepared, target, api.ValidateOptions(only=options.only))
            if args.format == "text":
                print(api.render(report, "text"))
            failed = failed or not report.ok
    code = EXIT_INTERRUPTED if summary.stopped and stop_requested() else EXIT_DATA if failed else 0
    if args.format == "json":
        result = {
            **api.summary_data(summary),
            "exit_status": code,
            "rejects": str(args.rejects) if summary.rejected else None,
        }
        if report is not None:
            result["validation"] = json.loads(api.render(report, "json"))
        print(json.dumps(result, indent=2))
    return code


def _display(args: argparse.Namespace, unit: str) -> Display:
    """Progress on standard error: bars on a terminal, log lines otherwise; none with -q."""
    return Display(unit, enabled=_level(args) <= logging.WARNING)


@contextlib.contextmanager
def _stop_on_interrupt(*signals: signal.Signals) -> Iterator[Callable[[], bool]]:
    """First Ctrl-C (or one of `signals`): stop after the batch in flight (checkpoint
    consistent). Second: now."""
    requested: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)
        print("\nstopping after the batch in flight (Ctrl-C again to abort)", file=sys.stderr)

    previous = {caught: signal.signal(caught, handler) for caught in (signal.SIGINT, *signals)}
    try:
        yield lambda: bool(requested)
    finally:
        for caught, handling in previous.items():
            signal.signal(caught, handling)


def cmd_validate(args: argparse.Namespace) -> int:
    options = api.ValidateOptions(
        sample=None if args.full else args.sample,
        seed=args.seed,
        only=tuple(args.only or ()),
        values=not args.no_values,
    )
    target = config.setting(config.TARGET_VARIABLE, args.target)
    if not target:
        raise UsageError(
            f"no target: pass --target mongodb://HOST/DB (or file:DIR) or set "
            f"{config.TARGET_VARIABLE} (or in .env)",
            setting="--target",
        )
    with _prepare(args) as prepared:
        try:
            with _display(args, "rows") as progress:
                report = api.validate(prepared, target, options, progress=progress)
        except MapperError:
            raise
        except Exception as error:  # noqa: BLE001 - a fault, not a difference: exit 3, not 1
            if args.traceback:
                raise
            print(
                f"mapper validate: fault: {type(error).__name__}: "
                f"{config.redact(str(error))[:300]}",
                file=sys.stderr,
            )
            return EXIT_FAULT
    _emit(api.render(report, args.format), args.output, "validation report")
    return 0 if report.ok else EXIT_DATA


def _batching(parser: argparse.ArgumentParser, batch: str, workers: str) -> None:
    """`--batch-size` and `--workers`, as `run` and `sync` take them."""
    parser.add_argument(
        "--batch-size", type=_at_least(1), default=1000, help=f"{batch} (default %(default)s)"
    )
    parser.add_argument("--workers", type=_workers, default="auto", metavar="N|auto", help=workers)


def cmd_sync(args: argparse.Namespace) -> int:
    from mapper import sync

    target = config.setting(config.TARGET_VARIABLE, args.target)
    if not target:
        raise UsageError(
            f"no target: pass --target mongodb://HOST/DB or set {config.TARGET_VARIABLE}",
            setting="--target",
        )
    with _prepare(args) as prepared:
        if (args.status or args.stop) and prepared.engine.dialect.name != "postgresql":
            print("no sync slots: a sync --poll keeps none (stop it with Ctrl-C)")
            return 0
        if args.status:
            for found in sync.status(prepared):
                print(
                    f"{found.name}: {'active' if found.active else 'inactive'}, confirmed "
                    f"{found.confirmed}, {found.behind_bytes} bytes behind, the source keeps "
                    f"{found.retained_bytes} bytes of WAL for it"
                )
            return 0
        if args.stop:
            dropped = sync.stop(prepared, target, args.slot)
            print("sync stopped: slot dropped" if dropped else "sync stopped: no slot was left")
            return 0
        options = sync.SyncOptions(
            args.slot,
            args.until_caught_up,
            args.batch_size,
            args.workers,
            args.poll,
            args.interval,
            tuple(args.watermark),
        )
        reporting = logging.getLogger("mapper.sync")
        if _level(args) == logging.WARNING:  # long-lived: how far behind, every few seconds
            reporting.setLevel(logging.INFO)
        try:
            # a service manager stops it with SIGTERM: after the round in flight, as Ctrl-C
            with _stop_on_interrupt(signal.SIGTERM) as stop_requested:
                followed = sync.sync(prepared, target, options, stop_requested)
        finally:
            reporting.setLevel(logging.NOTSET)
    print(
        f"sync: {'loaded, then ' if followed.loaded else ''}{followed.changes} changes in "
        f"{followed.rounds} rounds: {followed.replaced} documents replaced, {followed.deleted} "
        f"deleted, {followed.rejected} rejected; "
        f"{'caught up' if followed.caught_up else 'stopped'}"
        + ("" if args.poll else f" at {sync.lsn_text(followed.position)}")
    )
    return EXIT_DATA if followed.rejected else 0


def cmd_init(args: argparse.Namespace) -> int:
    url = config.source_url(args.source)
    with _display(args, "queries") as progress:
        proposal = api.init(
            url, args.tables or (), budget_seconds=args.time_budget, progress=progress
        )
    written = api.write_files(api.init_files(proposal, args.format), args.out, args.force)
    for path, diff in written.refused:
        print(diff or f"{path}: differs", end="" if diff.endswith("\n") else "\n")
    if written.refused:
        names = ", ".join(str(path) for path, _ in written.refused)
        print(
            f"mapper init: {names} exists: nothing written (the diff above is what would "
            "change; pass --force to overwrite)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    for path in written.written:
        print(f"wrote {path}")
    for path in written.unchanged:
        print(f"unchanged {path}")
    for table, why in proposal.skipped:
        print(f"not mapped: {table}: {why}", file=sys.stderr)
    for note in proposal.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    url = None if args.offline else config.setting(config.SOURCE_VARIABLE, args.source)
    problems = api.lint(args.files, url, args.max_children)
    if url is None and not args.offline:
        print(
            "no source given (--source, MAPPER_SOURCE_URL or .env): checked offline only",
            file=sys.stderr,
        )
    _print_problems(problems, args.format)
    errors = sum(problem.severity == "error" for problem in problems)
    warnings = len(problems) - errors
    if errors:
        return EXIT_USAGE
    return EXIT_DATA if warnings and args.strict else 0


def _print_problems(problems: list[Problem], form: str, limit: int = 200) -> None:
    if form == "json":
        print(json.dumps([problem.as_dict() for problem in problems], indent=2))
        return
    for problem in problems[:limit]:
        print(problem)
    if len(problems) > limit:
        print(f"... and {len(problems) - limit} more")
    if not problems:
        print("no problems")


def build_parser(completion: ModuleType | None = None) -> argparse.ArgumentParser:
    """The command line. `completion`: shtab, when the parser is built for its completion
    script (`cmd_completion`; shtab is imported there only): the arguments that take paths
    complete file names, and `mapper completion` offers the shells shtab writes."""
    file_completer = completion.FILE if completion else None
    parser = argparse.ArgumentParser(
        prog="mapper",
        description="Migrate a relational database into MongoDB, declaratively.",
        formatter_class=_Help,
        epilog=_examples(
            "mapper init --source postgresql://app@localhost/shop --out mappings/",
            "mapper run mappings/ --source postgresql://app@localhost/shop "
            "--target mongodb://localhost/shop --validate",
        ),
    )
    parser.add_argument("--version", action="version", version=f"mapper {__version__}")
    _output_options(parser, defaults=True)
    after = argparse.ArgumentParser(add_help=False)  # the same, after the command's name
    _output_options(after, defaults=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, func: Command, *examples: str) -> argparse.ArgumentParser:
        """A subcommand: its help, what it calls, and examples of it (shown by its --help)."""
        sub = commands.add_parser(
            name, parents=[after], help=text, formatter_class=_Help, epilog=_examples(*examples)
        )
        sub.set_defaults(func=func)
        return sub

    demo = command(
        "demo",
        "create and fill a demo database",
        cmd_demo,
        "mapper demo --source postgresql://app@localhost/tasks --scale 10",
        "mapper demo --source sqlite:///retail.db --schema retail",
    )
    demo.add_argument(
        "--source", help="SQLAlchemy URL of the database to fill (default: $MAPPER_SOURCE_URL)"
    )
    demo.add_argument(
        "--schema",
        choices=api.DEMO_NAMES,
        default="tasks",
        help="which demo: tasks (the default, the shipped mappings' source) or retail "
        "(docs/demo-retail.md)",
    )
    demo.add_argument("--scale", type=float, default=1.0, help="size multiplier (default 1)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--drop", action="store_true", help="drop the demo tables first")

    init = command(
        "init",
        "propose commented mapping files from a live schema and its statistics",
        cmd_init,
        "mapper init --source postgresql://app@localhost/shop --out mappings/",
        "mapper init --source sqlite:///shop.db --tables orders customers --format html",
    )
    init.add_argument("--source", help="SQLAlchemy URL of the source (default: $MAPPER_SOURCE_URL)")
    init.add_argument(
        "--tables", nargs="+", metavar="TABLE", help="only these tables (default: every one)"
    )
    init.add_argument(
        "--out", default="mappings", help="folder of the files written (default %(default)s/)"
    )
    init.add_argument(
        "--format",
        choices=("yaml", "html"),
        default="yaml",
        help="yaml: one mapping file per collection; html: a one-page report of the proposal",
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.add_argument(
        "--time-budget",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop reading statistics after about this long (default %(default)s)",
    )

    def mapping_command(
        name: str, text: str, func: Command, *examples: str
    ) -> argparse.ArgumentParser:
        sub = command(name, text, func, *examples)
        files = sub.add_argument(
            "files", nargs="+", metavar="FILE", help="mapping files or folders of them"
        )
        files.complete = file_completer  # type: ignore[attr-defined]
        sub.add_argument(
            "--source",
            help="SQLAlchemy URL of the source (default: "
            "$MAPPER_SOURCE_URL, .env, else the demo database)",
        )
        return sub

    lint = mapping_command(
        "lint",
        "check mapping files against the schema and the source",
        cmd_lint,
        "mapper lint mappings/ --source postgresql://app@localhost/tasks --strict",
        "mapper lint mappings/tasks.yaml --offline --format json",
    )
    lint.add_argument("--offline", action="store_true", help="skip the checks that need the source")
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings")
    lint.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: a line per problem; json: a list of problems with file, line and column",
    )
    lint.add_argument(
        "--max-children",
        type=_at_least(0),
        default=1000,
        metavar="N",
        help="warn about arrays whose largest parent has more elements (default %(default)s)",
    )

    plan = mapping_command(
        "plan",
        "print the compiled plan: SQL and document shapes",
        cmd_plan,
        "mapper plan mappings/ --source postgresql://app@localhost/tasks",
        "mapper plan mappings/ --format html --output plan.html",
        "mapper plan mappings/ --format mermaid --output plan.mmd",
    )
    plan.add_argument(
        "--format",
        choices=api.PLAN_FORMATS,
        default="text",
        help="text: SQL and document shapes; json: the same as data; mermaid: a Mermaid "
        "flowchart of each collection's document tree and references; html: that diagram "
        "drawn as a self-contained page (SVG, no script)",
    )
    _output(plan, "the plan", file_completer)

    preview_parser = mapping_command(
        "preview",
        "print a few documents, write nothing",
        cmd_preview,
        "mapper preview mappings/ -n 1 --only tasks",
        "mapper preview mappings/ --format jsonl",
    )
    preview_parser.add_argument(
        "-n", type=_at_least(1), default=3, help="documents per collection (default 3)"
    )
    _only(preview_parser, "preview")
    preview_parser.add_argument(
        "--format",
        choices=("text", "json", "jsonl"),
        default="text",
        help="text (default: a // comment per document), json (one object of collections) "
        "or jsonl (one line per document), in relaxed Extended JSON",
    )

    run_parser = mapping_command(
        "run",
        "migrate the source into the target",
        cmd_run,
        "mapper run mappings/ --target mongodb://localhost/tasks --drop --validate",
        "mapper run mappings/ --target mongodb://localhost/tasks --resume",
        "mapper run mappings/ --target file:out --only tasks --format json",
    )
    run_parser.add_argument(
        "--target",
        help="mongodb://HOST/DB, file:DIR or null: (default: "
        "$MAPPER_TARGET_URL, .env, else file:out)",
    )
    _only(run_parser, "migrate")
    _batching(
        run_parser,
        "root rows read, built and written at once",
        "processes that read, build and encode in parallel, sharing "
        "the run's snapshot (PostgreSQL sources; auto, the default: one per CPU "
        "for a table large enough to repay them, else this process alone)",
    )
    run_parser.add_argument(
        "--executor",
        metavar="dask://HOST:PORT|dask-local[:N]",
        help="run the key ranges as tasks on a Dask cluster: a scheduler's, or N local "
        "worker processes started for the run (PostgreSQL sources; needs mapper[dask]; "
        "default: this machine, see --workers)",
    )
    run_parser.add_argument(
        "--on-error",
        choices=("stop", "skip"),
        default="skip",
        help="a row that cannot be converted or written: stop the run, or skip it and list "
        "it in --rejects",
    )
    run_parser.add_argument(
        "--max-errors",
        type=_at_least(0),
        metavar="K",
        help="with --on-error skip: stop after K rejected rows (default: no limit)",
    )
    run_parser.add_argument("--drop", action="store_true", help="rebuild the target collections")
    run_parser.add_argument(
        "--decimal-as",
        choices=("decimal128", "string", "double"),
        default="decimal128",
        help="store decimals as Decimal128 (default), "
        "exact text, or double (for servers without Decimal128)",
    )
    run_parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="the summary as a table (default) or as JSON on stdout (per collection, total, "
        "exit status; with --validate, the report too)",
    )
    run_parser.add_argument(
        "--validate",
        action="store_true",
        help="validate the target against the source right after the run (a sample)",
    )
    run_parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoint (mongodb:// targets)",
    )
    run_parser.add_argument(
        "--state",
        default=".mapper-state.json",
        help="checkpoint file (default %(default)s; removed after a complete run)",
    )
    run_parser.add_argument(
        "--rejects",
        default="mapper-rejects.jsonl",
        help="where rejected rows are listed (default %(default)s)",
    )

    validate = mapping_command(
        "validate",
        "prove that the target equals the source",
        cmd_validate,
        "mapper validate mappings/ --target mongodb://localhost/tasks",
        "mapper validate mappings/ --target mongodb://localhost/tasks --full --format html "
        "--output report.html",
    )
    validate.description = (
        "Check the target against the source with queries of its own and documents rebuilt "
        "independently of the run. Each difference shows the expected and the actual value, "
        "which are row contents: use --no-values for paths and BSON types only."
    )
    validate.add_argument(
        "--target", help="mongodb://HOST/DB or file:DIR (default: $MAPPER_TARGET_URL, .env)"
    )
    _only(validate, "validate")
    depth = validate.add_mutually_exclusive_group()
    depth.add_argument(
        "--sample",
        type=_at_least(0),
        default=200,
        metavar="N",
        help="compare N random documents per collection in full (default %(default)s)",
    )
    depth.add_argument("--full", action="store_true", help="compare every document in full")
    validate.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="text: a table of checks and the first differences; json: all of it as data; "
        "html: a page with a roll-up per collection and the run's details",
    )
    _output(validate, "the report", file_completer)
    validate.add_argument(
        "--decimal-as",
        choices=("decimal128", "string", "double"),
        default="decimal128",
        help="how the run stored decimals (as its --decimal-as)",
    )
    validate.add_argument(
        "--seed", type=int, help="random seed of the sample (default: a new sample each time)"
    )
    validate.add_argument(
        "--no-values",
        action="store_true",
        help="show differences as "
        "paths and BSON types only, never the expected and actual values "
        "(which are row contents)",
    )

    sync_parser = mapping_command(
        "sync",
        "keep the target equal to a live source (logical replication, or --poll)",
        cmd_sync,
        "mapper sync mappings/ --target mongodb://localhost/tasks",
        "mapper sync mappings/ --target mongodb://localhost/tasks --until-caught-up",
        "mapper sync mappings/ --target mongodb://localhost/tasks --stop",
        "mapper sync mappings/ --source sqlite:///app.db --target mongodb://localhost/app "
        "--poll --watermark updated_at",
    )
    sync_parser.description = (
        "Load the target in the snapshot of a new logical replication slot, then apply every "
        "change the slot streams by rebuilding the documents it touches. With --poll, read "
        "the source's tables again every --interval seconds instead and rebuild what "
        "differs (any source; weaker): docs/sync.md."
    )
    sync_parser.add_argument("--target", help="mongodb://HOST/DB (default: $MAPPER_TARGET_URL)")
    sync_parser.add_argument(
        "--slot", help="the slot and publication's name (default: mapper_ and a digest)"
    )
    mode = sync_parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--until-caught-up",
        action="store_true",
        help="exit 0 once every change the source had when streaming began is applied",
    )
    mode.add_argument("--stop", action="store_true", help="drop the slot and publication")
    mode.add_argument("--status", action="store_true", help="list the sync slots and their lag")
    sync_parser.add_argument(
        "--poll",
        action="store_true",
        help="no replication slot: compare the tables cycle after cycle (SQLite, MySQL)",
    )
    sync_parser.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="between the cycles of --poll (default %(default)s)",
    )
    sync_parser.add_argument(
        "--watermark",
        action="append",
        default=[],
        metavar="COLUMN|TABLE.COLUMN",
        help="of --poll: a column every update changes (e.g. updated_at), read instead of "
        "the whole row; repeatable",
    )
    _batching(
        sync_parser, "changes per round", "processes of the initial load (as run's; default auto)"
    )
    sync_parser.add_argument(
        "--decimal-as",
        choices=("decimal128", "string", "double"),
        default="decimal128",
        help="how decimals are stored (as run's --decimal-as)",
    )

    completing = command(
        "completion",
        "print the shell completion script",
        cmd_completion,
        "mapper completion bash > ~/.local/share/bash-completion/completions/mapper",
        "mapper completion zsh > ~/.zfunc/_mapper",
    )
    shells = completion.SUPPORTED_SHELLS if completion else None
    completing.add_argument("shell", choices=shells, help="the shell (bash, zsh, tcsh...)")
    return parser


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the examples' lines as written and ends an option's text with its
    default, unless the text gives it already or the option is a flag."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default %(default)s)"


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _only(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--only",
        action="append",
        metavar="COLLECTION",
        help=f"{verb} only this collection (repeatable; default: every one)",
    )


def _output(parser: argparse.ArgumentParser, what: str, file_completer: object) -> None:
    option = parser.add_argument(
        "--output", metavar="PATH", help=f"write {what} into this file (default: stdout)"
    )
    option.complete = file_completer  # type: ignore[attr-defined]


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab  # here only: some 8 ms of every other command's start

    if args.shell not in shtab.SUPPORTED_SHELLS:
        raise UsageError(
            f"no completion script for `{args.shell}`: shtab writes "
            + ", ".join(shtab.SUPPORTED_SHELLS)
        )
    print(shtab.complete(build_parser(shtab), shell=args.shell))
    return 0


def _at_least(minimum: int) -> Callable[[str], int]:
    """An option's type: a whole number, `minimum` or more (checked when parsed: exit 2
    naming the option, never a crash or a silent empty run)."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"a whole number, {minimum} or more (not {text!r})")
        return value

    return whole_number


def _output_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """-v/-vv/-q, --log-level and --traceback: before the command's name (`defaults`) or
    after it (no defaults there, so that a flag given before is kept)."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default(0),
        help="log more (-v info, -vv debug with phase timings and the plan)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="log errors only"
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=default(None),
        help="mapper's log level (wins over -v and -q; default warning)",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        default=default(False),
        help="show the stack on errors",
    )


def _workers(text: str) -> int | Literal["auto"]:
    if text == "auto":
        return "auto"
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("a number of processes (1 or more), or auto")
    return int(text)


class _Redacting(logging.Filter):
    """Passwords out of every log line: a driver's message may quote a URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = config.redact(record.getMessage()), ()
        return True


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _Once(logging.Filter):
    """Each warning printed once per command, wherever it is raised from (Python's default
    prints one per place in the code, and a library's warning names its caller's place)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "py.warnings":
            return True
        text = record.getMessage().split("\n", 1)[0]
        what = text.split(": ", 1)[-1]  # without the `path:line: ` it starts with
        if what in self.seen:
            return False
        self.seen.add(what)
        return True


def _level(args: argparse.Namespace) -> int:
    """mapper's log level: --log-level, else -q, else one step down per -v."""
    if args.log_level:
        return _LEVELS[args.log_level]
    if args.quiet:
        return logging.ERROR
    verbose: int = args.verbose
    return [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]


def _logging(level: int) -> None:
    """mapper's loggers at the level `-v` asks for; the drivers' at WARNING whatever it says
    (at INFO and DEBUG they log statements' parameters, rows and commands' documents)."""
    handler = logging.StreamHandler()
    handler.addFilter(_Redacting())
    handler.addFilter(_Once())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("mapper").setLevel(level)
    logging.captureWarnings(True)  # pymongo warns about URL options: through the filter too


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(_level(args))
    command: Command = args.func
    try:
        return command(args)
    except SpecError as error:
        if args.traceback:
            raise
        _print_problems(error.problems, getattr(args, "format", "text"))
        return error.exit_code
    except (MapperError, OSError) as error:
        if args.traceback:
            raise
        print(f"mapper {args.command}: {config.redact(str(error))}", file=sys.stderr)
        return error.exit_code if isinstance(error, MapperError) else EXIT_FAULT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - a bug or an unforeseen fault: no traceback
        if args.traceback:  # by default, which could quote a URL or a row
            raise
        print(
            f"mapper {args.command}: fault: {type(error).__name__}: "
            f"{config.redact(str(error))[:300]} (run with --traceback for the stack)",
            file=sys.stderr,
        )
        return EXIT_FAULT
