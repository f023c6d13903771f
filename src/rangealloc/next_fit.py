"""Next fit: first fit that starts where the last allocation ended.

The seed's design: a list of ranges with a roving pointer at the end of the
last allocation.  Each search starts at the pointer, so successive requests
land one after another and the search does not re-scan the crowded bottom of
the space (Knuth, TAOCP vol. 1, 2.5, exercise 6).  The price, measured by
Johnstone & Wilson (1998) on real programs, is more fragmentation than first
fit: blocks allocated together are freed at different times all over the space.

Placement, exactly:

1. the pointer starts at 0 and moves to the end of every successful
   allocation (and of every realloc that moves the block); frees, merges,
   ``reserve`` and in-place resizes leave it where it is;
2. candidates are searched at offsets >= pointer first, in address order; in
   the hole that contains the pointer, from the pointer (aligned up);
3. if nothing fits before the end of the space, the search wraps around and
   runs as first fit from 0;
4. a ``compact`` that moves any block sets it to the end of the highest block
   (where the free space compaction gathered begins); ``restore`` of a
   next-fit snapshot restores it (under another policy's snapshot it is 0).

::

    [blk][ hole ][blk][ ho|le ][blk][   hole   ]
                          ^pointer
    search order: [pointer, end of its hole), then later holes, then from 0.

Holes live in the same ``HoleTree`` as first fit, so each step is a tree query;
the top hole (the one that ends at capacity) is kept beside the tree, so
the usual case, carving at the pointer inside the top hole, touches no node.

Time: alloc O(log n) (n = holes; plus misaligned holes skipped when
align > 1); free O(log n).
"""

from __future__ import annotations

from ._addrtree import AddressOrdered
from ._base import Allocator
from ._errors import CorruptState, check_state_keys
from ._mypyc import mypyc_attr

__all__ = ["NextFit"]


@mypyc_attr(allow_interpreted_subclasses=True)
class NextFit(AddressOrdered):
    """Next fit (first fit from a roving pointer) over a tree of holes.

    >>> a = NextFit(100)
    >>> x, y = a.alloc(10), a.alloc(10)
    >>> a.free(x); a.alloc(5), a.pointer
    (20, 25)
    """

    __slots__ = ("_pointer",)

    _pointer: int

    name = "next-fit"

    @property
    def pointer(self) -> int:
        """The roving pointer: the offset where the next search starts."""
        return self._pointer

    def _alloc(self, size: int, align: int) -> int:
        pointer = self._pointer
        mask = align - 1
        # 1. The hole that contains the pointer, from the pointer.  Usually the
        # pointer is that hole's start (the tail left by the last allocation):
        # one dict lookup instead of a walk down the tree.
        node = self._starts.get(pointer)
        if node is None:
            node = self._floor(pointer)
        if node is not None:
            offset = pointer + (-pointer & mask)
            if offset + size <= node.start + node.size:
                self._carve(node, offset, size)
                self._pointer = offset + size
                return offset
        # 2. Holes after the pointer, then 3. from the bottom.
        node = self._first_fit(size, align, pointer + 1)
        if node is None:
            node = self._first_fit(size, align, 0)
            if node is None:
                return -1
        start = node.start
        offset = start + (-start & mask)
        self._carve(node, offset, size)
        self._pointer = offset + size
        return offset

    def _reset(self, capacity: int) -> None:
        self._pointer = 0
        super()._reset(capacity)

    def _snapshot_state(self) -> dict[str, int]:
        return {"pointer": self._pointer}

    @classmethod
    def _from_state(cls, capacity: int, state: dict[str, int]) -> Allocator:
        check_state_keys(cls.name, state, ("pointer",))
        pointer = state.get("pointer", 0)
        if not 0 <= pointer <= capacity:
            raise ValueError(f"snapshot state: next-fit pointer {pointer} is outside [0, {capacity}]")
        allocator = cls(capacity)
        allocator._pointer = pointer  # _take, which places the blocks, leaves it
        return allocator

    def _compacted(self) -> None:
        self._pointer = max((offset + size for offset, size in self._blocks.items()), default=0)

    def _check_policy(self) -> None:
        super()._check_policy()
        if not 0 <= self._pointer <= self._capacity:
            raise CorruptState(f"next-fit pointer {self._pointer} is outside [0, {self._capacity}]")
