"""Trace I/O: read and write allocation traces, and record one from any allocator.

A trace is a sequence of events, each a tuple ``(op, id, size)``::

    ("a", id, size)   allocate a block of size bytes, named by id
    ("f", id, 0)      free block id
    ("r", id, size)   resize block id to size bytes (realloc: the block keeps its id)

Ids are assigned in order of first allocation, from 0, and never reused: the
n-th ``"a"`` event has id n - 1.  Sizes are > 0.  ``read_trace`` streams the
events of a file, ``write_trace`` writes them, and ``Recorder`` wraps an
allocator and records every successful call, to save as a trace.

Formats read (detected from the content, never from the file name; plain or
gzip, detected from the gzip magic bytes)::

    canonical v1     one event per line: 'a <id> <size>', 'f <id>', 'r <id> <size>'
                     leading '# key: value' comments are the header (Trace.meta);
                     '# align <id> <alignment>' after an 'a' line; other comments
                     and blank lines are ignored
    glibc mtrace     the log MALLOC_TRACE + mtrace() write: '= Start', '= End',
                     '@ caller + 0x55d0 0x28', '@ caller - 0x55d0', a realloc as a
                     '< old' line followed by a '> new 0xsize' line, '! ...' for a
                     failed realloc; addresses become ids in order of allocation;
                     '# align-request <address> <alignment>' notes (as written by
                     rangealloc.record's shim) give the alignment of the block
                     live at that address

A canonical trace is validated as it is read: every ``a`` introduces the next
id, ``f`` and ``r`` name only live ids, sizes are positive decimal integers,
every line has exactly its fields, and a header ``# events: N`` line must match
the body.  Anything wrong (a bad line, a truncated or corrupt gzip stream,
binary data, a line over ``MAX_LINE`` bytes) raises ``TraceError`` with the
message ``"<file>:<line>: <what>"``; only ``OSError`` (a missing or unreadable
file) passes through.

How the canonical reader keeps up (~1.5-2M events/s in pure Python)
-------------------------------------------------------------------

The file is read in 256 KiB blocks (decompressed by ``gzip`` in C), cut at the
last newline, split into lines in one call, and each chunk goes through a
*fast path* that does as little Python work per line as it can::

    block --> lines --map(bytes.split)--> dispatch on the op token --> list of events
                                            a: size from a token cache; id token kept
                                            f, r: int(id); dead[id] says freed or not
    after the chunk: the 'a' id tokens, joined, must equal "n0\\n n0+1\\n ..." (one compare)

``int()`` on a bytes token costs about as much as the rest of a line, so it is
avoided where it can be: sizes come from a cache of size tokens (a trace has a
few thousand distinct sizes), and the ids of the ``a`` lines are checked all at
once per chunk against the expected decimal text, built a hundred ids per C
call.  Liveness is one byte per id (``dead``, a bytearray), which measured
faster than a dict of live id tokens: fewer cache misses, no hashing.  Anything
unusual (a malformed line, an unknown id, a blank line, a ``-``, ``+`` or ``_``
anywhere in the chunk...) makes the fast path give up on the chunk; its
effects are undone and the *slow path*, a plain line-by-line parser, redoes
it: the slow path is the reference, knows the line numbers and words every
error.  The events of a chunk are returned as a list and ``itertools.chain``
hands them out, so iterating costs no Python frame per event.  Memory: the
current chunk, and a byte per id.

Time: O(events) per pass; ``Trace.header`` reads only the leading comments.
"""

from __future__ import annotations

import datetime
import gzip
import operator
import os
import re
import secrets
import zlib
from collections.abc import Generator, Iterable, Iterator, Mapping
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Final, SupportsIndex, TypeAlias

from ._base import Allocator, Stats
from ._errors import TraceError

__all__ = ["FORMAT_LINE", "MAX_LINE", "Event", "Recorder", "Trace", "read_trace", "write_trace"]

#: One event: ``("a", id, size)``, ``("f", id, 0)`` or ``("r", id, size)``.
Event: TypeAlias = tuple[str, int, int]

#: The first line of every canonical trace ``write_trace`` writes.
FORMAT_LINE: Final = "# canonical allocation trace, format v1: 'a <id> <size>', 'f <id>', 'r <id> <size>'"

#: The longest line accepted, in bytes (without the newline): longer is a ``TraceError``.
MAX_LINE: Final = 4096

# Bytes per read.  256 KiB measured fastest (1.96M events/s, against 1.80M at 512 KiB and
# 1.62M at 1 MiB): the events of a chunk are consumed while they are still in the cache.
_BLOCK: Final = 1 << 18
_HEAD_BLOCK: Final = 1 << 16  # for header() and format detection: the header is ~2 KB
_GZIP_MAGIC: Final = b"\x1f\x8b"
_MTRACE_OPS: Final = b"=@+-<>!"  # first byte of an mtrace line
_SIZE_CACHE_MAX: Final = 1 << 16  # distinct size tokens remembered by the fast path
_FAST_TOKEN_MAX: Final = 24  # longer size tokens go to the slow path (keeps the line cap exact)
_DIGITS_MAX: Final = 40  # most significant digits in a number (leading zeros aside)
_META_KEY: Final = re.compile(r"[A-Za-z0-9_.-]+\Z")
_FORMAT_PREFIX: Final = "# canonical allocation trace"
_ADDRESS: Final = re.compile(rb"0[xX][0-9a-fA-F]+\Z")
_MTRACE_SIZE: Final = re.compile(rb"0[xX][0-9a-fA-F]+\Z|[0-9]+\Z")
_EVENTS_BREAKDOWN: Final = re.compile(r"allocs (\d+), frees (\d+), reallocs (\d+)")
#: Header keys ``write_trace`` computes from the events (given values are replaced).
_COMPUTED_KEYS: Final = ("events", "peak_live_bytes", "peak_live_blocks", "live_at_end")

# The decimal ids 0..99, and the two-digit endings of a hundred ids, one per line: the
# expected text of the 'a' ids of a chunk is built a hundred ids per bytes.join.
_SMALL_IDS: Final = [b"%d\n" % k for k in range(100)]
_ENDINGS: Final = [b""] + [b"%02d\n" % k for k in range(100)]


class _Reject(Exception):
    """The fast path gives up on a chunk; the slow path redoes it (and words any error)."""


