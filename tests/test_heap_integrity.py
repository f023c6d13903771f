"""Data integrity of ``Heap``: random operations on every policy, every byte checked.

``IntegrityRun`` keeps, beside a heap, the bytes every live block must hold
(random bytes written at ``alloc``, kept by ``realloc`` up to min(old, new),
moved by ``compact``, partly rewritten by ``write``) and compares them with
the heap's after every step that could break them: the block touched, and
every block every few steps, after each compaction and each failed call.  A
corrupted byte (two blocks overlapping, a ``realloc`` or ``compact`` that
loses or misplaces bytes, a failed call that writes) is counted, never
hidden.  It also counts the moves whose new place overlaps the old one (the
memmove cases), in both directions.

This file is the CI short form (a few seconds); ``bench/integrity.py`` runs
the same engine for hundreds of thousands of operations per policy.  The
seed is the session's (``RANGEALLOC_SEED`` replays it).
"""

from __future__ import annotations

import operator
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import SupportsIndex

import pytest
from helpers import STRESS_SEED

import rangealloc
from rangealloc import Allocator, FirstFit, Heap, OutOfSpace

#: Alignments drawn for alloc: mostly 1, sometimes more (above the 16-byte guard too).
ALIGNS = (1, 1, 1, 1, 2, 4, 8, 16, 64)


@dataclass
class Counts:
    """What a run did and found."""

    ops: int = 0
    allocs: int = 0
    frees: int = 0
    reallocs: int = 0
    realloc_moves: int = 0
    overlap_up: int = 0  # moves (realloc or compact) into a place overlapping the old one, upward
    overlap_down: int = 0  # ... downward
    writes: int = 0
    compactions: int = 0
    compact_moves: int = 0
    out_of_space: int = 0
    checks: int = 0
    bytes_verified: int = 0
    corrupted_bytes: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        """Add another run's counts to these."""
        for name in self.__dataclass_fields__:
            if name == "failures":
                self.failures += other.failures
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))


