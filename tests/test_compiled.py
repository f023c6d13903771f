"""One behaviour, two builds: what a compiled (mypyc) build could change, pinned in both.

CI runs the whole suite twice: in the pure-Python install and in the compiled
one (``RANGEALLOC_COMPILE=1 pip install '.[test]'``; ``rangealloc.COMPILED``
tells which is running).  A compiled function checks the annotated type of
each argument itself, before its body runs, with mypyc's own message ("int
object expected; got float"), turns ``True`` into ``1`` where it expects an
int, and rejects int-like objects (numpy integers, ``__index__``).  So the
public entry points annotate their int arguments ``SupportsIndex`` (which
mypyc does not check) and validate them in their body, as the pure build
does.  The tests below hold both builds to the exact same messages and the
same int-like conversions, for every int argument of every public call.

And the build itself: the modules that ``hatch_build.py`` compiles are
extensions exactly when ``COMPILED`` is true, and the lists there place every
module of the package.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable
from decimal import Decimal
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from helpers import IntLike

import rangealloc
from rangealloc import TLSF, Allocator, Heap, Recorder, synchronized

#: Values that are not ints (bool included: a True size is a bug), as the error message shows them.
NOT_INTS: list[Any] = [2.0, 2.5, float("nan"), Decimal(2), "7", b"7", None, True, False, [3], 1j]

#: Makers of int-like values: the pure build converts them with ``operator.index``, so must the compiled one.
INT_LIKES: list[Callable[[int], Any]] = [IntLike, np.int64, np.uint16, np.intp]


def message(name: str, value: object) -> str:
    """The message of the ``TypeError`` for ``value`` given as the int argument ``name``, in both builds."""
    return f"{name} must be an int, got {type(value).__name__} {value!r}"


def busy(policy: str) -> Allocator:
    a = rangealloc.create(policy, 64)
    a.reserve(8, 8)
    return a


def busy_heap() -> Heap:
    heap = Heap(64, policy="first-fit")
    heap.alloc(8)
    return heap


#: (argument name in the message, None allowed, call with the value in that place), for every policy.
ALLOCATOR_CALLS: list[tuple[str, bool, Callable[[Allocator, Any], object]]] = [
    ("size", False, lambda a, v: a.alloc(v)),
    ("align", False, lambda a, v: a.alloc(1, align=v)),
    ("offset", False, lambda a, v: a.free(v)),
    ("offset", False, lambda a, v: a.realloc(v, 4)),
    ("size", False, lambda a, v: a.realloc(8, v)),
    ("align", False, lambda a, v: a.realloc(8, 4, align=v)),
    ("offset", False, lambda a, v: a.reserve(v, 1)),
    ("size", False, lambda a, v: a.reserve(40, v)),
    ("offset", False, lambda a, v: a.size_of(v)),
    ("capacity", False, lambda a, v: a.grow(v)),
    ("max_moves", True, lambda a, v: a.compact(v)),
    ("capacity", False, lambda a, v: type(a)(v)),
    ("capacity", False, lambda a, v: rangealloc.create(a.name, v)),
    ("size", False, lambda a, v: synchronized(a).alloc(v)),
    ("offset", False, lambda a, v: synchronized(a).free(v)),
    ("size", False, lambda a, v: Recorder(a).alloc(v)),
]

#: The same for the heap's calls and TLSF's option.
OTHER_CALLS: list[tuple[str, bool, Callable[[Any], object]]] = [
    ("sl", False, lambda v: TLSF(64, sl=v)),
    ("size", False, lambda v: Heap(v, buffer=None if v is not None else bytearray(8))),
    ("n", False, lambda v: busy_heap().alloc(v)),
    ("align", False, lambda v: busy_heap().alloc(1, align=v)),
    ("offset", False, lambda v: busy_heap().free(v)),
    ("offset", False, lambda v: busy_heap().realloc(v, 4)),
    ("n", False, lambda v: busy_heap().realloc(0, v)),
    ("offset", False, lambda v: busy_heap().view(v)),
    ("offset", False, lambda v: busy_heap().read(v)),
    ("offset", False, lambda v: busy_heap().write(v, b"x")),
    ("start", False, lambda v: busy_heap().write(0, b"x", v)),
    ("offset", False, lambda v: busy_heap().size_of(v)),
    ("max_moves", True, lambda v: busy_heap().compact(v)),
]


def ids(calls: list[tuple[str, bool, Any]]) -> list[str]:
    return [f"{index}-{argument}" for index, (argument, _, _) in enumerate(calls)]


@pytest.mark.parametrize("value", NOT_INTS, ids=repr)
@pytest.mark.parametrize(("argument", "none_ok", "call"), ALLOCATOR_CALLS, ids=ids(ALLOCATOR_CALLS))
def test_allocator_calls_reject_a_non_int_with_the_same_message(
    policy: str, argument: str, none_ok: bool, call: Callable[[Allocator, Any], object], value: Any
) -> None:
    a = busy(policy)
    if value is None and none_ok:
        call(a, value)
        return
    with pytest.raises(TypeError, match=f"^{re.escape(message(argument, value))}$"):
        call(a, value)


@pytest.mark.parametrize("value", NOT_INTS, ids=repr)
@pytest.mark.parametrize(("argument", "none_ok", "call"), OTHER_CALLS, ids=ids(OTHER_CALLS))
def test_other_calls_reject_a_non_int_with_the_same_message(
    argument: str, none_ok: bool, call: Callable[[Any], object], value: Any
) -> None:
    if value is None and (none_ok or argument == "size"):  # Heap(None, buffer=...) is the buffer form
        call(value)
        return
    with pytest.raises(TypeError, match=f"^{re.escape(message(argument, value))}$"):
        call(value)


@pytest.mark.parametrize("wrap", INT_LIKES, ids=lambda wrap: wrap.__name__)
def test_int_like_values_act_as_the_equal_ints_in_every_allocator_call(
    policy: str, wrap: Callable[[int], Any]
) -> None:
    def run(w: Callable[[int], Any]) -> tuple[list[object], Allocator]:
        a = rangealloc.create(policy, w(64))
        seen: list[object] = [type(a.capacity)]
        seen.append(a.alloc(w(8), align=w(8)))
        seen.append(a.reserve(w(32), w(8)))
        seen.append(a.size_of(w(32)))
        seen.append(w(32) in a)
        seen.append(a.realloc(w(0), w(4)))
        seen.append(a.realloc(w(0), w(16), align=w(16)))
        a.free(w(0))
        seen.append(a.compact(w(1)))
        a.grow(w(128))
        seen.append(type(a.capacity))
        seen.append(synchronized(a).alloc(w(8)))
        recorder = Recorder(a)
        seen.append(recorder.alloc(w(8)))
        seen.append([tuple(type(x) for x in event) for event in recorder.events])
        seen.append(list(a.blocks()))
        seen.append(list(a.holes()))
        seen.append([type(x) for piece in [*a.blocks(), *a.holes()] for x in piece])
        a.check()
        return seen, a

    assert run(wrap)[0] == run(int)[0]


@pytest.mark.parametrize("wrap", INT_LIKES, ids=lambda wrap: wrap.__name__)
def test_int_like_values_act_as_the_equal_ints_in_the_heap_and_tlsf(wrap: Callable[[int], Any]) -> None:
    def run(w: Callable[[int], Any]) -> list[object]:
        seen: list[object] = [TLSF(64, sl=w(3)).snapshot()["state"]]
        heap = Heap(w(64), policy="first-fit")
        seen.append(heap.capacity)
        offset = heap.alloc(w(8), align=w(8))
        heap.write(w(offset), b"ab", w(2))
        seen += [offset, heap.read(w(offset)), heap.size_of(w(offset)), bytes(heap.view(w(offset)))]
        seen.append(heap.realloc(w(offset), w(12)))
        seen.append(heap.compact(w(1)))
        heap.free(w(offset))
        seen.append(len(heap))
        return seen

    assert run(wrap) == run(int)


def _is_extension(module: ModuleType) -> bool:
    return (module.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))


def _hook_lists() -> tuple[list[str], list[str]]:
    """``COMPILED`` and the keys of ``EXCLUDED`` of ``hatch_build.py`` (read: importing needs hatchling)."""
    tree = ast.parse((Path(__file__).parents[1] / "hatch_build.py").read_text())
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node.value
    compiled = ast.literal_eval(found["COMPILED"])
    excluded = ast.literal_eval(found["EXCLUDED"])
    return list(compiled), list(excluded)


def test_compiled_is_true_exactly_when_the_listed_modules_are_extensions() -> None:
    compiled, excluded = _hook_lists()
    assert isinstance(rangealloc.COMPILED, bool)
    assert "COMPILED" in rangealloc.__all__
    for name in compiled:
        module = importlib.import_module(f"rangealloc.{name.removesuffix('.py')}")
        assert _is_extension(module) is rangealloc.COMPILED, name
    for name in excluded:
        if name != "__main__.py":  # importing it runs the command
            qualified = f"rangealloc.{name.removesuffix('.py')}".removesuffix(".__init__")
            module = importlib.import_module(qualified)
            assert not _is_extension(module), name


def test_every_module_is_compiled_or_excluded_with_a_reason() -> None:
    compiled, excluded = _hook_lists()
    assert not set(compiled) & set(excluded)
    package = Path(rangealloc.__file__).parent
    assert {path.name for path in package.glob("*.py")} == set(compiled) | set(excluded)
