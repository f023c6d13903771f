"""Compaction and the alignment memory it relies on, over every registered policy.

``compact(max_moves=None)`` slides the live blocks toward offset 0 and returns
the moves, ``Move(offset, new_offset, size)``, in an order that is safe to
apply to the data one by one with memmove semantics.  What is proved here:

* the moves are exactly the predicted ones (``model.compact_moves``: slid down
  in address order, each to the lowest multiple of its recorded align at or
  above the end of the previous block; buddy: each to the lowest free
  multiple of its size and align);
* applied in order to a shadow bytearray (each block filled with its own
  pattern first, ``buf[new:new + size] = buf[old:old + size]``), every block's
  pattern ends up at its new offset; and no destination ever lands on another
  live block (``helpers.apply_moves``);
* with align 1 everywhere, a full compaction leaves one hole, at the top
  (buddy: whenever the sizes do not grow with the address); with aligns, the
  holes left below the top are padding, each smaller than the align of the
  block right after it, and every block stays aligned;
* ``max_moves=N`` makes the first N of those moves (a valid state, ``check()``
  passes) and a second ``compact()`` makes the rest; a compaction right after
  a full one moves nothing;
* next fit's pointer goes to the end of the highest block after a compaction
  that moved anything;
* the alignment memory (``_aligns``, shown as ``snapshot()["aligns"]``) follows
  alloc, realloc, free, clear and restore, and ``check()`` catches it broken.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import IntLike, apply_moves, apply_ops, assert_names, raises_unchanged
from hypothesis import given
from hypothesis import strategies as st
from model import align_up, compact_moves, gaps
from strategies import Op, ops, small_capacities
from traits import EXACT_SIZE, traits_of

import rangealloc
from rangealloc import Allocator, Bitmap, Buddy, CorruptState, FirstFit, Move, NextFit, restore

# ------------------------------------------------------------------ helpers


def unaligned(operations: list[Op]) -> list[Op]:
    """The same operations with every align set to 1."""
    return [
        (kind, x, 1 if kind == "alloc" else y, 1 if kind == "realloc" else z) for kind, x, y, z in operations
    ]


def layout(policy: str, capacity: int, operations: list[Op]) -> Allocator:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, operations)
    return a


def recorded_aligns(a: Allocator) -> dict[int, int]:
    return dict(a.snapshot()["aligns"])


def pattern(index: int, size: int) -> bytes:
    """Block ``index``'s bytes: never 0 (free space), different from its neighbours' at every shift."""
    return bytes((index * 37 + i * 11) % 255 + 1 for i in range(size))


def compact_with_data(a: Allocator, max_moves: int | None = None) -> list[Move]:
    """Compact ``a`` and move a shadow buffer's bytes as the moves say; assert every block's data survived."""
    before = sorted(a.blocks())
    aligns = recorded_aligns(a)
    buf = bytearray(a.capacity)
    for index, (offset, size) in enumerate(before):
        buf[offset : offset + size] = pattern(index, size)
    moves = a.compact(max_moves)
    assert all(type(move) is Move for move in moves)
    for old, new, size in moves:
        buf[new : new + size] = buf[old : old + size]  # memmove semantics: the source is read first
    assert apply_moves(dict(before), moves, a.capacity) == dict(a.blocks())
    where = {move.offset: move.new_offset for move in moves}
    for index, (offset, size) in enumerate(before):
        new = where.get(offset, offset)
        assert bytes(buf[new : new + size]) == pattern(index, size), f"block {offset} -> {new} lost its data"
    # Aligns travel with their blocks; every block stays aligned.
    assert recorded_aligns(a) == {where.get(offset, offset): align for offset, align in aligns.items()}
    for offset, align in recorded_aligns(a).items():
        assert offset % align == 0
    a.check()
    return moves


# ---------------------------------------------------------- the moves made


def test_move_is_a_named_triple() -> None:
    move = Move(10, 0, 5)
    assert (move.offset, move.new_offset, move.size) == (10, 0, 5)
    assert move == (10, 0, 5)
    old, new, size = move
    assert (old, new, size) == (10, 0, 5)
    assert rangealloc.Move is Move


@given(capacity=small_capacities, operations=ops().map(unaligned))
def test_full_compaction_with_align_1_leaves_one_hole_at_the_top(
    policy: str, capacity: int, operations: list[Op]
) -> None:
    a = layout(policy, capacity, operations)
    blocks = dict(a.blocks())
    expected = compact_moves(policy, blocks, {}, capacity)
    assert compact_with_data(a) == expected
    if policy in EXACT_SIZE:
        used = a.used
        assert list(a.holes()) == ([(used, capacity - used)] if used < capacity else [])
        ends = [0] + [offset + size for offset, size in a.blocks()]
        assert [offset for offset, _ in a.blocks()] == ends[:-1]  # packed, in their old order
        assert [size for _, size in a.blocks()] == [blocks[offset] for offset in sorted(blocks)]
        stats = a.stats()
        assert stats.fragmentation == 0.0
        assert stats.largest_hole == stats.available
    assert a.compact() == []


@given(capacity=small_capacities, operations=ops())
def test_compaction_keeps_aligned_blocks_aligned(policy: str, capacity: int, operations: list[Op]) -> None:
    a = layout(policy, capacity, operations)
    expected = compact_moves(policy, dict(a.blocks()), recorded_aligns(a), capacity)
    assert compact_with_data(a) == expected
    if policy in EXACT_SIZE:
        # Below the top, a hole is alignment padding: smaller than the align of the block after it,
        # which starts at the first multiple of that align after the hole's start.
        aligns = recorded_aligns(a)
        sizes = dict(a.blocks())
        for start, size in a.holes():
            after = start + size
            if after == capacity:
                continue
            align = aligns.get(after, 1)
            assert after in sizes
            assert size < align
            assert after == align_up(start, align)
    assert a.compact() == []


@given(capacity=small_capacities, operations=ops(), data=st.data())
def test_max_moves_is_a_valid_partial_compaction(
    policy: str, capacity: int, operations: list[Op], data: st.DataObject
) -> None:
    a = layout(policy, capacity, operations)
    full = restore(a.snapshot()).compact()
    n = data.draw(st.integers(min_value=0, max_value=len(full) + 1), label="max_moves")
    first = compact_with_data(a, n)
    assert first == full[:n]
    rest = compact_with_data(a)
    assert first + rest == full
    assert a.compact() == []


def test_moves_slide_blocks_in_address_order() -> None:
    a = FirstFit(64)
    x, y, z, w = a.alloc(5), a.alloc(4, align=16), a.alloc(3), a.alloc(6)
    assert (x, y, z, w) == (0, 16, 5, 8)
    a.free(x)
    a.free(z)
    # w (at 8) comes first in address order: to 0.  y keeps its align 16: the
    # lowest multiple of 16 at or above 6 is 16, where it is.
    assert a.compact() == [Move(8, 0, 6)]
    assert list(a.blocks()) == [(0, 6), (16, 4)]
    assert list(a.holes()) == [(6, 10), (20, 44)]  # [6, 16): padding, smaller than 16
    a.free(0)
    assert a.compact() == [Move(16, 0, 4)]
    assert list(a.holes()) == [(4, 60)]
    a.check()


def test_alignment_padding_stays() -> None:
    a = FirstFit(64)
    assert [a.alloc(3), a.alloc(2), a.alloc(8, align=8), a.alloc(4)] == [0, 3, 8, 16]
    a.free(3)
    # [0, 3) stays; the aligned block cannot go below 8; the last one follows it already.
    assert a.compact() == []
    assert list(a.holes()) == [(3, 5), (20, 44)]
    a.free(0)
    assert a.compact() == [Move(8, 0, 8), Move(16, 8, 4)]
    assert list(a.holes()) == [(12, 52)]


def test_compact_applies_the_moves_to_the_allocator(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    offsets = [a.alloc(4) for _ in range(4)]
    a.free(offsets[0])
    a.free(offsets[2])
    before = dict(a.blocks())
    expected = compact_moves(policy, before, {}, 64)
    assert expected
    assert a.compact() == expected
    after = apply_moves(before, expected, 64)
    assert dict(a.blocks()) == after
    for offset in set(before) - set(after):
        assert offset not in a
    a.check()
    # What compaction gathered is usable: the rest of the space in one request.
    if policy in EXACT_SIZE:
        used = a.used
        assert a.alloc(64 - used) == used
    a.check()


def test_nothing_to_compact(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    assert a.compact() == []
    a.alloc(4)
    a.alloc(4)
    assert a.compact() == []
    assert a.compact(max_moves=0) == []
    a.check()


def test_compact_max_moves_zero_moves_nothing(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    x = a.alloc(4)
    a.alloc(4)
    a.free(x)
    before = a.snapshot()
    assert a.compact(max_moves=0) == []
    assert a.snapshot() == before
    assert len(a.compact(max_moves=IntLike(5))) == 1


@pytest.mark.parametrize("value", [True, 1.0, "2", [1]])
def test_max_moves_of_the_wrong_type_is_type_error(policy: str, value: Any) -> None:
    a = rangealloc.create(policy, 32)
    x = a.alloc(4)
    a.alloc(4)
    a.free(x)
    message = raises_unchanged(a, TypeError, lambda: a.compact(value))
    assert "max_moves" in message


def test_negative_max_moves_is_value_error(policy: str) -> None:
    a = rangealloc.create(policy, 32)
    x = a.alloc(4)
    a.alloc(4)
    a.free(x)
    message = raises_unchanged(a, ValueError, lambda: a.compact(-1))
    assert_names(message, -1)


# ------------------------------------------------------------------ next fit


def test_next_fit_pointer_goes_to_the_end_of_the_highest_block() -> None:
    a = NextFit(64)
    x, _, z = a.alloc(10), a.alloc(10), a.alloc(10)
    a.free(x)
    a.free(z)
    assert a.pointer == 30
    assert a.compact() == [Move(10, 0, 10)]
    assert a.pointer == 10
    assert a.alloc(5) == 10  # next fit carries on where the gathered space begins
    a.check()


def test_next_fit_pointer_stays_when_nothing_moves() -> None:
    a = NextFit(64)
    a.alloc(10)
    a.free(a.alloc(10))
    assert a.pointer == 20
    assert a.compact() == []
    assert a.pointer == 20  # not the end of the highest block (10): nothing moved


def test_next_fit_pointer_after_a_partial_compaction() -> None:
    a = NextFit(64)
    blocks = [a.alloc(4) for _ in range(5)]
    a.free(blocks[0])
    a.free(blocks[2])
    assert a.compact(max_moves=1) == [Move(4, 0, 4)]
    assert a.pointer == 20  # the highest block did not move: its end
    assert a.compact() == [Move(12, 4, 4), Move(16, 8, 4)]
    assert a.pointer == 12


# --------------------------------------------------------------------- buddy


def test_buddy_blocks_move_to_the_lowest_free_multiple_of_their_size() -> None:
    a = Buddy(64)
    for offset, size in [(0, 1), (4, 4), (8, 1), (16, 16), (32, 2)]:
        a.reserve(offset, size)
    # [0, 1) stays; [4, 8) has no lower multiple of 4 free; [8, 9) -> 1 (the lowest free slot);
    # [16, 32) stays; [32, 34) -> 2.
    assert compact_with_data(a) == [Move(8, 1, 1), Move(32, 2, 2)]
    assert list(a.blocks()) == [(0, 1), (1, 1), (2, 2), (4, 4), (16, 16)]
    assert list(a.holes()) == [(8, 8), (32, 32)]
    assert a.compact() == []


def test_buddy_keeps_a_small_block_below_a_large_one() -> None:
    a = Buddy(16)
    a.reserve(0, 1)
    a.reserve(4, 4)
    assert a.compact() == []  # the hole [1, 4) cannot hold the 4-slot block
    assert list(a.holes()) == [(1, 3), (8, 8)]


def test_buddy_blocks_may_change_order() -> None:
    a = Buddy(32)
    a.reserve(0, 2)
    a.reserve(4, 4)
    a.reserve(8, 1)
    assert a.compact() == [Move(8, 2, 1)]
    assert list(a.blocks()) == [(0, 2), (2, 1), (4, 4)]


@st.composite
def decreasing_buddy_layouts(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A capacity and buddy blocks whose sizes do not grow with the address, with free gaps between them."""
    orders = sorted(draw(st.lists(st.integers(min_value=0, max_value=4), max_size=12)), reverse=True)
    blocks: list[tuple[int, int]] = []
    position = 0
    for order in orders:
        size = 1 << order
        position = align_up(position + draw(st.integers(min_value=0, max_value=20)), size)
        blocks.append((position, size))
        position += size
    return position + draw(st.integers(min_value=0, max_value=20)) or 1, blocks


