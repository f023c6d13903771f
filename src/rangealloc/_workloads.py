"""Synthetic workloads, the naive baseline and the timing harness behind ``compare`` and ``bench/``.

A *workload* is a list of events decided once, from a seeded random generator,
without looking at where any block lands, so that every policy (and the naive
baseline) replays exactly the same requests.  Events are plain ints, the
cheapest thing to dispatch on in the timed loop::

    size > 0   alloc(size); the block gets the next id (0, 1, 2, ... in event order)
    ~id  < 0   free the block with that id (skipped if its alloc failed)

    events  [ 5, 12, 3, ~1, 7, ~0, ... ]
              id0 id1 id2 free id1, id3, free id0

A workload has two parts: ``setup`` (fill the space, let it settle), replayed
but not timed, then ``timed``, the steady-state churn that is measured.  Cost
is reported per *alloc+free pair*: the time of the timed part divided by
(allocs + frees) / 2 of that part, a denominator that is the same for every
implementation.

Two workloads:

* ``seed_scenario``: the seed's case, a 256-slot space, sizes uniform in 1..16,
  random churn kept between 50% and 75% occupancy (counted in requested slots).
* ``power_law_workload``: a large space (2**20 or 2**30 slots, or any, with
  explicit sizes) holding ``live`` blocks (1k ... 1M) whose sizes follow a
  truncated Pareto law; after the fill, each step frees a random live block
  and allocates a new one.

and two scenarios that are not replayed but run to their end, because where
they end depends on the policy: ``fill``, the uniform-size fill (allocate
blocks of one size until the first ``OutOfSpace``; ``uniform_sizes`` draws the
seeded random sizes it is run with), and ``refill`` (replay a workload, then
allocate its sizes again, without frees, until the first ``OutOfSpace``).

``replay`` runs a workload on anything with ``alloc(size)`` and ``free(offset)``
and ``run_side_by_side`` times several implementations interleaved (warm-up
rounds, then repeats, the order rotated each round), which is what both the
``rangealloc compare`` command and ``bench/run.py`` use; ``run_cases`` does the
same for several workloads at once (so that a ratio between two workloads is
measured side by side too).

``NaiveSetScan`` is the seed's original allocator, kept here as the baseline of
the comparisons and not exported by the library.  ``CallFloor`` does nothing
at all: timed through the same harness, it is the floor every figure stands
on (the replay loop plus one Python call per alloc and per free).
``TableFloor`` adds the one structure every policy keeps, the block table.

Pure standard library: no ``rich`` here (the CLI adds the display).
"""

from __future__ import annotations

import gc
import random
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from time import process_time_ns
from typing import Protocol

from ._errors import InvalidBlock, OutOfSpace, check_size
from ._registry import policy_named

__all__ = [
    "FLOOR",
    "NAIVE",
    "TABLE_FLOOR",
    "CallFloor",
    "Fill",
    "NaiveSetScan",
    "Replay",
    "Runner",
    "TableFloor",
    "Target",
    "Timing",
    "Workload",
    "fill",
    "fresh",
    "implementations",
    "power_law_sizes",
    "power_law_workload",
    "refill",
    "replay",
    "run_cases",
    "run_runners",
    "run_side_by_side",
    "seed_scenario",
    "uniform_sizes",
]

#: The name the naive baseline goes by in tables and JSON output.
NAIVE = "naive-scan"
#: The name the call floor (``CallFloor``) goes by in tables and JSON output.
FLOOR = "(call floor)"
#: The name the block-table floor (``TableFloor``) goes by in tables and JSON output.
TABLE_FLOOR = "(block table)"


class Target(Protocol):
    """What a workload needs from an allocator: ``alloc(size) -> offset`` and ``free(offset)``."""

    def alloc(self, size: int, /) -> int:
        """Claim ``size`` slots; return the offset.  Raises ``OutOfSpace`` if nothing fits."""
        ...

    def free(self, offset: int, /) -> None:
        """Release the block that starts at ``offset``."""
        ...


