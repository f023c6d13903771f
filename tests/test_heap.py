"""``Heap``: an allocator coupled to a buffer (construction, bytes, debug mode, compaction, files).

Failing calls are checked to leave the heap *and* its bytes exactly as they
were; debug mode is checked byte by byte (guards, poison, fresh bytes) and for
each kind of corruption it must report; every single-byte change of a heap
file must be refused at load.  The crash test lives in ``test_heap_crash.py``,
the random data-integrity runs in ``test_heap_integrity.py``.
"""

from __future__ import annotations

import array
import gzip
import hashlib
import json
import mmap
import os
import random
import re
import struct
from collections.abc import Callable
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_heap_integrity import ShiftUp

import rangealloc
from rangealloc import (
    AllocError,
    CorruptState,
    FirstFit,
    Heap,
    HeapCorruption,
    HeapFileError,
    InvalidBlock,
    OutOfSpace,
)
from rangealloc.heap import FRESH_BYTE, GUARD, GUARD_BYTE, MAGIC, POISON_BYTE, _minus

README = Path(__file__).resolve().parent.parent / "README.md"


def state(heap: Heap) -> tuple[Any, ...]:
    """Everything observable about a heap: its blocks, its allocator's snapshot, every byte."""
    return (
        list(heap.blocks()),
        heap.allocator.snapshot(),
        heap.requested,
        heap.memory.tobytes(),
    )


#: The blocks that ``filled`` allocated with align 32, by heap (id): they must stay aligned.
ALIGNED: dict[int, set[int]] = {}


def filled(
    policy: str, debug: bool = False, capacity: int = 4096, seed: int = 1
) -> tuple[Heap, dict[int, bytes]]:
    """A heap with a few dozen blocks of random bytes (some aligned), some freed: holes between them."""
    rng = random.Random(seed)
    heap = Heap(capacity, policy=policy, debug=debug)
    data: dict[int, bytes] = {}
    aligned = ALIGNED.setdefault(id(heap), set())
    aligned.clear()
    for i in range(40):
        align = rng.choice((1, 1, 4, 32))
        try:
            offset = heap.alloc(rng.randint(1, 60), align)
        except OutOfSpace:
            break
        if align == 32:
            aligned.add(offset)
        data[offset] = rng.randbytes(heap.size_of(offset))
        heap.write(offset, data[offset])
        if i % 3 == 1:
            victim = rng.choice(list(data))
            heap.free(victim)
            aligned.discard(victim)
            del data[victim]
    return heap, data


def assert_holds(heap: Heap, data: dict[int, bytes]) -> None:
    assert dict(heap.blocks()) == {o: len(b) for o, b in data.items()}
    for offset, want in data.items():
        assert heap.read(offset) == want, offset


# ------------------------------------------------------------------ construction


def test_owns_a_bytearray_with_the_default_policy() -> None:
    heap = Heap(100)
    assert rangealloc.DEFAULT_POLICY == "tlsf" and heap.policy == "tlsf"
    assert isinstance(heap.allocator, rangealloc.TLSF)
    assert isinstance(heap.buffer, bytearray) and len(heap.buffer) == 100
    assert heap.capacity == 100 and heap.memory.nbytes == 100 and heap.memory.format == "B"
    assert len(heap) == 0 and heap.requested == 0 and not heap.debug
    assert repr(heap) == "Heap(capacity=100, policy='tlsf', blocks=0, requested=0)"