@given(decreasing_buddy_layouts())
def test_buddy_with_sizes_decreasing_leaves_one_hole_at_the_top(
    layout_: tuple[int, list[tuple[int, int]]],
) -> None:
    capacity, blocks = layout_
    a = Buddy(capacity)
    for offset, size in blocks:
        a.reserve(offset, size)
    compact_with_data(a)
    used = a.used
    assert list(a.holes()) == ([(used, capacity - used)] if used < capacity else [])
    assert a.compact() == []


@given(capacity=small_capacities, operations=ops())
def test_buddy_compaction_leaves_no_block_a_lower_place(capacity: int, operations: list[Op]) -> None:
    a = layout("buddy", capacity, operations)
    compact_with_data(a)
    aligns = recorded_aligns(a)
    blocks = dict(a.blocks())
    for offset, size in blocks.items():
        others = {o: s for o, s in blocks.items() if o != offset}
        step = max(size, aligns.get(offset, 1))
        lower = [
            align_up(start, step)
            for start, length in gaps(others, capacity)
            if align_up(start, step) + size <= start + length and align_up(start, step) < offset
        ]
        assert not lower, f"block {offset} of {size} could go to {lower[0]}"


# -------------------------------------------------------- alignment memory


def test_alloc_records_only_aligns_above_1(policy: str) -> None:
    a = rangealloc.create(policy, 256)
    x = a.alloc(4)
    y = a.alloc(4, align=1)
    z = a.alloc(4, align=32)
    assert recorded_aligns(a) == {z: 32}
    a.free(z)
    a.free(x)
    a.free(y)
    assert recorded_aligns(a) == {}
    a.check()


