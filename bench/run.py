"""Benchmark runner: every policy side by side, in sections that can be run one at a time.

Usage::

    python bench/run.py                          # every section, full size (about 25 minutes here)
    python bench/run.py --section uniform --section scaling   # only those sections
    python bench/run.py --quick                  # small sizes, one repeat: a smoke test (seconds)
    python bench/run.py --out NAME               # one combined NAME.{json,md} instead of per-section files
    python bench/run.py --render-only            # rewrite each <section>.md from its .json, measuring nothing

Each section writes ``bench/results/<section>.json`` (every sample, the
machine, the versions) and ``<section>.md`` (the tables and the targets), so
one section can be re-run alone; ``--quick`` writes to ``bench/results/quick/``
(not committed).  The sections (see ``bench/README.md`` for the method):

* ``seed``: the seed scenario (256 slots, sizes 1..16, churn at 50-75%
  occupancy), every policy and the naive set scan: ratio of each to the scan.
* ``power-law``: power-law sizes in 2**20- and 2**30-slot spaces at 1k, 10k
  and 100k live blocks, every policy: cost at 100k live blocks / cost at 1k.
* ``uniform``: capacity 2**20 filled with blocks of one size until the first
  ``OutOfSpace``, every policy: used / capacity beside the best possible.
* ``scaling``: TLSF and buddy at 1k, 10k, 100k and 1M live blocks of
  power-law sizes in a 2**40-slot space: cost at 1M / cost at 1k, beside
  the block table alone (``TableFloor``) and the call floor.
* ``floor``: every policy beside the call floor (a do-nothing allocator) on
  the seed scenario and at 10k live blocks in 2**20 and 2**30 slots.
* ``sl``: TLSF with 3, 4, 5 and 6 second-level bits: speed, the uniform
  fill, and the refill after churn (``_workloads.refill``).

Every timed workload is generated once and replayed on a fresh allocator per
implementation and per round; implementations (and live counts) are
interleaved in each round (``run_runners``); warm-up rounds are discarded; min
and median of the repeats are reported, in ns per alloc+free pair.  The call
floor is timed alongside in every timed table.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import rangealloc
from rangealloc import POLICIES, TLSF, Allocator
from rangealloc._workloads import (
    FLOOR,
    NAIVE,
    TABLE_FLOOR,
    CallFloor,
    Runner,
    TableFloor,
    Target,
    Timing,
    Workload,
    fill,
    fresh,
    implementations,
    power_law_sizes,
    power_law_workload,
    refill,
    run_runners,
    seed_scenario,
    uniform_sizes,
)

HERE = Path(__file__).resolve().parent
#: Exponents of the large spaces of the power-law section: 2**20 and 2**30 slots.
SPACES = (20, 30)
#: The targets of issue 2.
TARGET_SPEEDUP = 15.0  # fastest policy vs the naive scan, seed scenario
TARGET_SCALING = 2.0  # cost at the most live blocks / cost at the fewest
SCALING_POLICIES = ("first-fit", "best-fit", "next-fit")
#: The targets of issue 3.
TARGET_UTILISATION = 0.99  # uniform fill: used / capacity at the first failure
UTILISATION_POLICIES = ("first-fit", "next-fit", "best-fit", "bitmap", "tlsf")
TARGET_O1 = {"tlsf": 1.3, "buddy": 1.5}  # cost at 1M live blocks / cost at 1k
TARGET_FLOOR = {"tlsf": 12.0}  # ns per pair / the call floor's
#: The scaling section's space and sizes: 1M blocks of power-law sizes 2**16..2**26 (mean about
#: 190k slots) fill 17% of 2**40 slots; ``power_law_sizes(2**40)`` would need three times the space.
SCALING_CAPACITY = 1 << 40
SCALING_SIZES = (1 << 16, 1 << 26)
#: The uniform section's fixed sizes (the issue's), in a space of 2**20 slots.
UNIFORM_SIZES = (3, 5, 7, 100, 1000, 1025, 4097, 20000)
#: The second-level bits the ``sl`` section compares (TLSF's default is 4).
SL_VALUES = (3, 4, 5, 6)
#: Policies the ``sl`` section's refill shows beside TLSF, for scale.
REFILL_CONTEXT = ("first-fit", "best-fit")
#: A median this far above its min flags a table as disturbed.
DISTURBED = 0.25

Factory = Callable[[int], Target]


@dataclass(frozen=True)
class Config:
    """How much to run: repeats, warm-up rounds and workload sizes, for every section."""

    repeat: int
    warmup: int
    seed_repeat: int
    seed_events: int
    pairs: int
    live: tuple[int, ...]  # power-law section
    uniform_capacity: int
    uniform_sizes: tuple[int, ...]
    uniform_random: int  # how many seeded random sizes the uniform fill adds
    fill_budget_s: float  # CPU time allowed to one fill before it is capped
    scaling_live: tuple[int, ...]
    floor_live: int
    sl_live: tuple[int, ...]
    refill_live: int  # sl section: live blocks of the churn before the refill, in 2**30 slots


#: The seed scenario is cheap (a round takes about half a second), so it gets more repeats: a few
#: seconds of a busy neighbour then move its median less.
FULL = Config(
    repeat=7,
    warmup=1,
    seed_repeat=15,
    seed_events=40_000,
    pairs=20_000,
    live=(1_000, 10_000, 100_000),
    uniform_capacity=1 << 20,
    uniform_sizes=UNIFORM_SIZES,
    uniform_random=4,
    fill_budget_s=240.0,
    scaling_live=(1_000, 10_000, 100_000, 1_000_000),
    floor_live=10_000,
    sl_live=(10_000, 100_000),
    refill_live=100_000,
)
QUICK = Config(
    repeat=1,
    warmup=0,
    seed_repeat=1,
    seed_events=2_000,
    pairs=500,
    live=(100, 1_000),
    uniform_capacity=1 << 14,
    uniform_sizes=(3, 7, 100, 1025),
    uniform_random=2,
    fill_budget_s=5.0,
    scaling_live=(100, 1_000),
    floor_live=1_000,
    sl_live=(100, 1_000),
    refill_live=1_000,
)


def space_name(capacity: int) -> str:
    """``2**20`` for a power of two, else the number."""
    exponent = capacity.bit_length() - 1
    return f"2**{exponent}" if capacity == 1 << exponent else str(capacity)


def live_name(live: int) -> str:
    """``1k`` for 1000, ``1M`` for 1000000, ``100`` for 100."""
    if live >= 1_000_000 and live % 1_000_000 == 0:
        return f"{live // 1_000_000}M"
    return f"{live // 1000}k" if live >= 1000 and live % 1000 == 0 else str(live)


def tlsf_with(sl: int) -> Callable[[int], TLSF]:
    """A factory of ``TLSF(capacity, sl=sl)``."""
    return functools.partial(TLSF, sl=sl)


def sl_name(sl: int) -> str:
    """The name of TLSF with ``sl`` second-level bits in tables: ``tlsf sl=4``."""
    return f"tlsf sl={sl}"


# ---------------------------------------------------------------- measuring


def measure(
    title: str, cases: Mapping[str, tuple[Workload, Runner]], *, repeat: int, warmup: int
) -> dict[str, Timing]:
    """Time ``cases`` interleaved (``run_runners``), showing progress; print and return the timings.

    A case's runner is ``fresh(factory)`` for a policy (see ``runs``), or a
    peer's own loop (bench/peers.py).
    """
    print(title, flush=True)
    started = time.perf_counter()
    done = 0
    total = (warmup + repeat) * len(cases)
    live_progress = sys.stdout.isatty()

    def tick(name: str) -> None:
        nonlocal done
        done += 1
        if live_progress:
            print(f"\r  {done}/{total} replays ({name})".ljust(78), end="", flush=True)

    timings = run_runners(cases, repeat=repeat, warmup=warmup, on_replay=tick)
    line = f"  {total} replays in {time.perf_counter() - started:.1f} s"
    print(f"\r{line:<78}" if live_progress else line, flush=True)
    for name, timing in timings.items():
        print(
            f"    {name:<32} median {timing.median:>12,.0f}  min {timing.min:>12,.0f} ns/pair"
            f"  failures {timing.failures}",
            flush=True,
        )
    return timings


def runs(workload: Workload, factories: Mapping[str, Factory]) -> dict[str, tuple[Workload, Runner]]:
    """The cases of ``measure`` that replay ``workload`` on a fresh allocator from each factory."""
    return {name: (workload, fresh(factory)) for name, factory in factories.items()}


def measure_grid(
    title: str,
    workloads: dict[int, Workload],
    factories: dict[str, Factory],
    *,
    repeat: int,
    warmup: int,
) -> dict[int, dict[str, Timing]]:
    """Time every factory on every workload (keyed by live count), all interleaved in the same rounds.

    Time: (warmup + repeat) x workloads x factories replays.
    """
    grid = {live: runs(workload, factories) for live, workload in workloads.items()}
    return measure_lives(title, grid, repeat=repeat, warmup=warmup)


def measure_lives(
    title: str, grid: Mapping[int, Mapping[str, tuple[Workload, Runner]]], *, repeat: int, warmup: int
) -> dict[int, dict[str, Timing]]:
    """Time the cases of every live count (``grid[live][name]``) in the same rounds; the timings, keyed alike.

    One ``measure`` over them all, so that a ratio between two live counts
    is measured side by side too.
    """
    cases = {
        f"{live_name(live)}/{name}": case for live, named in grid.items() for name, case in named.items()
    }
    timings = measure(title, cases, repeat=repeat, warmup=warmup)
    return {
        live: {name: timings[f"{live_name(live)}/{name}"] for name in named} for live, named in grid.items()
    }


def record(
    workload: Workload,
    timings: dict[str, Timing],
    skipped: dict[str, str],
    *,
    kind: str,
    live: int | None,
    repeat: int,
) -> dict[str, Any]:
    """The JSON record of one timed workload: its shape and every implementation's samples."""
    return {
        "name": workload.name,
        "kind": kind,
        "description": workload.description,
        "capacity": workload.capacity,
        "live": live,
        "setup_events": len(workload.setup),
        "timed_events": len(workload.timed),
        "pairs": workload.pairs,
        "repeat": repeat,
        "results": {name: _timing_json(timing) for name, timing in timings.items()},
        "skipped": skipped,
    }


