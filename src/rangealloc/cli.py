"""The ``rangealloc`` command: compare the policies on a workload, in the terminal.

::

    rangealloc compare                      every policy and the naive scan, seed scenario
    rangealloc compare --policy bitmap --policy first-fit --repeat 9
    rangealloc compare --json               machine-readable, no table or progress bar

``compare`` replays the same events on every policy and on the seed's naive
set scan (``_workloads.NaiveSetScan``), timed side by side, and prints the cost
per alloc+free pair, the ratio to the naive scan, and the allocation failures.

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
from typing import TYPE_CHECKING, Any

from . import __version__
from ._registry import POLICIES
from ._workloads import NAIVE, Timing, Workload, implementations, run_side_by_side, seed_scenario

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["main"]

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
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an int: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


# ------------------------------------------------------------------- compare


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        action="append",
        choices=list(POLICIES),
        metavar="P",
        help=f"a policy to time (repeatable; default: all of {', '.join(POLICIES)})",
    )
    parser.add_argument(
        "--repeat",
        type=_count(1),
        default=5,
        metavar="N",
        help="timed repeats; the median is shown (default 5)",
    )
    parser.add_argument(
        "--warmup", type=_count(0), default=1, metavar="N", help="untimed warm-up rounds (default 1)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the random workload (default 0)"
    )
    parser.add_argument(
        "--events",
        type=_count(2),
        default=20_000,
        metavar="N",
        help="timed events of the seed scenario, allocs and frees (default 20000)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON results; no table, no progress bar")


def _compare_workloads(args: argparse.Namespace) -> list[Workload]:
    """The workloads ``compare`` measures: the seed scenario (trace files will be added here)."""
    return [seed_scenario(args.seed, args.events)]


def _compare(args: argparse.Namespace) -> int:
    policies = list(dict.fromkeys(args.policy or POLICIES))
    factories = implementations(policies)
    workloads = _compare_workloads(args)
    if args.json:
        results = [run_side_by_side(w, factories, repeat=args.repeat, warmup=args.warmup) for w in workloads]
        print(json.dumps(_compare_json(args, workloads, results), indent=2))
        return 0

    from rich.console import Console  # noqa: PLC0415  # optional dependency, checked by main
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    out = Console()
    results = []
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        for workload in workloads:
            rounds = (args.warmup + args.repeat) * len(factories)
            task = progress.add_task(f"{workload.name}: warming up", total=rounds)

            def advance(name: str, task: Any = task, workload: Workload = workload) -> None:
                done = progress.tasks[task].completed + 1
                stage = "warming up" if done <= args.warmup * len(factories) else "timing"
                progress.update(task, advance=1, description=f"{workload.name}: {stage} ({name} done)")

            results.append(
                run_side_by_side(
                    workload, factories, repeat=args.repeat, warmup=args.warmup, on_replay=advance
                )
            )
    for workload, timings in zip(workloads, results, strict=True):
        _compare_table(out, args, workload, timings)
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
        help="time every policy against the seed's naive scan",
        description=(
            "Replay the seed scenario (a 256-slot space, sizes 1..16, random alloc/free churn at "
            "50-75% occupancy) on every policy and on the seed's naive set scan, side by side, "
            "and show ns per alloc+free pair, the ratio to the naive scan, and allocation failures."
        ),
        add_arguments=_compare_arguments,
        run=_compare,
    ),
)
