"""Trace I/O: ``read_trace`` (canonical and mtrace), ``write_trace`` and ``Recorder``.

What is pinned here:

* round trips ``write_trace`` -> ``read_trace``, plain and gzip, with the
  header (given and computed lines) and the ``# align`` notes;
* the bundled traces read fully and agree with their ``# events:`` line, and
  the fast path gives exactly what the slow (reference) path gives;
* every malformed input raises ``TraceError`` naming the file and the line
  (one table, read plain and gzip), including errors far into a trace, past
  the first chunks, and a broken gzip stream (line 0);
* the streaming promises: ``meta`` before the first event, an ``aligns``
  entry before its ``a`` event even when the note starts the next chunk;
* glibc mtrace logs: ``+``, ``-``, ``<``/``>``, unknown frees dropped and
  counted, implicit frees, reallocs of unknown blocks, size 0, failed calls,
  markers, callers of every shape, ``# align-request`` notes;
* ``Recorder``: exactly the successful calls, nothing for a failing call, a
  saved recording reads back to the same events and replays to the same layout;
* ``write_trace`` validation (the bad event's index, no file left behind).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from helpers import IntLike, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

import rangealloc
import rangealloc.trace as trace_module
from rangealloc import (
    POLICIES,
    Allocator,
    FirstFit,
    InvalidBlock,
    OutOfSpace,
    Recorder,
    Trace,
    TraceError,
    read_trace,
    write_trace,
)
from rangealloc.trace import FORMAT_LINE, MAX_LINE, Event

DATA = Path(rangealloc.__file__).parent / "data"
BUNDLED = sorted(DATA.glob("*.trace.gz"))


def put(folder: Path, content: str | bytes, name: str = "t.trace", *, gz: bool = False) -> Path:
    """Write ``content`` (gzip-compressed if ``gz``) to ``folder/name``; return the path."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path = folder / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def render(events: list[Event], aligns: dict[int, int] | None = None) -> str:
    """The canonical text of ``events`` (no header), with ``# align`` after the ``a`` lines."""
    out = []
    for op, ident, size in events:
        out.append(f"f {ident}\n" if op == "f" else f"{op} {ident} {size}\n")
        if op == "a" and aligns and ident in aligns:
            out.append(f"# align {ident} {aligns[ident]}\n")
    return "".join(out)


@st.composite
def event_lists(draw: st.DrawFn, max_size: int = 40) -> list[Event]:
    """Valid event sequences: ids in order, frees and reallocs of live blocks only."""
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from("aafr"),
                st.integers(0, 1 << 20),
                st.one_of(st.integers(1, 64), st.integers(1, 1 << 70)),
            ),
            max_size=max_size,
        )
    )
    events: list[Event] = []
    live: list[int] = []
    allocated = 0
    for kind, pick, size in steps:
        if kind == "a" or not live:
            events.append(("a", allocated, size))
            live.append(allocated)
            allocated += 1
        elif kind == "f":
            events.append(("f", live.pop(pick % len(live)), 0))
        else:
            events.append(("r", live[pick % len(live)], size))
    return events


def slow_only() -> Any:
    """Patch the reader so that the fast path refuses every chunk: only the reference parser runs."""
    return mock.patch.object(trace_module, "_fast_chunk", side_effect=trace_module._Reject)


def read_all(path: Path) -> tuple[list[Event], dict[str, str], dict[int, int]]:
    trace = read_trace(path)
    events = list(trace)
    return events, dict(trace.meta), dict(trace.aligns)


# ------------------------------------------------------------- round trips

EVENTS: list[Event] = [("a", 0, 16), ("a", 1, 8), ("r", 0, 40), ("f", 1, 0), ("a", 2, 1), ("f", 0, 0)]


