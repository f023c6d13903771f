"""Replay an allocation trace on a policy: speed, fragmentation, failures.

A trace is a sequence of events ``(op, id, size)``: ``"a"`` allocates block
``id`` of ``size`` slots, ``"f"`` frees it (size 0), ``"r"`` resizes it (see
``rangealloc.trace``).  ``replay`` runs them on a fresh allocator of one
policy and measures what Johnstone & Wilson ("The Memory Fragmentation
Problem: Solved?", ISMM 1998) measured on real programs, in one of two models:

* **Extent model** (``capacity=None``, the default): the space starts as
  large as the first request and ``grow``s by just enough when nothing fits
  (the ``sbrk`` model: a request that fits no hole extends the top hole up to
  its size, or a little more when an alignment or a buddy order asks for it).
  Next fit wraps around before the space grows, as in the paper.  Nothing
  fails; the cost of a policy is how far its *extent* (the highest end
  offset ever in use) runs above the live data::

      fragmentation = peak extent / peak live - 1     (their metric #4)

  with live counted in requested sizes (before ``quantum`` rounding and
  buddy rounding: both are the policy's waste).
* **Fixed-space model** (``capacity=N``, or ``headroom=h`` for ``h x`` the
  trace's peak live): a failed allocation is counted and skipped, and later
  events of that id are skipped too; a failed resize keeps the block as it
  was (what ``realloc`` returning NULL does) and is counted.  The
  utilisation (``used / capacity``) at the first failure says how full the
  policy let the space get.

``quantum`` rounds every size up to a multiple, as a real malloc's
alignment would (glibc: 16).  Alignments recorded in the trace
(``Trace.aligns``) are honoured.

Time: the trace's events times the policy's cost per event, plus reading.
The clock is the process CPU time (``time.process_time_ns``) around the
whole replay, reading the trace included; the garbage collector is paused
meanwhile (as ``timeit`` does), since a replay creates no garbage cycles
worth collecting and a collection would be billed to whichever policy runs.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

from ._base import Allocator
from ._errors import OutOfSpace, TraceError
from ._registry import policy_class
from .trace import Event, Trace, read_trace

__all__ = ["ReplayResult", "Snapshot", "replay", "replay_until"]

#: Samples kept in ``ReplayResult.series`` (at most twice this many).
SAMPLES = 512

Source = Trace | str | os.PathLike[str] | Iterable[Event]
Policy = str | type[Allocator]


@dataclass(frozen=True)
class ReplayResult:
    """What one replay measured.  ``series`` holds ``(event index, live, extent)`` samples."""

    trace: str
    policy: str
    model: str  # "extent" or "fixed"
    capacity: int  # the final capacity (extent model: after the last grow)
    quantum: int
    events: int
    seconds: float
    peak_live: int
    peak_extent: int
    failures: int
    first_failure_utilisation: float | None
    series: tuple[tuple[int, int, int], ...]

    @property
    def ns_per_event(self) -> float:
        """CPU nanoseconds per event, reading the trace included."""
        return self.seconds * 1e9 / self.events if self.events else 0.0

    @property
    def fragmentation(self) -> float:
        """Peak extent / peak live - 1 (0.0 for a trace that never allocates)."""
        return self.peak_extent / self.peak_live - 1 if self.peak_live else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, with ``ns_per_event`` and ``fragmentation``."""
        data = asdict(self)
        data["series"] = [list(item) for item in self.series]
        data["ns_per_event"] = self.ns_per_event
        data["fragmentation"] = self.fragmentation
        return data


@dataclass(frozen=True)
class Snapshot:
    """The allocator after the events up to ``event`` (exclusive), with each block's birth event."""

    allocator: Allocator
    born: dict[int, int]  # offset -> index of the event that allocated (or last moved) the block
    event: int
    extent: int
    live: int


