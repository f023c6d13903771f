"""Golden scenarios for the bitmap: one bit per slot, placement as first fit.

The bitmap has no hole list: it finds the lowest aligned run of free bits with
big-int operations, so the scenarios stress what those can get wrong: runs
across the 30-bit digits of a Python int, aligned masks at the top of the
space and after ``grow``, and capacities that are not multiples of the align.
Large mode (chunks under a segment tree, above ``small_limit``) runs with tiny
tunables (``Chunked``): fits across several chunks and across the middle of a
tree node, aligned fits that only the walk past unaligned runs finds, holes
and stats across chunk borders, the switch from small mode and the tree's
growth, realloc, reserve, compact and restore; and once with the default
tunables, beside the model.  Offsets are derived by hand from first fit; each
scenario ends by freeing everything and allocating the whole capacity at
offset 0.
"""

from __future__ import annotations

import random
from functools import partial

import pytest
from helpers import outcome, raises_unchanged
from model import Model

from rangealloc import Bitmap, OutOfSpace, restore


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


# ------------------------------------------------------------ large mode
#
# Above ``small_limit`` slots the bitmap keeps chunks of ``chunk_bits`` slots
# under a segment tree (see the module).  ``Chunked`` brings that mode down to
# test sizes: above 16 slots, chunks of 8, so 64 slots are 8 chunks under a
# tree of 3 levels, and most of the scenarios below cross chunk borders:
#
#     chunk    0        1         2         3         4         5         6         7
#     slots    [0, 8)   [8, 16)   [16, 24)  [24, 32)  [32, 40)  [40, 48)  [48, 56)  [56, 64)


class Chunked(Bitmap):
    """The bitmap with tiny tunables: large mode above 16 slots, 8-slot chunks."""

    small_limit = 16
    chunk_bits = 8


def is_large(a: Bitmap) -> bool:
    """Whether ``a`` keeps chunks and a tree (a private flag: the API looks the same in both modes)."""
    return a._large


def chunked(capacity: int, blocks: list[tuple[int, int]]) -> Chunked:
    a = Chunked(capacity)
    for offset, size in blocks:
        a.reserve(offset, size)
    assert is_large(a)
    a.check()
    return a


def test_the_mode_follows_the_capacity() -> None:
    assert not is_large(Bitmap(256))
    assert not is_large(Bitmap(Bitmap.small_limit))
    assert is_large(Bitmap(Bitmap.small_limit + 1))
    assert not is_large(Chunked(16))
    a = Chunked(16)
    a.alloc(10)
    a.grow(17)  # the switch: the map is cut in chunks
    assert is_large(a)
    assert list(a.holes()) == [(10, 7)]
    a.clear()
    assert is_large(a)
    a.check()


def test_large_fit_spanning_several_chunks() -> None:
    a = chunked(64, [(3, 2), (12, 1)])
    assert list(a.holes()) == [(0, 3), (5, 7), (13, 51)]
    assert a.alloc(20) == 13  # [13, 33): the end of chunk 1, chunks 2 and 3, the start of chunk 4
    assert a.alloc(24) == 33  # [33, 57): the end of chunk 4 to the start of chunk 7
    assert list(a.holes()) == [(0, 3), (5, 7), (57, 7)]
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(8))
    assert a.alloc(7) == 5  # [5, 12): from chunk 0 into chunk 1
    assert a.alloc(7) == 57
    a.free(13)
    a.free(33)
    assert list(a.holes()) == [(0, 3), (13, 44)]
    assert a.alloc(44) == 13
    a.check()
    free_everything_then_whole_capacity(a)


def test_large_fit_that_starts_in_the_last_run_of_a_chunk() -> None:
    # One 1-slot hole in chunk 0, one 7-slot hole across the middle of the space:
    # [29, 32) ends chunk 3 (the left half), [32, 36) starts chunk 4 (the right half).
    a = chunked(64, [(0, 2), (3, 26), (36, 28)])
    assert list(a.holes()) == [(2, 1), (29, 7)]
    assert a.stats().largest_hole == 7
    assert a.alloc(7) == 29  # neither half holds 7; the run across the middle does
    assert a.alloc(1) == 2
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    a.free(29)
    assert a.alloc(2) == 29  # first fit: the start of the run, in chunk 3
    assert a.alloc(5) == 31  # [31, 36): the last slot of chunk 3 and four of chunk 4
    free_everything_then_whole_capacity(a)