@pytest.mark.parametrize("name", ["t.trace", "t.trace.gz"])
def test_round_trip_keeps_events_header_and_aligns(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    meta = {"program": "demo", "command": "demo --fast 'x: y'", "date": "2026-11-26"}
    assert write_trace(EVENTS, path, meta=meta, aligns={2: 64}) == 6
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    trace = read_trace(path)
    assert trace.format == "canonical"
    assert trace.name == "t"
    assert list(trace) == EVENTS
    assert trace.aligns == {2: 64}
    assert trace.meta == {
        **meta,
        "events": "6 (allocs 3, frees 2, reallocs 1)",
        "peak_live_bytes": "48 (after event 3)",
        "peak_live_blocks": "2",
        "live_at_end": "1 blocks, 1 bytes",
    }
    assert trace.header() == trace.meta
    assert trace.peak_live() == 48


def test_written_text_is_the_canonical_format(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    write_trace(EVENTS[:3], path, meta={"program": "demo"}, aligns={1: 32})
    assert path.read_text() == (
        f"{FORMAT_LINE}\n"
        "# program: demo\n"
        "# events: 3 (allocs 2, frees 0, reallocs 1)\n"
        "# peak_live_bytes: 48 (after event 3)\n"
        "# peak_live_blocks: 2\n"
        "# live_at_end: 2 blocks, 48 bytes\n"
        "a 0 16\n"
        "a 1 8\n"
        "# align 1 32\n"
        "r 0 40\n"
    )


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a.trace.gz", tmp_path / "b.trace.gz"
    write_trace(EVENTS, first, meta={"program": "demo"})
    write_trace(EVENTS, second, meta={"program": "demo"})
    assert first.read_bytes() == second.read_bytes()


@settings(max_examples=40)
@given(events=event_lists(), gz=st.booleans(), data=st.data())
def test_round_trip_of_any_valid_events(
    tmp_path_factory: pytest.TempPathFactory, events: list[Event], gz: bool, data: st.DataObject
) -> None:
    allocated = [ident for op, ident, _ in events if op == "a"]
    powers = st.integers(0, 12).map(lambda k: 1 << k)
    aligns = data.draw(st.dictionaries(st.sampled_from(allocated), powers)) if allocated else {}
    path = tmp_path_factory.mktemp("rt") / ("t.trace.gz" if gz else "t.trace")
    assert write_trace(iter(events), path, aligns=aligns) == len(events)
    trace = read_trace(path)
    assert list(trace) == events
    assert trace.aligns == aligns
    assert trace.peak_live() == trace_module._peak_of(events)


def test_empty_trace_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "empty.trace.gz"
    assert write_trace([], path) == 0
    trace = read_trace(path)
    assert list(trace) == []
    assert trace.meta["events"] == "0 (allocs 0, frees 0, reallocs 0)"
    assert trace.peak_live() == 0


def test_copy_a_trace_with_its_own_aligns(tmp_path: Path) -> None:
    """``write_trace`` reads ``aligns`` as events go by: a Trace's own dict (filled as read) works."""
    source = put(tmp_path, render(EVENTS, {0: 16, 2: 128}), "src.log")
    trace = read_trace(source)
    copy = tmp_path / "copy.trace.gz"
    assert write_trace(trace, copy, meta=trace.header(), aligns=trace.aligns) == len(EVENTS)
    assert read_all(copy)[0] == EVENTS
    assert read_trace(copy).aligns == {} and read_all(copy)[2] == {0: 16, 2: 128}


# --------------------------------------------------------- bundled traces


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_traces_match_their_header(path: Path) -> None:
    trace = read_trace(path)
    assert trace.format == "canonical"
    assert trace.name == path.name.removesuffix(".trace.gz")
    counts = {"a": 0, "f": 0, "r": 0}
    for op, _, _ in trace:
        counts[op] += 1
    total = sum(counts.values())
    declared = trace.meta["events"]
    assert declared == f"{total} (allocs {counts['a']}, frees {counts['f']}, reallocs {counts['r']})"
    assert trace.header()["events"] == declared
    assert trace.peak_live() == int(trace.meta["peak_live_bytes"].split()[0])
    assert trace_module._peak_of(trace) == trace.peak_live()


@pytest.mark.parametrize("path", BUNDLED, ids=[p.name for p in BUNDLED])
def test_fast_path_gives_what_the_reference_parser_gives(path: Path) -> None:
    fast = read_all(path)
    with slow_only():
        slow = read_all(path)
    assert fast == slow


def test_bundled_trace_header_without_reading_the_body(tmp_path: Path) -> None:
    """``header()`` stops at the first event line: a broken body does not matter to it."""
    header = gzip.decompress(BUNDLED[0].read_bytes()).split(b"\na 0 ")[0] + b"\n"
    path = put(tmp_path, header + b"a 0 1\nbroken line\n")
    trace = read_trace(path)
    assert trace.header()["program"] in ("jq", "git")
    with pytest.raises(TraceError, match=r":\d+: unknown event 'broken'"):
        list(trace)


# ------------------------------------------------------------- malformed

HEAD = "# program: test\n"

#: (content, line of the error, fragment of the message)
MALFORMED: list[tuple[str | bytes, int, str]] = [
    ("a 0 8\nf 1\n", 2, "free of id '1', which was never allocated (next id is 1)"),
    ("a 0 8\nf 0\nf 0\n", 3, "double free of id '0' (already freed)"),
    ("a 0 8\nf 0\nr 0 4\n", 3, "realloc of id '0', which was already freed"),
    ("r 0 4\n", 1, "realloc of id '0', which was never allocated"),
    ("a 1 8\n", 1, "'a' introduces id '1', expected 0"),
    ("a 0 8\na 0 8\n", 2, "'a' introduces id '0', expected 1"),
    ("a 0 8\na 2 8\n", 2, "'a' introduces id '2', expected 1"),
    ("a 0 0\n", 1, "bad size '0': sizes must be > 0"),
    ("a 0 -5\n", 1, "bad size '-5': not a decimal integer"),
    ("a 0 +5\n", 1, "bad size '+5'"),
    ("a 0 1_0\n", 1, "bad size '1_0'"),
    ("a 0 0x10\n", 1, "bad size '0x10'"),
    ("a 0 1.5\n", 1, "bad size '1.5'"),
    ("a 0 8\na 1 1e3\n", 2, "bad size '1e3'"),
    ("a 0 " + "9" * 41 + "\n", 1, "more than 40 digits"),
    ("a x 8\n", 1, "bad id 'x'"),
    ("a -1 8\n", 1, "bad id '-1'"),
    ("a 0 8\nf -0\n", 2, "bad id '-0'"),
    ("a 0\n", 1, "'a' takes 2 fields (a <id> <size>), got 1"),
    ("a 0 8 9\n", 1, "'a' takes 2 fields (a <id> <size>), got 3: 'a 0 8 9'"),
    ("a 0 8\nf\n", 2, "'f' takes 1 field (f <id>), got 0"),
    ("a 0 8\nf 0 0\n", 2, "'f' takes 1 field (f <id>), got 2"),
    ("a 0 8\nr 0\n", 2, "'r' takes 2 fields (r <id> <size>), got 1"),
    ("a 0 8\nr 0 0\n", 2, "bad size '0'"),
    ("x 0 8\n", 1, "unknown event 'x'"),
    ("A 0 8\n", 1, "unknown event 'A'"),
    ("a 0 8\nfree 0\n", 2, "unknown event 'free'"),
    ("a0 8\n", 1, "unknown event 'a0'"),
    ("# events: 3 (allocs 2, frees 1, reallocs 0)\na 0 8\nf 0\n", 3, "the header (line 1) declares 3 events"),
    (
        "# events: 2 (allocs 1, frees 0, reallocs 1)\na 0 8\nf 0\n",
        3,
        "declares 2 events (allocs 1, frees 0, reallocs 1), the body has 2 (allocs 1, frees 1, reallocs 0)",
    ),
    ("# events: many\na 0 8\n", 1, "bad events count 'many'"),
    ("# canonical allocation trace, format v2: 'a <id> <size>'\na 0 8\n", 1, "unsupported trace format"),
    ("# align 0 16\na 0 8\n", 1, "align for id '0', which is not allocated yet"),
    ("a 0 8\n# align 0 12\n", 2, "bad alignment '12': not a power of two"),
    ("a 0 8\n# align 0\n", 2, "'# align' takes 2 fields (# align <id> <alignment>), got 1"),
    ("a 0 8\n# align 0 16\n# align 0 32\n", 3, "second align for id 0"),
    ("a 0 8\n# align x 16\n", 2, "bad id 'x'"),
    (b"a 0 8\nf 0\x00\n", 2, "NUL byte"),
    (b"a 0 8\n# caf\xe9\n", 2, "byte 0xe9 is not UTF-8 text"),
    (b"\xff\xfe\x00\x01", 1, "NUL byte"),
    (b"\x89PNG\r\n\x1a\n", 1, "byte 0x89 is not UTF-8"),
    ("a 0 8\n#" + "x" * MAX_LINE + "\n", 2, f"line longer than {MAX_LINE} bytes"),
    ("a 0 8\n" + "9" * (MAX_LINE + 1), 2, f"line longer than {MAX_LINE} bytes"),
    ("a 0 8\nf" + " " * MAX_LINE + "0\n", 2, f"line longer than {MAX_LINE} bytes"),
    ("\n\na 0 8\n\nf 3\n", 5, "free of id '3'"),  # blank lines are counted
    ("a 0 8\r\nf 1\r\n", 2, "free of id '1'"),  # CRLF line ends
    ("a\t0\t8\nf  1\n", 2, "free of id '1'"),  # any whitespace between fields
]


@pytest.mark.parametrize(("content", "line", "fragment"), MALFORMED, ids=[repr(m[0])[:40] for m in MALFORMED])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_malformed_raises_trace_error_naming_file_and_line(
    tmp_path: Path, content: str | bytes, line: int, fragment: str, gz: bool
) -> None:
    path = put(tmp_path, content, gz=gz)
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, rangealloc.AllocError)


# The body errors: a bad "# events" header line is reported at the end of the file, not where it is.
MALFORMED_BODY = [m for m in MALFORMED if not (isinstance(m[0], str) and m[0].startswith("# events"))]


@pytest.mark.parametrize(
    ("content", "line", "fragment"), MALFORMED_BODY, ids=[repr(m[0])[:40] for m in MALFORMED_BODY]
)
def test_malformed_after_a_header_counts_the_header_lines(
    tmp_path: Path, content: str | bytes, line: int, fragment: str
) -> None:
    data = HEAD.encode() + (content.encode() if isinstance(content, str) else content)
    path = put(tmp_path, data)
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert str(info.value).startswith(f"{path}:{line + 1}: ")
    assert fragment in str(info.value)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("where", [1, 30_000, 119_999])
def test_errors_far_into_a_trace_name_the_exact_line(tmp_path: Path, gz: bool, where: int) -> None:
    """Past the first chunks (256 KiB each), line numbers stay exact, in the fast and the slow path."""
    events: list[Event] = []
    for k in range(60_000):
        events += [("a", k, 1 + k % 700), ("f", k, 0)]
    lines = render(events).splitlines(keepends=True)
    lines[where - 1] = "f 999999\n"
    path = put(tmp_path, "".join(lines), gz=gz)
    for context in (mock.MagicMock(), slow_only()):
        with context, pytest.raises(TraceError) as info:
            list(read_trace(path))
        assert str(info.value).startswith(f"{path}:{where}: "), str(info.value)


def test_a_blank_line_mid_trace_costs_nothing_but_speed(tmp_path: Path) -> None:
    events: list[Event] = [("a", k, 5) for k in range(50_000)]
    lines = render(events).splitlines(keepends=True)
    lines.insert(30_000, "\n")
    lines.insert(10_000, "   \t\n")
    lines.insert(100, "# just a comment: not header\n")
    trace = read_trace(put(tmp_path, "".join(lines)))
    assert list(trace) == events
    assert trace.meta == {}


def outcome(path: Path) -> tuple[str, object]:
    try:
        return ("ok", read_all(path))
    except TraceError as error:
        return ("error", str(error))


#: Inputs where the fast path must not accept what the reference parser rejects (or the reverse).
CORNERS: list[str] = [
    "a 0 8\nf " + "0" * (MAX_LINE + 10) + "\n",  # a long line made of one zero-padded id
    "a 0 8\nf " + "0" * 60 + "\n",  # zero padding is not a digit: this is id 0
    "a 0 8\nr 0 " + "0" * 60 + "9\n",
    "a 0 " + "0" * 50 + "7\n",
    "a 0 8\nf\t" + "0" * (MAX_LINE + 10) + "\n",
    "a 0 8\n# align 0 " + str(2**200) + "\n",  # a power of two, with more than 40 digits
    "a 0 8\n# align 0 " + "0" * 50 + "64\n",
    "a 00 8\na 1 8\n",
    "a 0 8\nf 0 \n",
    "a 0 8 \nf 0\n",
    " a 0 8\n f 0\n",
    "a 0 8\nf 0\n\n",
    "a 0 8\nf \xd9\xa3\n",  # a non-ASCII digit
]


@pytest.mark.parametrize("text", CORNERS, ids=[repr(c)[:30] for c in CORNERS])
def test_fast_and_reference_paths_agree_on_corner_cases(tmp_path: Path, text: str) -> None:
    path = put(tmp_path, text.encode("latin-1") if "\xd9" in text else text)
    fast = outcome(path)
    with slow_only():
        assert outcome(path) == fast


def test_zero_padded_numbers_are_accepted_up_to_the_line_cap(tmp_path: Path) -> None:
    path = put(tmp_path, "a 0 " + "0" * 100 + "7\nf " + "0" * 3000 + "\n")
    assert read_all(path)[0] == [("a", 0, 7), ("f", 0, 0)]


def gz_truncated(data: bytes) -> bytes:
    return gzip.compress(data)[:-30]


def gz_corrupt(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data))
    for k in range(20, 60):
        packed[k] ^= 0x55
    return bytes(packed)


