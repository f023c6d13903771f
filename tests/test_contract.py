"""The contract every policy keeps, run over every registered policy.

Nothing here depends on where a policy places a block: layouts are built with
``reserve`` (which claims an exact range) or checked only against the
contract (tiling, sizes, alignment, no false out-of-space).  Exact placement
is pinned by the model (``test_stateful.py``) and the golden scenarios.

Where policies differ, expectations come from ``tests/traits.py``: a buddy
block occupies its size rounded up to a power of two (``occupied``), starts
at a multiple of it (``block_align``), and ``reserve`` claims only such a
block (``reservable``).  A test written for arbitrary ranges runs on the
policies that accept them (``ANY_RESERVE``, ``EXACT_SIZE``) and has a sibling
that asserts the same rule with buddy blocks, on every policy (or on the
rounding ones, where the rule itself is buddy's).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from helpers import IntLike, apply_ops, assert_names, assert_tiles, raises_unchanged, snapshot
from hypothesis import given
from hypothesis import strategies as st
from model import Model, aligned_fit, gaps
from strategies import Op, aligns, ops, sizes, small_capacities
from traits import (
    ANY_RESERVE,
    BUDDY_RESERVE,
    EXACT_SIZE,
    LARGE_SPACE,
    MODELLED,
    ROUNDING,
    TRAITS,
    UNMODELLED,
    block_align,
    buddy_roots,
    occupied,
    reservable,
    whole_space,
)

import rangealloc
from rangealloc import Allocator, InvalidBlock, OutOfSpace, Stats

#: Policies that must handle capacities of 2**48 (the spec exempts only bitmap), by how they reserve.
LARGE_SPACE_ANY_RESERVE = [name for name in LARGE_SPACE if name in ANY_RESERVE]
LARGE_SPACE_BUDDY_RESERVE = [name for name in LARGE_SPACE if name in BUDDY_RESERVE]


def int_like(value: int) -> Any:
    """An ``IntLike``, typed as ``Any`` so it can stand where the API says ``int``."""
    return IntLike(value)


def free_all(a: Allocator) -> None:
    for offset, _ in list(a.blocks()):
        a.free(offset)


def fill_whole_space(a: Allocator) -> None:
    """In an empty space: allocate it all (one block, or buddy's roots largest first) where expected."""
    pieces = whole_space(a.name, a.capacity)
    assert [a.alloc(size) for _, size in pieces] == [offset for offset, _ in pieces]
    assert list(a.holes()) == []


# ----------------------------------------------------------------- registry


def test_registry_names_the_four_policies_of_0_1() -> None:
    assert {"first-fit", "next-fit", "best-fit", "bitmap"} <= set(rangealloc.POLICIES)


def test_registry_maps_each_name_to_its_class(policy: str) -> None:
    cls = rangealloc.POLICIES[policy]
    assert issubclass(cls, Allocator)
    assert cls.name == policy
    a = rangealloc.create(policy, 32)
    assert type(a) is cls
    assert type(cls(32)) is cls


def test_public_classes_are_registered() -> None:
    assert rangealloc.POLICIES["first-fit"] is rangealloc.FirstFit
    assert rangealloc.POLICIES["next-fit"] is rangealloc.NextFit
    assert rangealloc.POLICIES["best-fit"] is rangealloc.BestFit
    assert rangealloc.POLICIES["bitmap"] is rangealloc.Bitmap
    assert rangealloc.POLICIES["tlsf"] is rangealloc.TLSF
    assert rangealloc.POLICIES["buddy"] is rangealloc.Buddy


# -------------------------------------------------------------------- traits


def test_every_policy_declares_its_traits() -> None:
    assert list(TRAITS) == list(rangealloc.POLICIES), "tests/traits.py must have one row per policy"


def test_the_model_knows_exactly_the_modelled_policies() -> None:
    assert set(MODELLED) | set(UNMODELLED) == set(rangealloc.POLICIES)
    assert not set(MODELLED) & set(UNMODELLED)
    for name in MODELLED:
        assert Model(name, 8).place(8, 1) == 0
    for name in UNMODELLED:
        with pytest.raises(ValueError, match="does not know"):
            Model(name, 8)


def test_traits_helpers() -> None:
    sizes = (1, 2, 3, 4, 5, 8, 9, 1000, 1025)
    assert [occupied("buddy", n) for n in sizes] == [1, 2, 4, 4, 8, 8, 16, 1024, 2048]
    assert [occupied("tlsf", n) for n in (1, 3, 1025)] == [1, 3, 1025]
    assert block_align("buddy", 5, 2) == 8
    assert block_align("buddy", 5, 32) == 32
    assert block_align("first-fit", 5, 2) == 2
    assert reservable("buddy", 16, 9)
    assert not reservable("buddy", 8, 9)
    assert reservable("best-fit", 8, 9)
    assert buddy_roots(1) == [(0, 1)]
    assert buddy_roots(12) == [(0, 8), (8, 4)]
    assert buddy_roots(100) == [(0, 64), (64, 32), (96, 4)]
    assert whole_space("buddy", 64) == [(0, 64)]
    assert whole_space("buddy", 12) == [(0, 8), (8, 4)]
    assert whole_space("tlsf", 12) == [(0, 12)]
    assert set(EXACT_SIZE) | set(ROUNDING) == set(rangealloc.POLICIES)
    assert set(ANY_RESERVE) | set(BUDDY_RESERVE) == set(rangealloc.POLICIES)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 9, 17, 31, 33])
