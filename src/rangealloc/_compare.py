"""Every policy on every trace, and the one to recommend: what ``rangealloc compare`` and ``recommend`` show.

For each (trace, policy) ``compare`` replays the trace twice (``rangealloc.replay``):

* in the **extent model**, for the speed (CPU ns per event, reading
  included) and the fragmentation (peak extent / peak live - 1);
* in the **fixed-space model** with ``headroom`` x the trace's peak live
  slots (default 1.25), for the failures: allocations that found no hole
  in a space with 25% more room than the live data ever needs.

``recommend`` applies one stated rule to those numbers::

    1. keep the policies with no failure at the headroom (if none has
       none, keep those with the fewest);
    2. of these, keep those within 1.5x of the fastest, speed measured as
       the geometric mean over the traces of ns per event;
    3. pick the lowest fragmentation (mean over the traces); a tie goes
       to the faster.

Fragmentation decides among fast-enough policies because the space it
wastes is what a user pays every time, while a speed gap under 1.5x
in Python is within what one machine's noise and the interpreter's
version move.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._registry import POLICIES, policy_named
from ._replay import ReplayResult, replay
from .trace import Trace

__all__ = ["Comparison", "Recommendation", "bundled_traces", "compare", "recommend", "runnable_policies"]

#: ``recommend``'s speed margin: policies within this factor of the fastest are fast enough.
SPEED_MARGIN = 1.5
#: Default headroom of the fixed-space replay that counts failures.
HEADROOM = 1.25


@dataclass(frozen=True)
class Comparison:
    """One policy on one trace: the extent-model replay and the fixed-space replay."""

    trace: str
    policy: str
    extent: ReplayResult
    fixed: ReplayResult | None

    @property
    def ns_per_event(self) -> float:
        """CPU ns per event of the extent-model replay."""
        return self.extent.ns_per_event

    @property
    def fragmentation(self) -> float:
        """Peak extent / peak live - 1, extent model."""
        return self.extent.fragmentation

    @property
    def failures(self) -> int:
        """Failed allocations in the fixed space (0 if it was not run)."""
        return self.fixed.failures if self.fixed is not None else 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the headline numbers, then both replays (without their series)."""
        extent = self.extent.as_dict()
        del extent["series"]
        fixed = None
        if self.fixed is not None:
            fixed = self.fixed.as_dict()
            del fixed["series"]
        return {
            "trace": self.trace,
            "policy": self.policy,
            "ns_per_event": self.ns_per_event,
            "fragmentation": self.fragmentation,
            "failures": self.failures,
            "extent_model": extent,
            "fixed_model": fixed,
        }


def runnable_policies(
    trace: Trace, policies: Sequence[str] | None = None, headroom: float | None = HEADROOM
) -> tuple[list[str], dict[str, str]]:
    """Of ``policies`` (default: every registered one), those that can replay ``trace``; the rest, with why.

    A policy can when its ``max_capacity`` holds the fixed space of the
    replay at ``headroom`` (``replay``'s capacity: peak live x headroom), or
    the peak live size when ``headroom`` is None; in practice only the bitmap
    (2**24 slots) can be too small.  Time: O(1) when the trace's header
    gives its peak live size, one pass over it otherwise.  Raises
    ``ValueError`` for an unknown policy name.
    """
    peak = trace.peak_live()
    need = peak if headroom is None else max(1, int(peak * headroom))
    names: list[str] = []
    skipped: dict[str, str] = {}
    for name in dict.fromkeys(POLICIES if policies is None else policies):
        limit = policy_named(name).max_capacity
        if need <= limit:
            names.append(name)
        else:
            times = "" if headroom is None else f" x headroom {headroom:g}"
            skipped[name] = (
                f"needs {need:,} slots (peak live {peak:,}{times}), above its max_capacity {limit:,}"
            )
    return names, skipped


