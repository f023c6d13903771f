"""Exceptions raised by every allocator, and the argument checks that raise them.

Every public method validates its arguments *before* touching any state, so a call
that raises leaves the allocator exactly as it was.  The checks live here, once,
so that every policy words its messages the same way.

``AllocError`` is the base of the library's own errors:

* ``OutOfSpace(AllocError, MemoryError)``: no hole can hold the request.
* ``InvalidBlock(AllocError, ValueError)``: an offset that is not the start of a
  live block was given to ``free``, ``realloc`` or ``size_of``.
* ``CorruptState(AllocError)``: ``check()`` found a broken invariant.
* ``TraceError(AllocError, ValueError)``: a trace file is malformed (the
  message names the file and the line).

Bad arguments raise the built-in ``TypeError`` (not an int) or ``ValueError``
(out of range), with a message naming the argument and its value.
"""

from __future__ import annotations

import operator

__all__ = [
    "AllocError",
    "CorruptState",
    "InvalidBlock",
    "OutOfSpace",
    "TraceError",
]


class AllocError(Exception):
    """Base class of every error rangealloc raises on its own account."""


class OutOfSpace(AllocError, MemoryError):
    """No hole can hold the requested range (alloc, realloc, reserve)."""


class InvalidBlock(AllocError, ValueError):
    """The offset given is not the start of a live block (double free, interior offset...)."""


class CorruptState(AllocError):
    """``check()`` found an internal invariant broken; the message names the rule."""


class TraceError(AllocError, ValueError):
    """A trace cannot be read: bad line, unknown id, double free, bad size, truncated or not text.

    The message starts with ``<file>:<line>:`` (the line is 0 for errors that
    belong to no line, such as a truncated gzip stream).
    """


def as_int(value: object, name: str) -> int:
    """Return ``value`` as a plain int, or raise ``TypeError`` naming ``name``.

    Accepts ints and int-like objects (``operator.index``: numpy integers...);
    rejects ``bool`` (a ``True`` size is always a bug), floats, strings, None.

    Time: O(1).

    >>> as_int(7, "size")
    7
    >>> as_int(2.0, "size")
    Traceback (most recent call last):
    ...
    TypeError: size must be an int, got float 2.0
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None


def key_of(value: object) -> int:
    """``value`` as an int to look up in a table of offsets: -1 (never an offset) if it is not int-like.

    What ``offset in allocator`` needs: membership asks, it does not check
    arguments, so a float or None is simply not a block start.  Time: O(1).

    >>> key_of(7), key_of(7.0), key_of(True)
    (7, -1, -1)
    """
    if type(value) is int:
        return value
    try:
        return as_int(value, "offset")
    except TypeError:
        return -1


def check_size(value: object, name: str = "size") -> int:
    """Return ``value`` as an int > 0, or raise ``TypeError``/``ValueError``.

    >>> check_size(0)
    Traceback (most recent call last):
    ...
    ValueError: size must be > 0, got 0
    """
    size = as_int(value, name)
    if size <= 0:
        raise ValueError(f"{name} must be > 0, got {size}")
    return size


def check_align(value: object) -> int:
    """Return ``value`` as a positive power of two, or raise ``TypeError``/``ValueError``.

    >>> check_align(8)
    8
    >>> check_align(12)
    Traceback (most recent call last):
    ...
    ValueError: align must be a positive power of two, got 12
    """
    align = as_int(value, "align")
    if align <= 0 or align & (align - 1):
        raise ValueError(f"align must be a positive power of two, got {align}")
    return align


def check_offset(value: object, name: str = "offset") -> int:
    """Return ``value`` as an int >= 0, or raise ``TypeError``/``ValueError``.

    >>> check_offset(-1)
    Traceback (most recent call last):
    ...
    ValueError: offset must be >= 0, got -1
    """
    offset = as_int(value, name)
    if offset < 0:
        raise ValueError(f"{name} must be >= 0, got {offset}")
    return offset


def check_state_keys(policy: str, state: dict[str, int], known: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the first key of a snapshot's ``state`` that ``policy`` does not have.

    >>> check_state_keys("next-fit", {"pointer": 3}, ("pointer",))
    >>> check_state_keys("first-fit", {"pointer": 3}, ())
    Traceback (most recent call last):
    ...
    ValueError: snapshot state: the first-fit policy has no state 'pointer' (it has none)
    """
    for key in state:
        if key not in known:
            has = ", ".join(repr(name) for name in known) if known else "none"
            raise ValueError(f"snapshot state: the {policy} policy has no state {key!r} (it has {has})")
