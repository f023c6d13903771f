"""``synchronized``: every method delegated under the lock, and 8 threads hammering one heap.

The stress test runs 8 threads on one synchronized ``Heap`` with a tiny GIL
switch interval (so threads interleave inside calls, where a missing lock
would corrupt the policy's structures): each thread allocates, frees and
resizes its own blocks and fills each with its thread id and the block's
serial number, written through ``view()`` outside the lock or ``write()``
under it, and checks them before every free and after every realloc.  Twice
per run the threads meet at a barrier whose action compacts the heap, and
each thread remaps its offsets (the contract for ``compact`` with threads).
At the end: no overlap, no corrupted byte, no lost block, ``check()`` clean.
"""

from __future__ import annotations

import inspect
import random
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import STRESS_SEED

import rangealloc
from rangealloc import (
    Allocator,
    FirstFit,
    Heap,
    OutOfSpace,
    SyncAllocator,
    SyncHeap,
    synchronized,
)

THREADS = 8


def public(cls: type) -> set[str]:
    """The public names of a class, plus the dunder methods that are part of the contract."""
    names = {name for name in dir(cls) if not name.startswith("_")}
    return names | {name for name in ("__len__", "__contains__") if hasattr(cls, name)}


def test_every_public_name_is_delegated() -> None:
    """A method added to ``Allocator`` or ``Heap`` must be added to the wrapper too (or listed here)."""
    not_on_wrappers = {"load", "max_capacity", "rounds_sizes"}  # a constructor; class constants: use wrapped
    assert public(Allocator) - public(SyncAllocator) - not_on_wrappers == set()
    assert public(Heap) - public(SyncHeap) - not_on_wrappers == set()


def test_synchronized_wraps_once_and_refuses_others() -> None:
    allocator = FirstFit(64)
    wrapped = synchronized(allocator)
    assert isinstance(wrapped, SyncAllocator) and wrapped.wrapped is allocator
    assert synchronized(wrapped) is wrapped
    heap = synchronized(Heap(64))
    assert isinstance(heap, SyncHeap) and synchronized(heap) is heap
    with pytest.raises(TypeError, match="takes a Heap or an Allocator, got bytearray"):
        synchronized(bytearray(4))  # type: ignore[call-overload]


def _lock_owned(lock: Any) -> bool:
    owned: bool = lock._is_owned()
    return owned


