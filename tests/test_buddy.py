"""Golden scenarios for the binary buddy system.

Every block is 2**k slots at a multiple of 2**k.  A request is rounded up to
a power of two; the smallest free block of at least that order is taken
(the newest of its list: free lists are LIFO) and split in halves, keeping
the lower half, until it has the right size; every upper half becomes a
free block.  A freed block merges with its buddy (``offset ^ size``) while
the buddy is free and their parent lies inside the space.  The space is
covered by power-of-two roots aligned to their size, largest first.

Offsets are derived by hand from those rules in the comments; each scenario
ends by freeing everything and allocating the whole capacity at offset 0
(when the capacity is not a power of two: ``holes()`` is one hole, and the
roots are allocated largest first, each on its own root).
"""

from __future__ import annotations

from functools import partial

import pytest
from helpers import assert_names, raises_unchanged
from traits import buddy_roots

from rangealloc import Buddy, InvalidBlock, OutOfSpace


def free_everything_then_whole_capacity(a: Buddy) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)
    capacity = a.capacity
    assert list(a.holes()) == [(0, capacity)]
    assert a.stats().holes == 1
    if capacity & (capacity - 1) == 0:
        assert a.alloc(capacity) == 0
    else:
        roots = buddy_roots(capacity)
        assert len(roots) > 1
        assert [a.alloc(size) for _, size in roots] == [offset for offset, _ in roots]
    assert list(a.holes()) == []
    a.check()


def free_blocks(a: Buddy) -> list[tuple[int, int]]:
    """The free blocks, (offset, size), in address order (the internal view that holes() merges)."""
    return sorted((offset, 1 << order) for order, blocks in enumerate(a._lists) for offset in blocks)


# ------------------------------------------------------------ split and merge


def test_alloc_splits_a_block_in_halves_down_to_the_size() -> None:
    a = Buddy(64)
    assert a.alloc(1) == 0  # [0, 64) splits into halves six times; [0, 1) is taken
    assert free_blocks(a) == [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (32, 32)]
    assert list(a.holes()) == [(1, 63)]  # all of them reported as one hole
    # Each request is served by the free block of its own order, no further split.
    assert [a.alloc(1), a.alloc(2), a.alloc(4)] == [1, 2, 4]
    assert a.alloc(3) == 8  # 4 slots: order 2 is empty, [8, 16) splits, [8, 12) is taken
    assert free_blocks(a) == [(12, 4), (16, 16), (32, 32)]
    assert list(a.holes()) == [(12, 52)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_free_merges_buddies_back_up() -> None:
    a = Buddy(64)
    assert [a.alloc(n) for n in (1, 1, 2, 4, 3)] == [0, 1, 2, 4, 8]
    a.free(1)  # its buddy [0, 1) is in use: no merge
    assert free_blocks(a) == [(1, 1), (12, 4), (16, 16), (32, 32)]
    a.free(0)  # merges with [1, 2) into [0, 2); its buddy [2, 4) is in use
    assert free_blocks(a) == [(0, 2), (12, 4), (16, 16), (32, 32)]
    a.free(2)  # [0, 2) + [2, 4) -> [0, 4); its buddy [4, 8) is in use
    assert free_blocks(a) == [(0, 4), (12, 4), (16, 16), (32, 32)]
    assert list(a.holes()) == [(0, 4), (12, 52)]
    # Two free blocks of order 2 now: [12, 16) (freed by the split) and [0, 4) (newer).
    assert a.alloc(4) == 0
    a.free(0)
    a.free(8)  # [8, 12) + [12, 16) -> [8, 16); its buddy [0, 8) holds [4, 8)
    assert free_blocks(a) == [(0, 4), (8, 8), (16, 16), (32, 32)]
    assert list(a.holes()) == [(0, 4), (8, 56)]
    a.free(4)  # [4, 8) merges all the way up: [0, 8), [0, 16), [0, 32), [0, 64)
    assert free_blocks(a) == [(0, 64)]
    assert a.alloc(64) == 0
    a.check()
    free_everything_then_whole_capacity(a)


def test_rounding_shows_in_size_of_blocks_and_used() -> None:
    a = Buddy(64)
    assert a.alloc(5) == 0  # 8 slots
    assert a.size_of(0) == 8
    assert list(a.blocks()) == [(0, 8)]
    assert a.used == 8
    assert a.alloc(9) == 16  # 16 slots: [16, 32), the free block of order 4 the first split left
    assert a.alloc(17) == 32  # 32 slots
    assert a.alloc(8) == 8
    assert list(a.blocks()) == [(0, 8), (8, 8), (16, 16), (32, 32)]
    assert a.used == 64
    assert a.available == 0
    # 5 + 9 + 17 + 8 = 39 slots asked for, yet the space is full.
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 1))
    assert a.stats().largest_hole == 0
    a.check()
    free_everything_then_whole_capacity(a)


