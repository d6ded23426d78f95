"""Giving freed memory back to the operating system after a large piece of work.

CPython returns the memory of freed objects larger than 512 bytes (strings of rendered
YAML, rows read from the database) to the C library's allocator, and glibc keeps most of
it: only the top of its heap shrinks by itself, so one large build (a Helm index of 50,000
chart versions) would leave a web worker that much larger for the rest of its life.
glibc's ``malloc_trim(0)`` releases every free page of its heaps.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (AttributeError, OSError, TypeError):  # not glibc (musl, macOS, Windows)
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Hand the C allocator's free memory back to the operating system; True when it did
    so, False where there is no way to (not glibc) or nothing was released."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