def _timing_json(timing: Timing) -> dict[str, Any]:
    return {
        "median_ns_per_pair": round(timing.median, 1),
        "min_ns_per_pair": round(timing.min, 1),
        "samples_ns_per_pair": [round(sample, 1) for sample in timing.samples],
        "failures": timing.failures,
    }


def _ratio(many: dict[str, Any], few: dict[str, Any]) -> dict[str, float]:
    """``many / few`` of two timing results, on the medians and on the mins."""
    return {
        "median": round(many["median_ns_per_pair"] / few["median_ns_per_pair"], 2),
        "min": round(many["min_ns_per_pair"] / few["min_ns_per_pair"], 2),
    }


def _target(text: str, policy: str, value: float, met: bool, unit: str = "x") -> dict[str, Any]:
    return {"target": text, "policy": policy, "value": value, "unit": unit, "met": met}


def _chosen(capacity: int, names: Iterable[str]) -> tuple[dict[str, Factory], dict[str, str]]:
    """The named policies that accept ``capacity``, and why the others are skipped."""
    chosen: dict[str, Factory] = {}
    skipped: dict[str, str] = {}
    for name in names:
        cls = POLICIES[name]
        if capacity > cls.max_capacity:
            limit = space_name(cls.max_capacity)
            skipped[name] = f"capacity {space_name(capacity)} is above its max_capacity {limit}"
        else:
            chosen[name] = cls
    return chosen, skipped


# -------------------------------------------------------- section: seed


