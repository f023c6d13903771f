"""A naive reference model of the allocator contract, predicting exact offsets.

``Model(policy, capacity)`` keeps the live blocks in a dict and derives the
holes from them on every call: a sorted list of ``(start, size)`` gaps,
maximal by construction, scanned linearly.  Nothing is cached or indexed, so
each placement rule below is a few lines that read like the spec (issue 2,
"Semantics every policy keeps"):

* ``first-fit`` and ``bitmap``: the lowest aligned offset that fits.
* ``best-fit``: among the holes that can hold the aligned request, the
  smallest; ties go to the lowest address; inside it, the lowest aligned offset.
* ``next-fit``: a roving pointer, initially 0, set to the end of each
  successful ``alloc`` and of each ``realloc`` that moves.  Search the hole
  that contains the pointer, from the pointer aligned up; then the holes that
  start after the pointer, in address order; then wrap around: plain first fit
  from 0.  ``free``, ``reserve``, an in-place ``realloc`` and ``grow`` leave the
  pointer; ``clear`` resets it to 0.
* ``realloc(offset, size, align)``: when ``offset`` satisfies ``align``, shrink
  in place, or grow in place if the hole right after the block is large enough;
  otherwise free the block and allocate again (so its own slots count as free),
  and if that fails put it back and raise ``OutOfSpace``.
* ``reserve(offset, size)``: claims exactly ``[offset, offset + size)`` if one
  hole contains all of it, else ``OutOfSpace``.
* recorded aligns: ``alloc`` with ``align > 1`` records it for the block;
  ``realloc`` replaces it by its own (1: none), ``free`` and ``clear`` drop it.
* ``compact(limit)`` (``slide``): in address order, each block goes to the
  lowest multiple of its recorded align at or above the end of the block
  placed before it; next fit's pointer goes to the end of the highest block
  if anything moved.  Buddy's rule (``lowest_free``) is here too, for the
  shadow: in address order, each block goes to the lowest free multiple of
  ``max(size, align)`` that holds it, once its own slots count as free.

The policies it knows are ``traits.MODELLED``; the others (TLSF, buddy) are
checked against a shadow of their blocks instead (``tests/shadow.py``).

The model assumes well-typed arguments (sizes > 0, aligns powers of two): the
argument checks are tested on the allocators directly.  It raises the
library's exception classes, which are part of the spec, so that tests can
compare outcomes; it uses nothing else from the library.

Every operation is O(blocks log blocks): fine for the small spaces the tests use.
"""

from __future__ import annotations

from traits import MODELLED, traits_of

from rangealloc import InvalidBlock, OutOfSpace

__all__ = ["MODELLED", "Model", "align_up", "aligned_fit", "compact_moves", "gaps", "lowest_free", "slide"]


def align_up(offset: int, align: int) -> int:
    """The smallest multiple of ``align`` that is >= ``offset``."""
    return (offset + align - 1) // align * align


def aligned_fit(start: int, end: int, size: int, align: int) -> int | None:
    """The lowest multiple of ``align`` in ``[start, end)`` where ``size`` slots fit before ``end``."""
    offset = align_up(start, align)
    return offset if offset + size <= end else None


def gaps(blocks: dict[int, int], capacity: int) -> list[tuple[int, int]]:
    """The free ranges between ``blocks`` in ``[0, capacity)``, as ``(start, size)`` in address order."""
    holes: list[tuple[int, int]] = []
    position = 0
    for start, size in sorted(blocks.items()):
        if start > position:
            holes.append((position, start - position))
        position = start + size
    if position < capacity:
        holes.append((position, capacity - position))
    return holes


def slide(blocks: dict[int, int], aligns: dict[int, int], limit: int = -1) -> list[tuple[int, int, int]]:
    """``compact``'s moves ``(offset, new_offset, size)``: blocks slid down in address order, aligned.

    At most ``limit`` moves (all if negative).
    """
    moves: list[tuple[int, int, int]] = []
    end = 0
    for offset, size in sorted(blocks.items()):
        if len(moves) == limit:
            break
        new = align_up(end, aligns.get(offset, 1))
        if new < offset:
            moves.append((offset, new, size))
            end = new + size
        else:
            end = offset + size
    return moves


def lowest_free(
    blocks: dict[int, int], aligns: dict[int, int], capacity: int, limit: int = -1
) -> list[tuple[int, int, int]]:
    """Buddy's ``compact`` moves (at most ``limit``).

    In address order, each block goes to the lowest free multiple of its size
    and align where it fits, once its own slots count as free.
    """
    moves: list[tuple[int, int, int]] = []
    placed = dict(blocks)
    for offset, size in sorted(blocks.items()):
        if len(moves) == limit:
            break
        del placed[offset]
        step = max(size, aligns.get(offset, 1))
        new = first_fit(gaps(placed, capacity), size, step)
        assert new is not None and new <= offset
        placed[new] = size
        if new < offset:
            moves.append((offset, new, size))
    return moves