def _id_lines(first: int, stop: int) -> bytes:
    """Return the decimal ids ``first .. stop - 1``, each followed by a newline.

    Time: O(stop - first), in C: one ``bytes.join`` per hundred ids.

    >>> _id_lines(98, 102)
    b'98\\n99\\n100\\n101\\n'
    """
    if first >= stop:
        return b""
    head = b""
    if first < 100:
        head = b"".join(_SMALL_IDS[first : min(stop, 100)])
        if stop <= 100:
            return head
        first = 100
    low, high = first // 100, (stop - 1) // 100
    text = b"".join([(b"%d" % k).join(_ENDINGS) for k in range(low, high + 1)])
    skip = (first % 100) * (len(b"%d" % low) + 3)
    cut = (99 - (stop - 1) % 100) * (len(b"%d" % high) + 3)
    return head + text[skip : len(text) - cut]


def _cache_size(sizes: dict[bytes, int], token: bytes) -> int:
    """Return the size a token stands for (fast path), remembering it; raise ``_Reject`` if bad."""
    if len(token) > _FAST_TOKEN_MAX or not token.isdigit():
        raise _Reject
    size = int(token)
    if not size:
        raise _Reject
    if len(sizes) < _SIZE_CACHE_MAX:
        sizes[token] = size
    return size


def _fast_chunk(
    lines: list[bytes],
    dead: bytearray,
    sizes: dict[bytes, int],
    nxt: int,
    *,
    events: list[Event],
    new_ids: list[bytes],
    notes: list[tuple[list[bytes], int]],
) -> int:
    """Parse well-formed event lines (the fast path); return the next id.

    ``dead[id]`` is 1 for a freed id (``dead`` is long enough for every id the
    lines can introduce).  The lines hold no ``-``, ``+`` or ``_``, so ``int()``
    only meets plain digits.  Raises ``_Reject``, ``ValueError`` or
    ``IndexError`` at the first line it does not handle; the caller then
    undoes the chunk and uses the slow path.  The ``a`` id tokens go to
    ``new_ids`` unchecked (the caller compares them all at once), comments
    to ``notes``.

    Time: O(lines).
    """
    append = events.append
    new_id = new_ids.append
    for parts in map(bytes.split, lines):
        op = parts[0]
        if op == b"a":
            _, key, token = parts
            try:
                size = sizes[token]
            except KeyError:
                size = _cache_size(sizes, token)
            new_id(key)
            append(("a", nxt, size))
            nxt += 1
        elif op == b"f":
            _, key = parts
            ident = int(key)
            if ident >= nxt or dead[ident]:
                raise _Reject
            dead[ident] = 1
            append(("f", ident, 0))
        elif op == b"r":
            _, key, token = parts
            ident = int(key)
            if ident >= nxt or dead[ident]:
                raise _Reject
            try:
                size = sizes[token]
            except KeyError:
                size = _cache_size(sizes, token)
            append(("r", ident, size))
        elif op[0] == 35:  # '#': a comment, or an align note
            notes.append((parts, nxt))
        else:
            raise _Reject
    return nxt


def _show(token: bytes, limit: int = 60) -> str:
    """A token or line as it appears in error messages: quoted, escaped, shortened."""
    text = token.decode("utf-8", "backslashreplace")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _trace_name(filename: str) -> str:
    """The name of a trace: its file name without ``.gz``, then ``.trace``/``.log``/``.txt``.

    >>> _trace_name("jq-transform.trace.gz"), _trace_name("run.log")
    ('jq-transform', 'run')
    """
    if filename.endswith(".gz"):
        filename = filename[:-3]
    for suffix in (".trace", ".log", ".txt"):
        if filename.endswith(suffix) and len(filename) > len(suffix):
            return filename[: -len(suffix)]
    return filename


def _header_length(lines: list[bytes]) -> int:
    """The number of leading lines that are comments or blank (the header)."""
    for index, line in enumerate(lines):
        text = line.lstrip()
        if text and text[0] != 35:
            return index
    return len(lines)


def _is_power_of_two(value: int) -> bool:
    return value > 0 and not value & (value - 1)


class _Header:
    """Parses the leading comment lines of a trace into ``meta`` (shared by both formats)."""

    def __init__(self, display: str, meta: dict[str, str], *, events: bool = True) -> None:
        self.display = display
        self.meta = meta
        self.events = events  # check '# events:' (canonical traces only)
        #: ``# events:`` of the header: (line, events, (allocs, frees, reallocs) or None).
        self.declared: tuple[int, int, tuple[int, int, int] | None] | None = None

    def line(self, line: bytes, lineno: int) -> None:
        """Read one header line (a comment or a blank line)."""
        text = line.decode("utf-8").strip()
        if not text:
            return
        if text.startswith(_FORMAT_PREFIX):
            version = re.search(r"format v(\d+)\b", text)
            if version is None or version.group(1) != "1":
                raise TraceError(
                    f"{self.display}:{lineno}: unsupported trace format {_show(line)} "
                    "(this reader knows canonical format v1)"
                )
            return
        key, colon, value = text[1:].partition(":")
        key = key.strip()
        if not colon or not _META_KEY.match(key):
            return  # a plain comment
        value = value.strip()
        self.meta[key] = value
        if key == "events" and self.events:
            count = value.split(maxsplit=1)[0] if value else ""
            if not (count.isascii() and count.isdigit()):
                raise TraceError(
                    f"{self.display}:{lineno}: bad events count {count!r} in the header "
                    "(expected '# events: N (allocs A, frees F, reallocs R)')"
                )
            found = _EVENTS_BREAKDOWN.search(value)
            split = None if found is None else (int(found[1]), int(found[2]), int(found[3]))
            self.declared = (lineno, int(count), split)


