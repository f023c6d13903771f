"""The workload generators, the naive baseline and the timing harness (``rangealloc._workloads``)."""

from __future__ import annotations

import pytest

import rangealloc
from rangealloc._workloads import (
    NAIVE,
    NaiveSetScan,
    Workload,
    implementations,
    power_law_sizes,
    power_law_workload,
    replay,
    run_side_by_side,
    seed_scenario,
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


def test_run_side_by_side_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="repeat"):
        run_side_by_side(seed_scenario(0, 10), implementations([]), repeat=0)


def test_implementations() -> None:
    assert list(implementations(rangealloc.POLICIES)) == [*rangealloc.POLICIES, NAIVE]
    assert list(implementations(["best-fit"], naive=False)) == ["best-fit"]
    with pytest.raises(ValueError, match="unknown policy"):
        implementations(["worst-fit"])
