"""Python's cyclic garbage collector around the pipeline's bulk steps.

The collector runs one full pass per so many new container objects, and each full pass walks
every live container of the process: Airflow's, SQLAlchemy's, ours. A step that makes a
million small objects (rows read, records staged, boxes laid out) sets off many passes, each
over everything else too. Two ways out, by what the step makes:
- rows and records hold no reference cycles (reference counting frees them): the collector
  waits until the step is done (cyclic_gc_paused);
- WeasyPrint's boxes make cycles by the ten thousand, which must be collected as they go: the
  objects that were there before are left out of the passes (frozen_heap).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection during the block; reference counting frees what it can as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive when the block starts are left out of every collection in it (gc.freeze)
    and handed back to the collector after it (gc.unfreeze). Not to be nested (gc.unfreeze hands
    back every frozen object), nor held across a fork: the collector, finding few long-lived
    objects, then runs its full passes far more often."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