def compare(
    traces: Iterable[Trace],
    policies: Sequence[str] | None = None,
    *,
    headroom: float | None = HEADROOM,
    quantum: int = 1,
    on_replay: Callable[[str, str], None] | None = None,
) -> list[Comparison]:
    """Replay every trace on every policy (extent model, then fixed space at ``headroom``).

    ``policies=None``: every policy.  A policy whose space cannot hold a
    trace is left out of that trace's rows (``runnable_policies`` says why).  ``headroom=None``
    skips the fixed-space replay (failures then read 0).
    ``on_replay(trace, policy)`` is called after each pair of replays.

    Time: the sum of the replays (two per trace and policy).  Raises
    ``TraceError`` for a malformed trace and ``ValueError`` for an unknown
    policy or a bad option.
    """
    named = list(dict.fromkeys(policies)) if policies else None
    for name in named or ():
        policy_named(name)  # ValueError before any replay
    results: list[Comparison] = []
    for trace in traces:
        for name in runnable_policies(trace, named, headroom)[0]:
            extent = replay(trace, name, quantum=quantum)
            fixed = None if headroom is None else replay(trace, name, headroom=headroom, quantum=quantum)
            results.append(Comparison(trace.name, name, extent, fixed))
            if on_replay is not None:
                on_replay(trace.name, name)
    return results


@dataclass(frozen=True)
class Recommendation:
    """The policy ``recommend`` picks, the numbers behind it, and the rule, in words."""

    policy: str
    reason: str
    rule: str
    speed: dict[str, float]  # policy -> geometric mean of ns per event over the traces
    fragmentation: dict[str, float]  # policy -> mean fragmentation over the traces
    failures: dict[str, int]  # policy -> failures summed over the traces
    candidates: tuple[str, ...]  # the policies left after steps 1 and 2

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "policy": self.policy,
            "reason": self.reason,
            "rule": self.rule,
            "speed_ns_per_event": self.speed,
            "fragmentation": self.fragmentation,
            "failures": self.failures,
            "candidates": list(self.candidates),
        }


RULE = (
    "keep the policies with the fewest failures at the headroom (ideally none); of these, those within "
    f"{SPEED_MARGIN:g}x of the fastest (geometric mean of ns per event over the traces); "
    "pick the lowest mean fragmentation, a tie going to the faster"
)


def recommend(results: Sequence[Comparison], *, margin: float = SPEED_MARGIN) -> Recommendation:
    """Pick one policy from ``compare``'s results by the module's rule, and say why.

    Time: O(len(results)).  Raises ``ValueError`` if ``results`` is empty.

    >>> from rangealloc._replay import replay
    >>> events = [("a", 0, 5), ("a", 1, 5)]  # buddy rounds each to 8: extent 16, not 10
    >>> rows = [Comparison("t", p, replay(events, p), replay(events, p, headroom=2.0))
    ...         for p in ("first-fit", "buddy")]
    >>> recommend(rows, margin=1e9).policy
    'first-fit'
    """
    if not results:
        raise ValueError("nothing to recommend from: no results")
    by_policy: dict[str, list[Comparison]] = {}
    for row in results:
        by_policy.setdefault(row.policy, []).append(row)
    speed = {
        name: math.exp(sum(math.log(max(row.ns_per_event, 1e-9)) for row in rows) / len(rows))
        for name, rows in by_policy.items()
    }
    fragmentation = {
        name: sum(row.fragmentation for row in rows) / len(rows) for name, rows in by_policy.items()
    }
    failures = {name: sum(row.failures for row in rows) for name, rows in by_policy.items()}
    fewest = min(failures.values())
    reliable = [name for name in by_policy if failures[name] == fewest]
    fastest = min(speed[name] for name in reliable)
    candidates = tuple(name for name in reliable if speed[name] <= margin * fastest)
    chosen = min(candidates, key=lambda name: (round(fragmentation[name], 6), speed[name]))
    traces = len({row.trace for row in results})
    failed = f"{fewest} failures" if fewest else "no failure"
    others = [name for name in candidates if name != chosen]
    reason = (
        f"{chosen}: {failed} at the headroom, {speed[chosen]:,.0f} ns per event "
        f"({speed[chosen] / fastest:.2f}x the fastest reliable policy), fragmentation "
        f"{fragmentation[chosen]:.1%} (mean over {traces} trace{'s' if traces != 1 else ''})"
    )
    if others:
        reason += "; also fast enough: " + ", ".join(
            f"{name} ({fragmentation[name]:.1%}, {speed[name]:,.0f} ns)" for name in others
        )
    return Recommendation(chosen, reason, RULE, speed, fragmentation, failures, candidates)


def bundled_traces() -> list[Path]:
    """The traces shipped inside the package: the default data of ``compare`` and ``recommend``.

    >>> [path.name for path in bundled_traces()]
    ['git-log-patch.trace.gz', 'jq-transform.trace.gz']
    """
    data = resources.files("rangealloc") / "data"
    return sorted(Path(str(item)) for item in data.iterdir() if item.name.endswith(".trace.gz"))