def gz_bad_crc(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[:-8] + b"\0\0\0\0" + packed[-4:]


GZIP_ERRORS: list[tuple[Callable[[bytes], bytes], str]] = [
    (gz_truncated, "truncated gzip stream"),
    (gz_corrupt, "corrupt gzip stream"),
    (gz_bad_crc, "corrupt gzip stream: CRC check failed"),
    (lambda data: gzip.compress(data) + b"trailing junk", "corrupt gzip stream: Not a gzipped file"),
    (lambda data: b"\x1f\x8b", "truncated gzip stream"),
    (lambda data: b"\x1f\x8b\x08\x00garbage-garbage", "gzip stream"),
]


@pytest.mark.parametrize(("damage", "fragment"), GZIP_ERRORS)
def test_broken_gzip_is_a_trace_error_at_line_0(
    tmp_path: Path, damage: Callable[[bytes], bytes], fragment: str
) -> None:
    text = render([("a", k, 8) for k in range(20_000)]).encode()
    path = put(tmp_path, damage(text), "t.trace.gz")
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert str(info.value).startswith(f"{path}:0: ")
    assert fragment in str(info.value)


def test_missing_or_unreadable_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_trace(tmp_path / "nope.trace")
    with pytest.raises(IsADirectoryError):
        read_trace(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n\n", f"{FORMAT_LINE}\n# program: x\n".encode(), b"# only\n"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_empty_and_header_only_files_are_empty_traces(tmp_path: Path, content: bytes, gz: bool) -> None:
    trace = read_trace(put(tmp_path, content, gz=gz))
    assert trace.format == "canonical"
    assert list(trace) == []
    assert trace.peak_live() == 0


def test_accepted_variants_of_the_canonical_syntax(tmp_path: Path) -> None:
    """Whitespace, CRLF, leading zeros, comments anywhere: the same events."""
    text = "  a 0 8\r\na\t1   16 \n\n# note\na 002 4\nf 00\nr 1 032\n#align is a plain comment\n"
    assert read_all(put(tmp_path, text))[0] == [
        ("a", 0, 8),
        ("a", 1, 16),
        ("a", 2, 4),
        ("f", 0, 0),
        ("r", 1, 32),
    ]


# ------------------------------------------------------- Trace behaviour


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("jq.trace.gz", "jq"),
        ("run.log", "run"),
        ("x.txt", "x"),
        ("a.b.trace", "a.b"),
        ("plain", "plain"),
        ("z.gz", "z"),
        (".trace", ".trace"),
    ],
)
def test_trace_name(tmp_path: Path, filename: str, name: str) -> None:
    assert read_trace(put(tmp_path, "a 0 1\n", filename)).name == name


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        ("a 0 1\n", "canonical"),
        ("# header: x\n\na 0 1\n", "canonical"),
        ("= Start\n", "mtrace"),
        ("@ [0x1] + 0x10 0x8\n", "mtrace"),
        ("# a comment\n+ 0x10 0x8\n", "mtrace"),
        ("garbage\n", "canonical"),
    ],
)
@pytest.mark.parametrize("filename", ["t.trace.gz", "t.log", "t"])
def test_format_is_detected_from_the_content(tmp_path: Path, content: str, fmt: str, filename: str) -> None:
    trace = read_trace(put(tmp_path, content, filename, gz=filename.endswith(".gz")))
    assert trace.format == fmt
    assert repr(trace) == f"Trace({str(trace.path)!r}, format={fmt!r})"