# ------------------------------------------------------------------ baseline


class NaiveSetScan:
    """The seed's naive allocator: scan every start offset, test each slot against a set.

    ``alloc(size)`` tries offsets ``0, 1, ..., capacity - size`` in order and,
    for each, tests slot by slot whether it is in the set of used slots; the
    first offset whose ``size`` slots are all free wins (so placement is first
    fit).  ``free`` removes the block's slots from the set.

    Time: alloc O(capacity x size) slot tests; free O(size).

    Only ``alloc`` and ``free``: it is the baseline of the benchmarks, not a policy.

    >>> a = NaiveSetScan(16)
    >>> x, y = a.alloc(4), a.alloc(4)
    >>> a.free(x); a.alloc(2), a.alloc(4)
    (0, 8)
    """

    __slots__ = ("_blocks", "_used", "capacity")

    def __init__(self, capacity: int) -> None:
        """Make an empty allocator over ``[0, capacity)``.  Raises ``ValueError`` if capacity <= 0."""
        self.capacity = check_size(capacity, "capacity")
        self._used: set[int] = set()
        self._blocks: dict[int, int] = {}

    def alloc(self, size: int) -> int:
        """Claim the lowest ``size`` free consecutive slots; return the offset.

        Time: O(capacity x size).  Raises ``OutOfSpace`` if no run of ``size`` free slots exists.
        """
        used = self._used
        for start in range(self.capacity - size + 1):
            for slot in range(start, start + size):
                if slot in used:
                    break
            else:
                used.update(range(start, start + size))
                self._blocks[start] = size
                return start
        raise OutOfSpace(f"no hole fits size {size}: naive scan over capacity {self.capacity}")

    def free(self, offset: int) -> None:
        """Release the block at ``offset``.  Time: O(size).  Raises ``InvalidBlock`` if none starts there."""
        size = self._blocks.pop(offset, 0)
        if not size:
            raise InvalidBlock(f"free: offset {offset} is not the start of a live block")
        self._used.difference_update(range(offset, offset + size))


class CallFloor:
    """The call floor: an allocator that does nothing, with the policies' signatures.

    ``alloc(size, align=1)`` returns offset 0 and ``free(offset)`` returns at
    once.  Replayed through the same harness as the policies, its cost per
    pair is the replay loop plus two empty Python method calls: the least any
    pure-Python allocator can cost there, which every other figure includes.
    Policies are reported as multiples of it.

    Time: O(1).

    >>> floor = CallFloor(1 << 20)
    >>> floor.alloc(100), floor.alloc(7, align=8), floor.free(0)
    (0, 0, None)
    """

    __slots__ = ("capacity",)

    def __init__(self, capacity: int) -> None:
        """Keep ``capacity`` (unused: every factory of the harness is called with it)."""
        self.capacity = capacity

    def alloc(self, size: int, align: int = 1) -> int:
        """Return offset 0.  Time: O(1)."""
        return 0

    def free(self, offset: int) -> None:
        """Do nothing.  Time: O(1)."""


class TableFloor:
    """The call floor plus the block table that every policy keeps, and nothing else.

    ``alloc(size, align=1)`` hands out the next offset of a bump pointer and
    records ``{offset: size}`` in a dict; ``free(offset)`` pops it.  Every
    policy of the contract keeps that table (``size_of``, ``free``'s check),
    so timed beside them at 1k and at 1M live blocks it shows how much of a
    policy's growth with the live count is only that one dict getting too
    big for the caches.  Offsets are never reused (the bump pointer may run
    past ``capacity``: nothing is placed), so ``alloc`` never fails.

    Time: O(1).

    >>> table = TableFloor(100)
    >>> table.alloc(10), table.alloc(5, align=8), table.free(0), table.alloc(1)
    (0, 10, None, 15)
    """

    __slots__ = ("_blocks", "_next", "capacity")

    def __init__(self, capacity: int) -> None:
        """An empty table; ``capacity`` is kept but not enforced."""
        self.capacity = capacity
        self._blocks: dict[int, int] = {}
        self._next = 0

    def alloc(self, size: int, align: int = 1) -> int:
        """Record a block of ``size`` at the bump pointer; return its offset.  Time: O(1)."""
        offset = self._next
        self._next = offset + size
        self._blocks[offset] = size
        return offset

    def free(self, offset: int) -> None:
        """Forget the block at ``offset``.  Time: O(1).  Raises ``KeyError`` if none is recorded there."""
        del self._blocks[offset]


