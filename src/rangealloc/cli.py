"""The ``rangealloc`` command: compare the policies on a workload, in the terminal.

::

    rangealloc compare                      the bundled traces and the seed scenario, every policy
    rangealloc compare my.trace.gz --policy tlsf --policy first-fit --headroom 1.5 --plot live.png
    rangealloc compare --json               machine-readable, no table or progress bar
    rangealloc recommend my.trace.gz        one policy, the rule, the numbers
    rangealloc map my.trace.gz --policy first-fit --at peak [-o map.png]
    rangealloc convert prog.mtrace prog.trace.gz
    rangealloc record -o ls.trace.gz -- ls -l

``compare`` without a trace replays the traces bundled in the package
(``rangealloc.bundled_traces``) on every policy, in the extent model
(ns per event, fragmentation) and in a fixed space of ``--headroom`` x the
peak live size (failures), then times the seed scenario on every policy and
on the seed's naive set scan (``_workloads.NaiveSetScan``) side by side: ns
per alloc+free pair, ratio to the naive scan, failures.

The display uses ``rich``, an optional dependency (``pip install
'rangealloc[cli]'``); without it the command says so and exits with status 2.
Each subcommand is a ``_Command``: a function that adds its arguments to a
parser, and one that runs it; ``main`` dispatches.  ``compare`` measures a list
of workloads (for now the seed scenario; trace files will join it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__
from ._compare import HEADROOM, Comparison, bundled_traces, compare, recommend, runnable_policies
from ._errors import TraceError
from ._registry import POLICIES
from ._workloads import NAIVE, Timing, Workload, implementations, run_side_by_side, seed_scenario
from .trace import Trace, read_trace, write_trace

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["main"]

_T = TypeVar("_T")

#: The TRACE argument of ``compare`` that names the seed scenario instead of a file.
SEED = "seed"

#: What the command prints (to stderr) when ``rich`` is not installed.
RICH_MISSING = (
    "rangealloc: the command line needs the 'rich' package, an optional dependency.\n"
    "Install it with:  pip install 'rangealloc[cli]'"
)


@dataclass(frozen=True)
class _Command:
    """A subcommand: its help line, how it adds its arguments, and how it runs."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rangealloc`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    0 on success, 2 for a usage error or when ``rich`` is missing.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    command: _Command | None = getattr(args, "command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        import rich  # noqa: F401, PLC0415  # optional dependency: checked here, used by the commands
    except ImportError:
        print(RICH_MISSING, file=sys.stderr)
        return 2
    return command.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rangealloc",
        description="Range allocators behind one contract: compare the policies on a workload.",
        epilog="Run 'rangealloc COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in _COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(child)
        child.set_defaults(command=command)
    return parser


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum``."""

    def parse(text: str) -> int:
        value = _number(text, int, "an int")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


# ------------------------------------------------------------------- compare


def _trace_arguments(parser: argparse.ArgumentParser, *, policy_help: str) -> None:
    """The options every trace command shares: policies, headroom, quantum, JSON."""
    parser.add_argument(
        "--policy",
        action="append",
        choices=list(POLICIES),
        metavar="P",
        help=policy_help,
    )
    parser.add_argument(
        "--headroom",
        type=_positive_float,
        default=HEADROOM,
        metavar="H",
        help=f"fixed space for counting failures: H x the trace's peak live size (default {HEADROOM})",
    )
    parser.add_argument(
        "--quantum",
        type=_count(1),
        default=1,
        metavar="Q",
        help="round every size up to a multiple of Q, as a malloc's alignment would (default 1)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON results; no table, no progress bar")


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "traces",
        nargs="*",
        metavar="TRACE",
        help=f"trace files (canonical or mtrace, plain or gzip), or '{SEED}' for the seed scenario; "
        "default: the bundled traces and the seed scenario",
    )
    _trace_arguments(
        parser, policy_help=f"a policy to run (repeatable; default: all of {', '.join(POLICIES)})"
    )
    parser.add_argument(
        "--plot", metavar="FILE", help="save live vs extent over time per policy (.png, .svg, .pdf)"
    )
    seed = parser.add_argument_group("seed scenario (run when no TRACE is given)")
    seed.add_argument(
        "--repeat",
        type=_count(1),
        default=5,
        metavar="N",
        help="timed repeats; the median is shown (default 5)",
    )
    seed.add_argument(
        "--warmup", type=_count(0), default=1, metavar="N", help="untimed warm-up rounds (default 1)"
    )
    seed.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the random workload (default 0)"
    )
    seed.add_argument(
        "--events",
        type=_count(2),
        default=20_000,
        metavar="N",
        help="timed events of the seed scenario, allocs and frees (default 20000)",
    )


def _positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    value = _number(text, float, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _number(text: str, kind: Callable[[str], _T], what: str) -> _T:
    """``kind(text)``, or the argparse error that says it is not ``what``."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def _open_traces(paths: Sequence[str]) -> list[Trace]:
    """Open the trace files (raises ``TraceError``/``OSError`` for one that cannot be read)."""
    traces = [read_trace(path) for path in paths]
    for trace in traces:
        trace.header()  # fail early on a file that is not a trace at all
    return traces