def test_large_aligned_fit_past_runs_that_fit_only_unaligned() -> None:
    # Holes [1, 7), [9, 14), [21, 30) (across chunks 2 and 3) and [40, 64).
    a = chunked(64, [(0, 1), (7, 2), (14, 7), (30, 10)])
    assert list(a.holes()) == [(1, 6), (9, 5), (21, 9), (40, 24)]
    # 4 slots at a multiple of 8: [1, 7) and [9, 14) hold 4 slots but not at 8 or 16;
    # the first hole of 4 + 8 - 1 slots is [40, 64), yet [24, 28) comes first.
    assert a.alloc(4, align=8) == 24
    assert a.alloc(4, align=8) == 40
    assert a.alloc(2, align=4) == 4
    # Holes [1, 4), [6, 7), [9, 14), [21, 24), [28, 30), [44, 64): three runs of 4 or more,
    # the first two with no multiple of 4 that fits.
    assert a.alloc(4, align=4) == 44
    # An align above the chunk size: only chunk starts are candidates, 48 is the first free one.
    assert a.alloc(5, align=16) == 48
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(9, align=16))  # 11 free slots at [53, 64), none at 64
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1, align=32))  # 0 and 32 are in use
    assert a.alloc(11) == 53
    a.check()
    free_everything_then_whole_capacity(a)


def test_large_holes_across_chunk_borders() -> None:
    # 61 slots: 8 chunks, the last one with 5 slots (the 3 bits past the capacity stay in use).
    a = chunked(61, [(0, 5), (10, 6), (24, 9), (40, 1), (56, 2)])
    assert list(a.holes()) == [(5, 5), (16, 8), (33, 7), (41, 15), (58, 3)]
    stats = a.stats()
    assert (stats.holes, stats.largest_hole, a.top_hole) == (5, 15, 3)
    a.free(40)  # [33, 56): from chunk 4 through chunk 6
    assert list(a.holes()) == [(5, 5), (16, 8), (33, 23), (58, 3)]
    a.free(24)
    a.free(56)
    assert list(a.holes()) == [(5, 5), (16, 45)]
    stats = a.stats()
    assert (stats.holes, stats.largest_hole, a.top_hole) == (2, 45, 45)
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(46))
    assert a.alloc(45) == 16
    assert (a.stats().holes, a.top_hole) == (1, 0)
    free_everything_then_whole_capacity(a)


def test_large_grow_from_small_and_past_the_tree() -> None:
    a = Chunked(12)
    assert not is_large(a)
    assert a.alloc(5) == 0
    assert a.alloc(4) == 5
    a.free(0)
    a.grow(20)  # large now: 3 chunks under a tree of 4 leaves
    assert is_large(a)
    assert list(a.holes()) == [(0, 5), (9, 11)]
    assert a.top_hole == 11
    assert a.alloc(11) == 9  # [9, 20): up to the capacity, in the partial chunk 2
    a.grow(64)  # 8 chunks: the tree doubles twice
    assert list(a.holes()) == [(0, 5), (20, 44)]
    assert a.alloc(40) == 20
    a.grow(100)
    assert list(a.holes()) == [(0, 5), (60, 40)]
    assert a.top_hole == 40
    assert a.alloc(40) == 60
    assert a.alloc(5) == 0
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    free_everything_then_whole_capacity(a)


def test_large_realloc_reserve_and_compact_across_chunks() -> None:
    a = Chunked(64)
    assert a.alloc(6) == 0
    assert a.alloc(6) == 6
    assert a.realloc(6, 20) == 6  # grown in place: [12, 26) claimed across chunks 1 to 3
    assert a.realloc(0, 3) == 0
    assert a.reserve(30, 20) == 30
    raises_unchanged(a, OutOfSpace, lambda: a.reserve(29, 2))
    assert a.reserve(26, 4) == 26
    assert list(a.holes()) == [(3, 3), (50, 14)]
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(6, 30))  # [3, 26) and [50, 64) are too small
    a.free(26)
    assert [tuple(move) for move in a.compact()] == [(6, 3, 20), (30, 23, 20)]
    assert list(a.holes()) == [(43, 21)]
    b = restore(a.snapshot(), Chunked)
    assert type(b) is Chunked and is_large(b)
    assert list(b.holes()) == [(43, 21)]
    b.check()
    free_everything_then_whole_capacity(a)


def test_large_mode_with_the_default_tunables_places_as_first_fit() -> None:
    # 70,000 slots: 35 chunks of 2048 under a tree of 64 leaves; requests up to 3 chunks long,
    # aligns up to twice a chunk.  Seeded: every offset as the model predicts it.
    rng = random.Random(20261126)
    a = Bitmap(70_000)
    model = Model("bitmap", 70_000)
    assert is_large(a)
    for step in range(400):
        if model.blocks and rng.random() < 0.45:
            offset = rng.choice(sorted(model.blocks))
            model.free(offset)
            a.free(offset)
        else:
            size = rng.choice([rng.randint(1, 64), rng.randint(1, 6000)])
            align = 1 << rng.choice([0, 0, 0, 3, 6, 11, 12])
            assert outcome(partial(a.alloc, size, align)) == outcome(partial(model.alloc, size, align)), step
        if step % 25 == 0:
            assert list(a.holes()) == model.holes()
            a.check()
    assert list(a.holes()) == model.holes()
    free_everything_then_whole_capacity(a)


def test_chunk_bits_must_be_a_power_of_two() -> None:
    class Odd(Bitmap):
        small_limit = 16
        chunk_bits = 12

    with pytest.raises(ValueError, match="power of two"):
        Odd(64)