def test_each_pass_rereads_the_file(tmp_path: Path) -> None:
    path = put(tmp_path, "a 0 1\na 1 2\n")
    trace = read_trace(path)
    assert list(trace) == [("a", 0, 1), ("a", 1, 2)]
    path.write_text("a 0 5\n")
    assert list(trace) == [("a", 0, 5)]
    assert list(trace) == [("a", 0, 5)]


def test_meta_is_filled_before_the_first_event(tmp_path: Path) -> None:
    trace = read_trace(put(tmp_path, "# program: demo\n# note: a: b\na 0 1\n"))
    for _ in trace:
        assert trace.meta == {"program": "demo", "note": "a: b"}
        break


def boundary_text(fmt: str) -> tuple[str, int]:
    """A trace whose ``a`` line for id ``k`` ends exactly at the end of the first read block.

    Its align note then starts the second block: the reader must hold the event back.
    Returns the text and ``k``.
    """
    block = trace_module._BLOCK
    lines = []
    size = 0
    k = 0
    while size < block - MAX_LINE // 2:
        line = f"a {k} 8\n" if fmt == "canonical" else f"+ {0x1000 + 16 * k:#x} 0x8\n"
        lines.append(line)
        size += len(line)
        k += 1
    last = f"a {k} 8\n" if fmt == "canonical" else f"+ {0x1000 + 16 * k:#x} 0x8\n"
    pad = block - size - len(last)
    assert 2 <= pad <= MAX_LINE
    note = f"# align {k} 64\n" if fmt == "canonical" else f"# align-request {0x1000 + 16 * k:#x} 64\n"
    text = "".join(lines) + "#" + "x" * (pad - 2) + "\n" + last + note + "f 0\n" * (fmt == "canonical")
    assert len(text[:block].encode()) == block and text[:block].endswith(last)
    return text, k


@pytest.mark.parametrize("fmt", ["canonical", "mtrace"])
@pytest.mark.parametrize("path_kind", ["fast", "slow"])
def test_align_is_known_before_its_event_even_across_chunks(tmp_path: Path, fmt: str, path_kind: str) -> None:
    text, k = boundary_text(fmt)
    trace = read_trace(put(tmp_path, text))
    assert trace.format == fmt
    seen = False
    with slow_only() if path_kind == "slow" else mock.MagicMock():
        for op, ident, _ in trace:
            if op == "a" and ident == k:
                assert trace.aligns == {k: 64}
                seen = True
    assert seen


