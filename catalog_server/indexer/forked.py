"""What a sync's forked worker processes (:mod:`.early`, :mod:`.loading`) do first."""

from __future__ import annotations

import ctypes
import gc
import os
import signal

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def start_worker(snapshot: object, parent: int) -> None:
    """A worker's first step: leave what it inherited to the sync process (the garbage
    collector never looks at it here: no object of the sync process, a database
    connection's say, is finalized in a worker, and its pages stay shared), end with the
    sync process (a sync killed half-way leaves no worker behind, holding its pipes and
    working on), and read through git processes of its own."""
    gc.freeze()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker ends when its pipe closes
        pass
    if os.getppid() != parent:  # the sync process ended before the signal was asked for
        os._exit(1)
    reopen = getattr(snapshot, "reopen", None)
    if reopen is not None:
        reopen()