def test_aligned_alloc_takes_a_block_at_a_multiple_of_align() -> None:
    a = Buddy(64)
    assert a.alloc(1) == 0
    # align 8 > size: the free blocks of orders 0..2 ([1, 2), [2, 4), [4, 8)) are at no multiple
    # of 8; [8, 16), of order 3, is, and splits down to [8, 9).
    assert a.alloc(1, align=8) == 8
    assert list(a.holes()) == [(1, 7), (9, 55)]
    # align 4 > size 2: no free block of order 1 ([2, 4), [10, 12)) is at a multiple of 4; every
    # block of order 2 is, and the newest, [12, 16) (left by the last split), splits to [12, 14).
    assert a.alloc(2, align=4) == 12
    assert list(a.holes()) == [(1, 7), (9, 3), (14, 50)]
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 1, align=64))  # 0 is the only multiple of 64
    assert a.alloc(1, align=32) == 32  # [32, 64) splits down to [32, 33)
    a.check()
    free_everything_then_whole_capacity(a)


# ------------------------------------------------------------ any capacity


def test_capacity_12_is_two_roots() -> None:
    a = Buddy(12)
    assert list(a.holes()) == [(0, 12)]
    assert free_blocks(a) == [(0, 8), (8, 4)]
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 12))  # rounds up to 16
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 9))
    assert a.alloc(4) == 8  # the smallest free block that fits is the small root
    assert a.alloc(1) == 0  # then [0, 8) splits
    assert free_blocks(a) == [(1, 1), (2, 2), (4, 4)]
    a.free(8)  # [8, 12): its buddy [12, 16) is outside the space, no merge
    assert free_blocks(a) == [(1, 1), (2, 2), (4, 4), (8, 4)]
    assert list(a.holes()) == [(1, 11)]
    a.free(0)
    assert free_blocks(a) == [(0, 8), (8, 4)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_capacity_100_is_three_roots_largest_first() -> None:
    a = Buddy(100)
    assert free_blocks(a) == [(0, 64), (64, 32), (96, 4)]
    assert buddy_roots(100) == [(0, 64), (64, 32), (96, 4)]
    # Each request takes the smallest root that fits: 4 -> [96, 100), 32 -> [64, 96).
    assert [a.alloc(4), a.alloc(32), a.alloc(64)] == [96, 64, 0]
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 1))
    a.free(64)
    a.free(96)
    assert a.alloc(2) == 96  # splits the 4-slot root: [98, 100) stays free
    assert a.alloc(8) == 64  # splits the 32-slot root: [80, 96) and [72, 80) stay free
    assert free_blocks(a) == [(72, 8), (80, 16), (98, 2)]
    assert list(a.holes()) == [(72, 24), (98, 2)]
    a.check()
    free_everything_then_whole_capacity(a)


@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 7, 12, 100, 1000, (1 << 20) - 1])
def test_any_capacity_is_one_hole_of_aligned_roots(capacity: int) -> None:
    a = Buddy(capacity)
    assert list(a.holes()) == [(0, capacity)]
    assert free_blocks(a) == sorted(buddy_roots(capacity))
    a.check()
    free_everything_then_whole_capacity(a)


# ------------------------------------------------------------------ realloc


def test_realloc_shrinks_and_grows_in_place_through_buddies() -> None:
    a = Buddy(64)
    assert a.alloc(16) == 0
    assert a.realloc(0, 3) == 0  # 4 slots; [4, 8) and [8, 16) become free blocks
    assert a.size_of(0) == 4
    assert free_blocks(a) == [(4, 4), (8, 8), (16, 16), (32, 32)]
    assert list(a.holes()) == [(4, 60)]
    assert a.realloc(0, 16) == 0  # its buddies [4, 8) and [8, 16) are free: in place
    assert a.realloc(0, 20) == 0  # 32 slots: [16, 32) is free
    assert a.realloc(0, 64) == 0  # and [32, 64)
    assert list(a.holes()) == []
    assert a.realloc(0, 1) == 0
    assert free_blocks(a) == [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (32, 32)]
    assert a.used == 1
    a.check()
    free_everything_then_whole_capacity(a)


def test_realloc_moves_when_the_offset_is_not_aligned_to_the_new_size() -> None:
    a = Buddy(64)
    assert [a.alloc(8), a.alloc(8)] == [0, 8]
    # 8 is no multiple of 16: a 16-slot block cannot start there, though [0, 16) would be free
    # once [0, 8) is.  Freed, [8, 16) cannot merge ([0, 8) in use); the free [16, 32) is taken.
    assert a.realloc(8, 16) == 16
    assert list(a.blocks()) == [(0, 8), (16, 16)]
    assert list(a.holes()) == [(8, 8), (32, 32)]
    assert a.realloc(0, 16) == 0  # 0 is a multiple of 16 and [8, 16) is free: in place
    assert a.realloc(16, 32) == 32  # 16 is no multiple of 32: moves to the free [32, 64)
    assert a.realloc(0, 32) == 0  # [16, 32) is free now: in place
    assert list(a.blocks()) == [(0, 32), (32, 32)]
    # 64 slots: [32, 64) is in use, and once [0, 32) is freed no 64-slot block is free.
    raises_unchanged(a, OutOfSpace, partial(a.realloc, 0, 64))
    a.check()
    free_everything_then_whole_capacity(a)


