"""Golden scenarios for TLSF, and its class search against a brute force over small domains.

TLSF files every hole in the bin of its size class (``_bits.size_class``:
with ``sl`` second-level bits each power of two is split into 2**sl classes).
``alloc(size, align)`` rounds ``size + align - 1`` *up* to a class whose every
hole fits (``size_class_up``), takes the newest hole of the first non-empty
class at or above it (find-first-set on the bitmaps), and carves the block at
the first aligned offset; the padding and the tail stay holes.  Only when no
such class has a hole does it search the classes below, from
``size_class(size)`` up, oldest hole first, for one that still holds the
aligned request (the fallback that avoids false out-of-space).

The scenarios use small ``sl`` so that classes are few and wide.  With
``sl = 2`` the class lower bounds are::

    1 2 3 | 4 5 6 7 | 8 10 12 14 | 16 20 24 28 | 32 40 48 56 | 64 80 96 112 | 128 ...

Offsets are derived by hand from the rule above (the comments say which
class each hole is in); each scenario ends by freeing everything and
allocating the whole capacity at offset 0.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from helpers import assert_names, raises_unchanged
from model import align_up

import rangealloc
from rangealloc import TLSF, OutOfSpace
from rangealloc._bits import class_floor, size_class, size_class_up


def free_everything_then_whole_capacity(a: TLSF) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.stats().holes == 1
    assert a.alloc(a.capacity) == 0
    a.check()


def reserve_all(a: TLSF, ranges: list[tuple[int, int]]) -> None:
    for offset, size in ranges:
        assert a.reserve(offset, size) == offset


# ------------------------------------------------------------ constructor


@pytest.mark.parametrize("sl", range(9))
def test_every_sl_from_0_to_8_works(sl: int) -> None:
    a = TLSF(1000, sl=sl)
    assert [a.alloc(n) for n in (1, 8, 1, 9, 100)] == [0, 1, 9, 10, 19]
    a.free(10)  # a 9-slot hole
    # 9 is a class bound only when sl >= 3; below, its hole is in the class of 8, and the
    # first class that surely fits 9 with a hole in it is the top hole's.
    assert a.alloc(9) == (10 if sl >= 3 else 119)
    a.free(1)  # an 8-slot hole: 8, a power of two, is a class bound for every sl
    assert a.alloc(8) == 1
    a.check()
    free_everything_then_whole_capacity(a)


def test_default_sl_is_4() -> None:
    a = TLSF(64)
    assert a._sl == 4
    assert TLSF(64, sl=4)._sl == 4


@pytest.mark.parametrize("sl", [-1, 9, 64, -(1 << 70)])
def test_sl_out_of_range_is_value_error(sl: int) -> None:
    with pytest.raises(ValueError) as info:
        TLSF(64, sl=sl)
    assert "sl" in str(info.value)
    assert_names(str(info.value), sl)


@pytest.mark.parametrize("sl", [2.0, 2.5, "4", b"4", None, True, False, [4]], ids=repr)
def test_sl_of_the_wrong_type_is_type_error(sl: Any) -> None:
    with pytest.raises(TypeError) as info:
        TLSF(64, sl=sl)
    assert "sl" in str(info.value)
    assert_names(str(info.value), sl)


def test_sl_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        TLSF(64, 4)  # type: ignore[call-arg]


def test_a_bad_capacity_is_reported_whatever_sl() -> None:
    with pytest.raises(ValueError, match="capacity"):
        TLSF(0, sl=2)
    with pytest.raises(TypeError, match="capacity"):
        TLSF(2.0, sl=2)  # type: ignore[arg-type]


# ---------------------------------------------------------- golden scenarios


def test_class_search_takes_the_first_non_empty_class_that_surely_fits() -> None:
    a = TLSF(128, sl=2)
    reserve_all(a, [(9, 1), (23, 1), (44, 84)])
    # Holes [0, 9) (9 slots: class of 8), [10, 23) (13: class of 12), [24, 44) (20: class of 20).
    assert list(a.holes()) == [(0, 9), (10, 13), (24, 20)]
    assert [size_class(n, 2) for n in (9, 13, 20)] == [8, 10, 13]
    # 9 rounds up to the class of 10; the first non-empty class from there is 12's:
    # the 13-slot hole, not the 9-slot one that would fit exactly (good fit, not best fit).
    assert size_class_up(9, 2) == 9
    assert a.alloc(9) == 10
    assert list(a.holes()) == [(0, 9), (19, 4), (24, 20)]
    # 8 is a class bound: the 9-slot hole (class of 8) surely fits it.
    assert a.alloc(8) == 0
    # 5: class of 5; row 1 has only the class of 4 ([19, 23)); the next row with a hole
    # is row 3: the 20-slot hole, though [19, 23) is closer.
    assert a.alloc(5) == 24
    assert list(a.holes()) == [(8, 1), (19, 4), (29, 15)]
    # 15 rounds up to the class of 16: empty from there on.  The fallback searches
    # the class of 14 (size_class(15)) and finds the 15-slot hole, which fits exactly.
    assert size_class(15, 2) == 11
    assert size_class_up(15, 2) == 12
    assert a.alloc(15) == 29
    assert list(a.holes()) == [(8, 1), (19, 4)]
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 5))  # nothing holds 5, in any class
    assert a.alloc(4) == 19
    assert a.alloc(1) == 8
    assert list(a.holes()) == []
    a.check()
    free_everything_then_whole_capacity(a)


def test_a_freed_hole_of_a_class_that_surely_fits_is_reused_newest_first() -> None:
    a = TLSF(64, sl=2)
    assert [a.alloc(6) for _ in range(5)] == [0, 6, 12, 18, 24]
    a.free(6)
    a.free(18)  # two 6-slot holes in the class of 6; [18, 24) is the newer
    assert list(a.holes()) == [(6, 6), (18, 6), (30, 34)]
    assert a.alloc(6) == 18  # the class of 6 surely fits 6: its newest hole
    assert a.alloc(5) == 6  # class of 5 is empty; the next non-empty one in row 1 is 6's
    assert list(a.holes()) == [(11, 1), (30, 34)]
    assert a.alloc(6) == 30  # the class of 6 is empty now: row 4, the 34-slot top hole
    a.check()
    free_everything_then_whole_capacity(a)


def test_a_hole_between_class_bounds_serves_a_request_plain_tlsf_refuses() -> None:
    """The issue's example: a hole of 1030 slots and a request of 1025, with sl = 4."""
    a = TLSF(4096, sl=4)
    reserve_all(a, [(0, 1000), (2030, 2066)])
    assert list(a.holes()) == [(1000, 1030)]
    # 1030 is in the class [1024, 1088); 1025 rounds up to the class of 1088, which is empty.
    assert class_floor(size_class(1030, 4), 4) == 1024
    assert class_floor(size_class_up(1025, 4), 4) == 1088
    assert a.alloc(1025) == 1000
    assert list(a.holes()) == [(2025, 5)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_a_hole_that_surely_fits_wins_over_the_fallback() -> None:
    a = TLSF(4096, sl=4)
    reserve_all(a, [(0, 1000), (2030, 70), (3188, 908)])
    # Holes: [1000, 2030) (1030 slots, class of 1024), [2100, 3188) (1088 slots, class of 1088).
    assert list(a.holes()) == [(1000, 1030), (2100, 1088)]
    assert a.alloc(1025) == 2100  # the class of 1088 surely fits: no fallback needed
    assert a.alloc(1025) == 1000  # now only the fallback finds a place
    assert list(a.holes()) == [(2025, 5), (3125, 63)]
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 64))
    a.check()
    free_everything_then_whole_capacity(a)