class _Canonical:
    """The state of one pass over a canonical trace, and its slow (reference) parser."""

    def __init__(self, display: str, header: _Header, aligns: dict[int, int]) -> None:
        self.display = display
        self.header = header
        self.aligns = aligns
        self.dead = bytearray()  # dead[id] is 1 once id is freed (0 beyond nxt: not allocated)
        self.sizes: dict[bytes, int] = {}  # size token -> size (fast path cache)
        self.nxt = 0  # the id the next 'a' must introduce
        self.in_header = True

    def error(self, lineno: int, what: str) -> TraceError:
        return TraceError(f"{self.display}:{lineno}: {what}")

    def number(self, token: bytes, lineno: int, what: str) -> int:
        """A decimal integer: ASCII digits (leading zeros allowed), at most 40 significant ones."""
        if not token.isdigit():
            raise self.error(lineno, f"bad {what} {_show(token)}: not a decimal integer")
        digits = token.lstrip(b"0")
        if len(digits) > _DIGITS_MAX:
            raise self.error(lineno, f"bad {what} {_show(token)}: more than {_DIGITS_MAX} digits")
        return int(digits) if digits else 0

    def chunk(self, lines: list[bytes], first: int, data: bytes, events: list[Event]) -> None:
        """Parse the lines of a chunk (``data``, its text; ``first``, the number of ``lines[0]``)."""
        if self.in_header:
            length = _header_length(lines)
            for index in range(length):
                self.slow_line(lines[index], first + index, events)
            if length == len(lines):
                return
            self.in_header = False
            lines = lines[length:]
            first += length
            data = b"\n".join(lines)
        dead = self.dead
        start, mark = self.nxt, len(events)
        missing = start + len(lines) - len(dead)
        if missing > 0:
            dead.extend(bytes(missing + (1 << 16)))
        if b"-" not in data and b"+" not in data and b"_" not in data:
            new_ids: list[bytes] = []
            notes: list[tuple[list[bytes], int]] = []
            try:
                nxt = _fast_chunk(lines, dead, self.sizes, start, events=events, new_ids=new_ids, notes=notes)
                new_ids.append(b"")
                if b"\n".join(new_ids) != _id_lines(start, nxt):
                    raise _Reject
                if notes:
                    self.fast_notes(notes)
                self.nxt = nxt
                return
            except (_Reject, ValueError, IndexError):
                for op, ident, _ in events[mark:]:
                    if op == "f":
                        dead[ident] = 0
                del events[mark:]
        for index, line in enumerate(lines):
            self.slow_line(line, first + index, events)

    def fast_notes(self, notes: list[tuple[list[bytes], int]]) -> None:
        """Apply the align notes the fast path met; ``_Reject`` if one is not plainly right."""
        found: dict[int, int] = {}
        for parts, allocated in notes:
            if parts[0] != b"#" or len(parts) < 2 or parts[1] != b"align":
                continue
            if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
                raise _Reject
            if len(parts[2]) > _DIGITS_MAX or len(parts[3]) > _DIGITS_MAX:
                raise _Reject
            ident, alignment = int(parts[2]), int(parts[3])
            if ident >= allocated or not _is_power_of_two(alignment):
                raise _Reject
            if ident in found or ident in self.aligns:
                raise _Reject
            found[ident] = alignment
        self.aligns.update(found)

    def slow_line(self, line: bytes, lineno: int, events: list[Event]) -> None:
        """Parse one line, whatever it holds; raise ``TraceError`` naming what is wrong."""
        if len(line) > MAX_LINE:
            raise self.error(lineno, f"line longer than {MAX_LINE} bytes (not a trace?)")
        parts = line.split()
        if not parts:
            return
        op = parts[0]
        if op[0] == 35:  # '#'
            if op == b"#" and len(parts) > 1 and parts[1] == b"align":
                self.align(parts, lineno)
            elif self.in_header:
                self.header.line(line, lineno)
            return
        self.in_header = False
        fields = len(parts) - 1
        if op == b"a":
            if fields != 2:
                raise self.error(lineno, f"'a' takes 2 fields (a <id> <size>), got {fields}: {_show(line)}")
            ident = self.number(parts[1], lineno, "id")
            if ident != self.nxt:
                raise self.error(
                    lineno,
                    f"'a' introduces id {_show(parts[1])}, expected {self.nxt} "
                    "(ids are assigned in order from 0)",
                )
            size = self.number(parts[2], lineno, "size")
            if not size:
                raise self.error(lineno, f"bad size {_show(parts[2])}: sizes must be > 0")
            self.nxt = ident + 1
            events.append(("a", ident, size))
        elif op == b"f":
            if fields != 1:
                raise self.error(lineno, f"'f' takes 1 field (f <id>), got {fields}: {_show(line)}")
            ident = self.number(parts[1], lineno, "id")
            if ident >= self.nxt or self.dead[ident]:
                raise self.error(lineno, self.not_live("free", parts[1], ident))
            self.dead[ident] = 1
            events.append(("f", ident, 0))
        elif op == b"r":
            if fields != 2:
                raise self.error(lineno, f"'r' takes 2 fields (r <id> <size>), got {fields}: {_show(line)}")
            ident = self.number(parts[1], lineno, "id")
            size = self.number(parts[2], lineno, "size")
            if not size:
                raise self.error(lineno, f"bad size {_show(parts[2])}: sizes must be > 0")
            if ident >= self.nxt or self.dead[ident]:
                raise self.error(lineno, self.not_live("realloc", parts[1], ident))
            events.append(("r", ident, size))
        else:
            raise self.error(lineno, f"unknown event {_show(op)} (expected 'a', 'f', 'r' or a '#' comment)")

    def not_live(self, what: str, token: bytes, ident: int) -> str:
        if ident >= self.nxt:
            return f"{what} of id {_show(token)}, which was never allocated (next id is {self.nxt})"
        if what == "free":
            return f"double free of id {_show(token)} (already freed)"
        return f"{what} of id {_show(token)}, which was already freed"

    def align(self, parts: list[bytes], lineno: int) -> None:
        if len(parts) != 4:
            raise self.error(
                lineno, f"'# align' takes 2 fields (# align <id> <alignment>), got {len(parts) - 2}"
            )
        ident = self.number(parts[2], lineno, "id")
        alignment = self.number(parts[3], lineno, "alignment")
        if ident >= self.nxt:
            raise self.error(
                lineno,
                f"align for id {_show(parts[2])}, which is not allocated yet "
                "(the '# align' line follows its 'a' line)",
            )
        if not _is_power_of_two(alignment):
            raise self.error(lineno, f"bad alignment {_show(parts[3])}: not a power of two")
        if ident in self.aligns:
            raise self.error(lineno, f"second align for id {ident}")
        self.aligns[ident] = alignment


