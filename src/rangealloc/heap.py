"""Heap: an allocator coupled to real memory.

Allocators only hand out offsets; a ``Heap`` couples one to a writable buffer
(a ``bytearray`` it owns, or any C-contiguous buffer: ``mmap``,
``multiprocessing.shared_memory``, a numpy array) and adds what offsets alone
cannot do: ``realloc`` that carries the bytes along, ``view`` of exactly the
requested bytes, compaction that moves the data, a debug mode that catches
overruns and writes after free, and ``save``/``load`` of the whole heap.

Bookkeeping: one slot of the allocator is one byte of the buffer.  The heap
keeps the *requested* size of every block (``_sizes``: user offset ->
size) beside the allocator's own table, because a policy may round (buddy
hands out powers of two): ``view``, ``read``, ``realloc`` and ``size_of`` use
the requested size, ``stats()`` reports the slots really taken.  The
alignment asked at ``alloc`` is kept (``_aligns``, only for align > 1) and
``realloc`` keeps honouring it.

Debug mode (``Heap(..., debug=True)``) lays every block out with guard bytes
around it, in the manner of the MSVC debug heap (0xFD guards, 0xDD freed,
0xCD fresh)::

    allocator block  [base ........................................ base + size_of)
                     [ pre-guard 0xFD ][ user bytes (n) ][ post-guard 0xFD ... ]
                     ^ base            ^ user offset     ^ user + n
    pre = max(16, align): the user offset keeps its alignment
    post = 16 bytes, plus whatever the policy rounded up (buddy)
    every byte outside an allocator block holds the poison 0xDD

The allocator is asked for ``pre + n + 16`` slots at the requested
alignment.  ``free`` checks the block's guards and poisons it; ``alloc`` and
``realloc`` check that the slots they take from the free space still hold the
poison; what these find (an overrun, an underrun, a write after free whose
evidence is about to be overwritten) is *recorded*, and ``check()`` raises
``HeapCorruption`` for the first finding, or for any live block's broken guard
or any free byte that lost its poison, naming the offset.  Findings stay
until ``clear()``.  Fresh bytes (``alloc``, the grown part of ``realloc``)
read 0xCD.

Cost of debug mode: 32 bytes per block (more for align > 16; with buddy, a
power-of-two size plus 32 rounds up to twice the size); every
``alloc``/``free``/``realloc`` writes and checks O(block size) bytes instead of
O(1): 3 to 7 us more per free+alloc pair here, 1.5-3x the time of the fast
policies (``bench/integrity.py --cost``); constructing and ``clear()`` poison
the whole buffer (a foreign buffer's contents are overwritten); ``check()``
reads every byte (O(capacity)); ``compact`` checks and poisons what it moves.

Persistence: ``save(path)`` writes one file, atomically (a temporary file in
the same directory, flushed, fsynced, renamed into place, the directory
fsynced: a crash leaves either the old file or the new one, maybe a stray
``.<name>.<pid>.<random>.tmp`` beside them)::

    offset  size      field
    0       8         magic  b"\\x89RAHEAP\\n"
    8       4         version (u32 little-endian) = 1
    12      4         flags (u32) = 0, reserved
    16      8         meta length M (u64)
    24      8         data length D (u64) = capacity
    32      M         meta: UTF-8 JSON {"format", "capacity", "debug", "guard",
                      "policy", "blocks": [[offset, size, align], ...],
                      "allocator": <Allocator.snapshot()>}
    32+M    D         the buffer's bytes
    32+M+D  32        SHA-256 of every byte before it

``Heap.load(path)`` reads the whole file and checks magic, version, flags,
lengths (against the file's size) and the checksum *before* building
anything, then restores the allocator and checks that the block table agrees
with it; anything wrong raises ``HeapFileError`` naming the file and the
problem, and no heap is returned.

Time: ``alloc``/``free``/``realloc`` are the policy's, plus O(1) (O(size) in
debug mode, and ``realloc`` copies min(old, new) bytes when it moves).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, SupportsIndex

from ._base import Allocator, Stats, dict_pop
from ._errors import (
    AllocError,
    CorruptState,
    InvalidBlock,
    OutOfSpace,
    as_int,
    check_align,
    check_size,
    key_of,
)
from ._mypyc import mypyc_attr
from ._registry import DEFAULT_POLICY, policy_class

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Heap", "HeapCorruption", "HeapFileError"]

#: Guard bytes on each side of a block in debug mode.
GUARD: Final = 16
#: The byte of the guards, of freed memory, and of fresh (never written) block bytes in debug mode.
GUARD_BYTE: Final = 0xFD
POISON_BYTE: Final = 0xDD
FRESH_BYTE: Final = 0xCD

MAGIC: Final = b"\x89RAHEAP\n"
VERSION: Final = 1
_HEADER: Final = struct.Struct("<8sIIQQ")  # magic, version, flags, meta length, data length
_DIGEST: Final = 32  # sha256
_FORMAT: Final = "rangealloc-heap"

#: Pattern checks and fills work in chunks of this many bytes (bounded temporaries).
_CHUNK: Final = 1 << 16
_PATTERNS: Final = {b: bytes((b,)) * _CHUNK for b in (GUARD_BYTE, POISON_BYTE, FRESH_BYTE)}
_NAMES: Final = {GUARD_BYTE: "guard", POISON_BYTE: "poison", FRESH_BYTE: "fresh"}


class HeapCorruption(CorruptState):
    """``Heap.check()`` found the *memory* corrupted (debug mode): a guard overwritten, freed memory written.

    A subclass of ``CorruptState``, so code that catches the allocator's
    ``check()`` failures catches these too.  The message names the offsets.
    """


class HeapFileError(AllocError, ValueError):
    """A heap file cannot be loaded: not a heap file, unknown version, truncated, checksum mismatch...

    The message starts with the file's name.
    """


def _fill(mem: memoryview, start: int, end: int, byte: int) -> None:
    """Write ``byte`` into ``mem[start:end]``.  Time: O(end - start)."""
    pattern = _PATTERNS[byte]
    if end - start <= _CHUNK:  # the usual case: one slice
        mem[start:end] = pattern[: end - start]
        return
    while start < end:
        stop = min(end, start + _CHUNK)
        mem[start:stop] = pattern[: stop - start]
        start = stop


def _mismatch(mem: memoryview, start: int, end: int, byte: int) -> int:
    """The first offset in ``[start, end)`` whose byte is not ``byte``; -1 if none.  Time: O(end - start)."""
    pattern = _PATTERNS[byte]
    if end - start <= _CHUNK and mem[start:end].tobytes() == pattern[: end - start]:  # the usual case
        return -1
    while start < end:
        stop = min(end, start + _CHUNK)
        chunk = mem[start:stop].tobytes()
        if chunk != pattern[: stop - start]:
            return start + len(chunk) - len(chunk.lstrip(pattern[:1]))
        start = stop
    return -1


def _minus(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges ``[start, end)`` of ``a`` not covered by ``b`` (both any order, overlaps allowed).

    Each range of ``a`` on its own (overlapping ranges of ``a`` may give
    overlapping pieces), in order of start.  ``b`` is merged into disjoint
    ranges once, then both are swept together: compact passes one range per
    moved block in each.  Time: O((len(a) + len(b)) log) plus the pieces.
    """
    cut: list[tuple[int, int]] = []
    for start, end in sorted(b):
        if cut and start <= cut[-1][1]:
            if end > cut[-1][1]:
                cut[-1] = (cut[-1][0], end)
        else:
            cut.append((start, end))
    out: list[tuple[int, int]] = []
    first = 0  # the first range of cut that ends after the current start (starts only grow)
    for start, end in sorted(a):
        while first < len(cut) and cut[first][1] <= start:
            first += 1
        position = start
        index = first
        while index < len(cut) and position < end:
            c_start, c_end = cut[index]
            if c_start >= end:
                break
            if c_start > position:
                out.append((position, c_start))
            position = c_end
            index += 1
        if position < end:
            out.append((position, end))
    return out