def test_the_fallback_respects_alignment() -> None:
    a = TLSF(4096, sl=4)
    reserve_all(a, [(0, 1001), (2031, 2065)])
    assert list(a.holes()) == [(1001, 1030)]
    # 8-aligned, the block would start at 1008 and end at 2033, past the hole's end 2031.
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 1025, align=8))
    # 4-aligned it starts at 1004 and ends at 2029: fits; the padding [1001, 1004) stays a hole.
    assert a.alloc(1025, align=4) == 1004
    assert list(a.holes()) == [(1001, 3), (2029, 2)]
    a.check()
    free_everything_then_whole_capacity(a)


def test_alignment_padding_stays_a_hole() -> None:
    a = TLSF(64, sl=2)
    assert a.alloc(3) == 0
    # 4 + 7 rounds up to the class of 12; the top hole [3, 64) is in it, carved at 8.
    assert a.alloc(4, align=8) == 8
    assert list(a.holes()) == [(3, 5), (12, 52)]
    assert a.alloc(5) == 3  # the padding is a real hole: the class of 5 holds it
    assert a.alloc(2, align=16) == 16  # from [12, 64): padding [12, 16) stays free
    assert list(a.holes()) == [(12, 4), (18, 46)]
    # 4 + 3 = 7 rounds up to the class of 7: [12, 16) (class of 4) is not searched though
    # it holds an aligned 4; the 46-slot hole is, and is carved at 20.
    assert a.alloc(4, align=4) == 20
    assert list(a.holes()) == [(12, 4), (18, 2), (24, 40)]
    assert a.alloc(4) == 12  # unaligned, the class of 4 surely fits 4
    # Only 0 is a multiple of 64: the fallback looks at every class below and finds nothing.
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 1, align=64))
    a.check()
    free_everything_then_whole_capacity(a)