class _Mtrace:
    """The state of one pass over a glibc mtrace log: live addresses and the counters."""

    def __init__(self, display: str, header: _Header, aligns: dict[int, int]) -> None:
        self.display = display
        self.header = header
        self.aligns = aligns
        self.in_header = True
        self.live: dict[int, int] = {}  # address -> id of the live blocks
        self.nxt = 0
        self.pending = -1  # old address of a '<' line waiting for its '>' (-1: none)
        self.dropped_frees = 0
        self.realloc_of_unknown_as_alloc = 0
        self.implicit_frees = 0
        self.zero_size_as_1 = 0
        self.failed_calls = 0

    def error(self, lineno: int, what: str) -> TraceError:
        return TraceError(f"{self.display}:{lineno}: {what}")

    def address(self, token: bytes, lineno: int) -> int:
        if token in (b"(nil)", b"0"):
            return 0
        if _ADDRESS.match(token) is None or len(token) > _DIGITS_MAX:
            raise self.error(lineno, f"bad address {_show(token)} (expected 0x... or (nil))")
        return int(token, 16)

    def size(self, token: bytes, lineno: int) -> int:
        """The size a token stands for; 0 reads as 1 (counted)."""
        if _MTRACE_SIZE.match(token) is None or len(token) > _DIGITS_MAX:
            raise self.error(lineno, f"bad size {_show(token)} (expected 0x... or a decimal number)")
        size = int(token, 16) if token[1:2] in (b"x", b"X") else int(token)
        if not size:
            self.zero_size_as_1 += 1
            size = 1
        return size

    def new_block(self, address: int, size: int, events: list[Event]) -> None:
        """Allocate a block at ``address``; a block still live there was freed unseen."""
        self.drop_live(address, events)
        self.live[address] = self.nxt
        events.append(("a", self.nxt, size))
        self.nxt += 1

    def drop_live(self, address: int, events: list[Event]) -> None:
        old = self.live.pop(address, -1)
        if old >= 0:
            self.implicit_frees += 1
            events.append(("f", old, 0))

    def free(self, address: int, events: list[Event]) -> None:
        ident = self.live.pop(address, -1)
        if ident < 0:
            self.dropped_frees += 1
        else:
            events.append(("f", ident, 0))

    def settle(self, events: list[Event]) -> None:
        """A '<' line not followed by '>': realloc(p, 0), a free."""
        if self.pending >= 0:
            old, self.pending = self.pending, -1
            if old:
                self.free(old, events)

    def chunk(self, lines: list[bytes], first: int, events: list[Event]) -> None:
        for index, line in enumerate(lines):
            parts = line.split()
            if not parts:
                continue
            lineno = first + index
            if len(line) > MAX_LINE:
                raise self.error(lineno, f"line longer than {MAX_LINE} bytes (not a trace?)")
            head = parts[0]
            if head[0] == 35:  # '#': a comment (the header ones go to meta), or an align note
                if head == b"#" and len(parts) > 1 and parts[1] == b"align-request":
                    self.align_request(parts, lineno)
                elif self.in_header:
                    self.header.line(line, lineno)
                continue
            self.in_header = False
            if head == b"=":
                if len(parts) != 2 or parts[1] not in (b"Start", b"End"):
                    raise self.error(
                        lineno, f"bad mtrace marker {_show(line)} (expected '= Start' or '= End')"
                    )
                self.settle(events)
                continue
            op, operands = self.split(parts, line, lineno)
            if op != b">":
                self.settle(events)
            if op == b"+":
                address = self.address(operands[0], lineno)
                size = self.size(operands[1], lineno)
                if address:
                    self.new_block(address, size, events)
                else:
                    self.failed_calls += 1
            elif op == b"-":
                address = self.address(operands[0], lineno)
                if address:
                    self.free(address, events)
            elif op == b"<":
                self.pending = self.address(operands[0], lineno)
            elif op == b">":
                self.resize(operands, lineno, events)
            else:  # '!': a failed realloc, the block stays as it was
                self.address(operands[0], lineno)
                if _MTRACE_SIZE.match(operands[1]) is None:
                    raise self.error(
                        lineno, f"bad size {_show(operands[1])} (expected 0x... or a decimal number)"
                    )
                self.failed_calls += 1

    def align_request(self, parts: list[bytes], lineno: int) -> None:
        """``# align-request <address> <alignment>``: the alignment of the block live there."""
        if len(parts) != 4:
            raise self.error(
                lineno, f"'# align-request' takes 2 fields (address, alignment), got {len(parts) - 2}"
            )
        address = self.address(parts[2], lineno)
        token = parts[3]
        if not token.isdigit() or len(token) > _DIGITS_MAX or not _is_power_of_two(int(token)):
            raise self.error(lineno, f"bad alignment {_show(token)}: not a power of two")
        ident = self.live.get(address, -1)
        if ident >= 0:
            self.aligns[ident] = int(token)

    def split(self, parts: list[bytes], line: bytes, lineno: int) -> tuple[bytes, list[bytes]]:
        """Return the operation and its operands; the caller part ``@ ...[0x...]`` is dropped."""
        if parts[0] == b"@":
            # The caller may contain spaces (a file name); it always ends with '[address]'.
            if len(parts) >= 4 and parts[-3] in (b"+", b">", b"!"):
                op, operands, caller = parts[-3], parts[-2:], parts[1:-3]
            elif len(parts) >= 3 and parts[-2] in (b"-", b"<"):
                op, operands, caller = parts[-2], parts[-1:], parts[1:-2]
            else:
                raise self.error(lineno, f"no mtrace operation in {_show(line)}")
            if not caller or not caller[-1].endswith(b"]"):
                raise self.error(lineno, f"bad caller in {_show(line)} (expected '@ ...[0x...]')")
            return op, operands
        op, operands = parts[0], parts[1:]
        if op in (b"+", b">", b"!"):
            wanted = 2
        elif op in (b"-", b"<"):
            wanted = 1
        else:
            raise self.error(lineno, f"unknown mtrace line {_show(line)}")
        if len(operands) != wanted:
            raise self.error(
                lineno, f"{_show(op)} takes {wanted} field(s), got {len(operands)}: {_show(line)}"
            )
        return op, operands

    def resize(self, operands: list[bytes], lineno: int, events: list[Event]) -> None:
        if self.pending < 0:
            raise self.error(lineno, "'>' line without the '<' line before it (a realloc is '<' then '>')")
        old, self.pending = self.pending, -1
        new = self.address(operands[0], lineno)
        size = self.size(operands[1], lineno)
        if not new:
            self.failed_calls += 1
            return
        ident = self.live.pop(old, -1) if old else -1
        if ident < 0:
            if old:
                self.realloc_of_unknown_as_alloc += 1
            self.new_block(new, size, events)
            return
        self.drop_live(new, events)
        self.live[new] = ident
        events.append(("r", ident, size))