@pytest.mark.parametrize(
    "make",
    [
        lambda: bytearray(48),
        lambda: memoryview(bytearray(64))[8:56],
        lambda: array.array("d", [0.0] * 6),
        lambda: memoryview(bytearray(48)).cast("B", (6, 8)),
        lambda: mmap.mmap(-1, 48),
    ],
    ids=["bytearray", "memoryview-slice", "array-d", "2-d", "mmap"],
)
def test_any_writable_contiguous_buffer(make: Callable[[], Any]) -> None:
    """Capacity is the buffer's size in bytes, whatever its item type; writes land in it."""
    buffer = make()
    with Heap(buffer=buffer, policy="first-fit") as heap:
        assert heap.capacity == 48 and heap.buffer is buffer
        offset = heap.alloc(5)
        heap.write(offset, b"hello")
        assert bytes(memoryview(buffer).cast("B")[offset : offset + 5]) == b"hello"


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"size": 10, "buffer": bytearray(10)}, TypeError, "got both"),
        ({}, TypeError, "got neither"),
        ({"size": 0}, ValueError, "size must be > 0"),
        ({"size": True}, TypeError, "size must be an int"),
        ({"size": 2.0}, TypeError, "size must be an int"),
        ({"buffer": b"read only"}, TypeError, "read-only bytes"),
        ({"buffer": 12}, TypeError, "buffer protocol"),
        ({"buffer": memoryview(bytearray(10))[::2]}, ValueError, "C-contiguous"),
        ({"buffer": bytearray()}, ValueError, "must not be empty"),
        ({"size": 10, "policy": "nope"}, ValueError, "unknown policy 'nope'"),
        ({"size": 10, "policy": 3}, TypeError, "policy must be"),
        ({"size": 10, "policy": int}, TypeError, "policy must be"),
        ({"size": 10, "debug": 1}, TypeError, "debug must be a bool"),
        ({"size": (1 << 24) + 1, "policy": "bitmap"}, ValueError, "maximum"),
    ],
)
def test_bad_arguments_name_the_culprit(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=re.escape(words)):
        Heap(**kwargs)


def test_policy_may_be_a_class() -> None:
    heap = Heap(64, policy=FirstFit)
    assert type(heap.allocator) is FirstFit and heap.policy == "first-fit"


def test_close_releases_the_buffer_for_mmap_and_shared_memory() -> None:
    """An mmap or SharedMemory under a heap can be closed once the heap (and its views) are released."""
    m = mmap.mmap(-1, 4096)
    heap = Heap(buffer=m)
    with heap.view(heap.alloc(10)) as view:
        view[:2] = b"ok"
    with pytest.raises(BufferError):
        m.close()
    heap.close()
    m.close()
    shm = shared_memory.SharedMemory(create=True, size=4096)
    try:
        with Heap(buffer=shm.buf, policy="best-fit") as heap:
            heap.write(heap.alloc(3), b"abc")
    finally:
        shm.close()
        shm.unlink()


# ------------------------------------------------------------- blocks and bytes


def test_alloc_write_read_view_free(policy: str) -> None:
    heap = Heap(1024, policy=policy)
    a = heap.alloc(10)
    b = heap.alloc(7, align=8)
    assert b % 8 == 0 and len(heap) == 2 and a in heap and b in heap
    heap.write(a, b"0123456789")
    heap.view(b)[:] = b"abcdefg"
    assert heap.read(a) == b"0123456789" and heap.read(b) == b"abcdefg"
    assert heap.size_of(a) == 10 and heap.requested == 17
    heap.write(a, b"XY", 8)
    assert heap.read(a) == b"01234567XY"
    heap.free(a)
    assert a not in heap and len(heap) == 1 and heap.read(b) == b"abcdefg"
    heap.check()
    with pytest.raises(InvalidBlock, match="not the start of a live block"):
        heap.free(a)


def test_view_has_the_requested_size_even_when_the_policy_rounds() -> None:
    heap = Heap(64, policy="buddy")
    a = heap.alloc(3)
    assert len(heap.view(a)) == 3 and len(heap.read(a)) == 3 and heap.size_of(a) == 3
    assert heap.allocator.size_of(a) == 4 and heap.stats().used == 4 and heap.requested == 3
    assert list(heap.blocks()) == [(a, 3)]


