"""A seeded random stress run per policy, against the reference model or a shadow.

A few thousand operations (alloc with align, free, bad frees, realloc,
reserve, grow, clear) on spaces of a few slots to a few thousand; for the
policies the model knows (``traits.MODELLED``) every result must match
``tests/model.py``; for the others every call is checked against the shadow
of the blocks (``tests/shadow.py``: aligned, free, in place when it must be,
no false out-of-space).  The full state is compared and ``check()`` run every
``CHECK_EVERY`` operations.

The seed is printed (pytest shows it with a failure) and is part of every
assertion message; replay a run with::

    RANGEALLOC_SEED=1234 python -m pytest tests/test_stress.py
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

import pytest
from helpers import STRESS_SEED, outcome
from model import Model
from shadow import Shadowed
from traits import LARGE_SPACE, MODELLED, UNMODELLED, occupied, reservable, traits_of

import rangealloc
from rangealloc import Allocator, NextFit

SEED = STRESS_SEED
OPERATIONS = 5000
CHECK_EVERY = 25


def compare_state(a: Allocator, model: Model, where: str) -> None:
    assert list(a.blocks()) == model.block_list(), where
    assert list(a.holes()) == model.holes(), where
    assert a.used == model.used, where
    assert len(a) == len(model.blocks), where
    assert a.capacity == model.capacity, where
    if isinstance(a, NextFit):
        assert a.pointer == model.pointer, where


def size_for(rng: random.Random, capacity: int) -> int:
    """Mostly small sizes, sometimes up to the whole space (power-law-ish)."""
    roll = rng.random()
    if roll < 0.6:
        return rng.randint(1, 8)
    if roll < 0.95:
        return rng.randint(1, max(1, capacity // 8))
    return rng.randint(1, capacity + 4)


def run_stress(policy: str, seed: int, capacity: int = 0) -> None:
    """``OPERATIONS`` random operations on ``policy`` beside the model or the shadow.

    Capacity 0: a random small one.
    """
    if not traits_of(policy).modelled:
        run_shadow_stress(policy, seed, capacity)
        return
    rng = random.Random(f"{seed}:{policy}:{capacity}")
    capacity = capacity or rng.choice([1, 7, 16, 64, 256, 1000, 4096])
    a = rangealloc.create(policy, capacity)
    model = Model(policy, capacity)
    for step in range(OPERATIONS):
        where = f"RANGEALLOC_SEED={seed} policy={policy} step={step}"
        capacity = model.capacity
        align = 1 << rng.choice([0, 0, 0, 0, 1, 2, 3, 4, 6])
        live = sorted(model.blocks)
        roll = rng.random()
        if roll < 0.40 or not live:
            size = size_for(rng, capacity)
            expected = outcome(partial(model.alloc, size, align))
            got = outcome(partial(a.alloc, size, align=align))
            operation = f"alloc({size}, align={align})"
        elif roll < 0.70:
            offset = rng.choice(live)
            expected = outcome(partial(model.free, offset))
            got = outcome(partial(a.free, offset))
            operation = f"free({offset})"
        elif roll < 0.74:
            offset = rng.randint(-1, capacity)
            expected = outcome(partial(model.free, offset))
            got = outcome(partial(a.free, offset))
            operation = f"free({offset}) (any offset)"
        elif roll < 0.90:
            offset = rng.choice(live)
            size = size_for(rng, capacity)
            expected = outcome(partial(model.realloc, offset, size, align))
            got = outcome(partial(a.realloc, offset, size, align=align))
            operation = f"realloc({offset}, {size}, align={align})"
        elif roll < 0.97:
            offset = rng.randrange(capacity)
            size = rng.randint(1, min(16, capacity - offset))
            expected = outcome(partial(model.reserve, offset, size))
            got = outcome(partial(a.reserve, offset, size))
            operation = f"reserve({offset}, {size})"
        elif roll < 0.995:
            new = capacity + rng.randint(0, 64)
            expected = outcome(partial(model.grow, new))
            got = outcome(partial(a.grow, new))
            operation = f"grow({new})"
        else:
            expected = outcome(model.clear)
            got = outcome(a.clear)
            operation = "clear()"
        assert got == expected, f"{where}: {operation}: model {expected}, allocator {got}"
        if step % CHECK_EVERY == 0:
            compare_state(a, model, where)
            a.check()
    compare_state(a, model, f"RANGEALLOC_SEED={seed} policy={policy} end")
    a.check()
    for offset in sorted(model.blocks):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.alloc(a.capacity) == 0


def run_shadow_stress(policy: str, seed: int, capacity: int = 0) -> None:
    """As ``run_stress``, each call checked against the shadow of the blocks (same mix of operations)."""
    rng = random.Random(f"{seed}:{policy}:{capacity}")
    capacity = capacity or rng.choice([1, 7, 16, 64, 256, 1000, 4096])
    shadow = Shadowed(policy, capacity)
    for step in range(OPERATIONS):
        where = f"RANGEALLOC_SEED={seed} policy={policy} step={step}"
        call: Callable[[], object]
        capacity = shadow.capacity
        align = 1 << rng.choice([0, 0, 0, 0, 1, 2, 3, 4, 6])
        live = sorted(shadow.blocks)
        roll = rng.random()
        if roll < 0.40 or not live:
            size = size_for(rng, capacity)
            operation = f"alloc({size}, align={align})"
            call = partial(shadow.alloc, size, align)
        elif roll < 0.70:
            offset = rng.choice(live)
            operation = f"free({offset})"
            call = partial(shadow.free, offset)
        elif roll < 0.74:
            offset = rng.randint(-1, capacity)
            operation = f"free({offset}) (any offset)"
            call = partial(shadow.free, offset)
        elif roll < 0.90:
            offset = rng.choice(live)
            size = size_for(rng, capacity)
            operation = f"realloc({offset}, {size}, align={align})"
            call = partial(shadow.realloc, offset, size, align)
        elif roll < 0.97:
            offset = rng.randrange(capacity)
            size = rng.randint(1, min(16, capacity - offset))
            if not reservable(policy, offset, size) and rng.random() < 0.5:
                offset -= offset % occupied(policy, size)  # half the time, make it a buddy block
            operation = f"reserve({offset}, {size})"
            call = partial(shadow.reserve, offset, size)
        elif roll < 0.995:
            new = capacity + rng.randint(0, 64)
            operation = f"grow({new})"
            call = partial(shadow.grow, new)
        else:
            operation = "clear()"
            call = shadow.clear
        try:
            call()
        except AssertionError as error:
            raise AssertionError(f"{where}: {operation}: {error}") from error
        if step % CHECK_EVERY == 0:
            shadow.compare(where)
            shadow.a.check()
    shadow.compare(f"RANGEALLOC_SEED={seed} policy={policy} end")
    a = shadow.a
    a.check()
    for offset in sorted(shadow.blocks):
        a.free(offset)
    assert list(a.holes()) == [(0, a.capacity)]
    assert a.stats().largest_hole == a.capacity
    a.check()


def test_modelled_and_unmodelled_policies_are_all_stressed() -> None:
    assert sorted(MODELLED + UNMODELLED) == sorted(rangealloc.POLICIES)


def test_stress(policy: str) -> None:
    print(f"RANGEALLOC_SEED={SEED}")
    run_stress(policy, SEED)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stress_fixed_seeds(policy: str, seed: int) -> None:
    """The same runs every time, so a regression shows up on every CI run, not one in N."""
    run_stress(policy, seed)


@pytest.mark.parametrize("policy", LARGE_SPACE)
def test_stress_large_space(policy: str) -> None:
    """Sizes from 1 slot to 2**45 in a 2**48-slot space."""
    print(f"RANGEALLOC_SEED={SEED}")
    run_stress(policy, SEED, capacity=1 << 48)