# ------------------------------------------------------------------ workloads


@dataclass(frozen=True)
class Workload:
    """A fixed sequence of events: ``setup`` (replayed, not timed), then ``timed``.

    Events are ints: ``size > 0`` allocates (ids are given in event order),
    ``~id < 0`` frees that id.  ``allocs`` and ``frees`` count the timed part.
    """

    name: str
    capacity: int
    setup: list[int]
    timed: list[int]
    allocs: int
    frees: int
    description: str

    @property
    def pairs(self) -> float:
        """Alloc+free pairs in the timed part: ``(allocs + frees) / 2``."""
        return (self.allocs + self.frees) / 2


def _workload(name: str, capacity: int, setup: list[int], timed: list[int], description: str) -> Workload:
    allocs = sum(1 for event in timed if event > 0)
    return Workload(name, capacity, setup, timed, allocs, len(timed) - allocs, description)


def seed_scenario(
    seed: int = 0,
    events: int = 20_000,
    *,
    capacity: int = 256,
    max_size: int = 16,
    low: float = 0.50,
    high: float = 0.75,
) -> Workload:
    """The seed's scenario: random alloc/free churn between ``low`` and ``high`` occupancy.

    Sizes are uniform in ``1..max_size``.  Occupancy counts *requested* slots
    (the size of every block asked for and not yet freed, whether or not the
    alloc succeeded), so the events do not depend on placement.  Each step
    draws a size and a random live block, then:

    * alloc if that keeps occupancy <= ``high`` and freeing would drop it below ``low``;
    * free the drawn block if alloc would exceed ``high``;
    * otherwise a coin flip.

    From empty, the space fills until occupancy reaches ``low`` (the ``setup``
    part); from then on it stays within ``[low, high]`` for the ``events``
    timed events (``high - low`` must leave room for two blocks of ``max_size``,
    so one of the two moves is always possible).

    Time: O(setup + events).  Raises ``ValueError`` for a band too narrow.

    >>> w = seed_scenario(seed=1, events=100)
    >>> w.capacity, len(w.timed), w == seed_scenario(seed=1, events=100)
    (256, 100, True)
    """
    lo = int(capacity * low)
    hi = int(capacity * high)
    if not 0 < lo < hi <= capacity or hi - lo < 2 * max_size:
        raise ValueError(
            f"occupancy band [{lo}, {hi}] of capacity {capacity} must be inside the space "
            f"and leave room for two blocks of max size {max_size}"
        )
    rng = random.Random(seed)
    randint = rng.randint
    randrange = rng.randrange
    coin = rng.random
    setup: list[int] = []
    timed: list[int] = []
    out = setup
    sizes: list[int] = []  # requested size, by id
    live: list[int] = []  # ids of live blocks, in no order (swap-remove)
    used = 0
    while len(timed) < events:
        size = randint(1, max_size)
        index = randrange(len(live)) if live else -1
        can_free = index >= 0 and used - sizes[live[index]] >= lo
        if used + size <= hi and (not can_free or coin() < 0.5):
            out.append(size)
            live.append(len(sizes))
            sizes.append(size)
            used += size
        else:
            victim = live[index]
            live[index] = live[-1]
            live.pop()
            out.append(~victim)
            used -= sizes[victim]
        if out is setup and used >= lo:
            out = timed
    return _workload(
        "seed",
        capacity,
        setup,
        timed,
        f"seed scenario: capacity {capacity}, sizes 1..{max_size}, "
        f"churn at {low:.0%}-{high:.0%} occupancy, seed {seed}",
    )


