import sys

from mapper.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports it (Dask, multiprocessing)
    sys.exit(main())
