"""Hole tables shared by the policies that keep an explicit list of holes.

``HoleAllocator`` keeps every hole twice, in two dicts, so that a freed block
finds the holes it touches in O(1) and merges with them at once (immediate
coalescing, as in Knuth's boundary-tag method, but with the tags out of band:
the allocator never writes into the space it manages)::

    _hole_size  {start: size}    the hole that starts at an offset
    _hole_by_end {end: start}    the hole that ends at an offset

    [ block ][ hole ][ block ][   hole   ][ block ]
             ^start  ^end               ^end
             _hole_size[start]           _hole_by_end[end]

A policy adds only its *index* of the holes, the structure it searches (a tree
by address for first and next fit, a sorted list by size for best fit),
through four hooks:

    _index_add(start, size)                     a new hole
    _index_remove(start, size)                  a hole gone
    _index_replace(start, size, new_start, new_size)
                                                a hole changed; no other hole lies
                                                between old and new (its place in
                                                address order is unchanged)
    _index_floor(offset) -> start               the last hole starting <= offset, or -1

and ``_find(size, align) -> start`` (the hole to carve from, -1 if none).

Invariants (checked by ``_check_policy``): the two dicts describe the same
holes, and the index holds exactly those holes.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._base import Allocator, dict_pop
from ._errors import CorruptState
from ._mypyc import mypyc_attr

__all__ = ["HoleAllocator"]


@mypyc_attr(allow_interpreted_subclasses=True)
class HoleAllocator(Allocator):
    """An ``Allocator`` whose free space is a set of holes with O(1) neighbour lookup."""

    __slots__ = ("_hole_by_end", "_hole_size")

    _hole_size: dict[int, int]  # start -> size
    _hole_by_end: dict[int, int]  # end -> start

    # ------------------------------------------------------------ index hooks

    def _index_clear(self) -> None:
        raise NotImplementedError

    def _index_add(self, start: int, size: int) -> None:
        raise NotImplementedError

    def _index_remove(self, start: int, size: int) -> None:
        raise NotImplementedError

    def _index_replace(self, start: int, size: int, new_start: int, new_size: int) -> None:
        raise NotImplementedError

    def _index_floor(self, offset: int) -> int:
        raise NotImplementedError

    def _index_holes(self) -> Iterator[tuple[int, int]]:
        raise NotImplementedError

    def _check_index(self) -> None:
        raise NotImplementedError

    def _find(self, size: int, align: int) -> int:
        raise NotImplementedError

    # ------------------------------------------------------- Allocator hooks

    def _reset(self, capacity: int) -> None:
        self._hole_size = {0: capacity}
        self._hole_by_end = {capacity: 0}
        self._index_clear()
        self._index_add(0, capacity)

    def _alloc(self, size: int, align: int) -> int:
        start = self._find(size, align)
        if start < 0:
            return -1
        offset = start + (-start & (align - 1))
        self._carve(start, self._hole_size[start], offset, size)
        return offset

    def _carve(self, start: int, hole: int, offset: int, size: int) -> None:
        """Claim ``[offset, offset + size)`` inside the hole ``[start, start + hole)``.

        What is left on either side stays a hole.  Time: the index's replace (+ add).
        """
        end = offset + size
        hole_end = start + hole
        hole_size = self._hole_size
        by_end = self._hole_by_end
        if offset > start:
            # The hole keeps its start and shrinks to [start, offset).
            hole_size[start] = offset - start
            by_end[offset] = start
            self._index_replace(start, hole, start, offset - start)
            if end < hole_end:
                hole_size[end] = hole_end - end
                by_end[hole_end] = end
                self._index_add(end, hole_end - end)
            else:
                del by_end[hole_end]
        else:
            del hole_size[start]
            if end < hole_end:
                hole_size[end] = hole_end - end
                by_end[hole_end] = end
                self._index_replace(start, hole, end, hole_end - end)
            else:
                del by_end[hole_end]
                self._index_remove(start, hole)

    def _free(self, offset: int, size: int) -> None:
        end = offset + size
        hole_size = self._hole_size
        by_end = self._hole_by_end
        left = dict_pop(by_end, offset, -1)
        right = dict_pop(hole_size, end, 0)
        if right:
            del by_end[end + right]
        if left >= 0:
            left_size = hole_size[left]
            if right:
                self._index_remove(end, right)
            new_end = end + right
            hole_size[left] = new_end - left
            by_end[new_end] = left
            self._index_replace(left, left_size, left, new_end - left)
        elif right:
            new_end = end + right
            hole_size[offset] = new_end - offset
            by_end[new_end] = offset
            self._index_replace(end, right, offset, new_end - offset)
        else:
            hole_size[offset] = size
            by_end[end] = offset
            self._index_add(offset, size)

    def _take(self, offset: int, size: int) -> bool:
        hole = self._hole_size.get(offset, 0)
        start = offset
        if not hole:
            start = self._index_floor(offset)
            if start < 0:
                return False
            hole = self._hole_size[start]
        if offset + size > start + hole:
            return False
        self._carve(start, hole, offset, size)
        return True

    def _grow(self, old: int, new: int) -> None:
        self._free(old, new - old)

    def _holes(self) -> Iterator[tuple[int, int]]:
        return self._index_holes()

    def _hole_count(self) -> int:
        return len(self._hole_size)

    def _top_hole(self) -> int:
        start = self._hole_by_end.get(self._capacity, -1)
        return self._capacity - start if start >= 0 else 0

    def _check_policy(self) -> None:
        by_end = {start + size: start for start, size in self._hole_size.items()}
        if by_end != self._hole_by_end:
            raise CorruptState("the hole tables by start and by end disagree")
        indexed = dict(self._index_holes())
        if indexed != self._hole_size:
            raise CorruptState(
                f"the index holds {len(indexed)} holes that differ from the "
                f"{len(self._hole_size)} of the hole table"
            )
        self._check_index()