def _open(source: Source) -> tuple[str, Iterable[Event], dict[int, int], Trace | None]:
    """The trace's name, its events, its alignments (filled while iterating) and the Trace if any."""
    if isinstance(source, (str, os.PathLike)):
        source = read_trace(source)
    if isinstance(source, Trace):
        return source.name, source, source.aligns, source
    return "events", source, {}, None


def _checked(events: Iterable[Event]) -> Iterator[Event]:
    """``events`` from a plain iterable, checked as a trace file's are; raises ``TraceError``.

    Ids in sequence from 0, frees and resizes of live ids only, positive
    sizes, known operations.  Time: O(1) per event.
    """
    live: set[int] = set()
    next_id = 0
    for index, event in enumerate(events):
        op, ident, size = event
        if op == "a":
            if ident != next_id:
                raise TraceError(f"event {index}: block id {ident} is not the next id {next_id}")
            next_id += 1
            live.add(ident)
        elif op in ("f", "r"):
            if ident not in live:
                raise TraceError(
                    f"event {index}: block id {ident} is not live ({op!r} of a free or unknown id)"
                )
            if op == "f":
                live.discard(ident)
        else:
            raise TraceError(f"event {index}: unknown operation {op!r}")
        if op != "f" and (type(size) is not int or size <= 0):
            raise TraceError(f"event {index}: size must be a positive int, got {size!r}")
        yield event


def _peak_live(events: Iterable[Event]) -> int:
    """Largest sum of live sizes over ``events``.  Time: O(events)."""
    sizes: dict[int, int] = {}
    live = peak = 0
    for op, ident, size in events:
        if op == "a":
            sizes[ident] = size
            live += size
        elif op == "f":
            live -= sizes.pop(ident, 0)
        else:
            live += size - sizes.get(ident, 0)
            sizes[ident] = size
        if live > peak:
            peak = live
    return peak


