"""Every policy on every public trace: the results behind ``docs/choosing-a-policy.md``.

Usage::

    python bench/traces.py                       # all traces in ../shared/traces (about 15 minutes here)
    python bench/traces.py --traces DIR --policy tlsf --policy first-fit
    python bench/traces.py --render-only         # rewrite the pages from bench/results/traces.json

For each trace and policy (``rangealloc.compare``): one replay in the
extent model (ns per event with the trace read from its gzip file, peak
extent, fragmentation = peak extent / peak live - 1) and one in a fixed space
of 1.25 x the trace's peak live size (failures, utilisation at the first
failure).  Then:

* ``bench/results/traces.{json,md}``: every number, the machine, the versions;
* ``docs/images/traces-live-extent.png``: live vs extent over each trace, one
  line per policy (extent model);
* ``docs/images/map-<policy>.png``: the address space of one trace at its
  peak, for each policy;
* ``docs/choosing-a-policy.md``: the tables and pictures, the recommendation
  per trace and over all traces (``rangealloc.compare.recommend``);
* the speed target of issue 4: TLSF replays the largest trace, reading
  included, at more than 250k events per second (its events / CPU seconds).

Every policy runs on every trace whose fixed space (1.25 x peak live) its
``max_capacity`` holds (``rangealloc._compare.runnable_policies``; the
bitmap's 2**24 slots hold all eight); the table names any left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from run import machine, machine_line  # bench/run.py: the machine and versions block

from rangealloc import POLICIES, Comparison, compare, recommend, replay_until
from rangealloc._compare import HEADROOM, runnable_policies
from rangealloc.pictures import AddressMap, plot_grid, save_map
from rangealloc.trace import Trace, read_trace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOCS = ROOT / "docs"
IMAGES = DOCS / "images"
DEFAULT_TRACES = ROOT.parent / "shared" / "traces"
#: Issue 4: TLSF replays the largest public trace at more than this many events per second.
TARGET_EVENTS_PER_S = 250_000
#: The trace whose address space is drawn for every policy.
MAP_TRACE = "lua5.4-trees-strings"


def run(traces: Sequence[Trace], policies: Sequence[str]) -> dict[str, Any]:
    """Replay every trace on every policy; return the report (JSON-ready)."""
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    series: dict[str, dict[str, list[list[int]]]] = {}
    comparisons: list[Comparison] = []
    for trace in traces:
        chosen, reasons = runnable_policies(trace, policies, HEADROOM)
        skipped += [{"trace": trace.name, "policy": name, "reason": why} for name, why in reasons.items()]
        started = time.perf_counter()
        results = compare([trace], chosen, headroom=HEADROOM)
        print(f"  {trace.name}: {len(chosen)} policies in {time.perf_counter() - started:,.0f} s", flush=True)
        for row in results:
            print(
                f"    {row.policy:10} {row.ns_per_event:8,.0f} ns/event  frag {row.fragmentation:7.1%}  "
                f"failures {row.failures}",
                flush=True,
            )
            rows.append(row.as_dict())
            series.setdefault(trace.name, {})[row.policy] = [list(item) for item in row.extent.series]
        comparisons += results
    overall = recommend(comparisons).as_dict()
    per_trace = {
        trace.name: recommend([c for c in comparisons if c.trace == trace.name]).as_dict() for trace in traces
    }
    return {
        "rows": rows,
        "skipped": skipped,
        "series": series,
        "recommendation": overall,
        "per_trace": per_trace,
        "headers": {trace.name: trace.header() for trace in traces},
    }


def speed_target(traces: Sequence[Trace]) -> dict[str, Any]:
    """TLSF on the largest trace, reading included: events per CPU second (best of 3 replays)."""
    from rangealloc import replay  # noqa: PLC0415

    largest = max(traces, key=lambda t: int(t.header().get("events", "0").split()[0] or 0))
    best = min((replay(largest, "tlsf") for _ in range(3)), key=lambda r: r.seconds)
    rate = best.events / best.seconds
    return {
        "trace": largest.name,
        "events": best.events,
        "seconds": best.seconds,
        "events_per_s": rate,
        "target": TARGET_EVENTS_PER_S,
        "met": rate > TARGET_EVENTS_PER_S,
    }


def pictures(report: dict[str, Any], traces: Sequence[Trace], policies: Sequence[str]) -> None:
    """The live-vs-extent grid and one address-space map per policy."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    grid = [
        (name, {policy: [tuple(item) for item in points] for policy, points in by_policy.items()})
        for name, by_policy in report["series"].items()
    ]
    plot_grid(grid, IMAGES / "traces-live-extent.png")
    chosen = [t for t in traces if t.name == MAP_TRACE] or list(traces[:1])
    for trace in chosen:
        for policy in policies:
            if any(s["policy"] == policy and s["trace"] == trace.name for s in report["skipped"]):
                continue
            moment = replay_until(trace, policy, "peak")
            label = f"{trace.name}, {policy}, at peak live (event {moment.event:,})"
            amap = AddressMap.of(
                moment.allocator, born=moment.born, event=moment.event, label=label, extent=moment.extent
            )
            save_map(amap, IMAGES / f"map-{policy}.png", colour="size")