def power_law_sizes(capacity: int) -> tuple[int, int]:
    """The ``(min_size, max_size)`` of the power-law sizes for a space of ``capacity`` slots.

    ``min_size = capacity >> 20`` (at least 1) and ``max_size = capacity >> 10``:
    sizes 1..1024 in a 2**20-slot space, 1024..2**20 in a 2**30-slot space.
    With the Pareto exponent 1.5 the mean size is about 3 x ``min_size``, so
    100k live blocks fill about 30% of either space.

    >>> power_law_sizes(1 << 20), power_law_sizes(1 << 30)
    ((1, 1024), (1024, 1048576))
    """
    return max(1, capacity >> 20), max(1, capacity >> 10)


def power_law_workload(
    capacity: int,
    live: int,
    *,
    pairs: int = 20_000,
    settle: int | None = None,
    seed: int = 0,
    alpha: float = 1.5,
    max_fill: float = 0.5,
    sizes: tuple[int, int] | None = None,
) -> Workload:
    """Steady-state churn with ``live`` blocks of power-law sizes in ``[0, capacity)``.

    Sizes are ``int(min_size * X)`` with ``X`` Pareto(``alpha``), redrawn while
    above ``max_size`` (truncation by rejection); ``(min_size, max_size)`` is
    ``sizes`` if given, else ``power_law_sizes(capacity)``.  Explicit sizes
    let a very large space hold many blocks: 1M blocks of 2**20..2**30 slots
    (``power_law_sizes(2**40)``) would need three times 2**40 slots, 1M of
    2**16..2**26 need 17% of it.
    ``setup``: ``live`` allocs (the fill), then ``settle`` untimed churn pairs
    (default ``live``, so most of the first blocks are replaced and holes are
    spread over the space).  ``timed``: ``pairs`` churn pairs, each the free
    of a random live block followed by the alloc of a new one.

    Time: O(live + settle + pairs).  Raises ``ValueError`` if the live blocks
    ever need more than ``max_fill`` of the space (requested slots): the
    workload must leave failures rare, whatever the policy; or if ``sizes``
    is not ``1 <= min_size <= max_size``.

    >>> w = power_law_workload(1 << 20, 100, pairs=50)
    >>> w.name, len(w.setup), w.pairs
    ('power-law 2**20 / 100 live', 300, 50.0)
    >>> w = power_law_workload(1 << 40, 100, pairs=50, sizes=(1 << 16, 1 << 26))
    >>> min(event for event in w.setup + w.timed if event > 0) >= 1 << 16
    True
    """
    if sizes is None:
        min_size, max_size = power_law_sizes(capacity)
    else:
        min_size, max_size = sizes
        if not 1 <= min_size <= max_size:
            raise ValueError(f"sizes must be 1 <= min_size <= max_size, got {sizes}")
    settle = live if settle is None else settle
    rng = random.Random(seed)
    pareto = rng.paretovariate
    randrange = rng.randrange

    def draw() -> int:
        while True:
            size = int(min_size * pareto(alpha))
            if size <= max_size:
                return size

    size_of: list[int] = []  # requested size, by id
    ids: list[int] = []  # ids of live blocks, in no order (swap-remove)
    used = 0
    limit = int(capacity * max_fill)
    setup: list[int] = []
    timed: list[int] = []
    for step in range(live + settle + pairs):
        out = setup if step < live + settle else timed
        if step >= live:
            index = randrange(live)
            victim = ids[index]
            ids[index] = ids[-1]
            ids.pop()
            out.append(~victim)
            used -= size_of[victim]
        size = draw()
        out.append(size)
        ids.append(len(size_of))
        size_of.append(size)
        used += size
        if used > limit:
            raise ValueError(
                f"{live} live blocks of power-law sizes {min_size}..{max_size} need {used} slots, "
                f"more than {max_fill:.0%} of capacity {capacity}"
            )
    exponent = capacity.bit_length() - 1
    space = f"2**{exponent}" if capacity == 1 << exponent else str(capacity)
    return _workload(
        f"power-law {space} / {live} live",
        capacity,
        setup,
        timed,
        f"power-law sizes {min_size}..{max_size} (Pareto {alpha}), capacity {space}, "
        f"{live} live blocks, {settle} settle pairs, seed {seed}",
    )