def _fail(message: str) -> int:
    print(f"rangealloc: {message}", file=sys.stderr)
    return 1


def _replay_all(
    args: argparse.Namespace, traces: Sequence[Trace]
) -> tuple[list[Comparison], list[dict[str, str]]]:
    """``compare`` on the traces, with a progress bar unless ``--json``; also the (trace, policy) skipped."""
    named = list(dict.fromkeys(args.policy)) if args.policy else None
    plan: list[tuple[Trace, list[str]]] = []
    skipped: list[dict[str, str]] = []
    for trace in traces:
        names, reasons = runnable_policies(trace, named, args.headroom)
        if names:
            plan.append((trace, names))
        skipped += [{"trace": trace.name, "policy": name, "reason": why} for name, why in reasons.items()]
    rows: list[Comparison] = []
    if args.json:
        for trace, names in plan:
            rows += compare([trace], names, headroom=args.headroom, quantum=args.quantum)
        return rows, skipped
    progress = _progress()
    with progress:
        task = progress.add_task("replaying", total=sum(len(names) for _, names in plan))

        def advance(trace: str, policy: str) -> None:
            progress.update(task, advance=1, description=f"replayed {trace} on {policy}")

        for trace, names in plan:
            rows += compare([trace], names, headroom=args.headroom, quantum=args.quantum, on_replay=advance)
    return rows, skipped


def _progress() -> Any:
    from rich.console import Console  # noqa: PLC0415  # optional dependency, checked by main
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _compare(args: argparse.Namespace) -> int:
    files = [name for name in args.traces if name != SEED]
    seed = not args.traces or SEED in args.traces
    if not args.traces:
        files = [str(path) for path in bundled_traces()]
    try:
        traces = _open_traces(files)
        rows, skipped = _replay_all(args, traces)
    except (TraceError, OSError) as error:
        return _fail(str(error))
    if args.plot and rows:
        try:
            _plot(args.plot, rows)
        except (ImportError, ValueError) as error:
            return _fail(str(error))
    if args.json:
        report: dict[str, Any] = {
            "rangealloc": __version__,
            "command": "compare",
            "headroom": args.headroom,
            "quantum": args.quantum,
            "traces": [row.as_dict() for row in rows],
            "skipped": skipped,
            "seed_scenario": None,
        }
        if seed:
            policies = list(dict.fromkeys(args.policy or POLICIES))
            workloads = [seed_scenario(args.seed, args.events)]
            factories = implementations(policies)
            timings = [
                run_side_by_side(w, factories, repeat=args.repeat, warmup=args.warmup) for w in workloads
            ]
            report["seed_scenario"] = _compare_json(args, workloads, timings)
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console  # noqa: PLC0415  # optional dependency, checked by main

    out = Console()
    if traces:
        _traces_table(out, args, rows, skipped)
    if seed:
        _seed(out, args)
    return 0


def _plot(path: str, rows: Sequence[Comparison]) -> None:
    from .pictures import plot_grid, plot_series  # noqa: PLC0415  # needs matplotlib: only when asked

    by_trace: dict[str, dict[str, Sequence[tuple[int, int, int]]]] = {}
    for row in rows:
        by_trace.setdefault(row.trace, {})[row.policy] = row.extent.series
    if len(by_trace) == 1:
        ((trace, series),) = by_trace.items()
        plot_series(series, path, title=f"{trace}: live vs extent (extent model)")
    else:
        plot_grid(list(by_trace.items()), path)


