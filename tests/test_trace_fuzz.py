"""Fuzzing the trace reader: any input is read or raises ``TraceError``, never anything else.

Inputs: random bytes (plain, gzip-wrapped, behind the gzip magic), truncated
gzip streams of valid traces, and valid canonical traces and mtrace logs
mutated line by line (deleted, duplicated, swapped lines, flipped bytes,
inserted garbage tokens).  Two oracles on top of "no other exception":

* the canonical reader's fast path agrees exactly with its reference (slow)
  path: the same events, aligns and meta, or the same error message;
* whatever reads without error is a valid event sequence: ``write_trace``,
  which validates, accepts it.

Every example is small (a few KB) and has a deadline, so a hang or a
quadratic path shows up as a failure; the whole file takes a few seconds.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trace import event_lists, render, slow_only

import rangealloc.trace as trace_module
from rangealloc import TraceError, read_trace, write_trace
from rangealloc.trace import FORMAT_LINE

#: 120 examples per test in CI (a few seconds for the file); more under ``HYPOTHESIS_PROFILE=long``.
FUZZ = settings(
    max_examples=max(120, settings().max_examples),
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Tokens that look almost right, or plainly wrong, to the reader.
GARBAGE: list[bytes] = [
    b"-1",
    b"+1",
    b"1_0",
    b"0x10",
    b"\xd9\xa3",  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not to bytes.isdigit
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"#",
    b"a",
    b"f",
    b"r",
    b"9" * 50,
    b"   ",
    b"\t",
    b"\r",
    b"\n",
    b"\x0b",
    b"# align 0 16",
    b"# align 1 3",
    b"# events: 3",
    b"# events: x",
    b"# canonical allocation trace, format v9",
    b"0",
    b"007",
    b"",
    b"1e3",
    b"(nil)",
    b"@",
    b"@ [0x1]",
    b"<",
    b">",
    b"= Start",
    b"0xfffffffffffffffffffffffffffff",
    b"x" * 5000,
    b"0" * 60,
    b"0" * 4100 + b"5",
    b"0" * 45 + b"64",
    b"a 0 1",
    b"f 0",
    b"r 0 9",
    b"+ 0x10 0x8",
    b"- 0x10",
    b"# align-request 0x10 64",
]

mutations = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "swap", "flip", "insert", "replace"]),
        st.integers(0, 1 << 16),
        st.integers(0, 1 << 16),
        st.sampled_from(GARBAGE),
    ),
    min_size=1,
    max_size=4,
)


def mutate(text: bytes, changes: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply line-level changes to ``text``."""
    lines = text.split(b"\n")
    for kind, i, j, token in changes:
        k = i % len(lines)
        if kind == "delete" and len(lines) > 1:
            del lines[k]
        elif kind == "duplicate":
            lines.insert(k, lines[k])
        elif kind == "swap":
            m = j % len(lines)
            lines[k], lines[m] = lines[m], lines[k]
        elif kind == "flip" and lines[k]:
            line = bytearray(lines[k])
            line[j % len(line)] ^= 1 << (i % 8)
            lines[k] = bytes(line)
        elif kind == "insert":
            lines.insert(k, token)
        else:  # replace one whitespace-separated field by the token
            fields = lines[k].split(b" ")
            fields[j % len(fields)] = token
            lines[k] = b" ".join(fields)
    return b"\n".join(lines)


Outcome = tuple[str, object, object, object]


def outcome(path: Path) -> Outcome:
    """What reading ``path`` gives: ("ok", events, aligns, meta) or ("error", message, ...)."""
    try:
        trace = read_trace(path)
        events = list(trace)
    except TraceError as error:
        return ("error", str(error), None, None)
    return ("ok", events, dict(trace.aligns), dict(trace.meta))


def check(path: Path, *, canonical_oracle: bool = True) -> Outcome:
    """Read ``path``: TraceError or success; fast == slow; a success is a valid sequence."""
    found = outcome(path)
    if canonical_oracle:
        with slow_only():
            assert outcome(path) == found, "the fast path and the reference path disagree"
    if found[0] == "ok":
        events = found[1]
        aligns = found[2]
        assert isinstance(events, list) and isinstance(aligns, dict)
        write_trace(events, path.with_name("check.trace"), aligns=aligns)  # validates; raises if invalid
    return found


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=st.binary(max_size=3000), wrap=st.sampled_from(["plain", "gzip", "magic"]))
def test_random_bytes(folder: Path, data: bytes, wrap: str) -> None:
    if wrap == "gzip":
        data = gzip.compress(data)
    elif wrap == "magic":
        data = b"\x1f\x8b" + data
    path = folder / "random.trace"
    path.write_bytes(data)
    check(path)


