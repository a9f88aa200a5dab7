"""Per-frame work spread over threads (the neighbour searches and numpy kernels release the GIL)."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def map_frames(fn: Callable[..., T], *args: Iterable, workers: int | None = None) -> Iterator[T]:
    """``map(fn, *args)`` in order, on ``workers`` threads (default: the CPUs; 1: in this thread)."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers: must be >= 1 (got {workers})")
    return map(fn, *args) if workers == 1 else _pooled(fn, args, workers)


def _pooled(fn: Callable[..., T], args: tuple[Iterable, ...], workers: int) -> Iterator[T]:
    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(fn, *args)