def test_realloc_in_place_and_immediate_coalescing() -> None:
    a = TLSF(64, sl=2)
    assert [a.alloc(8) for _ in range(3)] == [0, 8, 16]
    assert a.realloc(8, 4) == 8  # shrinks in place; [12, 16) becomes a hole
    assert list(a.holes()) == [(12, 4), (24, 40)]
    assert a.realloc(8, 8) == 8  # grows back in place into it
    a.free(8)
    assert a.realloc(0, 16) == 0  # grows in place into [8, 16)
    assert list(a.holes()) == [(24, 40)]
    a.free(16)  # merges at once with the hole after it
    assert list(a.holes()) == [(16, 48)]
    assert a.stats().holes == 1
    assert a.stats().largest_hole == 48
    assert a.realloc(0, 20) == 0  # grows in place into the merged hole
    assert list(a.holes()) == [(20, 44)]
    # No room after an aligned grow to 64: it moves, and nothing holds 64 once freed but [0, 64).
    assert a.realloc(0, 64) == 0
    assert list(a.holes()) == []
    assert a.realloc(0, 10) == 0
    assert [a.alloc(10) for _ in range(3)] == [10, 20, 30]
    a.free(10)
    a.free(30)
    assert list(a.holes()) == [(10, 10), (30, 34)]
    a.free(20)  # merges with the hole before and the hole after
    assert list(a.holes()) == [(10, 54)]
    assert a.stats().holes == 1
    a.check()
    free_everything_then_whole_capacity(a)


def test_realloc_that_must_move_takes_its_own_slots_into_account() -> None:
    a = TLSF(64, sl=2)
    reserve_all(a, [(0, 4), (4, 8), (12, 52)])
    a.free(0)
    # [4, 12) cannot grow (a block follows); freed, it joins [0, 4): 12 slots, exactly enough.
    assert a.realloc(4, 12) == 0
    assert list(a.blocks()) == [(0, 12), (12, 52)]
    raises_unchanged(a, OutOfSpace, partial(a.realloc, 0, 13))
    a.check()
    free_everything_then_whole_capacity(a)


def test_largest_hole_is_exact_inside_the_top_class() -> None:
    a = TLSF(128, sl=2)
    reserve_all(a, [(20, 1), (44, 84)])
    # Holes of 20 and 23 slots: both in the class of 20.
    assert size_class(20, 2) == size_class(23, 2)
    assert list(a.holes()) == [(0, 20), (21, 23)]
    assert a.stats().largest_hole == 23
    a.free(20)
    assert a.stats().largest_hole == 44
    a.check()
    free_everything_then_whole_capacity(a)


def test_grow_adds_classes() -> None:
    a = TLSF(16, sl=2)
    assert a.alloc(16) == 0
    raises_unchanged(a, OutOfSpace, partial(a.alloc, 1))
    a.grow(1000)  # classes up to 1000's, which did not exist at 16
    assert a.alloc(900) == 16
    assert list(a.holes()) == [(916, 84)]
    assert a.stats().largest_hole == 84
    a.free(0)
    a.clear()
    assert list(a.holes()) == [(0, 1000)]
    assert a.alloc(999) == 0
    a.check()
    free_everything_then_whole_capacity(a)