class Trace:
    """An allocation trace file: iterate it for its events (each pass re-reads the file).

    Made by ``read_trace``.  Attributes: ``path``, ``name`` (the file name without
    ``.gz`` and ``.trace``/``.log``/``.txt``), ``format`` (``"canonical"`` or
    ``"mtrace"``, from the content), ``meta`` (the header's ``# key: value``
    lines, filled before the first event is yielded), ``aligns`` (id ->
    alignment from ``# align`` lines, or from the ``# align-request <address>
    <alignment>`` notes of ``rangealloc.record``'s mtrace logs; an entry is
    present before the ``a`` event of its id is yielded, when the note comes
    before the next event line).

    mtrace counters, from the last pass (0 for a canonical trace):
    ``dropped_frees`` (frees of addresses never allocated, dropped),
    ``realloc_of_unknown_as_alloc`` (reallocs of such addresses, read as
    allocations), ``implicit_frees`` (an allocation at an address still live:
    the old block is freed first), ``zero_size_as_1`` (size 0 read as 1),
    ``failed_calls`` (failed malloc/realloc lines, ignored).

    Passes share these attributes: run one pass at a time.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open ``path`` to detect its format; prefer ``read_trace``.

        Raises ``OSError`` if the file cannot be read, ``TraceError`` if its
        start is not text (corrupt gzip, binary data).
        """
        self.path = Path(path)
        self.name = _trace_name(self.path.name)
        self._display = os.fspath(path)
        self.meta: dict[str, str] = {}
        self.aligns: dict[int, int] = {}
        self.dropped_frees = 0
        self.realloc_of_unknown_as_alloc = 0
        self.implicit_frees = 0
        self.zero_size_as_1 = 0
        self.failed_calls = 0
        self._peak: int | None = None
        self.format = self._detect()

    def __repr__(self) -> str:
        return f"Trace({self._display!r}, format={self.format!r})"

    def __iter__(self) -> Iterator[Event]:
        """Stream the events, reading the file again from the start.

        Time: O(events).  Raises ``TraceError`` at the first problem (the
        events of the chunks before it have been yielded: a replay that must
        not act on a bad trace reads it once first), ``OSError`` if the file
        cannot be read.
        """
        if self.format == "mtrace":
            return chain.from_iterable(self._mtrace_chunks())
        return chain.from_iterable(self._canonical_chunks())

    def header(self) -> dict[str, str]:
        """Read only the leading comment lines; return ``meta`` (filled from them).

        Time: O(header).  Raises ``TraceError`` for a bad header line, ``OSError``
        if the file cannot be read.

        >>> from importlib.resources import files
        >>> trace = read_trace(files("rangealloc") / "data" / "jq-transform.trace.gz")
        >>> trace.name, trace.format, trace.header()["events"]
        ('jq-transform', 'canonical', '82669 (allocs 41334, frees 41334, reallocs 1)')
        """
        self.meta.clear()
        header = _Header(self._display, self.meta, events=self.format == "canonical")
        chunks = self._chunks(_HEAD_BLOCK)
        try:
            for lines, first, _ in chunks:
                length = _header_length(lines)
                for index in range(length):
                    header.line(lines[index], first + index)
                if length < len(lines):
                    break
        finally:
            chunks.close()
        return self.meta

    def peak_live(self) -> int:
        """The maximum over the trace of the sum of the sizes of the live blocks.

        From the header's ``peak_live_bytes`` when present, else one full pass
        (the result is cached).

        Time: O(header), or O(events) for the pass.  Raises ``TraceError``.
        """
        if self._peak is None:
            value = self.header().get("peak_live_bytes", "").split(maxsplit=1)
            if value and value[0].isascii() and value[0].isdigit():
                self._peak = int(value[0])
            else:
                self._peak = _peak_of(self)
        return self._peak

    # ---------------------------------------------------------------- reading

    def _reset(self) -> None:
        self.meta.clear()
        self.aligns.clear()
        self.dropped_frees = self.realloc_of_unknown_as_alloc = self.implicit_frees = 0
        self.zero_size_as_1 = self.failed_calls = 0

    def _detect(self) -> str:
        """The format, from the first line that is neither blank nor a comment."""
        chunks = self._chunks(_HEAD_BLOCK)
        try:
            for lines, _, _ in chunks:
                length = _header_length(lines)
                if length < len(lines):
                    return "mtrace" if lines[length].lstrip()[0] in _MTRACE_OPS else "canonical"
        finally:
            chunks.close()
        return "canonical"

    def _blocks(self, size: int) -> Generator[bytes, None, None]:
        """The decompressed content, in blocks of up to ``size`` bytes."""
        with open(self.path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            stream: BinaryIO | gzip.GzipFile = raw
            if magic == _GZIP_MAGIC:
                stream = gzip.GzipFile(fileobj=raw, mode="rb")
            try:
                while True:
                    try:
                        block = stream.read(size)
                    except EOFError:
                        raise TraceError(
                            f"{self._display}:0: truncated gzip stream (it ends before its end marker)"
                        ) from None
                    except (zlib.error, gzip.BadGzipFile) as exc:
                        raise TraceError(f"{self._display}:0: corrupt gzip stream: {exc}") from None
                    if not block:
                        return
                    yield block
            finally:
                if stream is not raw:
                    stream.close()

    def _chunks(self, size: int = _BLOCK) -> Generator[tuple[list[bytes], int, bytes], None, None]:
        """The lines, a chunk at a time, with the line number of each chunk's first line.

        Each chunk is checked here: no NUL byte, valid UTF-8, no line over ``MAX_LINE``.
        """
        rest = b""
        first = 1
        for block in self._blocks(size):
            data = rest + block if rest else block
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                if len(rest) > MAX_LINE:
                    raise self._too_long(first)
                continue
            chunk, rest = data[:cut], data[cut + 1 :]
            lines = chunk.split(b"\n")
            self._check(chunk, lines, first)
            yield lines, first, chunk
            first += len(lines)
            if len(rest) > MAX_LINE:
                raise self._too_long(first)
        if rest:
            self._check(rest, [rest], first)
            yield [rest], first, rest

    def _too_long(self, lineno: int) -> TraceError:
        return TraceError(f"{self._display}:{lineno}: line longer than {MAX_LINE} bytes (not a trace?)")

    def _check(self, chunk: bytes, lines: list[bytes], first: int) -> None:
        if b"\0" in chunk:
            where = first + chunk.count(b"\n", 0, chunk.index(b"\0"))
            raise TraceError(f"{self._display}:{where}: NUL byte (binary data, not a text trace)")
        if not chunk.isascii():
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = first + chunk.count(b"\n", 0, exc.start)
                raise TraceError(
                    f"{self._display}:{where}: byte {chunk[exc.start]:#04x} is not UTF-8 text (binary data?)"
                ) from None
        # A line the fast path accepts is short unless it holds a comment, a run of
        # whitespace or a number with leading zeros (" 0" then not a separator), so the
        # exact (slower) length check runs only on chunks with one of those.
        if (
            b"#" in chunk
            or b"  " in chunk
            or b"\t" in chunk
            or b"\r" in chunk
            or b"\x0b" in chunk
            or b"\x0c" in chunk
            or len(lines) == 1
            or chunk.count(b" 0") > chunk.count(b" 0 ") + chunk.count(b" 0\n") + chunk.endswith(b" 0")
        ) and max(map(len, lines)) > MAX_LINE:
            index = next(k for k, line in enumerate(lines) if len(line) > MAX_LINE)
            raise self._too_long(first + index)

    def _canonical_chunks(self) -> Iterator[list[Event]]:
        self._reset()
        header = _Header(self._display, self.meta)
        state = _Canonical(self._display, header, self.aligns)
        total = 0
        last = 0
        held: list[Event] = []
        for lines, first, data in self._chunks():
            last = first + len(lines) - 1
            events = held
            state.chunk(lines, first, data, events)
            # Hold the last event back until the next chunk is read: its '# align'
            # line may be there, and must be in `aligns` before the event is seen.
            held = [events.pop()] if events else []
            if events:
                total += len(events)
                yield events
        total += len(held)
        if header.declared is not None:
            self._check_count(header.declared, total, state, last)
        if held:
            yield held

    def _check_count(
        self,
        declared: tuple[int, int, tuple[int, int, int] | None],
        total: int,
        state: _Canonical,
        last: int,
    ) -> None:
        line, count, split = declared
        allocs = state.nxt
        frees = state.dead.count(1)
        found = (allocs, frees, total - allocs - frees)
        if count != total or (split is not None and split != found):
            said = f"{count} events" + (
                "" if split is None else " (allocs {}, frees {}, reallocs {})".format(*split)
            )
            raise TraceError(
                f"{self._display}:{last}: the header (line {line}) declares {said}, the body has {total} "
                f"(allocs {found[0]}, frees {found[1]}, reallocs {found[2]})"
            )

    def _mtrace_chunks(self) -> Iterator[list[Event]]:
        self._reset()
        state = _Mtrace(self._display, _Header(self._display, self.meta, events=False), self.aligns)
        held: list[Event] = []
        for lines, first, _ in self._chunks():
            events = held
            state.chunk(lines, first, events)
            self._count(state)
            held = [events.pop()] if events else []  # its align note may be in the next chunk
            if events:
                yield events
        state.settle(held)
        self._count(state)
        if held:
            yield held

    def _count(self, state: _Mtrace) -> None:
        self.dropped_frees = state.dropped_frees
        self.realloc_of_unknown_as_alloc = state.realloc_of_unknown_as_alloc
        self.implicit_frees = state.implicit_frees
        self.zero_size_as_1 = state.zero_size_as_1
        self.failed_calls = state.failed_calls


def _peak_of(events: Iterable[Event]) -> int:
    """The maximum of the sum of live sizes over a valid event sequence.  Time: O(events)."""
    sizes: dict[int, int] = {}
    live = peak = 0
    for op, ident, size in events:
        if op == "f":
            live -= sizes.pop(ident)
            continue
        live += size - sizes.get(ident, 0)
        sizes[ident] = size
        if live > peak:
            peak = live
    return peak


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Open an allocation trace (canonical or glibc mtrace, plain or gzip) for reading.

    The format is detected here, from the content; iterating the ``Trace``
    streams its events, checking them as it goes.

    Time: O(1) here (reads the first lines); O(events) per pass.

    Raises ``OSError`` if the file cannot be read, ``TraceError`` if it does
    not start like a text trace (iterating raises ``TraceError`` for any
    later problem).

    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "prog.mtrace.log")
    >>> with open(path, "w") as log:
    ...     _ = log.write("= Start\\n@ ./prog:[0x4005b6] + 0x1f8f460 0x28\\n- 0x1f8f460\\n- 0x99\\n= End\\n")
    >>> trace = read_trace(path)
    >>> trace.name, trace.format, list(trace), trace.dropped_frees
    ('prog.mtrace', 'mtrace', [('a', 0, 40), ('f', 0, 0)], 1)
    >>> folder.cleanup()
    """
    return Trace(path)


# ------------------------------------------------------------------- writing


def _event_int(value: object, index: int, what: str) -> int:
    if type(value) is int:
        return value
    if not isinstance(value, bool):
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
    raise ValueError(f"event {index}: {what} must be an int, got {type(value).__name__} {value!r}")


def _check_meta(meta: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """The header lines ``write_trace`` copies from ``meta`` (computed keys left out)."""
    lines: list[tuple[str, str]] = []
    # Any: the caller's values are checked here, not trusted to match the annotations
    # (a mypyc build would otherwise raise its own TypeError first).
    items: Any = (meta or {}).items()
    for key, value in items:
        if not isinstance(key, str) or not _META_KEY.match(key):
            raise ValueError(f"meta key {key!r}: use letters, digits and '_.-' only")
        if not isinstance(value, str):
            raise TypeError(f"meta[{key!r}] must be a str, got {type(value).__name__} {value!r}")
        if "\n" in value or "\r" in value or "\0" in value:
            raise ValueError(f"meta[{key!r}] = {value!r}: a header value is one line")
        if key not in _COMPUTED_KEYS:
            lines.append((key, value))
    return lines


class _Body:
    """Writes validated events as canonical lines, and counts what the header says."""

    def __init__(self, out: BinaryIO, aligns: Mapping[int, int] | None) -> None:
        self.out = out
        self.aligns = aligns
        self.events = 0
        self.frees = 0
        self.reallocs = 0
        self.nxt = 0
        self.live = 0
        self.peak = 0
        self.peak_after = 0
        self.peak_blocks = 0
        self.sizes: dict[int, int] = {}

    def write(self, events: Iterable[Event]) -> None:
        """Validate and write every event.  Raises ``ValueError`` naming the event's index."""
        sizes = self.sizes
        # Any: the events and aligns are validated here, not trusted to match their
        # annotations (a mypyc build would otherwise raise its own TypeError, or read True as 1).
        aligns: Any = self.aligns
        given: Iterable[Any] = events
        lines: list[str] = []
        index = -1
        for index, event in enumerate(given):
            try:
                op, ident, size = event
            except (TypeError, ValueError):
                raise ValueError(f"event {index}: expected a tuple (op, id, size), got {event!r}") from None
            if type(ident) is not int:
                ident = _event_int(ident, index, "id")
            if type(size) is not int:
                size = _event_int(size, index, "size")
            if op == "a":
                if ident != self.nxt:
                    raise ValueError(f"event {index}: 'a' introduces id {ident}, expected {self.nxt}")
                if size <= 0:
                    raise ValueError(f"event {index}: size must be > 0, got {size}")
                sizes[ident] = size
                self.nxt += 1
                self.live += size
                lines.append(f"a {ident} {size}\n")
                if len(sizes) > self.peak_blocks:
                    self.peak_blocks = len(sizes)
                if aligns is not None and ident in aligns:
                    lines.append(f"# align {ident} {self.alignment(aligns[ident], ident)}\n")
            elif op == "f":
                if size != 0:
                    raise ValueError(f"event {index}: 'f' takes size 0, got {size}")
                old = sizes.pop(ident, 0)
                if not old:
                    raise ValueError(f"event {index}: {self.not_live('free', ident)}")
                self.live -= old
                self.frees += 1
                lines.append(f"f {ident}\n")
            elif op == "r":
                old = sizes.get(ident, 0)
                if not old:
                    raise ValueError(f"event {index}: {self.not_live('realloc', ident)}")
                if size <= 0:
                    raise ValueError(f"event {index}: size must be > 0, got {size}")
                sizes[ident] = size
                self.live += size - old
                self.reallocs += 1
                lines.append(f"r {ident} {size}\n")
            else:
                raise ValueError(f"event {index}: op must be 'a', 'f' or 'r', got {op!r}")
            if self.live > self.peak:
                self.peak = self.live
                self.peak_after = index + 1
            if len(lines) >= 8192:
                self.out.write("".join(lines).encode("ascii"))
                lines.clear()
        self.out.write("".join(lines).encode("ascii"))
        self.events = index + 1
        if aligns is not None:
            for ident in aligns:
                if not (type(ident) is int and 0 <= ident < self.nxt):
                    raise ValueError(f"aligns names id {ident!r}, which no 'a' event introduces")

    def not_live(self, what: str, ident: int) -> str:
        if 0 <= ident < self.nxt:
            return f"{what} of id {ident}, which was already freed"
        return f"{what} of id {ident}, which was never allocated (next id is {self.nxt})"

    @staticmethod
    def alignment(value: object, ident: int) -> int:
        if type(value) is not int or not _is_power_of_two(value):
            raise ValueError(f"aligns[{ident}] = {value!r}: an alignment is a positive power of two")
        return value

    def header(self) -> list[tuple[str, str]]:
        allocs = self.nxt
        return [
            ("events", f"{self.events} (allocs {allocs}, frees {self.frees}, reallocs {self.reallocs})"),
            ("peak_live_bytes", f"{self.peak} (after event {self.peak_after})"),
            ("peak_live_blocks", str(self.peak_blocks)),
            ("live_at_end", f"{len(self.sizes)} blocks, {self.live} bytes"),
        ]


