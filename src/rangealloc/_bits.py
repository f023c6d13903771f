"""Pure helpers for the bit maths of the bitmap policy.

Each is a small function over Python ints, tested exhaustively over small
domains in ``tests/test_bits.py``.  A Python int is an arbitrary-length bit
string whose operations run in C, one machine word (30 bits) at a time: a
shift, ``&`` or ``bit_length`` over a 256-slot space costs about as much as
one over a single slot.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "RUN_STEPS",
    "aligned_mask",
    "class_floor",
    "fit_starts",
    "leading_ones",
    "longest_run",
    "lowest_set",
    "run_steps",
    "runs",
    "size_class",
    "size_class_up",
    "trailing_ones",
]


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


def leading_ones(x: int, width: int) -> int:
    """Number of consecutive set bits at the top of the ``width``-bit field ``0 <= x < 2**width``.

    ``x ^ (2**width - 1)`` turns them into the leading zeros of the field.

    >>> leading_ones(0b1101, 4), leading_ones(0b1111, 4), leading_ones(0b1111, 6)
    (2, 4, 0)
    """
    return width - (x ^ ((1 << width) - 1)).bit_length()


def longest_run(x: int) -> int:
    """Length of the longest run of set bits of ``x >= 0`` (0 if ``x`` is 0).

    Doubling, then binary search, on the run starts of ``fit_starts``: while
    ``x`` marks the starts of runs of ``n`` ones, ``x & x >> k`` (``k <= n``)
    marks those of ``n + k`` ones.  So ``x &= x >> n`` doubles ``n`` until no
    run of ``2n`` is left, and halving steps add the rest.  When the starts
    left form one block of set bits (one run of ``n`` or more ones: the
    common case), there is no search: that run has ``n - 1`` ones more than
    the block has bits.

    Time: O(log result) big-int operations on ``x``.

    >>> longest_run(0), longest_run(0b1011_1110_0111), longest_run((1 << 100) - 1)
    (0, 5, 100)
    """
    if not x:
        return 0
    length = 1
    while True:
        doubled = x & (x >> length)
        if not doubled:
            break
        x = doubled
        length <<= 1
    if not (x + (x & -x)) & x:  # one block of starts: one run of length or more ones
        return length - 1 + x.bit_count()
    step = length >> 1
    while step:
        longer = x & (x >> step)
        if longer:
            x = longer
            length += step
        step >>= 1
    return length


def run_steps(size: int) -> tuple[int, ...]:
    """The shifts that turn a bit map into the starts of runs of ``size`` set bits.

    Doubling: after ``r &= r >> k`` with ``k = 1, 2, 4, ...`` bit ``i`` means
    "``2k`` ones from ``i``"; a last shift by ``size - k`` covers the rest.

    Remembered for sizes below ``2**12`` (at most 4096 short tuples): the
    large mode of the bitmap searches its chunks with them on every alloc.

    >>> run_steps(1), run_steps(4), run_steps(7)
    ((), (1, 2), (1, 2, 3))
    """
    known = _KNOWN_STEPS.get(size)
    if known is not None:
        return known
    steps: list[int] = []
    k = 1
    while k << 1 <= size:
        steps.append(k)
        k <<= 1
    if k < size:
        steps.append(size - k)
    result = tuple(steps)
    if size < 1 << 12:
        _KNOWN_STEPS[size] = result
    return result


_KNOWN_STEPS: Final[dict[int, tuple[int, ...]]] = {}


#: ``run_steps`` of the small sizes, looked up rather than computed on the hot path.
RUN_STEPS: Final = tuple(run_steps(size) for size in range(64))


def fit_starts(free: int, size: int) -> int:
    """Bits ``i`` such that bits ``i .. i + size - 1`` of ``free`` are all set.

    Time: O(log size) big-int operations (``run_steps``).

    >>> bin(fit_starts(0b0111_0110, 2))
    '0b110010'
    """
    run = free
    for step in RUN_STEPS[size] if size < 64 else run_steps(size):
        run &= run >> step
    return run


def aligned_mask(capacity: int, align: int) -> int:
    """A mask with one bit set at each multiple of ``align`` below ``capacity``.

    Built by doubling (each step copies the pattern one span up), so it costs
    O(log(capacity / align)) operations on at most ``capacity`` bits, however
    large ``align`` is.

    >>> bin(aligned_mask(10, 4))
    '0b100010001'
    """
    mask = 1
    span = align
    while span < capacity:
        mask |= mask << span
        span <<= 1
    return mask & ((1 << capacity) - 1)


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


# ------------------------------------------------------------- size classes
#
# Two-level size classes (TLSF, Masmano et al. 2004; sebbbi's OffsetAllocator
# calls them "small floats").  With ``sl`` second-level bits and M = 2**sl:
#
#   sizes below M each have their own class (class = size);
#   a size >= M with highest bit f falls in row f - sl + 1, column = the sl
#   bits below the highest bit:  class = row << sl | column.
#
# So class lower bounds grow like a float with an sl-bit mantissa: each power
# of two [2**f, 2**(f+1)) is split into M equal classes, and a size is never
# more than 1/M (6.25% for sl = 4) above its class's lower bound.


def size_class(size: int, sl: int) -> int:
    """The class of ``size >= 1``: the last class whose lower bound is <= size (round down).

    >>> size_class(15, 4), size_class(16, 4), size_class(17, 4), size_class(35, 4)
    (15, 16, 17, 33)
    """
    if size < 1 << sl:
        return size
    shift = size.bit_length() - 1 - sl
    return ((shift + 1) << sl) | ((size >> shift) & ((1 << sl) - 1))


def size_class_up(size: int, sl: int) -> int:
    """The first class whose lower bound is >= ``size`` (round up): all its holes fit.

    >>> size_class_up(16, 4), size_class_up(17, 4), size_class_up(35, 4)
    (16, 17, 34)
    """
    if size < 1 << sl:
        return size
    shift = size.bit_length() - 1 - sl
    cls = ((shift + 1) << sl) | ((size >> shift) & ((1 << sl) - 1))
    return cls + 1 if size & ((1 << shift) - 1) else cls


def class_floor(cls: int, sl: int) -> int:
    """The smallest size in class ``cls`` (its lower bound).

    >>> class_floor(16, 4), class_floor(17, 4), class_floor(33, 4)
    (16, 17, 34)
    """
    if cls < 1 << sl:
        return cls
    shift = (cls >> sl) - 1
    return ((1 << sl) | (cls & ((1 << sl) - 1))) << shift