def run_seed(config: Config, seed: int) -> dict[str, Any]:
    """The seed scenario: every policy, the naive scan and the call floor, interleaved.

    Time: (warmup + seed_repeat) rounds of one replay per implementation.
    """
    factories = implementations(POLICIES)
    factories[FLOOR] = CallFloor
    workload = seed_scenario(seed, config.seed_events)
    cases = runs(workload, factories)
    title = "seed scenario: every policy, the naive scan, the call floor"
    timings = measure(title, cases, repeat=config.seed_repeat, warmup=config.warmup)
    seed_record = record(workload, timings, {}, kind="seed", live=None, repeat=config.seed_repeat)
    results = seed_record["results"]
    naive = results[NAIVE]
    speedups = {name: _ratio(naive, result) for name, result in results.items() if name in POLICIES}
    fastest = max(speedups, key=lambda name: speedups[name]["median"])
    targets = [
        _target(
            f"fastest policy on the seed scenario >= {TARGET_SPEEDUP:g}x faster than naive scan",
            fastest,
            speedups[fastest]["median"],
            speedups[fastest]["median"] >= TARGET_SPEEDUP,
        )
    ]
    summary = {"floor_ns_per_pair": results[FLOOR]["median_ns_per_pair"], "speedup_vs_naive": speedups}
    return {"workloads": [seed_record], "summary": summary, "targets": targets}


def page_seed(report: dict[str, Any]) -> list[str]:
    """The seed section's table."""
    seed_record = report["workloads"][0]
    speedups = report["summary"]["speedup_vs_naive"]
    lines = [
        f"## Seed scenario ({seed_record['pairs']:,.0f} pairs timed, median of {seed_record['repeat']})",
        "",
        seed_record["description"] + ".",
        "",
        "| implementation | ns per pair | vs naive scan (median) | vs naive scan (min) | failures |",
        "|---|--:|--:|--:|--:|",
    ]
    results = seed_record["results"]
    ranked = sorted((n for n in results if n != FLOOR), key=lambda n: results[n]["median_ns_per_pair"])
    for name in ranked:
        result = results[name]
        ratio = speedups.get(name)
        median = f"{ratio['median']:.1f}x faster" if ratio else "baseline"
        minimum = f"{ratio['min']:.1f}x faster" if ratio else "baseline"
        lines.append(f"| {name} | {_cell(result)} | {median} | {minimum} | {result['failures']} |")
    lines += [
        "",
        f"The call floor (a do-nothing allocator through the same replay loop) costs {_cell(results[FLOOR])} "
        "ns per pair; that cost is included in every figure above.",
    ]
    lines += disturbed([seed_record])
    return [*lines, ""]


# --------------------------------------------------- section: power-law


def run_power_law(config: Config, seed: int) -> dict[str, Any]:
    """Power-law sizes in 2**20 and 2**30 slots at each live count: every policy and the call floor.

    In each space, every policy that accepts the capacity at every live count
    is timed in the same rounds, so that the ratio of 100k to 1k live blocks
    is itself measured side by side.
    """
    records: list[dict[str, Any]] = []
    scaling: dict[str, dict[str, dict[str, Any]]] = {}
    targets: list[dict[str, Any]] = []
    for exponent in SPACES:
        capacity = 1 << exponent
        chosen, skipped = _chosen(capacity, POLICIES)
        chosen[FLOOR] = CallFloor
        workloads = {
            live: power_law_workload(capacity, live, pairs=config.pairs, seed=seed) for live in config.live
        }
        lives = ", ".join(live_name(live) for live in config.live)
        title = f"power-law sizes, capacity 2**{exponent}, {lives} live blocks"
        grid = measure_grid(title, workloads, chosen, repeat=config.repeat, warmup=config.warmup)
        for name, reason in skipped.items():
            print(f"    {name}: skipped, {reason}")
        space = [
            record(workloads[live], grid[live], skipped, kind="power-law", live=live, repeat=config.repeat)
            for live in workloads
        ]
        records += space
        few, many = space[0], space[-1]
        scaling[space_name(capacity)] = {
            name: {**_ratio(many["results"][name], result), "few": few["live"], "many": many["live"]}
            for name, result in few["results"].items()
        }
        for name in SCALING_POLICIES:
            ratio = scaling[space_name(capacity)][name]
            targets.append(
                _target(
                    f"{name} in {space_name(capacity)}: cost at {live_name(many['live'])} live blocks "
                    f"<= {TARGET_SCALING:g}x cost at {live_name(few['live'])}",
                    name,
                    ratio["median"],
                    ratio["median"] <= TARGET_SCALING,
                )
            )
    return {"workloads": records, "summary": {"scaling": scaling}, "targets": targets}


def page_power_law(report: dict[str, Any]) -> list[str]:
    """One table per space: ns per pair at each live count, and the ratio of the most to the fewest."""
    lines: list[str] = []
    for exponent in SPACES:
        capacity = 1 << exponent
        space = [r for r in report["workloads"] if r["capacity"] == capacity]
        low, high = power_law_sizes(capacity)
        lines += _live_table(
            f"Power-law sizes, capacity {space_name(capacity)}",
            f"Sizes {low}..{high} (Pareto, exponent 1.5, truncated).  Untimed: fill to the live count, then "
            "as many churn pairs as live blocks.  Timed: pairs of (free a random live block, alloc a new "
            "one).  All live counts and policies are timed interleaved, in the same rounds.",
            space,
            report["summary"]["scaling"][space_name(capacity)],
        )
    return lines


def _live_table(
    title: str, method: str, space: list[dict[str, Any]], ratios: dict[str, dict[str, Any]]
) -> list[str]:
    """A table of implementations x live counts, with the ratio of the most live blocks to the fewest."""
    space = sorted(space, key=lambda r: r["live"])
    few, many = live_name(space[0]["live"]), live_name(space[-1]["live"])
    header = " | ".join(f"{live_name(r['live'])} live" for r in space)
    lines = [
        f"## {title} ({space[0]['pairs']:,.0f} pairs timed, median of {space[0]['repeat']})",
        "",
        method,
        "",
        f"| policy | {header} | {many} / {few} (median) | {many} / {few} (min) | failures |",
        "|---|" + "--:|" * (len(space) + 3),
    ]
    for name in space[0]["results"]:
        cells = " | ".join(_cell(r["results"][name]) for r in space)
        failures = sum(r["results"][name]["failures"] for r in space)
        ratio = ratios[name]
        lines.append(f"| {name} | {cells} | {ratio['median']:.2f}x | {ratio['min']:.2f}x | {failures} |")
    if FLOOR in space[0]["results"]:
        lines += ["", f"{FLOOR}: the replay loop with a do-nothing allocator, included in every figure."]
    lines += disturbed(space)
    for name, reason in space[0]["skipped"].items():
        lines += ["", f"{name}: skipped, {reason}."]
    return [*lines, ""]


