"""The peers in the benchmark: rangealloc beside what a user could pip install instead.

Usage::

    python bench/peers.py                 # the full run (about 12 minutes here)
    python bench/peers.py --quick         # small workloads, one repeat: a smoke test (about a minute)
    python bench/peers.py --render-only   # rewrite peers.md and the plot from peers.json, measuring nothing
    python bench/peers.py --no-install    # fail instead of pip-installing a missing peer

The peers are installed into the running interpreter's environment when they
are missing (``pip install tlsfallocator virtual-allocator``); they are not
dependencies of the library:

* ``tlsfallocator`` 0.0.1 (import ``TLSFAllocator``): sebbbi's C++
  OffsetAllocator behind pybind11, built from source with the machine's C++
  compiler.  ``OffsetAllocator(size, maxAllocs)`` (both uint32, both
  required); ``allocate(size) -> OffsetAllocation`` with ``.offset`` and
  ``.metadata`` (the node index); on failure (no bin fits, or no node left)
  both are ``0xFFFFFFFF`` and nothing is raised; ``free(allocation)`` takes
  the handle, not an offset (it reads only ``.metadata``; a wrong or
  repeated handle is undefined behaviour).  Every block and every hole uses
  one of ``maxAllocs`` nodes.
* ``virtual-allocator`` 0.0.3 (import ``virtual_allocator``): pure Python,
  one list of ``MemoryRegion`` (frozen dataclasses: address, size, is_free,
  padding).  ``Allocator(address, size, block_size, alignment,
  allocation_policy)``; ``allocate(size) -> MemoryRegion`` raises
  ``OutOfMemoryError``; ``free(region)`` takes the region object (found by
  ``list.index``, i.e. by dataclass equality, O(n) per call).

Adapters give both the harness's ``Target`` shape (``alloc(size, align=1) ->
offset``, ``free(offset)``, ``OutOfSpace`` on failure), keeping a dict
offset -> handle as a user who frees by offset must.  tlsfallocator is also
timed *raw*: a copy of the harness loop that keeps the handles itself and
calls ``allocate``/``free`` directly (no adapter, no dict).

Sections, each timed side by side (every implementation interleaved round by
round, the call floor included), CPU time, ns per alloc+free pair:

* ``seed``: the seed scenario, every policy, the naive set scan, the peers;
* ``power-law``: 1k/10k/100k live blocks in 2**20 and 2**30 slots (bitmap
  in 2**20 only: 2**30 is above its ``max_capacity``), 20,000 timed pairs;
* ``virtual-allocator``: 1k and 10k live blocks in both spaces with the
  same generator, fewer timed pairs (a prefix of the same churn), every
  policy and both peers; virtual-allocator's untimed part is replayed once
  and each round starts from a deep copy of the state it left;
* ``traces``: the eight public traces, each in a fixed space of twice its
  peak live size; a realloc is replayed as free + alloc, for every
  implementation alike.

Writes ``bench/results/peers.{json,md}`` and ``docs/images/peers.png``
(``--quick``: ``bench/results/quick/``, not committed).
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from time import process_time_ns
from typing import Any

from run import disturbed, live_name, machine, machine_line, measure, measure_lives  # bench/run.py

import rangealloc
from rangealloc import POLICIES, InvalidBlock, OutOfSpace, read_trace
from rangealloc._workloads import (
    FLOOR,
    NAIVE,
    CallFloor,
    NaiveSetScan,
    Replay,
    Runner,
    Target,
    Timing,
    Workload,
    _drive,
    fresh,
    power_law_sizes,
    power_law_workload,
    seed_scenario,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
IMAGE = ROOT / "docs" / "images" / "peers.png"
DEFAULT_TRACES = ROOT.parent / "shared" / "traces"

#: Distribution name -> import name of each peer.
PEERS = {"tlsfallocator": "TLSFAllocator", "virtual-allocator": "virtual_allocator"}
#: Names of the peers' implementations in tables and JSON.
TA = "tlsfallocator"
TA_RAW = "tlsfallocator raw"
VA = "virtual-allocator"
#: OffsetAllocator's "no space" offset (and metadata): ``Allocation::NO_SPACE``.
NO_SPACE = 0xFFFFFFFF
#: OffsetAllocator's sizes and offsets are uint32.
TA_MAX_CAPACITY = (1 << 32) - 1
#: OffsetAllocator's default maxAllocs in C++ (the binding has no default).
TA_DEFAULT_MAX_ALLOCS = 128 * 1024
#: Why bitmap is not in some tables: the space is larger than it accepts.
SKIP_BITMAP = f"capacity above its max_capacity ({POLICIES['bitmap'].max_capacity:,} slots, 2**24)"


def fitting_policies(capacity: int) -> tuple[list[str], dict[str, str]]:
    """The policies whose ``max_capacity`` holds ``capacity`` slots; the others (bitmap) with why."""
    names = [name for name, cls in POLICIES.items() if capacity <= cls.max_capacity]
    return names, {name: SKIP_BITMAP for name in POLICIES if name not in names}


#: Why virtual-allocator is not in the trace tables.
SKIP_VA_TRACES = (
    "O(n) per call: about 1 ms per pair at 1k live blocks and 9-16 ms at 10k (the virtual-allocator "
    "section), so the traces' 41k-1M pairs at up to 113k live blocks would take from minutes to hours "
    "per replay"
)
#: Spaces of the power-law and virtual-allocator sections: 2**20 and 2**30 slots.
SPACES = (20, 30)

#: Targets of issue 6.
TARGET_VS_TA = 1.5  # pure-Python TLSF / tlsfallocator, every power-law workload and trace
TARGET_VS_FLOOR = 12.0  # pure-Python TLSF / the call floor, same workloads
TARGET_VS_VA = 100.0  # virtual-allocator / every policy but bitmap, at 10k live blocks
TARGET_VS_NAIVE = 20.0  # naive scan / the fastest policy, seed scenario
TARGET_COMPILED_VS_TA = 0.8  # compiled TLSF / tlsfallocator (the compiled build's targets)
TARGET_COMPILED_VS_FLOOR = 5.0  # compiled TLSF / the call floor

Factory = Callable[[int], Target]


@dataclass(frozen=True)
class Config:
    """How much to run."""

    seed_events: int
    seed_repeat: int
    repeat: int  # power-law and virtual-allocator sections
    warmup: int
    pairs: int  # power-law section
    live: tuple[int, ...]
    va_pairs: dict[int, int]  # virtual-allocator section: live -> timed pairs
    trace_repeat: int
    trace_warmup: int
    trace_events: int | None  # cut each trace after this many events (None: whole)


FULL = Config(
    seed_events=40_000,
    seed_repeat=15,
    repeat=5,
    warmup=1,
    pairs=20_000,
    live=(1_000, 10_000, 100_000),
    va_pairs={1_000: 1_000, 10_000: 200},
    trace_repeat=3,
    trace_warmup=0,
    trace_events=None,
)
QUICK = Config(
    seed_events=2_000,
    seed_repeat=1,
    repeat=1,
    warmup=0,
    pairs=500,
    live=(100, 1_000),
    va_pairs={100: 100, 1_000: 50},
    trace_repeat=1,
    trace_warmup=0,
    trace_events=20_000,
)


# ----------------------------------------------------------------- the peers


def load_peers(*, install: bool) -> dict[str, Any]:
    """Import the peers (import name -> module), pip-installing the missing ones first if ``install``.

    Raises ``SystemExit`` if a peer is missing and cannot be installed.
    """
    missing = [dist for dist, name in PEERS.items() if not _importable(name)]
    if missing:
        if not install:
            raise SystemExit(f"missing peers {', '.join(missing)}: pip install {' '.join(missing)}")
        print(f"installing {', '.join(missing)} with pip (not a dependency of rangealloc)", flush=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", *missing], check=False)
        importlib.invalidate_caches()
        if done.returncode:
            raise SystemExit(f"pip install {' '.join(missing)} failed (exit {done.returncode})")
    return {name: importlib.import_module(name) for name in PEERS.values()}


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class TlsfAllocatorByOffset:
    """tlsfallocator (C++ OffsetAllocator) behind the harness's ``alloc``/``free(offset)`` contract.

    ``OffsetAllocator.free`` takes the handle ``allocate`` returned, so the
    adapter keeps a dict offset -> handle, as any user who frees by offset
    must; ``allocate`` reports failure by a ``0xFFFFFFFF`` offset, which the
    adapter turns into ``OutOfSpace``.  The bound methods are looked up once.
    ``align`` other than 1 is refused (OffsetAllocator has no alignment).

    Time: O(1), the C++ call plus a dict operation.
    """

    __slots__ = ("_allocate", "_free", "_handles", "capacity")

    module: Any = None  # the TLSFAllocator module, set by ``main``

    def __init__(self, capacity: int, max_allocs: int = TA_DEFAULT_MAX_ALLOCS) -> None:
        """An empty allocator over ``[0, capacity)`` with ``max_allocs`` nodes (blocks + holes + 1)."""
        if not 0 < capacity <= TA_MAX_CAPACITY:
            raise ValueError(f"tlsfallocator: capacity must be in 1..2**32-1, got {capacity}")
        allocator: Any = self.module.OffsetAllocator(capacity, max_allocs)
        self.capacity = capacity
        self._allocate: Callable[[int], Any] = allocator.allocate
        self._free: Callable[[Any], None] = allocator.free
        self._handles: dict[int, Any] = {}

    def alloc(self, size: int, align: int = 1) -> int:
        """Allocate ``size`` slots; return the offset.  Raises ``OutOfSpace`` if nothing fits."""
        if align != 1:
            raise ValueError("tlsfallocator has no alignment")
        handle = self._allocate(size)
        offset: int = handle.offset
        if offset == NO_SPACE:
            raise OutOfSpace(f"tlsfallocator: no bin fits size {size}")
        self._handles[offset] = handle
        return offset

    def free(self, offset: int) -> None:
        """Release the block at ``offset``.  Raises ``InvalidBlock`` if none starts there."""
        try:
            handle = self._handles.pop(offset)
        except KeyError:
            raise InvalidBlock(f"free: offset {offset} is not the start of a live block") from None
        self._free(handle)


class VirtualAllocatorByOffset:
    """virtual-allocator behind the harness's contract: first fit, slots of 1, no padding.

    ``Allocator.free`` takes the ``MemoryRegion`` that ``allocate`` returned,
    so the adapter keeps a dict offset -> region; ``OutOfMemoryError``
    becomes ``OutOfSpace``.

    Time: O(regions) per call (the peer's list scans).
    """

    __slots__ = ("_allocate", "_error", "_free", "_regions", "capacity")

    module: Any = None  # the virtual_allocator module, set by ``main``

    def __init__(self, capacity: int) -> None:
        """An empty first-fit allocator over ``[0, capacity)`` (block size 1, alignment 1)."""
        va = self.module
        allocator: Any = va.Allocator(
            address=0,
            size=capacity,
            block_size=1,
            alignment=1,
            allocation_policy=va.AllocationPolicy.FIRST_FIT,
        )
        self.capacity = capacity
        self._allocate: Callable[[int], Any] = allocator.allocate
        self._free: Callable[[Any], None] = allocator.free
        self._error: type[Exception] = va.OutOfMemoryError
        self._regions: dict[int, Any] = {}

    def alloc(self, size: int, align: int = 1) -> int:
        """Allocate ``size`` slots; return the offset.  Raises ``OutOfSpace`` if nothing fits."""
        if align != 1:
            raise ValueError("this adapter of virtual-allocator has no per-request alignment")
        try:
            region = self._allocate(size)
        except self._error:
            raise OutOfSpace(f"virtual-allocator: no region fits size {size}") from None
        offset: int = region.address
        self._regions[offset] = region
        return offset

    def free(self, offset: int) -> None:
        """Release the block at ``offset``.  Raises ``InvalidBlock`` if none starts there."""
        try:
            region = self._regions.pop(offset)
        except KeyError:
            raise InvalidBlock(f"free: offset {offset} is not the start of a live block") from None
        self._free(region)


# ------------------------------------------------------------------ replays


def _timed(drive: Callable[[], int]) -> tuple[int, int]:
    """Run ``drive`` with the garbage collector collected first and off meanwhile; (CPU ns, failures)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = process_time_ns()
        failures = drive()
        elapsed = process_time_ns() - start
    finally:
        if enabled:
            gc.enable()
    return elapsed, failures


def _drive_raw(
    allocate: Callable[[int], Any], free: Callable[[Any], None], events: list[int], handles: list[Any]
) -> int:
    """The harness loop (``_workloads._drive``) for tlsfallocator's handles: ``handles`` maps id -> handle.

    The same shape as ``_drive``: locals, bound methods, one int test per
    event; the failure test reads ``handle.offset`` where ``_drive`` catches
    ``OutOfSpace``.  A failed id holds None and its free is skipped.
    """
    failures = 0
    record = handles.append
    for event in events:
        if event > 0:
            handle = allocate(event)
            if handle.offset == NO_SPACE:
                record(None)
                failures += 1
            else:
                record(handle)
        else:
            handle = handles[~event]
            if handle is not None:
                free(handle)
    return failures


def raw_runner(module: Any, max_allocs: int) -> Runner:
    """Replay on a fresh ``OffsetAllocator(capacity, max_allocs)``, handles kept by the loop itself."""

    def run(workload: Workload) -> Replay:
        allocator = module.OffsetAllocator(workload.capacity, max_allocs)
        allocate, free = allocator.allocate, allocator.free
        handles: list[Any] = []
        failures = _drive_raw(allocate, free, workload.setup, handles)
        elapsed, more = _timed(lambda: _drive_raw(allocate, free, workload.timed, handles))
        return Replay(elapsed, workload.pairs, failures + more)

    return run


class PreparedRunner:
    """Replay the untimed part once; each run times the timed part on a deep copy of that state.

    For virtual-allocator, whose untimed part at 10k live blocks takes one
    to three minutes: a deep copy of the adapter (its peer's list of frozen
    regions and the dict) and of the id -> offset list is the same state a
    fresh replay of the untimed part would leave (the replay is
    deterministic), and the timed part then runs through the harness's own
    loop (``_workloads._drive``).
    """

    def __init__(self, factory: Factory, workload: Workload) -> None:
        """Replay ``workload.setup`` on ``factory(capacity)``, untimed.  Time: the setup's."""
        started = time.process_time()
        target = factory(workload.capacity)
        offsets: list[int] = []
        self.setup_failures = _drive(target.alloc, target.free, workload.setup, offsets)
        self.state = (target, offsets)
        self.workload = workload
        self.setup_seconds = time.process_time() - started

    def __call__(self, workload: Workload) -> Replay:
        """Time ``workload.timed`` on a copy of the prepared state.

        Raises ``ValueError`` for a workload other than the prepared one.
        """
        if workload is not self.workload:
            raise ValueError("a PreparedRunner replays the workload it was prepared with")
        target, offsets = copy.deepcopy(self.state)
        elapsed, failures = _timed(lambda: _drive(target.alloc, target.free, workload.timed, offsets))
        return Replay(elapsed, workload.pairs, self.setup_failures + failures)


# ---------------------------------------------------------------- workloads


def peak_blocks(workload: Workload) -> int:
    """The most blocks live at once over the workload (failed allocs counted as live).  Time: O(events)."""
    live = peak = 0
    for event in workload.setup + workload.timed:
        live += 1 if event > 0 else -1
        if live > peak:
            peak = live
    return peak


def max_allocs_for(workload: Workload) -> int:
    """OffsetAllocator nodes enough for ``workload``: a node per block and per hole, plus one.

    Holes never touch (OffsetAllocator merges on free), so there are at most
    blocks + 1 of them; one node more because the allocator refuses when its
    free-node stack is down to one (sebbbi/OffsetAllocator issue 3), and a
    margin.
    """
    return 2 * peak_blocks(workload) + 64


@dataclass(frozen=True)
class TraceWorkload:
    """A trace turned into the harness's events, and what the table says about it."""

    workload: Workload
    trace_events: int
    reallocs: int
    peak_live: int
    peak_blocks: int


def trace_workload(path: Path, *, limit: int | None) -> TraceWorkload:
    """Read a trace (its first ``limit`` events) as one timed part of ``Workload`` events.

    ``a`` is an alloc; ``f`` the free of that block; ``r`` is replayed as the
    free of the block, then the alloc of a block of the new size (a new id in
    the harness's numbering), for every implementation alike.  The capacity
    is twice the trace's peak live size (requested bytes, with ``r`` as a
    change of size, as the trace header counts it).

    Time: O(events).  Raises ``ValueError`` if that capacity is more than
    tlsfallocator's uint32 sizes hold.
    """
    trace = read_trace(path)
    ids: dict[int, int] = {}  # trace id -> harness id of its current block
    sizes: dict[int, int] = {}  # trace id -> size
    events: list[int] = []
    append = events.append
    next_id = live = peak = reallocs = count = 0
    for op, ident, size in trace:
        if limit is not None and count >= limit:
            break
        count += 1
        if op == "a":
            ids[ident] = next_id
            next_id += 1
            append(size)
            sizes[ident] = size
            live += size
        elif op == "f":
            append(~ids.pop(ident))
            live -= sizes.pop(ident)
        else:
            append(~ids[ident])
            ids[ident] = next_id
            next_id += 1
            append(size)
            live += size - sizes[ident]
            sizes[ident] = size
            reallocs += 1
        if live > peak:
            peak = live
    capacity = 2 * peak
    if capacity > TA_MAX_CAPACITY:
        raise ValueError(f"{trace.name}: capacity {capacity} is above tlsfallocator's 2**32-1")
    allocs = sum(1 for event in events if event > 0)
    workload = Workload(
        trace.name,
        capacity,
        [],
        events,
        allocs,
        len(events) - allocs,
        f"trace {trace.name}, capacity 2 x peak live {peak:,}, realloc as free + alloc",
    )
    return TraceWorkload(workload, count, reallocs, peak, peak_blocks(workload))


# ----------------------------------------------------------------- sections


def _timing_json(timing: Timing) -> dict[str, Any]:
    return {
        "median_ns_per_pair": round(timing.median, 1),
        "min_ns_per_pair": round(timing.min, 1),
        "samples_ns_per_pair": [round(sample, 1) for sample in timing.samples],
        "failures": timing.failures,
    }


def _record(
    workload: Workload,
    timings: dict[str, Timing],
    *,
    kind: str,
    label: str,
    repeat: int,
    warmup: int,
    skipped: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    results = {name: _timing_json(timing) for name, timing in timings.items()}
    return {
        "name": workload.name,
        "label": label,
        "kind": kind,
        "description": workload.description,
        "capacity": workload.capacity,
        "setup_events": len(workload.setup),
        "timed_events": len(workload.timed),
        "pairs": workload.pairs,
        "repeat": repeat,
        "warmup": warmup,
        "results": results,
        "ratios": _ratios(results),
        "skipped": skipped,
        **extra,
    }


def _ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Each implementation / tlsfallocator (by offset), / tlsfallocator raw, / the call floor."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for base_name, key in ((TA, "vs_tlsfallocator"), (TA_RAW, "vs_tlsfallocator_raw"), (FLOOR, "vs_floor")):
        base = results.get(base_name)
        if base is None:
            continue
        out[key] = {
            name: {
                "median": round(result["median_ns_per_pair"] / base["median_ns_per_pair"], 3),
                "min": round(result["min_ns_per_pair"] / base["min_ns_per_pair"], 3),
            }
            for name, result in results.items()
        }
    return out


def _load() -> list[float]:
    return [round(load, 2) for load in os.getloadavg()]


def policy_runners(names: Iterable[str]) -> dict[str, Runner]:
    """Runners for the named policies of ``rangealloc.POLICIES``."""
    return {name: fresh(POLICIES[name]) for name in names}


def peer_runners(modules: dict[str, Any], workload: Workload, *, virtual: bool) -> dict[str, Runner]:
    """tlsfallocator by offset and raw (nodes enough for ``workload``), virtual-allocator if ``virtual``."""
    max_allocs = max_allocs_for(workload)
    runners: dict[str, Runner] = {
        TA: fresh(lambda capacity: TlsfAllocatorByOffset(capacity, max_allocs)),
        TA_RAW: raw_runner(modules["TLSFAllocator"], max_allocs),
    }
    if virtual:
        runners[VA] = fresh(VirtualAllocatorByOffset)
    return runners


def run_seed(config: Config, seed: int, modules: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed scenario: every policy, the naive scan, both peers, the call floor."""
    workload = seed_scenario(seed, config.seed_events)
    runners = policy_runners(POLICIES)
    runners[NAIVE] = fresh(NaiveSetScan)
    runners.update(peer_runners(modules, workload, virtual=True))
    runners[FLOOR] = fresh(CallFloor)
    load = _load()
    timings = measure(
        "seed scenario",
        {name: (workload, runner) for name, runner in runners.items()},
        repeat=config.seed_repeat,
        warmup=config.warmup,
    )
    record = _record(
        workload,
        timings,
        kind="seed",
        label="seed",
        repeat=config.seed_repeat,
        warmup=config.warmup,
        skipped={},
        load=[load, _load()],
    )
    return [record]


def run_power_law(config: Config, seed: int, modules: dict[str, Any]) -> list[dict[str, Any]]:
    """Power-law sizes at each live count in 2**20 and 2**30 slots: the policies that fit, tlsfallocator."""
    return _run_spaces(config, seed, modules, dict.fromkeys(config.live, config.pairs), virtual=False)


def run_virtual(config: Config, seed: int, modules: dict[str, Any]) -> list[dict[str, Any]]:
    """virtual-allocator at 1k and 10k live blocks in both spaces, beside every policy and tlsfallocator.

    The workloads are the power-law section's with fewer timed pairs (the
    same generator and seed: the untimed part is the same and the timed part
    is a prefix of its churn).  virtual-allocator's untimed part is replayed
    once per workload (``PreparedRunner``).
    """
    return _run_spaces(config, seed, modules, config.va_pairs, virtual=True)


def _run_spaces(
    config: Config, seed: int, modules: dict[str, Any], pairs: dict[int, int], *, virtual: bool
) -> list[dict[str, Any]]:
    """Power-law churn at each live count of ``pairs`` (live -> timed pairs), in each space of ``SPACES``.

    The live counts of a space are timed in the same rounds (``measure_lives``):
    the policies that fit, tlsfallocator and the call floor, and with
    ``virtual`` virtual-allocator too (its records then say how long its
    untimed part took).
    """
    records: list[dict[str, Any]] = []
    for exponent in SPACES:
        capacity = 1 << exponent
        workloads = {
            live: power_law_workload(capacity, live, pairs=timed, seed=seed) for live, timed in pairs.items()
        }
        names, skipped = fitting_policies(capacity)
        grid: dict[int, dict[str, tuple[Workload, Runner]]] = {}
        prepared: dict[int, dict[str, float]] = {live: {} for live in workloads}
        for live, workload in workloads.items():
            runners = policy_runners(names)
            runners.update(peer_runners(modules, workload, virtual=False))
            if virtual:
                print(f"virtual-allocator: untimed part of {workload.name} ...", end=" ", flush=True)
                runner = PreparedRunner(VirtualAllocatorByOffset, workload)
                print(f"{runner.setup_seconds:.0f} s", flush=True)
                prepared[live]["va_setup_seconds"] = round(runner.setup_seconds, 1)
                runners[VA] = runner
            runners[FLOOR] = fresh(CallFloor)
            grid[live] = {name: (workload, runner) for name, runner in runners.items()}
        load = _load()
        title = f"power-law sizes, capacity 2**{exponent}, {', '.join(map(live_name, workloads))} live blocks"
        timings = measure_lives(
            f"virtual-allocator, {title}" if virtual else title,
            grid,
            repeat=config.repeat,
            warmup=config.warmup,
        )
        after = _load()
        for live, workload in workloads.items():
            records.append(
                _record(
                    workload,
                    timings[live],
                    kind="virtual" if virtual else "power-law",
                    label=f"2**{exponent} {live_name(live)}",
                    repeat=config.repeat,
                    warmup=config.warmup,
                    skipped=skipped,
                    live=live,
                    load=[load, after],
                    **prepared[live],
                )
            )
    return records


def run_traces(config: Config, paths: Sequence[Path], modules: dict[str, Any]) -> list[dict[str, Any]]:
    """Every trace in a space of twice its peak live size: policies, tlsfallocator, the call floor."""
    records: list[dict[str, Any]] = []
    for path in paths:
        started = time.process_time()
        trace = trace_workload(path, limit=config.trace_events)
        workload = trace.workload
        print(f"trace {workload.name}: read in {time.process_time() - started:.1f} s", flush=True)
        names, skipped = fitting_policies(workload.capacity)
        skipped[VA] = SKIP_VA_TRACES
        runners = policy_runners(names)
        runners.update(peer_runners(modules, workload, virtual=False))
        runners[FLOOR] = fresh(CallFloor)
        load = _load()
        timings = measure(
            f"trace {workload.name} ({len(workload.timed):,} events, capacity {workload.capacity:,})",
            {name: (workload, runner) for name, runner in runners.items()},
            repeat=config.trace_repeat,
            warmup=config.trace_warmup,
        )
        records.append(
            _record(
                workload,
                timings,
                kind="trace",
                label=workload.name,
                repeat=config.trace_repeat,
                warmup=config.trace_warmup,
                skipped=skipped,
                load=[load, _load()],
                trace_events=trace.trace_events,
                reallocs=trace.reallocs,
                peak_live=trace.peak_live,
                peak_blocks=trace.peak_blocks,
                cut=config.trace_events,
            )
        )
        del trace, workload, runners
    return records


# ------------------------------------------------------------------ targets


def _target(
    text: str, value: float | None, met: bool | None, detail: str, on_mins: float | None = None
) -> dict[str, Any]:
    return {"target": text, "value": value, "met": met, "detail": detail, "on_mins": on_mins}


def _judged(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workloads the TLSF targets name: every power-law workload (20k pairs) and every trace."""
    return [r for r in records if r["kind"] in ("power-law", "trace") and "tlsf" in r["results"]]


def targets(records: list[dict[str, Any]], compiled: bool) -> list[dict[str, Any]]:
    """The targets of issue 6, judged on the medians (the worst case over the workloads each names).

    Each also carries the same figure computed on the mins (``on_mins``),
    the least disturbed repeats, for when a busy neighbour moved a median.
    """
    out: list[dict[str, Any]] = []
    judged = _judged(records)
    build = "compiled" if compiled else "pure-Python"
    pairs = [
        (TARGET_VS_TA, TARGET_VS_FLOOR, False),
        (TARGET_COMPILED_VS_TA, TARGET_COMPILED_VS_FLOOR, True),
    ]
    for vs_ta, vs_floor, for_compiled in pairs:
        name = "compiled" if for_compiled else "pure-Python"
        for base, key, limit in ((TA, "vs_tlsfallocator", vs_ta), (FLOOR, "vs_floor", vs_floor)):
            against = "the call floor" if base == FLOOR else f"{base} (by offset)"
            text = f"{name} TLSF <= {limit:g}x {against} on every power-law workload and every trace"
            if for_compiled != compiled:
                out.append(_target(text, None, None, f"not judged: this run timed the {build} build"))
                continue
            if not judged:
                out.append(_target(text, None, None, "not judged: no such workload in this run"))
                continue
            values = {r["label"]: r["ratios"][key]["tlsf"]["median"] for r in judged}
            mins = {r["label"]: r["ratios"][key]["tlsf"]["min"] for r in judged}
            worst = max(values, key=values.__getitem__)
            over = sum(value > limit for value in values.values())
            over_mins = sum(value > limit for value in mins.values())
            detail = f"worst {worst}; over the limit on {over} of {len(values)} ({over_mins} on the mins)"
            if key == "vs_tlsfallocator":
                raw = [r["ratios"]["vs_tlsfallocator_raw"]["tlsf"]["median"] for r in judged]
                detail += f"; against {TA_RAW}: {min(raw):.2f}x-{max(raw):.2f}x"
            out.append(_target(text, values[worst], not over, detail, max(mins.values())))
    ten = [r for r in records if r["kind"] == "virtual" and r.get("live") == 10_000]
    text = f"every policy but bitmap >= {TARGET_VS_VA:g}x faster than {VA} at 10k live blocks"
    if ten:
        speedups: dict[str, tuple[float, float]] = {}
        for r in ten:
            va = r["results"][VA]
            for name in POLICIES:
                if name != "bitmap" and name in r["results"]:
                    mine = r["results"][name]
                    speedups[f"{name} in {r['label'].split()[0]}"] = (
                        va["median_ns_per_pair"] / mine["median_ns_per_pair"],
                        va["min_ns_per_pair"] / mine["min_ns_per_pair"],
                    )
        slowest = min(speedups, key=lambda label: speedups[label][0])
        value = speedups[slowest][0]
        least_min = min(pair[1] for pair in speedups.values())
        out.append(_target(text, value, value >= TARGET_VS_VA, f"least: {slowest}", least_min))
    else:
        out.append(_target(text, None, None, "not judged: no 10k-live virtual-allocator workload"))
    seed = [r for r in records if r["kind"] == "seed"]
    text = (
        f"fastest policy >= {TARGET_VS_NAIVE:g}x faster than the naive set scan on the seed scenario "
        "(of the policies that fail no more often than the scan: a failed alloc is cheaper than a placed one)"
    )
    if seed:
        results = seed[0]["results"]
        naive = results[NAIVE]
        fair = [name for name in POLICIES if results[name]["failures"] <= naive["failures"]]
        fastest = min(fair, key=lambda name: results[name]["median_ns_per_pair"])
        value = naive["median_ns_per_pair"] / results[fastest]["median_ns_per_pair"]
        on_mins = max(naive["min_ns_per_pair"] / results[name]["min_ns_per_pair"] for name in fair)
        out.append(_target(text, value, value >= TARGET_VS_NAIVE, f"fastest: {fastest}", on_mins))
    return out


def tlsf_table(records: list[dict[str, Any]]) -> list[str]:
    """TLSF beside tlsfallocator and the call floor on every workload the targets name, medians and mins."""
    judged = _judged(records)
    if not judged:
        return []
    lines = [
        f"| workload | tlsf ns | {TA} ns | {TA_RAW} ns | floor ns | tlsf / {TA} | tlsf / {TA_RAW} "
        "| tlsf / floor |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in judged:
        results, ratios = r["results"], r["ratios"]

        def both(key: str, ratios: dict[str, Any] = ratios) -> str:
            ratio = ratios[key]["tlsf"]
            return f"{ratio['median']:.2f}x ({ratio['min']:.2f}x)"

        lines.append(
            f"| {r['label']} | {_cell(results['tlsf'])} | {_cell(results[TA])} | {_cell(results[TA_RAW])} "
            f"| {_cell(results[FLOOR])} | {both('vs_tlsfallocator')} | {both('vs_tlsfallocator_raw')} "
            f"| {both('vs_floor')} |"
        )
    return lines


# ------------------------------------------------------------------- report


def versions(modules: dict[str, Any]) -> dict[str, Any]:
    """The peers' and the library's versions, and which rangealloc build was timed."""
    try:
        compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True, check=True)
        cxx = compiler.stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        cxx = "unknown"
    return {
        "rangealloc": rangealloc.__version__,
        "rangealloc_file": str(Path(rangealloc.__file__).parent),
        "rangealloc_compiled": bool(getattr(rangealloc, "COMPILED", False)),
        "tlsfallocator": importlib.metadata.version("tlsfallocator"),
        "tlsfallocator_file": str(getattr(modules["TLSFAllocator"], "__file__", "")),
        "virtual_allocator": importlib.metadata.version("virtual-allocator"),
        "cxx": cxx,
    }


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return ""
    return f"{result['median_ns_per_pair']:,.0f} ({result['min_ns_per_pair']:,.0f})"


def _times(value: float) -> str:
    return f"{value:.2f}x" if value < 100 else f"{value:,.0f}x"


def _ratio_cell(ratio: dict[str, float] | None) -> str:
    return "" if ratio is None else _times(ratio["median"])


def _implementations(records: list[dict[str, Any]]) -> list[str]:
    """Every implementation named in ``records``, policies first (registry order), then the others."""
    seen = list(dict.fromkeys(name for r in records for name in r["results"]))
    order = [*POLICIES, NAIVE, TA, TA_RAW, VA, FLOOR]
    return sorted(seen, key=lambda name: order.index(name) if name in order else len(order))


def _grid(
    records: list[dict[str, Any]], cell: Callable[[dict[str, Any], str], str], *, corner: str
) -> list[str]:
    """A table with one row per implementation and one column per workload."""
    names = _implementations(records)
    lines = [
        f"| {corner} | " + " | ".join(r["label"] for r in records) + " |",
        "|---|" + "--:|" * len(records),
    ]
    lines += [f"| {name} | " + " | ".join(cell(r, name) for r in records) + " |" for name in names]
    return lines


def _rows(
    records: list[dict[str, Any]], cell: Callable[[dict[str, Any], str], str], *, corner: str
) -> list[str]:
    """A table with one row per workload and one column per implementation."""
    names = _implementations(records)
    lines = [f"| {corner} | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    lines += [f"| {r['label']} | " + " | ".join(cell(r, name) for name in names) + " |" for r in records]
    return lines


def _ns(r: dict[str, Any], name: str) -> str:
    return _cell(r["results"].get(name))


def _vs(key: str) -> Callable[[dict[str, Any], str], str]:
    def cell(r: dict[str, Any], name: str) -> str:
        return _ratio_cell(r["ratios"].get(key, {}).get(name))

    return cell


def _failures(records: list[dict[str, Any]]) -> list[str]:
    found = [
        f"{name} {result['failures']:,} on {r['label']}"
        for r in records
        for name, result in r["results"].items()
        if result["failures"]
    ]
    if not found:
        return ["", "No allocation failed."]
    return ["", "Failed allocations (counted, skipped, and their frees skipped): " + "; ".join(found) + "."]


def _loads(records: list[dict[str, Any]]) -> str:
    before = records[0]["load"][0]
    after = records[-1]["load"][1]
    return f"Load average (1, 5, 15 min) before / after this table: {before} / {after}."


def _section(title: str, method: str, records: list[dict[str, Any]], *, transpose: bool = False) -> list[str]:
    table = _rows if transpose else _grid
    first = records[0]
    rounds = f"median of {first['repeat']}" + (f" after {first['warmup']} warm-up" if first["warmup"] else "")
    lines = [f"## {title}", "", method, ""]
    if len(records) == 1:  # one workload: one table, ns and both ratios side by side
        r = records[0]
        vs_ta, vs_floor = _vs("vs_tlsfallocator"), _vs("vs_floor")
        lines += [
            f"ns per alloc+free pair, {rounds} (min in parentheses), and the ratios of the medians:",
            "",
            f"| implementation | ns per pair | vs {TA} | x floor |",
            "|---|--:|--:|--:|",
            *(
                f"| {name} | {_ns(r, name)} | {vs_ta(r, name)} | {vs_floor(r, name)} |"
                for name in _implementations(records)
            ),
        ]
        return [*lines, *_notes(records)]
    lines += [
        f"ns per alloc+free pair, {rounds} (min in parentheses):",
        "",
        *table(records, _ns, corner="ns per pair"),
        "",
        f"Each implementation / {TA} (by offset), medians:",
        "",
        *table(records, _vs("vs_tlsfallocator"), corner=f"vs {TA}"),
        "",
        "Each implementation / the call floor, medians:",
        "",
        *table(records, _vs("vs_floor"), corner="x floor"),
    ]
    return [*lines, *_notes(records)]


def _notes(records: list[dict[str, Any]]) -> list[str]:
    """Failures, what was not run, the disturbance flag and the load, under a section's tables."""
    lines = _failures(records)
    skipped: dict[tuple[str, str], list[str]] = {}
    for r in records:
        for name, reason in r["skipped"].items():
            skipped.setdefault((name, reason), []).append(r["label"])
    for (name, reason), labels in skipped.items():
        where = "" if len(labels) == len(records) else f" on {', '.join(labels)}"
        lines += ["", f"Not run: {name}{where}: {reason}."]
    lines += disturbed(records)
    lines += ["", _loads(records), ""]
    return lines


def page(report: dict[str, Any]) -> str:
    """``peers.md``: the machine and versions, one section per workload group, the targets."""
    info = report["machine"]
    v = report["versions"]
    records = report["workloads"]
    config = report["config"]
    build = "compiled" if v["rangealloc_compiled"] else "pure Python"
    lines = [
        "# Benchmark results: peers",
        "",
        f"{machine_line(info)}; "
        f"rangealloc {v['rangealloc']} (git {info['git_commit']}, {build}: `rangealloc.COMPILED` = "
        f"{v['rangealloc_compiled']}); tlsfallocator {v['tlsfallocator']} (built with {v['cxx']}); "
        f"virtual-allocator {v['virtual_allocator']}.  Load average before / after: "
        f"{info['load_average']} / {report['load_average_after']}.  {report['seconds']:,.0f} s.",
        "",
        "Every number is CPU time per alloc+free pair, every implementation of a table timed side by side, "
        "interleaved round by round, through the same replay loop; the call floor (a do-nothing allocator "
        f"through that loop) is included in every figure.  `{TA}`: an adapter keeping offset -> handle "
        f"(free by offset, as rangealloc does); `{TA_RAW}`: the loop keeps the handles and calls "
        f"OffsetAllocator directly; `{VA}`: an adapter keeping offset -> region, first fit.",
        "",
    ]
    if report["quick"]:
        lines += [
            "A quick run (smoke test): the workloads are too small for the numbers to mean anything.",
            "",
        ]
    groups = {
        kind: [r for r in records if r["kind"] == kind] for kind in ("seed", "power-law", "virtual", "trace")
    }
    if groups["seed"]:
        lines += _section(
            "Seed scenario",
            groups["seed"][0]["description"] + f"; {groups['seed'][0]['pairs']:,.0f} pairs timed.",
            groups["seed"],
        )
    if groups["power-law"]:
        low20, high20 = power_law_sizes(1 << 20)
        low30, high30 = power_law_sizes(1 << 30)
        lines += _section(
            "Power-law sizes",
            f"Sizes {low20}..{high20} in 2\\*\\*20 slots, {low30:,}..{high30:,} in 2\\*\\*30 slots "
            "(Pareto 1.5, truncated).  Untimed: fill to the live count, then as many churn pairs as live "
            f"blocks; timed: {groups['power-law'][0]['pairs']:,.0f} pairs of (free a random live block, "
            "alloc a new one).  "
            "The three live counts of a space are timed in the same rounds.",
            groups["power-law"],
        )
    if groups["virtual"]:
        pairs = ", ".join(f"{r['pairs']:,.0f} at {live_name(r['live'])}" for r in groups["virtual"][:2])
        setup = ", ".join(f"{r['label']}: {r['va_setup_seconds']:,.0f} s" for r in groups["virtual"])
        lines += _section(
            "Power-law sizes with virtual-allocator",
            "The power-law workloads (same generator and seed, so the same untimed part) with fewer timed "
            f"pairs ({pairs} live blocks: the first pairs of the same churn).  virtual-allocator's untimed "
            f"part is replayed once per workload ({setup} of CPU time) and each round starts from a deep "
            "copy of the state it left; every other implementation replays it every round.",
            groups["virtual"],
        )
    if groups["trace"]:
        cut = config.get("trace_events")
        lines += _section(
            "Public traces",
            "Each trace of `shared/traces`"
            + (f" (its first {cut:,} events)" if cut else "")
            + " replayed whole as the timed part, in a fixed space of twice its peak live size (requested "
            "bytes); a realloc is replayed as a free and an alloc (a pair), for every implementation alike.  "
            f"Median of {groups['trace'][0]['repeat']} rounds, no warm-up (a replay takes seconds).",
            groups["trace"],
            transpose=True,
        )
        lines += [
            "| trace | events | reallocs | pairs timed | capacity | peak live blocks |",
            "|---|--:|--:|--:|--:|--:|",
            *(
                f"| {r['label']} | {r['trace_events']:,} | {r['reallocs']:,} | {r['pairs']:,.0f} | "
                f"{r['capacity']:,} | {r['peak_blocks']:,} |"
                for r in groups["trace"]
            ),
            "",
        ]
    lines += ["## Targets", ""]
    if report["quick"]:
        lines += ["(A quick run: not meaningful.)", ""]
    lines += [
        "Judged on the medians; in parentheses, the same figure on the mins (the least disturbed repeats).",
        "",
    ]
    for target in report["targets"]:
        if target["met"] is None:
            lines.append(f"- {target['target']}: {target['detail']}")
        else:
            mark = "met" if target["met"] else "**NOT met**"
            mins = "" if target.get("on_mins") is None else f" (on the mins: {_times(target['on_mins'])})"
            lines.append(f"- {target['target']}: {_times(target['value'])}{mins}; {target['detail']}; {mark}")
    table = tlsf_table(records)
    if table:
        lines += [
            "",
            f"TLSF beside {TA} and the call floor on those workloads: ns per pair, median (min), and ratios "
            "of the medians (of the mins):",
            "",
            *table,
        ]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """ns per pair (median) per implementation per workload, log scale: synthetic workloads, then traces."""
    import matplotlib  # noqa: PLC0415 (only the plot needs it)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    records = report["workloads"]
    panels = [
        ("synthetic workloads", [r for r in records if r["kind"] != "trace"]),
        ("public traces (2 x peak live)", [r for r in records if r["kind"] == "trace"]),
    ]
    panels = [(title, group) for title, group in panels if group]
    names = _implementations(records)
    markers = "os^vDPX*<>hp"
    palette = [plt.get_cmap("tab10")(i) for i in range(10)] + [plt.get_cmap("Dark2")(i) for i in range(8)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 4.6 * len(panels)), squeeze=False)
    for (title, group), ax in zip(panels, axes[:, 0], strict=True):
        width = 0.8 / len(names)
        for index, name in enumerate(names):
            xs = [i - 0.4 + width * (index + 0.5) for i, r in enumerate(group) if name in r["results"]]
            ys = [r["results"][name]["median_ns_per_pair"] for r in group if name in r["results"]]
            if xs:
                style = {"marker": markers[index % len(markers)], "color": palette[index % len(palette)]}
                ax.scatter(xs, ys, s=28, label=name, zorder=3, **style)
        labels = [
            r["label"]
            if r["kind"] != "virtual"
            else f"{r['label']}\n({r['pairs']:,.0f} pairs,\nwith virtual-allocator)"
            for r in group
        ]
        ax.set_xticks(range(len(group)), labels, rotation=30, ha="right", fontsize=8)
        for i in range(1, len(group)):
            ax.axvline(i - 0.5, color="0.9", zorder=0)
        ax.set_yscale("log")
        ax.set_ylabel("ns per alloc+free pair (median)")
        ax.set_title(title)
        ax.grid(axis="y", which="both", color="0.93", zorder=0)
    handles, legend_labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="upper center", ncol=min(6, len(names)), fontsize=9, frameon=False)
    info = report["machine"]
    fig.text(
        0.01,
        0.005,
        f"{info['date']}, {info['cpu']}, {info['python']}; rangealloc {info['git_commit']}",
        fontsize=7,
        color="0.4",
    )
    fig.tight_layout(rect=(0, 0.02, 1, 0.94))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------- main


SECTIONS = ("seed", "power-law", "virtual", "traces")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sections; write ``peers.{json,md}`` and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small workloads, one repeat (smoke test)")
    parser.add_argument(
        "--section", action="append", choices=SECTIONS, help=f"repeatable; default all of {SECTIONS}"
    )
    parser.add_argument("--traces", type=Path, default=DEFAULT_TRACES, help="directory of *.trace.gz")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic workloads (default 0)")
    parser.add_argument(
        "--results-dir", type=Path, help="default bench/results (bench/results/quick with --quick)"
    )
    parser.add_argument("--no-install", action="store_true", help="do not pip-install missing peers")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite peers.md and the plot from peers.json"
    )
    args = parser.parse_args(argv)
    directory = args.results_dir or (RESULTS / "quick" if args.quick else RESULTS)
    image = directory / "peers.png" if args.quick or args.results_dir else IMAGE
    json_path, md_path = directory / "peers.json", directory / "peers.md"
    if args.render_only:
        saved: dict[str, Any] = json.loads(json_path.read_text())
        saved["targets"] = targets(saved["workloads"], saved["versions"]["rangealloc_compiled"])
        json_path.write_text(json.dumps(saved, indent=1) + "\n")
        md_path.write_text(page(saved))
        plot(saved, image)
        print(f"rewrote {md_path} and {image} from {json_path}")
        return 0
    modules = load_peers(install=not args.no_install)
    TlsfAllocatorByOffset.module = modules["TLSFAllocator"]
    VirtualAllocatorByOffset.module = modules["virtual_allocator"]
    config = QUICK if args.quick else FULL
    sections = list(dict.fromkeys(args.section or SECTIONS))
    paths = sorted(args.traces.glob("*.trace.gz")) if "traces" in sections else []
    if "traces" in sections and not paths:
        parser.error(f"no *.trace.gz in {args.traces}")
    info = machine()
    compiled = bool(getattr(rangealloc, "COMPILED", False))
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    for section in sections:
        if section == "seed":
            records += run_seed(config, args.seed, modules)
        elif section == "power-law":
            records += run_power_law(config, args.seed, modules)
        elif section == "virtual":
            records += run_virtual(config, args.seed, modules)
        else:
            records += run_traces(config, paths, modules)
    report: dict[str, Any] = {
        "name": "peers",
        "quick": args.quick,
        "sections": sections,
        "machine": info,
        "versions": versions(modules),
        "load_average_after": _load(),
        "seconds": round(time.perf_counter() - started, 1),
        "config": {**asdict(config), "seed": args.seed, "spaces": [f"2**{e}" for e in SPACES]},
        "workloads": records,
        "targets": targets(records, compiled),
    }
    directory.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    text = page(report)
    md_path.write_text(text)
    plot(report, image)
    print()
    print(text)
    print(f"wrote {json_path}, {md_path} and {image} in {report['seconds']:,.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
