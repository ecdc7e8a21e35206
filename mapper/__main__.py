import sys

from mapper import collector

with collector.frozen_after():  # as the package's own imports are paused (mapper/__init__.py)
    from mapper.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports it (Dask, multiprocessing)
    sys.exit(main())
