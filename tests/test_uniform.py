"""The uniform-size scenario of issue 3: fill the space with one size until the first ``OutOfSpace``.

Allocating one size over and over, a policy that never refuses a request
that fits ends with ``floor(capacity / size)`` blocks, ``used / capacity ==
floor(capacity / size) * size / capacity``: the best possible, exactly.
Plain TLSF (sebbbi's OffsetAllocator) stops much earlier for sizes between
class bounds (Mooncake measured about 67%): the hole left at the top falls in
a class below the request's rounded-up class.  bench/ measures it at 2**20;
here it runs at 2**16, for speed.

Buddy rounds each request up to 2**k and never refuses a free aligned block of
that size: it fills ``floor(capacity / 2**k)`` blocks of 2**k slots (each root of
at least 2**k slots, filled entirely), whatever the capacity.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest
from traits import ROUNDING, buddy_roots, occupied

import rangealloc
from rangealloc import TLSF, Allocator, OutOfSpace

CAPACITY = 1 << 16
SIZES = [3, 5, 7, 100, 1000, 1025, 4097, 20000]

#: Every exact-size policy must reach the best possible utilisation; TLSF with few classes too.
FILLERS: dict[str, Callable[[int], Allocator]] = {
    "tlsf": rangealloc.TLSF,
    "tlsf-sl0": lambda capacity: TLSF(capacity, sl=0),
    "tlsf-sl2": lambda capacity: TLSF(capacity, sl=2),
    "first-fit": rangealloc.FirstFit,
    "best-fit": rangealloc.BestFit,
    "next-fit": rangealloc.NextFit,
    "bitmap": rangealloc.Bitmap,
}


def fill(a: Allocator, size: int) -> int:
    """Allocate ``size`` until the first ``OutOfSpace``; return how many blocks that made."""
    count = 0
    while True:
        try:
            a.alloc(size)
        except OutOfSpace:
            return count
        count += 1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", list(FILLERS))
def test_uniform_sizes_fill_the_space_to_the_best_possible(name: str, size: int) -> None:
    a = FILLERS[name](CAPACITY)
    count = fill(a, size)
    assert Fraction(a.used, CAPACITY) == Fraction(CAPACITY // size * size, CAPACITY)
    assert count == CAPACITY // size
    assert a.available == CAPACITY % size
    assert a.stats().largest_hole == CAPACITY % size  # what is left cannot hold one more
    a.check()


@pytest.mark.parametrize("capacity", [CAPACITY, 100_000])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("policy", ROUNDING)
def test_buddy_fills_whole_blocks_of_the_rounded_size(policy: str, size: int, capacity: int) -> None:
    a = rangealloc.create(policy, capacity)
    count = fill(a, size)
    block = occupied(policy, size)
    assert count == capacity // block
    assert a.used == capacity // block * block
    assert all(s == block and offset % block == 0 for offset, s in a.blocks())
    # What is left is the roots smaller than a block, untouched.
    small = [(offset, n) for offset, n in buddy_roots(capacity) if n < block]
    assert list(a.holes()) == ([(small[0][0], sum(n for _, n in small))] if small else [])
    a.check()