def test_write_accepts_any_bytes_like_and_refuses_what_does_not_fit() -> None:
    heap = Heap(64, policy="first-fit")
    a = heap.alloc(8)
    heap.write(a, array.array("H", [0x0201, 0x0403]))
    heap.write(a, memoryview(b"xyz"), 4)
    assert heap.read(a)[:7] == bytes([1, 2, 3, 4]) + b"xyz"
    with pytest.raises(ValueError, match="write of 2 bytes at 7 does not fit in block 0 of 8 bytes"):
        heap.write(a, b"zz", 7)
    with pytest.raises(ValueError, match="at -1"):
        heap.write(a, b"z", -1)
    with pytest.raises(ValueError, match="C-contiguous"):
        heap.write(a, memoryview(b"abcdef")[::2])
    with pytest.raises(TypeError, match="bytes-like"):
        heap.write(a, "text")  # type: ignore[arg-type]


def test_offsets_may_be_int_like() -> None:
    class Index:
        def __init__(self, value: int) -> None:
            self.value = value

        def __index__(self) -> int:
            return self.value

    heap = Heap(64, policy="first-fit")
    a = heap.alloc(Index(4), Index(4))
    assert Index(a) in heap and "a" not in heap
    assert heap.size_of(Index(a)) == 4
    heap.free(Index(a))


def test_invalid_offsets_say_why() -> None:
    heap = Heap(64, policy="first-fit")
    a = heap.alloc(10)
    with pytest.raises(InvalidBlock, match=r"view: offset 3 is inside block \[0, 10\), not at its start"):
        heap.view(a + 3)
    with pytest.raises(InvalidBlock, match=r"offset 99 is outside the heap \[0, 64\)"):
        heap.read(99)
    with pytest.raises(InvalidBlock, match="realloc: offset 20 is not the start of a live block"):
        heap.realloc(20, 4)


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_realloc_keeps_the_bytes_in_place_and_when_moving(policy: str, debug: bool) -> None:
    heap = Heap(4096, policy=policy, debug=debug)
    a = heap.alloc(20)
    heap.write(a, bytes(range(20)))
    a = heap.realloc(a, 10)  # shrink
    assert heap.read(a) == bytes(range(10))
    a = heap.realloc(a, 30)  # grow (in place if the policy can)
    assert heap.read(a)[:10] == bytes(range(10)) and heap.size_of(a) == 30
    heap.write(a, bytes(range(30)))
    blocker = heap.alloc(50)  # probably right after a: growing must move
    b = heap.realloc(a, 500)
    assert heap.read(b)[:30] == bytes(range(30)) and heap.size_of(b) == 500
    assert heap.read(blocker) == heap.read(blocker)  # untouched, and still a block
    heap.check()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_realloc_keeps_the_alignment(policy: str, debug: bool) -> None:
    heap = Heap(8192, policy=policy, debug=debug)
    a = heap.alloc(5, align=64)
    heap.alloc(5)
    for n in (200, 3, 1000):
        a = heap.realloc(a, n)
        assert a % 64 == 0
    heap.check()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_realloc_onto_its_own_place_is_a_memmove(debug: bool) -> None:
    """Downward (first fit slides into the hole before) and upward (``ShiftUp``): bytes kept."""
    heap = Heap(512, policy="first-fit", debug=debug)
    a, b, c = heap.alloc(20), heap.alloc(100), heap.alloc(4)
    heap.write(b, bytes(range(100)))
    heap.free(a)
    new = heap.realloc(b, 110)  # c blocks the growth: b moves down, over its old first bytes
    assert new < b < new + 100
    assert heap.read(new)[:100] == bytes(range(100)) and heap.size_of(new) == 110
    assert c in heap
    heap.check()
    heap = Heap(256, policy=ShiftUp, debug=debug)
    a = heap.alloc(40)
    heap.write(a, bytes(range(40)))
    new = heap.realloc(a, 41)
    assert new == a + 1
    assert heap.read(new)[:40] == bytes(range(40))
    heap.check()


