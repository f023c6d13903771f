"""The pure helpers of ``rangealloc._bits``, exhaustively over small domains, and ``HoleTree``.

Each bit helper is compared with a naive loop over bits, for every input
below a small bound (plus random wide ints, past the 30-bit digits of a
Python int).  ``HoleTree`` is driven by Hypothesis beside a plain dict of
holes, with ``check()`` after every step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from model import align_up

from rangealloc._addrtree import NIL, HoleTree, _Node
from rangealloc._bits import (
    aligned_mask,
    fit_starts,
    leading_ones,
    longest_run,
    lowest_set,
    run_steps,
    runs,
    trailing_ones,
)

# ------------------------------------------------------------- naive versions


def bits_of(x: int) -> list[int]:
    """Indices of the set bits of ``x >= 0``, low to high."""
    return [i for i in range(x.bit_length()) if x >> i & 1]


def naive_lowest_set(x: int) -> int:
    return bits_of(x)[0]


def naive_trailing_ones(x: int) -> int:
    count = 0
    while x >> count & 1:
        count += 1
    return count


def naive_fit_starts(free: int, size: int) -> int:
    result = 0
    for i in range(free.bit_length()):
        if all(free >> j & 1 for j in range(i, i + size)):
            result |= 1 << i
    return result


def naive_aligned_mask(capacity: int, align: int) -> int:
    return sum(1 << i for i in range(0, capacity, align))


def naive_leading_ones(x: int, width: int) -> int:
    count = 0
    while count < width and x >> (width - 1 - count) & 1:
        count += 1
    return count


def naive_longest_run(x: int) -> int:
    return max((length for _, length in naive_runs(x)), default=0)


def naive_run_steps_apply(free: int, size: int) -> int:
    """``fit_starts`` by ``run_steps``: apply the shifts the helper returns."""
    run = free
    for step in run_steps(size):
        run &= run >> step
    return run


def naive_runs(x: int) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for i in bits_of(x):
        if result and result[-1][0] + result[-1][1] == i:
            result[-1] = (result[-1][0], result[-1][1] + 1)
        else:
            result.append((i, 1))
    return result


# --------------------------------------------------------------- exhaustive

SMALL = range(1 << 12)


def test_lowest_set_below_2_to_the_12() -> None:
    for x in range(1, 1 << 12):
        assert lowest_set(x) == naive_lowest_set(x), x


def test_trailing_ones_below_2_to_the_12() -> None:
    for x in SMALL:
        assert trailing_ones(x) == naive_trailing_ones(x), x


def test_runs_below_2_to_the_12() -> None:
    for x in SMALL:
        assert runs(x) == naive_runs(x), x


@pytest.mark.parametrize("size", range(1, 13))
def test_fit_starts_below_2_to_the_10(size: int) -> None:
    for free in range(1 << 10):
        assert fit_starts(free, size) == naive_fit_starts(free, size), (bin(free), size)


def test_leading_ones_every_width_up_to_12() -> None:
    for width in range(13):
        for x in range(1 << width):
            assert leading_ones(x, width) == naive_leading_ones(x, width), (bin(x), width)


def test_longest_run_below_2_to_the_14() -> None:
    # Both ways out of the doubling: one block of run starts left (no search), several (binary search).
    for x in range(1 << 14):
        assert longest_run(x) == naive_longest_run(x), bin(x)


def test_run_steps_remembered_or_not_give_the_same_shifts() -> None:
    # Sizes below 2**12 are remembered after the first call; the rest are computed each time.
    free = (1 << 9000) - 1 ^ (1 << 4500)  # one used slot in the middle: runs of 4500 and 4499
    for size in (*range(1, 70), 4094, 4095, 4096, 4097, 4499, 4500, 4501):
        first = run_steps(size)
        assert run_steps(size) == first
        assert sum(first) == size - 1, size  # the shifts cover the run: i .. i + size - 1
        assert naive_run_steps_apply(free, size) == fit_starts(free, size)
        assert bool(fit_starts(free, size)) == (size <= 4500), size


def test_aligned_mask_small() -> None:
    for align in (1 << k for k in range(10)):
        for capacity in range(300):
            assert aligned_mask(capacity, align) == naive_aligned_mask(capacity, align), (capacity, align)


# --------------------------------------------------------------- wide ints

wide = st.integers(min_value=0, max_value=(1 << 200) - 1)


@given(x=wide.filter(bool))
def test_lowest_set_wide(x: int) -> None:
    assert lowest_set(x) == naive_lowest_set(x)


@given(x=wide)
def test_trailing_ones_wide(x: int) -> None:
    assert trailing_ones(x) == naive_trailing_ones(x)
    assert trailing_ones((1 << 97) - 1) == 97


@given(x=wide)
def test_runs_wide(x: int) -> None:
    assert runs(x) == naive_runs(x)


@given(x=wide, width=st.integers(min_value=0, max_value=210))
def test_leading_ones_wide(x: int, width: int) -> None:
    x &= (1 << width) - 1
    assert leading_ones(x, width) == naive_leading_ones(x, width)
    assert leading_ones((1 << width) - 1, width) == width


@given(x=wide, start=st.integers(min_value=0, max_value=150), length=st.integers(min_value=0, max_value=120))
def test_longest_run_wide(x: int, start: int, length: int) -> None:
    assert longest_run(x) == naive_longest_run(x)
    x |= ((1 << length) - 1) << start  # and with one long run planted
    assert longest_run(x) == naive_longest_run(x)


@given(free=wide, size=st.integers(min_value=1, max_value=70))
def test_fit_starts_wide(free: int, size: int) -> None:
    assert fit_starts(free, size) == naive_fit_starts(free, size)


@given(capacity=st.integers(min_value=0, max_value=2000), k=st.integers(min_value=0, max_value=12))
def test_aligned_mask_wide(capacity: int, k: int) -> None:
    assert aligned_mask(capacity, 1 << k) == naive_aligned_mask(capacity, 1 << k)


# ---------------------------------------------------------------- HoleTree


def naive_first_fit(holes: dict[int, int], size: int, align: int, lowest: int) -> int:
    for start in sorted(holes):
        if start >= lowest and align_up(start, align) + size <= start + holes[start]:
            return start
    return -1


def naive_floor(holes: dict[int, int], offset: int) -> int:
    return max((start for start in holes if start <= offset), default=-1)


class Holes:
    """A ``HoleTree`` with the node table its owner keeps, speaking in starts (-1: none)."""

    def __init__(self) -> None:
        self.tree = HoleTree()
        self.nodes: dict[int, _Node] = {}

    def add(self, start: int, size: int) -> None:
        self.nodes[start] = node = _Node(start, size)
        self.tree.add(node)

    def remove(self, start: int) -> None:
        self.tree.remove(self.nodes.pop(start))

    def replace(self, start: int, new_start: int, size: int) -> None:
        node = self.nodes.pop(start)
        self.nodes[new_start] = node
        old = node.size
        node.start, node.size = new_start, size
        if size > old:
            self.tree.grown(node)
        else:
            self.tree.shrunk(node, old)

    def clear(self) -> None:
        self.tree.clear()
        self.nodes = {}

    def first_fit(self, size: int, align: int, lowest: int) -> int:
        if align == 1 and lowest == 0:
            node = self.tree.lowest_fit(size)
        else:
            node = self.tree.first_fit(size, align, lowest)
        return -1 if node is None else node.start

    def floor(self, offset: int) -> int:
        node = self.tree.floor(offset)
        return -1 if node is None else node.start

    def largest(self) -> int:
        return self.tree.largest()

    @property
    def root(self) -> _Node:
        return self.tree.root

    def check(self) -> None:
        assert self.tree.check(len(self.nodes)) == len(self.nodes)
        assert all(self.nodes[node.start] is node for node in self.tree)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((node.start, node.size) for node in self.tree)

    def __len__(self) -> int:
        return len(self.nodes)


starts = st.integers(min_value=0, max_value=200)
hole_sizes = st.integers(min_value=1, max_value=40)
picks = st.integers(min_value=0, max_value=10**6)


class HoleTreeMachine(RuleBasedStateMachine):
    """``HoleTree`` beside a dict ``{start: size}``."""

    def __init__(self) -> None:
        super().__init__()
        self.tree = Holes()
        self.holes: dict[int, int] = {}

    def has_holes(self) -> bool:
        return bool(self.holes)

    def pick(self, pick: int) -> int:
        ordered = sorted(self.holes)
        return ordered[pick % len(ordered)]

    @rule(start=starts, size=hole_sizes)
    def add(self, start: int, size: int) -> None:
        if start in self.holes:
            return  # the tree holds one hole per start
        self.tree.add(start, size)
        self.holes[start] = size

    @precondition(has_holes)
    @rule(pick=picks)
    def remove(self, pick: int) -> None:
        start = self.pick(pick)
        self.tree.remove(start)
        del self.holes[start]

    @precondition(has_holes)
    @rule(pick=picks, shift=picks, size=hole_sizes)
    def replace(self, pick: int, shift: int, size: int) -> None:
        ordered = sorted(self.holes)
        i = pick % len(ordered)
        # Any new start strictly between the neighbours keeps the hole's rank.
        low = ordered[i - 1] + 1 if i else 0
        high = ordered[i + 1] - 1 if i + 1 < len(ordered) else ordered[i] + 50
        new_start = low + shift % (high - low + 1)
        self.tree.replace(ordered[i], new_start, size)
        del self.holes[ordered[i]]
        self.holes[new_start] = size

    @rule()
    def clear(self) -> None:
        self.tree.clear()
        self.holes = {}

    @rule(size=hole_sizes, k=st.integers(min_value=0, max_value=6), lowest=st.integers(0, 260))
    def first_fit(self, size: int, k: int, lowest: int) -> None:
        align = 1 << k
        assert self.tree.first_fit(size, align, lowest) == naive_first_fit(self.holes, size, align, lowest)
        assert self.tree.first_fit(size, align, 0) == naive_first_fit(self.holes, size, align, 0)
        assert self.tree.first_fit(size, 1, 0) == naive_first_fit(self.holes, size, 1, 0)

    @rule(offset=st.integers(min_value=-1, max_value=260))
    def floor(self, offset: int) -> None:
        assert self.tree.floor(offset) == naive_floor(self.holes, offset)

    @invariant()
    def agrees(self) -> None:
        self.tree.check()
        assert list(self.tree) == sorted(self.holes.items())
        assert len(self.tree) == len(self.holes)
        assert self.tree.largest() == max(self.holes.values(), default=0)


TestHoleTree = HoleTreeMachine.TestCase


def depth(node: _Node) -> int:
    if node is NIL:
        return 0
    return 1 + max(depth(node.left), depth(node.right))


@pytest.mark.parametrize("order", ["increasing", "decreasing"])
def test_hole_tree_stays_shallow_for_sorted_inserts(order: str) -> None:
    n = 4096
    starts = range(0, 2 * n, 2) if order == "increasing" else range(2 * n, 0, -2)
    tree = Holes()
    for start in starts:
        tree.add(start, 1)
    tree.check()
    # An AVL tree is at most 1.44 log2 n deep (~17 here); a list-shaped tree would be 4096 deep.
    assert depth(tree.root) <= 1.45 * math.log2(n + 2)
    for start in list(starts)[: n // 2]:
        tree.remove(start)
    tree.check()
    assert depth(tree.root) <= 1.45 * math.log2(n + 2)


def test_hole_tree_first_fit_when_empty_and_too_small() -> None:
    tree = Holes()
    assert tree.first_fit(1, 1, 0) == -1
    assert tree.floor(10) == -1
    assert tree.largest() == 0
    tree.add(5, 3)
    assert tree.first_fit(4, 1, 0) == -1
    assert tree.first_fit(3, 1, 0) == 5
    assert tree.first_fit(3, 1, 6) == -1  # the only hole starts before 6
    assert tree.first_fit(2, 2, 0) == 5  # [6, 8) inside [5, 8)
    assert tree.first_fit(3, 2, 0) == -1


def test_hole_tree_search_lowers_the_stale_bounds_it_meets() -> None:
    holes = Holes()
    for start in range(0, 1000, 10):
        holes.add(start, 5)
    holes.replace(500, 500, 9)  # the largest hole: every bound above it says 9
    holes.replace(500, 500, 2)  # shrunk: the bounds above stay at 9 (upper bounds)
    assert holes.root.max == 9
    holes.check()
    assert holes.first_fit(6, 1, 0) == -1
    assert holes.root.max == 5  # the failed search brought the bounds it met below 6
    assert holes.largest() == 5
    holes.check()


def test_hole_tree_largest_is_exact_under_stale_bounds() -> None:
    holes = Holes()
    for start, size in [(0, 3), (10, 7), (20, 4), (30, 8), (40, 1)]:
        holes.add(start, size)
    holes.replace(30, 30, 2)
    holes.replace(10, 10, 5)
    assert holes.largest() == 5
    assert holes.first_fit(5, 1, 0) == 10
    assert holes.first_fit(5, 4, 0) == -1  # [12, 17) does not fit in [10, 15)
    assert holes.first_fit(4, 1, 11) == 20