def test_every_allocator_call_holds_the_lock() -> None:
    """Each method of the wrapped allocator runs with the wrapper's lock held by the calling thread."""
    seen: dict[str, bool] = {}
    box: list[SyncAllocator] = []

    def spy(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            seen[name] = _lock_owned(box[0].lock)
            return method(self, *args, **kwargs)

        return call

    def getter(name: str, member: Any) -> property:
        def get(self: Any) -> Any:
            seen[name] = _lock_owned(box[0].lock)
            return member.__get__(self, type(self))

        return property(get)

    namespace: dict[str, Any] = {"name": "spy"}
    for name in public(Allocator) - {"name", "max_capacity", "rounds_sizes"}:
        member = getattr(FirstFit, name)
        # A property in Python, a getset descriptor in the compiled build: both are data descriptors.
        namespace[name] = getter(name, member) if inspect.isdatadescriptor(member) else spy(name, member)
    Spy = type("Spy", (FirstFit,), namespace)
    a = synchronized(Spy(64))
    box.append(a)
    x = a.alloc(4)
    a.realloc(x, 8)
    a.reserve(32, 4)
    assert x in a and len(a) == 2 and a.size_of(x) == 8
    assert a.capacity == 64 and a.used == 12 and a.available == 52 and a.top_hole == 28
    assert a.blocks() == [(0, 8), (32, 4)] and a.holes() == [(8, 24), (36, 28)]
    assert a.stats().used == 12 and a.snapshot()["blocks"] == [[0, 8], [32, 4]]
    a.check()
    a.free(x)
    assert a.compact() == [rangealloc.Move(32, 0, 4)]
    a.grow(128)
    a.clear()
    assert repr(a) == "synchronized(Spy(capacity=128, used=0, blocks=0))" and a.name == "spy"
    assert set(seen) == public(Allocator) - {"name", "max_capacity", "rounds_sizes"}
    assert all(seen.values()), [name for name, owned in seen.items() if not owned]


def test_heap_wrapper_delegates(tmp_path: Any) -> None:
    heap = synchronized(Heap(256, policy="first-fit", debug=True))
    a = heap.alloc(4)
    heap.write(a, b"abcd")
    with heap.lock:  # reentrant: a sequence of calls as one step
        b = heap.realloc(a, 8)
        assert heap.read(b)[:4] == b"abcd" and heap.view(b)[:2].tobytes() == b"ab"
    assert heap.size_of(b) == 8 and b in heap and len(heap) == 1 and heap.blocks() == [(b, 8)]
    assert heap.requested == 8 and heap.capacity == 256 and heap.debug and heap.policy == "first-fit"
    assert heap.stats().used == 40 and heap.allocator is heap.wrapped.allocator
    assert heap.memory.nbytes == 256 and isinstance(heap.buffer, bytearray)
    heap.check()
    heap.save(tmp_path / "h")
    assert Heap.load(tmp_path / "h").read(b)[:4] == b"abcd"
    c = heap.alloc(4)
    heap.free(b)
    assert heap.compact() == {c: b}
    heap.clear()
    assert repr(heap).startswith("synchronized(Heap(capacity=256")
    with heap:
        pass
    with pytest.raises(ValueError):
        heap.alloc(1)  # closed


# ------------------------------------------------------------------- stress


def pattern(thread: int, serial: int, n: int) -> bytes:
    """The bytes of a block: thread id and serial number, repeated over its length."""
    unit = struct.pack("<HI", thread, serial)
    return (unit * (n // len(unit) + 1))[:n]


class Worker:
    """One thread's blocks (offset -> (serial, size)) and its random steps."""

    def __init__(self, heap: SyncHeap, thread: int, seed: int, max_size: int) -> None:
        self.heap = heap
        self.thread = thread
        self.rng = random.Random(seed)
        self.max_size = max_size
        self.blocks: dict[int, tuple[int, int]] = {}
        self.serial = 0
        self.errors: list[str] = []
        self.ops = 0

    def verify(self, offset: int, n: int | None = None) -> None:
        serial, size = self.blocks[offset]
        n = size if n is None else n
        got = self.heap.view(offset)[:n].tobytes()  # outside the lock: our own block
        if got != pattern(self.thread, serial, size)[:n]:
            self.errors.append(f"thread {self.thread}: block {offset} (serial {serial}) corrupted")

    def fill(self, offset: int, n: int) -> None:
        self.serial += 1
        self.blocks[offset] = (self.serial, n)
        data = pattern(self.thread, self.serial, n)
        if self.serial % 2:
            with self.heap.view(offset) as view:
                view[:] = data
        else:
            self.heap.write(offset, data)

    def step(self) -> None:
        rng, heap = self.rng, self.heap
        self.ops += 1
        roll = rng.random()
        if not self.blocks or roll < 0.4:
            n = rng.randint(1, self.max_size)
            try:
                offset = heap.alloc(n, rng.choice((1, 1, 8)))
            except OutOfSpace:
                return
            if offset in self.blocks:
                self.errors.append(f"thread {self.thread}: alloc returned its own live block {offset}")
            self.fill(offset, n)
        elif roll < 0.7:
            offset = rng.choice(list(self.blocks))
            self.verify(offset)
            heap.free(offset)
            del self.blocks[offset]
        else:
            offset = rng.choice(list(self.blocks))
            serial, old = self.blocks[offset]
            n = rng.randint(1, self.max_size)
            try:
                new = heap.realloc(offset, n)
            except OutOfSpace:
                self.verify(offset)
                return
            del self.blocks[offset]
            self.blocks[new] = (serial, old)
            self.verify(new, min(old, n))
            del self.blocks[new]
            self.fill(new, n)

    def remap(self, moved: dict[int, int]) -> None:
        self.blocks = {moved.get(o, o): v for o, v in self.blocks.items()}
        for offset in self.blocks:
            self.verify(offset)


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads every microsecond: calls interleave far more than by default."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.usefixtures("fast_switching")
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_eight_threads_on_one_heap(policy: str, debug: bool) -> None:
    heap = synchronized(Heap(1 << 15, policy=policy, debug=debug))
    seed = STRESS_SEED + sum(map(ord, policy)) + debug
    workers = [Worker(heap, t, seed * 31 + t, max_size=150) for t in range(THREADS)]
    moved: dict[int, int] = {}

    def compact() -> None:  # run by one thread while all the others wait at the barrier
        moved.clear()
        moved.update(heap.compact())

    barrier = threading.Barrier(THREADS, action=compact, timeout=60)
    failures: list[BaseException] = []

    def work(worker: Worker) -> None:
        try:
            for round_ in range(3):
                for _ in range(200):
                    worker.step()
                if round_ < 2:
                    barrier.wait()
                    worker.remap(moved)
                    barrier.wait()  # nobody allocates before every thread has remapped
        except BaseException as error:
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], f"RANGEALLOC_SEED={STRESS_SEED}: {failures[0]!r}"
    errors = [error for w in workers for error in w.errors]
    assert errors == [], f"RANGEALLOC_SEED={STRESS_SEED}: {errors[:5]}"
    owned = {offset: size for w in workers for offset, (_, size) in w.blocks.items()}
    assert len(owned) == sum(len(w.blocks) for w in workers), "two threads own the same block"
    assert dict(heap.blocks()) == owned, "a block was lost or appeared"
    end = 0
    for offset, size in heap.blocks():
        assert offset >= end, f"blocks overlap at {offset}"
        end = offset + size
    for w in workers:
        for offset in w.blocks:
            w.verify(offset)
    assert [e for w in workers for e in w.errors] == []
    heap.check()
    assert sum(w.ops for w in workers) == THREADS * 600