class IntegrityRun:
    """A heap, the bytes each of its blocks must hold, and random steps that check them."""

    def __init__(
        self,
        policy: str | type[Allocator],
        seed: int,
        *,
        capacity: int = 1 << 16,
        debug: bool = False,
        max_size: int = 512,
        full_every: int = 25,
        check_every: int = 500,
    ) -> None:
        self.heap = Heap(capacity, policy=policy, debug=debug)
        self.policy = self.heap.policy
        self.seed = seed
        self.debug = debug
        self.rng = random.Random(seed)
        self.expected: dict[int, bytes] = {}
        self.max_size = max_size
        self.full_every = full_every
        self.check_every = check_every
        self.counts = Counts()

    def where(self) -> str:
        """The run's identity, for failure messages: enough to replay it."""
        mode = " debug" if self.debug else ""
        return f"{self.policy}{mode} seed {self.seed} op {self.counts.ops}"

    def verify(self, offset: int) -> None:
        """Compare one block's bytes with what it must hold; count every corrupted byte."""
        want = self.expected[offset]
        got = self.heap.view(offset).tobytes()
        self.counts.bytes_verified += len(want)
        if got != want:
            pairs = list(zip(got, want, strict=False))
            bad = sum(a != b for a, b in pairs) + abs(len(got) - len(want))
            self.counts.corrupted_bytes += bad
            first = next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))
            self.counts.failures.append(
                f"{self.where()}: block {offset} ({len(want)} bytes): {bad} corrupted bytes, "
                f"first at +{first}"
            )

    def verify_all(self) -> None:
        """Every live block, and the heap's block table against ours."""
        for offset in self.expected:
            self.verify(offset)
        table = dict(self.heap.blocks())
        if table != {o: len(b) for o, b in self.expected.items()}:
            self.counts.failures.append(f"{self.where()}: block table differs from the model")

    def _size(self) -> int:
        rng = self.rng
        if rng.random() < 0.1:
            return rng.randint(1, self.max_size * 4)
        if rng.random() < 0.6:
            return rng.randint(1, self.max_size // 8 or 1)
        return rng.randint(1, self.max_size)

    def _overlap(self, old: int, new: int, k: int) -> None:
        if new != old and k and old < new + k and new < old + k:
            if new > old:
                self.counts.overlap_up += 1
            else:
                self.counts.overlap_down += 1

    def step(self) -> None:
        """One random operation, its checks, and the periodic ones."""
        rng = self.rng
        heap = self.heap
        counts = self.counts
        counts.ops += 1
        fill = heap.allocator.used / heap.capacity
        roll = rng.random()
        live = list(self.expected)
        if not live or (roll < 0.45 and fill < 0.85) or fill < 0.3:
            n, align = self._size(), rng.choice(ALIGNS)
            try:
                offset = heap.alloc(n, align)
            except OutOfSpace:
                counts.out_of_space += 1
                self.verify_all()
            else:
                counts.allocs += 1
                if offset in self.expected or offset % align:
                    counts.failures.append(f"{self.where()}: alloc returned {offset} (align {align})")
                data = rng.randbytes(n)
                heap.write(offset, data)
                self.expected[offset] = data
        elif roll < 0.70:
            offset = rng.choice(live)
            self.verify(offset)
            heap.free(offset)
            del self.expected[offset]
            counts.frees += 1
        elif roll < 0.94:
            offset = rng.choice(live)
            old = self.expected[offset]
            n = self._size() if rng.random() < 0.5 else max(1, len(old) + rng.randint(-len(old) // 2, 64))
            try:
                new = heap.realloc(offset, n)
            except OutOfSpace:
                counts.out_of_space += 1
                self.verify_all()
                return
            counts.reallocs += 1
            k = min(n, len(old))
            if new != offset:
                counts.realloc_moves += 1
                self._overlap(offset, new, k)
            del self.expected[offset]
            if new in self.expected:
                counts.failures.append(f"{self.where()}: realloc moved {offset} onto live block {new}")
            self.expected[new] = old[:k] + bytes(n - k)  # the tail is checked after it is written
            got = heap.view(new)[:k].tobytes()
            counts.bytes_verified += k
            if got != old[:k]:
                bad = sum(a != b for a, b in zip(got, old, strict=False))
                counts.corrupted_bytes += bad
                counts.failures.append(
                    f"{self.where()}: realloc {offset} -> {new} ({len(old)} -> {n}): {bad} bytes lost"
                )
            if n > k:
                tail = rng.randbytes(n - k)
                heap.write(new, tail, k)
                self.expected[new] = old[:k] + tail
        elif roll < 0.985:
            offset = rng.choice(live)
            size = len(self.expected[offset])
            start = rng.randrange(size)
            data = rng.randbytes(rng.randint(1, size - start))
            heap.write(offset, data, start)
            before = self.expected[offset]
            self.expected[offset] = before[:start] + data + before[start + len(data) :]
            counts.writes += 1
            self.verify(offset)
        else:
            self.compact()
        if counts.ops % self.full_every == 0:
            self.verify_all()
        if counts.ops % self.check_every == 0:
            self.check()

    def compact(self) -> None:
        """A full or partial compaction, then every block checked at its new place."""
        rng = self.rng
        limit = None if rng.random() < 0.5 else rng.randint(0, 8)
        sizes = {o: len(b) for o, b in self.expected.items()}
        moved = self.heap.compact(limit)
        self.counts.compactions += 1
        self.counts.compact_moves += len(moved)
        if limit is not None and len(moved) > limit:
            self.counts.failures.append(f"{self.where()}: compact({limit}) moved {len(moved)} blocks")
        for old, new in moved.items():
            self._overlap(old, new, sizes[old])
        expected = {moved.get(o, o): b for o, b in self.expected.items()}
        if len(expected) != len(self.expected):
            self.counts.failures.append(f"{self.where()}: compact mapped two blocks to one offset")
        self.expected = expected
        self.verify_all()

    def check(self) -> None:
        """``Heap.check`` (guards and poison too in debug mode); a failure is recorded."""
        self.counts.checks += 1
        try:
            self.heap.check()
        except rangealloc.CorruptState as error:
            self.counts.failures.append(f"{self.where()}: check: {error}")

    def run_out(self) -> None:
        """Requests that cannot fit, checked as random ones are (5% of buddy's runs meet none by chance)."""
        live = list(self.expected)
        calls = [lambda: self.heap.alloc(self.heap.capacity)]
        if len(live) > 1:
            calls.append(lambda: self.heap.realloc(live[0], self.heap.capacity))
        for call in calls:
            self._must_run_out(call)

    def _must_run_out(self, call: Callable[[], object]) -> None:
        try:
            call()
        except OutOfSpace:
            self.counts.out_of_space += 1
            self.verify_all()
        else:
            self.counts.failures.append(f"{self.where()}: a request of the whole capacity succeeded")

    def run(self, ops: int) -> Counts:
        """``ops`` steps, then everything verified and checked, then freed (each block verified first)."""
        for _ in range(ops):
            self.step()
        if self.expected and not self.counts.out_of_space:
            self.run_out()
        self.verify_all()
        self.check()
        for offset in list(self.expected):
            self.verify(offset)
            self.heap.free(offset)
        self.expected.clear()
        self.check()
        used = self.heap.allocator.used
        if used:
            self.counts.failures.append(f"{self.where()}: {used} bytes used after freeing all")
        return self.counts


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_random_operations_keep_every_byte(policy: str, debug: bool) -> None:
    """Thousands of operations per policy (half the runs in debug mode): zero corrupted bytes."""
    seed = STRESS_SEED + sum(map(ord, policy)) + debug
    run = IntegrityRun(policy, seed, debug=debug, capacity=1 << 15, max_size=256)
    counts = run.run(5000)
    assert counts.failures == [], f"RANGEALLOC_SEED={STRESS_SEED}: {counts.failures[:5]}"
    assert counts.corrupted_bytes == 0
    assert counts.allocs > 500 and counts.frees > 300 and counts.reallocs > 200
    assert counts.compactions > 0 and counts.out_of_space > 0


class ShiftUp(FirstFit):
    """First fit whose ``realloc`` moves the block one slot up whenever it can.

    No registered policy moves a block upward onto its old place (they all
    take the lowest place of the hole that the block's own slots join, which
    starts at or below the block); this one does, so that the upward memmove
    case runs too.
    """

    name = "shift-up"

    def realloc(self, offset: SupportsIndex, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """Move up by one slot if that range is free, else as first fit."""
        old = self.size_of(offset)
        offset = operator.index(offset)
        if operator.index(align) == 1:
            self.free(offset)
            try:
                return self.reserve(offset + 1, size)
            except (OutOfSpace, ValueError):
                self.reserve(offset, old)
        return super().realloc(offset, size, align)


def test_moves_overlap_in_both_directions() -> None:
    """The memmove cases happen: a block moved onto part of its old place, downward and upward."""
    policies: list[str | type[Allocator]] = [*rangealloc.POLICIES, ShiftUp]
    for policy in policies:
        for debug in (False, True):
            run = IntegrityRun(policy, STRESS_SEED + 7, debug=debug, capacity=1 << 12, max_size=64)
            counts = run.run(600)
            assert counts.failures == [], f"RANGEALLOC_SEED={STRESS_SEED}: {counts.failures[:5]}"
            if policy != "buddy":  # buddy blocks move between aligned places of their size: never overlap
                assert counts.overlap_down > 0, run.where()  # compaction at least
            if policy is ShiftUp:
                assert counts.overlap_up > 0, run.where()
