"""``rangealloc.replay``: the extent model, the fixed-space model, quantum, moments, bad options."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rangealloc
from rangealloc import POLICIES, FirstFit, TraceError, replay, replay_until
from rangealloc._replay import SAMPLES
from rangealloc.trace import Event

# [0 a0:10)[10 a1:5) ; free a0 ; a2:12 does not fit the hole of 10: the space grows to 27.
SMALL: list[Event] = [("a", 0, 10), ("a", 1, 5), ("f", 0, 0), ("a", 2, 12)]


def churn(seed: int, events: int, *, high: int = 64, reallocs: bool = True) -> list[Event]:
    """Random valid events: allocs, frees and resizes of live ids."""
    rng = random.Random(seed)
    out: list[Event] = []
    live: list[int] = []
    next_id = 0
    for _ in range(events):
        roll = rng.random()
        if live and roll < 0.4:
            out.append(("f", live.pop(rng.randrange(len(live))), 0))
        elif live and reallocs and roll < 0.5:
            out.append(("r", rng.choice(live), rng.randint(1, high)))
        else:
            out.append(("a", next_id, rng.randint(1, high)))
            live.append(next_id)
            next_id += 1
    return out


def test_extent_model_grows_by_just_enough() -> None:
    r = replay(SMALL, "first-fit")
    assert (r.events, r.failures, r.model) == (4, 0, "extent")
    assert r.peak_live == 17  # 10 + 5, then 5 + 12
    assert r.peak_extent == r.capacity == 27  # a2 at [15, 27): the top hole was empty
    assert r.fragmentation == pytest.approx(27 / 17 - 1)
    assert r.first_failure_utilisation is None


def test_extent_model_reuses_the_top_hole_before_growing() -> None:
    # a1 freed leaves [10, 15) free at the top: a 12-slot request needs 7 more slots, not 12.
    events: list[Event] = [("a", 0, 10), ("a", 1, 5), ("f", 1, 0), ("a", 2, 12)]
    r = replay(events, "first-fit")
    assert r.peak_extent == r.capacity == 22


def test_next_fit_wraps_around_before_growing() -> None:
    # The pointer is at 15 (end of the space) when a 10 arrives: the hole [0, 10) takes it.
    events: list[Event] = [("a", 0, 10), ("a", 1, 5), ("f", 0, 0), ("a", 2, 10)]
    r = replay(events, "next-fit")
    assert r.peak_extent == 15
    assert r.fragmentation == pytest.approx(0.0)


def test_extent_model_grows_a_block_in_place_at_the_top() -> None:
    events: list[Event] = [("a", 0, 10), ("a", 1, 5), ("r", 1, 20)]
    r = replay(events, "first-fit")
    assert r.peak_extent == r.capacity == 30  # [10, 15) grew to [10, 30): 15 more slots
    assert r.peak_live == 30


def test_fixed_model_counts_failures_and_skips_the_failed_ids() -> None:
    events: list[Event] = [
        ("a", 0, 10),
        ("a", 1, 5),
        ("f", 0, 0),
        ("a", 2, 12),
        ("r", 2, 3),
        ("f", 2, 0),
        ("a", 3, 4),
    ]
    r = replay(events, "first-fit", capacity=16)
    assert r.model == "fixed"
    assert r.failures == 1  # a2 found no hole; its resize and free are skipped
    assert r.first_failure_utilisation == pytest.approx(5 / 16)
    assert r.capacity == 16
    s = replay_until(events, "first-fit", capacity=16)
    assert list(s.allocator.blocks()) == [(0, 4), (10, 5)]


def test_fixed_model_keeps_a_block_whose_resize_failed() -> None:
    events: list[Event] = [("a", 0, 10), ("a", 1, 5), ("r", 0, 14), ("f", 0, 0)]
    r = replay(events, "first-fit", capacity=16)
    assert r.failures == 1
    assert r.peak_live == 15  # the failed resize did not count
    s = replay_until(events, "first-fit", capacity=16, at=3)
    assert list(s.allocator.blocks()) == [(0, 10), (10, 5)]  # a0 still 10 slots, then freed by event 3
    assert list(replay_until(events, "first-fit", capacity=16).allocator.blocks()) == [(10, 5)]


def test_headroom_sizes_the_space_from_the_peak_live() -> None:
    r = replay(SMALL, "first-fit", headroom=2.0)
    assert r.capacity == 34  # 2 x peak live 17
    assert r.failures == 0


def test_quantum_rounds_the_blocks_not_the_live_size() -> None:
    r = replay(SMALL, "first-fit", quantum=16)
    assert r.peak_live == 17
    # [0,16) [16,32) ; free the first ; 12 -> 16 fits [0,16): the extent stays 32.
    assert r.peak_extent == 32
    assert r.quantum == 16


def test_buddy_extent_counts_the_rounded_blocks() -> None:
    r = replay([("a", 0, 5), ("a", 1, 3)], "buddy")
    assert r.peak_live == 8
    assert r.peak_extent == 12  # [0, 8) and [8, 12)
    assert r.failures == 0


def test_policy_may_be_a_class() -> None:
    assert replay(SMALL, FirstFit).policy == "first-fit"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"capacity": 10, "headroom": 1.5}, "not both"),
        ({"capacity": 0}, "capacity must be a positive int, got 0"),
        ({"headroom": -1.0}, "headroom must be > 0, got -1.0"),
        ({"quantum": 0}, "quantum must be an int >= 1, got 0"),
    ],
)
def test_bad_options_raise_value_error(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replay(SMALL, "first-fit", **options)  # type: ignore[arg-type]


def test_unknown_policy_is_named() -> None:
    with pytest.raises(ValueError, match="unknown policy 'worst-fit'"):
        replay(SMALL, "worst-fit")
    with pytest.raises(TypeError, match="policy must be"):
        replay(SMALL, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([("a", 0, 1), ("a", 5, 1)], "event 1: block id 5 is not the next id 1"),
        ([("a", 0, 1), ("x", 0, 1)], "event 1: unknown operation 'x'"),
        ([("a", 0, 1), ("f", 0, 0), ("f", 0, 0)], "event 2: block id 0 is not live"),
        ([("f", 3, 0)], "event 0: block id 3 is not live"),
        ([("a", 0, 1), ("r", -1, 4)], "event 1: block id -1 is not live"),
        ([("a", 0, 0)], "event 0: size must be a positive int, got 0"),
        ([("a", 0, 1), ("r", 0, 2.5)], "event 1: size must be a positive int, got 2.5"),
    ],
)
def test_bad_events_raise_trace_error(events: list[Event], message: str) -> None:
    with pytest.raises(TraceError, match=message):
        replay(events, "first-fit")
    with pytest.raises(TraceError, match=message):
        replay(events, "tlsf", headroom=2.0)


def test_series_samples_the_whole_replay() -> None:
    events = churn(1, 5 * SAMPLES * 4)
    r = replay(events, "tlsf")
    indices = [index for index, _, _ in r.series]
    assert indices == sorted(set(indices))
    assert indices[0] == 0
    assert indices[-1] == len(events)
    assert SAMPLES <= len(r.series) <= 2 * SAMPLES + 1
    assert all(live <= extent for _, live, extent in r.series)
    assert max(live for _, live, _ in r.series) <= r.peak_live
    assert r.series[-1][2] == r.peak_extent


def test_replay_until_moments() -> None:
    s = replay_until(SMALL, "first-fit", at=2)
    assert (s.event, s.live, s.extent) == (2, 15, 15)
    assert list(s.allocator.blocks()) == [(0, 10), (10, 5)]
    assert s.born == {0: 0, 10: 1}
    peak = replay_until(SMALL, "first-fit", at="peak")
    assert (peak.event, peak.live) == (4, 17)  # the peak is reached by the last event
    end = replay_until(SMALL, "first-fit", at="end")
    assert end.event == 4
    assert end.born == {10: 1, 15: 3}
    with pytest.raises(ValueError, match="at must be"):
        replay_until(SMALL, "first-fit", at="middle")


@pytest.mark.parametrize("policy", list(POLICIES))
def test_every_policy_replays_churn_without_failure_in_the_extent_model(policy: str) -> None:
    events = churn(7, 3000)
    r = replay(events, policy)
    assert r.failures == 0
    assert r.peak_extent >= r.peak_live > 0
    end = replay_until(events, policy)
    end.allocator.check()
    live_ids = _live_ids(events)
    assert len(end.allocator) == len(live_ids)
    assert len(end.born) == len(live_ids)
    assert end.live == sum(_sizes(events)[ident] for ident in live_ids)


def _live_ids(events: list[Event]) -> set[int]:
    live: set[int] = set()
    for op, ident, _ in events:
        if op == "a":
            live.add(ident)
        elif op == "f":
            live.discard(ident)
    return live


def _sizes(events: list[Event]) -> dict[int, int]:
    return {ident: size for op, ident, size in events if op in "ar"}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), policy=st.sampled_from(list(POLICIES)), quantum=st.sampled_from([1, 8]))
def test_extent_model_never_fails(seed: int, policy: str, quantum: int) -> None:
    events = churn(seed, 300, high=40)
    r = replay(events, policy, quantum=quantum)
    assert r.failures == 0
    assert r.peak_extent >= r.peak_live
    assert r.capacity >= r.peak_extent


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), quantum=st.sampled_from([1, 8]))
def test_first_fit_in_the_extent_model_matches_a_fixed_space_of_its_extent(seed: int, quantum: int) -> None:
    # Without resizes, first fit in the extent model takes the same offsets as in a fixed space
    # as large as the extent it reaches: the space grows only when no hole fits, and the block
    # then goes where the larger space would have put it, at the start of the top hole.
    # (With resizes the two differ: a block at the very top moves down into a hole before it
    # in the extent model, where a larger space lets it grow in place.)
    events = churn(seed, 300, high=40, reallocs=False)
    grown = replay(events, "first-fit", quantum=quantum)
    fixed = replay(events, "first-fit", capacity=grown.peak_extent, quantum=quantum)
    assert fixed.failures == 0
    assert fixed.peak_extent == grown.peak_extent
    assert fixed.series == grown.series


def test_replay_is_exported() -> None:
    assert rangealloc.replay is replay
