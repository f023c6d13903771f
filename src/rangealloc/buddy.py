"""Binary buddy system: power-of-two blocks that split in halves and merge back.

Knowlton, "A fast storage allocator" (CACM 1965); Knuth, TAOCP vol. 1, 2.5.
Every block has a size 2**k (its *order* k) and an offset that is a multiple
of its size.  Its *buddy* is the other half of the block of order k + 1 that
contains it: ``offset ^ 2**k``.  A request is rounded up to a power of two;
a free block of that order is taken, or a larger one split in halves until
one has the right size; a freed block merges with its buddy whenever the
buddy is free too, and again one order up::

    order 3  [               0..8               ]
    order 2  [     0..4      ][      4..8       ]
    order 1  [ 0..2 ][ 2..4  ]
    alloc(2): split 0..8 -> 0..4 + 4..8 (free), split 0..4 -> 0..2 + 2..4 (free);
    take 0..2.  free(0): buddy 2..4 is free -> merge 0..4; buddy 4..8 free -> 0..8.

Any capacity works: the space is covered by power-of-two *roots* aligned to
their size, largest first (a capacity of 12 is the roots [0, 8) and
[8, 12)).  Two buddies merge only when their parent lies inside the space,
and an aligned power-of-two range inside ``[0, capacity)`` always lies inside
one root, so that test is all it takes; ``grow`` frees the new range as
aligned pieces, which then merge upward like any free.

Free blocks sit in one list per order (a dict, newest last: ``popitem`` is
O(1)), and a bitmap of the non-empty orders finds the smallest order >= k
with one find-first-set.

The contract's rounding: ``alloc`` and ``realloc`` round the size up to a
power of two, and ``size_of``, ``blocks()`` and ``used`` report that rounded
size (the slots really occupied).  ``realloc`` shrinks in place (the freed
halves merge with their buddies) and grows in place when every buddy on the
way up is free and the offset is aligned to the new size.  ``reserve(offset,
size)`` works only when the range is exactly one buddy block after rounding.
``holes()`` reports maximal free ranges: adjacent free blocks that are not
buddies are reported as one hole.

Compaction keeps every block a buddy block: in address order, each block
moves to the lowest free offset that is a multiple of its size and of its
recorded align, if that is below it (a first fit over a plain copy of the free
space finds it).  The destination is free when the block moves, so the moves
are safe to apply one by one; blocks only move down; and afterwards no block
has a lower free place of its alignment, so compacting again moves nothing.
Blocks may change order, and holes may remain below the top: a 1-slot block
at 0 and a 4-slot block at 4 stay where they are (the hole [1, 4) cannot hold
the 4-slot block).  When block sizes do not grow with the address (largest
blocks lowest) and no align exceeds a size, the result is one hole, at the top.
``restore`` accepts only buddy blocks (size a power of two, offset a
multiple of it).

No false out-of-space, in buddy terms: ``alloc`` fails only if no free block
of the needed order (at an aligned offset, for align > size) exists or can be
split from a larger one.  Rounding wastes up to half a block: the price of
O(log capacity) operations.

Invariants (``check``): every free block is aligned to its size and inside
the space; no two free buddies with a parent inside the space are both
free; the order bitmap marks exactly the non-empty lists.

Time: alloc, free, realloc O(log capacity) (for align > size, plus a scan of
the free blocks of the orders below log2(align)); ``holes()``, ``stats()``
O(n log n).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import SupportsIndex

from ._base import Allocator, Move
from ._errors import CorruptState, OutOfSpace, check_align, check_offset, check_size
from ._mypyc import mypyc_attr
from .first_fit import FirstFit

__all__ = ["Buddy"]


def _round_up(size: int) -> int:
    """The smallest power of two >= size (size >= 1)."""
    return 1 << (size - 1).bit_length()


@mypyc_attr(allow_interpreted_subclasses=True)
class Buddy(Allocator):
    """Binary buddy system over any capacity.

    >>> a = Buddy(64)
    >>> a.alloc(3), a.alloc(5), a.size_of(0)
    (0, 8, 4)
    """

    __slots__ = ("_lists", "_orders")

    rounds_sizes = True
    name = "buddy"

    _lists: list[dict[int, None]]  # per order k, the free blocks of size 2**k
    _orders: int  # bit k: _lists[k] is not empty

    # ------------------------------------------- rounding at the public edge

    def alloc(self, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """As ``Allocator.alloc``, with ``size`` rounded up to a power of two."""
        if type(size) is not int or size <= 0:
            size = check_size(size)  # int-like values are converted before rounding
        rounded = 1 << (size - 1).bit_length()
        try:
            return super().alloc(rounded, align)
        except OutOfSpace as error:
            raise OutOfSpace(f"{error} (size {size} rounded up to {rounded})") from None

    def realloc(self, offset: SupportsIndex, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """As ``Allocator.realloc``, with ``size`` rounded up to a power of two.

        In place only if ``offset`` is a multiple of the new size, as every
        buddy block of that size must be.
        """
        if type(size) is not int or size <= 0:
            size = check_size(size)
        if type(align) is not int or align <= 0 or align & (align - 1):
            align = check_align(align)
        rounded = 1 << (size - 1).bit_length()
        try:
            new = super().realloc(offset, rounded, max(align, rounded))
        except OutOfSpace as error:
            raise OutOfSpace(
                f"{error} (size {size} rounded up to {rounded}, which buddy blocks are aligned to)"
            ) from None
        if align < rounded:  # record the align asked for, not the rounding's (as alloc does)
            self._realigned(new, new, align)
        return new

    def reserve(self, offset: SupportsIndex, size: SupportsIndex) -> int:
        """Claim the buddy block ``[offset, offset + size rounded up)``.

        Raises ``ValueError`` if that range is not one buddy block (offset not
        a multiple of the rounded size, or the block outside the space).
        """
        offset = check_offset(offset)
        size = check_size(size)
        rounded = _round_up(size)
        if offset & (rounded - 1):
            raise ValueError(
                f"reserve: offset {offset} is not a multiple of {rounded}, "
                f"so [{offset}, {offset + size}) is not one buddy block"
            )
        return super().reserve(offset, rounded)

    # ------------------------------------------------------------------ hooks

    def _reset(self, capacity: int) -> None:
        self._lists = [{} for _ in range(capacity.bit_length())]
        self._orders = 0
        self._release(0, capacity)

    def _grow(self, old: int, new: int) -> None:
        self._lists.extend({} for _ in range(new.bit_length() - len(self._lists)))
        self._release(old, new - old)  # merges may use the new parents: capacity is new

    def _alloc(self, size: int, align: int) -> int:
        order = size.bit_length() - 1
        lists = self._lists
        if align > size:
            offset, found = self._aligned(order, align)
            if offset < 0:
                return -1
        else:
            orders = self._orders >> order
            if not orders:
                return -1
            found = order + (orders & -orders).bit_length() - 1
            offset = lists[found].popitem()[0]
            if not lists[found]:
                self._orders ^= 1 << found
        while found > order:  # split: keep the lower half, free the upper one
            found -= 1
            half = lists[found]
            if not half:
                self._orders |= 1 << found
            half[offset + (1 << found)] = None
        return offset

    def _aligned(self, order: int, align: int) -> tuple[int, int]:
        """Take a free block of order >= ``order`` at a multiple of ``align``: (offset, order)."""
        lists = self._lists
        mask = align - 1
        orders = self._orders >> order
        found = order
        while orders:
            skip = (orders & -orders).bit_length() - 1
            found += skip
            orders >>= skip
            blocks = lists[found]
            if 1 << found >= align:
                offset = blocks.popitem()[0]
            else:
                offset = next((o for o in blocks if not o & mask), -1)
                if offset >= 0:
                    del blocks[offset]
            if offset >= 0:
                if not blocks:
                    self._orders ^= 1 << found
                return offset, found
            orders >>= 1
            found += 1
        return -1, -1

    def _free(self, offset: int, size: int) -> None:
        self._release(offset, size)

    def _release(self, offset: int, size: int) -> None:
        """Free ``[offset, offset + size)``, given as aligned power-of-two pieces, merging buddies."""
        lists = self._lists
        capacity = self._capacity
        end = offset + size
        while offset < end:
            order = (end - offset).bit_length() - 1
            if offset:
                order = min(order, (offset & -offset).bit_length() - 1)
            block = offset
            offset += 1 << order
            while True:  # merge upward while the buddy is free and the parent inside the space
                buddy = block ^ (1 << order)
                parent = block & ~(1 << order)
                if parent + (2 << order) > capacity or buddy not in lists[order]:
                    break
                del lists[order][buddy]
                if not lists[order]:
                    self._orders ^= 1 << order
                block = parent
                order += 1
            if not lists[order]:
                self._orders |= 1 << order
            lists[order][block] = None

    def _take(self, offset: int, size: int) -> bool:
        if offset + size > self._capacity:
            return False
        pieces: list[tuple[int, int, int]] = []  # (piece, its order, free block holding it)
        end = offset + size
        position = offset
        while position < end:
            order = (end - position).bit_length() - 1
            if position:
                order = min(order, (position & -position).bit_length() - 1)
            holder = self._holder(position, order)
            if holder < 0:
                return False  # checked before any change: nothing to undo
            pieces.append((position, order, holder))
            position += 1 << order
        for piece, order, _ in pieces:
            self._claim(piece, order)
        return True

    def _holder(self, offset: int, order: int) -> int:
        """The order of the free block that contains the aligned block (offset, order), or -1."""
        lists = self._lists
        for k in range(order, len(lists)):
            if offset & ~((1 << k) - 1) in lists[k]:
                return k
        return -1

    def _claim(self, offset: int, order: int) -> None:
        """Split the free block that holds (offset, order) down to it, and take it."""
        lists = self._lists
        found = self._holder(offset, order)
        block = offset & ~((1 << found) - 1)
        del lists[found][block]
        if not lists[found]:
            self._orders ^= 1 << found
        while found > order:
            found -= 1
            half = 1 << found
            other = block + half if offset < block + half else block
            if offset >= block + half:
                block += half
            if not lists[found]:
                self._orders |= 1 << found
            lists[found][other] = None

    # ------------------------------------------------- snapshots, compaction

    @classmethod
    def _restored_block_error(cls, offset: int, size: int) -> str:
        if size & (size - 1):
            return (
                f"block [{offset}, {offset + size}) is not a buddy block: size {size} is not a power of two"
            )
        if offset & (size - 1):
            return (
                f"block [{offset}, {offset + size}) is not a buddy block: "
                f"offset {offset} is not a multiple of its size {size}"
            )
        return ""

    def _compact_plan(self, limit: int) -> list[Move]:
        # A first fit over a copy of the free space finds the lowest free offset
        # that is a multiple of max(size, align): there, an aligned power-of-two
        # range lies inside one free buddy block (two free halves would have
        # merged), so _take claims it.  The block's own place is a candidate,
        # so it never moves up.  Time: O(n log n), plus misaligned holes skipped.
        moves: list[Move] = []
        if not limit:
            return moves
        blocks = sorted(self._blocks.items())
        space = FirstFit(self._capacity)
        for offset, size in blocks:
            space.reserve(offset, size)
        aligns = self._aligns
        for offset, size in blocks:
            space.free(offset)
            new = space.alloc(size, max(size, aligns.get(offset, 1)))
            if new < offset:
                moves.append(Move(offset, new, size))
                if len(moves) == limit:
                    break
        return moves

    # ---------------------------------------------------------------- queries

    def _free_blocks(self) -> list[tuple[int, int]]:
        return sorted((o, 1 << k) for k, blocks in enumerate(self._lists) for o in blocks)

    def _holes(self) -> Iterator[tuple[int, int]]:
        holes: list[tuple[int, int]] = []
        for offset, size in self._free_blocks():
            if holes and holes[-1][0] + holes[-1][1] == offset:
                holes[-1] = (holes[-1][0], holes[-1][1] + size)
            else:
                holes.append((offset, size))
        return iter(holes)

    def _hole_count(self) -> int:
        return sum(1 for _ in self._holes())

    def _largest_text(self) -> str:
        # A request needs one free block, so its largest size is what to report;
        # it costs O(1), where the largest hole costs a sort of every free block.
        largest = 1 << (self._orders.bit_length() - 1) if self._orders else 0
        return f"largest free block {largest}"

    def _top_hole(self) -> int:
        # Walk down from capacity through the free blocks that end where the
        # previous one starts (at most one free block ends at any offset).
        lists = self._lists
        end = self._capacity
        cursor = end
        found = True
        while found and cursor:
            found = False
            for order, blocks in enumerate(lists):
                offset = cursor - (1 << order)
                if offset < 0:
                    break
                if offset in blocks:
                    cursor = offset
                    found = True
                    break
        return end - cursor

    def _largest_hole(self) -> int:
        return max((size for _, size in self._holes()), default=0)

    def _check_policy(self) -> None:
        orders = 0
        for order, blocks in enumerate(self._lists):
            if blocks:
                orders |= 1 << order
            for offset in blocks:
                if offset & ((1 << order) - 1) or offset + (1 << order) > self._capacity:
                    raise CorruptState(f"buddy: free block {offset} of order {order} is misplaced")
                parent = offset & ~(1 << order)
                if offset ^ (1 << order) in blocks and parent + (2 << order) <= self._capacity:
                    raise CorruptState(f"buddy: free block {offset} and its buddy were not merged")
        if orders != self._orders:
            raise CorruptState(f"buddy: order bitmap {self._orders:#b} should be {orders:#b}")
        for offset, size in self._blocks.items():
            if size & (size - 1) or offset & (size - 1):
                raise CorruptState(f"buddy: block {offset} of size {size} is not a buddy block")
