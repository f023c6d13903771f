"""Thread-safe wrappers: ``synchronized(allocator_or_heap)``.

Allocators and heaps are not thread-safe: a policy's structures (trees,
bins, the block table) are updated in several steps.  ``synchronized`` wraps
one in an object with the same methods, each of which holds one
``threading.RLock`` for the whole call.

The contract:

* **each call is atomic**: it sees and leaves a consistent allocator or heap,
  and calls from different threads happen one after another;
* a **sequence** of calls is not: hold ``wrapper.lock`` (reentrant) around it
  (``with heap.lock: a = heap.alloc(n); heap.write(a, data)``);
* methods that iterate in the wrapped object (``blocks()``, ``holes()``)
  return **lists** taken under the lock, not iterators;
* a ``memoryview`` from ``view()`` (or ``memory``) **outlives the lock**: the
  bytes of a block may be used without the lock by the thread that owns the
  block, but no thread may free, ``realloc`` or ``compact`` a block while
  another still uses its view or offset (the offset would then name another
  block's bytes).  ``compact`` moves blocks: call it when no other thread
  holds offsets, or share the mapping it returns under the lock;
* ``wrapped`` (and ``allocator`` of a heap) is the object itself: using it
  directly bypasses the lock.

Every method is delegated explicitly (no ``__getattr__``), so the wrappers
type-check and compile like the rest of the package.  Cost: one uncontended
lock acquire and release per call (about 0.1 us in CPython).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

from ._base import Allocator, Move, Stats
from .heap import Heap

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["SyncAllocator", "SyncHeap", "synchronized"]


class SyncAllocator:
    """An ``Allocator`` whose every method runs under one ``threading.RLock``.

    Made by ``synchronized(allocator)``; see ``rangealloc._sync`` for the contract.

    >>> from rangealloc import FirstFit, synchronized
    >>> a = synchronized(FirstFit(64))
    >>> a.alloc(10), a.blocks()
    (0, [(0, 10)])
    """

    __slots__ = ("_lock", "_wrapped")

    def __init__(self, allocator: Allocator) -> None:
        self._wrapped = allocator
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """The lock every call holds: hold it too to make several calls one atomic step."""
        return self._lock

    @property
    def wrapped(self) -> Allocator:
        """The allocator itself (using it directly bypasses the lock)."""
        return self._wrapped

    @property
    def name(self) -> str:
        """The policy's name."""
        return self._wrapped.name

    def alloc(self, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """``Allocator.alloc`` under the lock."""
        with self._lock:
            return self._wrapped.alloc(size, align)

    def free(self, offset: SupportsIndex) -> None:
        """``Allocator.free`` under the lock."""
        with self._lock:
            self._wrapped.free(offset)

    def realloc(self, offset: SupportsIndex, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """``Allocator.realloc`` under the lock."""
        with self._lock:
            return self._wrapped.realloc(offset, size, align)

    def reserve(self, offset: SupportsIndex, size: SupportsIndex) -> int:
        """``Allocator.reserve`` under the lock."""
        with self._lock:
            return self._wrapped.reserve(offset, size)

    def clear(self) -> None:
        """``Allocator.clear`` under the lock."""
        with self._lock:
            self._wrapped.clear()

    def grow(self, capacity: SupportsIndex) -> None:
        """``Allocator.grow`` under the lock."""
        with self._lock:
            self._wrapped.grow(capacity)

    def compact(self, max_moves: SupportsIndex | None = None) -> list[Move]:
        """``Allocator.compact`` under the lock."""
        with self._lock:
            return self._wrapped.compact(max_moves)

    def snapshot(self) -> dict[str, Any]:
        """``Allocator.snapshot`` under the lock."""
        with self._lock:
            return self._wrapped.snapshot()

    def size_of(self, offset: SupportsIndex) -> int:
        """``Allocator.size_of`` under the lock."""
        with self._lock:
            return self._wrapped.size_of(offset)

    def __contains__(self, offset: object) -> bool:
        with self._lock:
            return offset in self._wrapped

    def __len__(self) -> int:
        with self._lock:
            return len(self._wrapped)

    @property
    def capacity(self) -> int:
        """``Allocator.capacity`` under the lock."""
        with self._lock:
            return self._wrapped.capacity

    @property
    def used(self) -> int:
        """``Allocator.used`` under the lock."""
        with self._lock:
            return self._wrapped.used

    @property
    def available(self) -> int:
        """``Allocator.available`` under the lock."""
        with self._lock:
            return self._wrapped.available

    @property
    def top_hole(self) -> int:
        """``Allocator.top_hole`` under the lock."""
        with self._lock:
            return self._wrapped.top_hole

    def blocks(self) -> list[tuple[int, int]]:
        """``Allocator.blocks``, as a list taken under the lock."""
        with self._lock:
            return list(self._wrapped.blocks())

    def holes(self) -> list[tuple[int, int]]:
        """``Allocator.holes``, as a list taken under the lock."""
        with self._lock:
            return list(self._wrapped.holes())

    def stats(self) -> Stats:
        """``Allocator.stats`` under the lock."""
        with self._lock:
            return self._wrapped.stats()

    def check(self) -> None:
        """``Allocator.check`` under the lock."""
        with self._lock:
            self._wrapped.check()

    def __repr__(self) -> str:
        with self._lock:
            return f"synchronized({self._wrapped!r})"


class SyncHeap:
    """A ``Heap`` whose every method runs under one ``threading.RLock``.

    Made by ``synchronized(heap)``; see ``rangealloc._sync`` for the contract
    (views outlive the lock).

    >>> from rangealloc import Heap, synchronized
    >>> heap = synchronized(Heap(64, policy="first-fit"))
    >>> a = heap.alloc(5); heap.write(a, b"hello"); heap.read(a)
    b'hello'
    """

    __slots__ = ("_lock", "_wrapped")

    def __init__(self, heap: Heap) -> None:
        self._wrapped = heap
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """The lock every call holds: hold it too to make several calls one atomic step."""
        return self._lock

    @property
    def wrapped(self) -> Heap:
        """The heap itself (using it directly bypasses the lock)."""
        return self._wrapped

    def alloc(self, n: SupportsIndex, align: SupportsIndex = 1) -> int:
        """``Heap.alloc`` under the lock."""
        with self._lock:
            return self._wrapped.alloc(n, align)

    def free(self, offset: SupportsIndex) -> None:
        """``Heap.free`` under the lock."""
        with self._lock:
            self._wrapped.free(offset)

    def realloc(self, offset: SupportsIndex, n: SupportsIndex) -> int:
        """``Heap.realloc`` under the lock."""
        with self._lock:
            return self._wrapped.realloc(offset, n)

    def clear(self) -> None:
        """``Heap.clear`` under the lock."""
        with self._lock:
            self._wrapped.clear()

    def compact(self, max_moves: SupportsIndex | None = None) -> dict[int, int]:
        """``Heap.compact`` under the lock (every offset held by other threads must then be remapped)."""
        with self._lock:
            return self._wrapped.compact(max_moves)

    def view(self, offset: SupportsIndex) -> memoryview:
        """``Heap.view`` under the lock; the view outlives it (see the contract)."""
        with self._lock:
            return self._wrapped.view(offset)

    def read(self, offset: SupportsIndex) -> bytes:
        """``Heap.read`` under the lock."""
        with self._lock:
            return self._wrapped.read(offset)

    def write(self, offset: SupportsIndex, data: Buffer, start: SupportsIndex = 0) -> None:
        """``Heap.write`` under the lock."""
        with self._lock:
            self._wrapped.write(offset, data, start)

    def size_of(self, offset: SupportsIndex) -> int:
        """``Heap.size_of`` under the lock."""
        with self._lock:
            return self._wrapped.size_of(offset)

    def blocks(self) -> list[tuple[int, int]]:
        """``Heap.blocks``, as a list taken under the lock."""
        with self._lock:
            return list(self._wrapped.blocks())

    def __contains__(self, offset: object) -> bool:
        with self._lock:
            return offset in self._wrapped

    def __len__(self) -> int:
        with self._lock:
            return len(self._wrapped)

    def stats(self) -> Stats:
        """``Heap.stats`` under the lock."""
        with self._lock:
            return self._wrapped.stats()

    @property
    def requested(self) -> int:
        """``Heap.requested`` under the lock."""
        with self._lock:
            return self._wrapped.requested

    @property
    def capacity(self) -> int:
        """``Heap.capacity``."""
        with self._lock:
            return self._wrapped.capacity

    @property
    def allocator(self) -> Allocator:
        """The heap's allocator itself (not synchronized: read it under ``lock``)."""
        return self._wrapped.allocator

    @property
    def policy(self) -> str:
        """``Heap.policy``."""
        return self._wrapped.policy

    @property
    def debug(self) -> bool:
        """``Heap.debug``."""
        return self._wrapped.debug

    @property
    def memory(self) -> memoryview:
        """``Heap.memory`` (outlives the lock)."""
        return self._wrapped.memory

    @property
    def buffer(self) -> Buffer:
        """``Heap.buffer``."""
        return self._wrapped.buffer

    def check(self) -> None:
        """``Heap.check`` under the lock."""
        with self._lock:
            self._wrapped.check()

    def save(self, path: str | os.PathLike[str]) -> None:
        """``Heap.save`` under the lock (the file holds one consistent state)."""
        with self._lock:
            self._wrapped.save(path)

    def close(self) -> None:
        """``Heap.close`` under the lock."""
        with self._lock:
            self._wrapped.close()

    def __enter__(self) -> SyncHeap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:
            return f"synchronized({self._wrapped!r})"


@overload
def synchronized(obj: Heap | SyncHeap) -> SyncHeap: ...


@overload
def synchronized(obj: Allocator | SyncAllocator) -> SyncAllocator: ...


def synchronized(obj: Heap | SyncHeap | Allocator | SyncAllocator) -> SyncHeap | SyncAllocator:
    """Wrap a ``Heap`` or an ``Allocator`` so that every call holds one ``threading.RLock``.

    A wrapper given is returned as it is.  See ``rangealloc._sync`` for the
    contract: each call is atomic; ``view()`` results outlive the lock;
    ``blocks()`` and ``holes()`` return lists.

    Time: O(1).  Raises ``TypeError`` for anything else.

    >>> from rangealloc import TLSF, synchronized
    >>> synchronized(TLSF(1024))
    synchronized(TLSF(capacity=1024, used=0, blocks=0))
    """
    if isinstance(obj, (SyncHeap, SyncAllocator)):
        return obj
    if isinstance(obj, Heap):
        return SyncHeap(obj)
    if isinstance(obj, Allocator):
        return SyncAllocator(obj)
    raise TypeError(f"synchronized() takes a Heap or an Allocator, got {type(obj).__name__}")