def test_peak_live_from_the_header_or_one_pass(tmp_path: Path) -> None:
    with_header = read_trace(put(tmp_path, "# peak_live_bytes: 999 (made up)\na 0 5\n", "h.trace"))
    assert with_header.peak_live() == 999
    computed = read_trace(put(tmp_path, "a 0 5\na 1 7\nf 0\nr 1 20\na 2 1\n", "c.trace"))
    assert computed.peak_live() == 21
    with mock.patch.object(trace_module, "_peak_of", side_effect=AssertionError("not cached")):
        assert computed.peak_live() == 21


def test_peak_live_of_a_broken_trace_raises_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="double free"):
        read_trace(put(tmp_path, "a 0 5\nf 0\nf 0\n")).peak_live()


def test_reading_stops_where_the_consumer_stops(tmp_path: Path) -> None:
    """Iteration is lazy: the error at the end is not met by a consumer that stops early."""
    path = put(tmp_path, render([("a", k, 3) for k in range(100_000)]) + "bad line\n")
    first = []
    for event in read_trace(path):
        first.append(event)
        if len(first) == 3:
            break
    assert first == [("a", 0, 3), ("a", 1, 3), ("a", 2, 3)]


# ------------------------------------------------------------------ mtrace

MTRACE_LOG = """\
= Start
@ ./prog:[0x4005b6] + 0x1000 0x28
@ ./prog:(main+0x1c)[0x4005d2] + 0x2000 0x10
@ /lib/x86_64-linux-gnu/libc.so.6:(__libc_start_main+0xea)[0x7f12] < 0x1000
@ /lib/x86_64-linux-gnu/libc.so.6:(__libc_start_main+0xea)[0x7f12] > 0x3000 0x50
@ [0x4005e0] - 0x2000
@ /opt/my app/bin/prog:[0x400600] + 0x4000 0x8
+ 0x5000 0x18
- 0x5000
= End
"""


def test_mtrace_log_reads_as_events(tmp_path: Path) -> None:
    trace = read_trace(put(tmp_path, MTRACE_LOG, "prog.mtrace"))
    assert trace.format == "mtrace"
    assert list(trace) == [
        ("a", 0, 40),
        ("a", 1, 16),
        ("r", 0, 80),
        ("f", 1, 0),
        ("a", 2, 8),
        ("a", 3, 24),
        ("f", 3, 0),
    ]
    assert (trace.dropped_frees, trace.implicit_frees, trace.realloc_of_unknown_as_alloc) == (0, 0, 0)
    assert (trace.zero_size_as_1, trace.failed_calls) == (0, 0)
    assert trace.meta == {} and trace.aligns == {}


#: (log lines, events, counters (dropped, implicit, realloc_unknown, zero, failed))
MTRACE_CASES: list[tuple[str, list[Event], tuple[int, int, int, int, int]]] = [
    ("- 0x9999\n", [], (1, 0, 0, 0, 0)),  # a free of a block allocated before tracing
    ("- (nil)\n- 0\n- 0x0\n", [], (0, 0, 0, 0, 0)),  # free(NULL)
    ("+ 0x10 0x8\n+ 0x10 0x4\n", [("a", 0, 8), ("f", 0, 0), ("a", 1, 4)], (0, 1, 0, 0, 0)),
    ("< 0x10\n> 0x20 0x8\n", [("a", 0, 8)], (0, 0, 1, 0, 0)),  # realloc of an unknown block
    ("+ 0x10 0\n", [("a", 0, 1)], (0, 0, 0, 1, 0)),  # malloc(0)
    ("+ 0x10 0x0\n", [("a", 0, 1)], (0, 0, 0, 1, 0)),
    ("+ (nil) 0x10\n", [], (0, 0, 0, 0, 1)),  # failed malloc
    ("+ 0x10 0x8\n! 0x10 0x100\n- 0x10\n", [("a", 0, 8), ("f", 0, 0)], (0, 0, 0, 0, 1)),  # failed realloc
    ("+ 0x10 0x8\n< 0x10\n", [("a", 0, 8), ("f", 0, 0)], (0, 0, 0, 0, 0)),  # '<' alone at the end
    ("+ 0x10 0x8\n< 0x10\n+ 0x20 0x4\n", [("a", 0, 8), ("f", 0, 0), ("a", 1, 4)], (0, 0, 0, 0, 0)),
    ("< 0x10\n= End\n", [], (1, 0, 0, 0, 0)),  # realloc(p, 0) of an unknown block
    ("+ 0x10 0x8\n< 0x10\n> 0x10 0x0\n", [("a", 0, 8), ("r", 0, 1)], (0, 0, 0, 1, 0)),
    ("+ 0x10 0x8\n< 0x10\n> (nil) 0x80\n", [("a", 0, 8)], (0, 0, 0, 0, 1)),
    (
        "+ 0x10 0x8\n+ 0x20 0x8\n< 0x10\n> 0x20 0x18\n",  # the realloc lands on a block thought live
        [("a", 0, 8), ("a", 1, 8), ("f", 1, 0), ("r", 0, 24)],
        (0, 1, 0, 0, 0),
    ),
    (
        "+ 0x10 0x8\n< 0x10\n> 0x20 0x18\n- 0x10\n- 0x20\n",  # the id follows the block
        [("a", 0, 8), ("r", 0, 24), ("f", 0, 0)],
        (1, 0, 0, 0, 0),
    ),
    ("< (nil)\n> 0x20 0x18\n", [("a", 0, 24)], (0, 0, 0, 0, 0)),  # realloc(NULL, n)
    ("+ 0X1F 0X10\n- 0x1f\n", [("a", 0, 16), ("f", 0, 0)], (0, 0, 0, 0, 0)),
    ("= Start\n= End\n= Start\n+ 0x10 7\n= End\n", [("a", 0, 7)], (0, 0, 0, 0, 0)),
    ("+ 0x10 0x8\n# align-request 0x10 64\n# align-request 0x99 32\n", [("a", 0, 8)], (0, 0, 0, 0, 0)),
    ("\n+ 0x10 0x8\n\n# raw_call_counts: malloc=1\n- 0x10\n", [("a", 0, 8), ("f", 0, 0)], (0, 0, 0, 0, 0)),
]