@pytest.mark.parametrize("shift", [1, 3, 7, 16, -1, -5, -16])
def test_memoryview_slice_assignment_is_memmove_safe(shift: int) -> None:
    """What ``realloc`` and ``compact`` rely on: CPython copies overlapping memoryview slices like memmove."""
    buf = bytearray(range(80))
    reference = bytearray(range(80))
    old, k = 20, 30
    memoryview(buf)[old + shift : old + shift + k] = memoryview(buf)[old : old + k]
    reference[old + shift : old + shift + k] = bytes(reference[old : old + k])
    assert buf == reference


# --------------------------------------------------- failing calls change nothing


FAILING: list[tuple[str, Callable[[Heap, int], object], type[Exception]]] = [
    ("alloc too big", lambda h, a: h.alloc(h.capacity + 1), OutOfSpace),
    ("alloc 0", lambda h, a: h.alloc(0), ValueError),
    ("alloc align 3", lambda h, a: h.alloc(1, 3), ValueError),
    ("alloc str", lambda h, a: h.alloc("1"), TypeError),  # type: ignore[arg-type]
    ("free bad", lambda h, a: h.free(a + 1), InvalidBlock),
    ("free float", lambda h, a: h.free(1.0), TypeError),  # type: ignore[arg-type]
    ("realloc too big", lambda h, a: h.realloc(a, 2 * h.capacity), OutOfSpace),
    ("realloc bad offset", lambda h, a: h.realloc(a + 1, 4), InvalidBlock),
    ("realloc 0", lambda h, a: h.realloc(a, 0), ValueError),
    ("write too long", lambda h, a: h.write(a, bytes(h.size_of(a) + 1)), ValueError),
    ("write past the end", lambda h, a: h.write(a, b"x", h.size_of(a)), ValueError),
    ("write bad offset", lambda h, a: h.write(a + 1, b"x"), InvalidBlock),
    ("view bad", lambda h, a: h.view(a + 1), InvalidBlock),
    ("read bad", lambda h, a: h.read(-1), InvalidBlock),
    ("size_of bad", lambda h, a: h.size_of(a + 1), InvalidBlock),
    ("compact -1", lambda h, a: h.compact(-1), ValueError),
    ("compact str", lambda h, a: h.compact("2"), TypeError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize(("what", "call", "error"), FAILING, ids=[f[0] for f in FAILING])
def test_a_failing_call_leaves_heap_and_bytes_unchanged(
    policy: str, debug: bool, what: str, call: Callable[[Heap, int], object], error: type[Exception]
) -> None:
    heap, data = filled(policy, debug, capacity=2048)
    a = next(iter(data))
    before = state(heap)
    with pytest.raises(error):
        call(heap, a)
    assert state(heap) == before, what
    assert_holds(heap, data)
    heap.check()


# -------------------------------------------------------------------- debug mode


def test_debug_layout_guards_fresh_and_poison() -> None:
    heap = Heap(128, policy="first-fit", debug=True)
    assert heap.memory.tobytes() == bytes([POISON_BYTE]) * 128
    a = heap.alloc(8)
    assert a == GUARD
    mem = heap.memory.tobytes()
    assert mem[:16] == bytes([GUARD_BYTE]) * 16
    assert mem[16:24] == bytes([FRESH_BYTE]) * 8
    assert mem[24:40] == bytes([GUARD_BYTE]) * 16
    assert mem[40:] == bytes([POISON_BYTE]) * 88
    assert heap.stats().used == 40 and heap.requested == 8
    heap.free(a)
    assert heap.memory.tobytes() == bytes([POISON_BYTE]) * 128
    heap.check()


def test_debug_alignment_above_the_guard() -> None:
    heap = Heap(1024, policy="first-fit", debug=True)
    heap.alloc(1)
    a = heap.alloc(8, align=64)
    assert a % 64 == 0
    base = a - 64  # the pre-guard widens to the align
    assert heap.memory[base:a].tobytes() == bytes([GUARD_BYTE]) * 64
    heap.memory[base] = 0
    with pytest.raises(HeapCorruption, match=f"block {a} .*pre-guard overwritten at {base}"):
        heap.check()


@pytest.mark.parametrize("where", ["overrun", "underrun"])
def test_debug_finds_a_broken_guard_in_a_live_block(policy: str, where: str) -> None:
    heap = Heap(1024, policy=policy, debug=True)
    heap.alloc(5)
    a = heap.alloc(10)
    heap.check()
    bad = a + 10 + 3 if where == "overrun" else a - 1
    heap.memory[bad] = 0x41
    message = f"block {a} \\(10 bytes\\).*overwritten at {bad} \\(buffer {where}\\)"
    with pytest.raises(HeapCorruption, match=message):
        heap.check()
    assert issubclass(HeapCorruption, CorruptState)


def test_debug_guard_covers_the_rounding_slack() -> None:
    heap = Heap(1024, policy="buddy", debug=True)
    a = heap.alloc(1)  # 1 + 32 -> 64 slots: the post-guard runs to the end of the buddy block
    assert heap.allocator.size_of(a - GUARD) == 64
    heap.memory[a + 40] = 0
    with pytest.raises(HeapCorruption, match=f"post-guard overwritten at {a + 40}"):
        heap.check()


def test_debug_a_guard_broken_then_freed_is_still_reported() -> None:
    heap = Heap(256, policy="first-fit", debug=True)
    a = heap.alloc(10)
    heap.memory[a + 10] = 0  # overrun by one
    heap.free(a)  # the evidence is poisoned away, but recorded
    assert heap.memory.tobytes() == bytes([POISON_BYTE]) * 256
    with pytest.raises(HeapCorruption, match=f"block {a} .*overwritten at {a + 10} .*found at free"):
        heap.check()
    heap.clear()
    heap.check()


def test_debug_finds_a_write_after_free() -> None:
    heap = Heap(256, policy="first-fit", debug=True)
    a = heap.alloc(10)
    heap.alloc(10)
    view = heap.view(a)
    heap.free(a)
    view[2] = 7  # a dangling view
    with pytest.raises(HeapCorruption, match=f"written after free at {a + 2} \\(byte 0x07"):
        heap.check()


def test_debug_a_write_after_free_is_recorded_when_the_memory_is_reused() -> None:
    heap = Heap(256, policy="first-fit", debug=True)
    a = heap.alloc(10)
    heap.free(a)
    heap.memory[a + 1] = 7
    b = heap.alloc(10)  # same place: the evidence is about to be overwritten
    assert b == a
    with pytest.raises(HeapCorruption, match=f"written after free at {a + 1} .*reused by alloc at {b}"):
        heap.check()


def test_debug_realloc_keeps_the_guards_right(policy: str) -> None:
    def pattern(n: int) -> bytes:
        return bytes(i % 251 for i in range(n))

    heap = Heap(4096, policy=policy, debug=True)
    a = heap.alloc(20)
    heap.write(a, pattern(20))
    for n in (10, 30, 31, 5, 300, 1):  # shrink, grow in place, move...
        heap.alloc(3)  # something after the block, now and then
        old = heap.size_of(a)
        a = heap.realloc(a, n)
        k = min(old, n)
        view = heap.view(a)
        assert view[:k].tobytes() == pattern(k)
        assert view[k:].tobytes() == bytes([FRESH_BYTE]) * (n - k)
        heap.write(a, pattern(n))
        assert heap.memory[a - GUARD : a].tobytes() == bytes([GUARD_BYTE]) * GUARD
        assert heap.memory[a + n : a + n + GUARD].tobytes() == bytes([GUARD_BYTE]) * GUARD
        heap.check()


def test_debug_over_a_foreign_buffer_poisons_it() -> None:
    buffer = bytearray(b"x" * 64)
    Heap(buffer=buffer, debug=True)
    assert buffer == bytes([POISON_BYTE]) * 64


def test_plain_mode_does_not_look_at_the_bytes() -> None:
    heap = Heap(64, policy="first-fit")
    a = heap.alloc(4)
    heap.memory[a + 4 : a + 20] = bytes(16)  # an overrun nobody sees
    heap.check()


# -------------------------------------------------------------------- compaction


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_compact_moves_the_bytes_and_returns_the_mapping(policy: str, debug: bool) -> None:
    heap, data = filled(policy, debug, capacity=4096, seed=3)
    aligned = ALIGNED[id(heap)]
    assert aligned
    moved = heap.compact()
    assert moved or policy == "buddy", "nothing moved"
    assert all(old in data for old in moved)
    data = {moved.get(o, o): b for o, b in data.items()}
    assert_holds(heap, data)
    assert all(moved.get(o, o) % 32 == 0 for o in aligned)
    heap.check()
    assert heap.compact() == {}  # a full compaction leaves nothing to do


def test_compact_keeps_aligned_blocks_aligned(policy: str) -> None:
    heap = Heap(4096, policy=policy, debug=True)
    a, b = heap.alloc(5), heap.alloc(7, align=64)
    heap.write(b, b"aligned")
    heap.free(a)
    moved = heap.compact()
    b = moved.get(b, b)
    assert b % 64 == 0 and heap.read(b) == b"aligned"
    heap.check()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_compact_partial(debug: bool) -> None:
    heap = Heap(1024, policy="first-fit", debug=debug)
    blocks = [heap.alloc(10) for _ in range(10)]
    for i, offset in enumerate(blocks):
        heap.write(offset, bytes([i]) * 10)
    heap.free(blocks[0])
    moved = heap.compact(max_moves=3)
    assert len(moved) == 3 and heap.compact(0) == {}
    for i, offset in enumerate(blocks[1:], 1):
        assert heap.read(moved.get(offset, offset)) == bytes([i]) * 10
    heap.check()


def test_compact_in_debug_mode_poisons_what_it_leaves_and_checks_what_it_takes() -> None:
    heap = Heap(256, policy="first-fit", debug=True)
    a, b = heap.alloc(10), heap.alloc(10)
    heap.free(a)
    moved = heap.compact()
    assert moved == {b: a}
    mem = heap.memory.tobytes()
    assert mem[a + 10 + GUARD :] == bytes([POISON_BYTE]) * (256 - a - 10 - GUARD)
    heap.check()
    heap.alloc(10)
    heap.free(a)
    heap.memory[a + 3] = 1  # write after free, in the place compaction will give the new block
    heap.compact()
    with pytest.raises(HeapCorruption, match=f"written after free at {a + 3} .*taken by compact"):
        heap.check()


# ------------------------------------------------------------------ persistence


def raw_file(meta: dict[str, Any], data: bytes, version: int = 1, flags: int = 0) -> bytes:
    """A heap file with a correct checksum around any meta and data (to test what load checks after it)."""
    blob = json.dumps(meta).encode()
    body = struct.pack("<8sIIQQ", MAGIC, version, flags, len(blob), len(data)) + blob + data
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_save_load_round_trip(policy: str, debug: bool, tmp_path: Path) -> None:
    heap, data = filled(policy, debug, capacity=4096, seed=5)
    path = tmp_path / "heap.rah"
    heap.save(path)
    assert os.listdir(tmp_path) == ["heap.rah"]
    loaded = Heap.load(path)
    assert state(loaded) == state(heap)
    assert loaded.debug == debug and loaded.policy == policy
    assert isinstance(loaded.buffer, bytearray)
    assert_holds(loaded, data)
    loaded.check()
    aligned = sorted(ALIGNED[id(heap)])
    assert aligned
    for offset in aligned[:3]:  # aligns survive: realloc still keeps them
        assert loaded.realloc(offset, 200) % 32 == 0
    loaded.check()


def test_load_under_another_policy(tmp_path: Path) -> None:
    heap, data = filled("first-fit", capacity=4096, seed=6)
    heap.save(tmp_path / "h")
    loaded = Heap.load(tmp_path / "h", policy="best-fit")
    assert loaded.policy == "best-fit"
    assert_holds(loaded, data)
    loaded.check()
    with pytest.raises(HeapFileError, match="under policy 'buddy'"):
        Heap.load(tmp_path / "h", policy="buddy")  # first-fit blocks are not buddy blocks
    with pytest.raises(ValueError, match="unknown policy"):
        Heap.load(tmp_path / "h", policy="nope")


def test_load_into_a_buffer(tmp_path: Path) -> None:
    heap, data = filled("tlsf", capacity=1024, seed=7)
    heap.save(tmp_path / "h")
    target = bytearray(1024)
    loaded = Heap.load(tmp_path / "h", buffer=target)
    assert loaded.buffer is target
    assert_holds(loaded, data)
    small = bytearray(b"z" * 512)
    with pytest.raises(ValueError, match="buffer has 512 bytes"):
        Heap.load(tmp_path / "h", buffer=small)
    assert small == b"z" * 512
    (tmp_path / "bad").write_bytes((tmp_path / "h").read_bytes()[:-1] + b"\0")
    other = bytearray(b"z" * 1024)
    with pytest.raises(HeapFileError):
        Heap.load(tmp_path / "bad", buffer=other)
    assert other == b"z" * 1024  # a bad file never touches the buffer


def test_a_heap_over_a_foreign_buffer_saves_its_bytes(tmp_path: Path) -> None:
    with mmap.mmap(-1, 4096) as m:
        with Heap(buffer=m, policy="first-fit") as heap:
            a = heap.alloc(5)
            heap.write(a, b"mmap!")
            heap.save(tmp_path / "h")
        loaded = Heap.load(tmp_path / "h")
    assert loaded.read(a) == b"mmap!" and isinstance(loaded.buffer, bytearray)


def test_save_replaces_the_old_file_and_cleans_up_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "h"
    heap = Heap(64, policy="first-fit")
    heap.save(path)
    heap.write(heap.alloc(3), b"new")
    heap.save(str(path))
    assert Heap.load(path).read(0) == b"new"
    with pytest.raises(OSError):
        heap.save(tmp_path / "missing" / "h")
    assert os.listdir(tmp_path) == ["h"]


def test_every_single_byte_change_is_refused(tmp_path: Path) -> None:
    """Flip each byte of a small heap file in turn: load always raises ``HeapFileError``."""
    heap, _ = filled("first-fit", capacity=64, seed=8)
    path = tmp_path / "h"
    heap.save(path)
    good = path.read_bytes()
    messages = set()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x10
        path.write_bytes(bad)
        with pytest.raises(HeapFileError, match=re.escape(str(path))) as caught:
            Heap.load(path)
        messages.add(str(caught.value).split(": ", 1)[1].split(" ")[0])
    assert {"checksum", "not", "format", "unknown", "truncated:"} <= messages


@pytest.mark.parametrize("keep", [0, 1, 7, 8, 20, 31, 32, 60, -33, -32, -1])
def test_a_truncated_file_is_refused(tmp_path: Path, keep: int) -> None:
    heap, _ = filled("tlsf", capacity=256, seed=9)
    heap.save(tmp_path / "h")
    good = (tmp_path / "h").read_bytes()
    (tmp_path / "t").write_bytes(good[:keep])
    expected = "not a rangealloc heap file" if keep == 0 else "truncated"
    with pytest.raises(HeapFileError, match=expected):
        Heap.load(tmp_path / "t")


def test_other_files_are_refused(tmp_path: Path) -> None:
    heap = Heap(64)
    heap.save(tmp_path / "h")
    good = (tmp_path / "h").read_bytes()
    cases = {
        "gzip": gzip.compress(good),
        "text": b"a 1 10\nf 1\n",
        "png": b"\x89PNG\r\n\x1a\n" + bytes(40),
        "json": json.dumps(heap.allocator.snapshot()).encode(),
        "magic": b"\x89RAHEAQ\n" + good[8:],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(HeapFileError, match="not a rangealloc heap file"):
            Heap.load(tmp_path / name)
    (tmp_path / "v2").write_bytes(good[:8] + struct.pack("<I", 2) + good[12:])
    with pytest.raises(HeapFileError, match="format version 2 is not supported"):
        Heap.load(tmp_path / "v2")
    (tmp_path / "more").write_bytes(good + b"\0")
    with pytest.raises(HeapFileError, match="1 unexpected bytes after the end"):
        Heap.load(tmp_path / "more")
    with pytest.raises(FileNotFoundError):
        Heap.load(tmp_path / "absent")


def test_a_well_checksummed_but_inconsistent_file_is_refused(tmp_path: Path) -> None:
    heap = Heap(64, policy="first-fit")
    heap.alloc(10)
    heap.save(tmp_path / "h")
    good = (tmp_path / "h").read_bytes()
    (meta_length,) = struct.unpack("<Q", good[16:24])
    meta = json.loads(good[32 : 32 + meta_length])
    data = good[32 + meta_length : -32]
    assert Heap.load(tmp_path / "h").read(0) == data[:10]

    def refused(changed: dict[str, Any], words: str, blob: bytes = data) -> None:
        (tmp_path / "x").write_bytes(raw_file({**meta, **changed}, blob))
        with pytest.raises(HeapFileError, match=words):
            Heap.load(tmp_path / "x")

    refused({"blocks": [[0, 11, 1]]}, "overflows its allocator block")
    refused({"blocks": [[4, 6, 1]]}, "does not match")
    refused({"blocks": []}, "0 blocks in the table, 1 in the allocator")
    refused({"blocks": [[0, 10]]}, "bad block entry")
    refused({"debug": True}, "guard size")
    refused({"debug": "no"}, "missing or wrong")
    refused({"capacity": 65}, "missing or wrong")
    refused({"format": "other"}, "not a rangealloc-heap record")
    refused({"allocator": {**meta["allocator"], "capacity": 32}}, "allocator capacity 32")
    refused({"allocator": {**meta["allocator"], "version": 9}}, "cannot restore the allocator")
    (tmp_path / "x").write_bytes(raw_file(meta, data)[:32] + b"\xff" + raw_file(meta, data)[33:])
    with pytest.raises(HeapFileError):
        Heap.load(tmp_path / "x")
    body = struct.pack("<8sIIQQ", MAGIC, 1, 0, 3, 64) + b"{x]" + data
    (tmp_path / "x").write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(HeapFileError, match="not valid JSON"):
        Heap.load(tmp_path / "x")


def test_heap_file_error_is_an_alloc_error_and_a_value_error() -> None:
    assert issubclass(HeapFileError, AllocError) and issubclass(HeapFileError, ValueError)


# ----------------------------------------------------------------------- README


def test_the_readme_heap_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "Heap" section: its python block runs as it is (in a scratch directory)."""
    text = README.read_text()
    section = text.split("\n## Heap", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Heap)", "exec"), {})


# ------------------------------------------------ range difference (debug compact)

ranges = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 12)).map(lambda r: (r[0], r[0] + r[1])), max_size=12
)


@given(ranges, ranges)
def test_minus_is_each_range_less_the_covered_slots(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    covered = {slot for start, end in b for slot in range(start, end)}
    pieces = _minus(a, b)
    expected: list[int] = []
    for start, end in sorted(a):
        expected += [slot for slot in range(start, end) if slot not in covered]
    assert [slot for start, end in pieces for slot in range(start, end)] == expected
    assert all(start < end for start, end in pieces)