def compact_moves(
    policy: str, blocks: dict[int, int], aligns: dict[int, int], capacity: int, limit: int = -1
) -> list[tuple[int, int, int]]:
    """The moves ``compact`` makes under ``policy``: ``lowest_free`` for buddy blocks, else ``slide``."""
    if traits_of(policy).exact_size:
        return slide(blocks, aligns, limit)
    return lowest_free(blocks, aligns, capacity, limit)


def first_fit(holes: list[tuple[int, int]], size: int, align: int) -> int | None:
    """The lowest aligned offset, over ``holes`` in the order given, where ``size`` slots fit."""
    for start, length in holes:
        offset = aligned_fit(start, start + length, size, align)
        if offset is not None:
            return offset
    return None


class Model:
    """The contract of one policy, written as naively as possible (see the module docstring)."""

    def __init__(self, policy: str, capacity: int) -> None:
        if policy not in MODELLED:
            raise ValueError(f"the model does not know policy {policy!r}")
        self.policy = policy
        self.capacity = capacity
        self.blocks: dict[int, int] = {}
        self.aligns: dict[int, int] = {}  # the recorded align of blocks asked with align > 1
        self.pointer = 0

    # ---------------------------------------------------------------- queries

    def holes(self) -> list[tuple[int, int]]:
        """The maximal free ranges, in address order."""
        return gaps(self.blocks, self.capacity)

    def block_list(self) -> list[tuple[int, int]]:
        """The live blocks, in address order."""
        return sorted(self.blocks.items())

    @property
    def used(self) -> int:
        return sum(self.blocks.values())

    # -------------------------------------------------------------- placement

    def place(self, size: int, align: int) -> int | None:
        """Where the policy puts a new block of ``size`` slots (None: nowhere).  Changes nothing."""
        holes = self.holes()
        if self.policy in ("first-fit", "bitmap"):
            return first_fit(holes, size, align)
        if self.policy == "best-fit":
            best: tuple[int, int] | None = None  # (hole size, offset)
            for start, length in holes:
                offset = aligned_fit(start, start + length, size, align)
                # Strictly smaller only: on a tie the lower address, seen first, stays.
                if offset is not None and (best is None or length < best[0]):
                    best = (length, offset)
            return None if best is None else best[1]
        # next-fit
        pointer = self.pointer
        for start, length in holes:
            if start <= pointer < start + length:
                offset = aligned_fit(pointer, start + length, size, align)
                if offset is not None:
                    return offset
        later = first_fit([(s, n) for s, n in holes if s > pointer], size, align)
        if later is not None:
            return later
        return first_fit(holes, size, align)

    # ------------------------------------------------------------- operations

    def alloc(self, size: int, align: int = 1) -> int:
        offset = self.place(size, align)
        if offset is None:
            raise OutOfSpace(f"model: no hole fits size {size} align {align}")
        self.blocks[offset] = size
        if align > 1:
            self.aligns[offset] = align
        if self.policy == "next-fit":
            self.pointer = offset + size
        return offset

    def free(self, offset: int) -> None:
        if offset not in self.blocks:
            raise InvalidBlock(f"model: no block at {offset}")
        del self.blocks[offset]
        self.aligns.pop(offset, None)

    def realloc(self, offset: int, size: int, align: int = 1) -> int:
        if offset not in self.blocks:
            raise InvalidBlock(f"model: no block at {offset}")
        old = self.blocks[offset]
        new: int | None = None
        if offset % align == 0:
            room_after = dict(self.holes()).get(offset + old, 0)
            if size <= old or size - old <= room_after:
                new = offset
        if new is None:
            del self.blocks[offset]
            new = self.place(size, align)
            if new is None:
                self.blocks[offset] = old
                raise OutOfSpace(f"model: no hole fits size {size} align {align} (moving block {offset})")
            if self.policy == "next-fit":
                self.pointer = new + size
        self.blocks[new] = size
        self.aligns.pop(offset, None)
        if align > 1:
            self.aligns[new] = align
        return new

    def reserve(self, offset: int, size: int) -> int:
        if offset + size > self.capacity:
            raise ValueError(f"model: [{offset}, {offset + size}) is outside [0, {self.capacity})")
        for start, length in self.holes():
            if start <= offset and offset + size <= start + length:
                self.blocks[offset] = size
                return offset
        raise OutOfSpace(f"model: [{offset}, {offset + size}) is not all free")

    def grow(self, capacity: int) -> None:
        if capacity < self.capacity:
            raise ValueError(f"model: cannot grow from {self.capacity} to {capacity}")
        self.capacity = capacity

    def clear(self) -> None:
        self.blocks = {}
        self.aligns = {}
        self.pointer = 0

    def compact(self, max_moves: int | None = None) -> list[tuple[int, int, int]]:
        moves = slide(self.blocks, self.aligns, -1 if max_moves is None else max_moves)
        for offset, new, size in moves:
            del self.blocks[offset]
            self.blocks[new] = size
            if offset in self.aligns:
                self.aligns[new] = self.aligns.pop(offset)
        if moves and self.policy == "next-fit":
            self.pointer = max(offset + size for offset, size in self.blocks.items())
        return moves