@pytest.mark.parametrize(("log", "events", "counters"), MTRACE_CASES, ids=[c[0][:30] for c in MTRACE_CASES])
def test_mtrace_semantics(
    tmp_path: Path, log: str, events: list[Event], counters: tuple[int, int, int, int, int]
) -> None:
    trace = read_trace(put(tmp_path, "= Start\n" + log if not log.startswith("=") else log, "m.log"))
    assert trace.format == "mtrace"
    assert list(trace) == events
    found = (
        trace.dropped_frees,
        trace.implicit_frees,
        trace.realloc_of_unknown_as_alloc,
        trace.zero_size_as_1,
        trace.failed_calls,
    )
    assert found == counters
    list(trace)  # a second pass starts the counters again
    assert found == (
        trace.dropped_frees,
        trace.implicit_frees,
        trace.realloc_of_unknown_as_alloc,
        trace.zero_size_as_1,
        trace.failed_calls,
    )


def test_mtrace_align_request_notes_fill_aligns(tmp_path: Path) -> None:
    trace = read_trace(put(tmp_path, "= Start\n+ 0x10 0x8\n# align-request 0x10 64\n+ 0x20 0x8\n", "m.log"))
    assert list(trace) == [("a", 0, 8), ("a", 1, 8)]
    assert trace.aligns == {0: 64}


def test_mtrace_leading_comments_are_its_meta(tmp_path: Path) -> None:
    trace = read_trace(put(tmp_path, "# recorder: shim\n# events: not checked here\n= Start\n", "m.log"))
    assert trace.header() == {"recorder": "shim", "events": "not checked here"}
    assert list(trace) == []
    assert trace.meta == {"recorder": "shim", "events": "not checked here"}


MTRACE_MALFORMED: list[tuple[str, int, str]] = [
    ("> 0x10 0x8\n", 2, "'>' line without the '<' line before it"),
    ("+ 0x10 0x8\n- 0x10\n> 0x20 0x8\n", 4, "'>' line without the '<' line"),
    ("+ zz 0x8\n", 2, "bad address 'zz'"),
    ("+ 0x10 lots\n", 2, "bad size 'lots'"),
    ("+ 0x10 -8\n", 2, "bad size '-8'"),
    ("+ 0x10\n", 2, "'+' takes 2 field(s), got 1"),
    ("- 0x10 0x8\n", 2, "'-' takes 1 field(s), got 2"),
    ("* 0x10\n", 2, "unknown mtrace line '* 0x10'"),
    ("= Begin\n", 2, "bad mtrace marker '= Begin'"),
    ("@ [0x1]\n", 2, "no mtrace operation in '@ [0x1]'"),
    ("@ nowhere + 0x10 0x8\n", 2, "bad caller"),
    ("! 0x10 zz\n", 2, "bad size 'zz'"),
    ("+ 0x10 0x8\n# align-request 0x10 48\n", 3, "bad alignment '48'"),
    ("+ 0x10 0x8\n# align-request 0x10\n", 3, "'# align-request' takes 2 fields"),
    ("+ 0x" + "f" * 50 + " 0x8\n", 2, "bad address"),
    ("- 0x10" + " " * MAX_LINE + "\n", 2, "line longer than"),
]


@pytest.mark.parametrize(
    ("log", "line", "fragment"), MTRACE_MALFORMED, ids=[m[0][:30] for m in MTRACE_MALFORMED]
)
def test_mtrace_malformed(tmp_path: Path, log: str, line: int, fragment: str) -> None:
    path = put(tmp_path, "= Start\n" + log, "m.log")
    with pytest.raises(TraceError) as info:
        list(read_trace(path))
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert fragment in str(info.value)


def test_mtrace_gzip_and_many_chunks(tmp_path: Path) -> None:
    lines = ["= Start\n"]
    expected: list[Event] = []
    for k in range(40_000):
        lines.append(f"@ ./p:[0x40{k % 10}] + {0x10000 + 32 * k:#x} {k % 50:#x}\n")
        expected.append(("a", k, max(k % 50, 1)))
        if k % 3 == 0:
            lines.append(f"@ ./p:[0x500] - {0x10000 + 32 * k:#x}\n")
            expected.append(("f", k, 0))
    trace = read_trace(put(tmp_path, "".join(lines), "big.mtrace.gz", gz=True))
    assert trace.name == "big.mtrace"
    assert list(trace) == expected
    assert trace.zero_size_as_1 == 800


# --------------------------------------------------------------- Recorder


def replay_offsets(
    events: list[Event], aligns: dict[int, int], allocator: Allocator
) -> list[tuple[int, int]]:
    """Replay ``events`` on ``allocator`` (ids -> offsets); return its blocks."""
    where: dict[int, int] = {}
    for op, ident, size in events:
        if op == "a":
            where[ident] = allocator.alloc(size, aligns.get(ident, 1))
        elif op == "f":
            allocator.free(where.pop(ident))
        else:
            where[ident] = allocator.realloc(where[ident], size)
    return list(allocator.blocks())


def test_recorder_records_the_successful_calls() -> None:
    recorder = Recorder(FirstFit(64))
    a = recorder.alloc(10)
    b = recorder.alloc(8, align=16)
    recorder.free(a)
    b = recorder.realloc(b, 20)
    c = recorder.reserve(40, 4)
    assert recorder.events == [("a", 0, 10), ("a", 1, 8), ("f", 0, 0), ("r", 1, 20), ("a", 2, 4)]
    assert recorder.aligns == {1: 16}
    recorder.clear()
    assert recorder.events[-2:] == [("f", 1, 0), ("f", 2, 0)]  # address order: b (16) then c (40)
    assert len(recorder) == 0 and c == 40