def _create_temporary(target: Path) -> tuple[Path, int]:
    """Create a new file beside ``target`` (same directory, so ``os.replace`` is atomic)."""
    for _ in range(100):
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 lets the umask decide, as for any new file (mkstemp would force 0o600).
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return temporary, fd
    raise FileExistsError(f"cannot create a temporary file beside {target}")


def write_trace(
    events: Iterable[Event],
    path: str | os.PathLike[str],
    *,
    meta: Mapping[str, str] | None = None,
    aligns: Mapping[int, int] | None = None,
) -> int:
    """Write ``events`` as a canonical trace (gzip if ``path`` ends in ``.gz``); return their number.

    The header is the format line, one ``# key: value`` line per ``meta`` item
    (keys of letters, digits and ``_.-``; one-line values), then lines computed
    from the events: ``events`` (with the allocs/frees/reallocs counts),
    ``peak_live_bytes``, ``peak_live_blocks`` and ``live_at_end`` (such keys
    in ``meta`` are replaced).  ``aligns`` (id -> alignment, a power of two)
    adds ``# align <id> <alignment>`` after the ``a`` line of each id; it is
    read as the ``a`` events go by, so a ``Trace``'s own ``aligns`` works.

    The events are validated as the reader does.  To put the computed header
    first while streaming, the body goes to a temporary file first; the
    result is assembled in a second temporary file in the same directory and
    moved into place with ``os.replace``: ``path`` is never half written, and
    on any error no file is left behind.  gzip output is reproducible (no
    time stamp, level 6).

    Time: O(events).

    Raises ``ValueError`` naming the index of the first bad event (or the
    bad ``meta``/``aligns`` item), ``TypeError`` for a meta value that is not
    a str, ``OSError`` if the file cannot be written.

    >>> import os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "tiny.trace.gz")
    >>> write_trace([("a", 0, 16), ("a", 1, 8), ("r", 0, 32), ("f", 1, 0)], path, meta={"program": "demo"})
    4
    >>> trace = read_trace(path)
    >>> list(trace), trace.meta["program"], trace.peak_live()
    ([('a', 0, 16), ('a', 1, 8), ('r', 0, 32), ('f', 1, 0)], 'demo', 40)
    >>> write_trace([("a", 0, 16), ("f", 0, 0), ("f", 0, 0)], path)
    Traceback (most recent call last):
    ...
    ValueError: event 2: free of id 0, which was already freed
    >>> folder.cleanup()
    """
    target = Path(path)
    given = _check_meta(meta)
    body_path, body_fd = _create_temporary(target)
    final_path: Path | None = None
    try:
        with open(body_fd, "wb") as body_file:
            body = _Body(body_file, aligns)
            body.write(events)
        final_path, final_fd = _create_temporary(target)
        with open(final_fd, "wb") as raw:
            out: BinaryIO | gzip.GzipFile = raw
            if target.name.endswith(".gz"):
                out = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0)
            try:
                head = [FORMAT_LINE] + [f"# {key}: {value}" for key, value in given + body.header()]
                out.write(("\n".join(head) + "\n").encode("utf-8"))
                with open(body_path, "rb") as source:
                    while block := source.read(_BLOCK):
                        out.write(block)
            finally:
                if out is not raw:
                    out.close()
        os.replace(final_path, target)
        final_path = None
        return body.events
    finally:
        os.unlink(body_path)
        if final_path is not None:
            os.unlink(final_path)