# ------------------------------------------------------ section: uniform


def uniform_fill(
    factory: Callable[[int], Allocator], capacity: int, size: int, *, budget_s: float, buddy: bool = False
) -> dict[str, Any]:
    """Fill an empty allocator with blocks of ``size`` until the first failure; its JSON record.

    Besides the fill (``_workloads.fill``) the record says whether the
    failure was false: whether some hole of ``holes()`` still held the
    request when ``OutOfSpace`` was raised.  For a buddy allocator
    (``buddy=True``) the request is a block of the rounded size, aligned to
    that size.

    Time: the fill's allocs, then ``holes()`` and ``stats()`` once.
    """
    allocator = factory(capacity)
    result = fill(allocator, capacity, size, budget_s=budget_s)
    stats = allocator.stats()
    placed = stats.used // stats.blocks if stats.blocks else size  # buddy: the rounded size
    align = placed if buddy else 1
    false_out_of_space = not result.capped and any(
        start + (-start % align) + placed <= start + length for start, length in allocator.holes()
    )
    return {
        "blocks": result.blocks,
        "utilisation": result.utilisation,
        "occupied": stats.used / capacity,
        "largest_hole": stats.largest_hole,
        "holes": stats.holes,
        "false_out_of_space": false_out_of_space,
        "capped": result.capped,
        "ns_per_alloc": round(result.ns_per_alloc, 1),
    }


def uniform_sizes_of(config: Config, seed: int) -> list[tuple[int, bool]]:
    """The uniform fill's sizes: the fixed ones, then the seeded random ones (``(size, random)``).

    Random sizes are at most 1% of the capacity, so their best possible fill is >= 99% too.
    """
    fixed = config.uniform_sizes
    high = config.uniform_capacity // 100
    drawn = [s for s in uniform_sizes(seed, config.uniform_random + len(fixed), high=high) if s not in fixed]
    return [(size, False) for size in fixed] + [(size, True) for size in drawn[: config.uniform_random]]


