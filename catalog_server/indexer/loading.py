"""A sync's templates, loaded a batch at a time, by worker processes when there are many.

Loading (reading a batch's files from git, parsing every YAML file, building the
templates) is most of a large sync's Python time, and it needs nothing of the database:
for a sync of PARALLEL_BATCHES batches or more, forked worker processes load the batches
(each reading through a git process of its own), a few batches ahead of the one the sync
is writing, while the sync process validates and writes. The batches come back in order,
so the sync writes what it would write alone; at most ``workers + AHEAD`` batches are held
at a time, so memory stays bounded by the batch size, not the catalog's. Validators run in
the sync process: Helm's lint calls the Helm SDK's Go runtime, which a forked process
must never enter.

When worker processes cannot be started or one dies, the batches not yet loaded are
loaded in the sync process, as for a small sync.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from catalog_server.indexer.forked import start_worker
from catalog_server.indexer.plan import batches
from catalog_server.loaders import load_template
from catalog_server.loaders.detect import TemplateRoot
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.sources import Snapshot

log = logging.getLogger(__name__)

# A sync of at least this many batches (plan.BATCH_FILES files each) loads them in worker
# processes; a smaller one loads in a second or two, less than starting workers is worth.
PARALLEL_BATCHES = 3
# Worker processes: one per core, at most this many.
MAX_WORKERS = 4
# Batches loaded ahead of the one being written, beyond one per worker.
AHEAD = 1

_SHARED: tuple[Snapshot, list[tuple[list[TemplateRoot], list[str]]]] | None = None


def loaded_batches(
    snapshot: Snapshot, roots: Sequence[TemplateRoot]
) -> Iterator[list[LoadedTemplate]]:
    """The templates of ``roots``, loaded, one batch at a time, in order."""
    planned = list(batches(snapshot, roots))
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    done = 0
    if len(planned) >= PARALLEL_BATCHES and workers >= 2:
        for loaded in _in_workers(snapshot, planned, workers):
            if loaded is None:  # the workers are gone: the rest is loaded here
                break
            done += 1
            yield loaded
    for batch, paths in planned[done:]:
        yield _load(snapshot, batch, paths)


def _load(snapshot: Snapshot, batch: list[TemplateRoot], paths: list[str]) -> list[LoadedTemplate]:
    snapshot.prefetch(paths)  # the batch's files in one bulk read, not a request per file
    return [load_template(snapshot, root) for root in batch]


def _in_workers(
    snapshot: Snapshot, planned: list[tuple[list[TemplateRoot], list[str]]], workers: int
) -> Iterator[list[LoadedTemplate] | None]:
    """Each batch loaded by a worker, in order; None once the workers failed."""
    global _SHARED
    _SHARED = (snapshot, planned)
    pool = None
    try:
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=start_worker, initargs=(snapshot, os.getpid())
        )
        pending: deque[Future] = deque()
        submitted = 0
        for _ in planned:
            try:
                while submitted < len(planned) and len(pending) < workers + AHEAD:
                    pending.append(pool.submit(_work, submitted))
                    submitted += 1
                loaded = pending.popleft().result()
            except (OSError, BrokenProcessPool) as exc:  # no processes, or one died
                log.warning("templates are loaded in the sync process: %s", exc)
                yield None
                return
            yield loaded
    except OSError as exc:  # the pool could not be made
        log.warning("templates are loaded in the sync process: %s", exc)
        yield None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        _SHARED = None


def _work(index: int) -> list[LoadedTemplate]:
    assert _SHARED is not None
    snapshot, planned = _SHARED
    batch, paths = planned[index]
    loaded = _load(snapshot, batch, paths)
    gc.collect(1)  # what the previous batch left in cycles (collection is off in a sync)
    return loaded
