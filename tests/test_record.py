"""``rangealloc.record``: the shim records real programs; where recording cannot work, it says why.

The recording tests compile the shim and small C programs with the machine's
compiler and run them; they are skipped (with the reason) where recording is
not possible here.  The error-path tests always run: they fake the platform
when the check under test comes after it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rangealloc import AllocError
from rangealloc.record import (
    RecordError,
    RecordResult,
    build_shim,
    check_platform,
    find_compiler,
    record,
)
from rangealloc.trace import Event, read_trace


def _cannot_record() -> str | None:
    """Why this machine cannot record (the message ``record`` would raise), or None."""
    try:
        check_platform()
        find_compiler()
    except RecordError as error:
        return str(error)
    return None


CANNOT_RECORD = _cannot_record()
needs_recording = pytest.mark.skipif(CANNOT_RECORD is not None, reason=f"cannot record here: {CANNOT_RECORD}")

# malloc, calloc, realloc (moves or not: always an 'r'), posix_memalign over 16, realloc(NULL, n) and
# realloc(p, 0), free(NULL), malloc(0), aligned_alloc, memalign at 16, valloc, then frees in another order.
SEQUENCE_C = r"""
#include <malloc.h>
#include <stdlib.h>
int main(void) {
    char *a = malloc(100);
    int *b = calloc(10, 4);
    a = realloc(a, 1000);
    void *c = NULL;
    if (posix_memalign(&c, 64, 48) != 0) return 99;
    char *d = realloc(NULL, 7);
    d = realloc(d, 0);
    free(NULL);
    void *e = malloc(0);
    void *f = aligned_alloc(32, 64);
    void *g = memalign(16, 10);
    void *h = valloc(5);
    free(b);
    free(a);
    free(c);
    free(e);
    free(f);
    free(g);
    free(h);
    return d == NULL ? 7 : 98;
}
"""

SEQUENCE_EVENTS: list[Event] = [
    ("a", 0, 100),
    ("a", 1, 40),
    ("r", 0, 1000),
    ("a", 2, 48),
    ("a", 3, 7),
    ("f", 3, 0),
    ("a", 4, 1),  # malloc(0)
    ("a", 5, 64),
    ("a", 6, 10),
    ("a", 7, 5),
    ("f", 1, 0),
    ("f", 0, 0),
    ("f", 2, 0),
    ("f", 4, 0),
    ("f", 5, 0),
    ("f", 6, 0),
    ("f", 7, 0),
]

THREADS_C = r"""
#include <pthread.h>
#include <stdlib.h>
#define THREADS 8
#define ROUNDS 5000
static void *work(void *arg) {
    void *keep[8] = {0};
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int k = i & 7;
        free(keep[k]);
        keep[k] = malloc(16 + i % 200);
        if (i % 5 == 0)
            keep[k] = realloc(keep[k], 300 + i % 50);
    }
    for (int k = 0; k < 8; k++)
        free(keep[k]);
    return NULL;
}
int main(void) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    return 0;
}
"""

# The child's calls are not recorded, only the parent's.
FORK_C = r"""
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    void *a = malloc(111);
    pid_t pid = fork();
    if (pid == 0) {
        void *c = malloc(222);
        free(c);
        free(a);
        exit(0);
    }
    waitpid(pid, NULL, 0);
    void *b = malloc(333);
    free(b);
    free(a);
    return 0;
}
"""


@pytest.fixture(scope="module", autouse=True)
def shim_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache directory of this module's own: the shim is built once here, not in ``~/.cache``."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("xdg-cache")
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache / "rangealloc"


@pytest.fixture
def linux_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the platform check pass, so that the checks after it are tested on any machine."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: ("glibc", "2.36"))


def try_compile(tmp_path: Path, name: str, source: str, *flags: str) -> Path | None:
    """Compile ``source`` to ``tmp_path/name`` (no builtins: every malloc stays a call); None if it fails."""
    (tmp_path / f"{name}.c").write_text(source)
    program = tmp_path / name
    command = [
        *find_compiler(),
        "-O0",
        "-fno-builtin",
        "-o",
        str(program),
        str(tmp_path / f"{name}.c"),
        *flags,
    ]
    done = subprocess.run(command, capture_output=True, check=False)
    return program if done.returncode == 0 else None


def compile_c(tmp_path: Path, name: str, source: str, *flags: str) -> Path:
    """``try_compile``, which must succeed."""
    program = try_compile(tmp_path, name, source, *flags)
    assert program is not None, f"compiling {name}.c failed"
    return program


def events_of(result: RecordResult) -> list[Event]:
    """The events of the trace ``record`` wrote."""
    return list(read_trace(result.trace))


def assert_valid(events: Sequence[Event]) -> None:
    """Ids in sequence from 0, frees and resizes of live ids only, sizes > 0."""
    live: set[int] = set()
    next_id = 0
    for op, ident, size in events:
        if op == "a":
            assert (ident, size > 0) == (next_id, True)
            live.add(ident)
            next_id += 1
        elif op == "f":
            assert ident in live, f"free of {ident}, not live"
            live.remove(ident)
        else:
            assert (op, ident in live, size > 0) == ("r", True, True)


def assert_log_valid(log: Path) -> int:
    """Every ``-`` and ``<`` of the raw mtrace log names a live address, every ``+``/``>`` a free one.

    Returns the number of records.  This is the recorder's own order, before the
    converter (which would drop a free of an unknown address) sees it.
    """
    live: set[int] = set()
    records = 0
    for line in log.read_text().splitlines():
        if not line.startswith("@ "):
            continue
        records += 1
        op, address = line.split()[2:4]
        if op in "+>":
            assert int(address, 16) not in live, line
            live.add(int(address, 16))
        else:
            assert int(address, 16) in live, line
            live.remove(int(address, 16))
    return records


# ---- recording real programs ----------------------------------------------------------------------


@needs_recording
def test_the_shim_is_built_once_into_the_cache(shim_cache: Path) -> None:
    first = build_shim()
    assert first.parent == shim_cache
    assert first.name.startswith("shim-") and first.suffix == ".so"
    built = first.stat().st_mtime_ns
    assert build_shim() == first
    assert first.stat().st_mtime_ns == built  # reused, not rebuilt
    assert [p.name for p in shim_cache.iterdir()] == [first.name]  # no temporary left behind


@needs_recording
def test_a_known_sequence_gives_exact_events(tmp_path: Path) -> None:
    program = compile_c(tmp_path, "sequence", SEQUENCE_C)
    result = record([str(program)], tmp_path / "sequence.trace.gz", keep_log=True)
    assert result.returncode == 7  # the program's own status, passed through
    assert result.command == (str(program),)
    assert result.trace == tmp_path / "sequence.trace.gz"
    assert result.events == len(SEQUENCE_EVENTS)
    trace = read_trace(result.trace)
    assert list(trace) == SEQUENCE_EVENTS
    meta = trace.meta
    assert (meta["program"], meta["command"], meta["exit_status"]) == ("sequence", str(program), "7")
    assert meta["recorder"].startswith("rangealloc record ")
    assert meta["truncated"] == "no"
    assert meta["dropped_unknown_frees"].startswith("0 ")
    assert meta["zero_size_requests_as_1"] == "1"
    assert meta["raw_call_counts"] == (
        "malloc=2 calloc=1 realloc=3 reallocarray=0 free=7 free_null=1 memalign=1 posix_memalign=1 "
        "aligned_alloc=1 valloc=1 pvalloc=0 failed=0 logged_events=17"
    )
    # posix_memalign 64, aligned_alloc 32, valloc (memalign 16 is no request over 16); the mtrace
    # reader skips the shim's '# align-request' notes, so the trace carries them only if it learns to
    assert meta["aligned_allocs_over_16"].startswith("3")
    assert trace.aligns in ({}, {2: 64, 5: 32, 7: os.sysconf("SC_PAGESIZE")})
    # the raw log, kept beside the trace: mtrace records, realloc as a '<' '>' pair, alignment notes
    assert result.log == tmp_path / "sequence.mtrace"
    lines = result.log.read_text().splitlines()
    assert lines[0] == "= Start" and lines[-1] == "= End"
    ops = [line.split()[2] for line in lines if line.startswith("@ ")]
    assert ops == ["+", "+", "<", ">", "+", "+", "-", "+", "+", "+", "+", *["-"] * 7]
    assert sum(line.startswith("# align-request 0x") for line in lines) == 3
    assert any(line.startswith("# raw_call_counts: malloc=2 calloc=1 realloc=3 ") for line in lines)


@needs_recording
def test_a_python_run_gives_a_valid_trace(tmp_path: Path) -> None:
    script = "import json; json.loads(json.dumps({str(i): [i] * 3 for i in range(2000)}))"
    result = record([sys.executable, "-c", script], tmp_path / "py.trace")
    assert result.returncode == 0
    assert result.log is None
    assert not list(tmp_path.glob("*.mtrace"))
    events = events_of(result)
    assert len(events) == result.events > 100
    assert_valid(events)
    assert not (tmp_path / "py.trace").read_bytes().startswith(b"\x1f\x8b")  # plain text: no .gz


@needs_recording
def test_threads_are_serialised_into_one_valid_order(tmp_path: Path) -> None:
    program = compile_c(tmp_path, "threads", THREADS_C, "-pthread")
    result = record([str(program)], tmp_path / "threads.trace.gz", keep_log=True)
    assert result.returncode == 0
    assert result.log is not None
    assert assert_log_valid(result.log) >= 8 * 5000 * 2
    trace = read_trace(result.trace)
    events = list(trace)
    assert_valid(events)
    assert (trace.dropped_frees, trace.implicit_frees) == (0, 0)  # no free before its alloc
    assert sum(op == "a" for op, _, _ in events) >= 8 * 5000


@needs_recording
def test_a_forked_child_is_not_recorded(tmp_path: Path) -> None:
    program = compile_c(tmp_path, "fork", FORK_C)
    result = record([str(program)], tmp_path / "fork.trace")
    assert events_of(result) == [("a", 0, 111), ("a", 1, 333), ("f", 1, 0), ("f", 0, 0)]


@needs_recording
def test_a_program_exec_d_by_the_recorded_process_is_what_is_recorded(tmp_path: Path) -> None:
    env = shutil.which("env")
    if env is None:
        pytest.skip("no env(1) on PATH")
    program = compile_c(tmp_path, "sequence", SEQUENCE_C)
    result = record([env, "RANGEALLOC_TEST=1", str(program)], tmp_path / "env.trace")
    assert result.returncode == 7
    assert events_of(result) == SEQUENCE_EVENTS  # not env's own calls


@needs_recording
def test_exit_status_and_signals_are_passed_through(tmp_path: Path) -> None:
    # dash leaves through _exit: the shim flushes there too
    assert record(["sh", "-c", "exit 3"], tmp_path / "exit3.trace").returncode == 3
    killed = record(["sh", "-c", "kill -9 $$"], tmp_path / "killed.trace")
    assert killed.returncode == -9
    assert_valid(events_of(killed))  # a prefix of the run: whatever reached the file
    assert read_trace(killed.trace).header()["truncated"].startswith("yes, the log has no exit marker")


@needs_recording
def test_ld_preload_is_prepended_and_an_outer_recording_does_not_silence_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LD_PRELOAD", "libm.so.6")
    monkeypatch.setenv("RANGEALLOC_TRACE_PID", "1")
    seen = tmp_path / "preload.txt"
    result = record(["sh", "-c", f'printf %s "$LD_PRELOAD" > {seen}'], tmp_path / "sh.trace")
    assert seen.read_text() == f"{build_shim()}:libm.so.6"
    assert result.events > 0


@needs_recording
def test_a_static_program_is_refused_after_it_ran(tmp_path: Path) -> None:
    program = try_compile(
        tmp_path, "static", "#include <stdlib.h>\nint main(void){free(malloc(9));}", "-static"
    )
    if program is None:
        pytest.skip("no static C library to link a static program with")
    with pytest.raises(RecordError, match=r"logged nothing.*statically linked"):
        record([str(program)], tmp_path / "static.trace")
    assert not (tmp_path / "static.trace").exists()


# ---- where recording is not possible: always run --------------------------------------------------


def test_record_error_is_an_alloc_error_and_a_runtime_error() -> None:
    assert issubclass(RecordError, AllocError)
    assert issubclass(RecordError, RuntimeError)


def test_not_linux_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(RecordError, match=r"needs Linux with glibc.*'darwin'"):
        record(["true"], tmp_path / "t.trace")


def test_not_glibc_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: ("", ""))
    with pytest.raises(RecordError, match=r"needs glibc.*unknown C library \(musl\?\)"):
        record(["true"], tmp_path / "t.trace")


@pytest.mark.usefixtures("linux_glibc")
def test_a_missing_compiler_given_by_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"C compiler '/nonexistent/cc' not found"):
        record([sys.executable, "-c", "pass"], tmp_path / "t.trace", cc="/nonexistent/cc")
    assert not (tmp_path / "t.trace").exists()


@pytest.mark.usefixtures("linux_glibc")
def test_no_compiler_on_path_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(RecordError, match=r"no C compiler was found \(tried \$CC \(unset\), cc, gcc, clang"):
        record([sys.executable, "-c", "pass"], tmp_path / "t.trace")


@pytest.mark.usefixtures("linux_glibc")
def test_cc_from_the_environment_is_tried_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", f"{sys.executable} -x")
    assert find_compiler() == [shutil.which(sys.executable), "-x"]


@pytest.mark.usefixtures("linux_glibc")
def test_a_failing_build_is_refused_with_the_compiler_s_message(tmp_path: Path, shim_cache: Path) -> None:
    broken = tmp_path / "broken-cc"
    broken.write_text("#!/bin/sh\necho 'shim.c:1: error: no glibc here' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(RecordError, match=r"(?s)building the recording shim failed.*no glibc here"):
        record([sys.executable, "-c", "pass"], tmp_path / "t.trace", cc=str(broken))
    assert not list(shim_cache.glob("*.tmp"))  # the half-built library is removed


@pytest.mark.usefixtures("linux_glibc")
def test_a_missing_command_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"command not found: 'no-such-program-rangealloc' is not on PATH"):
        record(["no-such-program-rangealloc"], tmp_path / "t.trace")
    with pytest.raises(RecordError, match=r"command not found: '/no/such/program'"):
        record(["/no/such/program"], tmp_path / "t.trace")
    with pytest.raises(RecordError, match=r"no command to record"):
        record([], tmp_path / "t.trace")


@pytest.mark.usefixtures("linux_glibc")
def test_an_unwritable_output_is_refused_before_the_command_runs(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(ran)!r}, 'w')"]
    with pytest.raises(RecordError, match=r"directory '.*/missing' does not exist"):
        record(command, tmp_path / "missing" / "t.trace")
    assert not ran.exists()