def test_realloc_slides_into_a_merged_block_overlapping_its_old_place() -> None:
    a = Buddy(32)
    for offset, size in [(0, 8), (24, 8)]:
        a.reserve(offset, size)
    # Free: [8, 16) and [16, 24): 16 slots in a row, but no 16-slot buddy block.
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 16))
    # Moving [24, 32) (24 is no multiple of 16) frees it first: [16, 32) merges, and is taken.
    assert a.realloc(24, 16) == 16
    assert list(a.blocks()) == [(0, 8), (16, 16)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_realloc_with_an_align_above_the_size() -> None:
    a = Buddy(64)
    assert [a.alloc(4), a.alloc(4)] == [0, 4]
    assert a.realloc(4, 4, align=16) == 16  # 4 is no multiple of 16: the first 16-aligned free block
    assert list(a.blocks()) == [(0, 4), (16, 4)]
    assert a.realloc(16, 8, align=16) == 16  # a multiple of 16 already, [20, 24) free: in place
    assert a.size_of(16) == 8
    a.check()
    free_everything_then_whole_capacity(a)


# ------------------------------------------------------------------ reserve


def test_reserve_a_buddy_block_and_value_error_otherwise() -> None:
    a = Buddy(64)
    assert a.reserve(16, 16) == 16
    assert a.reserve(8, 5) == 8  # [8, 16): 5 rounds up to 8
    assert list(a.blocks()) == [(8, 8), (16, 16)]
    assert list(a.holes()) == [(0, 8), (32, 32)]
    raises_unchanged(a, OutOfSpace, partial(a.reserve, 12, 4))  # a buddy block, but in use
    raises_unchanged(a, OutOfSpace, partial(a.reserve, 0, 16))
    for offset, size in [(4, 8), (32, 33), (2, 3), (36, 8)]:
        message = raises_unchanged(a, ValueError, partial(a.reserve, offset, size))
        assert_names(message, offset)
        assert "not a multiple" in message
        assert "buddy block" in message
    message = raises_unchanged(a, ValueError, partial(a.reserve, 0, 128))  # aligned, but outside the space
    assert_names(message, 0)
    assert a.alloc(8) == 0  # the free blocks are [0, 8) and [32, 64)
    a.check()
    free_everything_then_whole_capacity(a)


# ----------------------------------------------------------------- holes()


def test_holes_reports_adjacent_free_blocks_that_are_not_buddies_as_one() -> None:
    a = Buddy(64)
    a.reserve(0, 8)
    a.reserve(32, 32)
    # Free blocks [8, 16) and [16, 32): not buddies (their parents differ), one hole all the same.
    assert free_blocks(a) == [(8, 8), (16, 16)]
    assert list(a.holes()) == [(8, 24)]
    assert a.stats().holes == 1
    assert a.stats().largest_hole == 24
    # No false out-of-space in buddy terms: 24 rounds up to 32, and no 32-slot block is free.
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 24))
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 17))
    assert a.alloc(16) == 16
    assert a.alloc(8) == 8
    assert list(a.holes()) == []
    a.check()
    free_everything_then_whole_capacity(a)


# --------------------------------------------------------------------- grow


def test_grow_frees_the_new_range_as_aligned_blocks_that_merge() -> None:
    a = Buddy(16)
    assert a.alloc(16) == 0
    a.grow(64)  # [16, 32) and [32, 64); [16, 32)'s buddy [0, 16) is in use
    assert free_blocks(a) == [(16, 16), (32, 32)]
    assert list(a.holes()) == [(16, 48)]
    assert a.alloc(32) == 32
    assert a.alloc(16) == 16
    a.free(0)
    a.free(16)
    a.free(32)
    assert free_blocks(a) == [(0, 64)]  # merged up to the new root
    a.grow(100)  # roots [64, 96) and [96, 100) join: [0, 64) has no buddy inside the space
    assert free_blocks(a) == [(0, 64), (64, 32), (96, 4)]
    assert list(a.holes()) == [(0, 100)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_grow_completes_a_root_and_merges_across_the_old_end() -> None:
    a = Buddy(12)  # roots [0, 8), [8, 12)
    a.grow(14)  # [12, 14): its parent [12, 16) is not inside the space yet
    assert free_blocks(a) == [(0, 8), (8, 4), (12, 2)]
    a.grow(16)  # [14, 16) merges with [12, 14), then [8, 12), then [0, 8)
    assert free_blocks(a) == [(0, 16)]
    assert a.alloc(16) == 0
    raises_unchanged(a, InvalidBlock, partial(a.free, 8))
    a.check()
    free_everything_then_whole_capacity(a)
