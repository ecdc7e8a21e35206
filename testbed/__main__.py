"""`python -m testbed run -- CMD...`: run CMD with the test servers up (PostgreSQL, FerretDB,
SecantusDB), then stop them.

`python -m testbed build` builds FerretDB ahead of time. Servers already named by
`MAPPER_TEST_POSTGRES_URL` / `MAPPER_TEST_MONGODB_URI` / `MAPPER_TEST_SECANTUS_URI` are used
instead of starting new ones.
"""

import argparse
import os
import subprocess
import sys

from testbed.servers import build_ferretdb, servers


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testbed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build the FerretDB binary (cached)")
    run = commands.add_parser("run", help="run a command with the servers' URLs in its env")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.command == "build":
        print(build_ferretdb())
        return 0
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        parser.error("run needs a command, e.g. `python -m testbed run -- pytest`")
    with servers() as urls:
        for name, url in urls.items():
            print(f"{name}={url}", file=sys.stderr)
        return subprocess.call(argv, env={**os.environ, **urls})


if __name__ == "__main__":
    sys.exit(main())