@FUZZ
@given(events=event_lists(max_size=200), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_gzip(folder: Path, events: list[trace_module.Event], cut: float) -> None:
    packed = gzip.compress(render(events).encode())
    path = folder / "cut.trace.gz"
    path.write_bytes(packed[: int(len(packed) * cut)])
    found = check(path)
    if cut and int(len(packed) * cut) > 10:
        assert found[0] == "error" and ":0: " in str(found[1])


@FUZZ
@given(
    events=event_lists(max_size=60),
    changes=mutations,
    shape=st.tuples(st.booleans(), st.booleans()),
    data=st.data(),
)
def test_mutated_canonical(
    folder: Path,
    events: list[trace_module.Event],
    changes: list[tuple[str, int, int, bytes]],
    shape: tuple[bool, bool],
    data: st.DataObject,
) -> None:
    header, gz = shape
    allocated = [ident for op, ident, _ in events if op == "a"]
    aligns = (
        data.draw(st.dictionaries(st.sampled_from(allocated), st.sampled_from([32, 64]))) if allocated else {}
    )
    head = f"{FORMAT_LINE}\n# program: fuzz\n# events: {len(events)}\n" if header else ""
    text = mutate((head + render(events, aligns)).encode(), changes)
    path = folder / "mutated.trace"
    path.write_bytes(gzip.compress(text) if gz else text)
    check(path)


@FUZZ
@given(text=st.text(alphabet="aafrr0123456789   \n\n\t#-+_x", max_size=400))
def test_near_miss_canonical_text(folder: Path, text: str) -> None:
    """Text made only of the canonical format's own characters, and a few wrong ones."""
    path = folder / "near.trace"
    path.write_text(text)
    check(path)


mtrace_ops = st.lists(
    st.tuples(
        st.sampled_from(["+", "+", "-", "<>", "<", "!", "+nil", "-nil", "=", "note"]),
        st.integers(1, 6),
        st.integers(1, 6),
        st.integers(0, 300),
        st.sampled_from(["", "@ [0x4005b6] ", "@ ./prog:(main+0x1c)[0x4005d2] ", "@ /my dir/p:[0x1] "]),
    ),
    max_size=40,
)


def render_mtrace(ops: list[tuple[str, int, int, int, str]]) -> bytes:
    lines = ["= Start"]
    for kind, a, b, size, caller in ops:
        old, new = f"{0x1000 * a:#x}", f"{0x1000 * b:#x}"
        if kind == "+":
            lines.append(f"{caller}+ {old} {size:#x}")
        elif kind == "-":
            lines.append(f"{caller}- {old}")
        elif kind == "<>":
            lines += [f"{caller}< {old}", f"{caller}> {new} {size:#x}"]
        elif kind == "<":
            lines.append(f"{caller}< {old}")
        elif kind == "!":
            lines.append(f"{caller}! {old} {size:#x}")
        elif kind == "+nil":
            lines.append(f"{caller}+ (nil) {size:#x}")
        elif kind == "-nil":
            lines.append(f"{caller}- (nil)")
        elif kind == "=":
            lines.append("= End")
        else:
            lines.append(f"# align-request {old} {1 << (size % 8)}")
    return ("\n".join(lines) + "\n").encode()


@FUZZ
@given(ops=mtrace_ops)
def test_mtrace_logs_read_to_valid_traces(folder: Path, ops: list[tuple[str, int, int, int, str]]) -> None:
    path = folder / "log.mtrace"
    path.write_bytes(render_mtrace(ops))
    found = check(path, canonical_oracle=False)
    assert found[0] == "ok", found[1]


@FUZZ
@given(ops=mtrace_ops, changes=mutations, gz=st.booleans())
def test_mutated_mtrace(
    folder: Path,
    ops: list[tuple[str, int, int, int, str]],
    changes: list[tuple[str, int, int, bytes]],
    gz: bool,
) -> None:
    text = mutate(render_mtrace(ops), changes)
    path = folder / "mutated.mtrace"
    path.write_bytes(gzip.compress(text) if gz else text)
    check(path, canonical_oracle=False)
