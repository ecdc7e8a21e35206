"""The command line: parse arguments, call the library, map errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from mapper import __version__
from mapper.errors import EXIT_USAGE, MapperError

Command = Callable[[argparse.Namespace], int]


def _not_built(name: str) -> Command:
    def command(args: argparse.Namespace) -> int:
        print(f"mapper {name}: not built yet", file=sys.stderr)
        return EXIT_USAGE

    return command


def cmd_demo(args: argparse.Namespace) -> int:
    from mapper import config
    from mapper.demo import create_demo

    url = config.source_url(args.source)
    counts = create_demo(url, scale=args.scale, seed=args.seed, drop=args.drop)
    print(f"demo database at {config.redact(url)} (scale {args.scale}, seed {args.seed}):")
    for table, count in counts.items():
        print(f"  {table:<16} {count:>9,} rows")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mapper", description="Migrate a relational database into MongoDB, declaratively.")
    parser.add_argument("--version", action="version", version=f"mapper {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug with phase timings and the plan)")
    parser.add_argument("--traceback", action="store_true", help="show the stack on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="create and fill the demo task database")
    demo.add_argument("--source", help="SQLAlchemy URL of the database to fill "
                      "(default: $MAPPER_SOURCE_URL)")
    demo.add_argument("--scale", type=float, default=1.0, help="size multiplier (default 1)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--drop", action="store_true", help="drop the demo tables first")
    demo.set_defaults(func=cmd_demo)

    for name, text in (("lint", "check mapping files"),
                       ("plan", "print the compiled plan"),
                       ("preview", "print a few documents"),
                       ("run", "migrate"),
                       ("validate", "prove that the target equals the source")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("files", nargs="*")
        sub.set_defaults(func=_not_built(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except MapperError as error:
        if args.traceback:
            raise
        print(f"mapper {args.command}: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
