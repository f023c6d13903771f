"""Crash safety of ``Heap.save``: a saver killed with SIGKILL at random moments never leaves a bad file.

A child process saves a 64 MiB heap to the same path again and again, each
generation different in every byte and in its blocks; the test kills it
(SIGKILL: no cleanup, no flush) at a random moment inside a save, several
times, and after each kill loads the file: it must load, and hold exactly
the last generation the child finished or the one it was saving (the rename
is the commit point), never a mix and never a corrupt file.
"""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import STRESS_SEED

from rangealloc import Heap

SIZE = 64 << 20
KILLS = 4
TESTS = Path(__file__).resolve().parent

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from test_heap_crash import build
from rangealloc import Heap
path, size, generation = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
heap = Heap(size, policy="first-fit")
while True:
    generation += 1
    build(heap, generation)
    print("s", generation, flush=True)
    heap.save(path)
    print("d", generation, flush=True)
"""


def build(heap: Heap, generation: int) -> None:
    """Make ``heap`` hold generation ``generation``: every byte and the block layout depend on it."""
    heap.clear()
    heap.memory[:] = bytes([generation % 251]) * heap.capacity
    rng = random.Random(generation)
    head = heap.alloc(16)
    heap.write(head, struct.pack("<QQ", 0x5AFE5AFE, generation))
    small = [heap.alloc(rng.randint(1, 4000), rng.choice((1, 64))) for _ in range(rng.randint(1, 30))]
    for offset in small[::3]:
        heap.free(offset)
    heap.alloc(heap.capacity // 2 + rng.randint(0, 4096))


def generation_of(heap: Heap) -> int:
    tag, generation = struct.unpack("<QQ", heap.read(0))
    assert tag == 0x5AFE5AFE
    return int(generation)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_save_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    rng = random.Random(STRESS_SEED)
    path = tmp_path / "big.heap"
    heap = Heap(SIZE, policy="first-fit")
    build(heap, 0)
    start = time.perf_counter()
    heap.save(path)
    save_time = time.perf_counter() - start
    del heap
    generation = 0
    inside = 0  # kills that landed after a save started and before it reported its end
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(TESTS), str(path), str(SIZE), str(generation)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        done = generation
        started = 0
        wanted = rng.randint(1, 2)
        for line in child.stdout:
            kind, number = line.split()
            if kind == "d":
                done = int(number)
            else:
                started = int(number)
                if started - generation == wanted:
                    break
        assert started, "the child died before saving"
        time.sleep(rng.uniform(0, save_time * 0.9))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        for line in child.stdout.read().splitlines():
            kind, number = line.split()
            if kind == "d":
                done = int(number)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        inside += done < started
        loaded = Heap.load(path)  # must load: no HeapFileError, ever
        found = generation_of(loaded)
        assert found in (done, done + 1), f"file holds generation {found}, the child had finished {done}"
        expected = Heap(SIZE, policy="first-fit")
        build(expected, found)
        assert list(loaded.blocks()) == list(expected.blocks())
        assert loaded.allocator.snapshot() == expected.allocator.snapshot()
        assert loaded.buffer == expected.buffer, "the file mixes two generations"
        del loaded, expected
        generation = found
    assert inside >= 1, "no kill landed inside a save"
