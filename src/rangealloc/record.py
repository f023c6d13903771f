"""Record a real program's allocation trace: ``record(["ls", "-l"], "ls.trace.gz")``.

Recording needs Linux with glibc and a C compiler.  The first call builds a
tiny LD_PRELOAD interposer, ``data/shim.c`` (read it for what it logs and its
limits), into a cache directory; every call then runs the command with it
preloaded and converts the log it writes to the canonical trace format
(``rangealloc.trace``)::

    record(["python3", "-c", "..."], "py.trace.gz")
        |
        |  1. check: Linux, glibc, a C compiler, the command exists
        |  2. build once:  cc -O2 -shared -fPIC -o ~/.cache/rangealloc/shim-<hash>.so shim.c -ldl -pthread
        |  3. run:         LD_PRELOAD=shim-<hash>.so[:$LD_PRELOAD] RANGEALLOC_TRACE_FILE=<tmp log> command
        |                  (stdin, stdout, stderr passed through; the exit status returned)
        v  4. convert:     mtrace log  ->  'a <id> <size>' / 'f <id>' / 'r <id> <size>' + header
    RecordResult(command, returncode, trace, events, log)

The shim logs every call of the malloc family (``malloc``, ``calloc``,
``realloc``, ``reallocarray``, ``free``, ``memalign``, ``posix_memalign``,
``aligned_alloc``, ``valloc``, ``pvalloc``) in glibc mtrace(3) format, under
one lock, so the order is valid for threaded programs too.  Only the
process that was started is recorded (after ``exec`` by that same process,
the program it became): children made by ``fork`` are not.

The cache is ``$XDG_CACHE_HOME/rangealloc`` (or ``~/.cache/rangealloc``),
else a private directory under the system temp directory; the library's name
is keyed by a hash of the shim's source, the compiler and the machine, so a
new compiler or a new shim builds a new one.  It is built under a temporary
name and renamed into place, so concurrent first runs are safe.

What a recording does not see: statically linked and set-user-id programs
(the dynamic loader ignores ``LD_PRELOAD`` for them: the shim then logs
nothing and ``record`` says so), memory a runtime takes without malloc
(CPython's pymalloc arenas: set ``PYTHONMALLOC=malloc`` to see every object;
mmap'd arenas of other runtimes), and child processes.

The header names the ``program``, the ``command``, the ``date``, the
``recorder`` and the ``exit_status``, with the reader's counters
(``dropped_unknown_frees``, ``realloc_of_unknown_as_alloc``,
``implicit_frees``, ``zero_size_requests_as_1``), ``aligned_allocs_over_16``
and the shim's ``raw_call_counts``; ``truncated: yes, ...`` marks a log
without the shim's exit marker (a program killed by a signal: its last calls
are missing).  Alignments over 16 are noted in the mtrace log, as
``# align-request <address> <alignment>`` lines, but ``rangealloc.trace``
skips those notes, so a recorded trace counts them in its header and has no
``# align`` lines.

Cost: each call of the malloc family takes a lock and writes about 40 bytes
of log, some 100 ns (x86-64, log on disk; a bare malloc/free takes 10-15):
a malloc-bound program runs up to a few times slower, most programs well
under 2x.  The conversion, in Python, takes 4-7 microseconds per event and
holds the events meanwhile, 17 bytes each; the log takes about 40 bytes
per event in the temp directory until then.

Errors: ``RecordError`` (an ``AllocError`` and a ``RuntimeError``) says what
is missing and what to do: not Linux, not glibc, no compiler, a build that
fails, a command that cannot be found, a program the shim could not log.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ._errors import AllocError

__all__ = ["RecordError", "RecordResult", "build_shim", "find_compiler", "record"]

#: Environment variable naming the file the shim writes its log to.
TRACE_FILE_VAR = "RANGEALLOC_TRACE_FILE"
#: Environment variable holding the recorded pid: the shim writes it into ``PID_SLOT``, in place,
#: so that the processes the command starts know they are not the one recorded.
TRACE_PID_VAR = "RANGEALLOC_TRACE_PID"
PID_SLOT = "0" * 20
#: Flags of the shim's build (the compiler reads the source from stdin: ``-x c -``).
CFLAGS = ("-O2", "-shared", "-fPIC")
LIBS = ("-ldl", "-pthread")
#: Compilers tried, in order, after ``$CC``.
COMPILERS = ("cc", "gcc", "clang")


class RecordError(AllocError, RuntimeError):
    """Recording is not possible here, or failed: the message says what is missing and what to do."""


@dataclass(frozen=True)
class RecordResult:
    """One recording: the command, its exit status, the trace written and its size.

    ``returncode`` is the command's exit status, negative ``-N`` if signal N
    killed it (the ``subprocess`` convention).  ``events`` counts the events
    of the trace (its ``a``, ``f`` and ``r`` lines).  ``log`` is the raw
    mtrace log if it was kept (``keep_log=True``), else None.
    """

    command: tuple[str, ...]
    returncode: int
    trace: Path
    events: int
    log: Path | None


def record(
    command: Sequence[str],
    out: str | os.PathLike[str],
    *,
    cc: str | None = None,
    keep_log: bool = False,
) -> RecordResult:
    """Run ``command`` with the malloc shim preloaded and write its allocation trace to ``out``.

    ``out`` is gzip-compressed if it ends in ``.gz``.  The command runs in
    the foreground with this process's stdin, stdout and stderr and
    environment (plus ``LD_PRELOAD`` and ``RANGEALLOC_TRACE_FILE``); its
    exit status is returned, not raised, whatever it is.  ``cc`` names the C
    compiler used for the first build (default: ``$CC``, then ``cc``,
    ``gcc``, ``clang`` on ``PATH``).  With ``keep_log`` the raw mtrace log
    is kept beside ``out`` (``ls.trace.gz`` -> ``ls.mtrace``).

    Time: the command's run, slowed by the logging (one lock and about 40
    bytes per call), plus O(calls) to convert the log.

    Raises ``RecordError`` if recording is not possible (not Linux, not
    glibc, no C compiler, the build fails), if the command cannot be found
    or started, if the output directory does not exist, or if the shim
    logged nothing (a static or set-user-id program).  ``OSError`` if the
    trace cannot be written; ``TraceError`` only if the log is malformed
    (a bug: record again with ``keep_log`` and report the log).

    >>> result = record(["ls", "/"], "ls.trace.gz")  # doctest: +SKIP
    >>> result.returncode, result.events > 0  # doctest: +SKIP
    (0, True)
    """
    argv = tuple(os.fspath(arg) for arg in command)
    if not argv:
        raise RecordError("no command to record: give the program and its arguments")
    check_platform()
    executable = _find_command(argv[0])
    out_path = Path(out)
    _check_output(out_path)
    shim = build_shim(cc)
    log_path = _log_path_for(out_path) if keep_log else None
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="rangealloc-", suffix=".mtrace")
        os.close(handle)
        log = Path(name)
    else:
        log = log_path
    try:
        returncode = _run(argv, executable, shim, log)
        events = _convert(log, out_path, argv, returncode, shim)
    finally:
        if log_path is None:
            log.unlink(missing_ok=True)
    return RecordResult(command=argv, returncode=returncode, trace=out_path, events=events, log=log_path)


def check_platform() -> None:
    """Raise ``RecordError`` unless this is Linux with glibc (what the LD_PRELOAD shim needs).

    Time: O(1) (``platform.libc_ver`` reads the interpreter's binary once).
    """
    if not sys.platform.startswith("linux"):
        raise RecordError(
            f"recording needs Linux with glibc (an LD_PRELOAD interposer of glibc's malloc); this is "
            f"{sys.platform!r}: record on a Linux machine, then copy the trace (or its mtrace log) here"
        )
    libc, version = platform.libc_ver()
    if libc != "glibc":
        found = f"{libc} {version}".strip() or "an unknown C library (musl?)"
        raise RecordError(
            f"recording needs glibc (the shim calls glibc's __libc_malloc family); this Linux has "
            f"{found}: record on a glibc distribution (Debian, Ubuntu, Fedora...), or in a glibc container"
        )


def find_compiler(cc: str | None = None) -> list[str]:
    """Return the C compiler command to build the shim with, as an argument list.

    ``cc`` (a name on ``PATH`` or a path, possibly with options: ``"gcc -m64"``)
    is the only candidate when given; otherwise ``$CC``, then ``cc``, ``gcc``
    and ``clang`` are tried in turn.

    Time: O(1) lookups on ``PATH``.  Raises ``RecordError`` if none is found.

    >>> find_compiler("/nonexistent/cc")
    Traceback (most recent call last):
    ...
    rangealloc.record.RecordError: C compiler '/nonexistent/cc' not found: ...
    """
    if cc is not None:
        candidates = [cc]
    else:
        env_cc = os.environ.get("CC", "").strip()
        candidates = [*([env_cc] if env_cc else []), *COMPILERS]
    for candidate in candidates:
        found = shutil.which(candidate)  # a path with spaces, before splitting off options
        if found is not None:
            return [found]
        words = shlex.split(candidate)
        found = shutil.which(words[0]) if words else None
        if found is not None:
            return [found, *words[1:]]
    if cc is not None:
        raise RecordError(
            f"C compiler {cc!r} not found: give the path of a working C compiler (gcc or clang), "
            f"or none to use $CC, cc, gcc or clang from PATH"
        )
    env_cc = os.environ.get("CC", "").strip()
    tried = ", ".join([f"$CC ({env_cc!r})" if env_cc else "$CC (unset)", *COMPILERS])
    raise RecordError(
        f"recording builds a small C library on first use and no C compiler was found "
        f"(tried {tried} on PATH): install one (Debian/Ubuntu: apt install gcc; Fedora: dnf install "
        f"gcc) or give its path"
    )


def build_shim(cc: str | None = None) -> Path:
    """Return the path of the compiled shim, building it first if this compiler has not yet.

    The library is cached (see the module) under a name keyed by the shim's
    source, the compiler (its path, size and date) and the machine.

    Time: O(1) when cached; one compiler run (about 0.2 s) otherwise.
    Raises ``RecordError`` if there is no compiler or the build fails.
    """
    compiler = find_compiler(cc)
    source = (resources.files("rangealloc") / "data" / "shim.c").read_bytes()
    target = _cache_dir() / f"shim-{_build_key(source, compiler)}.so"
    if target.is_file():
        return target
    handle, name = tempfile.mkstemp(prefix=target.stem + "-", suffix=".so.tmp", dir=target.parent)
    os.close(handle)
    command = [*compiler, *CFLAGS, "-o", name, "-x", "c", "-", *LIBS]
    try:
        try:
            done = subprocess.run(command, input=source, capture_output=True, check=False)
        except OSError as error:
            raise RecordError(
                f"the C compiler {compiler[0]} could not be run ({error.strerror}): "
                f"check it with `{compiler[0]} --version`, or give another one"
            ) from None
        if done.returncode != 0:
            messages = done.stderr.decode(errors="replace").strip().splitlines()
            tail = "\n".join(messages[-12:]) or "(no message)"
            raise RecordError(
                f"building the recording shim failed ({shlex.join(command)} exited with "
                f"{done.returncode}); the compiler said:\n{tail}\n"
                f"Check that the compiler and glibc's headers work (Debian/Ubuntu: apt install gcc "
                f"libc6-dev), or give another compiler"
            )
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
    return target


def _build_key(source: bytes, compiler: Sequence[str]) -> str:
    """Return 16 hex digits naming one build: source, compiler, flags, machine and C library.

    Time: O(len(source)).

    >>> len(_build_key(b"int x;", ["/usr/bin/cc"]))
    16
    """
    digest = hashlib.sha256(source)
    for part in (*compiler, *CFLAGS, *LIBS, platform.machine(), *platform.libc_ver()):
        digest.update(b"\0" + part.encode())
    try:
        info = os.stat(compiler[0])
        digest.update(f"\0{os.path.realpath(compiler[0])}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    except OSError:
        pass
    return digest.hexdigest()[:16]


def _cache_dir() -> Path:
    """Return a writable directory of this user's for the built shim, creating it if needed.

    ``$XDG_CACHE_HOME/rangealloc`` or ``~/.cache/rangealloc``; failing that
    (unwritable, or a path ``LD_PRELOAD`` cannot carry: it splits on spaces
    and colons), ``<tmp>/rangealloc-<uid>`` if it is this user's alone; else
    a new private temp directory.  Time: O(1).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    home = Path(base) / "rangealloc"
    if _usable(home):
        return home
    shared = Path(tempfile.gettempdir()) / f"rangealloc-{os.getuid()}"
    try:
        shared.mkdir(mode=0o700, exist_ok=True)
        info = shared.lstat()
    except OSError:
        pass
    else:
        private = stat.S_ISDIR(info.st_mode) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if private and info.st_uid == os.getuid() and _usable(shared):
            return shared
    return Path(tempfile.mkdtemp(prefix="rangealloc-"))


def _usable(directory: Path) -> bool:
    """True if ``directory`` exists or can be made, is writable and fits in ``LD_PRELOAD``.

    >>> _usable(Path("/a b/c"))
    False
    """
    if any(char in str(directory) for char in " \t\n:"):
        return False
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _find_command(name: str) -> str:
    """Return the path ``name`` runs (looked up on ``PATH`` if it has no slash), or raise ``RecordError``.

    Time: O(entries of PATH).

    >>> _find_command("/nonexistent/prog")
    Traceback (most recent call last):
    ...
    rangealloc.record.RecordError: command not found: '/nonexistent/prog' (no such file)
    """
    if os.sep in name:
        if not os.path.exists(name):
            raise RecordError(f"command not found: {name!r} (no such file)")
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise RecordError(f"command cannot be run: {name!r} is not an executable file")
        return name
    found = shutil.which(name)
    if found is None:
        raise RecordError(f"command not found: {name!r} is not on PATH (give its path, or install it)")
    return found


def _check_output(out: Path) -> None:
    """Raise ``RecordError`` now, before the command runs, if ``out`` cannot be written."""
    parent = out.parent
    if not parent.is_dir():
        raise RecordError(f"cannot write the trace to {str(out)!r}: directory {str(parent)!r} does not exist")
    if out.is_dir():
        raise RecordError(f"cannot write the trace to {str(out)!r}: it is a directory")
    if not os.access(parent, os.W_OK):
        raise RecordError(
            f"cannot write the trace to {str(out)!r}: directory {str(parent)!r} is not writable"
        )


def _log_path_for(out: Path) -> Path:
    """Return where a kept mtrace log goes: beside ``out``, its name without ``.gz``/``.trace``.

    >>> _log_path_for(Path("runs/ls.trace.gz")).as_posix()
    'runs/ls.mtrace'
    >>> _log_path_for(Path("ls.txt")).as_posix()
    'ls.txt.mtrace'
    """
    name = out.name
    for suffix in (".gz", ".trace"):
        name = name.removesuffix(suffix)
    return out.with_name((name or out.name) + ".mtrace")


def _run(argv: tuple[str, ...], executable: str, shim: Path, log: Path) -> int:
    """Run the command with the shim preloaded, logging to ``log``; return its exit status."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = ":".join(part for part in (str(shim), env.get("LD_PRELOAD", "")) if part)
    env[TRACE_FILE_VAR] = str(log)
    env[TRACE_PID_VAR] = PID_SLOT  # also replaces an enclosing recording's pid, which would silence this one
    try:
        return subprocess.run(list(argv), executable=executable, env=env, check=False).returncode
    except OSError as error:
        raise RecordError(f"cannot run {argv[0]!r}: {error.strerror or error}") from None


def _convert(log: Path, out: Path, argv: tuple[str, ...], returncode: int, shim: Path) -> int:
    """Convert the shim's mtrace ``log`` to the canonical trace ``out``; return its event count.

    ``rangealloc.trace`` reads the log (addresses become ids).  Its counters
    are only known after a pass and the header is written first, so the
    events are held meanwhile in three arrays (17 bytes per event) rather
    than read twice.

    Time: O(lines of the log).  Raises ``RecordError`` if the log is empty
    (the shim never ran in the command's process).
    """
    if log.stat().st_size == 0:  # the shim writes "= Start" as soon as it opens the log
        raise RecordError(
            f"{argv[0]!r} ran (exit status {returncode}) but the shim logged nothing: it is probably "
            f"statically linked or set-user-id (the dynamic loader ignores LD_PRELOAD for those; "
            f"`file {argv[0]}` tells), built for another architecture, or it cleared LD_PRELOAD before "
            f"starting the real program; record a dynamically linked build of it"
        )
    from . import __version__  # noqa: PLC0415  # the package imports nothing of this module's
    from .trace import read_trace, write_trace  # noqa: PLC0415  # only needed once the command ran

    trace = read_trace(log)
    ops = bytearray()
    ids = array("q")
    sizes = array("q")
    add_op, add_id, add_size = ops.append, ids.append, sizes.append
    for op, ident, size in trace:
        add_op(ord(op))
        add_id(ident)
        add_size(size)
    tail = _log_tail(log)
    aligned = _count_lines(log, b"# align-request ")
    meta = {
        "program": _one_line(os.path.basename(argv[0])),
        "command": _one_line(shlex.join(argv)),
        "date": datetime.date.today().isoformat(),
        "recorder": f"rangealloc record {__version__}: LD_PRELOAD interposer {shim.name} (mtrace-format log)",
        "exit_status": str(returncode),
        "truncated": "no",
        "dropped_unknown_frees": f"{trace.dropped_frees} (frees of blocks the shim did not see allocated)",
        "realloc_of_unknown_as_alloc": str(trace.realloc_of_unknown_as_alloc),
        "implicit_frees": str(trace.implicit_frees),
        "zero_size_requests_as_1": str(trace.zero_size_as_1),
        "aligned_allocs_over_16": str(aligned),
    }
    if b"\n= End\n" not in tail:
        meta["truncated"] = (
            "yes, the log has no exit marker: the program ended without exit or _exit (killed by a "
            "signal?), so its last calls (up to 64 KiB of log) are missing"
        )
    if len(trace.aligns) < aligned:
        meta["aligned_allocs_over_16"] += " (their alignments are in the mtrace log, not in this trace)"
    found = re.search(rb"^# raw_call_counts: ([^\n]*)$", tail, re.MULTILINE)
    if found is not None:
        meta["raw_call_counts"] = found[1].decode("ascii", "replace")
    events = zip(map(chr, ops), ids, sizes, strict=True)
    return write_trace(events, out, meta=meta, aligns=trace.aligns)


def _one_line(text: str) -> str:
    """Return ``text`` as one printable line for a header: control characters escaped, as Python does.

    Bytes that were not UTF-8 (``os.fsdecode``'s surrogates) come out as ``\\xNN``.  Time: O(len(text)).

    >>> print(_one_line("python3 -c 'import os\\nprint(1)'"))
    python3 -c 'import os\\nprint(1)'
    >>> print(_one_line("caf\\udcc3"))
    caf\\xc3
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text
    )


def _log_tail(log: Path, size: int = 1 << 20) -> bytes:
    """Return the last ``size`` bytes of ``log`` (all of it if smaller).  Time: O(size)."""
    with open(log, "rb") as stream:
        stream.seek(0, os.SEEK_END)
        stream.seek(max(0, stream.tell() - size))
        return stream.read()


def _count_lines(log: Path, start: bytes) -> int:
    """Count the lines of ``log`` that begin with ``start``.  Time: O(size of the log), in C."""
    needle = b"\n" + start
    count = 0
    carry = b"\n"  # the first line counts too
    with open(log, "rb") as stream:
        while block := stream.read(1 << 20):
            data = carry + block
            count += data.count(needle)
            carry = data[-len(needle) + 1 :]
    return count
