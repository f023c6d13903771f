"""``restore``: rebuild an allocator from a snapshot, after checking every part of it.

A snapshot (``Allocator.snapshot()``) is plain JSON data::

    {"format": "rangealloc-snapshot",   # the tag: anything else is not a snapshot
     "version": 1,                      # the only version this library reads
     "policy": "next-fit",              # the policy that wrote it
     "capacity": 256,                   # an int > 0
     "blocks": [[0, 10], [16, 4]],      # [offset, size] of each live block
     "aligns": [[16, 16]],              # optional: [offset, align] of blocks asked with align > 1
     "state": {"pointer": 20}}          # optional: the policy's options and state, ints by name

``restore`` reads it under its own policy or another one.  Everything that
does not depend on the policy's internals is checked before anything is
built (types, tag, version, policy, capacity against the policy's maximum,
every block and align); the policy then checks the shape of each block
(buddy: a buddy block) and its state, and only then builds, into a new
allocator that is returned at the end.  A snapshot that fails a check raises
``ValueError`` naming the part at fault, and nothing is returned: there is no
half-built allocator to leak.

Blocks may come in any order (they are sorted); two blocks that share a slot,
including the same block listed twice, are an overlap.  The state is restored
only under the snapshot's own policy; under another one the allocator starts
in that policy's default state (next fit: its pointer at 0) with the same
blocks.

Time: O(n log n) to check (n = blocks), plus n times the policy's reserve to
build.
"""

from __future__ import annotations

from typing import Any, Final

from ._base import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, Allocator
from ._registry import POLICIES, policy_class

__all__ = ["restore"]

_REQUIRED: Final = ("format", "version", "policy", "capacity", "blocks")
_OPTIONAL: Final = ("aligns", "state")


def restore(snapshot: Any, policy: str | type[Allocator] | None = None) -> Allocator:
    """Rebuild the allocator that ``snapshot`` describes (the output of ``Allocator.snapshot()``).

    ``policy`` is None (the snapshot's own), a policy name, or an ``Allocator``
    class: the blocks and their recorded aligns are the same whatever the
    policy; the policy's state (next fit's pointer, and the constructor
    options a policy keeps there) is restored only under the snapshot's own
    policy, and is the default under another.  An align of 1 means none.

    Time: O(n log n) to check (n = blocks), plus n times the policy's reserve.

    Raises ``ValueError`` naming the culprit for anything wrong in the
    snapshot: not a dict, wrong format tag or version, unknown key or policy,
    a capacity that is not an int > 0 or is above the policy's maximum, a
    block that is not a pair of ints, has a size <= 0, a negative offset, ends
    past the capacity, overlaps another (both named) or does not suit the
    policy (buddy: not a buddy block), an align that is not a power of two, is
    given for no block or twice, or that its block's offset does not satisfy, a
    bad state (next fit: pointer outside ``[0, capacity]``).  ``TypeError`` if
    ``policy`` is neither a str nor an ``Allocator`` class.

    >>> import json, rangealloc
    >>> a = rangealloc.NextFit(64)
    >>> a.alloc(10), a.alloc(4, align=16)
    (0, 16)
    >>> b = rangealloc.restore(json.loads(json.dumps(a.snapshot())))
    >>> list(b.blocks()), b.pointer
    ([(0, 10), (16, 4)], 20)
    >>> list(rangealloc.restore(a.snapshot(), "best-fit").blocks())
    [(0, 10), (16, 4)]
    """
    data = _as_dict(snapshot)
    source = data["policy"]
    cls = _target(source, policy)
    capacity = _capacity(data["capacity"], cls)
    blocks = _blocks(data["blocks"], capacity, cls)
    aligns = _aligns(data.get("aligns", []), dict(blocks))
    state = _state(data.get("state", {}))
    allocator = cls._from_state(capacity, state if cls.name == source else {})
    allocator._load(blocks, aligns)
    return allocator


