import gc
import sys

# the collector off while the command line's modules are imported (as the package's were:
# mapper/__init__.py); then what start-up made, which lives as long as the process, is frozen
# out of its walks
gc.disable()
from mapper.cli import main  # noqa: E402

gc.freeze()
gc.enable()

if __name__ == "__main__":  # not when a spawned worker process imports it (Dask, multiprocessing)
    sys.exit(main())
