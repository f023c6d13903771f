"""Golden scenarios for next fit: first fit that starts at a roving pointer.

The pointer starts at 0 and moves to the end of every successful alloc and of
every realloc that moves; free, reserve, in-place realloc and grow leave it;
clear resets it.  A search tries the hole that contains the pointer (from the
pointer, aligned up), then the holes after it, then wraps around to first fit
from 0.  Offsets below are derived by hand from those rules; each scenario
ends by freeing everything and allocating the whole capacity at offset 0.
"""

from __future__ import annotations

from helpers import raises_unchanged

from rangealloc import NextFit, OutOfSpace


def free_everything_then_whole_capacity(a: NextFit) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.alloc(a.capacity) == 0
    a.check()


def test_roves_past_freed_space_then_wraps_around() -> None:
    a = NextFit(32)
    assert a.pointer == 0
    assert [a.alloc(8), a.alloc(8), a.alloc(8)] == [0, 8, 16]
    assert a.pointer == 24
    a.free(0)
    assert a.pointer == 24  # a free leaves the pointer
    assert a.alloc(4) == 24  # first fit would take 0; next fit goes on from the pointer
    assert a.pointer == 28
    assert a.alloc(8) == 0  # [28, 32) is too small and nothing lies after it: wrap to 0
    assert a.pointer == 8
    assert a.alloc(4) == 28  # no hole contains 8; the next hole after it is [28, 32)
    assert a.pointer == 32
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))  # full; the pointer stays at 32
    a.free(8)
    a.free(16)
    assert list(a.holes()) == [(8, 16)]
    assert a.alloc(2) == 8  # nothing at or after the end of the space: wrap
    assert a.pointer == 10
    free_everything_then_whole_capacity(a)


def test_a_later_hole_beats_a_lower_one() -> None:
    a = NextFit(64)
    a.reserve(40, 8)
    assert [a.alloc(8) for _ in range(5)] == [0, 8, 16, 24, 32]
    assert a.pointer == 40  # the start of the reserved block
    a.free(0)
    a.free(16)
    assert list(a.holes()) == [(0, 8), (16, 8), (48, 16)]
    # The pointer is in a block: the first hole after it, though [0, 8) and [16, 24) fit.
    assert a.alloc(4) == 48
    assert a.pointer == 52
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(16))  # not after the pointer, nor from 0
    assert a.pointer == 52
    assert a.alloc(8) == 52  # from the pointer, inside its hole
    assert a.alloc(8) == 0  # [60, 64) is too small, nothing after it: wrap
    assert a.alloc(8) == 16  # the pointer 8 is in a block; the next hole after it is [16, 24)
    assert a.pointer == 24
    free_everything_then_whole_capacity(a)


def test_search_starts_at_the_pointer_inside_a_hole() -> None:
    a = NextFit(32)
    assert [a.alloc(4), a.alloc(4)] == [0, 4]
    a.free(0)
    a.free(4)
    assert list(a.holes()) == [(0, 32)]
    assert a.pointer == 8  # still valid after the merges
    assert a.alloc(4) == 8  # from the pointer, not from the start of its hole
    assert a.alloc(4, align=8) == 16  # pointer 12 aligned up; [12, 16) stays a hole
    assert a.alloc(4, align=8) == 24  # pointer 20 aligned up
    assert list(a.holes()) == [(0, 8), (12, 4), (20, 4), (28, 4)]
    assert a.pointer == 28
    assert a.alloc(4, align=8) == 0  # 32 is past the end; nothing after 28; wrap: 0
    assert a.pointer == 4
    assert a.alloc(4) == 4  # the pointer is at the start of the hole [4, 8)
    assert a.alloc(4) == 12  # the pointer 8 is in a block; the next hole is [12, 16)
    assert a.pointer == 16
    assert list(a.holes()) == [(20, 4), (28, 4)]
    free_everything_then_whole_capacity(a)


def test_only_allocations_and_moves_change_the_pointer() -> None:
    a = NextFit(64)
    assert a.alloc(10) == 0
    assert a.pointer == 10
    assert a.reserve(40, 8) == 40
    assert a.pointer == 10  # reserve leaves it
    assert a.realloc(0, 5) == 0
    assert a.pointer == 10  # shrink in place leaves it
    assert a.realloc(0, 12) == 0
    assert a.pointer == 10  # grow in place (into [5, 40)) leaves it
    assert a.alloc(4, align=4) == 12  # the pointer 10 is in a block; next hole [12, 40)
    assert a.pointer == 16
    # [12, 16) blocks an in-place grow: the block moves, and the search starts at 16.
    assert a.realloc(0, 13) == 16
    assert a.pointer == 29
    assert list(a.blocks()) == [(12, 4), (16, 13), (40, 8)]
    # 40 slots fit nowhere, even counting the block's own; the pointer stays.
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(16, 40))
    assert a.pointer == 29
    a.free(12)
    assert a.pointer == 29
    a.grow(80)
    assert a.pointer == 29  # grow leaves it
    a.clear()
    assert a.pointer == 0  # clear resets it
    assert a.alloc(8) == 0
    assert a.pointer == 8
    free_everything_then_whole_capacity(a)


def test_grown_slots_are_searched_from_the_pointer() -> None:
    a = NextFit(16)
    assert a.alloc(16) == 0
    assert a.pointer == 16
    a.grow(32)
    assert a.alloc(4) == 16  # the pointer, at the old end, is now inside the new hole
    a.free(0)
    assert a.alloc(8) == 20
    assert a.alloc(8) == 0  # [28, 32) holds 4: wrap
    assert a.alloc(8) == 8
    assert a.pointer == 16
    free_everything_then_whole_capacity(a)