def test_realloc_records_its_own_align(policy: str) -> None:
    a = rangealloc.create(policy, 256)
    x = a.alloc(4, align=16)
    y = a.realloc(x, 2)  # in place (shrink), align 1: the block no longer asks for one
    assert y == x
    assert recorded_aligns(a) == {}
    y = a.realloc(x, 2, align=8)  # in place, align 8
    assert recorded_aligns(a) == {y: 8}
    a.alloc(4)
    z = a.realloc(y, 20, align=64)  # moves: the align follows the block
    assert z != y
    assert recorded_aligns(a) == {z: 64}
    a.check()


def test_buddy_records_the_align_asked_not_its_rounding() -> None:
    a = Buddy(256)
    x = a.alloc(3)  # 4 slots at a multiple of 4: nothing asked
    y = a.alloc(3, align=16)
    assert recorded_aligns(a) == {y: 16}
    x = a.realloc(x, 5)  # rounded to 8 (buddy asks the base for align 8): still nothing asked
    assert recorded_aligns(a) == {y: 16}
    x = a.realloc(x, 5, align=4)  # asked: 4, below the rounding, recorded as asked
    assert recorded_aligns(a) == {x: 4, y: 16}
    x = a.realloc(x, 5, align=64)
    assert recorded_aligns(a) == {x: 64, y: 16}
    a.check()


