"""What each policy promises beyond the common contract: the tests derive their expectations from it.

Every policy keeps the contract of ``rangealloc._base`` (same API, same
errors, blocks and holes tile the space, a raising call changes nothing).
They differ in three ways the tests must know about:

``modelled``
    ``tests/model.py`` predicts its exact offsets (first fit, next fit, best
    fit, bitmap).  The others (TLSF, buddy) are checked against a *shadow* of
    the blocks they return (``tests/shadow.py``) and pinned by golden scenarios.
``exact_size``
    A block occupies exactly the requested size.  Otherwise (buddy) the size
    is rounded up to a power of two, ``size_of``, ``blocks()`` and ``used``
    report the rounded size, and a block starts at a multiple of that size.
``any_reserve``
    ``reserve(offset, size)`` claims any free range inside the space.
    Otherwise (buddy) only a range that is exactly one buddy block after
    rounding (``offset`` a multiple of the rounded size); any other raises
    ``ValueError`` naming the reason.
``large_space``
    Handles capacities of 2**48 (the spec exempts bitmap, whose map is one
    bit per slot).

A policy registered without a row here fails ``test_every_policy_declares_its_traits``
(and every test that asks for its traits) until one is added.
"""

from __future__ import annotations

from dataclasses import dataclass

import rangealloc

__all__ = [
    "ANY_RESERVE",
    "BUDDY_RESERVE",
    "EXACT_SIZE",
    "LARGE_SPACE",
    "MODELLED",
    "ROUNDING",
    "TRAITS",
    "UNMODELLED",
    "Traits",
    "block_align",
    "buddy_roots",
    "occupied",
    "reservable",
    "traits_of",
    "whole_space",
]


@dataclass(frozen=True)
class Traits:
    """How one policy departs from the plainest reading of the contract (see the module docstring)."""

    modelled: bool
    exact_size: bool
    any_reserve: bool
    large_space: bool


#: One row per policy, in registry order.
TRAITS: dict[str, Traits] = {
    "first-fit": Traits(modelled=True, exact_size=True, any_reserve=True, large_space=True),
    "next-fit": Traits(modelled=True, exact_size=True, any_reserve=True, large_space=True),
    "best-fit": Traits(modelled=True, exact_size=True, any_reserve=True, large_space=True),
    "bitmap": Traits(modelled=True, exact_size=True, any_reserve=True, large_space=False),
    "tlsf": Traits(modelled=False, exact_size=True, any_reserve=True, large_space=True),
    "buddy": Traits(modelled=False, exact_size=False, any_reserve=False, large_space=True),
}


def traits_of(policy: str) -> Traits:
    """The traits of ``policy``; ``KeyError`` saying what to do if it has none."""
    try:
        return TRAITS[policy]
    except KeyError:
        raise KeyError(f"policy {policy!r} has no row in tests/traits.py: declare its traits there") from None


def _registered(wanted: bool, trait: str) -> tuple[str, ...]:
    return tuple(
        name for name in rangealloc.POLICIES if name in TRAITS and getattr(TRAITS[name], trait) is wanted
    )


#: The policies whose placement ``tests/model.py`` predicts exactly.
MODELLED = tuple(name for name, traits in TRAITS.items() if traits.modelled)
#: The registered policies the model does not know: checked against a shadow instead.
UNMODELLED = _registered(False, "modelled")
#: Blocks occupy exactly the requested size.
EXACT_SIZE = _registered(True, "exact_size")
#: Sizes are rounded up to a power of two (and blocks aligned to it).
ROUNDING = _registered(False, "exact_size")
#: ``reserve`` claims any free range.
ANY_RESERVE = _registered(True, "any_reserve")
#: ``reserve`` claims only one buddy block.
BUDDY_RESERVE = _registered(False, "any_reserve")
#: Capacities of 2**48 work.
LARGE_SPACE = _registered(True, "large_space")


def occupied(policy: str, size: int) -> int:
    """The slots a block of ``size`` occupies under ``policy`` (what ``size_of`` and ``used`` report)."""
    if traits_of(policy).exact_size:
        return size
    return 1 << (size - 1).bit_length()


def block_align(policy: str, size: int, align: int) -> int:
    """The alignment a block of ``size`` asked with ``align`` gets: a rounded block is aligned to its size."""
    if traits_of(policy).exact_size:
        return align
    return max(align, occupied(policy, size))


def reservable(policy: str, offset: int, size: int) -> bool:
    """Whether ``reserve(offset, size)`` is a range ``policy`` may claim at all (else ``ValueError``).

    Whether it is free and inside the space is a separate question.
    """
    return traits_of(policy).any_reserve or offset % occupied(policy, size) == 0


def buddy_roots(capacity: int) -> list[tuple[int, int]]:
    """The power-of-two roots that cover ``[0, capacity)``, largest first, each aligned to its size.

    For 100: ``[(0, 64), (64, 32), (96, 4)]`` (one per set bit of the capacity).
    """
    roots: list[tuple[int, int]] = []
    offset = 0
    for bit in reversed(range(capacity.bit_length())):
        if capacity >> bit & 1:
            roots.append((offset, 1 << bit))
            offset += 1 << bit
    return roots


def whole_space(policy: str, capacity: int) -> list[tuple[int, int]]:
    """The blocks that, allocated in this order in an empty space, fill it: ``(offset, size)``.

    One block of the whole capacity at 0, unless ``policy`` rounds sizes and
    the capacity is not a power of two: then one block per buddy root,
    largest first (each lands on its root, the only free block of its order).
    """
    if traits_of(policy).exact_size or not capacity & (capacity - 1):
        return [(0, capacity)]
    return buddy_roots(capacity)