# ----------------------------------------------------------------- recording


class Recorder:
    """Wraps an allocator and records every successful call as trace events.

    A drop-in for the allocator: the same methods, delegated.  ``alloc`` and
    ``reserve`` record ``("a", id, size)`` (ids in order from 0; an
    ``align`` > 1 goes to ``aligns``), ``free`` records ``("f", id, 0)``,
    ``realloc`` ``("r", id, size)`` (the id follows the block to its new
    offset; the format has no alignment for a realloc), ``clear`` an ``f`` for
    every live block in address order.  ``grow`` and the queries are not
    recorded.  A call that raises records nothing (the allocator, too, is
    left as it was).

    A ``reserve`` is recorded as a plain allocation: a replay places the
    block by its own policy, not at the reserved offset.  Blocks already
    live when recording starts are recorded first, as allocations in address
    order, so the trace stands alone.  Every call must go through the
    recorder once it wraps the allocator.

    >>> from rangealloc import FirstFit
    >>> recorder = Recorder(FirstFit(64))
    >>> a = recorder.alloc(10); b = recorder.alloc(8, align=16)
    >>> recorder.free(a); b = recorder.realloc(b, 20)
    >>> recorder.events, recorder.aligns
    ([('a', 0, 10), ('a', 1, 8), ('f', 0, 0), ('r', 1, 20)], {1: 16})
    """

    def __init__(self, allocator: Allocator) -> None:
        """Record the calls made to ``allocator`` from now on.  Time: O(live blocks)."""
        self._allocator = allocator
        self._events: list[Event] = []
        self._aligns: dict[int, int] = {}
        self._ids: dict[int, int] = {}  # offset -> id of the live blocks
        self._next = 0
        for offset, size in allocator.blocks():
            self._record_new(offset, size)

    def _record_new(self, offset: int, size: int) -> int:
        ident = self._next
        self._next = ident + 1
        self._ids[offset] = ident
        self._events.append(("a", ident, size))
        return ident

    @property
    def allocator(self) -> Allocator:
        """The wrapped allocator."""
        return self._allocator

    @property
    def events(self) -> list[Event]:
        """A copy of the events recorded so far.  Time: O(events)."""
        return list(self._events)

    @property
    def aligns(self) -> dict[int, int]:
        """A copy of id -> alignment for the allocations made with ``align`` > 1."""
        return dict(self._aligns)

    @property
    def name(self) -> str:
        """The wrapped allocator's policy name."""
        return self._allocator.name

    # ------------------------------------------------------------- recorded

    def alloc(self, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """``allocator.alloc``, recorded as ``("a", id, size)``.  Time: the policy's."""
        offset = self._allocator.alloc(size, align)
        ident = self._record_new(offset, operator.index(size))
        alignment = operator.index(align)
        if alignment > 1:
            self._aligns[ident] = alignment
        return offset

    def free(self, offset: SupportsIndex) -> None:
        """``allocator.free``, recorded as ``("f", id, 0)``.  Time: the policy's."""
        self._allocator.free(offset)
        self._events.append(("f", self._ids.pop(operator.index(offset)), 0))

    def realloc(self, offset: SupportsIndex, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """``allocator.realloc``, recorded as ``("r", id, size)``.  Time: the policy's."""
        new = self._allocator.realloc(offset, size, align)
        ident = self._ids.pop(operator.index(offset))
        self._ids[new] = ident
        self._events.append(("r", ident, operator.index(size)))
        return new

    def reserve(self, offset: SupportsIndex, size: SupportsIndex) -> int:
        """``allocator.reserve``, recorded as an allocation ``("a", id, size)``.  Time: the policy's."""
        result = self._allocator.reserve(offset, size)
        self._record_new(result, operator.index(size))
        return result

    def clear(self) -> None:
        """``allocator.clear``, recorded as an ``f`` per live block, in address order.  Time: O(n log n)."""
        offsets = sorted(self._ids)
        self._allocator.clear()
        ids = self._ids
        self._events += [("f", ids[offset], 0) for offset in offsets]
        ids.clear()

    def save(self, path: str | os.PathLike[str], *, meta: Mapping[str, str] | None = None) -> int:
        """Write the events with ``write_trace``; return their number.

        The header says ``recorder: rangealloc.Recorder``, the ``policy``, the
        ``capacity`` (now) and the ``date``, then ``meta`` (which may override them).

        Time: O(events).  Raises what ``write_trace`` raises.
        """
        header = {
            "recorder": "rangealloc.Recorder",
            "policy": self._allocator.name or type(self._allocator).__name__,
            "capacity": str(self._allocator.capacity),
            "date": datetime.date.today().isoformat(),
        }
        header.update(meta or {})
        return write_trace(self._events, path, meta=header, aligns=self._aligns)

    # ------------------------------------------------------------ delegated

    def grow(self, capacity: SupportsIndex) -> None:
        """``allocator.grow`` (not recorded)."""
        self._allocator.grow(capacity)

    @property
    def capacity(self) -> int:
        """``allocator.capacity``."""
        return self._allocator.capacity

    @property
    def used(self) -> int:
        """``allocator.used``."""
        return self._allocator.used

    @property
    def available(self) -> int:
        """``allocator.available``."""
        return self._allocator.available

    def size_of(self, offset: SupportsIndex) -> int:
        """``allocator.size_of``."""
        return self._allocator.size_of(offset)

    def blocks(self) -> Iterator[tuple[int, int]]:
        """``allocator.blocks()``."""
        return self._allocator.blocks()

    def holes(self) -> Iterator[tuple[int, int]]:
        """``allocator.holes()``."""
        return self._allocator.holes()

    def stats(self) -> Stats:
        """``allocator.stats()``."""
        return self._allocator.stats()

    def check(self) -> None:
        """``allocator.check()``."""
        self._allocator.check()

    def __len__(self) -> int:
        """``len(allocator)``: the number of live blocks."""
        return len(self._allocator)

    def __contains__(self, offset: object) -> bool:
        """``offset in allocator``."""
        return offset in self._allocator

    def __repr__(self) -> str:
        return f"Recorder({self._allocator!r}, events={len(self._events)})"