def run_uniform(config: Config, seed: int) -> dict[str, Any]:
    """The uniform-size fill, every policy, every size: used / capacity at the first failure.

    Time: per size and policy, one fill of up to capacity / size allocs
    (bitmap: about 100-300 us each in 2**20 slots, so about a minute for the
    sizes below 8; capped at ``fill_budget_s``).
    """
    capacity = config.uniform_capacity
    records: list[dict[str, Any]] = []
    print(f"uniform fill, capacity {space_name(capacity)}", flush=True)
    for size, random_size in uniform_sizes_of(config, seed):
        results: dict[str, Any] = {}
        for name, cls in POLICIES.items():
            started = time.perf_counter()
            results[name] = uniform_fill(
                cls, capacity, size, budget_s=config.fill_budget_s, buddy=name == "buddy"
            )
            print(
                f"    size {size:>6} {name:<10} {results[name]['utilisation']:9.4%} "
                f"({time.perf_counter() - started:.1f} s)",
                flush=True,
            )
        records.append(
            {
                "kind": "uniform",
                "capacity": capacity,
                "size": size,
                "random": random_size,
                "best": capacity // size * size / capacity,
                "results": results,
            }
        )
    targets = []
    for name in UTILISATION_POLICIES:
        # Met on a size when the fill reaches 99%, or the best possible where that is lower (only
        # sizes above 1% of the capacity, as in the quick run's 2**14 slots).
        worst = min(records, key=lambda r: r["results"][name]["utilisation"])
        value = worst["results"][name]["utilisation"]
        met = all(r["results"][name]["utilisation"] >= min(TARGET_UTILISATION, r["best"]) for r in records)
        capped = any(r["results"][name]["capped"] for r in records)
        targets.append(
            _target(
                f"{name}: used / capacity at the first failure >= {TARGET_UTILISATION:.0%} (or the best "
                f"possible, if lower) for every size (lowest: size {worst['size']})"
                + (" (some fills capped: lower bounds)" if capped else ""),
                name,
                value,
                met,
                unit="%",
            )
        )
    summary = {
        name: {
            "min_utilisation": min(r["results"][name]["utilisation"] for r in records),
            "sizes_at_best": sum(r["results"][name]["blocks"] == capacity // r["size"] for r in records),
            "sizes": len(records),
            "false_out_of_space": [r["size"] for r in records if r["results"][name]["false_out_of_space"]],
        }
        for name in POLICIES
    }
    return {"workloads": records, "summary": summary, "targets": targets}


def page_uniform(report: dict[str, Any]) -> list[str]:
    """The uniform fill: one row per size, one column per policy, beside the best possible."""
    records = report["workloads"]
    names = list(records[0]["results"])
    capacity = records[0]["capacity"]
    lines = [
        f"## Uniform-size fill, capacity {space_name(capacity)}",
        "",
        "An empty allocator is filled with blocks of one size until the first `OutOfSpace`; the table shows "
        "used / capacity at that moment (requested slots: blocks x size), beside the best possible, "
        "floor(capacity / size) x size / capacity.  Sizes marked * are seeded random sizes.",
        "",
        f"| size | best possible | {' | '.join(names)} |",
        "|--:|--:|" + "--:|" * len(names),
    ]
    for r in records:
        cells = []
        for name in names:
            result = r["results"][name]
            cell = _percent(result["utilisation"])
            if result["capped"]:
                cell += " (capped)"
            if result["false_out_of_space"]:
                cell += " **false OOS**"
            cells.append(cell)
        mark = "*" if r["random"] else ""
        lines.append(f"| {r['size']}{mark} | {_percent(r['best'])} | {' | '.join(cells)} |")
    summary = report["summary"]
    lines += [
        "",
        "Sizes where the policy reached the best possible: "
        + ", ".join(f"{name} {summary[name]['sizes_at_best']}/{summary[name]['sizes']}" for name in names)
        + ".",
    ]
    false_oos = {name: summary[name]["false_out_of_space"] for name in names}
    if any(false_oos.values()):
        lines.append(
            "**False out-of-space** (a hole still held the request): "
            + "; ".join(f"{name}: sizes {sizes}" for name, sizes in false_oos.items() if sizes)
            + "."
        )
    else:
        lines.append(
            "No failure was false: at every first `OutOfSpace`, no hole of `holes()` held the request "
            "(for buddy: a block of the rounded size, aligned to that size)."
        )
    if "buddy" in names:
        occupied = [r["results"]["buddy"]["occupied"] for r in records]
        lines += [
            "",
            "Buddy rounds each request up to a power of two; "
            + (
                "at every failure its blocks occupied the whole space (`stats().used` = capacity): "
                "all it lost is the rounding."
                if all(value == 1 for value in occupied)
                else "the slots it really occupied at the failure (`stats().used` / capacity): "
                + ", ".join(
                    f"{r['size']}: {_percent(value)}" for r, value in zip(records, occupied, strict=True)
                )
                + "."
            ),
        ]
    capped = [
        f"{name} at size {r['size']}" for r in records for name in names if r["results"][name]["capped"]
    ]
    if capped:
        lines += [
            "",
            "Capped (the fill ran out of its time budget before any failure, so the figure is a lower "
            "bound): " + ", ".join(capped) + ".",
        ]
    lines += [
        "",
        "Mean CPU time of one alloc during the fill, ns: "
        + "; ".join(
            f"{name} " + "/".join(f"{r['results'][name]['ns_per_alloc']:,.0f}" for r in records)
            for name in names
        )
        + " (sizes in table order; one fill each, not repeated).",
    ]
    return [*lines, ""]


def _percent(value: float) -> str:
    """A utilisation with enough digits to tell one slot in 2**20 (0.0001%) from the best possible."""
    return f"{value:.4%}"


# ------------------------------------------------------ section: scaling


def run_scaling(config: Config, seed: int) -> dict[str, Any]:
    """TLSF and buddy at each live count in 2**40 slots, interleaved: cost at the most / at the fewest.

    Untimed: the fill and as many churn pairs as live blocks (with 1M live
    blocks, 3M events, several seconds per replay).  Time: (warmup + repeat)
    x live counts x 3 replays.
    """
    capacity = SCALING_CAPACITY
    factories: dict[str, Factory] = {name: POLICIES[name] for name in TARGET_O1}
    factories[TABLE_FLOOR] = TableFloor
    factories[FLOOR] = CallFloor
    print(f"scaling: generating the workloads in {space_name(capacity)} slots", flush=True)
    workloads = {
        live: power_law_workload(capacity, live, pairs=config.pairs, seed=seed, sizes=SCALING_SIZES)
        for live in config.scaling_live
    }
    lives = ", ".join(live_name(live) for live in config.scaling_live)
    title = f"scaling: power-law sizes, capacity {space_name(capacity)}, {lives} live blocks"
    grid = measure_grid(title, workloads, factories, repeat=config.repeat, warmup=config.warmup)
    records = [
        record(workloads[live], grid[live], {}, kind="scaling", live=live, repeat=config.repeat)
        for live in workloads
    ]
    few = records[0]
    ratios = {
        name: {live_name(r["live"]): _ratio(r["results"][name], few["results"][name]) for r in records[1:]}
        for name in factories
    }
    many = live_name(records[-1]["live"])
    targets = [
        _target(
            f"{name} in {space_name(capacity)}: cost at {many} live blocks <= {limit:g}x cost at "
            f"{live_name(few['live'])}",
            name,
            ratios[name][many]["median"],
            ratios[name][many]["median"] <= limit,
        )
        for name, limit in TARGET_O1.items()
    ]
    return {"workloads": records, "summary": {"ratios_to_fewest": ratios}, "targets": targets}


def page_scaling(report: dict[str, Any]) -> list[str]:
    """The scaling table: TLSF, buddy and the call floor at each live count."""
    records = report["workloads"]
    low, high = SCALING_SIZES
    many = live_name(records[-1]["live"])
    ratios = {
        name: {"median": by_live[many]["median"], "min": by_live[many]["min"]}
        for name, by_live in report["summary"]["ratios_to_fewest"].items()
    }
    lines = _live_table(
        f"O(1) evidence: capacity {space_name(records[0]['capacity'])}",
        f"Power-law sizes {low}..{high} (Pareto, exponent 1.5, truncated).  Untimed: fill to the live "
        "count, then as many churn pairs as live blocks.  Timed: pairs of (free a random live block, "
        "alloc a new one).  All live counts and policies are timed interleaved, in the same rounds.  "
        f"{TABLE_FLOOR}: the call floor plus a block table (a dict offset -> size, which every policy "
        "keeps), to show how much of the growth is one dict outgrowing the caches.",
        records,
        ratios,
    )
    middle = [live_name(r["live"]) for r in records[1:-1]]
    if middle:
        lines += [
            "Ratios to the fewest live blocks at the other counts (median): "
            + "; ".join(
                f"{name} " + ", ".join(f"{live} {by_live[live]['median']:.2f}x" for live in middle)
                for name, by_live in report["summary"]["ratios_to_fewest"].items()
            )
            + ".",
            "",
        ]
    return lines


# -------------------------------------------------------- section: floor


def run_floor(config: Config, seed: int) -> dict[str, Any]:
    """Every policy beside the call floor, on the seed scenario and at 10k live blocks in 2**20 and 2**30.

    Each workload is its own interleaved run of every policy that accepts
    the capacity and the floor.  Time: (warmup + repeat) x 3 x the policies.
    """
    workloads: list[tuple[Workload, int | None, int]] = [
        (seed_scenario(seed, config.seed_events), None, config.seed_repeat)
    ]
    workloads += [
        (
            power_law_workload(1 << e, config.floor_live, pairs=config.pairs, seed=seed),
            config.floor_live,
            config.repeat,
        )
        for e in SPACES
    ]
    records: list[dict[str, Any]] = []
    multiples: dict[str, dict[str, dict[str, float]]] = {}
    targets: list[dict[str, Any]] = []
    for workload, live, repeat in workloads:
        chosen, skipped = _chosen(workload.capacity, POLICIES)
        chosen[FLOOR] = CallFloor
        cases = runs(workload, chosen)
        timings = measure(f"floor: {workload.name}", cases, repeat=repeat, warmup=config.warmup)
        for name, reason in skipped.items():
            print(f"    {name}: skipped, {reason}")
        floor_record = record(workload, timings, skipped, kind="floor", live=live, repeat=repeat)
        records.append(floor_record)
        results = floor_record["results"]
        multiples[workload.name] = {
            name: _ratio(result, results[FLOOR]) for name, result in results.items() if name != FLOOR
        }
        for name, limit in TARGET_FLOOR.items():
            value = multiples[workload.name][name]["median"]
            text = f"{name} on {workload.name}: <= {limit:g}x the call floor"
            targets.append(_target(text, name, value, value <= limit))
    return {"workloads": records, "summary": {"multiples_of_floor": multiples}, "targets": targets}


def _short(record: dict[str, Any]) -> str:
    """A workload's name for a table header: ``seed``, ``2**20, 10k live``."""
    if record["live"] is None:
        return str(record["name"])
    return f"{space_name(record['capacity'])}, {live_name(record['live'])} live"


def page_floor(report: dict[str, Any]) -> list[str]:
    """One table: every policy's ns per pair on each workload, and its multiple of the call floor."""
    records = report["workloads"]
    multiples = report["summary"]["multiples_of_floor"]
    names = list(POLICIES)
    header = " | ".join(f"{_short(r)}: ns per pair | x floor (median / min)" for r in records)
    lines = [
        "## Every policy beside the call floor",
        "",
        "The call floor is `CallFloor`, whose `alloc(self, size, align=1)` returns 0 and whose "
        "`free(self, offset)` does nothing: the replay loop plus two empty method calls, timed in the "
        "same rounds as the policies on each workload.  A policy's cost is shown as a multiple of it "
        "(median / median, and min / min).  Workloads: "
        + "; ".join(
            f"{r['name']}: {r['description']}, {r['pairs']:,.0f} pairs timed, median of {r['repeat']}"
            for r in records
        )
        + ".",
        "",
        f"| policy | {header} |",
        "|---|" + "--:|--:|" * len(records),
    ]
    for name in [*names, FLOOR]:
        cells = []
        for r in records:
            if name not in r["results"]:
                cells += ["skipped", ""]
                continue
            cells.append(_cell(r["results"][name]))
            ratio = multiples[r["name"]].get(name)
            cells.append(f"{ratio['median']:.1f}x / {ratio['min']:.1f}x" if ratio else "1x")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += disturbed(records)
    for r in records:
        for name, reason in r["skipped"].items():
            lines += ["", f"{name} on {r['name']}: skipped, {reason}."]
    return [*lines, ""]


# ----------------------------------------------------------- section: sl


def run_sl(config: Config, seed: int) -> dict[str, Any]:
    """TLSF with each ``sl`` of ``SL_VALUES``: speed (power law, 2**30) and utilisation (uniform fill).

    Speed: every ``sl`` at every live count of ``sl_live``, and the call
    floor, interleaved in the same rounds.  Utilisation: the uniform
    section's fill at each of its sizes.  Time: (warmup + repeat) x live
    counts x 5 replays, then 4 x the uniform sizes fills.
    """
    capacity = 1 << 30
    factories: dict[str, Factory] = {sl_name(sl): tlsf_with(sl) for sl in SL_VALUES}
    factories[FLOOR] = CallFloor
    workloads = {
        live: power_law_workload(capacity, live, pairs=config.pairs, seed=seed) for live in config.sl_live
    }
    lives = ", ".join(live_name(live) for live in config.sl_live)
    title = f"sl: TLSF sl {SL_VALUES}, power-law sizes, capacity {space_name(capacity)}, {lives} live"
    grid = measure_grid(title, workloads, factories, repeat=config.repeat, warmup=config.warmup)
    records = [
        record(workloads[live], grid[live], {}, kind="sl-speed", live=live, repeat=config.repeat)
        for live in workloads
    ]
    fill_capacity = config.uniform_capacity
    print(f"sl: uniform fill, capacity {space_name(fill_capacity)}", flush=True)
    for size, random_size in uniform_sizes_of(config, seed):
        results = {
            sl_name(sl): uniform_fill(tlsf_with(sl), fill_capacity, size, budget_s=config.fill_budget_s)
            for sl in SL_VALUES
        }
        records.append(
            {
                "kind": "sl-uniform",
                "capacity": fill_capacity,
                "size": size,
                "random": random_size,
                "best": fill_capacity // size * size / fill_capacity,
                "results": results,
            }
        )
    refill_capacity = 1 << 30
    churn = power_law_workload(refill_capacity, config.refill_live, pairs=config.pairs, seed=seed)
    print(f"sl: refill after {churn.name}", flush=True)
    refill_factories: dict[str, Callable[[int], Allocator]] = {sl_name(sl): tlsf_with(sl) for sl in SL_VALUES}
    refill_factories.update((name, POLICIES[name]) for name in REFILL_CONTEXT)
    refills = {name: refill(factory(refill_capacity), churn) for name, factory in refill_factories.items()}
    refill_record: dict[str, Any] = {
        "kind": "sl-refill",
        "name": churn.name,
        "description": churn.description,
        "capacity": refill_capacity,
        "live": config.refill_live,
        "results": {
            name: {"used": used, "utilisation": used / refill_capacity} for name, used in refills.items()
        },
    }
    records.append(refill_record)
    speed = [r for r in records if r["kind"] == "sl-speed"]
    fills = [r for r in records if r["kind"] == "sl-uniform"]
    summary = {
        sl_name(sl): {
            **{
                f"{live_name(r['live'])}_median_ns": r["results"][sl_name(sl)]["median_ns_per_pair"]
                for r in speed
            },
            **{
                f"{live_name(r['live'])}_vs_default": _ratio(
                    r["results"][sl_name(sl)], r["results"][sl_name(4)]
                )["median"]
                for r in speed
            },
            "min_utilisation": min(r["results"][sl_name(sl)]["utilisation"] for r in fills),
            "sizes_at_best": sum(
                r["results"][sl_name(sl)]["blocks"] == r["capacity"] // r["size"] for r in fills
            ),
            "sizes": len(fills),
            "refill_utilisation": refill_record["results"][sl_name(sl)]["utilisation"],
        }
        for sl in SL_VALUES
    }
    return {"workloads": records, "summary": summary, "targets": []}


def page_sl(report: dict[str, Any]) -> list[str]:
    """The speed table (each sl at each live count) and the utilisation table (each sl at each size)."""
    speed = [r for r in report["workloads"] if r["kind"] == "sl-speed"]
    fills = [r for r in report["workloads"] if r["kind"] == "sl-uniform"]
    summary = report["summary"]
    names = [sl_name(sl) for sl in SL_VALUES]
    header = " | ".join(f"{live_name(r['live'])} live" for r in speed)
    vs = " | ".join(f"{live_name(r['live'])}: vs sl=4" for r in speed)
    lines = [
        f"## TLSF second-level bits: speed ({speed[0]['pairs']:,.0f} pairs timed, median of "
        f"{speed[0]['repeat']})",
        "",
        f"Power-law sizes {'..'.join(map(str, power_law_sizes(speed[0]['capacity'])))}, capacity "
        f"{space_name(speed[0]['capacity'])}, as in the power-law section; every `sl` and the call floor "
        "interleaved in the same rounds.",
        "",
        f"| TLSF | {header} | {vs} |",
        "|---|" + "--:|" * (2 * len(speed)),
    ]
    for name in [*names, FLOOR]:
        cells = [_cell(r["results"][name]) for r in speed]
        ratios = [
            f"{summary[name][live_name(r['live']) + '_vs_default']:.2f}x" if name in summary else ""
            for r in speed
        ]
        lines.append(f"| {name} | {' | '.join(cells + ratios)} |")
    lines += disturbed(speed)
    lines += [
        "",
        f"## TLSF second-level bits: utilisation (uniform fill, capacity {space_name(fills[0]['capacity'])})",
        "",
        "The uniform section's fill (used / capacity at the first `OutOfSpace`) for each `sl`, with the "
        "mean CPU time of one alloc of the fill (one fill each, not repeated).",
        "",
        f"| size | best possible | {' | '.join(names)} |",
        "|--:|--:|" + "--:|" * len(names),
    ]
    for r in fills:
        cells = [
            f"{_percent(r['results'][n]['utilisation'])}, {r['results'][n]['ns_per_alloc']:,.0f} ns"
            + (" **false OOS**" if r["results"][n]["false_out_of_space"] else "")
            for n in names
        ]
        mark = "*" if r["random"] else ""
        lines.append(f"| {r['size']}{mark} | {_percent(r['best'])} | {' | '.join(cells)} |")
    lines += [
        "",
        "Sizes where each `sl` reached the best possible: "
        + ", ".join(f"{n} {summary[n]['sizes_at_best']}/{summary[n]['sizes']}" for n in names)
        + ".",
    ]
    for r in report["workloads"]:
        if r["kind"] != "sl-refill":
            continue
        lines += [
            "",
            f"## TLSF second-level bits: utilisation after churn (capacity {space_name(r['capacity'])})",
            "",
            f"Replay {r['description']} (untimed), then allocate the same sizes again, in the same order, "
            "with no more frees, until the first `OutOfSpace`: used / capacity at that failure (requested "
            "slots).  How well the holes that churn leaves are reused; first fit and best fit for scale.",
            "",
            "| policy | used / capacity at the first failure |",
            "|---|--:|",
        ]
        lines += [f"| {name} | {_percent(res['utilisation'])} |" for name, res in r["results"].items()]
    return [*lines, ""]


# ----------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """A section of the benchmarks: what it runs, how its page reads."""

    run: Callable[[Config, int], dict[str, Any]]
    page: Callable[[dict[str, Any]], list[str]]


SECTIONS: dict[str, Section] = {
    "seed": Section(run_seed, page_seed),
    "power-law": Section(run_power_law, page_power_law),
    "uniform": Section(run_uniform, page_uniform),
    "scaling": Section(run_scaling, page_scaling),
    "floor": Section(run_floor, page_floor),
    "sl": Section(run_sl, page_sl),
}


# ------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    """The machine and versions the numbers belong to."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = _git("rev-parse", "--short", "HEAD").strip()
        if _git("status", "--porcelain", "--untracked-files=no").strip():
            commit += " + uncommitted changes"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "rangealloc": rangealloc.__version__,
        "sortedcontainers": version("sortedcontainers"),
        "git_commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "memory": memory_setting(),
    }