class _Run:
    """One replay in progress: the allocator, the id table and the counters."""

    __slots__ = (
        "allocator",
        "born",
        "cls",
        "event",
        "extent",
        "failure_use",
        "failures",
        "fixed",
        "live",
        "offsets",
        "peak_event",
        "peak_live",
        "quantum",
        "series",
        "sizes",
        "step",
        "track_born",
    )

    def __init__(self, cls: type[Allocator], capacity: int | None, quantum: int, track_born: bool) -> None:
        self.cls = cls
        self.fixed = capacity is not None
        self.allocator: Allocator | None = cls(capacity) if capacity is not None else None
        self.quantum = quantum
        self.offsets: list[int] = []  # id -> offset, -1 once freed or failed
        self.sizes: list[int] = []  # id -> requested size
        self.born: dict[int, int] = {}
        self.track_born = track_born
        self.event = 0
        self.live = self.peak_live = self.peak_event = 0
        self.extent = 0
        self.failures = 0
        self.failure_use: float | None = None
        self.series: list[tuple[int, int, int]] = []
        self.step = 1

    def run(self, events: Iterator[Event], aligns: dict[int, int]) -> None:
        """Replay ``events`` (cut them with ``itertools.islice`` to stop early)."""
        offsets = self.offsets
        sizes = self.sizes
        quantum = self.quantum
        series = self.series
        born = self.born
        track_born = self.track_born
        rounds = self.cls.rounds_sizes
        index = self.event
        live = self.live
        peak_live = self.peak_live
        peak_event = self.peak_event
        extent = self.extent
        step = self.step
        a = self.allocator
        next_sample = index - index % step + step if series else 0
        for op, ident, size in events:
            if index >= next_sample:
                series.append((index, live, extent))
                if len(series) >= 2 * SAMPLES:
                    del series[1::2]
                    step *= 2
                next_sample = index - index % step + step
            if quantum > 1 and size:
                rounded = -(-size // quantum) * quantum
            else:
                rounded = size
            if op == "a":
                align = aligns.get(ident, 1) if aligns else 1
                if a is None:
                    a = self.allocator = self._first(rounded, align)
                try:
                    offset = a.alloc(rounded, align)
                except OutOfSpace:
                    offset = self._no_fit(a, rounded, align, -1)
                offsets.append(offset)
                sizes.append(size)
                if offset >= 0:
                    live += size
                    if live > peak_live:
                        peak_live = live
                        peak_event = index + 1
                    end = offset + (a.size_of(offset) if rounds else rounded)
                    if end > extent:
                        extent = end
                    if track_born:
                        born[offset] = index
            elif op == "f":
                offset = offsets[ident]
                if offset >= 0 and a is not None:
                    a.free(offset)
                    offsets[ident] = -1
                    live -= sizes[ident]
                    if track_born:
                        del born[offset]
            else:  # "r": the reader checked the operations
                offset = offsets[ident]
                if offset >= 0 and a is not None:
                    try:
                        new = a.realloc(offset, rounded)
                    except OutOfSpace:
                        new = self._no_fit(a, rounded, 1, offset)
                    if new >= 0:  # the bookkeeping of "a", inlined: this loop is the hot path
                        offsets[ident] = new
                        live += size - sizes[ident]
                        sizes[ident] = size
                        if live > peak_live:
                            peak_live = live
                            peak_event = index + 1
                        end = new + (a.size_of(new) if rounds else rounded)
                        if end > extent:
                            extent = end
                        if track_born and new != offset:
                            del born[offset]
                            born[new] = index
            index += 1
        self.event = index
        self.live = live
        self.peak_live = peak_live
        self.peak_event = peak_event
        self.extent = extent
        self.step = step

    def _first(self, size: int, align: int) -> Allocator:
        """The extent model's allocator: as large as the first request."""
        return self.cls(size + align - 1)

    def _no_fit(self, a: Allocator, size: int, align: int, moving: int) -> int:
        """Handle an ``OutOfSpace`` of an alloc (``moving`` -1) or of a resize of block ``moving``.

        Fixed model: count it and return -1 (the block, if any, stays as it
        was).  Extent model: grow the space just enough and retry; -1 only
        past the policy's ``max_capacity``.
        """
        if self.fixed:
            self.failures += 1
            if self.failure_use is None:
                self.failure_use = a.used / a.capacity
            return -1
        top = a.top_hole
        need = size + align - 1 - top
        if moving >= 0:
            old = a.size_of(moving)
            # Grown in place if it ends where the top hole starts, else moved to the top.
            need = size - old - top if moving + old == a.capacity - top else size - top
        need = max(need, 1)
        while True:
            capacity = a.capacity + need
            if capacity > a.max_capacity:
                self.failures += 1
                if self.failure_use is None:
                    self.failure_use = a.used / a.capacity
                return -1
            a.grow(capacity)
            try:
                return a.alloc(size, align) if moving < 0 else a.realloc(moving, size)
            except OutOfSpace:
                need *= 2  # alignment or a buddy order asks for more than just enough


def _run(
    source: Source,
    policy: Policy,
    capacity: int | None,
    headroom: float | None,
    quantum: int,
    *,
    stop: int | None = None,
    track_born: bool = False,
) -> tuple[str, _Run]:
    """Validate the options, then replay ``source`` (up to ``stop`` events) with the clock off."""
    cls = policy_class(policy)
    if type(quantum) is not int or quantum < 1:
        raise ValueError(f"quantum must be an int >= 1, got {quantum!r}")
    if capacity is not None and headroom is not None:
        raise ValueError("give capacity or headroom, not both")
    if capacity is not None and (type(capacity) is not int or capacity <= 0):
        raise ValueError(f"capacity must be a positive int, got {capacity!r}")
    if headroom is not None and not headroom > 0:
        raise ValueError(f"headroom must be > 0, got {headroom!r}")
    name, events, aligns, trace = _open(source)
    if headroom is not None:
        if trace is None:
            events = list(events)
            peak = _peak_live(events)
        else:
            peak = trace.peak_live()
        capacity = max(1, int(peak * headroom))
    if trace is None:
        events = _checked(events)
    run = _Run(cls, capacity, quantum, track_born)
    run.run(iter(events) if stop is None else islice(events, stop), aligns)
    return name, run


def replay(
    trace: Source,
    policy: Policy,
    *,
    capacity: int | None = None,
    headroom: float | None = None,
    quantum: int = 1,
) -> ReplayResult:
    """Replay ``trace`` (a path, a ``Trace`` or an iterable of events) on a fresh ``policy``.

    ``policy`` is a name of ``rangealloc.POLICIES`` or an ``Allocator``
    class.  With neither ``capacity`` nor ``headroom``: the extent model;
    with one of them: the fixed-space model (see the module).

    Time: O(events x the policy's cost per event).  Raises ``TraceError``
    for a malformed trace (from the reader, or for events out of sequence),
    ``ValueError`` for bad options or an unknown policy.

    >>> r = replay([("a", 0, 10), ("a", 1, 5), ("f", 0, 0), ("a", 2, 12)], "first-fit")
    >>> r.events, r.peak_live, r.peak_extent, r.failures
    (4, 17, 27, 0)
    >>> r = replay([("a", 0, 10), ("a", 1, 5), ("f", 0, 0), ("a", 2, 12)], "first-fit", capacity=16)
    >>> r.failures, r.first_failure_utilisation
    (1, 0.3125)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time_ns()
        name, run = _run(trace, policy, capacity, headroom, quantum)
        elapsed = time.process_time_ns() - start
    finally:
        if enabled:
            gc.enable()
    a = run.allocator
    series = run.series
    if not series or series[-1][0] != run.event:
        series.append((run.event, run.live, run.extent))
    return ReplayResult(
        trace=name,
        policy=run.cls.name,
        model="fixed" if run.fixed else "extent",
        capacity=a.capacity if a is not None else 0,
        quantum=quantum,
        events=run.event,
        seconds=elapsed / 1e9,
        peak_live=run.peak_live,
        peak_extent=run.extent,
        failures=run.failures,
        first_failure_utilisation=run.failure_use,
        series=tuple(series),
    )


def replay_until(
    trace: Source,
    policy: Policy,
    at: int | str = "end",
    *,
    capacity: int | None = None,
    headroom: float | None = None,
    quantum: int = 1,
) -> Snapshot:
    """Replay ``trace`` up to a moment and return the allocator then: what ``rangealloc map`` draws.

    ``at``: an event count (the first ``at`` events run), ``"peak"`` (just
    after the event that reached the peak live size; the trace is replayed
    twice) or ``"end"``.  Options as for ``replay``.

    Time: O(events up to the moment x cost per event) (twice for "peak").
    Raises ``ValueError`` for a bad ``at`` and as ``replay`` does.

    >>> s = replay_until([("a", 0, 10), ("a", 1, 5), ("f", 0, 0)], "first-fit", at=2)
    >>> s.event, list(s.allocator.blocks()), s.born
    (2, [(0, 10), (10, 5)], {0: 0, 10: 1})
    """
    if at == "peak":
        if isinstance(trace, (str, os.PathLike)):
            trace = read_trace(trace)
        elif not isinstance(trace, Trace):
            trace = list(trace)  # it is read twice
        _, first = _run(trace, policy, capacity, headroom, quantum)
        stop = first.peak_event
    elif at == "end":
        stop = None
    elif type(at) is int and at >= 0:
        stop = at
    else:
        raise ValueError(f"at must be an event count >= 0, 'peak' or 'end', got {at!r}")
    _, run = _run(trace, policy, capacity, headroom, quantum, stop=stop, track_born=True)
    a = run.allocator if run.allocator is not None else run.cls(1)
    return Snapshot(a, dict(run.born), run.event, run.extent, run.live)
