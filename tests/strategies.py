"""Hypothesis strategies shared by the tests.

Capacities are small (mostly 1..64) so that full spaces, exact fits, aligns
larger than the space and wrap-arounds happen often; sizes go past the
capacity so that out-of-space paths run too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "Op",
    "aligns",
    "any_offsets",
    "bad_aligns",
    "bad_sizes",
    "bad_types",
    "capacities",
    "ops",
    "sizes",
    "small_capacities",
]

#: Tiny spaces: edge paths (full space, exact fit, wrap-around) run often.
small_capacities = st.integers(min_value=1, max_value=64)

#: Mostly tiny, sometimes a little larger.
capacities = st.one_of(small_capacities, small_capacities, st.integers(min_value=65, max_value=1024))

#: Request sizes: mostly small (many fit at once), sometimes larger than a tiny space.
sizes = st.one_of(
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1, max_value=16),
    st.integers(min_value=1, max_value=80),
)

#: Powers of two 1..128: often 1, sometimes larger than the space.
aligns = st.one_of(st.just(1), st.integers(min_value=0, max_value=7).map(lambda k: 1 << k))

#: Offsets for free/size_of: starts of blocks, interiors, holes, and outside the space.
any_offsets = st.integers(min_value=-3, max_value=80)

#: Values of the wrong type for every int argument (bool included: True is not a size).
bad_types: st.SearchStrategy[Any] = st.sampled_from(
    [2.0, 2.5, float("inf"), "7", b"7", None, True, False, [3]]
)

#: Sizes that are ints but not > 0.
bad_sizes = st.integers(max_value=0)

#: Aligns that are ints but not positive powers of two.
bad_aligns = st.integers(min_value=-130, max_value=130).filter(lambda n: n <= 0 or n & (n - 1) != 0)

#: One operation: (kind, a, b, c); see ``ops``.
Op = tuple[str, int, int, int]


def ops(max_size: int = 40) -> st.SearchStrategy[list[Op]]:
    """Lists of operations, applied by ``helpers.apply_ops``.

    ``("alloc", size, align, 0)``, ``("free", index, 0, 0)``,
    ``("realloc", index, size, align)``, ``("reserve", offset, size, 0)``;
    ``index`` picks a live block modulo their number.
    """
    index = st.integers(min_value=0, max_value=1000)
    alloc = st.tuples(st.just("alloc"), sizes, aligns, st.just(0))
    free = st.tuples(st.just("free"), index, st.just(0), st.just(0))
    realloc = st.tuples(st.just("realloc"), index, sizes, aligns)
    reserve = st.tuples(st.just("reserve"), st.integers(min_value=0, max_value=70), sizes, st.just(0))
    return st.lists(st.one_of(alloc, alloc, free, realloc, reserve), max_size=max_size)
