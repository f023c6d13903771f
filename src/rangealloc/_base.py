"""The allocator contract, and the bookkeeping every policy shares.

``Allocator`` owns what is the same for every policy:

* argument validation (all of it happens before any state changes, so a call
  that raises leaves the allocator exactly as it was);
* the block table ``_blocks``: ``{offset: size}`` of the live blocks, which is
  what ``free``, ``size_of``, ``in`` and ``len`` read in O(1);
* the ``used`` counter, ``stats()``, ``check()`` and the error messages.

A policy supplies only how it finds, claims and releases free slots, through
six hooks (all called with arguments already validated)::

    _alloc(size, align) -> offset   claim an aligned range; -1 if none fits
    _free(offset, size)             release a range (merging it with its neighbours)
    _take(offset, size) -> bool     claim exactly [offset, offset + size) if all free
    _reset(capacity)                forget everything: one hole [0, capacity)
    _grow(old, new)                 add [old, new) to the free space (capacity is new)
    _holes() -> iterator            the maximal free ranges, in address order

plus ``_hole_count``, ``_largest_hole`` (for ``stats``) and ``_check_policy``
(which recomputes the policy's own structures from scratch).

Invariants every policy keeps (``check()`` verifies them all):

1. blocks and holes tile ``[0, capacity)``: no overlap, no gap;
2. holes are maximal: no two holes touch;
3. ``used`` is the sum of block sizes, and ``used + available == capacity``;
4. the policy's own structures agree with the holes (``_check_policy``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from ._errors import (
    CorruptState,
    InvalidBlock,
    OutOfSpace,
    as_int,
    check_align,
    check_offset,
    check_size,
)

__all__ = ["Allocator", "Stats"]


@dataclass(frozen=True)
class Stats:
    """A summary of an allocator's state, as returned by ``Allocator.stats()``.

    ``fragmentation`` is ``1 - largest_hole / available`` (0.0 when nothing is
    free): the share of the free space that the largest request that could
    still succeed cannot use.
    """

    capacity: int
    used: int
    available: int
    blocks: int
    holes: int
    largest_hole: int
    fragmentation: float


class Allocator:
    """Base of every policy: hands out ranges of ``[0, capacity)``.

    Subclasses set ``name`` (their key in ``rangealloc.POLICIES``) and
    implement the hooks listed in this module's docstring.
    """

    __slots__ = ("_blocks", "_capacity", "_used")

    name: ClassVar[str] = ""
    #: Largest capacity the policy accepts (``grow`` included).
    max_capacity: ClassVar[int] = 1 << 64
    #: True when a block may take more slots than requested (``size_of`` > size: buddy).
    rounds_sizes: ClassVar[bool] = False

    def __init__(self, capacity: int) -> None:
        """Make an empty allocator over ``[0, capacity)``.

        Raises ``TypeError`` if capacity is not an int, ``ValueError`` if it is
        <= 0 or above the policy's ``max_capacity``.
        """
        capacity = check_size(capacity, "capacity")
        self._check_capacity(capacity)
        self._capacity = capacity
        self._blocks: dict[int, int] = {}
        self._used = 0
        self._reset(capacity)

    # ------------------------------------------------------------------ hooks

    def _alloc(self, size: int, align: int) -> int:
        raise NotImplementedError

    def _free(self, offset: int, size: int) -> None:
        raise NotImplementedError

    def _take(self, offset: int, size: int) -> bool:
        raise NotImplementedError

    def _reset(self, capacity: int) -> None:
        raise NotImplementedError

    def _grow(self, old: int, new: int) -> None:
        raise NotImplementedError

    def _holes(self) -> Iterator[tuple[int, int]]:
        raise NotImplementedError

    def _hole_count(self) -> int:
        raise NotImplementedError

    def _largest_hole(self) -> int:
        raise NotImplementedError

    def _top_hole(self) -> int:
        raise NotImplementedError

    def _check_policy(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ allocation

    def alloc(self, size: int, align: int = 1) -> int:
        """Claim ``size`` slots starting at a multiple of ``align``; return the offset.

        Where the block goes is the policy's choice (see its module).
        Alignment padding before the block stays free.

        Time: the policy's (O(log n) in the number of holes for the fits).

        Raises ``OutOfSpace`` if no hole holds an aligned range of ``size``
        slots; ``TypeError``/``ValueError`` for a bad size or align.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.alloc(10), a.alloc(4, align=8)
        (0, 16)
        """
        if type(size) is not int or size <= 0:
            size = check_size(size)
        if type(align) is not int or align <= 0 or align & (align - 1):
            align = check_align(align)
        offset = self._alloc(size, align)
        if offset < 0:
            raise OutOfSpace(self._no_fit(size, align))
        self._blocks[offset] = size
        self._used += size
        return offset

    def free(self, offset: int) -> None:
        """Release the block that starts at ``offset``.

        Time: the policy's (O(log n) for the fits).

        Raises ``InvalidBlock`` if no live block starts at ``offset`` (double
        free, interior offset, never allocated).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.free(a.alloc(10)); len(a)
        0
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        size = self._blocks.pop(offset, 0)
        if not size:
            raise InvalidBlock(self._not_a_block("free", offset))
        self._free(offset, size)
        self._used -= size

    def realloc(self, offset: int, size: int, align: int = 1) -> int:
        """Resize the block at ``offset`` to ``size`` slots; return its (new) offset.

        Shrinks in place (the tail becomes free); grows in place when the hole
        right after the block is large enough; otherwise moves as if the block
        were freed and then allocated, so it may slide into a place that
        overlaps its old one.  An ``align`` the offset does not satisfy forces
        a move.  Contents are not the allocator's business (see ``Heap``).

        Time: the policy's alloc plus free.

        Raises ``InvalidBlock`` (not a live block), ``OutOfSpace`` (nothing fits;
        the old block is untouched), ``TypeError``/``ValueError`` (bad size or align).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> off = a.alloc(10)
        >>> a.realloc(off, 20), a.size_of(off)
        (0, 20)
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        if type(size) is not int or size <= 0:
            size = check_size(size)
        if type(align) is not int or align <= 0 or align & (align - 1):
            align = check_align(align)
        blocks = self._blocks
        old = blocks.get(offset, 0)
        if not old:
            raise InvalidBlock(self._not_a_block("realloc", offset))
        if not offset & (align - 1):
            if size <= old:
                if size < old:
                    self._free(offset + size, old - size)
                    blocks[offset] = size
                    self._used -= old - size
                return offset
            if self._take(offset + old, size - old):
                blocks[offset] = size
                self._used += size - old
                return offset
        # Move: the block's own slots count as free while the policy searches.
        self._free(offset, old)
        try:
            new = self._alloc(size, align)
        except BaseException:  # even MemoryError or KeyboardInterrupt: keep the block
            self._take(offset, old)
            raise
        if new < 0:
            self._take(offset, old)
            raise OutOfSpace(self._no_fit(size, align, offset))
        del blocks[offset]
        blocks[new] = size
        self._used += size - old
        return new

    def reserve(self, offset: int, size: int) -> int:
        """Claim exactly ``[offset, offset + size)``, which must be all free; return ``offset``.

        Useful to load an existing layout (a file's used extents, ports in use).

        Time: the policy's (O(log n) for the fits).

        Raises ``OutOfSpace`` if some slot of the range is in use,
        ``ValueError`` if the range is not inside ``[0, capacity)``.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.reserve(8, 4), a.alloc(10)
        (8, 12)
        """
        offset = check_offset(offset)
        size = check_size(size)
        if offset + size > self._capacity:
            raise ValueError(
                f"reserve outside the space: [{offset}, {offset + size}) "
                f"does not fit in capacity {self._capacity}"
            )
        if not self._take(offset, size):
            raise OutOfSpace(f"cannot reserve [{offset}, {offset + size}): part of it is in use")
        self._blocks[offset] = size
        self._used += size
        return offset

    def clear(self) -> None:
        """Free every block (and reset any policy state, such as a roving pointer).

        Time: O(blocks) to drop the table.
        """
        self._blocks.clear()
        self._used = 0
        self._reset(self._capacity)

    def grow(self, capacity: int) -> None:
        """Enlarge the space to ``capacity`` slots; the new slots join the top hole.

        Time: the policy's free.

        Raises ``ValueError`` if ``capacity`` is smaller than the current one
        (growing to the same capacity does nothing).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(16)
        >>> a.grow(32); a.alloc(30)
        0
        """
        capacity = check_size(capacity, "capacity")
        old = self._capacity
        if capacity < old:
            raise ValueError(f"grow to a smaller capacity: {capacity} < current capacity {old}")
        if capacity == old:
            return
        self._check_capacity(capacity)
        self._capacity = capacity  # first: the policy's _grow sees the new space
        self._grow(old, capacity)

    # ---------------------------------------------------------------- queries

    def size_of(self, offset: int) -> int:
        """Return the size of the live block that starts at ``offset``.

        Time: O(1).  Raises ``InvalidBlock`` if no live block starts there.
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        size = self._blocks.get(offset, 0)
        if not size:
            raise InvalidBlock(self._not_a_block("size_of", offset))
        return size

    def __contains__(self, offset: object) -> bool:
        """``offset in a``: is ``offset`` the start of a live block?  Time: O(1)."""
        if type(offset) is not int:
            try:
                offset = as_int(offset, "offset")
            except TypeError:
                return False
        return offset in self._blocks

    def __len__(self) -> int:
        """The number of live blocks.  Time: O(1)."""
        return len(self._blocks)

    @property
    def capacity(self) -> int:
        """Size of the address space, in slots."""
        return self._capacity

    @property
    def used(self) -> int:
        """Slots in live blocks.  Time: O(1)."""
        return self._used

    @property
    def available(self) -> int:
        """Free slots (``capacity - used``).  Time: O(1)."""
        return self._capacity - self._used

    @property
    def top_hole(self) -> int:
        """Size of the hole that ends at ``capacity``, 0 if the last slot is in use.

        The free space that ``grow`` extends: a space that must grow to hold
        ``size`` more slots at its top needs ``size - top_hole`` more (the
        ``sbrk`` model of ``rangealloc.replay``).  Time: O(1) for the hole
        policies and the bitmap (O(capacity / 30) bit operations), O(log**2
        capacity) for buddy.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(100)
        >>> a.reserve(10, 20), a.top_hole
        (10, 70)
        """
        return self._top_hole()

    def blocks(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(offset, size)`` of the live blocks in address order.  Time: O(n log n)."""
        return iter(sorted(self._blocks.items()))

    def holes(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(offset, size)`` of the maximal free ranges in address order.  Time: O(n)."""
        return self._holes()

    def stats(self) -> Stats:
        """Return a ``Stats`` summary.  Time: the policy's (O(1) to O(log n) for the fits)."""
        available = self._capacity - self._used
        largest = self._largest_hole()
        return Stats(
            capacity=self._capacity,
            used=self._used,
            available=available,
            blocks=len(self._blocks),
            holes=self._hole_count(),
            largest_hole=largest,
            fragmentation=1.0 - largest / available if available else 0.0,
        )

    def check(self) -> None:
        """Recompute every invariant from scratch; raise ``CorruptState`` naming the broken rule.

        Time: O(n log n).
        """
        pieces: list[tuple[int, int, bool]] = [(o, s, False) for o, s in self._blocks.items()]
        pieces += [(o, s, True) for o, s in self._holes()]
        pieces.sort()
        position = 0
        previous_free = False
        for offset, size, is_hole in pieces:
            what = "hole" if is_hole else "block"
            if size <= 0:
                raise CorruptState(f"{what} at {offset} has size {size}")
            if offset != position:
                gap = "overlaps the previous range" if offset < position else "leaves a gap"
                raise CorruptState(f"{what} [{offset}, {offset + size}) {gap} (expected offset {position})")
            if is_hole and previous_free:
                raise CorruptState(f"hole at {offset} touches the hole before it (holes must be maximal)")
            previous_free = is_hole
            position = offset + size
        if position != self._capacity:
            raise CorruptState(f"blocks and holes end at {position}, not at capacity {self._capacity}")
        used = sum(self._blocks.values())
        if used != self._used:
            raise CorruptState(f"used counter is {self._used}, blocks add up to {used}")
        holes = sum(1 for piece in pieces if piece[2])
        if holes != self._hole_count():
            raise CorruptState(f"hole count is {self._hole_count()}, holes() yields {holes}")
        largest = max((s for _, s, h in pieces if h), default=0)
        if largest != self._largest_hole():
            raise CorruptState(f"largest hole is reported as {self._largest_hole()}, holes() says {largest}")
        top = pieces[-1][1] if pieces and pieces[-1][2] else 0
        if top != self._top_hole():
            raise CorruptState(f"top hole is reported as {self._top_hole()}, holes() says {top}")
        self._check_policy()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(capacity={self._capacity}, used={self._used}, blocks={len(self._blocks)})"
        )

    # ---------------------------------------------------------------- helpers

    def _check_capacity(self, capacity: int) -> None:
        if capacity > self.max_capacity:
            raise ValueError(
                f"capacity {capacity} is above the {self.name} policy's maximum {self.max_capacity}"
            )

    def _no_fit(self, size: int, align: int, moving: int = -1) -> str:
        what = f"size {size}" + (f" align {align}" if align > 1 else "")
        where = f" (moving block {moving})" if moving >= 0 else ""
        return f"no hole fits {what}{where}: {self.available} of {self._capacity} slots free, {self._largest_text()}"

    def _largest_text(self) -> str:
        """The end of an ``OutOfSpace`` message: the largest hole (a policy may say something cheaper)."""
        return f"largest hole {self._largest_hole()}"

    def _not_a_block(self, operation: str, offset: int) -> str:
        # Error path only: the linear scan names the block the offset falls in, if any.
        for start, size in self._blocks.items():
            if start < offset < start + size:
                return (
                    f"{operation}: offset {offset} is inside block [{start}, {start + size}), "
                    f"not at its start"
                )
        if offset < 0 or offset >= self._capacity:
            return f"{operation}: offset {offset} is outside the space [0, {self._capacity})"
        return f"{operation}: offset {offset} is not the start of a live block (free, or already freed)"