def test_a_hole_keeps_its_node_when_carved_or_merged() -> None:
    """One node per hole for its whole life: what keeps the dict operations per pair at about 7."""
    a = TLSF(64, sl=2)
    top = a._starts[0]
    assert a.alloc(8) == 0
    assert a._starts[8] is top  # carved from its front: only its key by start changed
    assert a._ends[64] is top
    assert a.alloc(8) == 8
    assert a.alloc(8) == 16
    a.free(8)  # a new hole [8, 16): a new node
    hole = a._starts[8]
    a.free(0)  # merges with the hole after it: that node grows to the front
    assert a._starts[0] is hole
    assert a._ends[16] is hole
    a.free(16)  # merges with both: the hole before keeps its node, the top hole's is dropped
    assert a._starts[0] is hole
    assert a._ends[64] is hole
    assert list(a._starts) == [0]
    a.check()


# ----------------------------------------------- class search, exhaustively
#
# Every layout of free slots in spaces of 1..10 slots (2**capacity layouts
# each), every size up to one more than the largest hole and aligns 1..8; then
# layouts of two holes of 1..40 slots (where the classes of sl = 3 and 4 are
# wide): the allocation must be what the two-level rule says, computed here by
# brute force over the holes.  After each allocation the block is freed again
# (the layout is compared at the end of each run of requests).

EXHAUSTIVE_CAPACITIES = range(1, 11)
EXHAUSTIVE_ALIGNS = (1, 2, 4, 8)


def expected_class(holes: list[tuple[int, int]], size: int, align: int, sl: int) -> int | None:
    """The class the chosen hole must be in, by brute force; None: nothing fits (``OutOfSpace``)."""
    want = size_class_up(size + align - 1, sl)
    surely = [size_class(n, sl) for _, n in holes if size_class(n, sl) >= want]
    if surely:
        return min(surely)  # find-first-set: the first non-empty class at or above want
    fitting = [size_class(n, sl) for s, n in holes if align_up(s, align) + size <= s + n]
    if fitting:
        # The fallback scans classes upward from size_class(size); every fitting hole is in one of them.
        assert min(fitting) >= size_class(size, sl)
        return min(fitting)
    return None


def layout(capacity: int, free: int, sl: int) -> TLSF:
    """A TLSF whose free slots are the set bits of ``free`` (each run of used slots reserved as one block)."""
    a = TLSF(capacity, sl=sl)
    start = -1
    for slot in range(capacity + 1):
        used = slot < capacity and not free >> slot & 1
        if used and start < 0:
            start = slot
        elif not used and start >= 0:
            a.reserve(start, slot - start)
            start = -1
    return a


def check_every_request(a: TLSF, sl: int, aligns: tuple[int, ...]) -> tuple[int, int]:
    """Every size up to one past the largest hole, with every align: (allocations, fallbacks among them)."""
    holes = list(a.holes())
    largest = max((n for _, n in holes), default=0)
    cases = fallbacks = 0
    for size in range(1, largest + 2):
        for align in aligns:
            cls = expected_class(holes, size, align, sl)
            where = f"sl={sl} capacity={a.capacity} holes={holes} alloc({size}, align={align})"
            if cls is None:
                with pytest.raises(OutOfSpace):
                    a.alloc(size, align=align)
                continue
            try:
                offset = a.alloc(size, align=align)
            except OutOfSpace as error:
                raise AssertionError(f"{where}: false out-of-space") from error
            ((start, length),) = [(s, n) for s, n in holes if s <= offset < s + n]
            assert size_class(length, sl) == cls, f"{where}: took the hole at {start} ({length} slots)"
            assert offset == align_up(start, align), f"{where}: {offset} is not the first aligned slot"
            assert offset + size <= start + length, where
            cases += 1
            fallbacks += cls < size_class_up(size + align - 1, sl)
            a.free(offset)
    assert list(a.holes()) == holes
    return cases, fallbacks


@pytest.mark.parametrize("sl", [0, 1, 2, 3])
def test_class_search_against_brute_force(sl: int) -> None:
    cases = fallbacks = 0
    for capacity in EXHAUSTIVE_CAPACITIES:
        for free in range(1 << capacity):
            a = layout(capacity, free, sl)
            done, fell = check_every_request(a, sl, EXHAUSTIVE_ALIGNS)
            cases += done
            fallbacks += fell
        a.check()
    assert cases == 16365  # every request that fits, in every layout
    assert fallbacks > 6000  # the fallback path ran many times


