"""TLSF: two-level segregated fit, O(1) alloc and free, and no false out-of-space.

Masmano, Ripoll, Crespo, Real: "TLSF: a New Dynamic Memory Allocator for
Real-Time Systems" (ECRTS 2004).  Holes are kept in segregated bins, one per
size class; a class is a row (the highest set bit of the size) and a column
(the next ``sl`` bits), so each power of two is split into 2**sl classes
(``_bits.size_class``).  Two levels of bitmaps say which bins are non-empty,
and each bin is an intrusive doubly linked list of ``_Hole`` nodes, newest
first, as in the paper::

    _rows   0b1011                         bit r: some bin in row r is non-empty
    _cols   [0b0001, 0b0100, 0, 0b1000..]  per row, bit c: bin (r, c) is non-empty
    _heads  [None, a, None, d, ...]        per class, the newest hole of its bin

    _heads[cls] -> [a] <-> [b] <-> [c] -> None     next: older, prev: newer
    _starts {start: node}   _ends {end: node}      one node per hole, found both ways

    [ block ][   hole b   ][ block ]
             ^start        ^end         _starts[start] is _ends[end] is b

    alloc(size): cls = size_class_up(size)   first class whose every hole fits
                 col bits of cls's row at or above its column  -> lowest set bit
                 else rows above                               -> lowest set bit
                 take the head of that bin; the rest of it stays a hole

Find-first-set is ``(x & -x).bit_length() - 1`` on Python ints: a few
machine-word operations whatever the number of holes, so alloc is O(1).
Free merges at once with the neighbouring holes, found in O(1) through
``_starts`` and ``_ends`` (metadata out of band: the allocator never writes
into the space, which may be anything).

**One node per hole.**  A hole is one small object (start, size, class, prev,
next) for its whole life: carved from its front it keeps its node (only its
key in ``_starts`` changes, ``_ends`` is untouched); a free that merges with a
neighbour grows that neighbour's node.  Moving a hole between bins is a few
pointer updates, not dict operations.  Measured on the power-law churn of
``bench/``'s scaling section (2**40 slots, sizes 2**16..2**26), an alloc+free
pair makes 7.2 dict operations, 2 of them in the block table ``_blocks``
(alloc 2, free 3.2 on average), where keeping every hole in three dicts
({start: size}, {end: start} and its bin's {start: size}) made 14; and 17.1k
machine instructions instead of 26.1k (cachegrind, 1k live blocks).  Time per
pair fell by 30-40% at 1k-100k live blocks and by 12-28% at 1M, where misses
dominate: a lookup in a dict that has outgrown the caches costs 100-150 ns,
and reaching a node, its neighbours in the bin and its ints costs more.

The hot paths are inlined: with free calling link helpers, a pair took 24.0k
instructions.  The bitmap updates use per-class tables (``_row_of``,
``_col_of``, ``_bit_of``, ``_rowbit_of``), and ``+``, ``-``, ``*`` where
they give the same result (bits known clear or set): ``<<``, ``&``, ``|`` and
``^`` have no fast path for Python ints in CPython 3.11, ``+``, ``-`` and
``*`` do.  With the class formula of ``_alloc``, that took 20.3k to 17.1k.

Placement is the paper's: the newest hole (LIFO) of the first non-empty class
at or above the rounded request.  A hole that changes (carved, merged) becomes
the newest of the bin of its new size, even when that is the bin it was in.

**No false out-of-space.**  Rounding the request up to a class whose every
hole fits is what makes TLSF O(1), and it is also why plain TLSF (and
sebbbi's OffsetAllocator) can refuse a request that fits: a hole of 1030
slots sits in the class [1024, 1088) and is never offered to a request of
1025.  Here, when no class above has a hole, the search looks in the classes
below the rounded one that may still hold a fitting hole, ``size_class(size)``
up to the rounded class (just one class when align is 1), each bin oldest
hole first, before raising.  That fallback is linear in the holes of those
classes; it only runs when the space is nearly full for that size.

Alignment: the class search asks for ``size + align - 1`` slots, enough for
any start; the aligned block is carved at the first aligned offset and the
leading padding stays a hole (keeping the node; the tail gets a new one).

``sl`` (second-level bits) trades bins for rounding: a size is at most
1/2**sl above its class floor.  The default 4 (16 classes per power of two)
is what the paper recommends; ``bench/`` measures 3 to 6.

Invariants (``check``): ``_starts`` and ``_ends`` map each hole's start and end
to its node and hold nothing else; every node is in exactly one bin, the bin
of ``size_class(size)``, which is also its ``cls``; each bin is doubly linked
consistently (the head has no ``prev``, each node's ``prev`` is the node
before it) with no cycle; a bit is set in ``_cols`` exactly for the
non-empty bins and in ``_rows`` exactly for the rows with a set column bit;
the per-class tables are those of ``sl``.  (No two holes touch: ``Allocator``.)

Time: alloc O(1) (plus the fallback above); free O(1); realloc in place O(1).
``stats().largest_hole``: exact, O(holes in the top non-empty bin): the
largest hole is in that bin, and the bitmaps find it in O(1).
``top_hole``: O(1) (``_ends.get(capacity)``).  ``reserve`` inside a hole
(past its start) other than the top one, and ``holes()``, need address order,
which TLSF does not keep: O(n) and O(n log n); ``restore``, ``compact`` and
``realloc`` find their holes in O(1) (``_containing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, SupportsIndex, final

from ._base import Allocator, dict_pop
from ._bits import size_class
from ._errors import CorruptState, as_int, check_state_keys
from ._mypyc import mypyc_attr

__all__ = ["TLSF"]

DEFAULT_SL: Final = 4


@final
class _Hole:
    """One hole ``[start, start + size)``, linked in the bin of its class ``cls``.

    ``prev`` is the next newer hole of that bin (None for the head, the
    newest), ``next`` the next older one (None for the oldest).
    """

    __slots__ = ("cls", "next", "prev", "size", "start")

    def __init__(self, start: int, size: int, cls: int = -1, older: _Hole | None = None) -> None:
        self.start = start
        self.size = size
        self.cls = cls
        self.prev: _Hole | None = None
        self.next: _Hole | None = older


@mypyc_attr(allow_interpreted_subclasses=True)
class TLSF(Allocator):
    """Two-level segregated fit: O(1) alloc and free, with a fallback that never refuses a fit.

    >>> a = TLSF(1 << 20)
    >>> x, y = a.alloc(100), a.alloc(1000)
    >>> a.free(x); a.alloc(60)
    0
    """

    __slots__ = (
        "_bit_of",
        "_col_of",
        "_cols",
        "_ends",
        "_freed",
        "_heads",
        "_mask",
        "_row_of",
        "_rowbit_of",
        "_rows",
        "_sl",
        "_starts",
    )

    name = "tlsf"

    _sl: int
    _mask: int  # 2**sl - 1: the column of a class (and the last class of row 0)
    _rows: int  # bit r: row r has a non-empty bin
    _cols: list[int]  # per row, bit c: bin (row << sl | c) is non-empty
    _heads: list[_Hole | None]  # per class, the newest hole of its bin (None: empty)
    _starts: dict[int, _Hole]  # start -> hole
    _ends: dict[int, _Hole]  # end -> hole
    _freed: _Hole | None  # the hole the last free made or grew (a hint for _take; may be gone since)
    # Per class: its row, its column, its bit in that row's column bitmap, its row's bit in ``_rows``
    # (list lookups are cheaper than >>, << and & on Python ints).
    _row_of: list[int]
    _col_of: list[int]
    _bit_of: list[int]
    _rowbit_of: list[int]

    def __init__(self, capacity: SupportsIndex, *, sl: SupportsIndex = DEFAULT_SL) -> None:
        """Make an empty TLSF over ``[0, capacity)`` with ``2**sl`` classes per power of two.

        Raises ``ValueError`` if ``sl`` is not in 0..8 (and as ``Allocator``).
        """
        sl = as_int(sl, "sl")
        if not 0 <= sl <= 8:
            raise ValueError(f"sl must be in 0..8, got {sl}")
        self._sl = sl
        self._mask = (1 << sl) - 1
        super().__init__(capacity)

    def _snapshot_state(self) -> dict[str, int]:
        return {"sl": self._sl}

    @classmethod
    def _from_state(cls, capacity: int, state: dict[str, int]) -> Allocator:
        check_state_keys(cls.name, state, ("sl",))
        sl = state.get("sl", DEFAULT_SL)
        if not 0 <= sl <= 8:
            raise ValueError(f"snapshot state: tlsf sl {sl} is not in 0..8")
        return cls(capacity, sl=sl)

    # ------------------------------------------------------------- hot paths

    def _alloc(self, size: int, align: int) -> int:
        sl = self._sl
        mask = self._mask
        # size + align - 1 slots hold the request at any start; the first class whose
        # every hole holds that many, size_class_up(n), is size_class(n - 1) + 1.
        # size_class(x) for x > mask, inlined: with shift = x.bit_length() - 1 - sl,
        # row shift + 1 and column (x >> shift) - 2**sl, so (x >> shift) + shift * 2**sl
        # (+, -, * have fast paths for small ints in CPython; <<, &, |, ^ do not).
        want = size + align - 2
        if want > mask:
            shift = want.bit_length() - 1 - sl
            want = (want >> shift) + shift * (mask + 1)
        want += 1
        # Find-first-set: the first non-empty class at or above ``want``.
        row_of = self._row_of
        if want >= len(row_of):
            return self._alloc_below(size, align, want)
        row = row_of[want]
        cols = self._cols
        bits = cols[row] >> self._col_of[want]
        if bits:
            cls = want + (bits & -bits).bit_length() - 1
        else:
            rows = self._rows >> (row + 1)
            if not rows:
                return self._alloc_below(size, align, want)
            row += (rows & -rows).bit_length()
            bits = cols[row]
            cls = row * (mask + 1) + (bits & -bits).bit_length() - 1
        # Take the newest hole of that class (LIFO, as the paper's free lists).
        heads = self._heads
        node = heads[cls]
        if node is None:
            raise CorruptState(f"tlsf: the bitmaps name class {cls}, whose bin is empty")
        start = node.start
        if align > 1 and start & (align - 1):  # (a compare is cheaper than an &)
            offset = start + (-start & (align - 1))  # the padding stays a hole
            self._carve(node, offset, size)
            return offset
        end = start + size
        hole_end = start + node.size
        starts = self._starts
        del starts[start]
        if end < hole_end:
            # The rest keeps the node: only its key by start changes.
            rest = hole_end - end
            node.start = end
            node.size = rest
            starts[end] = node
            if rest <= mask:
                new = rest
            else:
                shift = rest.bit_length() - 1 - sl
                new = (rest >> shift) + shift * (mask + 1)
            if new == cls:
                return start  # still the head of its bin, the newest: nothing to relink
        else:
            del self._ends[hole_end]
            new = -1
        # Unlink the head of ``cls`` (its bitmap bits are set: subtracting clears them) ...
        older = node.next
        heads[cls] = older
        if older is None:
            row = row_of[cls]
            bits = cols[row] - self._bit_of[cls]
            cols[row] = bits
            if not bits:
                self._rows -= self._rowbit_of[cls]
        else:
            older.prev = None
        if new < 0:
            return start
        # ... and make it the head of ``new``.
        node.cls = new
        head = heads[new]
        node.next = head
        if head is None:
            row = row_of[new]
            bits = cols[row]
            if not bits:
                self._rows += self._rowbit_of[new]
            cols[row] = bits + self._bit_of[new]
        else:
            head.prev = node
        heads[new] = node
        return start

    def _alloc_below(self, size: int, align: int, want: int) -> int:
        """No class from ``want`` up has a hole: the fallback, then carve; -1 if nothing fits."""
        node = self._find_below(size, align, want)
        if node is None:
            return -1
        start = node.start
        offset = start + (-start & (align - 1))
        self._carve(node, offset, size)
        return offset

    def _free(self, offset: int, size: int) -> None:
        end = offset + size
        left = dict_pop(self._ends, offset, None)
        right = dict_pop(self._starts, end, None)
        heads = self._heads
        if left is not None:
            if right is not None:
                # Merge with the hole after too: its node is dropped, unlinked here.
                end += right.size
                prev = right.prev
                older = right.next
                if older is not None:
                    older.prev = prev
                if prev is not None:
                    prev.next = older
                else:
                    cls = right.cls
                    heads[cls] = older
                    if older is None:
                        row = self._row_of[cls]
                        bits = self._cols[row] - self._bit_of[cls]
                        self._cols[row] = bits
                        if not bits:
                            self._rows -= self._rowbit_of[cls]
            self._ends[end] = left  # the hole before grows to the end: its node stays
            node = left
            hole = end - left.start
            node.size = hole
        elif right is not None:
            node = right  # the hole after grows to the front: its node stays
            node.start = offset
            hole = right.size + size
            node.size = hole
            self._starts[offset] = node
        else:
            # A new hole: the newest of its bin.
            mask = self._mask
            if size <= mask:
                cls = size
            else:
                shift = size.bit_length() - 1 - self._sl
                cls = (size >> shift) + shift * (mask + 1)
            head = heads[cls]
            node = _Hole(offset, size, cls, head)
            self._starts[offset] = node
            self._ends[end] = node
            if head is None:
                row = self._row_of[cls]
                bits = self._cols[row]
                if not bits:
                    self._rows += self._rowbit_of[cls]
                self._cols[row] = bits + self._bit_of[cls]
            else:
                head.prev = node
            heads[cls] = node
            self._freed = node
            return
        self._freed = node
        # The merged hole becomes the newest of the bin of its new size (it already
        # is when it heads that bin: then nothing moves).
        mask = self._mask
        if hole <= mask:
            new = hole
        else:
            shift = hole.bit_length() - 1 - self._sl
            new = (hole >> shift) + shift * (mask + 1)
        cls = node.cls
        prev = node.prev
        if prev is None and new == cls:
            return
        older = node.next
        if older is not None:
            older.prev = prev
        if prev is not None:
            prev.next = older
        else:
            heads[cls] = older
            if older is None:
                row = self._row_of[cls]
                bits = self._cols[row] - self._bit_of[cls]
                self._cols[row] = bits
                if not bits:
                    self._rows -= self._rowbit_of[cls]
        node.cls = new
        node.prev = None
        head = heads[new]
        node.next = head
        if head is None:
            row = self._row_of[new]
            bits = self._cols[row]
            if not bits:
                self._rows += self._rowbit_of[new]
            self._cols[row] = bits + self._bit_of[new]
        else:
            head.prev = node
        heads[new] = node

    # ---------------------------------------------------------------- linking

    def _push(self, node: _Hole) -> None:
        """Make ``node`` (in no bin) the newest hole of the bin of its size.  Time: O(1)."""
        cls = size_class(node.size, self._sl)
        node.cls = cls
        node.prev = None
        heads = self._heads
        head = heads[cls]
        node.next = head
        if head is None:
            row = self._row_of[cls]
            self._cols[row] |= self._bit_of[cls]
            self._rows |= self._rowbit_of[cls]
        else:
            head.prev = node
        heads[cls] = node

    def _unlink(self, node: _Hole) -> None:
        """Take ``node`` out of its bin.  Time: O(1)."""
        prev = node.prev
        older = node.next
        if older is not None:
            older.prev = prev
        if prev is not None:
            prev.next = older
            return
        cls = node.cls
        self._heads[cls] = older
        if older is None:
            row = self._row_of[cls]
            bits = self._cols[row] & ~self._bit_of[cls]
            self._cols[row] = bits
            if not bits:
                self._rows &= ~self._rowbit_of[cls]

    def _relink(self, node: _Hole) -> None:
        """``node``'s hole changed: make it the newest of the bin of its new size.  Time: O(1).

        Unlinking and pushing a hole that already heads the right bin would
        leave everything as it was: then nothing is done.
        """
        if node.prev is None and size_class(node.size, self._sl) == node.cls:
            return
        self._unlink(node)
        self._push(node)

    def _carve(self, node: _Hole, offset: int, size: int) -> None:
        """Claim ``[offset, offset + size)`` inside ``node``'s hole; the rest on either side stays free.

        The padding before keeps the node; so does the tail after when there
        is no padding.  Time: O(1).
        """
        start = node.start
        end = offset + size
        hole_end = start + node.size
        if offset > start:
            node.size = offset - start
            self._ends[offset] = node
            self._relink(node)
            if end < hole_end:
                tail = _Hole(end, hole_end - end)
                self._starts[end] = tail
                self._ends[hole_end] = tail
                self._push(tail)
            else:
                del self._ends[hole_end]
            return
        del self._starts[start]
        if end < hole_end:
            node.start = end
            node.size = hole_end - end
            self._starts[end] = node
            self._relink(node)
        else:
            del self._ends[hole_end]
            self._unlink(node)

    # -------------------------------------------------------------- searching

    def _find_below(self, size: int, align: int, want: int) -> _Hole | None:
        """Search the classes below ``want`` whose holes may still hold the request, oldest first."""
        mask = align - 1
        heads = self._heads
        for cls in range(size_class(size, self._sl), min(want, len(heads))):
            node = heads[cls]
            if node is None:
                continue
            while node.next is not None:  # to the oldest...
                node = node.next
            found: _Hole | None = node
            while found is not None:  # ... and back
                start = found.start
                if start + (-start & mask) + size <= start + found.size:
                    return found
                found = found.prev
        return None

    # ------------------------------------------------------- Allocator hooks

    def _reset(self, capacity: int) -> None:
        self._rows = 0
        self._cols = []
        self._heads = []
        self._row_of = []
        self._col_of = []
        self._bit_of = []
        self._rowbit_of = []
        self._extend(capacity)
        node = _Hole(0, capacity)
        self._starts = {0: node}
        self._ends = {capacity: node}
        self._freed = None
        self._push(node)

    def _extend(self, capacity: int) -> None:
        """Make room in the per-class lists and ``_cols`` for holes up to ``capacity`` slots."""
        sl = self._sl
        classes = size_class(capacity, sl) + 1
        old = len(self._heads)
        self._heads.extend([None] * (classes - old))
        new = range(old, classes)
        self._row_of.extend([cls >> sl for cls in new])
        self._col_of.extend([cls & self._mask for cls in new])
        self._bit_of.extend([1 << (cls & self._mask) for cls in new])
        self._rowbit_of.extend([1 << (cls >> sl) for cls in new])
        rows = ((classes - 1) >> sl) + 1
        self._cols.extend([0] * (rows - len(self._cols)))

    def _take(self, offset: int, size: int) -> bool:
        node = self._starts.get(offset)
        if node is None:
            node = self._containing(offset)
            if node is None:
                return False
        if offset + size > node.start + node.size:
            return False
        self._carve(node, offset, size)
        return True

    def _containing(self, offset: int) -> _Hole | None:
        """The hole that has ``offset`` inside it, past its start; None if there is none.

        O(1) where the library asks: inside the top hole (``restore`` claims
        the blocks in address order) or inside the hole that the last free
        made or grew (``realloc`` putting back a block it could not move,
        ``compact`` sliding a block down past its padding).  Anywhere else
        (``reserve`` inside a lower hole) TLSF, which keeps no address order,
        scans the holes: O(n).
        """
        if offset >= self._capacity:
            return None
        starts = self._starts
        for hint in (self._freed, self._ends.get(self._capacity)):
            if (
                hint is not None
                and hint.start < offset < hint.start + hint.size
                and starts.get(hint.start) is hint
            ):
                return hint
        return self._scan(offset)

    def _scan(self, offset: int) -> _Hole | None:
        """``_containing`` the slow way: every hole, in no order.  Time: O(n)."""
        for hole in self._starts.values():
            if hole.start < offset < hole.start + hole.size:
                return hole
        return None

    def _grow(self, old: int, new: int) -> None:
        self._extend(new)
        self._free(old, new - old)

    def _holes(self) -> Iterator[tuple[int, int]]:
        return iter(sorted((node.start, node.size) for node in self._starts.values()))

    def _hole_count(self) -> int:
        return len(self._starts)

    def _top_hole(self) -> int:
        node = self._ends.get(self._capacity)
        return 0 if node is None else node.size

    def _largest_hole(self) -> int:
        rows = self._rows
        if not rows:
            return 0
        row = rows.bit_length() - 1
        cols = self._cols
        cls = row << self._sl | (cols[row].bit_length() - 1 if row < len(cols) else 0)
        node = self._heads[cls] if row < len(cols) and 0 <= cls < len(self._heads) else None
        if node is None:
            # check() asks for this before it checks the bins: say what is wrong.
            raise CorruptState(f"tlsf: the row bitmap and column bits name class {cls}, which has no hole")
        largest = 0
        limit = len(self._starts)
        while node is not None:
            if node.size > largest:
                largest = node.size
            node = node.next
            limit -= 1
            if limit < 0:
                raise CorruptState(f"tlsf: bin {cls} holds more holes than the tables (a cycle?)")
        return largest

    def _check_policy(self) -> None:
        sl = self._sl
        mask = self._mask
        starts = self._starts
        ends = self._ends
        heads = self._heads
        classes = size_class(self._capacity, sl) + 1
        if len(heads) != classes or len(self._cols) != ((classes - 1) >> sl) + 1:
            raise CorruptState(
                f"tlsf: {len(heads)} bins and {len(self._cols)} rows, capacity {self._capacity} "
                f"needs {classes} and {((classes - 1) >> sl) + 1}"
            )
        if (
            mask != (1 << sl) - 1
            or self._row_of != [cls >> sl for cls in range(classes)]
            or self._col_of != [cls & mask for cls in range(classes)]
            or self._bit_of != [1 << (cls & mask) for cls in range(classes)]
            or self._rowbit_of != [1 << (cls >> sl) for cls in range(classes)]
        ):
            raise CorruptState("tlsf: the per-class tables (row, column, bits) do not match sl")
        rows = 0
        cols = [0] * len(self._cols)
        linked: set[int] = set()  # id() of every node met in the bins
        for cls, head in enumerate(heads):
            if head is None:
                continue
            cols[cls >> sl] |= 1 << (cls & mask)
            rows |= 1 << (cls >> sl)
            prev: _Hole | None = None
            node: _Hole | None = head
            while node is not None:
                start = node.start
                size = node.size
                if id(node) in linked:
                    raise CorruptState(
                        f"tlsf: hole {start} is linked twice, again in bin {cls} (a cycle, or two bins)"
                    )
                linked.add(id(node))
                if node.prev is not prev:
                    before = "no hole" if prev is None else f"hole {prev.start}"
                    back = "no hole" if node.prev is None else f"hole {node.prev.start}"
                    raise CorruptState(
                        f"tlsf: bin {cls} is not doubly linked: hole {start} follows {before} "
                        f"but its prev link names {back}"
                    )
                if size_class(size, sl) != cls or node.cls != cls:
                    raise CorruptState(
                        f"tlsf: hole {start} of size {size} (marked class {node.cls}) is in bin {cls}, "
                        f"not in the bin of its class {size_class(size, sl)}"
                    )
                if starts.get(start) is not node:
                    raise CorruptState(f"tlsf: hole {start} in bin {cls} is missing from the table by start")
                if ends.get(start + size) is not node:
                    raise CorruptState(f"tlsf: hole {start} in bin {cls} is missing from the table by end")
                prev = node
                node = node.next
        if len(linked) != len(starts) or len(linked) != len(ends):
            raise CorruptState(
                f"tlsf: bins hold {len(linked)} holes, the tables {len(starts)} by start "
                f"and {len(ends)} by end"
            )
        for row, (bits, expected) in enumerate(zip(self._cols, cols, strict=True)):
            if bits != expected:
                raise CorruptState(f"tlsf: column bitmap of row {row} is {bits:#b}, should be {expected:#b}")
        if rows != self._rows:
            raise CorruptState(f"tlsf: row bitmap {self._rows:#b} should be {rows:#b}")
