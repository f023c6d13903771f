"""Golden scenarios for first fit: every block goes at the lowest aligned offset that fits.

Each scenario pins exact offsets (derived by hand from the placement rule in
the comments) and ends by freeing everything and allocating the whole
capacity at offset 0, which only works if every free merged its neighbours.
"""

from __future__ import annotations

from helpers import raises_unchanged

from rangealloc import FirstFit, OutOfSpace


def free_everything_then_whole_capacity(a: FirstFit) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.alloc(a.capacity) == 0
    a.check()


def test_lowest_hole_wins_even_when_a_later_one_fits_better() -> None:
    a = FirstFit(64)
    assert [a.alloc(n) for n in (8, 16, 4, 8, 4)] == [0, 8, 24, 28, 36]
    a.free(8)  # hole [8, 24): 16 slots
    a.free(28)  # hole [28, 36): 8 slots, a closer fit for what follows
    assert list(a.holes()) == [(8, 16), (28, 8), (40, 24)]
    assert a.alloc(6) == 8  # the lowest hole, though [28, 36) wastes less
    assert a.alloc(8) == 14  # what is left of it, [14, 24), still holds 8
    assert list(a.holes()) == [(22, 2), (28, 8), (40, 24)]
    assert a.alloc(9) == 40  # 2 and 8 are too small
    assert a.alloc(8) == 28  # exactly fills the 8-slot hole
    assert list(a.holes()) == [(22, 2), (49, 15)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_freed_space_at_the_bottom_is_reused_first() -> None:
    a = FirstFit(32)
    assert a.alloc(8) == 0
    assert a.alloc(8) == 8
    a.free(0)
    assert a.alloc(4) == 0  # next fit would go on at 16
    assert a.alloc(4) == 4
    assert a.alloc(4) == 16
    free_everything_then_whole_capacity(a)


def test_alignment_padding_stays_a_hole() -> None:
    a = FirstFit(64)
    assert a.alloc(3) == 0
    assert a.alloc(4, align=8) == 8  # [3, 8) is padding, left free
    assert list(a.holes()) == [(3, 5), (12, 52)]
    assert a.alloc(5) == 3  # the padding is a real hole: it takes a 5-slot block
    assert a.alloc(2, align=16) == 16  # the first multiple of 16 in [12, 64); [12, 16) stays free
    assert a.alloc(4, align=4) == 12  # and holds a 4-aligned block
    assert list(a.holes()) == [(18, 46)]
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1, align=64))  # 0 is the only multiple of 64
    free_everything_then_whole_capacity(a)


def test_aligned_request_skips_holes_that_cannot_hold_it_aligned() -> None:
    a = FirstFit(64)
    a.reserve(0, 1)
    a.reserve(9, 8)
    a.reserve(29, 3)
    # holes: [1, 9) (8 slots, but the only multiple of 8 in it is 8), [17, 29), [32, 64)
    assert a.alloc(4, align=8) == 24  # 8 + 4 > 9; in [17, 29) the first multiple of 8 is 24
    assert a.alloc(4, align=8) == 32
    assert a.alloc(8, align=1) == 1
    assert list(a.holes()) == [(17, 7), (28, 1), (36, 28)]
    free_everything_then_whole_capacity(a)


def test_realloc_slides_down_into_an_overlapping_place() -> None:
    a = FirstFit(64)
    assert [a.alloc(n) for n in (4, 4, 4, 52)] == [0, 4, 8, 12]
    a.free(0)
    # [4, 8) cannot grow (a block follows); freed, it joins [0, 4): 8 slots from 0.
    assert a.realloc(4, 8) == 0
    assert list(a.blocks()) == [(0, 8), (8, 4), (12, 52)]
    assert a.realloc(0, 6) == 0  # shrinks in place, [6, 8) is free
    # [8, 12) cannot grow; freed, [6, 12) is the lowest place for 6 slots.
    assert a.realloc(8, 6) == 6
    assert list(a.blocks()) == [(0, 6), (6, 6), (12, 52)]
    assert list(a.holes()) == []
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(6, 7))
    free_everything_then_whole_capacity(a)


def test_realloc_grows_in_place_before_looking_lower() -> None:
    a = FirstFit(64)
    assert a.alloc(10) == 0
    assert a.alloc(10) == 10
    a.free(0)
    # [0, 10) is free and lower, but the hole after the block is tried first.
    assert a.realloc(10, 20) == 10
    assert list(a.holes()) == [(0, 10), (30, 34)]
    # An align the offset misses forces a move, to the lowest 8-aligned fit: 0.
    assert a.realloc(10, 6, align=8) == 0
    assert list(a.holes()) == [(6, 58)]
    free_everything_then_whole_capacity(a)


def test_grow_and_clear() -> None:
    a = FirstFit(16)
    assert a.alloc(16) == 0
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    a.grow(24)
    assert a.alloc(4) == 16
    a.clear()
    assert a.alloc(2) == 0
    assert a.capacity == 24
    free_everything_then_whole_capacity(a)