# ---------------------------------------------------------- uniform fill


def uniform_sizes(seed: int, count: int, *, low: int = 8, high: int = 10_000) -> list[int]:
    """``count`` distinct sizes drawn log-uniformly from ``low..high`` (seeded), in the order drawn.

    Log-uniform, so that small and large sizes are equally represented.  The
    defaults keep every size at most 1% of a 2**20-slot space (so the best
    possible fill is >= 99%) and at least 8 (a fill with blocks of 1..7 slots
    is hundreds of thousands of allocs: the fixed sizes 3, 5, 7 cover those).

    Time: O(count) (expected).  Raises ``ValueError`` if ``low..high`` has
    fewer than ``count`` sizes or ``low < 1``.

    >>> uniform_sizes(0, 3) == uniform_sizes(0, 3)
    True
    >>> all(8 <= size <= 10_000 for size in uniform_sizes(1, 4))
    True
    """
    if low < 1 or high - low + 1 < count:
        raise ValueError(f"cannot draw {count} distinct sizes from {low}..{high}")
    rng = random.Random(seed)
    chosen: list[int] = []
    while len(chosen) < count:
        size = min(high, int(low * ((high + 1) / low) ** rng.random()))  # every size can come
        if size not in chosen:
            chosen.append(size)
    return chosen


@dataclass(frozen=True)
class Fill:
    """The outcome of ``fill``: how many blocks of one size fitted before the first failure.

    ``used`` counts requested slots (``blocks x size``); a policy that rounds
    sizes up (buddy) occupies more than that.  ``capped`` is true when the
    time budget ran out before any alloc failed (``blocks`` is then a lower
    bound).
    """

    capacity: int
    size: int
    blocks: int
    elapsed_ns: int
    capped: bool

    @property
    def used(self) -> int:
        """Requested slots placed: ``blocks x size``."""
        return self.blocks * self.size

    @property
    def utilisation(self) -> float:
        """``used / capacity``."""
        return self.used / self.capacity

    @property
    def best(self) -> float:
        """The best possible utilisation: ``floor(capacity / size) x size / capacity``."""
        return self.capacity // self.size * self.size / self.capacity

    @property
    def ns_per_alloc(self) -> float:
        """Mean time of one alloc of the fill, failed one included (CPU time)."""
        return self.elapsed_ns / (self.blocks + (not self.capped))


def fill(target: Target, capacity: int, size: int, *, budget_s: float | None = None) -> Fill:
    """The uniform-size fill: allocate ``size`` slots on an empty ``target`` until ``OutOfSpace``.

    ``capacity`` is the target's.  Where the first failure comes depends on
    the policy (rounding, size classes, fragmentation by alignment), which is
    what the fill measures: a policy that never refuses a request that fits
    reaches ``floor(capacity / size)`` blocks.  ``budget_s``, if given, stops
    the fill (``capped``) once that much CPU time has passed; the clock is
    read every 1024 allocs.

    Time: O(blocks) allocs.

    >>> f = fill(NaiveSetScan(100), 100, 30)
    >>> f.blocks, f.used, f.utilisation, f.best, f.capped
    (3, 90, 0.9, 0.9, False)
    """
    alloc = target.alloc
    blocks = 0
    deadline = None if budget_s is None else process_time_ns() + int(budget_s * 1e9)
    capped = False
    start = process_time_ns()
    try:
        while True:
            for _ in range(1024):
                alloc(size)
                blocks += 1
            if deadline is not None and process_time_ns() > deadline:
                capped = True
                break
    except OutOfSpace:
        pass
    return Fill(capacity, size, blocks, process_time_ns() - start, capped)


