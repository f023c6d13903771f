"""Golden scenarios for best fit: every block goes into the smallest hole that can hold it.

Among the holes that can hold the aligned request, the smallest; ties go to
the lowest address; inside it, the lowest aligned offset.  Offsets below are
derived by hand from that rule; each scenario ends by freeing everything and
allocating the whole capacity at offset 0.
"""

from __future__ import annotations

from helpers import raises_unchanged

from rangealloc import BestFit, OutOfSpace


def free_everything_then_whole_capacity(a: BestFit) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.alloc(a.capacity) == 0
    a.check()


def test_smaller_later_hole_beats_a_lower_larger_one() -> None:
    a = BestFit(64)
    assert [a.alloc(n) for n in (8, 20, 4, 10, 4)] == [0, 8, 28, 32, 42]
    a.free(8)
    a.free(32)
    assert list(a.holes()) == [(8, 20), (32, 10), (46, 18)]
    assert a.alloc(9) == 32  # 10 slots is the tightest; first fit would take 8
    assert a.alloc(18) == 46  # an exact fit, and the 20-slot hole stays whole
    assert a.alloc(1) == 41  # the 1-slot leftover of the 10-slot hole
    assert list(a.holes()) == [(8, 20)]
    assert a.alloc(2) == 8
    assert list(a.holes()) == [(10, 18)]
    free_everything_then_whole_capacity(a)


def test_ties_go_to_the_lowest_address() -> None:
    a = BestFit(64)
    for offset, size in [(0, 4), (10, 4), (20, 4), (30, 34)]:
        a.reserve(offset, size)
    assert list(a.holes()) == [(4, 6), (14, 6), (24, 6)]
    assert a.alloc(5) == 4  # three 6-slot holes: the lowest
    assert a.alloc(5) == 14  # two left: the lowest
    assert list(a.holes()) == [(9, 1), (19, 1), (24, 6)]
    assert a.alloc(1) == 9  # two 1-slot holes: the lowest
    assert a.alloc(1) == 19
    assert a.alloc(6) == 24
    assert list(a.holes()) == []
    free_everything_then_whole_capacity(a)


def test_aligned_request_takes_the_smallest_hole_that_holds_it_aligned() -> None:
    a = BestFit(64)
    for offset, size in [(0, 1), (33, 4), (49, 2), (59, 5)]:
        a.reserve(offset, size)
    # holes: [1, 33) 32 slots, [37, 49) 12 slots, [51, 59) 8 slots.
    assert list(a.holes()) == [(1, 32), (37, 12), (51, 8)]
    # The 8-slot hole is the smallest, but its only multiple of 8, 56, leaves 3 slots.
    # The 12-slot hole holds one at 40: the padding [37, 40) stays a hole.
    assert a.alloc(4, align=8) == 40
    assert list(a.holes()) == [(1, 32), (37, 3), (44, 5), (51, 8)]
    assert a.alloc(8) == 51  # exact fit; first fit would take 1
    assert a.alloc(3) == 37  # exact fit in the padding
    assert a.alloc(5, align=4) == 44  # exact fit at a multiple of 4
    assert list(a.holes()) == [(1, 32)]
    assert a.alloc(4, align=16) == 16  # only one hole left: its lowest multiple of 16
    free_everything_then_whole_capacity(a)


def test_realloc_in_place_first_then_best_fit_counting_its_own_slots() -> None:
    a = BestFit(64)
    for offset, size in [(0, 4), (10, 4), (30, 4), (34, 2)]:
        a.reserve(offset, size)
    # holes: [4, 10) 6, [14, 30) 16, [36, 64) 28
    assert a.realloc(10, 8) == 10  # grows in place into [14, 30), though [4, 10) would fit
    assert list(a.holes()) == [(4, 6), (18, 12), (36, 28)]
    # [30, 34) cannot grow (a block follows): best fit for 6 slots is the 6-slot hole.
    assert a.realloc(30, 6) == 4
    assert list(a.blocks()) == [(0, 4), (4, 6), (10, 8), (34, 2)]
    assert list(a.holes()) == [(18, 16), (36, 28)]
    # [4, 10) cannot grow; freed it is a 6-slot hole again, too small: the 16-slot one.
    assert a.realloc(4, 7) == 18
    assert list(a.holes()) == [(4, 6), (25, 9), (36, 28)]
    # [10, 18) cannot grow; freed it joins [4, 10): 14 slots, the tightest fit for 13.
    assert a.realloc(10, 13) == 4  # slides down, overlapping its old place
    assert list(a.blocks()) == [(0, 4), (4, 13), (18, 7), (34, 2)]
    assert list(a.holes()) == [(17, 1), (25, 9), (36, 28)]
    # 40 slots: even with its own 2 slots the largest free range is 9 + 2 + 28 = 39.
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(34, 40))
    free_everything_then_whole_capacity(a)


def test_grow_and_clear() -> None:
    a = BestFit(16)
    a.reserve(0, 4)
    a.reserve(8, 4)
    a.grow(64)
    assert list(a.holes()) == [(4, 4), (12, 52)]  # the new slots joined the top hole
    assert a.alloc(4) == 4
    assert a.alloc(52) == 12
    a.clear()
    assert list(a.holes()) == [(0, 64)]
    assert a.alloc(10) == 0
    free_everything_then_whole_capacity(a)