#: What ``--huge-pages`` sets before it runs the benchmark again: CPython's objects from glibc's malloc
#: (not pymalloc's 1 MiB arenas), and glibc's malloc on transparent huge pages (glibc >= 2.35).
HUGE_PAGES_ENV: Final = {"PYTHONMALLOC": "malloc", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


def memory_setting() -> str:
    """How this process gets its memory: "" for CPython's default, else the variables that change it."""
    return ", ".join(f"{key}={os.environ[key]}" for key in HUGE_PAGES_ENV if os.environ.get(key))


def huge_pages_kb() -> int:
    """This process's anonymous memory on transparent huge pages, in KiB (0 where Linux does not say)."""
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def machine_line(info: dict[str, Any]) -> str:
    """The start of every results page's first line: when, and on what (from ``machine()``)."""
    line = f"{info['date']}, {info['cpu']} ({info['cores']} cores), {info['python']}, {info['platform']}"
    if info.get("memory"):
        line += f" (memory: {info['memory']}; {info.get('huge_pages_kb', 0):,} KiB on huge pages at the end)"
    return line


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(HERE), *args], capture_output=True, text=True, check=True).stdout


# ----------------------------------------------------------------- markdown


def markdown(report: dict[str, Any], bodies: list[list[str]]) -> str:
    """The readable page: machine, the sections' tables, targets."""
    info = report["machine"]
    config = report["config"]
    lines = [
        f"# Benchmark results: {report['name']}",
        "",
        f"{machine_line(info)}; "
        f"rangealloc {info['rangealloc']} (git {info['git_commit']}), "
        f"sortedcontainers {info['sortedcontainers']}.  "
        f"Load average before / after: {info['load_average']} / {report['load_average_after']}.  "
        f"{report['seconds']:,.0f} s.",
        "",
    ]
    if any("repeat" in r for r in report["workloads"]):  # some table is timed
        lines += [
            f"Timed tables: ns per alloc+free pair (CPU time), median of the repeats after "
            f"{config['warmup']} warm-up round (min in parentheses), every implementation timed side by "
            "side, interleaved, in one run.",
            "",
        ]
    for body in bodies:
        lines += body
    if report["targets"]:
        lines += ["## Targets", ""]
        if report["quick"]:
            lines += ["A quick run (smoke test): the workloads are too small for these to mean anything.", ""]
        for target in report["targets"]:
            mark = "met" if target["met"] else "**NOT met**"
            value = _percent(target["value"]) if target["unit"] == "%" else f"{target['value']:.2f}x"
            lines.append(f"- {target['target']}: {value} ({target['policy']}), {mark}")
    return "\n".join(lines) + "\n"