def refill(target: Target, workload: Workload) -> int:
    """Replay ``workload`` (untimed), then allocate its sizes again, in order, until ``OutOfSpace``.

    The utilisation a policy keeps under churn: after the workload has left
    its holes, the same sizes keep coming, with no more frees, until one
    does not fit.  Returns the requested slots live at that first failure
    (failed allocs of the replay excluded); divide by the capacity for the
    utilisation.  The sizes are cycled if the space outlasts them.

    Time: O(events + allocs of the refill).  Raises ``ValueError`` if the
    workload allocates nothing.

    >>> w = Workload("two", 10, setup=[4, 4, ~0], timed=[], allocs=0, frees=0, description="")
    >>> refill(NaiveSetScan(10), w)  # live: 4; refill with 4, then 4 (fits at 0), then 4 fails
    8
    """
    events = workload.setup + workload.timed
    sizes = [event for event in events if event > 0]
    if not sizes:
        raise ValueError(f"workload {workload.name!r} allocates nothing")
    offsets: list[int] = []
    _drive(target.alloc, target.free, events, offsets)
    # sizes[i] is block i's (ids are given in event order): live = placed - freed.
    used = sum(size for size, offset in zip(sizes, offsets, strict=True) if offset >= 0)
    used -= sum(sizes[~event] for event in events if event < 0 and offsets[~event] >= 0)
    alloc = target.alloc
    try:
        while True:
            for size in sizes:
                alloc(size)
                used += size
    except OutOfSpace:
        return used


# ------------------------------------------------------------------- harness


@dataclass(frozen=True)
class Replay:
    """The outcome of one ``replay``: time of the timed part, its pairs, failed allocs (all parts)."""

    elapsed_ns: int
    pairs: float
    failures: int

    @property
    def ns_per_pair(self) -> float:
        """Nanoseconds per alloc+free pair of the timed part."""
        return self.elapsed_ns / self.pairs if self.pairs else 0.0


def _drive(
    alloc: Callable[[int], int], free: Callable[[int], None], events: list[int], offsets: list[int]
) -> int:
    """Run ``events``; ``offsets`` maps id -> offset (-1: failed) and grows.  Return failures.

    This is the timed loop, the same for every implementation: locals and bound
    methods only, one int test per event; ``try`` costs nothing in CPython 3.11+
    unless an exception is raised.
    """
    failures = 0
    record = offsets.append
    for event in events:
        if event > 0:
            try:
                record(alloc(event))
            except OutOfSpace:
                record(-1)
                failures += 1
        else:
            offset = offsets[~event]
            if offset >= 0:
                free(offset)
    return failures


def replay(target: Target, workload: Workload) -> Replay:
    """Run ``workload`` on ``target``: ``setup`` untimed, then ``timed`` under the clock.

    The garbage collector is run before, and disabled during, the timed part
    (as ``timeit`` does), so a collection triggered by an earlier allocation
    is not billed to whichever implementation happens to be running.  The
    clock is the process's CPU time (``process_time_ns``), not wall time: on
    this shared two-core machine it leaves out the time other processes hold
    the core (it does not undo what they do to the caches).

    Time: the workload's events times the target's cost per event.

    >>> r = replay(NaiveSetScan(256), seed_scenario(events=200))
    >>> r.pairs, r.failures, r.elapsed_ns > 0
    (100.0, 0, True)
    """
    offsets: list[int] = []
    alloc = target.alloc
    free = target.free
    failures = _drive(alloc, free, workload.setup, offsets)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = process_time_ns()
        failures += _drive(alloc, free, workload.timed, offsets)
        elapsed = process_time_ns() - start
    finally:
        if enabled:
            gc.enable()
    return Replay(elapsed, workload.pairs, failures)


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one implementation on one workload."""

    name: str
    samples: list[float]
    failures: int

    @property
    def median(self) -> float:
        """Median ns per pair over the repeats (the number tables show)."""
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        """Fastest repeat, ns per pair (the least disturbed by other processes)."""
        return min(self.samples)


def run_side_by_side(
    workload: Workload,
    factories: Mapping[str, Callable[[int], Target]],
    *,
    repeat: int = 5,
    warmup: int = 1,
    on_replay: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Time every implementation on ``workload``, interleaved: ``warmup + repeat`` rounds.

    Each round replays the workload once on a fresh allocator from each
    factory (called with the workload's capacity), rotating the order from
    round to round, so a slow spell of the machine touches every
    implementation alike.  Warm-up rounds are discarded.  ``on_replay(name)``
    is called after each replay (for progress bars).

    Time: (warmup + repeat) x the replays.  Raises ``ValueError`` if repeat < 1
    or warmup < 0.  The result keeps the factories' order.
    """
    cases = {name: (workload, factory) for name, factory in factories.items()}
    return run_cases(cases, repeat=repeat, warmup=warmup, on_replay=on_replay)


