"""What the compiled build's sources need at run time from plain Python: ``mypyc_attr``.

``rangealloc`` compiles with mypyc when asked (``RANGEALLOC_COMPILE=1 pip install .``,
see ``hatch_build.py``).  The classes users may subclass are marked
``@mypyc_attr(allow_interpreted_subclasses=True)``: mypyc reads that decorator
at compile time, by its full name ``mypy_extensions.mypyc_attr``, and never
calls it in a compiled module.  Plain Python does call it, so here it is a
stand-in that returns the class unchanged: the pure-Python install needs no
``mypy_extensions`` (which comes with mypy, where the type checker and the
compiler see the real one).

Not compiled itself: compiled, the ``else`` branch below would be code that
mypy calls unreachable, which mypyc turns into a ``RuntimeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

__all__ = ["mypyc_attr"]

_C = TypeVar("_C", bound=type)

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_C], _C]:
        """The stand-in: a class decorator that returns the class as it is."""
        return _unchanged


def _unchanged(cls: _C) -> _C:
    return cls