def table(report: dict[str, Any]) -> list[str]:
    """The markdown table: one row per (trace, policy)."""
    lines = [
        f"| trace | policy | events | ns/event | fragmentation | failures @{HEADROOM:g}x "
        "| utilisation at first failure |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in report["rows"]:
        use = (row["fixed_model"] or {}).get("first_failure_utilisation")
        lines.append(
            f"| {row['trace']} | {row['policy']} | {row['extent_model']['events']:,} "
            f"| {row['ns_per_event']:,.0f} | {row['fragmentation']:.1%} | {row['failures']:,} "
            f"| {'-' if use is None else f'{use:.1%}'} |"
        )
    lines += [f"| {s['trace']} | {s['policy']} | | skipped: {s['reason']} | | | |" for s in report["skipped"]]
    return lines


def summary(report: dict[str, Any]) -> list[str]:
    """Per policy over all traces: geometric-mean speed, mean fragmentation, failures."""
    rec = report["recommendation"]
    lines = [
        "| policy | traces | ns/event (geometric mean) | fragmentation (mean) | failures (sum) "
        "| within the rule's candidates |",
        "|---|--:|--:|--:|--:|---|",
    ]
    speed = rec["speed_ns_per_event"]
    traces = {name: sum(1 for row in report["rows"] if row["policy"] == name) for name in speed}
    lines += [
        f"| {name} | {traces[name]} | {speed[name]:,.0f} | {rec['fragmentation'][name]:.1%} | "
        f"{rec['failures'][name]:,} | {'yes' if name in rec['candidates'] else ''} |"
        for name in sorted(speed, key=speed.__getitem__)
    ]
    return lines


def results_page(report: dict[str, Any]) -> str:
    info = report["machine"]
    speed = report["speed"]
    mark = "met" if speed["met"] else "**NOT met**"
    lines = [
        "# Benchmark results: traces",
        "",
        f"{machine_line(info)}; "
        f"rangealloc {info['rangealloc']} (git {info['git_commit']}).  Load average before: "
        f"{info['load_average']}.  {report['seconds']:,.0f} s.",
        "",
        "Each (trace, policy): one replay in the extent model (ns per event, CPU time, reading the gzip file "
        f"included; fragmentation = peak extent / peak live - 1) and one in a fixed space of {HEADROOM:g} x "
        "the trace's peak live size (failures).  One replay each: these are not side-by-side timings, "
        "and ns/event moves by 10-20% between runs on this machine.",
        "",
        *table(report),
        "",
        "## Over all traces",
        "",
        *summary(report),
        "",
        f"Recommended: **{report['recommendation']['policy']}**. {report['recommendation']['reason']}.",
        "",
        f"Rule: {report['recommendation']['rule']}.",
        "",
        "## Target",
        "",
        f"- TLSF replays {speed['trace']} ({speed['events']:,} events), reading included, at "
        f"{speed['events_per_s']:,.0f} events/s (best of 3; target > {speed['target']:,}): {mark}",
        "",
    ]
    return "\n".join(lines)


def docs_page(report: dict[str, Any]) -> str:
    """``docs/choosing-a-policy.md``: generated; the prose lives in ``bench/choosing-a-policy.md.in``."""
    template = (HERE / "choosing-a-policy.md.in").read_text()
    per_trace = ["| trace | recommended | why |", "|---|---|---|"]
    for name, rec in report["per_trace"].items():
        per_trace.append(f"| {name} | {rec['policy']} | {rec['reason']} |")
    return (
        template.replace("{{TABLE}}", "\n".join(table(report)))
        .replace("{{SUMMARY}}", "\n".join(summary(report)))
        .replace("{{PER_TRACE}}", "\n".join(per_trace))
        .replace("{{RECOMMENDED}}", report["recommendation"]["policy"])
        .replace("{{REASON}}", report["recommendation"]["reason"])
        .replace("{{RULE}}", report["recommendation"]["rule"])
        .replace("{{MACHINE}}", f"{report['machine']['cpu']}, {report['machine']['python']}")
        .replace("{{COMMIT}}", report["machine"]["git_commit"])
        .replace("{{LESSONS}}", (HERE / "choosing-a-policy.lessons.md").read_text().strip())
    )


def render(report: dict[str, Any]) -> None:
    (RESULTS / "traces.md").write_text(results_page(report))
    DOCS.mkdir(exist_ok=True)
    (DOCS / "choosing-a-policy.md").write_text(docs_page(report))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=Path, default=DEFAULT_TRACES, help="directory of *.trace.gz")
    parser.add_argument("--policy", action="append", choices=list(POLICIES), help="repeatable; default all")
    parser.add_argument("--render-only", action="store_true", help="rewrite the pages from traces.json")
    args = parser.parse_args(argv)
    if args.render_only:
        render(json.loads((RESULTS / "traces.json").read_text()))
        return 0
    paths = sorted(args.traces.glob("*.trace.gz"))
    if not paths:
        print(f"no *.trace.gz in {args.traces}", file=sys.stderr)
        return 2
    traces = [read_trace(path) for path in paths]
    policies = list(dict.fromkeys(args.policy or POLICIES))
    info = machine()
    started = time.perf_counter()
    report = run(traces, policies)
    report["speed"] = speed_target(traces)
    report["seconds"] = time.perf_counter() - started
    report["machine"] = info
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "traces.json").write_text(json.dumps(report, indent=1) + "\n")
    pictures(report, traces, policies)
    render(report)
    print(f"wrote {RESULTS / 'traces.md'}, {DOCS / 'choosing-a-policy.md'} and {IMAGES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
