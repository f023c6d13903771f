"""The allocator contract, and the bookkeeping every policy shares.

``Allocator`` owns what is the same for every policy:

* argument validation (all of it happens before any state changes, so a call
  that raises leaves the allocator exactly as it was);
* the block table ``_blocks``: ``{offset: size}`` of the live blocks, which is
  what ``free``, ``size_of``, ``in`` and ``len`` read in O(1);
* the ``used`` counter, ``stats()``, ``check()`` and the error messages.

A policy supplies only how it finds, claims and releases free slots, through
six hooks (all called with arguments already validated)::

    _alloc(size, align) -> offset   claim an aligned range; -1 if none fits
    _free(offset, size)             release a range (merging it with its neighbours)
    _take(offset, size) -> bool     claim exactly [offset, offset + size) if all free
    _reset(capacity)                forget everything: one hole [0, capacity)
    _grow(old, new)                 add [old, new) to the free space (capacity is new)
    _holes() -> iterator            the maximal free ranges, in address order

plus ``_hole_count``, ``_largest_hole`` (for ``stats``) and ``_check_policy``
(which recomputes the policy's own structures from scratch).

Snapshots, ``restore`` and pickling go through three more, with defaults that
fit a policy that has no state of its own beyond its free space:

    _snapshot_state() -> dict          the policy's options and state, as ints by name
    _from_state(capacity, state)       (classmethod) an empty allocator with that state
    _restored_block_error(offset, size) -> str   (classmethod) why a block cannot be one of
                                       this policy's blocks ("" if it can)

and ``compact`` through ``_compact_plan(limit)``, whose default slides blocks
down in address order (buddy plans its own: its blocks must stay buddy blocks),
and ``_compacted()``, called after a compaction that moved anything (next fit
moves its pointer).  The moves themselves go through ``_free`` and ``_take``.

Alignment memory: ``_aligns`` maps the offset of every block allocated (or
last moved or resized by ``realloc``) with ``align > 1`` to that align, so that
``compact``, which moves blocks, keeps them aligned; blocks with align 1 have no
entry, so the common case pays one int test in ``alloc`` and one empty-dict
test in ``free``.

Invariants every policy keeps (``check()`` verifies them all):

1. blocks and holes tile ``[0, capacity)``: no overlap, no gap;
2. holes are maximal: no two holes touch;
3. ``used`` is the sum of block sizes, and ``used + available == capacity``;
4. every recorded align belongs to a live block, which starts at a multiple of it;
5. the policy's own structures agree with the holes (``_check_policy``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NamedTuple, SupportsIndex

from ._errors import (
    CorruptState,
    InvalidBlock,
    OutOfSpace,
    as_int,
    check_align,
    check_offset,
    check_size,
    check_state_keys,
    key_of,
)
from ._mypyc import mypyc_attr

__all__ = ["SNAPSHOT_FORMAT", "SNAPSHOT_VERSION", "Allocator", "Move", "Stats"]

#: The ``"format"`` tag of every snapshot (``Allocator.snapshot``).
SNAPSHOT_FORMAT: Final = "rangealloc-snapshot"
#: The snapshot format version this library writes and reads.
SNAPSHOT_VERSION: Final = 1
#: ``dict.pop`` as a function, for the hot paths: ``dict_pop(d, key, default)`` is
#: ``d.pop(key, default)``.  Interpreted, the two cost the same (cachegrind, jq-transform:
#: 13 more machine instructions in a TLSF alloc+free pair of 17,500).  Compiled, mypyc
#: has no primitive for the method and looks ``pop`` up on the type at every call
#: (``_PyObject_GetMethod``, ``_PyType_Lookup``); called through this constant, it
#: calls the method descriptor directly: 373 fewer instructions per TLSF pair, of 5,673.
dict_pop: Final = dict.pop


@dataclass(frozen=True)
class Stats:
    """A summary of an allocator's state, as returned by ``Allocator.stats()``.

    ``fragmentation`` is ``1 - largest_hole / available`` (0.0 when nothing is
    free): the share of the free space that the largest request that could
    still succeed cannot use.
    """

    capacity: int
    used: int
    available: int
    blocks: int
    holes: int
    largest_hole: int
    fragmentation: float


class Move(NamedTuple):
    """One block moved by ``Allocator.compact``: ``size`` slots from ``offset`` to ``new_offset``.

    A tuple, so a caller that keeps the data moves it with
    ``buf[new:new + size] = buf[old:old + size]`` (memmove semantics) for
    ``old, new, size`` in the list ``compact`` returned, in that order.
    """

    offset: int
    new_offset: int
    size: int


@mypyc_attr(allow_interpreted_subclasses=True)
class Allocator:
    """Base of every policy: hands out ranges of ``[0, capacity)``.

    Subclasses set ``name`` (their key in ``rangealloc.POLICIES``) and
    implement the hooks listed in this module's docstring.
    """

    __slots__ = ("_aligns", "_blocks", "_capacity", "_used")

    name: ClassVar[str] = ""
    #: Largest capacity the policy accepts (``grow`` included).
    max_capacity: ClassVar[int] = 1 << 64
    #: True when a block may take more slots than requested (``size_of`` > size: buddy).
    rounds_sizes: ClassVar[bool] = False

    def __init__(self, capacity: SupportsIndex) -> None:
        """Make an empty allocator over ``[0, capacity)``.

        Raises ``TypeError`` if capacity is not an int, ``ValueError`` if it is
        <= 0 or above the policy's ``max_capacity``.
        """
        capacity = check_size(capacity, "capacity")
        self._check_capacity(capacity)
        self._capacity = capacity
        self._blocks: dict[int, int] = {}
        self._aligns: dict[int, int] = {}  # offset -> align, for the blocks asked with align > 1
        self._used = 0
        self._reset(capacity)

    # ------------------------------------------------------------------ hooks

    def _alloc(self, size: int, align: int) -> int:
        raise NotImplementedError

    def _free(self, offset: int, size: int) -> None:
        raise NotImplementedError

    def _take(self, offset: int, size: int) -> bool:
        raise NotImplementedError

    def _reset(self, capacity: int) -> None:
        raise NotImplementedError

    def _grow(self, old: int, new: int) -> None:
        raise NotImplementedError

    def _holes(self) -> Iterator[tuple[int, int]]:
        raise NotImplementedError

    def _hole_count(self) -> int:
        raise NotImplementedError

    def _largest_hole(self) -> int:
        raise NotImplementedError

    def _top_hole(self) -> int:
        raise NotImplementedError

    def _check_policy(self) -> None:
        raise NotImplementedError

    def _snapshot_state(self) -> dict[str, int]:
        """The policy's constructor options and state, as ints by name (``snapshot()["state"]``)."""
        return {}

    @classmethod
    def _from_state(cls, capacity: int, state: dict[str, int]) -> Allocator:
        """An empty allocator of this policy over ``[0, capacity)``, in ``state``.

        ``state`` is what ``_snapshot_state`` returned, already checked to be
        str -> int; the policy checks the rest *before* it builds anything
        (``ValueError`` naming the key), then sets any state that ``_take``
        leaves alone (``restore`` places the blocks afterwards with ``_take``).
        ``{}`` means the default state: what restoring under another policy gets.
        """
        check_state_keys(cls.name, state, ())
        return cls(capacity)

    @classmethod
    def _restored_block_error(cls, offset: int, size: int) -> str:
        """Why the range ``[offset, offset + size)`` cannot be a block of this policy ("" if it can).

        Only its shape: ``restore`` has checked it is inside the space and overlaps nothing.
        """
        return ""

    def _compact_plan(self, limit: int) -> list[Move]:
        """The moves of ``compact`` (at most ``limit`` if >= 0), each safe once the previous ones are done.

        Slides the blocks down in address order: each to the lowest multiple of
        its align at or above the end of the block placed before it.  That
        range lies in ``[end of the previous block, end of this block)``, which
        is free but for the block itself: safe.  Time: O(n log n).
        """
        moves: list[Move] = []
        if not limit:
            return moves
        aligns = self._aligns
        end = 0
        for offset, size in sorted(self._blocks.items()):
            new = end
            if aligns:
                align = aligns.get(offset, 1)
                new += -end & (align - 1)
            if new < offset:
                moves.append(Move(offset, new, size))
                if len(moves) == limit:
                    break
                end = new + size
            else:
                end = offset + size
        return moves

    def _compacted(self) -> None:
        """Called once ``compact`` has moved at least one block (next fit moves its pointer)."""

    # ------------------------------------------------------------ allocation

    def alloc(self, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """Claim ``size`` slots starting at a multiple of ``align``; return the offset.

        Where the block goes is the policy's choice (see its module).
        Alignment padding before the block stays free.

        Time: the policy's (O(log n) in the number of holes for the fits).

        Raises ``OutOfSpace`` if no hole holds an aligned range of ``size``
        slots; ``TypeError``/``ValueError`` for a bad size or align.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.alloc(10), a.alloc(4, align=8)
        (0, 16)
        """
        if type(size) is not int or size <= 0:
            size = check_size(size)
        if type(align) is not int or align <= 0 or align & (align - 1):
            align = check_align(align)
        offset = self._alloc(size, align)
        if offset < 0:
            raise OutOfSpace(self._no_fit(size, align))
        self._blocks[offset] = size
        if align > 1:
            self._aligns[offset] = align  # compact keeps the block aligned
        self._used += size
        return offset

    def free(self, offset: SupportsIndex) -> None:
        """Release the block that starts at ``offset``.

        Time: the policy's (O(log n) for the fits).

        Raises ``InvalidBlock`` if no live block starts at ``offset`` (double
        free, interior offset, never allocated).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.free(a.alloc(10)); len(a)
        0
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        size = dict_pop(self._blocks, offset, 0)
        if not size:
            raise InvalidBlock(self._not_a_block("free", offset))
        self._free(offset, size)
        self._used -= size
        if self._aligns:
            dict_pop(self._aligns, offset, None)

    def realloc(self, offset: SupportsIndex, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """Resize the block at ``offset`` to ``size`` slots; return its (new) offset.

        Shrinks in place (the tail becomes free); grows in place when the hole
        right after the block is large enough; otherwise moves as if the block
        were freed and then allocated, so it may slide into a place that
        overlaps its old one.  An ``align`` the offset does not satisfy forces
        a move.  Contents are not the allocator's business (see ``Heap``).
        ``align`` becomes the block's recorded alignment, the one ``compact``
        keeps (as ``alloc``'s does; 1: none), whether the block moves or not.

        Time: the policy's alloc plus free.

        Raises ``InvalidBlock`` (not a live block), ``OutOfSpace`` (nothing fits;
        the old block is untouched), ``TypeError``/``ValueError`` (bad size or align).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> off = a.alloc(10)
        >>> a.realloc(off, 20), a.size_of(off)
        (0, 20)
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        if type(size) is not int or size <= 0:
            size = check_size(size)
        if type(align) is not int or align <= 0 or align & (align - 1):
            align = check_align(align)
        blocks = self._blocks
        old = blocks.get(offset, 0)
        if not old:
            raise InvalidBlock(self._not_a_block("realloc", offset))
        if not offset & (align - 1):
            if size <= old:
                if size < old:
                    self._free(offset + size, old - size)
                    blocks[offset] = size
                    self._used -= old - size
                self._realigned(offset, offset, align)
                return offset
            end = offset + old
            if end not in blocks and self._take(end, size - old):  # a block at end: no room
                blocks[offset] = size
                self._used += size - old
                self._realigned(offset, offset, align)
                return offset
        # Move: the block's own slots count as free while the policy searches.
        self._free(offset, old)
        try:
            new = self._alloc(size, align)
        except BaseException:  # even MemoryError or KeyboardInterrupt: keep the block
            self._take(offset, old)
            raise
        if new < 0:
            self._take(offset, old)
            raise OutOfSpace(self._no_fit(size, align, offset))
        del blocks[offset]
        blocks[new] = size
        self._used += size - old
        self._realigned(offset, new, align)
        return new

    def _realigned(self, offset: int, new: int, align: int) -> None:
        """Record ``align`` for the block that ``realloc`` left at ``new`` (it was at ``offset``)."""
        aligns = self._aligns
        if aligns:
            aligns.pop(offset, None)
        if align > 1:
            aligns[new] = align

    def reserve(self, offset: SupportsIndex, size: SupportsIndex) -> int:
        """Claim exactly ``[offset, offset + size)``, which must be all free; return ``offset``.

        Useful to load an existing layout (a file's used extents, ports in use).

        Time: the policy's (O(log n) for the fits).

        Raises ``OutOfSpace`` if some slot of the range is in use,
        ``ValueError`` if the range is not inside ``[0, capacity)``.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.reserve(8, 4), a.alloc(10)
        (8, 12)
        """
        offset = check_offset(offset)
        size = check_size(size)
        if offset + size > self._capacity:
            raise ValueError(
                f"reserve outside the space: [{offset}, {offset + size}) "
                f"does not fit in capacity {self._capacity}"
            )
        if offset in self._blocks or not self._take(offset, size):  # a block there: O(1) for every policy
            raise OutOfSpace(f"cannot reserve [{offset}, {offset + size}): part of it is in use")
        self._blocks[offset] = size
        self._used += size
        return offset

    def clear(self) -> None:
        """Free every block (and reset any policy state, such as a roving pointer).

        Time: O(blocks) to drop the table.
        """
        self._blocks.clear()
        self._aligns.clear()
        self._used = 0
        self._reset(self._capacity)

    def grow(self, capacity: SupportsIndex) -> None:
        """Enlarge the space to ``capacity`` slots; the new slots join the top hole.

        Time: the policy's free.

        Raises ``ValueError`` if ``capacity`` is smaller than the current one
        (growing to the same capacity does nothing).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(16)
        >>> a.grow(32); a.alloc(30)
        0
        """
        capacity = check_size(capacity, "capacity")
        old = self._capacity
        if capacity < old:
            raise ValueError(f"grow to a smaller capacity: {capacity} < current capacity {old}")
        if capacity == old:
            return
        self._check_capacity(capacity)
        self._capacity = capacity  # first: the policy's _grow sees the new space
        self._grow(old, capacity)

    # ------------------------------------------- snapshots and compaction

    def snapshot(self) -> dict[str, Any]:
        """Return the allocator's state as plain JSON data; ``rangealloc.restore`` rebuilds it.

        Only dicts, lists, str and int, so ``json.dumps`` takes it as it is::

            {"format": "rangealloc-snapshot", "version": 1,
             "policy": "next-fit", "capacity": 256,
             "blocks": [[offset, size], ...],   # address order
             "aligns": [[offset, align], ...],  # address order; blocks asked with align > 1
             "state": {"pointer": 40}}          # the policy's options and state (often {})

        Sizes are those ``size_of`` reports (buddy: rounded up).  Pickling
        (and ``copy``) goes through it.

        Time: O(n log n) (n = blocks).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> a.alloc(10), a.alloc(4, align=16)
        (0, 16)
        >>> s = a.snapshot(); s["blocks"], s["aligns"]
        ([[0, 10], [16, 4]], [[16, 16]])
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "policy": self.name,
            "capacity": self._capacity,
            "blocks": [[offset, size] for offset, size in sorted(self._blocks.items())],
            "aligns": [[offset, align] for offset, align in sorted(self._aligns.items())],
            "state": self._snapshot_state(),
        }

    def __reduce__(self) -> tuple[Callable[..., Allocator], tuple[dict[str, Any], type[Allocator]]]:
        """Pickle as ``restore(self.snapshot(), type(self))``: any policy, its state, its subclasses."""
        from ._snapshot import restore  # noqa: PLC0415 (restore needs the registry, which imports this module)

        return restore, (self.snapshot(), type(self))

    def compact(self, max_moves: SupportsIndex | None = None) -> list[Move]:
        """Slide the live blocks toward offset 0; return the moves made, in the order to apply them.

        Each block moves down, in address order, to the lowest offset at or
        above the end of the block placed before it that is a multiple of its
        recorded align (the ``align`` of its ``alloc`` or last ``realloc``; 1
        if none).  Blocks keep their order.  With no align above 1, a full
        compaction leaves one hole, at the top; aligned blocks may leave
        padding holes below them, each smaller than the align.  Buddy places
        blocks its own way (see ``rangealloc.buddy``).  Compacting again
        right after a full compaction moves nothing.

        The moves are applied to the allocator (``blocks()`` shows the new
        offsets); applied to the data one after another, in the order of the
        list, with memmove semantics, they are safe: each destination is free
        when its move happens, except where it overlaps its own source.
        ``max_moves=N`` stops after N moves: a partial compaction, as valid as
        any state (a later ``compact()`` carries on).  Next fit's pointer
        goes to the end of the highest block after a compaction that moved
        anything.

        Time: O(n log n) to plan (n = blocks; buddy: plus the misaligned holes
        its first-fit search skips), plus each move's free and claim (O(log n)
        for the fits).

        Raises ``TypeError`` if ``max_moves`` is not an int (or None),
        ``ValueError`` if it is negative.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(64)
        >>> x, y, z = a.alloc(10), a.alloc(10), a.alloc(10)
        >>> a.free(x); a.compact()
        [Move(offset=10, new_offset=0, size=10), Move(offset=20, new_offset=10, size=10)]
        >>> list(a.holes())
        [(20, 44)]
        """
        limit = -1
        if max_moves is not None:
            limit = as_int(max_moves, "max_moves")
            if limit < 0:
                raise ValueError(f"max_moves must be >= 0, got {limit}")
        moves = self._compact_plan(limit)
        blocks = self._blocks
        aligns = self._aligns
        for offset, new, size in moves:
            self._free(offset, size)
            if not self._take(new, size):  # the plan put it in free space: a bug if not
                raise CorruptState(f"compact: cannot move block {offset} to [{new}, {new + size})")
            del blocks[offset]
            blocks[new] = size
            if aligns:
                align = aligns.pop(offset, 0)
                if align:
                    aligns[new] = align
        if moves:
            self._compacted()
        return moves

    def _load(self, blocks: list[tuple[int, int]], aligns: dict[int, int]) -> None:
        """Claim ``blocks`` in this empty allocator and record their ``aligns`` (for ``restore``).

        ``restore`` has checked everything: blocks in address order, inside
        the space, disjoint, of the policy's shape; aligns of live blocks.
        Time: n times the policy's reserve.
        """
        table = self._blocks
        used = 0
        for offset, size in blocks:
            if not self._take(offset, size):  # free by construction: a bug if not
                raise CorruptState(f"restore: cannot claim block [{offset}, {offset + size})")
            table[offset] = size
            used += size
        self._used = used
        self._aligns.update(aligns)

    # ---------------------------------------------------------------- queries

    def size_of(self, offset: SupportsIndex) -> int:
        """Return the size of the live block that starts at ``offset``.

        Time: O(1).  Raises ``InvalidBlock`` if no live block starts there.
        """
        if type(offset) is not int:
            offset = as_int(offset, "offset")
        size = self._blocks.get(offset, 0)
        if not size:
            raise InvalidBlock(self._not_a_block("size_of", offset))
        return size

    def __contains__(self, offset: object) -> bool:
        """``offset in a``: is ``offset`` the start of a live block?  Time: O(1)."""
        return (offset if type(offset) is int else key_of(offset)) in self._blocks

    def __len__(self) -> int:
        """The number of live blocks.  Time: O(1)."""
        return len(self._blocks)

    @property
    def capacity(self) -> int:
        """Size of the address space, in slots."""
        return self._capacity

    @property
    def used(self) -> int:
        """Slots in live blocks.  Time: O(1)."""
        return self._used

    @property
    def available(self) -> int:
        """Free slots (``capacity - used``).  Time: O(1)."""
        return self._capacity - self._used

    @property
    def top_hole(self) -> int:
        """Size of the hole that ends at ``capacity``, 0 if the last slot is in use.

        The free space that ``grow`` extends: a space that must grow to hold
        ``size`` more slots at its top needs ``size - top_hole`` more (the
        ``sbrk`` model of ``rangealloc.replay``).  Time: O(1) for the hole
        policies; the bitmap's: O(capacity / 30) bit operations on a small
        space, O(1) in its chunked mode; O(log**2 capacity) for buddy.

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(100)
        >>> a.reserve(10, 20), a.top_hole
        (10, 70)
        """
        return self._top_hole()

    def blocks(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(offset, size)`` of the live blocks in address order.  Time: O(n log n)."""
        return iter(sorted(self._blocks.items()))

    def holes(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(offset, size)`` of the maximal free ranges in address order.  Time: O(n)."""
        return self._holes()

    def stats(self) -> Stats:
        """Return a ``Stats`` summary.  Time: the policy's (O(1) to O(log n) for the fits)."""
        available = self._capacity - self._used
        largest = self._largest_hole()
        return Stats(
            capacity=self._capacity,
            used=self._used,
            available=available,
            blocks=len(self._blocks),
            holes=self._hole_count(),
            largest_hole=largest,
            fragmentation=1.0 - largest / available if available else 0.0,
        )

    def check(self) -> None:
        """Recompute every invariant from scratch; raise ``CorruptState`` naming the broken rule.

        Time: O(n log n).
        """
        pieces: list[tuple[int, int, bool]] = [(o, s, False) for o, s in self._blocks.items()]
        pieces += [(o, s, True) for o, s in self._holes()]
        pieces.sort()
        position = 0
        previous_free = False
        for offset, size, is_hole in pieces:
            what = "hole" if is_hole else "block"
            if size <= 0:
                raise CorruptState(f"{what} at {offset} has size {size}")
            if offset != position:
                gap = "overlaps the previous range" if offset < position else "leaves a gap"
                raise CorruptState(f"{what} [{offset}, {offset + size}) {gap} (expected offset {position})")
            if is_hole and previous_free:
                raise CorruptState(f"hole at {offset} touches the hole before it (holes must be maximal)")
            previous_free = is_hole
            position = offset + size
        if position != self._capacity:
            raise CorruptState(f"blocks and holes end at {position}, not at capacity {self._capacity}")
        used = sum(self._blocks.values())
        if used != self._used:
            raise CorruptState(f"used counter is {self._used}, blocks add up to {used}")
        holes = sum(1 for piece in pieces if piece[2])
        if holes != self._hole_count():
            raise CorruptState(f"hole count is {self._hole_count()}, holes() yields {holes}")
        largest = max((s for _, s, h in pieces if h), default=0)
        if largest != self._largest_hole():
            raise CorruptState(f"largest hole is reported as {self._largest_hole()}, holes() says {largest}")
        top = pieces[-1][1] if pieces and pieces[-1][2] else 0
        if top != self._top_hole():
            raise CorruptState(f"top hole is reported as {self._top_hole()}, holes() says {top}")
        for offset, align in self._aligns.items():
            if offset not in self._blocks:
                raise CorruptState(f"align {align} is recorded for offset {offset}, not a live block")
            if align <= 1 or align & (align - 1):
                raise CorruptState(f"block {offset} has recorded align {align}, not a power of two above 1")
            if offset & (align - 1):
                raise CorruptState(f"block {offset} is not a multiple of its recorded align {align}")
        self._check_policy()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(capacity={self._capacity}, used={self._used}, blocks={len(self._blocks)})"
        )

    # ---------------------------------------------------------------- helpers

    def _check_capacity(self, capacity: int) -> None:
        if capacity > self.max_capacity:
            raise ValueError(
                f"capacity {capacity} is above the {self.name} policy's maximum {self.max_capacity}"
            )

    def _no_fit(self, size: int, align: int, moving: int = -1) -> str:
        what = f"size {size}" + (f" align {align}" if align > 1 else "")
        where = f" (moving block {moving})" if moving >= 0 else ""
        free = f"{self.available} of {self._capacity} slots free"
        return f"no hole fits {what}{where}: {free}, {self._largest_text()}"

    def _largest_text(self) -> str:
        """The end of an ``OutOfSpace`` message: the largest hole (a policy may say something cheaper)."""
        return f"largest hole {self._largest_hole()}"

    def _not_a_block(self, operation: str, offset: int) -> str:
        # Error path only: the linear scan names the block the offset falls in, if any.
        for start, size in self._blocks.items():
            if start < offset < start + size:
                return (
                    f"{operation}: offset {offset} is inside block [{start}, {start + size}), "
                    f"not at its start"
                )
        if offset < 0 or offset >= self._capacity:
            return f"{operation}: offset {offset} is outside the space [0, {self._capacity})"
        return f"{operation}: offset {offset} is not the start of a live block (free, or already freed)"
