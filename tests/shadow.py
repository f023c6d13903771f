"""A shadow of an unmodelled policy's blocks, with the contract checked on every call.

``tests/model.py`` predicts exact offsets for the policies whose placement
rule is simple enough to write naively.  TLSF and buddy place blocks through
their own indexes (bins by size class, free lists per order), so their
stateful and stress runs keep only a *shadow*: the blocks the allocator
returned, ``offset -> occupied size`` (``traits.occupied``).  The holes follow
from it, and so does everything the contract says whatever the placement:

* a returned offset is aligned (``traits.block_align``: a rounded block also to
  its own size) and the range it names was free;
* ``blocks()``, ``holes()``, ``used``, ``len`` and ``stats()`` are the shadow's;
* a call that raises leaves the allocator exactly as it was;
* realloc stays in place when it must (shrink, or grow into a free range
  right after the block, with the offset aligned), and otherwise moves;
* **no false out-of-space**: alloc raises ``OutOfSpace`` only if no hole holds
  an aligned range of ``occupied(size)`` slots; realloc only if none does once
  the block's own slots count as free.  For buddy this is in buddy terms: the
  range must start at a multiple of ``max(rounded size, align)``.  Buddy
  merges eagerly, so such a free range is a free block, or lies inside one
  that can be split: buddy must serve it.
* ``compact`` makes exactly the moves ``model.compact_moves`` predicts (buddy:
  each block to the lowest free multiple of its size and align; the others:
  slid down in address order), each safe to apply in order
  (``helpers.apply_moves``); the recorded aligns (``snapshot()["aligns"]``)
  are those of the shadow, which follows alloc, realloc, free and moves;
* ``reserve`` claims exactly the (occupied) range when it is free, raises
  ``OutOfSpace`` when part of it is in use, and ``ValueError`` naming the
  offset when the policy may not claim that range (outside the space, or for
  buddy not one buddy block).

Every check is a plain scan of the shadow's sorted blocks: O(blocks log blocks)
per call, fine for the small spaces the tests use.
"""

from __future__ import annotations

from collections.abc import Callable

from helpers import apply_moves, assert_names, raises_unchanged
from model import aligned_fit, compact_moves, gaps
from traits import block_align, occupied, reservable

import rangealloc
from rangealloc import Allocator, InvalidBlock, OutOfSpace

__all__ = ["Shadowed"]


