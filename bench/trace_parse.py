"""Parse speed of ``rangealloc.read_trace``: iterate each trace, print events per second.

::

    python bench/trace_parse.py                       # the bundled traces (src/rangealloc/data)
    python bench/trace_parse.py /work/shared/traces   # every trace file of a directory
    python bench/trace_parse.py a.trace.gz --repeat 5

Each file is read once to warm up, then ``--repeat`` times (default 3); the
table shows the best and the median time of a full pass (gzip decompression,
parsing and validation included; the loop only counts the events, so this is
the reader's own cost) and the events per second of the best pass: the
minimum is the run least disturbed by the rest of the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import rangealloc
from rangealloc import read_trace

BUNDLED = Path(rangealloc.__file__).parent / "data"


def trace_files(paths: Sequence[str]) -> list[Path]:
    """The files named, and the ``*.trace*``, ``*.log*`` and ``*.mtrace*`` files of the directories named."""
    found: list[Path] = []
    for name in paths or [str(BUNDLED)]:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                p for p in path.iterdir() if p.is_file() and (".trace" in p.name or ".log" in p.name)
            )
        else:
            found.append(path)
    return found


def time_pass(path: Path) -> tuple[int, float]:
    """One full pass over the trace: (events, seconds)."""
    trace = read_trace(path)
    start = time.perf_counter()
    events = sum(1 for _ in trace)
    return events, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("paths", nargs="*", help="trace files or directories (default: the bundled traces)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per file (default 3)")
    args = parser.parse_args(argv)
    files = trace_files(args.paths)
    if not files:
        print("no trace files found", file=sys.stderr)
        return 1
    print(f"python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}")
    print(f"{'trace':32s} {'events':>10s} {'best s':>8s} {'median s':>9s} {'M events/s':>11s}")
    total_events = 0
    total_best = 0.0
    for path in files:
        events, _ = time_pass(path)  # warm-up: page cache, imports
        times = [time_pass(path)[1] for _ in range(max(1, args.repeat))]
        best = min(times)
        total_events += events
        total_best += best
        median = statistics.median(times)
        print(f"{path.name:32s} {events:>10,d} {best:>8.3f} {median:>9.3f} {events / best / 1e6:>11.2f}")
    rate = total_events / total_best / 1e6
    print(f"{'all':32s} {total_events:>10,d} {total_best:>8.3f} {'':>9s} {rate:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