def test_a_block_occupies_what_the_traits_say(policy: str, size: int) -> None:
    a = rangealloc.create(policy, 64)
    offset = a.alloc(size)
    assert a.size_of(offset) == occupied(policy, size)
    assert list(a.blocks()) == [(offset, occupied(policy, size))]
    assert a.used == occupied(policy, size)
    assert offset % block_align(policy, size, 1) == 0
    a.check()


# -------------------------------------------------------------------- basics


def test_fresh_allocator_is_one_hole(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    assert a.capacity == 64
    assert a.used == 0
    assert a.available == 64
    assert len(a) == 0
    assert list(a.blocks()) == []
    assert list(a.holes()) == [(0, 64)]
    assert 0 not in a
    assert a.stats() == Stats(
        capacity=64, used=0, available=64, blocks=0, holes=1, largest_hole=64, fragmentation=0.0
    )
    a.check()


def test_alloc_claims_exactly_size_slots(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    offset = a.alloc(10)
    n = occupied(policy, 10)  # 10, or 16 for buddy
    assert 0 <= offset <= 64 - n
    assert offset % block_align(policy, 10, 1) == 0
    assert a.size_of(offset) == n
    assert offset in a
    assert len(a) == 1
    assert a.used == n
    assert a.available == 64 - n
    assert list(a.blocks()) == [(offset, n)]
    assert_tiles(a)
    a.check()


@pytest.mark.parametrize("policy", EXACT_SIZE)
def test_alloc_whole_capacity_then_nothing_fits(policy: str) -> None:
    a = rangealloc.create(policy, 48)
    assert a.alloc(48) == 0  # the only place a 48-slot block fits
    assert list(a.holes()) == []
    assert a.available == 0
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    a.check()


@pytest.mark.parametrize("capacity", [1, 48, 64, 100])
def test_alloc_the_whole_space_then_nothing_fits(policy: str, capacity: int) -> None:
    """One block of the whole capacity, or (buddy, capacity not a power of two) one block per root."""
    a = rangealloc.create(policy, capacity)
    fill_whole_space(a)
    assert a.available == 0
    assert a.used == capacity
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    a.check()


@pytest.mark.parametrize("policy", ROUNDING)
@pytest.mark.parametrize("capacity", [3, 12, 48, 100])
def test_rounded_whole_capacity_does_not_fit_when_not_a_power_of_two(policy: str, capacity: int) -> None:
    a = rangealloc.create(policy, capacity)
    # capacity rounds up to the next power of two, more than the space.
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(capacity))
    largest = buddy_roots(capacity)[0][1]
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(largest + 1))
    assert a.alloc(largest) == 0
    a.check()


