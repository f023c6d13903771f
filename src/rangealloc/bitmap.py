"""Bitmap: one bit per slot in a Python int, placement as first fit.

The seed's bitfield.  Bit ``i`` of ``_map`` is set when slot ``i`` is free::

    slot     0 1 2 3 4 5 6 7 8 9
    block    [a a a]   [b b]
    _map   = 0 0 0 1 1 0 0 1 1 1   (bit 0 first)  = 0b1110011000

A request of ``size`` slots needs ``size`` consecutive set bits.  Instead of a
loop over slots, the whole map is searched with a handful of big-int
operations that run in C a machine word at a time (``_bits.fit_starts``)::

    runs = free & free >> 1 & free >> 2 ...   bit i: slots i .. i+size-1 free
    runs &= aligned_mask(align)               keep aligned starts
    offset = (runs & -runs).bit_length() - 1  the lowest one: first fit

so ``alloc`` costs O(log size) operations on a ``capacity``-bit int: for an
interpreter's 256 slots, a few hundred nanoseconds whatever the occupancy.
``free`` is one ``|``.  There is no hole list: ``holes()`` and ``stats()``
find the runs of set bits.

Invariants (``check``): ``_map`` has no bit at or above ``capacity``, and its
bits are exactly the slots no block covers.

Time: alloc O(log size x capacity / w), free O(capacity / w) with w = 30 bits
per digit of a Python int; holes / stats O(holes x capacity / w).  Meant for
small spaces: capacity is limited to 2**24 slots (a 2 MiB bitmap).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import SupportsIndex

from ._base import Allocator
from ._bits import RUN_STEPS, aligned_mask, fit_starts, run_steps, runs
from ._errors import CorruptState
from ._mypyc import mypyc_attr

__all__ = ["Bitmap"]


@mypyc_attr(allow_interpreted_subclasses=True)
class Bitmap(Allocator):
    """First fit over a bitmap of free slots, searched with int bit operations.

    >>> a = Bitmap(256)
    >>> a.alloc(10), a.alloc(3, align=16)
    (0, 16)
    """

    __slots__ = ("_align_masks", "_map")

    _map: int  # bit i set: slot i is free
    _align_masks: dict[int, int]  # align -> aligned_mask(capacity, align)

    name = "bitmap"
    max_capacity = 1 << 24

    def alloc(self, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """As ``Allocator.alloc``; the search inlined (the bitmap's whole point is speed on small spaces).

        >>> a = Bitmap(16)
        >>> a.alloc(3), a.alloc(3, align=4)
        (0, 4)
        """
        if type(size) is not int or size <= 0 or type(align) is not int or align != 1:
            return super().alloc(size, align)  # validation, alignment: the general path
        free = self._map
        run = free
        for step in RUN_STEPS[size] if size < 64 else run_steps(size):  # _bits.fit_starts, inlined
            run &= run >> step
        if not run:
            return super().alloc(size)  # raises OutOfSpace with the full message
        offset = (run & -run).bit_length() - 1
        self._map = free ^ (((1 << size) - 1) << offset)
        self._blocks[offset] = size
        self._used += size
        return offset

    def free(self, offset: SupportsIndex) -> None:
        """As ``Allocator.free``, with the bitmap update inlined."""
        if type(offset) is not int:
            super().free(offset)  # validation (int-like values), then the general path
            return
        size = self._blocks.pop(offset, 0)
        if not size:
            super().free(offset)  # the InvalidBlock message
            return
        self._map |= ((1 << size) - 1) << offset
        self._used -= size
        if self._aligns:
            self._aligns.pop(offset, None)

    def _alloc(self, size: int, align: int) -> int:
        free = self._map
        run = fit_starts(free, size)
        if align > 1:
            mask = self._align_masks.get(align)
            if mask is None:
                mask = self._align_masks[align] = aligned_mask(self._capacity, align)
            run &= mask
        if not run:
            return -1
        offset = (run & -run).bit_length() - 1
        self._map = free ^ (((1 << size) - 1) << offset)
        return offset

    def _free(self, offset: int, size: int) -> None:
        self._map |= ((1 << size) - 1) << offset

    def _take(self, offset: int, size: int) -> bool:
        if offset + size > self._capacity:
            return False  # before building a mask of offset + size bits
        bits = ((1 << size) - 1) << offset
        if self._map & bits != bits:
            return False
        self._map ^= bits
        return True

    def _reset(self, capacity: int) -> None:
        self._map = (1 << capacity) - 1
        self._align_masks = {}

    def _grow(self, old: int, new: int) -> None:
        self._map |= ((1 << new) - 1) ^ ((1 << old) - 1)
        self._align_masks = {}

    def _holes(self) -> Iterator[tuple[int, int]]:
        return iter(runs(self._map))

    def _hole_count(self) -> int:
        free = self._map
        return (free & ~(free << 1)).bit_count()  # bits that start a run

    def _top_hole(self) -> int:
        capacity = self._capacity
        used = ~self._map & ((1 << capacity) - 1)
        return capacity - used.bit_length()

    def _largest_hole(self) -> int:
        return max((length for _, length in runs(self._map)), default=0)

    def _check_policy(self) -> None:
        expected = (1 << self._capacity) - 1
        for offset, size in self._blocks.items():
            expected &= ~(((1 << size) - 1) << offset)
        if self._map >> self._capacity:
            raise CorruptState(f"bitmap: bits set at or above capacity {self._capacity}")
        if self._map != expected:
            wrong = self._map ^ expected
            raise CorruptState(
                f"bitmap: slot {(wrong & -wrong).bit_length() - 1} is marked "
                f"{'free' if self._map & wrong & -wrong else 'used'} against the block table"
            )