def test_a_failed_realloc_keeps_the_align(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    x = a.alloc(4, align=16)
    raises_unchanged(a, rangealloc.OutOfSpace, lambda: a.realloc(x, 100, align=2))
    assert recorded_aligns(a) == {x: 16}


def test_clear_and_reserve_record_no_align(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.alloc(4, align=16)
    a.clear()
    assert recorded_aligns(a) == {}
    a.reserve(32, 4)
    assert recorded_aligns(a) == {}


def test_bitmap_fast_free_drops_the_align() -> None:
    a = Bitmap(64)
    x = a.alloc(4, align=16)
    a.free(x)  # the inlined path
    assert recorded_aligns(a) == {}
    assert a.alloc(4) == 0
    a.check()


def test_restore_keeps_aligns_for_compaction(policy: str) -> None:
    source = FirstFit(128)
    for offset, size in [(8, 4), (32, 8), (64, 16)]:
        source.reserve(offset, size)
    s = source.snapshot()
    s["aligns"] = [[32, 32], [64, 16]]
    a = restore(s, policy)
    compact_with_data(a)
    if traits_of(policy).exact_size:
        # [8, 12) -> 0; [32, 40) stays (align 32); [64, 80) -> 48 (align 16, after 40).
        assert list(a.blocks()) == [(0, 4), (32, 8), (48, 16)]
    else:
        # [8, 12) -> 0; [32, 40) stays (align 32); [64, 80) -> 16, the lowest free multiple of 16.
        assert list(a.blocks()) == [(0, 4), (16, 16), (32, 8)]


@pytest.mark.parametrize(
    ("corrupt", "named"),
    [
        (lambda a: a._aligns.__setitem__(99, 4), (99,)),
        (lambda a: a._aligns.__setitem__(16, 3), (16, 3)),
        (lambda a: a._aligns.__setitem__(16, 1), (16, 1)),
        (lambda a: a._aligns.__setitem__(16, 32), (16, 32)),
    ],
    ids=["no-block", "not-power-of-two", "align-1", "unmet"],
)
def test_check_catches_a_broken_alignment_memory(policy: str, corrupt: Any, named: tuple[int, ...]) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 8)
    a.reserve(16, 4)
    a.check()
    corrupt(a)
    with pytest.raises(CorruptState) as info:
        a.check()
    assert_names(str(info.value), *named)
