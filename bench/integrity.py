"""Long-form data-integrity run of ``Heap``: every policy, hundreds of thousands of operations.

Usage::

    python bench/integrity.py                      # 200k operations per policy and mode (a few minutes)
    python bench/integrity.py --ops 1000000 --policy tlsf --mode debug
    python bench/integrity.py --seed 1234          # replay: the seeds are printed
    python bench/integrity.py --cost               # the price of debug mode: alloc+free, plain vs debug

The engine is ``IntegrityRun`` of ``tests/test_heap_integrity.py`` (the CI
short form): random alloc (with alignments), free, realloc, partial writes
and compactions (full and partial) on a heap of ``--capacity`` bytes, the
bytes of every block compared with what it must hold after every step that
could break them, ``Heap.check()`` (guards and poison in debug mode) every
``--check-every`` steps.  Prints one line per policy and mode, and exits 1 if
any byte was corrupted or any check failed (the first failures are printed).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_heap_integrity import Counts, IntegrityRun

import rangealloc


def cost(policies: list[str]) -> None:
    """Print the time of a free+alloc pair at 200 live blocks in 2 MiB, plain and debug, for a few sizes."""
    print(f"{'policy':<10} {'size':>6} {'plain us':>9} {'debug us':>9} {'ratio':>6}")
    for policy in policies:
        for size in (16, 256, 4096):
            times = []
            for debug in (False, True):
                best = float("inf")
                for _ in range(3):  # min of 3 repeats
                    heap = rangealloc.Heap(1 << 21, policy=policy, debug=debug)
                    rng = random.Random(1)
                    live = [heap.alloc(size) for _ in range(200)]
                    picks = [rng.randrange(200) for _ in range(5000)]
                    start = time.perf_counter()
                    for j in picks:
                        heap.free(live[j])
                        live[j] = heap.alloc(size)
                    best = min(best, (time.perf_counter() - start) / len(picks) * 1e6)
                times.append(best)
            print(f"{policy:<10} {size:>6} {times[0]:>9.2f} {times[1]:>9.2f} {times[1] / times[0]:>6.1f}")


def main(argv: list[str] | None = None) -> int:
    """Run, print a table, return the exit status (0: not one byte corrupted)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=200_000, help="operations per policy and mode")
    parser.add_argument("--policy", action="append", choices=list(rangealloc.POLICIES), help="repeatable")
    parser.add_argument("--mode", choices=["plain", "debug", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: a fresh one, printed)")
    parser.add_argument("--capacity", type=int, default=1 << 18, help="heap size in bytes")
    parser.add_argument("--max-size", type=int, default=1024, help="usual largest block (a tenth go to 4x)")
    parser.add_argument("--check-every", type=int, default=2000, help="Heap.check() every N operations")
    parser.add_argument("--cost", action="store_true", help="only time debug mode against plain")
    args = parser.parse_args(argv)
    if args.cost:
        cost(args.policy or list(rangealloc.POLICIES))
        return 0
    seed = args.seed or random.SystemRandom().randrange(1, 2**32)
    policies = args.policy or list(rangealloc.POLICIES)
    modes = [False, True] if args.mode == "both" else [args.mode == "debug"]
    print(f"rangealloc {rangealloc.__version__}, Python {sys.version.split()[0]}, base seed {seed}")
    print(f"{args.ops} operations per run, capacity {args.capacity}, sizes up to {args.max_size} (some 4x)")
    print()
    header = (
        f"{'policy':<10} {'mode':<5} {'seed':>10} {'allocs':>8} {'frees':>8} {'reallocs':>8} {'moved':>7} "
        f"{'compact':>7} {'c.moves':>8} {'overlap':>7} {'no room':>7} {'MB checked':>10} {'corrupt':>7} "
        f"{'s':>6} {'ops/s':>7}"
    )
    print(header)
    total = Counts()
    for policy in policies:
        for debug in modes:
            run_seed = seed + sum(map(ord, policy)) * 2 + debug
            run = IntegrityRun(
                policy,
                run_seed,
                capacity=args.capacity,
                debug=debug,
                max_size=args.max_size,
                full_every=50,
                check_every=args.check_every,
            )
            start = time.perf_counter()
            c = run.run(args.ops)
            elapsed = time.perf_counter() - start
            total.add(c)
            print(
                f"{policy:<10} {'debug' if debug else 'plain':<5} {run_seed:>10} {c.allocs:>8} {c.frees:>8} "
                f"{c.reallocs:>8} {c.realloc_moves:>7} {c.compactions:>7} {c.compact_moves:>8} "
                f"{c.overlap_up + c.overlap_down:>7} {c.out_of_space:>7} {c.bytes_verified / 1e6:>10.1f} "
                f"{c.corrupted_bytes:>7} {elapsed:>6.1f} {c.ops / elapsed:>7.0f}",
                flush=True,
            )
    print()
    print(
        f"total: {total.ops} operations, {total.bytes_verified / 1e6:.1f} MB verified, "
        f"{total.corrupted_bytes} corrupted bytes, {len(total.failures)} failures"
    )
    for failure in total.failures[:20]:
        print("  " + failure)
    return 1 if total.failures or total.corrupted_bytes else 0


if __name__ == "__main__":
    sys.exit(main())