def _cell(result: dict[str, Any]) -> str:
    return f"{result['median_ns_per_pair']:,.0f} ({result['min_ns_per_pair']:,.0f})"


def disturbed(records: list[dict[str, Any]]) -> list[str]:
    """A warning when some implementation's median is well above its min: a neighbour was busy.

    Undisturbed, the repeats of one replay agree within about 20% (the 100k
    workloads spread most); when a median is more than ``DISTURBED`` above
    its min, another process was competing for the machine during this
    table, and its ratios are less trustworthy.
    """
    worst, name, label = max(
        (result["median_ns_per_pair"] / result["min_ns_per_pair"] - 1, name, record.get("label", ""))
        for record in records
        for name, result in record["results"].items()
    )
    if worst <= DISTURBED:
        return []
    where = f" on {label}" if label else ""
    return [
        "",
        f"**Disturbed**: the median of {name}{where} is {worst:.0%} above its min here (more than "
        f"{DISTURBED:.0%}); another process was competing for the machine.",
    ]


# --------------------------------------------------------------------- main


def run_sections(
    names: Sequence[str], config: Config, seed: int, *, name: str, quick: bool
) -> dict[str, Any]:
    """Run the named sections in order; return one report (the JSON document) of them all."""
    info = machine()
    started = time.perf_counter()
    parts = {section: SECTIONS[section].run(config, seed) for section in names}
    if info["memory"]:
        info["huge_pages_kb"] = huge_pages_kb()  # that the setting took effect
    return {
        "name": name,
        "sections": list(names),
        "quick": quick,
        "machine": info,
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
        "config": {
            **dataclasses.asdict(config),
            "seed": seed,
            "spaces": [f"2**{e}" for e in SPACES],
            "scaling_capacity": space_name(SCALING_CAPACITY),
            "scaling_sizes": list(SCALING_SIZES),
            "sl_values": list(SL_VALUES),
        },
        "workloads": [r for part in parts.values() for r in part["workloads"]],
        "summary": {section: part["summary"] for section, part in parts.items()},
        "targets": [t for part in parts.values() for t in part["targets"]],
        "parts": parts,
    }


