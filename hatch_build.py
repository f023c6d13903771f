"""The opt-in compiled build: ``RANGEALLOC_COMPILE=1 pip install .`` compiles the core with mypyc.

Without the variable (or with ``RANGEALLOC_COMPILE=0``) this hook does nothing
and asks for nothing: the wheel is the pure-Python one, built without mypy or a
C compiler.  With it, the wheel target also gets mypy, setuptools and the stubs
mypy needs as build dependencies, compiles ``COMPILED`` into C extensions (one
shared library, ``rangealloc__mypyc``, and a small module per compiled file)
and tags the wheel for this interpreter and platform.  The ``.py`` files stay
in the wheel beside the extensions, which Python imports first;
``rangealloc.COMPILED`` tells which are running.  An editable install stays
pure Python (it runs the sources in place).

Every module of the package is listed once, here: either compiled, or excluded
with the reason; the compiled build stops on a module that is in neither list.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The variable that turns the compiled build on (any value but "" and "0").
ENV = "RANGEALLOC_COMPILE"

#: The modules compiled, in ``src/rangealloc/``.
COMPILED = [
    "_base.py",
    "_bits.py",
    "_holes.py",
    "_addrtree.py",
    "first_fit.py",
    "next_fit.py",
    "bitmap.py",
    "tlsf.py",
    "buddy.py",
    "_snapshot.py",
    "heap.py",
]

#: The modules left as Python, and why.
EXCLUDED = {
    "__init__.py": "the package's namespace: imports and COMPILED, run once",
    "__main__.py": "`python -m rangealloc` runs it as a script, which a compiled module cannot be",
    "_mypyc.py": "the stand-in for mypyc_attr that plain Python runs; compiled, that branch is one "
    "mypy calls unreachable, which mypyc turns into a RuntimeError",
    "_errors.py": "the exceptions have two built-in bases (OutOfSpace is a MemoryError, InvalidBlock a "
    "ValueError), which native classes cannot have; its checks run only for arguments that are "
    "not plain ints, off the hot paths",
    "_registry.py": "a dict and create(), called once per allocator: nothing to speed up, and create() "
    "checks its str argument itself (compiled, mypyc would check the annotation first, with "
    "another message)",
    "_workloads.py": "the timing harness, the call floor and the naive baseline: the instrument stays "
    "the same in both builds, so that each build's figures are multiples of its own floor "
    "measured by the same loop",
    "best_fit.py": "its time is sortedcontainers' Python code, which compiled code calls through "
    "generic method lookups and a new interpreter frame per call, without CPython's inline caches "
    "(measured on the seed scenario: 0.82x the pure build's speed compiled, 1.06x left as Python "
    "over the compiled HoleAllocator)",
    "_compare.py": "glue over replay and traces, run once per command",
    "_replay.py": "the replay driver validates its options by hand (ValueError for a non-int quantum "
    "or capacity) and is timed as the user's loop would be: kept as Python, it calls the "
    "compiled policies through their public methods as any caller does",
    "trace.py": "I/O bound (text and gzip parsing through the re and gzip modules), and public "
    "classes (Trace, Recorder) that accept any attribute as plain Python classes do",
    "_sync.py": "one lock around one delegated call: the lock is the cost",
    "cli.py": "argument parsing and printing around library calls",
    "pictures.py": "matplotlib and terminal drawing, run once per picture",
    "record.py": "subprocess and C-compiler glue; its error subclasses a built-in type",
}


def enabled() -> bool:
    """Is the compiled build asked for?"""
    return os.environ.get(ENV, "") not in ("", "0")


class MypycBuildHook(BuildHookInterface):
    """Compiles ``COMPILED`` with mypyc into the wheel when ``RANGEALLOC_COMPILE`` is set."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        """Build dependencies, only when compiling: mypy (mypyc), setuptools, the stubs mypy reads."""
        if not enabled():
            return []
        # mypy pinned: the compiled code is what this mypyc makes of the sources, tested as such.
        return ["mypy==2.4.1", "setuptools>=61", "sortedcontainers>=2.4", "sortedcontainers-stubs>=2.4"]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile into a temporary directory, then add the extensions to the wheel."""
        if not enabled() or self.target_name != "wheel":
            return
        if version == "editable":
            self.app.display_warning(f"{ENV}: an editable install runs the sources; not compiling")
            return
        root = Path(self.root)
        sources = root / "src" / "rangealloc"
        known = set(COMPILED) | set(EXCLUDED)
        unplaced = sorted(p.name for p in sources.glob("*.py") if p.name not in known)
        if unplaced:
            raise RuntimeError(f"{ENV}: place {unplaced} in COMPILED or EXCLUDED of hatch_build.py")
        work = self._work = Path(tempfile.mkdtemp(prefix="rangealloc-mypyc-"))
        here = Path.cwd()
        try:
            os.chdir(root)  # mypy reads [tool.mypy] of pyproject.toml, and names modules from src/
            out = self._compile(work)
        finally:
            os.chdir(here)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        for path in out.rglob("*"):
            if path.suffix in (".so", ".pyd"):
                build_data["force_include"][str(path)] = path.relative_to(out).as_posix()
        self.app.display_info(f"{ENV}: compiled {len(COMPILED)} modules with mypyc")

    def _compile(self, work: Path) -> Path:
        from mypyc.build import mypycify  # noqa: PLC0415 (a build dependency only when compiling)
        from setuptools import Distribution  # noqa: PLC0415

        paths = [f"src/rangealloc/{name}" for name in COMPILED]
        extensions = mypycify(
            ["--cache-dir", str(work / "mypy-cache"), *paths],
            opt_level="3",
            target_dir=str(work / "c"),
            group_name="rangealloc",
        )
        distribution = Distribution({"name": "rangealloc", "ext_modules": extensions})
        build_ext = distribution.get_command_obj("build_ext")
        out = work / "lib"
        build_ext.build_lib = str(out)
        build_ext.build_temp = str(work / "tmp")
        build_ext.parallel = os.cpu_count() or 1
        distribution.run_command("build_ext")
        return out

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary build directory once the wheel holds the extensions."""
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