def _traces_table(
    out: Console, args: argparse.Namespace, rows: Sequence[Comparison], skipped: Sequence[Mapping[str, str]]
) -> None:
    from rich.table import Table  # noqa: PLC0415  # optional dependency, checked by main

    table = Table(
        title="Policies on real traces",
        caption=(
            "ns/event: CPU time per event, trace reading included (extent model).  "
            "fragmentation: peak extent / peak live - 1, the space growing by just enough (extent model).  "
            f"failures: allocations that found no hole in a space of {args.headroom:g} x peak live."
        ),
    )
    table.add_column("trace")
    table.add_column("policy")
    table.add_column("ns/event", justify="right")
    table.add_column("frag.", justify="right")
    table.add_column(f"fail @{args.headroom:g}x", justify="right")
    table.add_column("peak extent", justify="right")
    trace = None
    for row in rows:
        if trace is not None and row.trace != trace:
            table.add_section()
        group = [r for r in rows if r.trace == row.trace]
        fastest = min(r.ns_per_event for r in group)
        tightest = min(r.fragmentation for r in group)
        first = row is group[0]
        label = f"{row.trace}\n[dim]{row.extent.events:,} events[/]"
        speed = f"{row.ns_per_event:,.0f}"
        frag = f"{row.fragmentation:.1%}"
        table.add_row(
            label if first else "",
            row.policy,
            f"[bold green]{speed}[/]" if row.ns_per_event == fastest else speed,
            f"[bold green]{frag}[/]" if row.fragmentation == tightest else frag,
            f"{row.failures:,}",
            f"{row.extent.peak_extent:,}",
        )
        trace = row.trace
    out.print(table)
    for skip in skipped:
        out.print(f"[dim]{skip['policy']} skipped on {skip['trace']}: {skip['reason']}[/]")


def _seed(out: Console, args: argparse.Namespace) -> None:
    policies = list(dict.fromkeys(args.policy or POLICIES))
    factories = implementations(policies)
    workload = seed_scenario(args.seed, args.events)
    progress = _progress()
    with progress:
        rounds = (args.warmup + args.repeat) * len(factories)
        task = progress.add_task(f"{workload.name}: warming up", total=rounds)

        def advance(name: str) -> None:
            done = progress.tasks[task].completed + 1
            stage = "warming up" if done <= args.warmup * len(factories) else "timing"
            progress.update(task, advance=1, description=f"{workload.name}: {stage} ({name} done)")

        timings = run_side_by_side(
            workload, factories, repeat=args.repeat, warmup=args.warmup, on_replay=advance
        )
    _compare_table(out, args, workload, timings)


# ----------------------------------------------------------------- recommend


def _recommend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("traces", nargs="*", metavar="TRACE", help="trace files; default: the bundled traces")
    _trace_arguments(parser, policy_help="a policy to consider (repeatable; default: all)")


def _recommend(args: argparse.Namespace) -> int:
    try:
        traces = _open_traces(args.traces or [str(path) for path in bundled_traces()])
        rows, skipped = _replay_all(args, traces)
    except (TraceError, OSError) as error:
        return _fail(str(error))
    choice = recommend(rows)
    if args.json:
        print(
            json.dumps({"recommendation": choice.as_dict(), "results": [r.as_dict() for r in rows]}, indent=2)
        )
        return 0
    from rich.console import Console  # noqa: PLC0415  # optional dependency, checked by main
    from rich.table import Table  # noqa: PLC0415

    out = Console()
    table = Table(title=f"Over {len(traces)} trace(s): {', '.join(t.name for t in traces)}")
    table.add_column("policy")
    table.add_column("ns/event (geometric mean)", justify="right")
    table.add_column("fragmentation (mean)", justify="right")
    table.add_column(f"failures @{args.headroom:g}x", justify="right")
    table.add_column("candidate")
    for name in sorted(choice.speed, key=choice.speed.__getitem__):
        style = "bold green" if name == choice.policy else None
        table.add_row(
            name,
            f"{choice.speed[name]:,.0f}",
            f"{choice.fragmentation[name]:.1%}",
            str(choice.failures[name]),
            "yes" if name in choice.candidates else "",
            style=style,
        )
    out.print(table)
    out.print(f"[bold]Recommended: {choice.policy}[/]")
    out.print(f"Why: {choice.reason}.")
    out.print(f"Rule: {choice.rule}.")
    for skip in skipped:
        out.print(f"[dim]{skip['policy']} skipped on {skip['trace']}: {skip['reason']}[/]")
    return 0


# ----------------------------------------------------------------------- map


