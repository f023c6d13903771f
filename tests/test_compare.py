"""``rangealloc.compare`` and ``recommend``: the rule, on numbers chosen by hand, and on real replays."""

from __future__ import annotations

import pytest

from rangealloc import POLICIES, Bitmap, Comparison, ReplayResult, bundled_traces, compare, recommend
from rangealloc._compare import HEADROOM, runnable_policies
from rangealloc.trace import read_trace


def result(
    policy: str, ns: float, fragmentation: float, failures: int = 0, *, trace: str = "t"
) -> ReplayResult:
    """A replay result with the given headline numbers (1000 events, peak live 1000)."""
    return ReplayResult(
        trace=trace,
        policy=policy,
        model="extent",
        capacity=1000,
        quantum=1,
        events=1000,
        seconds=ns * 1000 / 1e9,
        peak_live=1000,
        peak_extent=round(1000 * (1 + fragmentation)),
        failures=failures,
        first_failure_utilisation=None,
        series=(),
    )


def row(policy: str, ns: float, fragmentation: float, failures: int = 0, *, trace: str = "t") -> Comparison:
    fixed = result(policy, ns, fragmentation, failures, trace=trace)
    return Comparison(trace, policy, result(policy, ns, fragmentation, trace=trace), fixed)


def test_lowest_fragmentation_among_the_fast_enough() -> None:
    rows = [row("tlsf", 1000, 0.05), row("first-fit", 1400, 0.01), row("best-fit", 1600, 0.001)]
    choice = recommend(rows)
    assert choice.policy == "first-fit"  # best-fit is 1.6x the fastest: out; first-fit wastes less than tlsf
    assert choice.candidates == ("tlsf", "first-fit")
    assert "first-fit: no failure at the headroom, 1,400 ns per event (1.40x the fastest" in choice.reason
    assert "also fast enough: tlsf (5.0%, 1,000 ns)" in choice.reason


def test_failures_come_first() -> None:
    rows = [row("tlsf", 1000, 0.0, failures=3), row("first-fit", 5000, 0.2, failures=0)]
    assert recommend(rows).policy == "first-fit"
    rows = [row("tlsf", 1000, 0.0, failures=3), row("buddy", 900, 0.5, failures=3)]
    choice = recommend(rows)
    assert choice.policy == "tlsf"  # both fail as often: then speed and fragmentation decide
    assert "3 failures at the headroom" in choice.reason


def test_a_tie_in_fragmentation_goes_to_the_faster() -> None:
    rows = [row("first-fit", 1200, 0.01), row("next-fit", 1100, 0.01)]
    assert recommend(rows).policy == "next-fit"


def test_speed_is_the_geometric_mean_over_traces() -> None:
    rows = [
        row("a-fit", 100, 0.0, trace="x"),
        row("a-fit", 10_000, 0.0, trace="y"),
        row("b-fit", 1000, 0.1, trace="x"),
        row("b-fit", 1000, 0.1, trace="y"),
    ]
    choice = recommend(rows)
    assert choice.speed == {"a-fit": pytest.approx(1000), "b-fit": pytest.approx(1000)}
    assert choice.fragmentation == {"a-fit": 0.0, "b-fit": pytest.approx(0.1)}
    assert choice.policy == "a-fit"
    assert "(mean over 2 traces)" in choice.reason


def test_margin_is_an_option() -> None:
    rows = [row("tlsf", 1000, 0.05), row("best-fit", 1600, 0.001)]
    assert recommend(rows).policy == "tlsf"
    assert recommend(rows, margin=2.0).policy == "best-fit"


def test_nothing_to_recommend() -> None:
    with pytest.raises(ValueError, match="no results"):
        recommend([])


def test_compare_on_a_bundled_trace() -> None:
    trace = read_trace(bundled_traces()[1])
    assert trace.name == "jq-transform"
    rows = compare([trace], ["first-fit", "tlsf"], headroom=1.25)
    assert [(r.trace, r.policy) for r in rows] == [("jq-transform", "first-fit"), ("jq-transform", "tlsf")]
    for r in rows:
        assert r.extent.events == int(trace.header()["events"].split()[0])
        assert r.extent.peak_live == int(trace.header()["peak_live_bytes"].split()[0])
        assert 0 <= r.fragmentation < 0.05  # both waste little on jq
        assert r.fixed is not None and r.fixed.capacity == int(r.extent.peak_live * 1.25)
        assert r.failures == 0
        assert r.as_dict()["fixed_model"]["failures"] == 0


def test_default_policies_are_every_policy_whose_space_holds_the_trace() -> None:
    jq = read_trace(bundled_traces()[1])
    peak = jq.peak_live()
    assert peak * HEADROOM < Bitmap.max_capacity
    assert runnable_policies(jq) == (list(POLICIES), {})
    # A headroom that asks the bitmap for more than its 2**24 slots leaves it out, saying why.
    headroom = (Bitmap.max_capacity + 1) / peak + 0.01
    names, skipped = runnable_policies(jq, None, headroom)
    assert names == [name for name in POLICIES if name != "bitmap"]
    assert list(skipped) == ["bitmap"]
    assert f"{int(peak * headroom):,}" in skipped["bitmap"] and "max_capacity 16,777,216" in skipped["bitmap"]
    assert runnable_policies(jq, None, None) == (list(POLICIES), {})
    assert runnable_policies(jq, ["tlsf", "bitmap", "tlsf"], headroom) == (["tlsf"], skipped)
    with pytest.raises(ValueError, match="unknown policy 'worst-fit'"):
        runnable_policies(jq, ["worst-fit"])


def test_compare_rejects_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="unknown policy 'worst-fit'"):
        compare([], ["worst-fit"])