def write(report: dict[str, Any], directory: Path) -> tuple[Path, Path, str]:
    """Write ``<name>.json`` and ``<name>.md`` of ``report`` in ``directory``; return the paths, the page."""
    parts = report.pop("parts")
    page = markdown(report, [SECTIONS[section].page(parts[section]) for section in report["sections"]])
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{report['name']}.json"
    md_path = directory / f"{report['name']}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(page)
    return json_path, md_path, page


def render(names: Sequence[str], directory: Path) -> None:
    """Rewrite ``<section>.md`` from ``<section>.json`` in ``directory``, measuring nothing.

    For a change of the pages' layout: the numbers stay those of the run
    that wrote the JSON.  Raises ``OSError`` if a section's JSON is missing.
    """
    for section in names:
        report = json.loads((directory / f"{section}.json").read_text())
        report["parts"] = {
            section: {
                "workloads": report["workloads"],
                "summary": report["summary"][section],
                "targets": report["targets"],
            }
        }
        json_path, md_path, _ = write(report, directory)
        print(f"rewrote {md_path} from {json_path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections; write ``<results-dir>/<section>.{json,md}`` (or one ``<out>`` pair)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--section",
        action="append",
        choices=list(SECTIONS),
        metavar="NAME",
        help=f"run this section (repeatable; default: all of {', '.join(SECTIONS)})",
    )
    parser.add_argument("--quick", action="store_true", help="small workloads and one repeat (smoke test)")
    parser.add_argument(
        "--out", metavar="NAME", help="write one combined NAME.{json,md} instead of one pair per section"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        metavar="DIR",
        help="where to write (default: bench/results, or bench/results/quick with --quick)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every workload (default 0)")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite each section's .md from its .json (after a change of layout)",
    )
    parser.add_argument(
        "--huge-pages",
        action="store_true",
        help="run again with the objects on transparent huge pages (glibc malloc, "
        "GLIBC_TUNABLES=glibc.malloc.hugetlb=1): how much of a growth is the TLB's; "
        "default results dir bench/results/huge-pages",
    )
    args = parser.parse_args(argv)
    if args.huge_pages and any(os.environ.get(key) != value for key, value in HUGE_PAGES_ENV.items()):
        arguments = sys.argv[1:] if argv is None else list(argv)
        script = str(Path(__file__).resolve())
        os.execve(sys.executable, [sys.executable, script, *arguments], {**os.environ, **HUGE_PAGES_ENV})
    config = QUICK if args.quick else FULL
    names = list(dict.fromkeys(args.section or SECTIONS))  # in the order asked, once each
    if args.results_dir:
        directory = args.results_dir
    elif args.quick:
        directory = HERE / "results" / "quick"
    else:
        directory = HERE / "results" / "huge-pages" if args.huge_pages else HERE / "results"
    if args.render_only:
        try:
            render(names, directory)
        except OSError as error:
            parser.error(f"--render-only: {error}")  # exits with status 2
        return 0
    groups = [(args.out, names)] if args.out else [(section, [section]) for section in names]
    for name, sections in groups:
        report = run_sections(sections, config, args.seed, name=name, quick=args.quick)
        json_path, md_path, page = write(report, directory)
        print()
        print(page)
        print(f"wrote {json_path} and {md_path} in {report['seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