def _at(text: str) -> int | str:
    """An argparse type: an event count, 'peak' or 'end'."""
    if text in ("peak", "end"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an event count, 'peak' or 'end', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the event count must be >= 0, got {value}")
    return value


def _map_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="a trace file")
    parser.add_argument(
        "--policy", choices=list(POLICIES), default="first-fit", metavar="P", help="default first-fit"
    )
    parser.add_argument(
        "--at",
        type=_at,
        default="peak",
        metavar="N|peak|end",
        help="the moment: after N events, at peak live, at the end",
    )
    parser.add_argument(
        "--colour", choices=["fill", "size", "age"], default=None, help="what the colours show"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="save a picture (.png, .svg, .pdf) instead of printing"
    )
    parser.add_argument(
        "--width", type=_count(8), default=64, metavar="N", help="terminal cells per row (default 64)"
    )
    parser.add_argument("--rows", type=_count(1), default=16, metavar="N", help="terminal rows (default 16)")
    parser.add_argument("--quantum", type=_count(1), default=1, metavar="Q", help="size rounding (default 1)")


def _map(args: argparse.Namespace) -> int:
    from ._replay import replay_until  # noqa: PLC0415
    from .pictures import AddressMap, render_terminal, save_map  # noqa: PLC0415

    try:
        trace = read_trace(args.trace)
        moment = replay_until(trace, args.policy, args.at, quantum=args.quantum)
    except (TraceError, OSError) as error:
        return _fail(str(error))
    if isinstance(args.at, int):
        when = f"after {args.at:,} events"
    else:
        when = "at peak live" if args.at == "peak" else "at the end"
    label = f"{trace.name}, {args.policy}, {when} (event {moment.event:,})"
    amap = AddressMap.of(
        moment.allocator, born=moment.born, event=moment.event, label=label, extent=moment.extent
    )
    if args.output:
        try:
            save_map(amap, args.output, colour=args.colour or "size")
        except (ImportError, ValueError) as error:
            return _fail(str(error))
        print(f"saved {args.output}")
        return 0
    from rich.console import Console  # noqa: PLC0415  # optional dependency, checked by main

    Console().print(render_terminal(amap, width=args.width, rows=args.rows, colour=args.colour or "fill"))
    return 0


# ------------------------------------------------------------------- convert


def _convert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IN", help="an mtrace log (or a canonical trace)")
    parser.add_argument("target", metavar="OUT", help="the canonical trace to write (gzip if it ends in .gz)")


def _convert(args: argparse.Namespace) -> int:
    try:
        trace = read_trace(args.source)
        events = list(trace)
        meta = dict(trace.meta)
        meta.setdefault("converted_from", f"{Path(args.source).name} ({trace.format})")
        if trace.format == "mtrace":
            meta["dropped_unknown_frees"] = str(trace.dropped_frees)
            meta["realloc_of_unknown_as_alloc"] = str(trace.realloc_of_unknown_as_alloc)
            meta["implicit_frees"] = str(trace.implicit_frees)
            meta["zero_size_requests_as_1"] = str(trace.zero_size_as_1)
        count = write_trace(events, args.target, meta=meta, aligns=trace.aligns)
    except (TraceError, OSError) as error:
        return _fail(str(error))
    print(f"{args.target}: {count:,} events from {args.source} ({trace.format})")
    return 0


# -------------------------------------------------------------------- record


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="the trace to write (default: PROGRAM.trace.gz)"
    )
    parser.add_argument(
        "--cc", metavar="CC", help="the C compiler that builds the shim (default: $CC, cc, gcc, clang)"
    )
    parser.add_argument("program", nargs=argparse.REMAINDER, metavar="-- CMD ...", help="the program to run")


def _record(args: argparse.Namespace) -> int:
    from .record import RecordError, record  # noqa: PLC0415

    command = list(args.program)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        return _fail("record needs a command to run: rangealloc record -- CMD [ARG ...]")
    output = args.output or f"{Path(command[0]).name}.trace.gz"
    try:
        result = record(command, output, cc=args.cc)
    except (RecordError, TraceError, OSError) as error:
        return _fail(str(error))
    shown = " ".join(command)
    print(f"{output}: {result.events:,} events recorded from {shown} (exit status {result.returncode})")
    return 0


def _ratio(baseline: float, cost: float) -> float:
    """How many times faster than the baseline (> 1: faster)."""
    return baseline / cost if cost else float("inf")


