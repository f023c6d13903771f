"""The workload generators, the naive baseline and the timing harness (``rangealloc._workloads``)."""

from __future__ import annotations

import pytest

import rangealloc
from rangealloc._workloads import (
    FLOOR,
    NAIVE,
    TABLE_FLOOR,
    CallFloor,
    Fill,
    NaiveSetScan,
    Replay,
    Runner,
    TableFloor,
    Workload,
    fill,
    fresh,
    implementations,
    power_law_sizes,
    power_law_workload,
    refill,
    replay,
    run_cases,
    run_runners,
    run_side_by_side,
    seed_scenario,
    uniform_sizes,
)


def occupancy(workload: Workload) -> tuple[list[int], list[int]]:
    """Requested slots live after each event of ``setup``, and of ``timed``; asserts frees are of live ids."""
    sizes: list[int] = []
    live: set[int] = set()
    used = 0
    parts: list[list[int]] = []
    for events in (workload.setup, workload.timed):
        trace = []
        for event in events:
            if event > 0:
                live.add(len(sizes))
                sizes.append(event)
                used += event
            else:
                assert ~event in live, f"free of id {~event}, not live"
                live.remove(~event)
                used -= sizes[~event]
            trace.append(used)
        parts.append(trace)
    return parts[0], parts[1]


class Recorder:
    """Wraps a target and records what every alloc returned (-1 for ``OutOfSpace``)."""

    def __init__(self, target: rangealloc.Allocator | NaiveSetScan) -> None:
        self.target = target
        self.offsets: list[int] = []

    def alloc(self, size: int) -> int:
        try:
            offset = self.target.alloc(size)
        except rangealloc.OutOfSpace:
            self.offsets.append(-1)
            raise
        self.offsets.append(offset)
        return offset

    def free(self, offset: int) -> None:
        self.target.free(offset)


# ------------------------------------------------------------ seed scenario


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_seed_scenario_is_deterministic(seed: int) -> None:
    first = seed_scenario(seed, 3_000)
    assert first == seed_scenario(seed, 3_000)
    assert first.timed != seed_scenario(seed + 1, 3_000).timed
    assert len(first.timed) == 3_000
    assert first.allocs + first.frees == 3_000
    assert first.pairs == 1_500


@pytest.mark.parametrize("seed", [0, 1, 7, 99])
def test_seed_scenario_stays_between_50_and_75_percent(seed: int) -> None:
    workload = seed_scenario(seed, 20_000)
    setup, timed = occupancy(workload)
    assert all(used < 128 for used in setup[:-1]), "setup ends as soon as occupancy reaches 50%"
    assert setup[-1] >= 128
    assert min(timed) >= 128
    assert max(timed) <= 192
    # Both moves happen, and the band is used, not just one edge of it.
    assert 0.4 < workload.allocs / len(workload.timed) < 0.6
    assert min(timed) < 140
    assert max(timed) > 180


def test_seed_scenario_sizes_are_1_to_16() -> None:
    workload = seed_scenario(3, 20_000)
    sizes = [event for event in workload.setup + workload.timed if event > 0]
    assert set(sizes) == set(range(1, 17))


def test_seed_scenario_rejects_a_band_too_narrow() -> None:
    with pytest.raises(ValueError, match="room for two blocks"):
        seed_scenario(0, 100, capacity=64, max_size=16)


# -------------------------------------------------------- power-law workload


def test_power_law_sizes_scale_with_the_space() -> None:
    assert power_law_sizes(1 << 20) == (1, 1 << 10)
    assert power_law_sizes(1 << 30) == (1 << 10, 1 << 20)


