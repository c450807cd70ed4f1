"""Where things are: ids in grid cells of `CELL_DEG` degrees, read as arrays of rows.

A vacancy reads the clients in the cells within the pool's longest travel limit; a client reads
the vacancies in the cells within its own. A cell keeps its rows as a set (cheap to change) and
an array made from it on first read after a change (cheap to read again), so a read is one
concatenation of a few dozen small arrays, never a pass over the pool. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

CELL_DEG = 0.1
"""About 11 km north-south: a 15 km travel limit reads 5 x 7 cells at 52 degrees north. Smaller
cells read fewer rows but cost more lookups; at a few hundred rows a cell the arrays are cheap."""
_KM_PER_DEG_LAT = 111.2
_EMPTY = np.zeros(0, dtype=np.int64)


def cell_of(lat: float, lon: float) -> tuple[int, int]:
    return (math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG))


def cells_within(lat: float, lon: float, km: float) -> Iterator[tuple[int, int]]:
    """Every cell holding a point within `km` of (lat, lon) (and a few corners more)."""
    cy, cx = cell_of(lat, lon)
    dy = math.ceil(km / (_KM_PER_DEG_LAT * CELL_DEG))
    # The widest cell of the band read is at its pole-ward edge: take the cosine there.
    edge = min(abs(lat) + dy * CELL_DEG, 89.0)
    dx = math.ceil(km / (_KM_PER_DEG_LAT * max(math.cos(math.radians(edge)), 0.01) * CELL_DEG))
    for y in range(cy - dy, cy + dy + 1):
        for x in range(cx - dx, cx + dx + 1):
            yield (y, x)


class Grid:
    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], set[int]] = {}
        self._arrays: dict[tuple[int, int], np.ndarray] = {}
        self._where: dict[int, tuple[int, int]] = {}

    def put(self, row: int, lat: float, lon: float) -> None:
        self.remove(row)
        cell = cell_of(lat, lon)
        self._cells.setdefault(cell, set()).add(row)
        self._arrays.pop(cell, None)
        self._where[row] = cell

    def remove(self, row: int) -> None:
        cell = self._where.pop(row, None)
        if cell is not None:
            self._cells[cell].discard(row)
            self._arrays.pop(cell, None)

    def __contains__(self, row: int) -> bool:
        return row in self._where

    def within(self, lat: float, lon: float, km: float) -> np.ndarray:
        parts = []
        for cell in cells_within(lat, lon, km):
            rows = self._cells.get(cell)
            if not rows:
                continue
            array = self._arrays.get(cell)
            if array is None:
                array = self._arrays[cell] = np.fromiter(rows, dtype=np.int64, count=len(rows))
            parts.append(array)
        return np.concatenate(parts) if parts else _EMPTY


def pairs_within(
    a_lat: np.ndarray, a_lon: np.ndarray, b_lat: np.ndarray, b_lon: np.ndarray, km: float
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs `(i, j)` of points a[i], b[j] that may lie within `km` (a superset: the
    5 x 5 cells of side `km / 2` around each b), without a loop over points.

    For a whole partnership at once (a rebuild, the benchmark): the points of `a` sorted by
    cell, each b's neighbouring cells found by binary search and expanded into pairs.
    """
    if len(a_lat) == 0 or len(b_lat) == 0:
        return _EMPTY, _EMPTY
    # Cells of half the distance, 5 x 5 of them: a tighter superset than 3 x 3 of the whole.
    side_lat = km / 2 / _KM_PER_DEG_LAT
    widest = min(float(max(np.abs(a_lat).max(), np.abs(b_lat).max())) + side_lat, 89.0)
    side_lon = km / 2 / (_KM_PER_DEG_LAT * max(math.cos(math.radians(widest)), 0.01))
    stride = 1 << 24

    def key(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return y * stride + x

    ay = np.floor(a_lat / side_lat).astype(np.int64)
    ax = np.floor(a_lon / side_lon).astype(np.int64)
    by = np.floor(b_lat / side_lat).astype(np.int64)
    bx = np.floor(b_lon / side_lon).astype(np.int64)
    order = np.argsort(key(ay, ax), kind="stable")
    sorted_keys = key(ay, ax)[order]
    i_parts, j_parts = [], []
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            wanted = key(by + dy, bx + dx)
            lo = np.searchsorted(sorted_keys, wanted, "left")
            counts = np.searchsorted(sorted_keys, wanted, "right") - lo
            total = int(counts.sum())
            if total == 0:
                continue
            j = np.repeat(np.arange(len(b_lat)), counts)
            offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            i_parts.append(order[np.repeat(lo, counts) + offset])
            j_parts.append(j)
    if not i_parts:
        return _EMPTY, _EMPTY
    return np.concatenate(i_parts), np.concatenate(j_parts)