def _ratio_text(ratio: float) -> str:
    """``25.3x faster``, ``2.0x slower``.

    >>> _ratio_text(25.27), _ratio_text(0.5)
    ('25.3x faster', '2.0x slower')
    """
    if ratio >= 1:
        return f"{ratio:.1f}x faster"
    return f"{1 / ratio:.1f}x slower"


def _compare_table(
    out: Console, args: argparse.Namespace, workload: Workload, timings: Mapping[str, Timing]
) -> None:
    from rich.table import Table  # noqa: PLC0415  # optional dependency, checked by main

    baseline = timings[NAIVE].median
    table = Table(
        title=f"{workload.description}\n{workload.pairs:,.0f} alloc+free pairs timed, "
        f"median of {args.repeat} (after {args.warmup} warm-up)",
        caption=f"{NAIVE}: the seed's allocator (scan every offset, test each slot against a set). "
        "Failures: allocs that found no hole; every policy replays the same events.",
    )
    table.add_column("policy")
    table.add_column("ns per alloc+free pair", justify="right")
    table.add_column(f"vs {NAIVE}", justify="right")
    table.add_column("failures", justify="right")
    ranked = sorted(timings.values(), key=lambda timing: timing.median)
    for rank, timing in enumerate(ranked):
        style = "bold green" if rank == 0 else ("dim" if timing.name == NAIVE else None)
        vs = "baseline" if timing.name == NAIVE else _ratio_text(_ratio(baseline, timing.median))
        table.add_row(timing.name, f"{timing.median:,.0f}", vs, str(timing.failures), style=style)
    out.print(table)


def _compare_json(
    args: argparse.Namespace, workloads: Sequence[Workload], results: Sequence[Mapping[str, Timing]]
) -> dict[str, Any]:
    scenarios = []
    for workload, timings in zip(workloads, results, strict=True):
        baseline = timings[NAIVE].median
        scenarios.append(
            {
                "name": workload.name,
                "description": workload.description,
                "capacity": workload.capacity,
                "events": len(workload.timed),
                "pairs": workload.pairs,
                "results": [
                    {
                        "policy": timing.name,
                        "ns_per_pair": timing.median,
                        "ns_per_pair_min": timing.min,
                        "samples": timing.samples,
                        "speedup_vs_naive": _ratio(baseline, timing.median),
                        "failures": timing.failures,
                    }
                    for timing in timings.values()
                ],
            }
        )
    return {
        "rangealloc": __version__,
        "command": "compare",
        "seed": args.seed,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "baseline": NAIVE,
        "scenarios": scenarios,
    }


_COMMANDS: tuple[_Command, ...] = (
    _Command(
        name="compare",
        help="every policy on real traces (default: the bundled ones and the seed scenario)",
        description=(
            "Replay each trace on every policy: ns per event and fragmentation (peak extent / peak live - 1) "
            "with the space growing by just enough, and failures in a fixed space of --headroom x the peak "
            "live size.  Without a TRACE: the traces bundled in the package, then the seed scenario (a "
            "256-slot space, sizes 1..16, alloc/free churn at 50-75% occupancy) timed on every policy and "
            "on the seed's naive set scan, side by side."
        ),
        add_arguments=_compare_arguments,
        run=_compare,
    ),
    _Command(
        name="recommend",
        help="name one policy for your traces, with the rule and the numbers",
        description=(
            "Replay the traces on every policy as compare does, then pick one: among the policies with the "
            "fewest failures at the headroom, those within 1.5x of the fastest; of these, the lowest "
            "fragmentation."
        ),
        add_arguments=_recommend_arguments,
        run=_recommend,
    ),
    _Command(
        name="map",
        help="a picture of the address space at one moment of a trace",
        description=(
            "Replay the trace on one policy up to a moment (after N events, at peak live, or at the end) "
            "and draw the address space: blocks and holes, coloured by fill, block size or age.  In the "
            "terminal, or as a picture with -o (needs the [plot] extra)."
        ),
        add_arguments=_map_arguments,
        run=_map,
    ),
    _Command(
        name="convert",
        help="convert an mtrace log to a canonical trace",
        description="Read a glibc mtrace log (or a canonical trace) and write the canonical format.",
        add_arguments=_convert_arguments,
        run=_convert,
    ),
    _Command(
        name="record",
        help="record a program's malloc calls as a trace (Linux, glibc, a C compiler)",
        description=(
            "Run a command with a small malloc-logging shim preloaded (built on first use with the C "
            "compiler) and write its allocation trace in the canonical format."
        ),
        add_arguments=_record_arguments,
        run=_record,
    ),
)