@pytest.mark.parametrize("exponent", [20, 30])
def test_power_law_workload_keeps_live_blocks_constant(exponent: int) -> None:
    capacity = 1 << exponent
    live = 500
    workload = power_law_workload(capacity, live, pairs=1_000, seed=5)
    assert workload == power_law_workload(capacity, live, pairs=1_000, seed=5)
    assert len(workload.setup) == live + 2 * live  # fill, then `live` settle pairs
    assert workload.allocs == workload.frees == 1_000
    low, high = power_law_sizes(capacity)
    sizes = [event for event in workload.setup + workload.timed if event > 0]
    assert low <= min(sizes)
    assert max(sizes) <= high
    sizes.sort()
    assert sizes[len(sizes) // 2] < 2 * low, "a power law: most blocks are small"
    assert sizes[-1] > 100 * low, "... and a few are large"
    # Each timed pair frees a live block, then allocates: live count stays at `live`.
    frees = workload.timed[0::2]
    allocs = workload.timed[1::2]
    assert all(event < 0 for event in frees)
    assert all(event > 0 for event in allocs)
    _, used = occupancy(workload)
    assert max(used) <= capacity // 2


def test_power_law_workload_refuses_to_overfill() -> None:
    with pytest.raises(ValueError, match="more than 50% of capacity"):
        power_law_workload(1 << 12, 10_000, pairs=10)


def test_power_law_workload_with_explicit_sizes() -> None:
    """The scaling section's shape: 2**16..2**26 in 2**40 slots, where the default sizes would not fit 1M."""
    sizes = (1 << 16, 1 << 26)
    workload = power_law_workload(1 << 40, 2_000, pairs=500, seed=3, sizes=sizes)
    drawn = [event for event in workload.setup + workload.timed if event > 0]
    assert sizes[0] <= min(drawn)
    assert max(drawn) <= sizes[1]
    assert sorted(drawn)[len(drawn) // 2] < 2 * sizes[0]
    assert "65536..67108864" in workload.description
    assert workload.timed == power_law_workload(1 << 40, 2_000, pairs=500, seed=3, sizes=sizes).timed
    # The default sizes of 2**40 are 2**20..2**30: far fewer blocks fit in half the space.
    with pytest.raises(ValueError, match="more than 50% of capacity"):
        power_law_workload(1 << 24, 2_000, pairs=10, sizes=(1 << 12, 1 << 14))


@pytest.mark.parametrize("sizes", [(0, 10), (10, 9)])
def test_power_law_workload_rejects_bad_sizes(sizes: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="min_size <= max_size"):
        power_law_workload(1 << 20, 10, pairs=10, sizes=sizes)


def test_power_law_workload_fits_every_policy_without_failures() -> None:
    workload = power_law_workload(1 << 20, 2_000, pairs=500)
    for name, cls in rangealloc.POLICIES.items():
        assert replay(cls(1 << 20), workload).failures == 0, name


# ------------------------------------------------------------ naive baseline


def test_naive_scan_agrees_with_first_fit() -> None:
    """Same events, same offsets, same failures: the naive scan places blocks by first fit."""
    workload = seed_scenario(4, 4_000)
    naive = Recorder(NaiveSetScan(256))
    first = Recorder(rangealloc.FirstFit(256))
    naive_run = replay(naive, workload)
    first_run = replay(first, workload)
    assert naive.offsets == first.offsets
    assert naive_run.failures == first_run.failures
    assert len(naive.offsets) == sum(1 for event in workload.setup + workload.timed if event > 0)


def test_naive_scan_small_sequence() -> None:
    naive = NaiveSetScan(32)
    first = rangealloc.FirstFit(32)
    for target in (naive, first):
        a, b, c = target.alloc(8), target.alloc(4), target.alloc(8)
        assert (a, b, c) == (0, 8, 12)
        target.free(b)
        assert target.alloc(2) == 8  # into the hole left by b
        assert target.alloc(3) == 20  # the 2 slots left at 10 are too few
        target.free(a)
        assert target.alloc(9) == 23
        with pytest.raises(rangealloc.OutOfSpace):
            target.alloc(9)


def test_naive_scan_errors() -> None:
    naive = NaiveSetScan(16)
    with pytest.raises(rangealloc.OutOfSpace):
        naive.alloc(17)
    offset = naive.alloc(4)
    naive.free(offset)
    with pytest.raises(rangealloc.InvalidBlock):
        naive.free(offset)
    with pytest.raises(ValueError, match="capacity"):
        NaiveSetScan(0)


def test_naive_scan_is_not_public() -> None:
    assert "NaiveSetScan" not in rangealloc.__all__
    assert not hasattr(rangealloc, "NaiveSetScan")


# ------------------------------------------------------------- call floor


def test_call_floor_has_the_policies_signatures() -> None:
    floor = CallFloor(1 << 20)
    assert floor.capacity == 1 << 20
    assert floor.alloc(100) == 0
    assert floor.alloc(100, align=64) == 0
    assert floor.alloc(size=3, align=1) == 0
    floor.free(0)
    assert not hasattr(floor, "__dict__"), "slots: as cheap to call as it can be"


def test_call_floor_replays_every_workload_without_failures() -> None:
    workload = power_law_workload(1 << 20, 200, pairs=100)
    result = replay(CallFloor(1 << 20), workload)
    assert result.failures == 0
    assert result.pairs == 100


def test_call_floor_is_cheaper_than_any_policy() -> None:
    """Timed beside the policies: the floor is below every one of them (by a wide margin)."""
    workload = seed_scenario(0, 2_000)
    factories = {**implementations(rangealloc.POLICIES, naive=False), FLOOR: CallFloor}
    cases = {name: (workload, factory) for name, factory in factories.items()}
    timings = run_cases(cases, repeat=3, warmup=1)
    floor = timings[FLOOR].min
    assert all(timings[name].min > floor for name in rangealloc.POLICIES)


def test_table_floor_keeps_the_block_table_only() -> None:
    table = TableFloor(16)
    assert [table.alloc(8), table.alloc(8), table.alloc(4, align=4)] == [0, 8, 16]
    assert table.capacity == 16, "kept, not enforced: nothing is placed"
    table.free(8)
    with pytest.raises(KeyError):
        table.free(8)
    assert table.alloc(1) == 20, "offsets are never reused"


def test_table_floor_sits_between_the_call_floor_and_the_policies() -> None:
    workload = power_law_workload(1 << 20, 1_000, pairs=2_000)
    factories = {"tlsf": rangealloc.TLSF, TABLE_FLOOR: TableFloor, FLOOR: CallFloor}
    timings = run_cases({name: (workload, f) for name, f in factories.items()}, repeat=3, warmup=1)
    assert timings[FLOOR].min < timings[TABLE_FLOOR].min < timings["tlsf"].min
    assert all(timing.failures == 0 for timing in timings.values())


# ----------------------------------------------------------- uniform fill


def test_uniform_sizes_are_seeded_distinct_and_in_range() -> None:
    sizes = uniform_sizes(7, 20)
    assert sizes == uniform_sizes(7, 20)
    assert sizes != uniform_sizes(8, 20)
    assert len(set(sizes)) == 20
    assert all(8 <= size <= 10_000 for size in sizes)
    assert uniform_sizes(7, 5) == sizes[:5], "a prefix: asking for more sizes keeps the first ones"
    assert min(sizes) < 100, "log-uniform: small sizes are drawn..."
    assert max(sizes) > 1_000, "... and large ones"
    assert set(uniform_sizes(0, 6, low=2, high=7)) == set(range(2, 8))


def test_uniform_sizes_rejects_too_narrow_a_range() -> None:
    with pytest.raises(ValueError, match="distinct sizes"):
        uniform_sizes(0, 5, low=2, high=5)
    with pytest.raises(ValueError, match="distinct sizes"):
        uniform_sizes(0, 1, low=0, high=5)


@pytest.mark.parametrize("size", [1, 3, 7, 100, 1025, 5000])
@pytest.mark.parametrize("policy", ["first-fit", "next-fit", "best-fit", "bitmap", "tlsf"])
def test_fill_reaches_the_best_possible(policy: str, size: int) -> None:
    """No false out-of-space: filling with one size stops at floor(capacity / size) blocks."""
    capacity = 1 << 13
    allocator = rangealloc.create(policy, capacity)
    result = fill(allocator, capacity, size)
    assert result == Fill(capacity, size, capacity // size, result.elapsed_ns, capped=False)
    assert result.used == capacity // size * size == allocator.stats().used
    assert result.utilisation == result.best == result.used / capacity
    assert allocator.stats().largest_hole < size
    assert result.ns_per_alloc == result.elapsed_ns / (result.blocks + 1)


@pytest.mark.parametrize(("size", "blocks"), [(3, 2048), (5, 1024), (1025, 4), (4097, 1), (8192, 1)])
def test_fill_buddy_rounds_to_powers_of_two(size: int, blocks: int) -> None:
    capacity = 1 << 13
    result = fill(rangealloc.Buddy(capacity), capacity, size)
    assert result.blocks == blocks
    assert result.utilisation == blocks * size / capacity
    assert result.utilisation <= result.best


def test_fill_on_a_size_above_capacity_places_nothing() -> None:
    result = fill(rangealloc.FirstFit(100), 100, 101)
    assert (result.blocks, result.used, result.best, result.capped) == (0, 0, 0.0, False)
    assert result.ns_per_alloc == result.elapsed_ns  # the one failed alloc


def test_fill_stops_at_its_budget() -> None:
    capacity = 1 << 22
    result = fill(rangealloc.FirstFit(capacity), capacity, 1, budget_s=0.0)
    assert result.capped
    assert result.blocks == 1024, "the clock is read every 1024 allocs"
    assert result.ns_per_alloc == result.elapsed_ns / 1024


# ------------------------------------------------------------------ refill


def test_refill_counts_the_requested_slots_live_at_the_first_failure() -> None:
    # Live after the workload: id 1 (4 slots at 4); hole [0, 4) and [8, 16).
    workload = Workload("w", 16, setup=[4, 4, 4, ~0, ~2], timed=[], allocs=0, frees=0, description="")
    first = rangealloc.FirstFit(16)
    # Refill with 4, 4, 4: at 0, 8, 12; then 4 again fails: 4 + 12 live.
    assert refill(first, workload) == 16
    assert first.stats().used == 16


def test_refill_skips_failed_allocs_and_cycles_sizes() -> None:
    # 6 fails in 10 slots after 5; its free (~1) is skipped; then the refill cycles 5, 6: 5 fits, 6 fails.
    workload = Workload("w", 10, setup=[5, 6, ~1], timed=[], allocs=0, frees=0, description="")
    assert refill(rangealloc.FirstFit(10), workload) == 10
    workload = Workload("w", 100, setup=[1], timed=[2], allocs=1, frees=0, description="")
    # 1, 2 (3 live), then (1, 2) x 32 (99), then 1 fits (100) and 2 fails.
    assert refill(rangealloc.FirstFit(100), workload) == 100


def test_refill_of_a_workload_that_allocates_nothing() -> None:
    with pytest.raises(ValueError, match="allocates nothing"):
        refill(rangealloc.FirstFit(10), Workload("w", 10, [], [], 0, 0, ""))


@pytest.mark.parametrize("policy", ["first-fit", "best-fit", "tlsf"])
def test_refill_after_power_law_churn_uses_nearly_all_the_space(policy: str) -> None:
    capacity = 1 << 20
    workload = power_law_workload(capacity, 1_000, pairs=500)
    used = refill(rangealloc.create(policy, capacity), workload)
    assert 0.99 * capacity < used <= capacity


# ------------------------------------------------------------------- harness


def test_replay_counts_failures_and_skips_their_frees() -> None:
    # capacity 10: the third alloc fails; its free (~2) must be skipped, not sent to free(-1).
    workload = Workload("tiny", 10, setup=[4, 4], timed=[5, ~2, ~0, 3], allocs=2, frees=2, description="")
    result = replay(rangealloc.FirstFit(10), workload)
    assert result.failures == 1
    assert result.pairs == 2
    assert result.elapsed_ns > 0
    assert result.ns_per_pair == result.elapsed_ns / 2


def test_run_side_by_side_interleaves_and_rotates() -> None:
    workload = seed_scenario(0, 200)
    order: list[str] = []
    factories = implementations(["first-fit", "bitmap"])
    timings = run_side_by_side(workload, factories, repeat=2, warmup=1, on_replay=order.append)
    assert list(timings) == ["first-fit", "bitmap", NAIVE]
    assert order == [
        *("first-fit", "bitmap", NAIVE),
        *("bitmap", NAIVE, "first-fit"),
        *(NAIVE, "first-fit", "bitmap"),
    ]
    for timing in timings.values():
        assert len(timing.samples) == 2  # the warm-up round is discarded
        assert timing.min <= timing.median
        assert timing.failures == 0


def test_run_runners_times_any_runner_with_its_own_workload() -> None:
    """A runner is any workload -> Replay callable (bench/peers.py times peers' own loops with it)."""
    small, large = seed_scenario(0, 100), seed_scenario(1, 300)
    seen: list[tuple[str, Workload]] = []

    def fixed(name: str, ns: int) -> Runner:
        def run(workload: Workload) -> Replay:
            seen.append((name, workload))
            return Replay(ns * int(workload.pairs), workload.pairs, 0)

        return run

    timings = run_runners(
        {
            "a": (small, fixed("a", 10)),
            "b": (large, fixed("b", 30)),
            "c": (small, fresh(rangealloc.FirstFit)),
        },
        repeat=2,
        warmup=1,
    )
    assert [name for name, _ in seen] == ["a", "b", "b", "a", "a", "b"], "rotated; c is timed too, not seen"
    assert all(workload is (small if name == "a" else large) for name, workload in seen)
    assert timings["a"].samples == [10, 10] and timings["b"].samples == [30, 30]
    assert timings["c"].failures == 0 and len(timings["c"].samples) == 2
    with pytest.raises(ValueError, match="warmup"):
        run_runners({"a": (small, fixed("a", 1))}, warmup=-1)


def test_run_side_by_side_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="repeat"):
        run_side_by_side(seed_scenario(0, 10), implementations([]), repeat=0)


def test_implementations() -> None:
    assert list(implementations(rangealloc.POLICIES)) == [*rangealloc.POLICIES, NAIVE]
    assert list(implementations(["best-fit"], naive=False)) == ["best-fit"]
    with pytest.raises(ValueError, match="unknown policy"):
        implementations(["worst-fit"])