def run_cases(
    cases: Mapping[str, tuple[Workload, Callable[[int], Target]]],
    *,
    repeat: int = 5,
    warmup: int = 1,
    on_replay: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Time named ``(workload, factory)`` cases interleaved, as ``run_side_by_side`` does.

    The general form: the cases may be different workloads (the same policy
    at 1k and at 100k live blocks), so that a ratio between two of them is
    also measured side by side.  ``run_runners`` with ``fresh(factory)``.

    Time: (warmup + repeat) x the replays.  Raises ``ValueError`` if repeat < 1
    or warmup < 0.  The result keeps the cases' order.
    """
    runners = {name: (workload, fresh(factory)) for name, (workload, factory) in cases.items()}
    return run_runners(runners, repeat=repeat, warmup=warmup, on_replay=on_replay)


#: Runs a workload and reports the timed part: ``fresh(factory)``, or a peer's own loop (bench/peers.py).
Runner = Callable[[Workload], Replay]


def fresh(factory: Callable[[int], Target]) -> Runner:
    """The runner that replays a workload on a new ``factory(workload.capacity)`` (``replay``)."""

    def run(workload: Workload) -> Replay:
        return replay(factory(workload.capacity), workload)

    return run


def run_runners(
    cases: Mapping[str, tuple[Workload, Runner]],
    *,
    repeat: int = 5,
    warmup: int = 1,
    on_replay: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Time named ``(workload, runner)`` cases interleaved: the loop under every side-by-side table.

    Each round runs every case once, the order rotated from round to round,
    so a slow spell of the machine touches every case alike; warm-up rounds
    are discarded.  ``on_replay(name)`` is called after each run with the
    case's name (for progress bars).

    Time: (warmup + repeat) x the runs.  Raises ``ValueError`` if repeat < 1
    or warmup < 0.  The result keeps the cases' order.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f"repeat must be >= 1 and warmup >= 0, got repeat {repeat}, warmup {warmup}")
    names = list(cases)
    samples: dict[str, list[float]] = {name: [] for name in names}
    failures = dict.fromkeys(names, 0)
    for round_ in range(warmup + repeat):
        shift = round_ % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            workload, runner = cases[name]
            result = runner(workload)
            if round_ >= warmup:
                samples[name].append(result.ns_per_pair)
            failures[name] = result.failures
            if on_replay is not None:
                on_replay(name)
    return {name: Timing(name, samples[name], failures[name]) for name in names}


def implementations(policies: Iterable[str], *, naive: bool = True) -> dict[str, Callable[[int], Target]]:
    """Factories for the named policies (from ``rangealloc.POLICIES``), plus the naive baseline.

    Raises ``ValueError`` for an unknown policy name.

    >>> list(implementations(["first-fit", "bitmap"]))
    ['first-fit', 'bitmap', 'naive-scan']
    """
    factories: dict[str, Callable[[int], Target]] = {}
    for name in policies:
        factories[name] = policy_named(name)
    if naive:
        factories[NAIVE] = NaiveSetScan
    return factories
