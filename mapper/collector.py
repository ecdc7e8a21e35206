"""When Python's cyclic garbage collector runs.

Mapper makes many objects that hold no cycles, in bursts: the modules it imports (some 75,000
objects, all alive until the process ends) and the documents of a batch. The collector walked
them again and again as they were made (a twentieth of a short run's start, a fifth of a long
run), so it is paused over the bursts and the young generations collected between them.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_OBJECTS = 200_000  # collect the young generations past this many (cyclic GC paused)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block, then as it was (on, unless the caller had it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def frozen_after() -> Iterator[None]:
    """A process's start: the collector off for the block (its imports), then what it made,
    which lives as long as the process, frozen out of the collector's walks and the
    collector on (frozen first: no collection walks it on the way)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def collect_young() -> None:
    """Between bursts: collect the young generations once enough objects have survived."""
    if gc.get_count()[0] > YOUNG_OBJECTS:
        gc.collect(1)
