"""Pure helpers for the bit maths of the bitmap policy.

Each is a small function over Python ints, tested exhaustively over small
domains in ``tests/test_bits.py``.  A Python int is an arbitrary-length bit
string whose operations run in C, one machine word (30 bits) at a time: a
shift, ``&`` or ``bit_length`` over a 256-slot space costs about as much as
one over a single slot.
"""

from __future__ import annotations

__all__ = ["aligned_mask", "fit_starts", "lowest_set", "runs", "trailing_ones"]


def lowest_set(x: int) -> int:
    """Index of the lowest set bit of ``x > 0`` (``x & -x`` isolates it).

    >>> lowest_set(0b101000)
    3
    """
    return (x & -x).bit_length() - 1


def trailing_ones(x: int) -> int:
    """Number of consecutive set bits at the bottom of ``x >= 0``.

    ``x + 1`` turns the trailing ones into zeros and the next zero into a one.

    >>> trailing_ones(0b10111)
    3
    """
    return (~x & (x + 1)).bit_length() - 1


def fit_starts(free: int, size: int) -> int:
    """Bits ``i`` such that bits ``i .. i + size - 1`` of ``free`` are all set.

    Doubling: after ``r &= r >> k`` with ``k = 1, 2, 4, ...`` bit ``i`` means
    "``2k`` ones from ``i``"; a last shift by ``size - k`` covers the rest.
    Time: O(log size) big-int operations.

    >>> bin(fit_starts(0b0111_0110, 2))
    '0b110010'
    """
    run = free
    k = 1
    while k << 1 <= size:
        run &= run >> k
        k <<= 1
    if k < size:
        run &= run >> (size - k)
    return run


def aligned_mask(capacity: int, align: int) -> int:
    """A mask with one bit set at each multiple of ``align`` below ``capacity``.

    ``(2**(align*n) - 1) // (2**align - 1)`` is ``n`` ones spaced ``align`` apart.

    >>> bin(aligned_mask(10, 4))
    '0b100010001'
    """
    count = (capacity + align - 1) // align
    return ((1 << (align * count)) - 1) // ((1 << align) - 1)


def runs(x: int) -> list[tuple[int, int]]:
    """The maximal runs of set bits of ``x >= 0`` as ``(start, length)``, low to high.

    Time: O(runs) big-int operations.

    >>> runs(0b1110_0110)
    [(1, 2), (5, 3)]
    """
    result: list[tuple[int, int]] = []
    base = 0
    while x:
        skip = lowest_set(x)
        x >>= skip
        base += skip
        length = trailing_ones(x)
        result.append((base, length))
        x >>= length
        base += length
    return result