class Shadowed:
    """An allocator of ``policy`` beside the shadow of its blocks; each method is one checked call.

    ``make`` builds the allocator from a capacity (default: ``rangealloc.create``
    of ``policy``), e.g. ``lambda c: TLSF(c, sl=1)`` for a policy with a tunable.
    """

    def __init__(self, policy: str, capacity: int, make: Callable[[int], Allocator] | None = None) -> None:
        self.policy = policy
        self.a = make(capacity) if make is not None else rangealloc.create(policy, capacity)
        assert self.a.name == policy
        self.blocks: dict[int, int] = {}
        self.aligns: dict[int, int] = {}  # the align of each block asked with align > 1
        self.capacity = capacity

    # ---------------------------------------------------------------- queries

    def holes(self, without: int | None = None) -> list[tuple[int, int]]:
        """The free ranges of the shadow (with the block at ``without`` counted as free)."""
        blocks = self.blocks
        if without is not None:
            blocks = {o: s for o, s in blocks.items() if o != without}
        return gaps(blocks, self.capacity)

    def is_free(self, offset: int, size: int, without: int | None = None) -> bool:
        """Is ``[offset, offset + size)`` inside one free range of the shadow?"""
        return any(s <= offset and offset + size <= s + n for s, n in self.holes(without))

    def fits(self, size: int, align: int, without: int | None = None) -> bool:
        """Does some free range hold a block of ``size`` asked with ``align``, as the policy places blocks?"""
        need = occupied(self.policy, size)
        step = block_align(self.policy, size, align)
        return any(aligned_fit(s, s + n, need, step) is not None for s, n in self.holes(without))

    def any_live(self) -> int:
        return min(self.blocks, default=0)

    # ---------------------------------------------------------- checked calls

    def alloc(self, size: int, align: int) -> int | None:
        """``alloc``, checked: aligned, in a free range, of the occupied size; no false out-of-space."""
        a = self.a
        need = occupied(self.policy, size)
        step = block_align(self.policy, size, align)
        if not self.fits(size, align):
            raises_unchanged(a, OutOfSpace, lambda: a.alloc(size, align=align))
            return None
        try:
            offset = a.alloc(size, align=align)
        except OutOfSpace as error:
            raise AssertionError(
                f"false out-of-space: alloc({size}, align={align}) fits in the holes {self.holes()}: {error}"
            ) from error
        assert type(offset) is int
        assert offset % step == 0, f"alloc({size}, align={align}) returned {offset}, not a multiple of {step}"
        assert self.is_free(offset, need), f"alloc gave [{offset}, {offset + need}), not free: {self.holes()}"
        self.blocks[offset] = need
        if align > 1:
            self.aligns[offset] = align
        assert a.size_of(offset) == need
        return offset

    def free(self, offset: int) -> None:
        """``free``, checked: a live block goes, anything else is ``InvalidBlock`` and changes nothing."""
        a = self.a
        if offset not in self.blocks:
            message = raises_unchanged(a, InvalidBlock, lambda: a.free(offset))
            assert_names(message, offset)
            return
        a.free(offset)
        del self.blocks[offset]
        self.aligns.pop(offset, None)
        assert offset not in a

    def size_of(self, offset: int) -> None:
        a = self.a
        if offset in self.blocks:
            assert a.size_of(offset) == self.blocks[offset]
            assert offset in a
        else:
            raises_unchanged(a, InvalidBlock, lambda: a.size_of(offset))
            assert offset not in a

    def realloc(self, offset: int, size: int, align: int) -> int | None:
        """``realloc``, checked: in place when it must be, else moved to a free range; no false OutOfSpace."""
        a = self.a
        if offset not in self.blocks:
            message = raises_unchanged(a, InvalidBlock, lambda: a.realloc(offset, size, align=align))
            assert_names(message, offset)
            return None
        old = self.blocks[offset]
        need = occupied(self.policy, size)
        step = block_align(self.policy, size, align)
        in_place = offset % step == 0 and (need <= old or self.is_free(offset + old, need - old))
        if not in_place and not self.fits(size, align, without=offset):
            raises_unchanged(a, OutOfSpace, lambda: a.realloc(offset, size, align=align))
            assert a.size_of(offset) == old
            return None
        try:
            new = a.realloc(offset, size, align=align)
        except OutOfSpace as error:
            raise AssertionError(
                f"false out-of-space: realloc({offset}, {size}, align={align}) of a {old}-slot block fits "
                f"in the holes {self.holes(without=offset)}: {error}"
            ) from error
        assert type(new) is int
        if in_place:
            assert new == offset, f"realloc({offset}, {size}, align={align}) moved to {new}; it fits in place"
        else:
            assert new != offset
            assert new % step == 0, f"realloc moved to {new}, not a multiple of {step}"
            assert self.is_free(new, need, without=offset), f"moved to [{new}, {new + need}), not free"
            assert offset not in a
        del self.blocks[offset]
        self.blocks[new] = need
        self.aligns.pop(offset, None)
        if align > 1:
            self.aligns[new] = align
        assert a.size_of(new) == need
        return new

    def reserve(self, offset: int, size: int) -> int | None:
        """``reserve``, checked: the exact (occupied) range if free, else ``OutOfSpace``/``ValueError``."""
        a = self.a
        need = occupied(self.policy, size)
        if not reservable(self.policy, offset, size) or offset + need > self.capacity:
            message = raises_unchanged(a, ValueError, lambda: a.reserve(offset, size))
            assert_names(message, offset)
            return None
        if not self.is_free(offset, need):
            raises_unchanged(a, OutOfSpace, lambda: a.reserve(offset, size))
            return None
        assert a.reserve(offset, size) == offset
        self.blocks[offset] = need
        assert a.size_of(offset) == need
        return offset

    def grow(self, capacity: int) -> None:
        """``grow``, checked: a smaller (or non-positive) capacity is ``ValueError`` and changes nothing."""
        a = self.a
        if capacity < self.capacity:
            raises_unchanged(a, ValueError, lambda: a.grow(capacity))
            return
        a.grow(capacity)
        self.capacity = capacity

    def clear(self) -> None:
        self.a.clear()
        self.blocks.clear()
        self.aligns.clear()

    def compact(self, max_moves: int | None) -> None:
        """``compact``, checked: the predicted moves, each safe in order; the shadow follows them."""
        limit = -1 if max_moves is None else max_moves
        expected = compact_moves(self.policy, self.blocks, self.aligns, self.capacity, limit)
        moves = self.a.compact(max_moves)
        assert moves == expected, f"compact({max_moves}) moved {moves}, expected {expected}"
        self.blocks = apply_moves(self.blocks, moves, self.capacity)
        for offset, new, _ in moves:
            if offset in self.aligns:
                self.aligns[new] = self.aligns.pop(offset)

    # ------------------------------------------------------------------ state

    def compare(self, where: str = "") -> None:
        """Assert everything observable about the allocator is what the shadow says."""
        a = self.a
        holes = self.holes()
        used = sum(self.blocks.values())
        assert list(a.blocks()) == sorted(self.blocks.items()), where
        assert list(a.holes()) == holes, where
        assert a.used == used, where
        assert a.available == self.capacity - used, where
        assert len(a) == len(self.blocks), where
        assert a.capacity == self.capacity, where
        stats = a.stats()
        assert stats.largest_hole == max((n for _, n in holes), default=0), where
        assert stats.holes == len(holes), where
        assert a.snapshot()["aligns"] == [[o, n] for o, n in sorted(self.aligns.items())], where
