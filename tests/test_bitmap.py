"""Golden scenarios for the bitmap: one bit per slot, placement as first fit.

The bitmap has no hole list: it finds the lowest aligned run of free bits with
big-int operations, so the scenarios stress what those can get wrong: runs
across the 30-bit digits of a Python int, aligned masks at the top of the
space and after ``grow``, and capacities that are not multiples of the align.
Offsets are derived by hand from first fit; each scenario ends by freeing
everything and allocating the whole capacity at offset 0.
"""

from __future__ import annotations

from helpers import raises_unchanged

from rangealloc import Bitmap, OutOfSpace


def free_everything_then_whole_capacity(a: Bitmap) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.alloc(a.capacity) == 0
    a.check()


def test_places_like_first_fit() -> None:
    a = Bitmap(64)
    assert [a.alloc(n) for n in (8, 16, 4, 8, 4)] == [0, 8, 24, 28, 36]
    a.free(8)
    a.free(28)
    assert list(a.holes()) == [(8, 16), (28, 8), (40, 24)]
    assert a.alloc(6) == 8  # the lowest hole, not the tightest
    assert a.alloc(8) == 14
    assert a.alloc(9) == 40
    assert a.alloc(8) == 28
    assert list(a.holes()) == [(22, 2), (49, 15)]
    free_everything_then_whole_capacity(a)


def test_runs_across_int_digit_boundaries() -> None:
    a = Bitmap(100)
    for offset in (29, 59, 89):  # each 2-slot block straddles bit 30, 60 or 90
        a.reserve(offset, 2)
    assert list(a.holes()) == [(0, 29), (31, 28), (61, 28), (91, 9)]
    assert a.alloc(29) == 0
    assert a.alloc(28) == 31
    assert a.alloc(28) == 61
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(10))
    assert a.alloc(9) == 91
    assert list(a.holes()) == []
    a.free(29)
    a.free(31)
    assert list(a.holes()) == [(29, 30)]
    assert a.alloc(30) == 29  # a run from bit 29 to bit 58
    a.free(61)
    a.free(89)
    assert list(a.holes()) == [(61, 30)]  # across bit 90
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(30, align=32))  # 64 + 30 > 91
    assert a.alloc(30) == 61
    free_everything_then_whole_capacity(a)


def test_aligned_masks_at_the_top_and_after_grow() -> None:
    a = Bitmap(20)
    assert a.alloc(4, align=16) == 0
    assert a.alloc(4, align=16) == 16  # the last multiple of 16; 16 + 4 is exactly the capacity
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1, align=16))
    a.grow(64)
    # holes [4, 16) and [20, 64): the multiples of 16 above the old capacity are candidates now
    assert a.alloc(4, align=16) == 32
    assert a.alloc(1, align=16) == 48
    assert list(a.holes()) == [(4, 12), (20, 12), (36, 12), (49, 15)]
    a.clear()
    assert a.alloc(1, align=32) == 0
    assert a.alloc(1, align=32) == 32
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1, align=32))
    free_everything_then_whole_capacity(a)


def test_interpreter_space_of_256_slots() -> None:
    a = Bitmap(256)
    assert [a.alloc(16) for _ in range(16)] == [16 * i for i in range(16)]
    for i in range(1, 16, 2):
        a.free(16 * i)
    # Eight 16-slot holes at 16, 48, 80, ...: two 8-slot blocks fill each, lowest first.
    assert [a.alloc(8) for _ in range(4)] == [16, 24, 48, 56]
    assert a.alloc(16) == 80
    assert a.alloc(3, align=4) == 112
    assert a.alloc(2, align=4) == 116
    assert list(a.holes()) == [(115, 1), (118, 10), (144, 16), (176, 16), (208, 16), (240, 16)]
    free_everything_then_whole_capacity(a)


def test_realloc_slides_into_an_overlapping_place() -> None:
    a = Bitmap(64)
    assert [a.alloc(n) for n in (4, 4, 4, 52)] == [0, 4, 8, 12]
    a.free(0)
    assert a.realloc(4, 8) == 0  # freed, [4, 8) joins [0, 4): the lowest 8-slot run
    assert a.realloc(0, 6) == 0
    assert a.realloc(8, 6) == 6
    assert list(a.holes()) == []
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(6, 7))
    assert a.realloc(12, 20) == 12  # shrink in place
    assert a.realloc(12, 52) == 12  # grow in place back to the end
    free_everything_then_whole_capacity(a)
