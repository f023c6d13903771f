"""The two-level size classes of ``rangealloc._bits``, exhaustively over small domains.

The naive version lists every class's lower bound straight from the
definition in ``_bits``: sizes below ``M = 2**sl`` each have their own class,
and each power of two ``[2**f, 2**(f+1))`` with ``f >= sl`` is split into
``M`` equal classes.  Class numbers are positions in that sorted list.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import pytest

from rangealloc._bits import class_floor, size_class, size_class_up

LIMIT = 1 << 12  # every size below this is checked


def naive_floors(sl: int) -> list[int]:
    """Lower bounds of classes 0, 1, 2, ... covering sizes below ``LIMIT`` (and one more row)."""
    m = 1 << sl
    floors = list(range(m))  # classes below M: one per size
    f = sl
    while 1 << f <= 2 * LIMIT:
        step = (1 << f) // m
        floors += [(1 << f) + j * step for j in range(m)]
        f += 1
    return floors


@pytest.mark.parametrize("sl", range(6))
def test_class_floor_matches_the_definition(sl: int) -> None:
    floors = naive_floors(sl)
    for cls in range(1, len(floors)):
        assert class_floor(cls, sl) == floors[cls], (cls, sl)


@pytest.mark.parametrize("sl", range(6))
def test_size_class_rounds_down(sl: int) -> None:
    floors = naive_floors(sl)
    for size in range(1, LIMIT):
        # The last class whose lower bound is <= size.
        assert size_class(size, sl) == bisect_right(floors, size) - 1, (size, sl)


@pytest.mark.parametrize("sl", range(6))
def test_size_class_up_rounds_up(sl: int) -> None:
    floors = naive_floors(sl)
    for size in range(1, LIMIT):
        # The first class whose lower bound is >= size: every size in it can hold the request.
        assert size_class_up(size, sl) == bisect_left(floors, size), (size, sl)


@pytest.mark.parametrize("sl", range(6))
def test_classes_waste_at_most_one_part_in_m(sl: int) -> None:
    m = 1 << sl
    for size in range(1, LIMIT):
        floor = class_floor(size_class(size, sl), sl)
        assert floor <= size
        assert (size - floor) * m < floor, (size, sl)  # less than 1/M above its class's lower bound