def test_recorder_realloc_id_follows_the_block() -> None:
    recorder = Recorder(FirstFit(64))
    a = recorder.alloc(8)
    recorder.alloc(8)  # a cannot grow in place: realloc moves it
    moved = recorder.realloc(a, 16)
    assert moved != a
    recorder.free(moved)
    assert recorder.events == [("a", 0, 8), ("a", 1, 8), ("r", 0, 16), ("f", 0, 0)]


def test_recorder_records_ints_for_int_like_arguments() -> None:
    recorder = Recorder(FirstFit(64))
    offset = recorder.alloc(IntLike(5), align=IntLike(4))
    recorder.realloc(IntLike(offset), IntLike(7))
    recorder.free(IntLike(offset))
    assert recorder.events == [("a", 0, 5), ("r", 0, 7), ("f", 0, 0)]
    assert all(type(value) is int for event in recorder.events for value in event[1:])
    assert recorder.aligns == {0: 4}


def busy_recorder() -> Recorder:
    recorder = Recorder(FirstFit(32))
    first = recorder.alloc(8)
    recorder.alloc(8, align=8)
    recorder.free(first)
    recorder.alloc(4)
    return recorder


FAILING: list[tuple[str, Callable[[Recorder], object], type[BaseException]]] = [
    ("alloc too large", lambda r: r.alloc(100), OutOfSpace),
    ("alloc size 0", lambda r: r.alloc(0), ValueError),
    ("alloc bad type", lambda r: r.alloc("8"), TypeError),  # type: ignore[arg-type]
    ("alloc bad align", lambda r: r.alloc(4, align=3), ValueError),
    ("free non-block", lambda r: r.free(1), InvalidBlock),
    ("free of a hole", lambda r: r.free(20), InvalidBlock),
    ("realloc non-block", lambda r: r.realloc(3, 4), InvalidBlock),
    ("realloc too large", lambda r: r.realloc(8, 30), OutOfSpace),
    ("realloc size 0", lambda r: r.realloc(8, 0), ValueError),
    ("reserve used", lambda r: r.reserve(8, 2), OutOfSpace),
    ("reserve outside", lambda r: r.reserve(30, 8), ValueError),
    ("grow smaller", lambda r: r.grow(16), ValueError),
]


@pytest.mark.parametrize(("what", "call", "error"), FAILING, ids=[f[0] for f in FAILING])
def test_a_failing_call_records_nothing_and_changes_nothing(
    what: str, call: Callable[[Recorder], object], error: type[BaseException]
) -> None:
    recorder = busy_recorder()
    events, aligns, state = recorder.events, recorder.aligns, snapshot(recorder.allocator)
    with pytest.raises(error):
        call(recorder)
    assert recorder.events == events
    assert recorder.aligns == aligns
    assert snapshot(recorder.allocator) == state
    recorder.free(recorder.alloc(1))  # and it still records afterwards
    assert recorder.events[-2:] == [("a", 3, 1), ("f", 3, 0)]


def test_recorder_delegates_everything_else() -> None:
    allocator = FirstFit(64)
    recorder = Recorder(allocator)
    offset = recorder.alloc(10)
    assert recorder.allocator is allocator
    assert recorder.name == "first-fit"
    assert (recorder.capacity, recorder.used, recorder.available) == (64, 10, 54)
    assert recorder.size_of(offset) == 10
    assert list(recorder.blocks()) == list(allocator.blocks()) == [(0, 10)]
    assert list(recorder.holes()) == [(10, 54)]
    assert recorder.stats() == allocator.stats()
    recorder.check()
    assert len(recorder) == 1 and offset in recorder and 5 not in recorder
    recorder.grow(128)
    assert allocator.capacity == 128
    assert recorder.events == [("a", 0, 10)]  # grow is not recorded
    assert repr(recorder) == f"Recorder({allocator!r}, events=1)"


def test_recorder_events_are_a_copy() -> None:
    recorder = Recorder(FirstFit(16))
    recorder.alloc(4)
    recorder.events.clear()
    recorder.aligns[0] = 8
    assert recorder.events == [("a", 0, 4)] and recorder.aligns == {}


def test_recorder_starts_with_the_blocks_already_live() -> None:
    allocator = FirstFit(64)
    allocator.reserve(30, 4)
    allocator.alloc(6)
    recorder = Recorder(allocator)
    recorder.free(30)
    assert recorder.events == [("a", 0, 6), ("a", 1, 4), ("f", 1, 0)]


def test_recorder_save_reads_back(tmp_path: Path) -> None:
    recorder = busy_recorder()
    path = tmp_path / "rec.trace.gz"
    assert recorder.save(path, meta={"workload": "unit test", "capacity": "32 slots"}) == 4
    trace = read_trace(path)
    assert list(trace) == recorder.events
    assert trace.aligns == recorder.aligns == {1: 8}
    assert trace.meta["recorder"] == "rangealloc.Recorder"
    assert trace.meta["policy"] == "first-fit"
    assert trace.meta["capacity"] == "32 slots"  # meta overrides the defaults
    assert trace.meta["workload"] == "unit test"
    assert len(trace.meta["date"]) == 10