def _as_dict(snapshot: Any) -> dict[str, Any]:
    """The snapshot as a dict with the right tag, version and keys; ``ValueError`` otherwise."""
    if not isinstance(snapshot, dict):
        raise ValueError(f"a snapshot must be a dict, got {type(snapshot).__name__}")
    tag = snapshot.get("format")
    if tag != SNAPSHOT_FORMAT:
        raise ValueError(f"not a rangealloc snapshot: format is {tag!r}, expected {SNAPSHOT_FORMAT!r}")
    version = snapshot.get("version")
    if type(version) is not int or version != SNAPSHOT_VERSION:
        raise ValueError(
            f"unsupported snapshot version {version!r}: this library reads version {SNAPSHOT_VERSION}"
        )
    for key in _REQUIRED:
        if key not in snapshot:
            raise ValueError(f"the snapshot has no {key!r}")
    for key in snapshot:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise ValueError(f"the snapshot has an unknown key {key!r}")
    if not isinstance(snapshot["policy"], str):
        raise ValueError(f"snapshot policy must be a str, got {type(snapshot['policy']).__name__}")
    return snapshot


def _target(source: str, policy: str | type[Allocator] | None) -> type[Allocator]:
    """The class to build: the snapshot's policy, or the one asked for."""
    if policy is None:
        cls = POLICIES.get(source)
        if cls is None:
            raise ValueError(f"the snapshot's policy {source!r} is unknown; known: {', '.join(POLICIES)}")
        return cls
    return policy_class(policy)


def _capacity(value: Any, cls: type[Allocator]) -> int:
    if type(value) is not int:
        raise ValueError(f"snapshot capacity must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"snapshot capacity must be > 0, got {value}")
    if value > cls.max_capacity:
        raise ValueError(
            f"snapshot capacity {value} is above the {cls.name} policy's maximum {cls.max_capacity}"
        )
    return value


def _pair(value: Any, what: str, index: int) -> tuple[int, int]:
    """``[int, int]`` (a list or tuple) as a tuple, or ``ValueError`` naming ``what[index]``."""
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or type(value[0]) is not int
        or type(value[1]) is not int
    ):
        raise ValueError(f"snapshot {what}[{index}] must be a pair of ints, got {value!r}")
    return value[0], value[1]


def _blocks(value: Any, capacity: int, cls: type[Allocator]) -> list[tuple[int, int]]:
    """The blocks in address order, each checked, none overlapping."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"snapshot blocks must be a list, got {type(value).__name__}")
    blocks: list[tuple[int, int]] = []
    for index, item in enumerate(value):
        offset, size = _pair(item, "blocks", index)
        where = f"snapshot block [{offset}, {offset + size})"
        if size <= 0:
            raise ValueError(f"snapshot block at {offset} has size {size}, not > 0")
        if offset < 0:
            raise ValueError(f"{where} has a negative offset {offset}")
        if offset + size > capacity:
            raise ValueError(f"{where} ends past the capacity {capacity}")
        error = cls._restored_block_error(offset, size)
        if error:
            raise ValueError(f"snapshot {error} (policy {cls.name})")
        blocks.append((offset, size))
    blocks.sort()
    end = 0
    for index, (offset, size) in enumerate(blocks):
        if index and offset < end:
            before, before_size = blocks[index - 1]
            raise ValueError(
                f"snapshot block [{offset}, {offset + size}) overlaps "
                f"block [{before}, {before + before_size})"
            )
        end = offset + size
    return blocks


def _aligns(value: Any, blocks: dict[int, int]) -> dict[int, int]:
    """The recorded aligns above 1, by offset, each of a block whose offset satisfies it."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"snapshot aligns must be a list, got {type(value).__name__}")
    aligns: dict[int, int] = {}
    seen: set[int] = set()
    for index, item in enumerate(value):
        offset, align = _pair(item, "aligns", index)
        if align <= 0 or align & (align - 1):
            raise ValueError(f"snapshot align {align} of block {offset} is not a power of two")
        if offset not in blocks:
            raise ValueError(f"snapshot align {align} is given for offset {offset}, which is not a block")
        if offset in seen:
            raise ValueError(f"snapshot align of block {offset} is given twice")
        if offset & (align - 1):
            raise ValueError(f"snapshot block {offset} is not a multiple of its align {align}")
        seen.add(offset)
        if align > 1:
            aligns[offset] = align
    return aligns


def _state(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"snapshot state must be a dict, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError(f"snapshot state keys must be str, got {key!r}")
        if type(item) is not int:
            raise ValueError(f"snapshot state {key!r} must be an int, got {type(item).__name__} {item!r}")
    return dict(value)
