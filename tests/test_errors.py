"""Every bad-argument class of every method, on every policy.

Each raising call is checked three ways: the exception class, the message
(it names the culprit value, and the argument for argument errors), and the
allocator's observable state (blocks, holes, counters, next fit's pointer),
which must be exactly what it was before the call.

The shared layout is made of buddy blocks, so that it is the same for every
policy; where a policy may not reserve a range at all (``traits.reservable``),
``ValueError`` naming the offset is expected instead of ``OutOfSpace``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from helpers import assert_names, raises_unchanged
from traits import ANY_RESERVE, reservable

import rangealloc
from rangealloc import Allocator, AllocError, CorruptState, InvalidBlock, OutOfSpace

#: The live 8-slot block ``busy()`` reserves at ``[LIVE, LIVE + 8)`` (a buddy block: 8 is a multiple of 8).
LIVE = 8
CAPACITY = 64

#: Values of the wrong type for an int argument (a bool is not a size either).
BAD_TYPES: list[Any] = [2.0, 2.5, float("nan"), "7", b"7", None, True, False, [3]]

Call = Callable[[Allocator, Any], object]

#: Every int argument of every method, as (method, argument name, call with the value in that place).
ARGUMENTS: list[tuple[str, str, Call]] = [
    ("alloc", "size", lambda a, v: a.alloc(v)),
    ("alloc", "align", lambda a, v: a.alloc(1, align=v)),
    ("free", "offset", lambda a, v: a.free(v)),
    ("realloc", "offset", lambda a, v: a.realloc(v, 4)),
    ("realloc", "size", lambda a, v: a.realloc(LIVE, v)),
    ("realloc", "align", lambda a, v: a.realloc(LIVE, 4, align=v)),
    ("reserve", "offset", lambda a, v: a.reserve(v, 1)),
    ("reserve", "size", lambda a, v: a.reserve(40, v)),
    ("size_of", "offset", lambda a, v: a.size_of(v)),
    ("grow", "capacity", lambda a, v: a.grow(v)),
]


def busy(policy: str) -> Allocator:
    """An allocator with blocks, holes and (for next fit) a pointer away from 0."""
    a = rangealloc.create(policy, CAPACITY)
    assert a.reserve(LIVE, 8) == LIVE
    a.alloc(6)
    a.reserve(48, 4)
    a.alloc(3, align=4)
    a.check()
    return a


# ------------------------------------------------------------- TypeError


@pytest.mark.parametrize("value", BAD_TYPES, ids=repr)
@pytest.mark.parametrize(("method", "argument", "call"), ARGUMENTS, ids=[f"{m}-{n}" for m, n, _ in ARGUMENTS])
def test_wrong_type_is_type_error(policy: str, method: str, argument: str, call: Call, value: Any) -> None:
    a = busy(policy)
    message = raises_unchanged(a, TypeError, lambda: call(a, value))
    assert argument in message
    assert_names(message, value)
    a.check()


@pytest.mark.parametrize("value", BAD_TYPES, ids=repr)
def test_wrong_type_capacity_is_type_error(policy: str, value: Any) -> None:
    with pytest.raises(TypeError) as info:
        rangealloc.create(policy, value)
    assert "capacity" in str(info.value)
    assert_names(str(info.value), value)
    with pytest.raises(TypeError):
        rangealloc.POLICIES[policy](value)


def test_create_wants_a_str_policy() -> None:
    with pytest.raises(TypeError) as info:
        rangealloc.create(17, 64)  # type: ignore[arg-type]
    assert_names(str(info.value), 17)


# ------------------------------------------------------------ ValueError

SIZE_CALLS = [(m, n, c) for m, n, c in ARGUMENTS if n == "size"]
ALIGN_CALLS = [(m, n, c) for m, n, c in ARGUMENTS if n == "align"]


@pytest.mark.parametrize("value", [0, -1, -17, -(1 << 70)])
@pytest.mark.parametrize(("method", "argument", "call"), SIZE_CALLS, ids=[m for m, _, _ in SIZE_CALLS])
def test_size_not_positive_is_value_error(
    policy: str, method: str, argument: str, call: Call, value: int
) -> None:
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: call(a, value))
    assert "size" in message
    assert_names(message, value)


@pytest.mark.parametrize("value", [0, -1, -8, 3, 6, 12, 24, 1025, (1 << 40) + 1])
@pytest.mark.parametrize(("method", "argument", "call"), ALIGN_CALLS, ids=[m for m, _, _ in ALIGN_CALLS])
def test_align_not_power_of_two_is_value_error(
    policy: str, method: str, argument: str, call: Call, value: int
) -> None:
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: call(a, value))
    assert "align" in message
    assert_names(message, value)


@pytest.mark.parametrize("value", [-1, -13, -(1 << 70)])
def test_reserve_negative_offset_is_value_error(policy: str, value: int) -> None:
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: a.reserve(value, 1))
    assert "offset" in message
    assert_names(message, value)


@pytest.mark.parametrize(("offset", "size"), [(64, 1), (63, 2), (60, 5), (0, 65), (37, 1000), (1 << 70, 1)])
def test_reserve_outside_the_space_is_value_error(policy: str, offset: int, size: int) -> None:
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: a.reserve(offset, size))
    assert_names(message, offset)


@pytest.mark.parametrize(("offset", "size"), [(LIVE, 100), (0, 2 * CAPACITY)])
def test_reserve_outside_the_space_and_over_blocks_is_still_value_error(
    policy: str, offset: int, size: int
) -> None:
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: a.reserve(offset, size))
    assert_names(message, offset)


@pytest.mark.parametrize("value", [0, -1, -64])
def test_capacity_not_positive_is_value_error(policy: str, value: int) -> None:
    with pytest.raises(ValueError) as info:
        rangealloc.create(policy, value)
    assert "capacity" in str(info.value)
    assert_names(str(info.value), value)
    with pytest.raises(ValueError):
        rangealloc.POLICIES[policy](value)


def test_capacity_above_the_policy_maximum_is_value_error(policy: str) -> None:
    too_big = rangealloc.POLICIES[policy].max_capacity + 1
    with pytest.raises(ValueError) as info:
        rangealloc.create(policy, too_big)
    assert_names(str(info.value), too_big)
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: a.grow(too_big))
    assert_names(message, too_big)


@pytest.mark.parametrize("value", [CAPACITY - 1, 1, 0, -3])
def test_grow_to_a_smaller_capacity_is_value_error(policy: str, value: int) -> None:
    a = busy(policy)
    message = raises_unchanged(a, ValueError, lambda: a.grow(value))
    assert "capacity" in message
    assert_names(message, value)


# ---------------------------------------------------------- InvalidBlock

OFFSET_CALLS: list[tuple[str, Call]] = [
    ("free", lambda a, v: a.free(v)),
    ("realloc", lambda a, v: a.realloc(v, 4)),
    ("realloc-align", lambda a, v: a.realloc(v, 2, align=2)),
    ("size_of", lambda a, v: a.size_of(v)),
]
OFFSET_IDS = [name for name, _ in OFFSET_CALLS]


@pytest.mark.parametrize(("method", "call"), OFFSET_CALLS, ids=OFFSET_IDS)
def test_double_free_is_invalid_block(policy: str, method: str, call: Call) -> None:
    a = busy(policy)
    offset = a.alloc(5)
    a.free(offset)
    message = raises_unchanged(a, InvalidBlock, lambda: call(a, offset))
    assert_names(message, offset)


@pytest.mark.parametrize("value", [LIVE + 1, LIVE + 4, LIVE + 7])
@pytest.mark.parametrize(("method", "call"), OFFSET_CALLS, ids=OFFSET_IDS)
def test_interior_offset_is_invalid_block(policy: str, method: str, call: Call, value: int) -> None:
    a = busy(policy)
    message = raises_unchanged(a, InvalidBlock, lambda: call(a, value))
    assert_names(message, value)


@pytest.mark.parametrize(("method", "call"), OFFSET_CALLS, ids=OFFSET_IDS)
def test_never_allocated_offset_is_invalid_block(policy: str, method: str, call: Call) -> None:
    a = busy(policy)
    free_slot = next(start for start, _ in a.holes())
    message = raises_unchanged(a, InvalidBlock, lambda: call(a, free_slot))
    assert_names(message, free_slot)
    fresh = rangealloc.create(policy, CAPACITY)
    message = raises_unchanged(fresh, InvalidBlock, lambda: call(fresh, 0))
    assert_names(message, 0)


@pytest.mark.parametrize("value", [CAPACITY, CAPACITY + 1, 1 << 70, -1, -64])
@pytest.mark.parametrize(("method", "call"), OFFSET_CALLS, ids=OFFSET_IDS)
def test_offset_outside_the_space_is_invalid_block(policy: str, method: str, call: Call, value: int) -> None:
    a = busy(policy)
    message = raises_unchanged(a, InvalidBlock, lambda: call(a, value))
    assert_names(message, value)


# ------------------------------------------------------------ OutOfSpace


def test_alloc_larger_than_any_hole_is_out_of_space(policy: str) -> None:
    a = busy(policy)
    largest = max(size for _, size in a.holes())
    message = raises_unchanged(a, OutOfSpace, lambda: a.alloc(largest + 1))
    assert_names(message, largest + 1)
    message = raises_unchanged(a, OutOfSpace, lambda: a.alloc(CAPACITY + 1))
    assert_names(message, CAPACITY + 1)


def test_alloc_in_a_full_space_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 16)
    a.alloc(16)
    raises_unchanged(a, OutOfSpace, lambda: a.alloc(1))


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_alloc_with_no_aligned_range_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 1)
    a.reserve(31, 2)
    a.reserve(63, 1)
    # Free: [1, 31) and [33, 63): 30 slots each, but no 16-aligned range of 16 slots.
    message = raises_unchanged(a, OutOfSpace, lambda: a.alloc(16, align=16))
    assert_names(message, 16)
    offset = a.alloc(16)  # unaligned it fits (no false out-of-space), in one of the two holes
    assert 1 <= offset <= 31 - 16 or 33 <= offset <= 63 - 16


def test_alloc_with_no_aligned_range_of_buddy_blocks_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    for offset in (0, 16, 32, 48):
        a.reserve(offset, 1)
    # Every multiple of 16 is in use: no 16-aligned range at all, though 15 slots are free in a row.
    message = raises_unchanged(a, OutOfSpace, lambda: a.alloc(8, align=16))
    assert_names(message, 8)
    assert_names(message, 16)
    offset = a.alloc(8)  # unaligned it fits (no false out-of-space), after one of the used slots
    assert any(start < offset and offset + 8 <= start + 16 for start in (0, 16, 32, 48))


def test_realloc_that_cannot_fit_is_out_of_space(policy: str) -> None:
    a = busy(policy)
    too_big = a.available + 8 + 1  # more than every free slot plus the block's own
    message = raises_unchanged(a, OutOfSpace, lambda: a.realloc(LIVE, too_big))
    assert_names(message, too_big)
    assert a.size_of(LIVE) == 8


@pytest.mark.parametrize("policy", ANY_RESERVE)
def test_realloc_to_an_align_nothing_satisfies_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 1)
    a.reserve(4, 8)
    # 4 is not a multiple of 2**62, and the only one in the space, 0, is in use: nowhere to go.
    message = raises_unchanged(a, OutOfSpace, lambda: a.realloc(4, 8, align=1 << 62))
    assert_names(message, 8)
    assert list(a.blocks()) == [(0, 1), (4, 8)]


def test_realloc_to_an_align_nothing_satisfies_a_buddy_block_is_out_of_space(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.reserve(0, 1)
    a.reserve(8, 8)
    # 8 is not a multiple of 2**62, and the only one in the space, 0, is in use: nowhere to go.
    message = raises_unchanged(a, OutOfSpace, lambda: a.realloc(8, 8, align=1 << 62))
    assert_names(message, 8)
    assert list(a.blocks()) == [(0, 1), (8, 8)]


def test_reserve_over_a_block_is_out_of_space(policy: str) -> None:
    a = busy(policy)
    for offset, size in [(LIVE, 1), (LIVE + 7, 1), (LIVE - 1, 2), (0, CAPACITY), (0, 2 * LIVE), (LIVE, 2)]:
        # A range the policy may not claim at all (not one buddy block) is a ValueError first.
        expected = OutOfSpace if reservable(policy, offset, size) else ValueError
        message = raises_unchanged(a, expected, partial(a.reserve, offset, size))
        assert_names(message, offset)


# ------------------------------------------------------------ the classes


def test_exception_hierarchy() -> None:
    assert issubclass(AllocError, Exception)
    assert issubclass(OutOfSpace, AllocError)
    assert issubclass(OutOfSpace, MemoryError)
    assert issubclass(InvalidBlock, AllocError)
    assert issubclass(InvalidBlock, ValueError)
    assert issubclass(CorruptState, AllocError)
    assert not issubclass(OutOfSpace, ValueError)
    assert not issubclass(InvalidBlock, MemoryError)
    assert not issubclass(CorruptState, (ValueError, MemoryError))


def test_unknown_policy_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        rangealloc.create("worst-fit", 64)
    message = str(info.value)
    assert_names(message, "worst-fit")
    for name in rangealloc.POLICIES:
        assert name in message
