"""TLSF: two-level segregated fit, O(1) alloc and free, and no false out-of-space.

Masmano, Ripoll, Crespo, Real: "TLSF: a New Dynamic Memory Allocator for
Real-Time Systems" (ECRTS 2004).  Holes are kept in segregated bins, one per
size class; a class is a row (the highest set bit of the size) and a column
(the next ``sl`` bits), so each power of two is split into 2**sl classes
(``_bits.size_class``).  Two levels of bitmaps say which bins are non-empty::

    _rows   0b1011                     bit r: some bin in row r is non-empty
    _cols   [0b0001, 0b0100, 0, 0b1000...]   per row, bit c: bin (r, c) non-empty
    _bins   [{}, {start: size, ...}, ...]    per class, holes by start

    alloc(size): cls = size_class_up(size)   first class whose every hole fits
                 col bits of cls's row at or above its column  -> lowest set bit
                 else rows above                               -> lowest set bit
                 take the newest hole of that bin; the rest of it stays a hole

Find-first-set is ``(x & -x).bit_length() - 1`` on Python ints: a few
machine-word operations whatever the number of holes, so alloc is O(1).
Free merges at once with the neighbouring holes, found in O(1) through the
tables by start and by end of ``HoleAllocator`` (metadata out of band: the
allocator never writes into the space, which may be anything).

**No false out-of-space.**  Rounding the request up to a class whose every
hole fits is what makes TLSF O(1), and it is also why plain TLSF (and
sebbbi's OffsetAllocator) can refuse a request that fits: a hole of 1030
slots sits in the class [1024, 1088) and is never offered to a request of
1025.  Here, when no class above has a hole, the search looks in the classes
below the rounded one that may still hold a fitting hole, ``size_class(size)``
up to the rounded class (just one class when align is 1), before raising.
That fallback is linear in the holes of those classes; it only runs when the
space is nearly full for that size.

Alignment: the class search asks for ``size + align - 1`` slots, enough for
any start; the aligned block is carved at the first aligned offset and the
leading padding stays a hole.

``sl`` (second-level bits) trades bins for rounding: a size is at most
1/2**sl above its class floor.  The default 4 (16 classes per power of two)
is what the paper recommends; ``bench/`` measures 3 to 6.

Invariants (``check``): every hole is in the bin of ``size_class(size)``;
the bins hold exactly the holes; a bit is set in ``_cols`` exactly for the
non-empty bins and in ``_rows`` exactly for the rows with a set column bit.

Time: alloc O(1) (plus the fallback above); free O(1); realloc in place O(1).
``stats().largest_hole``: O(holes in the top non-empty bin).  ``reserve`` at
an offset that is not a hole start, and ``holes()``, need address order, which
TLSF does not keep: O(n) and O(n log n).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ._bits import size_class
from ._errors import CorruptState, as_int
from ._holes import HoleAllocator

__all__ = ["TLSF"]

DEFAULT_SL: Final = 4


class TLSF(HoleAllocator):
    """Two-level segregated fit: O(1) alloc and free, with a fallback that never refuses a fit.

    >>> a = TLSF(1 << 20)
    >>> x, y = a.alloc(100), a.alloc(1000)
    >>> a.free(x); a.alloc(60)
    0
    """

    __slots__ = ("_bins", "_cols", "_rows", "_sl")

    name = "tlsf"

    _sl: int
    _rows: int  # bit r: row r has a non-empty bin
    _cols: list[int]  # per row, bit c: bin (row << sl | c) is non-empty
    _bins: list[dict[int, int]]  # per class, the holes {start: size}, oldest first

    def __init__(self, capacity: int, *, sl: int = DEFAULT_SL) -> None:
        """Make an empty TLSF over ``[0, capacity)`` with ``2**sl`` classes per power of two.

        Raises ``ValueError`` if ``sl`` is not in 0..8 (and as ``Allocator``).
        """
        sl = as_int(sl, "sl")
        if not 0 <= sl <= 8:
            raise ValueError(f"sl must be in 0..8, got {sl}")
        self._sl = sl
        super().__init__(capacity)

    # ------------------------------------------------------------- hot paths
    #
    # alloc and free are HoleAllocator's _carve and _free specialised to bins:
    # each hole is unlinked from / linked into its bin directly, without the
    # generic index hooks (in CPython a call costs ~60 ns of a ~2 us operation).

    def _alloc(self, size: int, align: int) -> int:
        sl = self._sl
        cmask = (1 << sl) - 1
        want = size + align - 1  # enough for any start; then _bits.size_class_up, inlined
        if want > cmask:
            shift = want.bit_length() - 1 - sl
            low = want & ((1 << shift) - 1)
            want = ((shift + 1) << sl | ((want >> shift) & cmask)) + (1 if low else 0)
        # Find-first-set: the first non-empty class at or above ``want``.
        row = want >> sl
        cols = self._cols
        cls = -1
        if row < len(cols):
            bits = cols[row] >> (want & cmask)
            if bits:
                cls = want + (bits & -bits).bit_length() - 1
            else:
                rows = self._rows >> (row + 1)
                if rows:
                    row += (rows & -rows).bit_length()
                    bits = cols[row]
                    cls = row << sl | ((bits & -bits).bit_length() - 1)
        if cls < 0:
            start = self._find_below(size, align, want)
            if start < 0:
                return -1
            offset = start + (-start & (align - 1))
            self._carve(start, self._hole_size[start], offset, size)
            return offset
        # Take the newest hole of that class (LIFO, as the paper's free lists).
        holes = self._bins[cls]
        start, hole = holes.popitem()
        if not holes:
            row = cls >> sl
            bits = cols[row] & ~(1 << (cls & cmask))
            cols[row] = bits
            if not bits:
                self._rows &= ~(1 << row)
        hole_size = self._hole_size
        by_end = self._hole_by_end
        del hole_size[start]
        offset = start
        if start & (align - 1):
            offset = start + (-start & (align - 1))  # the padding stays a hole
            hole_size[start] = offset - start
            by_end[offset] = start
            self._link(start, offset - start)
        end = offset + size
        hole_end = start + hole
        if end < hole_end:
            hole_size[end] = hole_end - end  # so does the tail
            by_end[hole_end] = end
            self._link(end, hole_end - end)
        else:
            del by_end[hole_end]
        return offset

    def _free(self, offset: int, size: int) -> None:
        hole_size = self._hole_size
        by_end = self._hole_by_end
        end = offset + size
        start = by_end.pop(offset, -1)
        if start >= 0:
            self._unlink(start, hole_size[start])  # merge with the hole before
        else:
            start = offset
        hole = hole_size.pop(end, 0)
        if hole:
            self._unlink(end, hole)  # merge with the hole after
            end += hole
            del by_end[end]
        hole_size[start] = end - start
        by_end[end] = start
        self._link(start, end - start)

    def _link(self, start: int, size: int) -> None:
        """Put the hole (start, size) in its bin.  Time: O(1)."""
        sl = self._sl
        if size < 1 << sl:
            cls = size
        else:
            shift = size.bit_length() - 1 - sl
            cls = ((shift + 1) << sl) | ((size >> shift) & ((1 << sl) - 1))
        holes = self._bins[cls]
        if not holes:
            row = cls >> sl
            self._cols[row] |= 1 << (cls & ((1 << sl) - 1))
            self._rows |= 1 << row
        holes[start] = size

    def _unlink(self, start: int, size: int) -> None:
        """Take the hole (start, size) out of its bin.  Time: O(1)."""
        sl = self._sl
        if size < 1 << sl:
            cls = size
        else:
            shift = size.bit_length() - 1 - sl
            cls = ((shift + 1) << sl) | ((size >> shift) & ((1 << sl) - 1))
        holes = self._bins[cls]
        del holes[start]
        if not holes:
            row = cls >> sl
            bits = self._cols[row] & ~(1 << (cls & ((1 << sl) - 1)))
            self._cols[row] = bits
            if not bits:
                self._rows &= ~(1 << row)

    # -------------------------------------------------------------- searching

    def _find_below(self, size: int, align: int, want: int) -> int:
        """Search the classes below ``want`` whose holes may still hold the request."""
        mask = align - 1
        bins = self._bins
        for cls in range(size_class(size, self._sl), min(want, len(bins))):
            for start, hole in bins[cls].items():
                if start + (-start & mask) + size <= start + hole:
                    return start
        return -1

    # ------------------------------------------------------------ index hooks

    def _index_clear(self) -> None:
        self._rows = 0
        self._cols = []
        self._bins = []
        self._extend(self._capacity)

    def _extend(self, capacity: int) -> None:
        """Make room in ``_bins`` and ``_cols`` for holes up to ``capacity`` slots."""
        classes = size_class(capacity, self._sl) + 1
        self._bins.extend({} for _ in range(classes - len(self._bins)))
        rows = ((classes - 1) >> self._sl) + 1
        self._cols.extend(0 for _ in range(rows - len(self._cols)))

    def _index_add(self, start: int, size: int) -> None:
        self._link(start, size)

    def _index_remove(self, start: int, size: int) -> None:
        self._unlink(start, size)

    def _index_replace(self, start: int, size: int, new_start: int, new_size: int) -> None:
        self._unlink(start, size)
        self._link(new_start, new_size)

    def _index_floor(self, offset: int) -> int:
        # TLSF keeps no address order: a linear scan (reserve at an interior offset only).
        return max((start for start in self._hole_size if start <= offset), default=-1)

    def _index_holes(self) -> Iterator[tuple[int, int]]:
        return iter(sorted(self._hole_size.items()))

    def _grow(self, old: int, new: int) -> None:
        self._extend(new)
        super()._grow(old, new)

    def _largest_hole(self) -> int:
        rows = self._rows
        if not rows:
            return 0
        row = rows.bit_length() - 1
        cls = row << self._sl | (self._cols[row].bit_length() - 1 if row < len(self._cols) else 0)
        if row >= len(self._cols) or not 0 <= cls < len(self._bins) or not self._bins[cls]:
            # check() asks for this before it checks the bins: say what is wrong.
            raise CorruptState(f"tlsf: the row bitmap and column bits name class {cls}, which has no hole")
        return max(self._bins[cls].values())

    def _check_index(self) -> None:
        sl = self._sl
        rows = 0
        seen = 0
        cols = [0] * len(self._cols)
        for cls, holes in enumerate(self._bins):
            if holes:
                cols[cls >> sl] |= 1 << (cls & ((1 << sl) - 1))
                rows |= 1 << (cls >> sl)
            for start, size in holes.items():
                seen += 1
                if size_class(size, sl) != cls:
                    raise CorruptState(f"tlsf: hole {start} of size {size} is in class {cls}")
                if self._hole_size.get(start) != size:
                    raise CorruptState(f"tlsf: bin {cls} holds hole {start} unknown to the hole table")
        for row, (bits, expected) in enumerate(zip(self._cols, cols, strict=True)):
            if bits != expected:
                raise CorruptState(f"tlsf: column bitmap of row {row} is {bits:#b}, should be {expected:#b}")
        if seen != len(self._hole_size):
            raise CorruptState(f"tlsf: bins hold {seen} holes, the hole table {len(self._hole_size)}")
        if rows != self._rows:
            raise CorruptState(f"tlsf: row bitmap {self._rows:#b} should be {rows:#b}")
