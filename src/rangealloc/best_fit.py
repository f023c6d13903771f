"""Best fit: every block goes into the smallest hole that can hold it.

Best fit keeps large holes intact for large requests and, with address-ordered
first fit, wastes least on real programs (Johnstone & Wilson, ISMM 1998).
The holes are kept twice, in two ``sortedcontainers.SortedList`` of ints:

* by size: ``size << 64 | start``, so one bisection finds the smallest hole of
  at least ``size`` slots, and equal sizes are ordered by address;
* by start: for ``reserve`` (the hole that contains an offset) and ``holes()``.

::

    by size   [ 2<<64|40, 8<<64|10, 8<<64|90, 40<<64|120 ]
                          ^ bisect_left(5 << 64): the 8-slot hole at 10
    by start  [ 10, 40, 90, 120 ]

Placement, exactly: among the holes that can hold the aligned request, the
smallest; ties go to the lowest address; inside it, the lowest aligned offset.
With align > 1 a hole of exactly ``size`` slots may not hold the aligned range,
so the search walks up the size order until one does.

Invariants: those of ``HoleAllocator``; both lists hold exactly the holes.
Offsets are below 2**64 (``max_capacity``), which keeps the keys unambiguous.

Time: alloc and free O(log n) (n = holes; plus, when align > 1, the holes
skipped that are large enough but misaligned); ``stats`` O(log n).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from sortedcontainers import SortedList

from ._errors import CorruptState
from ._holes import HoleAllocator
from ._mypyc import mypyc_attr

__all__ = ["BestFit"]

_SHIFT: Final = 64
_LOW: Final = (1 << _SHIFT) - 1


@mypyc_attr(allow_interpreted_subclasses=True)
class BestFit(HoleAllocator):
    """Best fit over holes sorted by (size, start).

    >>> a = BestFit(100)
    >>> x, y, z, w, v = a.alloc(10), a.alloc(20), a.alloc(5), a.alloc(10), a.alloc(5)
    >>> a.free(y); a.free(w); a.alloc(8)
    35
    """

    __slots__ = ("_by_size", "_by_start")

    _by_size: SortedList[int]  # size << 64 | start
    _by_start: SortedList[int]

    name = "best-fit"

    def _find(self, size: int, align: int) -> int:
        # irange, not bisect + by_size[i]: a positional lookup goes through
        # SortedList's index tree, measured 2-3x slower at 100k holes.
        mask = align - 1
        for key in self._by_size.irange(size << _SHIFT):
            start = key & _LOW
            if start + (-start & mask) + size <= start + (key >> _SHIFT):
                return start
        return -1

    def _index_clear(self) -> None:
        self._by_size = SortedList()
        self._by_start = SortedList()

    def _index_add(self, start: int, size: int) -> None:
        self._by_size.add(size << _SHIFT | start)
        self._by_start.add(start)

    def _index_remove(self, start: int, size: int) -> None:
        self._by_size.remove(size << _SHIFT | start)
        self._by_start.remove(start)

    def _index_replace(self, start: int, size: int, new_start: int, new_size: int) -> None:
        self._by_size.remove(size << _SHIFT | start)
        self._by_size.add(new_size << _SHIFT | new_start)
        if new_start != start:
            self._by_start.remove(start)
            self._by_start.add(new_start)

    def _index_floor(self, offset: int) -> int:
        return next(self._by_start.irange(maximum=offset, reverse=True), -1)

    def _index_holes(self) -> Iterator[tuple[int, int]]:
        hole_size = self._hole_size
        # .get: check() reads this before it compares the lists with the hole table.
        return ((start, hole_size.get(start, 0)) for start in self._by_start)

    def _largest_hole(self) -> int:
        by_size = self._by_size
        return by_size[-1] >> _SHIFT if by_size else 0

    def _check_index(self) -> None:
        expected = sorted(size << _SHIFT | start for start, size in self._hole_size.items())
        if list(self._by_size) != expected:
            raise CorruptState("best fit: the size-ordered list does not match the holes")
        if list(self._by_start) != sorted(self._hole_size):
            raise CorruptState("best fit: the address-ordered list does not match the holes")
