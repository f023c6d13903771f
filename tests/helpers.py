"""Helpers shared by the tests: state snapshots, outcome comparison, an int-like type."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from traits import occupied, reservable

from rangealloc import Allocator, AllocError, OutOfSpace

__all__ = [
    "STRESS_SEED",
    "IntLike",
    "Snapshot",
    "apply_moves",
    "apply_ops",
    "assert_names",
    "assert_tiles",
    "outcome",
    "raises_unchanged",
    "snapshot",
]


#: The seed of the random stress runs: ``RANGEALLOC_SEED`` to replay one, else a fresh one per session.
#: Shown in pytest's header and in every stress assertion message.
STRESS_SEED = int(os.environ.get("RANGEALLOC_SEED", "0")) or random.SystemRandom().randrange(1, 2**32)


class IntLike:
    """An int-like value that is not an int (like a numpy integer): only ``__index__``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"IntLike({self.value})"


@dataclass(frozen=True)
class Snapshot:
    """Everything observable about an allocator through its public API."""

    blocks: list[tuple[int, int]]
    holes: list[tuple[int, int]]
    used: int
    available: int
    count: int
    capacity: int
    pointer: int | None  # next fit's roving pointer; None for policies without one
    aligns: list[list[int]]  # the recorded aligns (what compact keeps), as in Allocator.snapshot()


def snapshot(a: Allocator) -> Snapshot:
    """Record the observable state of ``a``."""
    pointer: int | None = getattr(a, "pointer", None)
    return Snapshot(
        blocks=list(a.blocks()),
        holes=list(a.holes()),
        used=a.used,
        available=a.available,
        count=len(a),
        capacity=a.capacity,
        pointer=pointer,
        aligns=a.snapshot()["aligns"],
    )


def raises_unchanged(a: Allocator, expected: type[BaseException], call: Callable[[], object]) -> str:
    """Assert ``call()`` raises ``expected`` and leaves ``a`` exactly as it was; return the message."""
    before = snapshot(a)
    with pytest.raises(expected) as info:
        call()
    after = snapshot(a)
    assert after == before, f"{info.type.__name__} changed the allocator:\n{before}\n->\n{after}"
    return str(info.value)


def assert_names(message: str, *values: object) -> None:
    """Assert the message shows each value's repr as a whole token (``5`` does not match ``15``)."""
    for value in values:
        pattern = rf"(?<![\w.-]){re.escape(repr(value))}(?![\w.])"
        assert re.search(pattern, message), f"{value!r} not named in message {message!r}"


def assert_tiles(a: Allocator) -> None:
    """Check, from the public API only, that blocks and holes tile ``[0, capacity)`` and counters agree."""
    blocks = list(a.blocks())
    holes = list(a.holes())
    assert blocks == sorted(blocks), "blocks() not in address order"
    assert holes == sorted(holes), "holes() not in address order"
    pieces = sorted([(o, s, False) for o, s in blocks] + [(o, s, True) for o, s in holes])
    position = 0
    previous_hole = False
    for offset, size, is_hole in pieces:
        assert size > 0
        assert offset == position, f"gap or overlap at {offset} (expected {position}): {pieces}"
        assert not (is_hole and previous_hole), f"two holes touch at {offset}"
        previous_hole = is_hole
        position = offset + size
    assert position == a.capacity
    used = sum(s for _, s in blocks)
    free = sum(s for _, s in holes)
    assert a.used == used
    assert a.available == free == a.capacity - used
    assert len(a) == len(blocks)
    for offset, size in blocks:
        assert offset in a
        assert a.size_of(offset) == size


def outcome(call: Callable[[], Any]) -> tuple[str, object]:
    """What ``call()`` did: ``("returned", value)`` or ``("raised", exception class)``.

    Only the errors a valid call may raise are caught (the library's own, and
    ``ValueError`` from ``reserve``/``grow`` out of range); anything else propagates.
    """
    try:
        return ("returned", call())
    except (AllocError, ValueError) as error:
        return ("raised", type(error))


def apply_moves(
    blocks: dict[int, int], moves: Sequence[tuple[int, int, int]], capacity: int
) -> dict[int, int]:
    """Apply ``compact``'s moves one by one to a copy of ``blocks``, checking each is safe; return the result.

    Safe: the block exists with that size, moves down, stays in the space, and
    its destination overlaps no other live block at that moment (only, maybe,
    its own source), so moving the data in this order with memmove loses nothing.
    """
    live = dict(blocks)
    for offset, new, size in moves:
        assert live.get(offset) == size, f"move {offset} -> {new}: no block of size {size} at {offset}"
        assert 0 <= new < offset, f"move {offset} -> {new}: not down"
        del live[offset]
        for other, other_size in live.items():
            assert new + size <= other or other + other_size <= new, (
                f"move {offset} -> {new} of {size} slots lands on block [{other}, {other + other_size})"
            )
        live[new] = size
    assert all(o + s <= capacity for o, s in live.items())
    return live


def apply_ops(a: Allocator, ops: list[tuple[str, int, int, int]]) -> None:
    """Run operations from ``strategies.ops`` on ``a``, skipping the ones that cannot succeed.

    ``OutOfSpace`` is expected (and leaves ``a`` unchanged); a reserve outside
    the space or a free with no live block is skipped.  For a policy that
    reserves only buddy blocks (``traits.reservable``), a reserve's offset is
    first rounded down to a multiple of its rounded size, so that it is one.
    """
    policy = a.name
    for kind, x, y, z in ops:
        live = sorted(o for o, _ in a.blocks())
        try:
            if kind == "alloc":
                a.alloc(x, align=y)
            elif kind == "free" and live:
                a.free(live[x % len(live)])
            elif kind == "realloc" and live:
                a.realloc(live[x % len(live)], y, align=z)
            elif kind == "reserve":
                need = occupied(policy, y)
                offset = x if reservable(policy, x, y) else x - x % need
                if offset + need <= a.capacity:
                    a.reserve(offset, y)
        except OutOfSpace:
            pass