def test_class_search_with_two_wide_holes_against_brute_force() -> None:
    sl = 3  # classes 2 wide from 16, 4 wide from 32
    cases = fallbacks = 0
    for first in range(1, 41):
        for second in range(1, 41):
            # [0, 1) used, [1, 1 + first) free, one slot used, then `second` free slots: the first
            # hole starts unaligned, the second at either parity.
            a = TLSF(1 + first + 1 + second, sl=sl)
            a.reserve(0, 1)
            a.reserve(1 + first, 1)
            assert list(a.holes()) == [(1, first), (2 + first, second)]
            done, fell = check_every_request(a, sl, (1, 4))
            cases += done
            fallbacks += fell
    assert cases > 50_000
    assert fallbacks > 2000


# ----------------------------------------------- holes found without a scan
#
# TLSF keeps no address order, so the hole around an offset that is not a
# hole's start may take a scan of every hole (``_scan``).  The library's own
# callers must not need it: ``restore`` (blocks claimed in address order),
# ``realloc`` (growing into the next slots; putting back a block it could
# not move) and ``compact`` (sliding blocks down past their padding) would
# cost O(n) per block, O(n**2) for a whole snapshot or compaction.


class NoScan(TLSF):
    """A TLSF that fails the test if it ever scans the holes."""

    __slots__ = ()

    def _scan(self, offset: int) -> Any:
        raise AssertionError(f"scanned the holes for offset {offset}")


def pairs_and_holes(a: TLSF) -> None:
    """Blocks of 3 slots in pairs, a hole of 3 below each pair: holes at 0, 9, ..., 54, top [60, 64)."""
    offsets = [a.alloc(3) for _ in range(20)]
    for offset in offsets[::3]:
        a.free(offset)


def test_the_scan_is_still_there_for_reserve_inside_a_lower_hole() -> None:
    a = NoScan(64)
    pairs_and_holes(a)  # the last free made the hole [54, 57); the top hole is [60, 64)
    with pytest.raises(AssertionError, match="scanned the holes for offset 10"):
        a.reserve(10, 1)  # inside [9, 12): the one case left to the scan


def test_reserve_at_a_block_start_is_refused_without_a_scan() -> None:
    a = NoScan(64)
    pairs_and_holes(a)
    assert "in use" in raises_unchanged(a, OutOfSpace, lambda: a.reserve(12, 1))


def test_restore_claims_every_block_without_a_scan() -> None:
    a = TLSF(64)
    pairs_and_holes(a)
    b = rangealloc.restore(a.snapshot(), NoScan)
    assert type(b) is NoScan
    assert list(b.blocks()) == list(a.blocks())
    assert list(b.holes()) == list(a.holes())
    b.check()


def test_realloc_finds_its_holes_without_a_scan() -> None:
    a = NoScan(64)
    pairs_and_holes(a)
    # Grow where a block follows (6): no room in place; the move counts the
    # block's own slots, so [0, 3) + [3, 6) holds 5 slots at 0.
    assert a.realloc(3, 5) == 0
    a.check()
    # Grow into the hole right after: in place ([15, 18) freed joins [18, 21)).
    a.free(15)
    assert a.realloc(12, 6) == 12
    # Nothing holds 20 slots: the block goes back where it was, inside the
    # hole its free merged with ([18, 21) + [21, 24)).
    blocks, holes = list(a.blocks()), list(a.holes())
    with pytest.raises(OutOfSpace):
        a.realloc(21, 20)
    assert (list(a.blocks()), list(a.holes())) == (blocks, holes)
    a.check()


def test_compact_slides_aligned_blocks_without_a_scan() -> None:
    a = NoScan(256)
    offsets = []
    for size in (3, 5, 7, 2, 9, 4):
        offsets += [a.alloc(size, align=8), a.alloc(size)]
    for offset in offsets[::3]:
        a.free(offset)
    assert a.compact()
    a.check()
    assert a._aligns  # some aligned blocks are left, and each still sits on its align
    assert all(offset % align == 0 for offset, align in a._aligns.items())