def test_free_coalesces_with_both_neighbours(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    for offset in (0, 16, 32, 48):
        assert a.reserve(offset, 16) == offset
    assert list(a.holes()) == []
    a.free(16)
    assert list(a.holes()) == [(16, 16)]
    a.free(48)
    assert list(a.holes()) == [(16, 16), (48, 16)]
    a.free(32)  # merges with the hole before and the hole after
    assert list(a.holes()) == [(16, 48)]
    assert list(a.blocks()) == [(0, 16)]
    a.free(0)
    assert list(a.holes()) == [(0, 64)]
    assert len(a) == 0
    assert a.used == 0
    a.check()


def test_interior_and_free_offsets_are_not_blocks(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    a.reserve(8, 8)
    assert 8 in a
    assert 9 not in a
    assert 15 not in a
    assert 16 not in a
    assert 0 not in a
    assert -8 not in a
    assert 32 not in a
    assert 1000 not in a


@pytest.mark.parametrize("kind", ["allocator", "heap"])
def test_membership_takes_int_likes_and_answers_no_for_anything_else(policy: str, kind: str) -> None:
    """``in`` asks, it does not check arguments: a non-int is no block start, never an error."""
    space: Allocator | rangealloc.Heap
    if kind == "allocator":
        space = rangealloc.create(policy, 32)
        start = space.reserve(8, 8)
    else:
        space = rangealloc.Heap(32, policy=policy)
        start = space.alloc(8)
    assert start in space
    assert IntLike(start) in space
    assert IntLike(start + 1) not in space
    assert IntLike(-1) not in space
    for value in (float(start), str(start), None, True, [start], object()):
        assert value not in space, value
    assert len(space) == 1


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_blocks_and_holes_are_in_address_order(policy: str) -> None:
    a = rangealloc.create(policy, 100)
    for offset, size in [(70, 5), (10, 3), (40, 20), (0, 2), (95, 5)]:
        a.reserve(offset, size)
    assert list(a.blocks()) == [(0, 2), (10, 3), (40, 20), (70, 5), (95, 5)]
    assert list(a.holes()) == [(2, 8), (13, 27), (60, 10), (75, 20)]
    assert_tiles(a)


def test_blocks_and_holes_of_buddy_blocks_are_in_address_order(policy: str) -> None:
    a = rangealloc.create(policy, 100)  # buddy roots [0, 64), [64, 96), [96, 100)
    for offset, size in [(72, 8), (8, 2), (32, 16), (0, 1), (96, 4)]:
        assert a.reserve(offset, size) == offset
    assert list(a.blocks()) == [(0, 1), (8, 2), (32, 16), (72, 8), (96, 4)]
    # Maximal free ranges, even where buddy keeps them as several blocks ([48, 64) + [64, 72)).
    assert list(a.holes()) == [(1, 7), (10, 22), (48, 24), (80, 16)]
    assert a.stats().holes == 4
    assert a.stats().largest_hole == 24
    assert_tiles(a)
    a.check()


# ------------------------------------------------------------------- realloc


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_realloc_shrinks_in_place(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(8, 16)
    assert a.realloc(8, 10) == 8
    assert a.size_of(8) == 10
    assert a.used == 10
    assert list(a.holes()) == [(0, 8), (18, 46)]  # the tail became free and merged
    a.check()


@pytest.mark.parametrize("size", [6, 1, 3])
def test_realloc_shrinks_in_place_inside_a_buddy_block(policy: str, size: int) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(16, 16)
    n = occupied(policy, size)
    assert a.realloc(16, size) == 16
    assert a.size_of(16) == n
    assert a.used == n
    assert list(a.holes()) == [(0, 16), (16 + n, 48 - n)]  # the tail became free and merged
    a.check()


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_realloc_same_size_changes_nothing(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(8, 16)
    before = snapshot(a)
    assert a.realloc(8, 16) == 8
    assert snapshot(a) == before


def test_realloc_to_the_same_occupied_size_changes_nothing(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(16, 16)
    before = snapshot(a)
    same = [n for n in range(1, 17) if occupied(policy, n) == 16]  # [16], or 9..16 for buddy
    assert 16 in same
    for size in same:
        assert a.realloc(16, size) == 16
        assert snapshot(a) == before


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_realloc_grows_in_place_into_the_hole_after(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(8, 16)
    a.reserve(40, 8)
    assert a.realloc(8, 32) == 8  # [24, 40) is free: exactly the 16 more slots needed
    assert a.size_of(8) == 32
    assert list(a.holes()) == [(0, 8), (48, 16)]
    a.check()


def test_realloc_grows_in_place_into_buddy_blocks_after(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 8)
    a.reserve(32, 8)
    assert a.realloc(0, 16) == 0  # [8, 16) is free
    assert a.size_of(0) == 16
    assert a.realloc(0, 32) == 0  # and [16, 32)
    assert a.size_of(0) == 32
    assert list(a.holes()) == [(40, 24)]
    # [32, 40) is in use: no room to grow, and once freed no hole holds 33 (or 64) slots.
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(0, 33))
    a.check()


def test_realloc_moves_when_the_hole_after_is_too_small(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 8)
    a.reserve(8, 8)
    new = a.realloc(0, 16)
    # [0, 8) + nothing after: the only 16-slot ranges free once the block is freed lie in [16, 64).
    assert 16 <= new <= 48
    assert 0 not in a
    assert list(a.blocks()) == sorted([(8, 8), (new, 16)])
    assert_tiles(a)
    a.check()


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_realloc_slides_into_an_overlapping_place(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    a.reserve(4, 8)
    a.reserve(12, 20)
    # No room after; once the block's own slots count as free, [0, 12) is the only 12-slot range.
    assert a.realloc(4, 12) == 0
    assert list(a.blocks()) == [(0, 12), (12, 20)]
    assert list(a.holes()) == []
    a.check()


def test_realloc_slides_into_an_overlapping_buddy_block(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    a.reserve(4, 4)
    a.reserve(8, 8)
    a.reserve(16, 16)
    # No room after [4, 8) (and 4 is no multiple of 8); freed, it joins [0, 4): 8 slots from 0.
    assert a.realloc(4, 8) == 0
    assert list(a.blocks()) == [(0, 8), (8, 8), (16, 16)]
    assert list(a.holes()) == []
    a.check()


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_realloc_out_of_space_leaves_the_block(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    a.reserve(0, 8)
    a.reserve(8, 20)
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(0, 9))  # only 4 + 8 slots, not contiguous
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(0, 33))
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(8, 25))
    assert a.size_of(0) == 8
    a.check()


def test_realloc_out_of_space_leaves_the_buddy_block(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    a.reserve(0, 8)
    a.reserve(16, 8)
    # Free: [8, 16) and [24, 32).  With the block's own slots, 24 free, but never 17 in a row.
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(0, 17))
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(0, 33))
    raises_unchanged(a, OutOfSpace, lambda: a.realloc(16, 32))  # [8, 32) once freed: 24 slots
    assert a.size_of(0) == 8
    assert a.size_of(16) == 8
    a.check()


def test_realloc_to_an_align_the_offset_misses_moves(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(4, 4)
    new = a.realloc(4, 4, align=8)
    assert new % 8 == 0
    assert new != 4
    assert list(a.blocks()) == [(new, 4)]
    assert_tiles(a)


def test_realloc_to_an_align_the_offset_meets_stays(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(16, 4)
    assert a.realloc(16, 8, align=16) == 16
    assert a.realloc(16, 2, align=8) == 16
    assert list(a.blocks()) == [(16, 2)]


# ------------------------------------------------------------------- reserve


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_reserve_claims_exactly_the_range(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    assert a.reserve(10, 5) == 10
    assert list(a.blocks()) == [(10, 5)]
    assert list(a.holes()) == [(0, 10), (15, 49)]
    assert a.reserve(15, 49) == 15  # right after a block, up to the end
    assert a.reserve(0, 10) == 0
    assert list(a.holes()) == []
    a.check()


@pytest.mark.parametrize("policy", BUDDY_RESERVE)
def test_reserve_claims_one_buddy_block(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    assert a.reserve(8, 5) == 8  # 5 rounds up to 8: the block [8, 16)
    assert list(a.blocks()) == [(8, 8)]
    assert list(a.holes()) == [(0, 8), (16, 48)]
    assert a.reserve(16, 9) == 16  # [16, 32)
    assert a.reserve(32, 32) == 32  # up to the end
    assert a.reserve(0, 8) == 0
    assert list(a.holes()) == []
    assert a.used == 64
    a.check()


@pytest.mark.parametrize("policy", BUDDY_RESERVE)
@pytest.mark.parametrize(("offset", "size"), [(10, 5), (8, 9), (4, 8), (1, 2), (48, 32), (33, 1 << 40)])
def test_reserve_of_a_range_that_is_not_one_buddy_block_is_value_error(
    policy: str, offset: int, size: int
) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 1)
    assert not reservable(policy, offset, size)
    message = raises_unchanged(a, ValueError, lambda: a.reserve(offset, size))
    assert_names(message, offset)
    assert "buddy block" in message
    a.check()


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_reserve_over_used_slots_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(20, 10)
    for offset, size in [(20, 10), (25, 1), (15, 6), (29, 5), (0, 64), (10, 30)]:
        raises_unchanged(a, OutOfSpace, partial(a.reserve, offset, size))
    assert a.reserve(30, 1) == 30
    assert a.reserve(19, 1) == 19


def test_reserve_of_buddy_blocks_over_used_slots_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(16, 16)
    for offset, size in [(16, 16), (24, 4), (16, 1), (31, 1), (0, 32), (0, 64), (16, 9)]:
        assert reservable(policy, offset, size)
        raises_unchanged(a, OutOfSpace, partial(a.reserve, offset, size))
    assert a.reserve(32, 1) == 32
    assert a.reserve(15, 1) == 15
    a.check()


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_reserve_across_two_holes_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(32, 1)
    a.free(32)  # the hole is whole again
    assert list(a.holes()) == [(0, 64)]
    a.reserve(32, 1)
    raises_unchanged(a, OutOfSpace, lambda: a.reserve(31, 2))
    raises_unchanged(a, OutOfSpace, lambda: a.reserve(0, 40))


def test_reserve_of_a_buddy_block_across_two_holes_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(32, 1)
    a.free(32)  # the hole is whole again
    assert list(a.holes()) == [(0, 64)]
    a.reserve(32, 1)
    # Holes [0, 32) and [33, 64): a buddy block over both holds the used slot 32.
    raises_unchanged(a, OutOfSpace, lambda: a.reserve(32, 2))
    raises_unchanged(a, OutOfSpace, lambda: a.reserve(0, 64))
    assert a.reserve(0, 32) == 0  # right up to the block
    assert a.reserve(34, 2) == 34
    assert list(a.holes()) == [(33, 1), (36, 28)]
    a.check()


# ---------------------------------------------------------- grow and clear


@pytest.mark.parametrize("policy", EXACT_SIZE)
def test_grow_adds_slots_to_the_top_hole(policy: str) -> None:
    a = rangealloc.create(policy, 16)
    a.reserve(0, 8)
    a.grow(40)
    assert a.capacity == 40
    assert a.available == 32
    assert list(a.holes()) == [(8, 32)]  # merged with the hole that ended at the old capacity
    assert a.alloc(32) == 8
    a.check()


@pytest.mark.parametrize("policy", ROUNDING)
def test_grow_adds_buddy_blocks_to_the_top_hole(policy: str) -> None:
    a = rangealloc.create(policy, 16)
    a.reserve(0, 8)
    a.grow(40)  # new blocks [16, 32) and [32, 40): not buddies of anything free
    assert a.capacity == 40
    assert a.available == 32
    assert list(a.holes()) == [(8, 32)]  # reported as one hole all the same
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(32))  # 32 free in a row, but no 32-slot buddy block
    a.grow(64)  # [40, 64) merges up to [32, 64)
    assert list(a.holes()) == [(8, 56)]
    assert a.alloc(32) == 32
    assert a.alloc(16) == 16
    assert a.alloc(8) == 8
    assert list(a.holes()) == []
    a.check()


def test_grow_a_full_space_makes_a_new_hole(policy: str) -> None:
    a = rangealloc.create(policy, 16)
    a.reserve(0, 16)
    a.grow(32)
    assert list(a.holes()) == [(16, 16)]
    assert a.alloc(16) == 16
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    a.check()


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_grow_to_the_same_capacity_changes_nothing(policy: str) -> None:
    a = rangealloc.create(policy, 16)
    a.reserve(3, 4)
    before = snapshot(a)
    a.grow(16)
    assert snapshot(a) == before


@pytest.mark.parametrize("capacity", [16, 12])
def test_grow_to_the_same_capacity_changes_nothing_with_buddy_blocks(policy: str, capacity: int) -> None:
    a = rangealloc.create(policy, capacity)
    a.reserve(4, 4)
    a.alloc(3)
    before = snapshot(a)
    a.grow(capacity)
    assert snapshot(a) == before


def test_clear_frees_everything(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.alloc(10)
    a.alloc(5, align=8)
    a.reserve(60, 4)
    a.clear()
    assert list(a.blocks()) == []
    assert list(a.holes()) == [(0, 64)]
    assert a.used == 0
    assert len(a) == 0
    assert a.capacity == 64
    assert a.alloc(64) == 0
    a.check()


def test_clear_keeps_a_grown_capacity(policy: str) -> None:
    a = rangealloc.create(policy, 8)
    a.alloc(8)
    a.grow(24)
    a.clear()
    assert a.capacity == 24
    assert list(a.holes()) == [(0, 24)]


# --------------------------------------------------------------------- stats


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_stats_of_a_known_layout(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    for offset, size in [(8, 8), (24, 4), (40, 24)]:
        a.reserve(offset, size)
    # holes: [0, 8), [16, 24), [28, 40)  -> 8 + 8 + 12 = 28 free, largest 12
    assert a.stats() == Stats(
        capacity=64,
        used=36,
        available=28,
        blocks=3,
        holes=3,
        largest_hole=12,
        fragmentation=1 - 12 / 28,
    )


def test_stats_of_a_known_layout_of_buddy_blocks(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    for offset, size in [(8, 8), (24, 4), (32, 8)]:
        a.reserve(offset, size)
    # holes: [0, 8), [16, 24), [28, 32), [40, 64)  -> 8 + 8 + 4 + 24 = 44 free, largest 24
    assert a.stats() == Stats(
        capacity=64,
        used=20,
        available=44,
        blocks=3,
        holes=4,
        largest_hole=24,
        fragmentation=1 - 24 / 44,
    )


def test_stats_of_a_full_space_has_no_fragmentation(policy: str) -> None:
    a = rangealloc.create(policy, 16)
    a.alloc(16)
    stats = a.stats()
    assert stats.available == 0
    assert stats.largest_hole == 0
    assert stats.holes == 0
    assert stats.fragmentation == 0.0


@given(capacity=small_capacities, script=ops())
def test_stats_agree_with_blocks_and_holes(policy: str, capacity: int, script: list[Op]) -> None:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, script)
    holes = list(a.holes())
    blocks = list(a.blocks())
    available = sum(s for _, s in holes)
    largest = max((s for _, s in holes), default=0)
    assert a.stats() == Stats(
        capacity=capacity,
        used=sum(s for _, s in blocks),
        available=available,
        blocks=len(blocks),
        holes=len(holes),
        largest_hole=largest,
        fragmentation=1 - largest / available if available else 0.0,
    )


# ---------------------------------------------------------------- properties


@given(capacity=small_capacities, script=ops())
def test_blocks_and_holes_always_tile_the_space(policy: str, capacity: int, script: list[Op]) -> None:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, script)
    assert_tiles(a)
    a.check()


@given(capacity=small_capacities, script=ops())
def test_free_everything_leaves_one_hole(policy: str, capacity: int, script: list[Op]) -> None:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, script)
    free_all(a)
    assert list(a.holes()) == [(0, capacity)]
    fill_whole_space(a)  # alloc(capacity) == 0 (for buddy: when capacity is a power of two)
    a.check()


@given(capacity=small_capacities, script=ops(), size=sizes, align=aligns)
def test_alignment_padding_stays_a_hole(
    policy: str, capacity: int, script: list[Op], size: int, align: int
) -> None:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, script)
    holes_before = list(a.holes())
    used_before = a.used
    try:
        offset = a.alloc(size, align=align)
    except OutOfSpace:
        return  # whether that was right is test_no_false_out_of_space's business
    assert offset % block_align(policy, size, align) == 0
    size = occupied(policy, size)
    assert a.size_of(offset) == size
    assert a.used == used_before + size
    # The block lies in one former hole; whatever of that hole is not the block is still free.
    ((start, length),) = [(s, n) for s, n in holes_before if s <= offset and offset + size <= s + n]
    free_now = list(a.holes())
    if offset > start:
        assert any(s <= start and offset <= s + n for s, n in free_now), "padding was swallowed"
    if offset + size < start + length:
        assert any(s <= offset + size and start + length <= s + n for s, n in free_now)


@given(capacity=small_capacities, script=ops(), size=sizes, align=aligns)
def test_no_false_out_of_space(policy: str, capacity: int, script: list[Op], size: int, align: int) -> None:
    """For buddy, in buddy terms: a free range of the rounded size at a multiple of it (and of align)."""
    a = rangealloc.create(policy, capacity)
    apply_ops(a, script)
    need, step = occupied(policy, size), block_align(policy, size, align)
    fits = any(aligned_fit(s, s + n, need, step) is not None for s, n in a.holes())
    if fits:
        offset = a.alloc(size, align=align)
        assert offset % step == 0
    else:
        raises_unchanged(a, OutOfSpace, lambda: a.alloc(size, align=align))


@given(capacity=small_capacities, script=ops(), size=sizes, align=aligns, pick=st.integers(0, 1000))
def test_realloc_never_fails_when_free_then_alloc_would_fit(
    policy: str, *, capacity: int, script: list[Op], size: int, align: int, pick: int
) -> None:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, script)
    live = list(a.blocks())
    if not live:
        live = [(a.alloc(1), 1)] if a.available else []
    if not live:
        return
    offset, old = live[pick % len(live)]
    others = {o: s for o, s in a.blocks() if o != offset}
    room_after = dict(a.holes()).get(offset + old, 0)
    need, step = occupied(policy, size), block_align(policy, size, align)
    in_place = offset % step == 0 and need - old <= room_after
    # The holes once the block's own slots count as free.
    fits = any(aligned_fit(s, s + n, need, step) is not None for s, n in gaps(others, capacity))
    if fits:
        new = a.realloc(offset, size, align=align)
        assert new % step == 0
        assert a.size_of(new) == need
        if in_place:
            assert new == offset, "shrink, or grow into the hole after, must stay in place"
        else:
            assert new != offset
            assert offset not in a
    else:
        raises_unchanged(a, OutOfSpace, lambda: a.realloc(offset, size, align=align))
    assert_tiles(a)


# ------------------------------------------------------------------ int-like


def test_int_like_arguments_are_accepted(policy: str) -> None:
    cls = rangealloc.POLICIES[policy]
    a = rangealloc.create(policy, int_like(64))
    assert a.capacity == 64
    assert type(a.capacity) is int
    assert cls(int_like(8)).capacity == 8
    offset = a.alloc(int_like(8), align=int_like(8))
    assert type(offset) is int
    assert offset % 8 == 0
    assert int_like(offset) in a
    assert a.size_of(int_like(offset)) == 8
    assert a.realloc(int_like(offset), int_like(4), align=int_like(4)) == offset
    assert a.reserve(int_like(60), int_like(4)) == 60
    a.free(int_like(offset))
    a.free(int_like(60))
    a.grow(int_like(72))
    assert a.capacity == 72
    assert type(a.capacity) is int
    assert list(a.holes()) == [(0, 72)]
    assert all(type(x) is int for piece in [*a.blocks(), *a.holes()] for x in piece)
    a.check()


def test_int_like_arguments_act_as_the_equal_ints(policy: str) -> None:
    """Every int-like argument gives what the equal int gives (sizes that are not powers of two included)."""

    def run(wrap: Any) -> tuple[list[object], Allocator]:
        a = rangealloc.create(policy, 64)
        seen: list[object] = []
        calls: list[Callable[[], object]] = [
            lambda: a.alloc(wrap(5)),
            lambda: a.alloc(wrap(3), align=wrap(4)),
            lambda: a.reserve(wrap(32), wrap(6)),
            lambda: a.reserve(wrap(44), wrap(4)),
            lambda: a.reserve(wrap(52), wrap(8)),
            lambda: a.realloc(wrap(32), wrap(3)),
            lambda: a.realloc(wrap(32), wrap(9), align=wrap(1)),
            lambda: a.realloc(wrap(32), wrap(5), align=wrap(2)),
        ]
        for call in calls:
            try:
                seen.append(call())
            except (OutOfSpace, ValueError) as error:
                seen.append(type(error))
            seen.append(snapshot(a))
        return seen, a

    expected, plain = run(int)
    got, wrapped = run(int_like)
    assert got == expected
    plain.check()
    wrapped.check()


# ------------------------------------------------------------ extreme values


def test_align_larger_than_the_space_can_only_mean_offset_0(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    for align in (128, 1 << 20, 1 << 62):
        offset = a.alloc(4, align=align)  # 0 is a multiple of every align, and free
        assert offset == 0
        a.free(offset)
    a.reserve(0, 1)
    for align in (128, 1 << 20, 1 << 62):
        raises_unchanged(a, OutOfSpace, partial(a.alloc, 1, align=align))
    a.check()


def test_huge_requests_are_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    offset = a.alloc(4)
    for size in (65, 1 << 40, 1 << 62):
        raises_unchanged(a, OutOfSpace, partial(a.alloc, size))
    # Not 1 << 40 here: a policy that builds a (size)-bit mask would try to fill 128 GiB.
    for size in (65, 1 << 62):
        raises_unchanged(a, OutOfSpace, partial(a.realloc, offset, size))
    a.check()


@pytest.mark.parametrize("policy", LARGE_SPACE_ANY_RESERVE)
def test_capacity_2_to_the_48(policy: str) -> None:
    capacity = 1 << 48
    a = rangealloc.create(policy, capacity)
    assert list(a.holes()) == [(0, capacity)]
    big = a.alloc(1 << 47)
    assert a.size_of(big) == 1 << 47
    top = a.reserve(capacity - 10, 10)
    aligned = a.alloc(1 << 40, align=1 << 40)
    assert aligned % (1 << 40) == 0
    assert a.realloc(top, 5) == top
    assert a.used == (1 << 47) + (1 << 40) + 5
    assert_tiles(a)
    a.check()
    a.grow(capacity + (1 << 47))
    assert a.capacity == capacity + (1 << 47)
    assert a.alloc(1 << 47) >= capacity - 5
    a.check()
    free_all(a)
    assert a.alloc(a.capacity) == 0


def test_bitmap_capacity_limit() -> None:
    assert rangealloc.Bitmap.max_capacity == 1 << 24
    a = rangealloc.create("bitmap", 1 << 24)
    assert a.alloc(1 << 23) == 0
    assert a.alloc(1 << 23) == 1 << 23
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))
    a.check()
    with pytest.raises(ValueError, match="16777217"):
        rangealloc.create("bitmap", (1 << 24) + 1)
    b = rangealloc.create("bitmap", 1024)
    raises_unchanged(b, ValueError, lambda: b.grow((1 << 24) + 1))
    b.grow(1 << 24)
    assert b.capacity == 1 << 24


@pytest.mark.parametrize("policy", LARGE_SPACE_BUDDY_RESERVE)
def test_capacity_2_to_the_48_with_buddy_blocks(policy: str) -> None:
    capacity = 1 << 48
    a = rangealloc.create(policy, capacity)
    assert list(a.holes()) == [(0, capacity)]
    big = a.alloc(1 << 47)
    assert a.size_of(big) == 1 << 47
    top = a.reserve(capacity - 16, 10)
    assert a.size_of(top) == 16
    aligned = a.alloc(1 << 40, align=1 << 40)
    assert aligned % (1 << 40) == 0
    assert a.realloc(top, 5) == top
    assert a.size_of(top) == 8
    assert a.used == (1 << 47) + (1 << 40) + 8
    assert_tiles(a)
    a.check()
    a.grow(capacity + (1 << 47))  # a second root [2**48, 2**48 + 2**47)
    assert a.capacity == capacity + (1 << 47)
    assert a.alloc(1 << 47) == capacity
    a.check()
    free_all(a)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.alloc(1 << 48) == 0
    assert a.alloc(1 << 47) == 1 << 48
    raises_unchanged(a, InvalidBlock, lambda: a.free(1 << 47))
    a.check()