@settings(max_examples=25)
@given(
    policy=st.sampled_from(sorted(POLICIES)),
    steps=st.lists(st.tuples(st.sampled_from("aafr"), st.integers(0, 99), st.integers(1, 40)), max_size=60),
)
def test_a_saved_recording_replays_to_the_same_layout(
    tmp_path_factory: pytest.TempPathFactory, policy: str, steps: list[tuple[str, int, int]]
) -> None:
    recorder = Recorder(POLICIES[policy](1024))
    live: list[int] = []
    for kind, pick, size in steps:
        with contextlib.suppress(OutOfSpace):  # a failing call is simply not in the trace
            if kind == "a" or not live:
                live.append(recorder.alloc(size, align=1 << (pick % 4)))
            elif kind == "f":
                recorder.free(live.pop(pick % len(live)))
            else:
                index = pick % len(live)
                live[index] = recorder.realloc(live[index], size)
    path = tmp_path_factory.mktemp("rec") / "r.trace"
    recorder.save(path)
    trace = read_trace(path)
    events = list(trace)
    assert events == recorder.events
    assert replay_offsets(events, trace.aligns, POLICIES[policy](1024)) == list(recorder.blocks())


# ------------------------------------------------------- write validation

#: (events, fragment); the message starts with "event <index>: ", the index of the last event
BAD_EVENTS: list[tuple[list[Any], str]] = [
    ([("a", 1, 5)], "'a' introduces id 1, expected 0"),
    ([("a", 0, 0)], "size must be > 0, got 0"),
    ([("a", 0, -3)], "size must be > 0, got -3"),
    ([("a", 0, 5), ("f", 0, 1)], "'f' takes size 0, got 1"),
    ([("a", 0, 5), ("f", 0, 0), ("f", 0, 0)], "free of id 0, which was already freed"),
    ([("f", 3, 0)], "free of id 3, which was never allocated (next id is 0)"),
    ([("a", 0, 5), ("f", -1, 0)], "free of id -1, which was never allocated"),
    ([("r", 0, 5)], "realloc of id 0, which was never allocated"),
    ([("a", 0, 5), ("f", 0, 0), ("r", 0, 5)], "realloc of id 0, which was already freed"),
    ([("a", 0, 5), ("r", 0, 0)], "size must be > 0, got 0"),
    ([("x", 0, 5)], "op must be 'a', 'f' or 'r', got 'x'"),
    ([("a", 0)], "expected a tuple (op, id, size), got ('a', 0)"),
    ([5], "expected a tuple (op, id, size), got 5"),
    ([("a", "0", 5)], "id must be an int, got str '0'"),
    ([("a", 0, 2.5)], "size must be an int, got float 2.5"),
    ([("a", True, 5)], "id must be an int, got bool True"),
]


@pytest.mark.parametrize(("events", "fragment"), BAD_EVENTS, ids=[repr(b[0])[:40] for b in BAD_EVENTS])
@pytest.mark.parametrize("name", ["t.trace", "t.trace.gz"])
def test_write_trace_rejects_bad_events_and_leaves_no_file(
    tmp_path: Path, events: list[Any], fragment: str, name: str
) -> None:
    with pytest.raises(ValueError) as info:
        write_trace(events, tmp_path / name)
    assert str(info.value).startswith(f"event {len(events) - 1}: ")
    assert fragment in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    write_trace(EVENTS, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="event 1"):
        write_trace(iter([("a", 0, 1), ("a", 0, 1)]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.trace"]


def test_write_trace_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.trace.gz"
    write_trace(EVENTS, path)
    write_trace(EVENTS[:1], path)
    assert list(read_trace(path)) == EVENTS[:1]


def test_written_file_mode_follows_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_trace(EVENTS, tmp_path / "t.trace")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "t.trace").stat().st_mode) == 0o644


def test_write_trace_accepts_int_likes_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    write_trace([["a", IntLike(0), IntLike(9)], ("f", 0, 0)], path)  # type: ignore[list-item]
    assert list(read_trace(path)) == [("a", 0, 9), ("f", 0, 0)]


@pytest.mark.parametrize(
    ("meta", "aligns", "error", "fragment"),
    [
        ({"bad key": "x"}, None, ValueError, "meta key 'bad key'"),
        ({"": "x"}, None, ValueError, "meta key ''"),
        ({"k": "two\nlines"}, None, ValueError, "a header value is one line"),
        ({"k": "cr\r"}, None, ValueError, "a header value is one line"),
        ({"k": 5}, None, TypeError, "meta['k'] must be a str, got int 5"),
        (None, {0: 3}, ValueError, "aligns[0] = 3: an alignment is a positive power of two"),
        (None, {0: 0}, ValueError, "aligns[0] = 0"),
        (None, {0: True}, ValueError, "aligns[0] = True"),
        (None, {7: 16}, ValueError, "aligns names id 7, which no 'a' event introduces"),
        (None, {"0": 16}, ValueError, "aligns names id '0'"),
    ],
)
def test_write_trace_rejects_bad_meta_and_aligns(
    tmp_path: Path, meta: Any, aligns: Any, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error) as info:
        write_trace(EVENTS, tmp_path / "t.trace", meta=meta, aligns=aligns)
    assert fragment in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_computed_header_keys_replace_given_ones(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    write_trace(EVENTS, path, meta={"events": "1000", "peak_live_bytes": "5", "program": "p"})
    trace = read_trace(path)
    assert list(trace) == EVENTS
    assert trace.meta["events"].startswith("6 ")
    assert trace.peak_live() == 48
    assert list(trace.meta) == ["program", "events", "peak_live_bytes", "peak_live_blocks", "live_at_end"]


def test_write_trace_streams_a_generator_once(tmp_path: Path) -> None:
    def events() -> Iterator[Event]:
        for k in range(70_000):
            yield ("a", k, 1 + k % 3)
        for k in range(70_000):
            yield ("f", k, 0)

    path = tmp_path / "big.trace.gz"
    assert write_trace(events(), path) == 140_000
    trace = read_trace(path)
    assert sum(1 for _ in trace) == 140_000
    assert trace.peak_live() == sum(1 + k % 3 for k in range(70_000))


def test_trace_is_exported_with_its_companions() -> None:
    for name in ("Event", "Recorder", "Trace", "TraceError", "read_trace", "write_trace"):
        assert name in rangealloc.__all__
    assert isinstance(read_trace(BUNDLED[0]), Trace)