def _as_buffer(buffer: object) -> memoryview:
    """``buffer`` as a writable 1-D memoryview of bytes, or ``TypeError``/``ValueError`` naming it."""
    try:
        mem = memoryview(buffer)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"buffer must support the buffer protocol (bytearray, mmap, memoryview...), "
            f"got {type(buffer).__name__}"
        ) from None
    if mem.readonly:
        kind = type(buffer).__name__
        mem.release()
        raise TypeError(f"buffer must be writable, got a read-only {kind}")
    if not mem.c_contiguous:
        mem.release()
        raise ValueError("buffer must be C-contiguous, got a non-contiguous view")
    if mem.format != "B" or mem.ndim != 1:
        flat = mem.cast("B")
        mem.release()
        mem = flat
    if not mem.nbytes:
        mem.release()
        raise ValueError("buffer must not be empty, got 0 bytes")
    return mem


@mypyc_attr(allow_interpreted_subclasses=True)
class Heap:
    """An allocator coupled to a writable buffer: offsets in, bytes out.

    ``Heap(size)`` owns a ``bytearray(size)``; ``Heap(buffer=obj)`` uses any
    writable C-contiguous buffer (its bytes, whatever the item type).  One
    allocator slot is one byte.  ``policy`` is a name of ``POLICIES`` or an
    ``Allocator`` subclass; ``debug=True`` adds guards and poison (see the
    module docstring: ``check()`` then finds overruns and writes after free).

    Every call that raises leaves the heap and the buffer's bytes unchanged.

    Raises ``TypeError`` if both or neither of size and buffer are given, if
    the buffer is read-only or not a buffer, or policy is neither a str nor an
    ``Allocator`` subclass; ``ValueError`` for a size <= 0, an empty or
    non-contiguous buffer, an unknown policy name, a capacity above the
    policy's maximum.

    >>> heap = Heap(64, policy="first-fit")
    >>> a = heap.alloc(5)
    >>> heap.write(a, b"hello")
    >>> a = heap.realloc(a, 12)
    >>> heap.read(a)[:5], heap.size_of(a)
    (b'hello', 12)
    """

    __slots__ = ("_aligns", "_allocator", "_buffer", "_debug", "_findings", "_mem", "_requested", "_sizes")

    def __init__(
        self,
        size: SupportsIndex | None = None,
        *,
        buffer: Buffer | None = None,
        policy: str | type[Allocator] = DEFAULT_POLICY,
        debug: object = False,  # a bool: checked here, with this module's message, in both builds
    ) -> None:
        if not isinstance(debug, bool):
            raise TypeError(f"debug must be a bool, got {type(debug).__name__} {debug!r}")
        cls = policy_class(policy)
        backing: Buffer
        if size is not None and buffer is None:
            backing = bytearray(check_size(size, "size"))
        elif buffer is not None and size is None:
            backing = buffer
        else:
            given = "both" if size is not None else "neither"
            raise TypeError(f"Heap() takes a size or a buffer= (exactly one), got {given}")
        mem = _as_buffer(backing)
        try:
            allocator = cls(mem.nbytes)
        except BaseException:
            mem.release()
            raise
        self._buffer = backing
        self._mem = mem
        self._allocator = allocator
        self._sizes: dict[int, int] = {}
        self._aligns: dict[int, int] = {}
        self._requested = 0
        self._debug = debug
        self._findings: list[str] = []
        if debug:
            _fill(mem, 0, mem.nbytes, POISON_BYTE)

    # ------------------------------------------------------------ allocation

    def alloc(self, n: SupportsIndex, align: SupportsIndex = 1) -> int:
        """Claim ``n`` bytes at a multiple of ``align``; return the offset.

        The bytes are not cleared (in debug mode they read 0xCD).

        Time: the policy's alloc (plus O(n) in debug mode).

        Raises ``OutOfSpace`` if no room; ``TypeError``/``ValueError`` for a bad n or align.

        >>> heap = Heap(64, policy="first-fit")
        >>> heap.alloc(10), heap.alloc(4, align=16)
        (0, 16)
        """
        if type(n) is not int or n <= 0:
            n = check_size(n, "n")
        if type(align) is not int or align <= 0 or align & (align - 1):
            align = check_align(align)
        if self._debug:
            return self._debug_alloc(n, align)
        offset = self._allocator.alloc(n, align)
        self._sizes[offset] = n
        if align > 1:
            self._aligns[offset] = align
        self._requested += n
        return offset

    def free(self, offset: SupportsIndex) -> None:
        """Release the block at ``offset``.

        Time: the policy's free (plus O(size) in debug mode).

        Raises ``InvalidBlock`` if no live block starts at ``offset``.

        >>> heap = Heap(64)
        >>> heap.free(heap.alloc(10)); len(heap)
        0
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        n = self._sizes.get(offset, 0)
        if not n:
            raise InvalidBlock(self._not_a_block("free", offset))
        align = dict_pop(self._aligns, offset, 1)
        del self._sizes[offset]
        self._requested -= n
        if not self._debug:
            self._allocator.free(offset)
            return
        base = offset - (GUARD if align <= GUARD else align)
        end = base + self._allocator.size_of(base)
        self._allocator.free(base)
        self._check_guards(base, offset, n, end, "at free")
        _fill(self._mem, base, end, POISON_BYTE)

    def realloc(self, offset: SupportsIndex, n: SupportsIndex) -> int:
        """Resize the block at ``offset`` to ``n`` bytes; return its (new) offset.

        The first min(old, new) bytes are kept, wherever the block goes (the
        copy is a memmove: the new place may overlap the old one); the block
        keeps the alignment it was allocated with.  Grown bytes are not
        cleared (0xCD in debug mode).

        Time: the policy's realloc, plus O(min(old, n)) when the block moves.

        Raises ``InvalidBlock`` (not a live block), ``OutOfSpace`` (no room:
        the block and its bytes are untouched), ``TypeError``/``ValueError`` (bad n).

        >>> heap = Heap(64, policy="first-fit")
        >>> a, b = heap.alloc(4), heap.alloc(4)
        >>> heap.write(a, b"abcd")
        >>> a = heap.realloc(a, 8)   # b is in the way: moves to 8
        >>> a, heap.read(a)[:4]
        (8, b'abcd')
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        if type(n) is not int or n <= 0:
            n = check_size(n, "n")
        old_n = self._sizes.get(offset, 0)
        if not old_n:
            raise InvalidBlock(self._not_a_block("realloc", offset))
        align = self._aligns.get(offset, 1)
        if self._debug:
            new = self._debug_realloc(offset, old_n, n, align)
        else:
            new = self._allocator.realloc(offset, n, align)
            if new != offset:
                k = min(old_n, n)
                self._mem[new : new + k] = self._mem[offset : offset + k]  # memmove: safe if they overlap
        if new != offset:
            del self._sizes[offset]
            if align > 1:
                del self._aligns[offset]
                self._aligns[new] = align
        self._sizes[new] = n
        self._requested += n - old_n
        return new

    def clear(self) -> None:
        """Free every block (and forget debug findings; in debug mode, poison the whole buffer).

        Time: O(blocks) (O(capacity) in debug mode).
        """
        self._allocator.clear()
        self._sizes.clear()
        self._aligns.clear()
        self._requested = 0
        self._findings.clear()
        if self._debug:
            _fill(self._mem, 0, self._mem.nbytes, POISON_BYTE)

    def compact(self, max_moves: SupportsIndex | None = None) -> dict[int, int]:
        """Slide blocks together (the policy's ``compact``), moving their bytes; return ``{old: new}``.

        Only the blocks that moved are in the result.  Every offset held
        elsewhere must be updated with it (views taken before are stale).
        At most ``max_moves`` moves when given.

        Time: the policy's compact, plus O(bytes moved) (and the free bytes
        that become used are checked for poison in debug mode).

        Raises ``TypeError``/``ValueError`` for a bad ``max_moves`` (nothing moves).

        >>> heap = Heap(64, policy="first-fit")
        >>> a, b = heap.alloc(8), heap.alloc(8)
        >>> heap.write(b, b"12345678"); heap.free(a)
        >>> heap.compact()
        {8: 0}
        >>> heap.read(0)
        b'12345678'
        """
        moves = self._allocator.compact(max_moves)
        if not moves:
            return {}
        mem = self._mem
        debug = self._debug
        aligns = self._aligns
        # allocator block start -> user offset, for the blocks that move
        user_of: dict[int, int] = {}
        if debug:
            for user in self._sizes:
                align = aligns.get(user, 1)
                user_of[user - (GUARD if align <= GUARD else align)] = user
        sources = [(m.offset, m.offset + m.size) for m in moves]
        destinations = [(m.new_offset, m.new_offset + m.size) for m in moves]
        if debug:
            for start, end in _minus(destinations, sources):  # free before: must still be poison
                self._check_poison(start, end, "taken by compact")
        # where each moved block is now -> its original allocator offset
        origin: dict[int, int] = {}
        for m in moves:
            first = origin.pop(m.offset, m.offset)
            origin[m.new_offset] = first
            if debug:
                k = m.size  # the whole block: guards (and any evidence in them) travel with it
            else:
                k = min(m.size, self._sizes[first])
            mem[m.new_offset : m.new_offset + k] = mem[m.offset : m.offset + k]
        result: dict[int, int] = {}
        sizes = self._sizes
        moved: list[tuple[int, int, int]] = []  # old user offset, new user offset, size
        for now, first in origin.items():
            if now == first:
                continue
            old_user = user_of[first] if debug else first
            new_user = now + (old_user - first)
            moved.append((old_user, new_user, sizes.pop(old_user)))
            result[old_user] = new_user
        for _, new_user, size in moved:
            sizes[new_user] = size
        moved_aligns = [(new, aligns.pop(old)) for old, new, _ in moved if old in aligns]
        aligns.update(moved_aligns)
        if debug:
            finals = [(now, now + self._allocator.size_of(now)) for now in origin]
            for start, end in _minus(sources + destinations, finals):
                _fill(mem, start, end, POISON_BYTE)
        return result

    # ---------------------------------------------------------------- memory

    def view(self, offset: SupportsIndex) -> memoryview:
        """A memoryview of exactly the requested bytes of the block at ``offset``.

        The view stays valid until the block is freed, moved (``realloc``,
        ``compact``) or the heap closed; release it (``with heap.view(a) as v:``)
        before closing an ``mmap`` or a ``SharedMemory`` under the heap.

        Time: O(1).  Raises ``InvalidBlock`` if no live block starts at ``offset``.

        >>> heap = Heap(64)
        >>> a = heap.alloc(3)
        >>> heap.view(a)[:] = b"xyz"
        >>> len(heap.view(a)), bytes(heap.view(a))
        (3, b'xyz')
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        n = self._sizes.get(offset, 0)
        if not n:
            raise InvalidBlock(self._not_a_block("view", offset))
        return self._mem[offset : offset + n]

    def read(self, offset: SupportsIndex) -> bytes:
        """A copy of the block's requested bytes.

        Time: O(size).  Raises ``InvalidBlock`` if no live block starts at ``offset``.
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        n = self._sizes.get(offset, 0)
        if not n:
            raise InvalidBlock(self._not_a_block("read", offset))
        return self._mem[offset : offset + n].tobytes()

    def write(self, offset: SupportsIndex, data: Buffer, start: SupportsIndex = 0) -> None:
        """Copy ``data`` (any bytes-like object) into the block at ``offset``, from byte ``start`` of it.

        Time: O(len(data)).

        Raises ``InvalidBlock`` (not a live block), ``ValueError`` if the data
        would not fit in the block's requested size (nothing is written) or
        is not C-contiguous, ``TypeError`` if it is not a bytes-like object.

        >>> heap = Heap(64)
        >>> a = heap.alloc(4)
        >>> heap.write(a, b"abcdef")
        Traceback (most recent call last):
        ...
        ValueError: write of 6 bytes at 0 does not fit in block 0 of 4 bytes
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        if type(start) is not int:
            start = as_int(start, "start")
        n = self._sizes.get(offset, 0)
        if not n:
            raise InvalidBlock(self._not_a_block("write", offset))
        try:
            source = memoryview(data)
        except TypeError:
            raise TypeError(f"data must be a bytes-like object, got {type(data).__name__}") from None
        with source:
            if not source.c_contiguous:
                raise ValueError("data must be C-contiguous")
            length = source.nbytes
            if start < 0 or start + length > n:
                raise ValueError(
                    f"write of {length} bytes at {start} does not fit in block {offset} of {n} bytes"
                )
            if source.format != "B" or source.ndim != 1:
                with source.cast("B") as flat:
                    self._mem[offset + start : offset + start + length] = flat
            else:
                self._mem[offset + start : offset + start + length] = source

    # ---------------------------------------------------------------- queries

    def size_of(self, offset: SupportsIndex) -> int:
        """The requested size of the block at ``offset`` (not the policy's rounding).

        Time: O(1).  Raises ``InvalidBlock`` if no live block starts there.
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        n = self._sizes.get(offset, 0)
        if not n:
            raise InvalidBlock(self._not_a_block("size_of", offset))
        return n

    def blocks(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(offset, requested size)`` of the live blocks in address order.  Time: O(n log n)."""
        return iter(sorted(self._sizes.items()))

    def __contains__(self, offset: object) -> bool:
        """``offset in heap``: is ``offset`` the start of a live block?  Time: O(1)."""
        return (offset if type(offset) is int else key_of(offset)) in self._sizes

    def __len__(self) -> int:
        """The number of live blocks.  Time: O(1)."""
        return len(self._sizes)

    def stats(self) -> Stats:
        """The allocator's ``Stats``, in bytes (guards and rounding count as used).

        ``stats().used - heap.requested`` is the overhead.  Time: the policy's stats.
        """
        return self._allocator.stats()

    @property
    def requested(self) -> int:
        """Bytes requested by the live blocks (without guards or rounding).  Time: O(1)."""
        return self._requested

    @property
    def capacity(self) -> int:
        """Size of the buffer, in bytes."""
        return self._allocator.capacity

    @property
    def allocator(self) -> Allocator:
        """The underlying allocator: its offsets are the heap's (in debug mode, guards included).

        Calling its mutating methods directly desynchronises the heap.
        """
        return self._allocator

    @property
    def policy(self) -> str:
        """The allocator's policy name."""
        return self._allocator.name

    @property
    def debug(self) -> bool:
        """True in debug mode (guards and poison)."""
        return self._debug

    @property
    def memory(self) -> memoryview:
        """The whole buffer as a 1-D memoryview of bytes (format ``"B"``)."""
        return self._mem

    @property
    def buffer(self) -> Buffer:
        """The object that holds the bytes: the ``buffer=`` given, or the heap's own ``bytearray``."""
        return self._buffer

    def check(self) -> None:
        """Verify the allocator, the heap's block table and, in debug mode, every guard and poison byte.

        Time: O(n log n) (plus O(capacity) in debug mode).

        Raises ``CorruptState`` naming the broken rule; ``HeapCorruption``
        (a ``CorruptState``) naming the offset of overwritten memory: a
        recorded finding first (a guard found broken at ``free``, poison
        found overwritten when reused), then live blocks' guards, then free bytes.

        >>> heap = Heap(128, policy="first-fit", debug=True)
        >>> a = heap.alloc(8)
        >>> heap.memory[a + 8] = 0   # one byte past the end
        >>> heap.check()
        Traceback (most recent call last):
        ...
        rangealloc.heap.HeapCorruption: block 16 (8 bytes): post-guard overwritten at 24 (buffer overrun)
        """
        allocator = self._allocator
        allocator.check()
        if len(self._sizes) != len(allocator):
            raise CorruptState(f"heap has {len(self._sizes)} blocks, its allocator {len(allocator)}")
        total = sum(self._sizes.values())
        if total != self._requested:
            raise CorruptState(f"requested counter is {self._requested}, blocks add up to {total}")
        for offset, n in self._sizes.items():
            align = self._aligns.get(offset, 1)
            base = offset - (GUARD if align <= GUARD else align) if self._debug else offset
            extra = GUARD if self._debug else 0
            if base not in allocator:
                raise CorruptState(f"block {offset} ({n} bytes): no allocator block at {base}")
            if offset + n + extra > base + allocator.size_of(base):
                raise CorruptState(
                    f"block {offset} ({n} bytes) does not fit in its allocator block "
                    f"[{base}, {base + allocator.size_of(base)})"
                )
            if offset % align:
                raise CorruptState(f"block {offset} is not aligned to {align}")
        if not self._debug:
            return
        if self._findings:
            more = f" (and {len(self._findings) - 1} more)" if len(self._findings) > 1 else ""
            raise HeapCorruption(self._findings[0] + more)
        for offset, n in sorted(self._sizes.items()):
            align = self._aligns.get(offset, 1)
            base = offset - (GUARD if align <= GUARD else align)
            finding = self._guard_finding(base, offset, n, base + allocator.size_of(base), "")
            if finding:
                raise HeapCorruption(finding)
        for start, size in allocator.holes():
            bad = _mismatch(self._mem, start, start + size, POISON_BYTE)
            if bad >= 0:
                raise HeapCorruption(
                    f"free memory [{start}, {start + size}) written after free at {bad} "
                    f"(byte 0x{self._mem[bad]:02x}, poison is 0x{POISON_BYTE:02x})"
                )

    # ----------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the heap (bytes, allocator snapshot, block table) to ``path``, atomically.

        A temporary file in the same directory is written, flushed, fsynced
        and renamed over ``path``; then the directory is fsynced.  A crash at
        any moment leaves the old file (or the new one) whole.

        Time: O(capacity + blocks).  Raises ``OSError`` (the old file is untouched).
        """
        path = os.fspath(path)
        meta = {
            "format": _FORMAT,
            "capacity": self._mem.nbytes,
            "debug": self._debug,
            "guard": GUARD if self._debug else 0,
            "policy": self._allocator.name,
            "blocks": [[o, n, self._aligns.get(o, 1)] for o, n in sorted(self._sizes.items())],
            "allocator": self._allocator.snapshot(),
        }
        blob = json.dumps(meta, separators=(",", ":")).encode()
        header = _HEADER.pack(MAGIC, VERSION, 0, len(blob), self._mem.nbytes)
        digest = hashlib.sha256(header)
        digest.update(blob)
        digest.update(self._mem)
        directory = os.path.dirname(os.path.abspath(path))
        name = os.path.basename(path)
        temporary = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with open(fd, "wb", closefd=True) as file:
                file.write(header)
                file.write(blob)
                file.write(self._mem)
                file.write(digest.digest())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        if os.name == "posix":  # make the rename itself durable
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        policy: str | type[Allocator] | None = None,
        buffer: Buffer | None = None,
    ) -> Heap:
        """Read a heap written by ``save``; return a new heap owning a ``bytearray`` (or over ``buffer``).

        Everything is read and verified (magic, version, lengths, checksum,
        then the snapshot against the block table) before the heap is built.
        ``policy`` restores the layout into another policy (see
        ``rangealloc.restore``).  With ``buffer=`` (writable, exactly the
        saved capacity), the bytes are copied into it only once all is verified.

        Time: O(file size).

        Raises ``HeapFileError`` naming the file and the problem; ``OSError``
        if it cannot be read; ``TypeError``/``ValueError`` for a bad ``buffer``.
        """
        name = os.fspath(path)
        cls_wanted = policy_class(policy) if policy is not None else None
        target = _as_buffer(buffer) if buffer is not None else None
        try:
            meta, data = _read_heap_file(name)
            allocator, sizes, aligns, debug = _rebuild(name, meta, len(data), cls_wanted)
            if target is not None and target.nbytes != len(data):
                raise ValueError(f"buffer has {target.nbytes} bytes, the heap file {name} holds {len(data)}")
        except BaseException:
            if target is not None:
                target.release()
            raise
        backing: Buffer = data
        if target is not None and buffer is not None:
            target[:] = data
            target.release()
            backing = buffer
        heap = cls(buffer=backing, policy=type(allocator))
        heap._allocator = allocator
        heap._sizes = sizes
        heap._aligns = aligns
        heap._requested = sum(sizes.values())
        heap._debug = debug
        return heap

    # ------------------------------------------------------------- lifetime

    def close(self) -> None:
        """Release the heap's view of the buffer (so an ``mmap`` or ``SharedMemory`` can be closed).

        Views handed out by ``view()`` must be released too.  The heap is
        unusable afterwards.  Time: O(1).
        """
        self._mem.release()

    def __enter__(self) -> Heap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        debug = ", debug=True" if self._debug else ""
        return (
            f"Heap(capacity={self._allocator.capacity}, policy={self._allocator.name!r}, "
            f"blocks={len(self._sizes)}, requested={self._requested}{debug})"
        )

    # ---------------------------------------------------------------- helpers

    def _not_a_block(self, operation: str, offset: int) -> str:
        # Error path only: the linear scan names the block the offset falls in, if any.
        for start, size in self._sizes.items():
            if start < offset < start + size:
                return (
                    f"{operation}: offset {offset} is inside block [{start}, {start + size}), "
                    "not at its start"
                )
        if offset < 0 or offset >= self._mem.nbytes:
            return f"{operation}: offset {offset} is outside the heap [0, {self._mem.nbytes})"
        return f"{operation}: offset {offset} is not the start of a live block (free, or already freed)"

    def _debug_alloc(self, n: int, align: int) -> int:
        pre = GUARD if align <= GUARD else align
        try:
            base = self._allocator.alloc(pre + n + GUARD, align)
        except OutOfSpace as error:
            raise OutOfSpace(f"no room for {n} bytes ({pre + n + GUARD} with guards): {error}") from None
        end = base + self._allocator.size_of(base)
        user = base + pre
        self._check_poison(base, end, f"reused by alloc at {user}")
        mem = self._mem
        _fill(mem, base, user, GUARD_BYTE)
        _fill(mem, user, user + n, FRESH_BYTE)
        _fill(mem, user + n, end, GUARD_BYTE)
        self._sizes[user] = n
        if align > 1:
            self._aligns[user] = align
        self._requested += n
        return user

    def _debug_realloc(self, offset: int, old_n: int, n: int, align: int) -> int:
        pre = GUARD if align <= GUARD else align
        allocator = self._allocator
        old_base = offset - pre
        old_end = old_base + allocator.size_of(old_base)
        try:
            new_base = allocator.realloc(old_base, pre + n + GUARD, align)
        except OutOfSpace as error:
            raise OutOfSpace(f"no room for {n} bytes ({pre + n + GUARD} with guards): {error}") from None
        new_end = new_base + allocator.size_of(new_base)
        new = new_base + pre
        mem = self._mem
        self._check_guards(old_base, offset, old_n, old_end, "at realloc")
        for start, end in _minus([(new_base, new_end)], [(old_base, old_end)]):
            self._check_poison(start, end, f"reused by realloc at {new}")
        k = min(old_n, n)
        if new != offset:
            mem[new : new + k] = mem[offset : offset + k]  # memmove: safe if they overlap
        _fill(mem, new_base, new, GUARD_BYTE)
        _fill(mem, new + k, new + n, FRESH_BYTE)
        _fill(mem, new + n, new_end, GUARD_BYTE)
        for start, end in _minus([(old_base, old_end)], [(new_base, new_end)]):
            _fill(mem, start, end, POISON_BYTE)
        return new

    def _guard_finding(self, base: int, user: int, n: int, end: int, when: str) -> str:
        """A message if the guards of the block at ``user`` are broken, else ''."""
        bad = _mismatch(self._mem, base, user, GUARD_BYTE)
        if bad >= 0:
            return f"block {user} ({n} bytes): pre-guard overwritten at {bad} (buffer underrun){when}"
        bad = _mismatch(self._mem, user + n, end, GUARD_BYTE)
        if bad >= 0:
            return f"block {user} ({n} bytes): post-guard overwritten at {bad} (buffer overrun){when}"
        return ""

    def _check_guards(self, base: int, user: int, n: int, end: int, when: str) -> None:
        finding = self._guard_finding(base, user, n, end, f", found {when}")
        if finding:
            self._findings.append(finding)

    def _check_poison(self, start: int, end: int, when: str) -> None:
        bad = _mismatch(self._mem, start, end, POISON_BYTE)
        if bad >= 0:
            self._findings.append(
                f"free memory [{start}, {end}) written after free at {bad} "
                f"(byte 0x{self._mem[bad]:02x}, poison is 0x{POISON_BYTE:02x}), found when {when}"
            )


def _read_heap_file(name: str) -> tuple[dict[str, Any], bytearray]:
    """Read and verify a heap file: its meta (parsed JSON) and its data.  Raises ``HeapFileError``."""

    def fail(what: str) -> HeapFileError:
        return HeapFileError(f"{name}: {what}")

    with open(name, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        header = file.read(_HEADER.size)
        if header[: len(MAGIC)] != MAGIC[: len(header)] or not header:
            raise fail(f"not a rangealloc heap file (starts with {header[:8]!r}, expected {MAGIC!r})")
        if len(header) < _HEADER.size:
            raise fail(f"truncated: {len(header)} bytes, the header alone takes {_HEADER.size}")
        _, version, flags, meta_length, data_length = _HEADER.unpack(header)
        if version != VERSION:
            raise fail(f"format version {version} is not supported (this rangealloc reads version {VERSION})")
        if flags:
            raise fail(f"unknown flags 0x{flags:x} in the header")
        expected = _HEADER.size + meta_length + data_length + _DIGEST
        if size < expected:
            raise fail(
                f"truncated: {size} bytes, the header announces {expected} "
                f"({meta_length} bytes of metadata, {data_length} of data)"
            )
        if size > expected:
            raise fail(f"{size - expected} unexpected bytes after the end ({expected} bytes announced)")
        blob = file.read(meta_length)
        data = bytearray(data_length)
        got = file.readinto(data)
        digest = file.read(_DIGEST + 1)
        if len(blob) != meta_length or got != data_length or len(digest) != _DIGEST:
            raise fail("changed size while being read")
    check = hashlib.sha256(header)
    check.update(blob)
    check.update(data)
    if check.digest() != digest:
        raise fail("checksum mismatch: the file is damaged or was altered")
    try:
        meta = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise fail(f"metadata is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise fail(f"metadata is not a {_FORMAT} record")
    return meta, data


def _rebuild(
    name: str, meta: dict[str, Any], capacity: int, policy: type[Allocator] | None
) -> tuple[Allocator, dict[int, int], dict[int, int], bool]:
    """The allocator and block tables a verified file describes.  Raises ``HeapFileError``."""

    def fail(what: str) -> HeapFileError:
        return HeapFileError(f"{name}: {what}")

    debug = meta.get("debug")
    blocks = meta.get("blocks")
    if not isinstance(debug, bool) or not isinstance(blocks, list) or meta.get("capacity") != capacity:
        raise fail("metadata fields 'debug', 'blocks' or 'capacity' are missing or wrong")
    if meta.get("guard") != (GUARD if debug else 0):
        raise fail(f"guard size {meta.get('guard')!r} is not this rangealloc's ({GUARD if debug else 0})")
    from ._snapshot import restore  # noqa: PLC0415 (the snapshot module imports the registry)

    try:
        allocator = restore(meta.get("allocator"), policy)
    except ValueError as error:
        under = f" under policy {policy.name!r}" if policy is not None else ""
        raise fail(f"cannot restore the allocator{under}: {error}") from None
    if allocator.capacity != capacity:
        raise fail(f"allocator capacity {allocator.capacity} does not match the {capacity} bytes of data")
    sizes: dict[int, int] = {}
    aligns: dict[int, int] = {}
    for entry in blocks:
        if (
            not isinstance(entry, list)
            or len(entry) != 3
            or not all(type(x) is int and x >= 0 for x in entry)
            or entry[1] <= 0
            or entry[2] <= 0
            or entry[2] & (entry[2] - 1)
        ):
            raise fail(f"bad block entry {entry!r} (expected [offset, size, align])")
        offset, n, align = entry
        pre = (GUARD if align <= GUARD else align) if debug else 0
        base = offset - pre
        if offset in sizes or base not in allocator or offset % align:
            raise fail(f"block {offset} does not match the allocator's blocks")
        if offset + n + (GUARD if debug else 0) > base + allocator.size_of(base):
            raise fail(f"block {offset} ({n} bytes) overflows its allocator block at {base}")
        sizes[offset] = n
        if align > 1:
            aligns[offset] = align
    if len(sizes) != len(allocator):
        raise fail(f"{len(sizes)} blocks in the table, {len(allocator)} in the allocator")
    return allocator, sizes, aligns, debug
