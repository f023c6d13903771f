"""Bitmap: one bit per slot, placement as first fit; one int when small, chunks under a tree when large.

Bit ``i`` is set when slot ``i`` is free::

    slot     0 1 2 3 4 5 6 7 8 9
    block    [a a a]   [b b]
    bits   = 0 0 0 1 1 0 0 1 1 1   (bit 0 first)  = 0b1110011000

A request of ``size`` slots needs ``size`` consecutive set bits, and the
bitmap takes the lowest aligned run that fits: first fit, exactly (the same
offsets as ``FirstFit``).  How the bits are kept depends on the capacity.

**Small mode** (``capacity <= small_limit``, 2**15): the whole map is one
Python int, ``_map``, searched with a handful of big-int operations that run
in C a machine word at a time (``_bits.fit_starts``)::

    runs = free & free >> 1 & free >> 2 ...   bit i: slots i .. i+size-1 free
    runs &= aligned_mask(align)               keep aligned starts
    offset = (runs & -runs).bit_length() - 1  the lowest one: first fit

so ``alloc`` costs O(log size) operations on a ``capacity``-bit int: for an
interpreter's 256 slots, a few hundred nanoseconds whatever the occupancy.
``free`` is one ``|``.  There is no hole list: ``holes()`` and ``stats()``
find the runs of set bits.  But every operation reads the whole map, O(capacity
/ w) machine digits (w = 30 bits per digit of a Python int): at 2**24 slots,
half a millisecond per event.

**Large mode** (``capacity > small_limit``): the space is cut in chunks of
``chunk_bits`` slots (B, 2**11), each an int of B bits in ``_chunks``, under a
segment tree that keeps three numbers per node about the slots below it:
``pre`` (the free run at its start), ``suf`` (the free run at its end) and
``best`` (the longest free run inside it).  The tree is three flat lists
indexed as a heap (root 1, children ``2i`` and ``2i + 1``) over L leaves, L the
smallest power of two with ``L * B >= capacity``; leaf ``L + j`` is chunk ``j``.
Slots past the capacity (in the last chunk and in the padding chunks) are in
use, so no run crosses the end of the space::

    chunks    [0, B)   [B, 2B)  [2B, 3B)  (padding: 0)     leaves L .. 2L - 1
    node i    pre[i]   suf[i]   best[i]                    root 1: best = largest hole

    parent of l, r (each h slots):   pre  = pre[l]  if pre[l] < h  else h + pre[r]
                                     suf  = suf[r]  if suf[r] < h  else h + suf[l]
                                     best = max(best[l], best[r], suf[l] + pre[r])

*First fit* of ``size`` (align 1) descends from the root: if the left child's
``best`` holds it, go left; else if the run across the middle (``suf[l] +
pre[r]``) does, the fit starts ``suf[l]`` slots before the middle; else go
right.  At a leaf, ``fit_starts`` on the chunk finds the lowest run.  The
lowest fit in a node lies in its left child, or across its middle, or in its
right child, in that order (a fit inside the left child that started after
the run across the middle would lie in that run, whose start would fit
first), so the descent finds exactly the lowest offset.

*Aligned* requests walk the fits of ``size`` in address order (``_find``: the
same descent from a position onwards) and test each for an aligned offset.
All the runs inside one chunk are tested at once against the chunk's mask of
aligned offsets, and the run at its top (which may go on over many chunks)
alone; so each step of the walk passes at least one chunk.  ``OutOfSpace`` is
raised only when no hole holds an aligned range of ``size`` slots.

*Updates*: a range that covers whole chunks sets them to all-free or all-used
outright, fixes its two end chunks, then recomputes the ancestors of the
touched leaves level by level, each once: O(k + log L) for k chunks, not
O(k log L).  A leaf's summary comes from the run through the changed range
(the ones just below it and just above it: a few operations on the chunk)
and only a claim that splits the chunk's longest run recounts it
(``_bits.longest_run``, doubling on the bits, never a loop over slots).
Climbing stops at the first level whose summaries did not change, since the
ones above cannot change either.

In large mode ``_map`` stays 0, so the inlined ``alloc`` of small mode finds
no run and takes the general path to ``_alloc``, where large mode lives: the
mode costs small mode's ``alloc`` nothing, and its ``free`` one test.

Invariants (``check``): the mode is the one the capacity asks for.  Small:
``_map`` has no bit at or above ``capacity``, and its bits are exactly the
slots no block covers.  Large: ``_map`` is 0, L is as above, the chunks'
bits are exactly the free slots (none past the capacity), and every leaf and
node summary equals its recomputation from scratch.

Time (w = 30, B = ``chunk_bits``, L = leaves, n = holes; a large-mode "op" is
an operation on a B-bit int, O(B / w): 35 to 80 ns at B = 2**11)::

    operation        small mode                      large mode
    alloc            O(log size x capacity / w)      O(log L + log size) ops
    alloc, align>1   the same                        that, times the chunks the walk passes: those
                                                     before the answer that start a run of size
                                                     free slots but hold no aligned fit
    free, reserve,   O(capacity / w)                 O(k + log L) ops for k chunks (mostly 1 or 2),
    realloc                                          + O(log B) when a claim splits a longest run
    grow             O(capacity / w)                 the free of the new slots; O(L) when L doubles
    top_hole         O(capacity / w)                 O(log L)
    stats            O(n x capacity / w)             O(L) ops (the largest hole: O(1))
    holes, check     O(n x capacity / w)             O(n + L) ops (check: + O(blocks + L log B))

*The tunables*, by measurement (``rangealloc.replay`` of three traces in the
extent model, CPU ns per event, the best of 2 or 3 runs interleaved, CPython
3.11 on a shared machine: +-5%)::

    chunk_bits                       2**10    2**11    2**12
    jq-transform   (0.9 M slots)      7,600    6,900    7,100
    git-log-patch  (6.4 M slots)     12,900   11,600   11,000
    lua5.4-trees   (4.2 M slots)      7,200    7,000    7,100

(2**9 was 1.2x slower than 2**11 on jq and 1.3x on git; 2**13, 1.2x on git
with an earlier version of the code.)  A larger chunk means fewer levels to
climb (each about 0.25 us) and fewer blocks across a chunk border, but each
operation on a chunk costs more (a shift: 60 ns at 2**10 bits, 80 at 2**11,
145 at 2**12); 2**11 is at the bottom of that curve.  Small mode's
operations cost O(capacity / w), large mode's O(log capacity): on a churn of
1..64-slot blocks at 60% use, an alloc and a free take 5.4 us small vs 8.0 us
large at 2**14 slots, 9 vs 8.5 at 2**15, 16 vs 10 at 2**16; hence
``small_limit`` = 2**15.  Capacity is limited to 2**24 slots.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, SupportsIndex

from ._base import Allocator, dict_pop
from ._bits import (
    RUN_STEPS,
    aligned_mask,
    fit_starts,
    leading_ones,
    longest_run,
    run_steps,
    runs,
    trailing_ones,
)
from ._errors import CorruptState
from ._mypyc import mypyc_attr

__all__ = ["Bitmap"]


@mypyc_attr(allow_interpreted_subclasses=True)
class Bitmap(Allocator):
    """First fit over a bitmap of free slots: one int when small, chunks under a segment tree when large.

    >>> a = Bitmap(256)
    >>> a.alloc(10), a.alloc(3, align=16)
    (0, 16)
    >>> b = Bitmap(1 << 20)  # large mode: 512 chunks of 2048 slots
    >>> b.reserve(0, 2047), b.alloc(3000), b.alloc(1, align=4096), b.top_hole
    (0, 2047, 8192, 1040383)
    """

    __slots__ = (
        "_align_masks",
        "_best",
        "_chunks",
        "_full",
        "_large",
        "_leaves",
        "_map",
        "_pre",
        "_shift",
        "_suf",
    )

    _map: int  # small mode: bit i set when slot i is free; large mode: 0
    _align_masks: dict[int, int]  # align -> aligned_mask(capacity, align) (small), (B, align) (large)
    _large: bool  # capacity > small_limit: the chunks and the tree hold the bits
    _chunks: list[int]  # large mode: chunk j holds slots [j * B, (j + 1) * B), bit set = free
    _pre: list[int]  # large mode, per tree node: free run at its start
    _suf: list[int]  # ... free run at its end
    _best: list[int]  # ... longest free run inside it
    _leaves: int  # L, a power of two; leaf L + j is chunk j (0 in small mode)
    _shift: int  # log2(B)
    _full: int  # a chunk with every slot free: 2**B - 1

    name = "bitmap"
    max_capacity = 1 << 24
    #: Largest capacity kept as one int (small mode); above it, chunks and a tree (large mode).
    small_limit: ClassVar[int] = 1 << 15
    #: Slots per chunk in large mode (B): a power of two.
    chunk_bits: ClassVar[int] = 1 << 11

    def alloc(self, size: SupportsIndex, align: SupportsIndex = 1) -> int:
        """As ``Allocator.alloc``; the search inlined (the bitmap's whole point is speed on small spaces).

        In large mode ``_map`` is 0: no run, so the general path, to ``_alloc``.

        >>> a = Bitmap(16)
        >>> a.alloc(3), a.alloc(3, align=4)
        (0, 4)
        """
        if type(size) is not int or size <= 0 or type(align) is not int or align != 1:
            return super().alloc(size, align)  # validation, alignment: the general path
        free = self._map
        run = free
        for step in RUN_STEPS[size] if size < 64 else run_steps(size) if free else ():  # fit_starts, inlined
            run &= run >> step
        if not run:
            return super().alloc(size)  # large mode (map 0), or raises OutOfSpace with the full message
        offset = (run & -run).bit_length() - 1
        self._map = free ^ (((1 << size) - 1) << offset)
        self._blocks[offset] = size
        self._used += size
        return offset

    def free(self, offset: SupportsIndex) -> None:
        """As ``Allocator.free``, with the bitmap update inlined (large mode: ``_mark``)."""
        if type(offset) is not int:
            super().free(offset)  # validation (int-like values), then the general path
            return
        size = dict_pop(self._blocks, offset, 0)
        if not size:
            super().free(offset)  # the InvalidBlock message
            return
        if self._large:
            self._mark(offset, size, True)
        else:
            self._map |= ((1 << size) - 1) << offset
        self._used -= size
        if self._aligns:
            dict_pop(self._aligns, offset, None)

    # ------------------------------------------------------------------ hooks

    def _alloc(self, size: int, align: int) -> int:
        if self._large:
            if align > 1:
                offset = self._aligned_fit(size, align)
            elif self._best[1] >= size:
                offset = self._descend(1, 0, self._leaves << self._shift >> 1, size)
            else:
                return -1
            if offset >= 0:
                self._mark(offset, size, False)
            return offset
        free = self._map
        run = fit_starts(free, size)
        if align > 1:
            mask = self._align_masks.get(align)
            if mask is None:
                mask = self._align_masks[align] = aligned_mask(self._capacity, align)
            run &= mask
        if not run:
            return -1
        offset = (run & -run).bit_length() - 1
        self._map = free ^ (((1 << size) - 1) << offset)
        return offset

    def _free(self, offset: int, size: int) -> None:
        if self._large:
            self._mark(offset, size, True)
        else:
            self._map |= ((1 << size) - 1) << offset

    def _take(self, offset: int, size: int) -> bool:
        if offset + size > self._capacity:
            return False  # before building a mask of offset + size bits
        if self._large:
            if not self._all_free(offset, size):
                return False
            self._mark(offset, size, False)
            return True
        bits = ((1 << size) - 1) << offset
        if self._map & bits != bits:
            return False
        self._map ^= bits
        return True

    def _reset(self, capacity: int) -> None:
        bits = self.chunk_bits
        if bits <= 0 or bits & (bits - 1):
            raise ValueError(f"{type(self).__name__}.chunk_bits must be a power of two, got {bits}")
        self._shift = bits.bit_length() - 1
        self._full = (1 << bits) - 1
        self._align_masks = {}
        if capacity <= self.small_limit:
            self._large = False
            self._map = (1 << capacity) - 1
            self._chunks = []
            self._pre = []
            self._suf = []
            self._best = []
            self._leaves = 0
            return
        self._large = True
        self._map = 0
        self._chunks = []
        self._leaves = 0
        self._extend(capacity)
        self._mark(0, capacity, True)

    def _grow(self, old: int, new: int) -> None:
        self._align_masks = {}
        if self._large:
            self._extend(new)
        elif new > self.small_limit:  # the switch: cut the map in chunks, build the tree
            free = self._map
            shift = self._shift
            full = self._full
            self._chunks = [free >> (j << shift) & full for j in range(-(-old >> shift))]
            self._large = True
            self._map = 0
            self._leaves = 0
            self._extend(new)
        else:
            self._map |= ((1 << new) - 1) ^ ((1 << old) - 1)
            return
        self._mark(old, new - old, True)

    def _holes(self) -> Iterator[tuple[int, int]]:
        if not self._large:
            return iter(runs(self._map))
        holes: list[tuple[int, int]] = []
        shift = self._shift
        bits = 1 << shift
        full = self._full
        start = -1  # the start of the run still open at the top of the previous chunk
        base = 0
        for chunk in self._chunks:
            if chunk == full:
                if start < 0:
                    start = base
            elif not chunk:
                if start >= 0:
                    holes.append((start, base - start))
                    start = -1
            else:
                if start >= 0 and not chunk & 1:
                    holes.append((start, base - start))
                    start = -1
                for offset, length in runs(chunk):
                    first = start if start >= 0 and not offset else base + offset
                    if offset + length == bits:
                        start = first
                    else:
                        holes.append((first, base + offset + length - first))
                        start = -1
            base += bits
        if start >= 0:
            holes.append((start, base - start))
        return iter(holes)

    def _hole_count(self) -> int:
        if not self._large:
            free = self._map
            return (free & ~(free << 1)).bit_count()  # bits that start a run
        count = 0
        top = 0  # the previous chunk's highest bit, shifted to bit 0
        bits = 1 << self._shift
        for chunk in self._chunks:
            count += (chunk & ~(chunk << 1 | top)).bit_count()
            top = chunk >> (bits - 1)
        return count

    def _top_hole(self) -> int:
        capacity = self._capacity
        if self._large:
            return capacity - 1 - self._last_used_below(capacity)
        used = ~self._map & ((1 << capacity) - 1)
        return capacity - used.bit_length()

    def _largest_hole(self) -> int:
        if self._large:
            return self._best[1]
        return longest_run(self._map)

    def _check_policy(self) -> None:
        capacity = self._capacity
        if self._large != (capacity > self.small_limit):
            mode = "large" if self._large else "small"
            raise CorruptState(f"bitmap: {mode} mode at capacity {capacity} (small_limit {self.small_limit})")
        if self._large:
            self._check_large()
            return
        expected = (1 << capacity) - 1
        for offset, size in self._blocks.items():
            expected &= ~(((1 << size) - 1) << offset)
        if self._map >> capacity:
            raise CorruptState(f"bitmap: bits set at or above capacity {capacity}")
        if self._map != expected:
            wrong = self._map ^ expected
            raise CorruptState(
                f"bitmap: slot {(wrong & -wrong).bit_length() - 1} is marked "
                f"{'free' if self._map & wrong & -wrong else 'used'} against the block table"
            )

    # ------------------------------------------------------------ large mode

    def _descend(self, i: int, start: int, half: int, size: int) -> int:
        """The lowest offset of ``size`` free slots inside node ``i`` (``best[i] >= size``).

        ``start`` is the node's first slot, ``half`` the length of its children;
        from the root, this is first fit.  Time: O(log L + log size x B / w).
        """
        best = self._best
        leaves = self._leaves
        while i < leaves:
            i <<= 1
            if best[i] < size:
                suf = self._suf[i]
                if suf + self._pre[i + 1] >= size:
                    return start + half - suf  # across the middle
                i += 1
                start += half
            half >>= 1
        run = self._chunks[i - leaves]
        for step in RUN_STEPS[size] if size < 64 else run_steps(size):  # _bits.fit_starts, inlined
            run &= run >> step
        return start + (run & -run).bit_length() - 1

    def _find(self, size: int, position: int) -> int:
        """The lowest offset at or above ``position`` of ``size`` free slots (-1 if none).

        The chunk of ``position`` first, then the nodes to its right that the
        climb to the root meets (each starts where the previous one ends),
        carrying the free run that reaches their start.  Time: O(log L + log
        size x B / w).
        """
        shift = self._shift
        leaves = self._leaves
        j = position >> shift
        if j >= leaves:
            return -1
        rest = (1 << shift) - (position - (j << shift))  # slots of the chunk from position on
        chunk = self._chunks[j] >> (position - (j << shift))
        if size <= rest:
            run = fit_starts(chunk, size)
            if run:
                return position + (run & -run).bit_length() - 1
        pre = self._pre
        suf = self._suf
        best = self._best
        i = leaves + j
        carry = rest if chunk == (1 << rest) - 1 else suf[i]  # free slots that reach the next node
        length = 1 << shift
        start = (j + 1) << shift
        while i > 1:
            if not i & 1:
                right = i + 1
                head = pre[right]
                if carry + head >= size:
                    return start - carry
                if best[right] >= size:
                    return self._descend(right, start, length >> 1, size)
                carry = carry + length if head == length else suf[right]
                start += length
            i >>= 1
            length <<= 1
        return -1

    def _aligned_fit(self, size: int, align: int) -> int:
        """The lowest multiple of ``align`` that starts ``size`` free slots (-1 if none).

        Walks the fits of ``size`` in address order (``_find``).  For the one
        at ``p``, in chunk j: the aligned fits inside chunk j at or above ``p``
        are the set bits of ``fit_starts(chunk) & mask`` (all of chunk j's
        holes in one test); failing that, the run at the top of chunk j (which
        continues into the next chunks) is tested alone.  Then the walk goes on
        past that run.  Time: O(log L + log size x B / w) per chunk passed.
        """
        shift = self._shift
        bits = 1 << shift
        chunks = self._chunks
        low = align - 1
        mask = 0
        if align <= bits:
            mask = self._align_masks.get(align, 0)
            if not mask:
                mask = self._align_masks[align] = aligned_mask(bits, align)
        position = 0
        while True:
            p = self._find(size, position)
            if p < 0 or not p & low:
                return p
            j = p >> shift
            base = j << shift
            end = base + bits
            skip = p - base
            if size <= bits - skip:  # fits inside the chunk, at or above p, aligned
                run = fit_starts(chunks[j] >> skip, size) << skip
                run &= mask if align <= bits else (0 if base & low else 1)
                if run:
                    return base + (run & -run).bit_length() - 1
            top = self._suf[self._leaves + j]
            if not top:
                position = end
                continue
            start = max(p, end - top)  # the run at the top of chunk j: the only other candidate
            hole_end = self._first_used(end)
            offset = (start + low) & ~low
            if offset + size <= hole_end:
                return offset
            position = hole_end

    def _all_free(self, offset: int, size: int) -> bool:
        """Whether ``[offset, offset + size)`` is all free.  Time: O(log L)."""
        shift = self._shift
        j = offset >> shift
        skip = offset - (j << shift)
        chunk = self._chunks[j]
        if skip + size <= 1 << shift:
            bits = ((1 << size) - 1) << skip
            return chunk & bits == bits
        top = self._full ^ ((1 << skip) - 1)
        return chunk & top == top and self._first_used((j + 1) << shift) >= offset + size

    def _first_used(self, position: int) -> int:
        """The lowest slot in use at or above ``position`` (``L * B`` if none).  Time: O(log L)."""
        shift = self._shift
        j = position >> shift
        if j >= self._leaves:
            return position
        skip = position - (j << shift)
        ones = trailing_ones(self._chunks[j] >> skip)
        if ones < (1 << shift) - skip:
            return position + ones
        pre = self._pre
        i = self._leaves + j
        length = 1 << shift
        start = (j + 1) << shift
        while i > 1:
            if not i & 1:
                head = pre[i + 1]
                if head < length:
                    return start + head
                start += length
            i >>= 1
            length <<= 1
        return start

    def _last_used_below(self, position: int) -> int:
        """The highest slot in use below ``position > 0`` (-1 if none).  Time: O(log L)."""
        shift = self._shift
        j = (position - 1) >> shift
        width = position - (j << shift)  # slots of chunk j below position: 1 .. B
        zeros = (self._chunks[j] & ((1 << width) - 1)) ^ ((1 << width) - 1)
        if zeros:
            return (j << shift) + zeros.bit_length() - 1
        suf = self._suf
        i = self._leaves + j
        length = 1 << shift
        end = j << shift
        while i > 1:
            if i & 1:
                tail = suf[i - 1]
                if tail < length:
                    return end - tail - 1
                end -= length
            i >>= 1
            length <<= 1
        return -1

    def _mark(self, offset: int, size: int, free: bool) -> None:
        """Free ``[offset, offset + size)`` (all in use) or claim it (all free); fix the tree.

        Whole chunks inside the range become all-free or all-used outright;
        the chunks at its two ends go through ``_leaf``; then the ancestors
        (``_rise`` from one leaf, ``_climb`` from several).  Time: O(k + log L)
        operations for k chunks, + O(log B) when a claim splits a longest run.
        """
        shift = self._shift
        leaves = self._leaves
        j = offset >> shift
        skip = offset - (j << shift)
        end = skip + size
        if end <= 1 << shift:  # one chunk (most blocks)
            if self._leaf(j, skip, end, free):
                i = leaves + j
                self._rise(i, self._pre[i], self._suf[i], self._best[i], 1 << shift)
            return
        last = (offset + size - 1) >> shift
        whole = last - j - 1  # chunks strictly inside the range
        if whole:
            fill = self._full if free else 0
            value = 1 << shift if free else 0
            self._chunks[j + 1 : last] = [fill] * whole
            self._pre[leaves + j + 1 : leaves + last] = [value] * whole
            self._suf[leaves + j + 1 : leaves + last] = [value] * whole
            self._best[leaves + j + 1 : leaves + last] = [value] * whole
        self._leaf(j, skip, 1 << shift, free)
        self._leaf(last, 0, offset + size - (last << shift), free)
        self._climb(leaves + j, leaves + last)

    def _leaf(self, j: int, start: int, stop: int, free: bool) -> bool:
        """Free (or claim) bits ``[start, stop)`` of chunk ``j``, update its leaf; return whether it changed.

        Only the run through the range changes: the ``down`` ones just below
        ``start``, the range, the ``up`` ones from ``stop`` on.  Freeing makes
        that run; claiming splits it into ``down`` and ``up``.  So ``pre``
        changes only if that run starts the chunk, ``suf`` only if it ends
        it, and ``best`` is the larger of the run and the old best after a
        free, and unchanged after a claim unless the run was the longest
        (then ``longest_run`` recomputes it).  Time: O(1) operations on B-bit
        ints, O(log B) when ``longest_run`` runs.
        """
        chunks = self._chunks
        i = self._leaves + j
        old = chunks[j]
        below = (1 << start) - 1
        down = start - ((old & below) ^ below).bit_length()
        above = old >> stop
        up = (~above & (above + 1)).bit_length() - 1
        bits = 1 << self._shift
        pre = self._pre
        suf = self._suf
        best = self._best
        head = pre[i]
        tail = suf[i]
        longest = best[i]
        if free:
            chunks[j] = old | ((1 << (stop - start)) - 1) << start
            run = down + stop - start + up
            if start == down:
                head = run
            if stop + up == bits:
                tail = run
            if run > longest:
                longest = run
        else:
            chunk = chunks[j] = old ^ ((1 << (stop - start)) - 1) << start
            if start == down:
                head = down
            if stop + up == bits:
                tail = up
            if down + stop - start + up >= longest:
                longest = longest_run(chunk)
        if head == pre[i] and tail == suf[i] and longest == best[i]:
            return False
        pre[i] = head
        suf[i] = tail
        best[i] = longest
        return True

    def _summarize(self, j: int) -> None:
        """Recompute leaf ``j``'s summary from its chunk, from scratch."""
        chunk = self._chunks[j]
        i = self._leaves + j
        self._pre[i] = trailing_ones(chunk)
        self._suf[i] = leading_ones(chunk, 1 << self._shift)
        self._best[i] = longest_run(chunk)

    def _rise(self, i: int, head: int, tail: int, longest: int, length: int) -> None:
        """Recompute the ancestors of node ``i`` (``length`` slots, summary ``head, tail, longest``).

        Stops at the first one whose summary does not change (the ones above
        cannot change either).  The node's own values are carried up, so each
        level reads only the sibling.  Time: O(log L).
        """
        pre = self._pre
        suf = self._suf
        best = self._best
        while i > 1:
            if i & 1:  # a right child
                sibling = i - 1
                across = suf[sibling] + head
                if tail == length:
                    tail += suf[sibling]
                head = pre[sibling] + (head if pre[sibling] == length else 0)
                if best[sibling] > longest:
                    longest = best[sibling]
            else:
                sibling = i + 1
                across = tail + pre[sibling]
                if head == length:
                    head += pre[sibling]
                tail = suf[sibling] + (tail if suf[sibling] == length else 0)
                if best[sibling] > longest:
                    longest = best[sibling]
            if across > longest:
                longest = across
            i >>= 1
            if head == pre[i] and tail == suf[i] and longest == best[i]:
                return
            pre[i] = head
            suf[i] = tail
            best[i] = longest
            length <<= 1

    def _climb(self, low: int, high: int) -> None:
        """Recompute the ancestors of leaves ``low .. high``, level by level, each node once.

        Stops at the first level where no summary changed; once the range has
        narrowed to one node, ``_rise`` takes over.  Time: O(high - low + log L).
        """
        pre = self._pre
        suf = self._suf
        best = self._best
        half = 1 << self._shift  # the length of the children of the level being recomputed
        while low < high:
            low >>= 1
            high >>= 1
            changed = False
            for i in range(low, high + 1):
                left = i << 1
                head = pre[left]
                tail = suf[left + 1]
                across = suf[left] + pre[left + 1]
                if head == half:
                    head += pre[left + 1]
                if tail == half:
                    tail += suf[left]
                longest = best[left]
                if best[left + 1] > longest:
                    longest = best[left + 1]
                if across > longest:
                    longest = across
                if head != pre[i] or tail != suf[i] or longest != best[i]:
                    pre[i] = head
                    suf[i] = tail
                    best[i] = longest
                    changed = True
            if not changed:
                return
            half <<= 1
        self._rise(low, pre[low], suf[low], best[low], half)

    def _extend(self, capacity: int) -> None:
        """Make room for ``capacity`` slots: chunks (all in use) up to L, and the tree over them.

        L doubles as needed; when it changes the tree is rebuilt, from the
        leaf summaries kept.  Time: O(L) when L changes, else O(1).
        """
        shift = self._shift
        needed = -(-capacity >> shift)
        leaves = self._leaves
        chunks = self._chunks
        if needed <= leaves:
            return
        old = len(chunks)
        new_leaves = 1 << (needed - 1).bit_length()
        chunks.extend([0] * (new_leaves - old))
        self._leaves = new_leaves
        self._pre = [0] * new_leaves * 2
        self._suf = [0] * new_leaves * 2
        self._best = [0] * new_leaves * 2
        for j in range(old):
            self._summarize(j)
        pre = self._pre
        suf = self._suf
        best = self._best
        half = 1 << shift
        level = new_leaves >> 1
        while level:
            for i in range(level, level << 1):
                left = i << 1
                pre[i] = pre[left] if pre[left] < half else half + pre[left + 1]
                suf[i] = suf[left + 1] if suf[left + 1] < half else half + suf[left]
                best[i] = max(best[left], best[left + 1], suf[left] + pre[left + 1])
            level >>= 1
            half <<= 1

    def _check_large(self) -> None:
        """Large mode's ``check``: chunks against the block table, then every summary recomputed."""
        capacity = self._capacity
        shift = self._shift
        bits = 1 << shift
        full = self._full
        leaves = self._leaves
        chunks = self._chunks
        if self._map:
            raise CorruptState("bitmap: large mode, but the small map is not 0")
        needed = -(-capacity >> shift)
        if leaves & (leaves - 1) or leaves < needed or leaves >= 2 * needed:
            raise CorruptState(
                f"bitmap: {leaves} leaves for {needed} chunks (the smallest power of two >= it)"
            )
        for name, nodes in (("chunks", chunks), ("pre", self._pre), ("suf", self._suf), ("best", self._best)):
            expected_length = leaves if name == "chunks" else 2 * leaves
            if len(nodes) != expected_length:
                raise CorruptState(f"bitmap: {len(nodes)} {name} entries, should be {expected_length}")
        expected = [full] * (capacity >> shift)
        if capacity & (bits - 1):
            expected.append((1 << (capacity & (bits - 1))) - 1)
        expected += [0] * (leaves - len(expected))
        for offset, size in self._blocks.items():
            end = offset + size
            position = offset
            while position < end:  # the block's part in each chunk it covers
                j = position >> shift
                stop = min(end, (j + 1) << shift)
                expected[j] &= ~(((1 << (stop - position)) - 1) << (position - (j << shift)))
                position = stop
        for j, chunk in enumerate(chunks):
            if chunk >> bits or chunk < 0:
                raise CorruptState(f"bitmap: chunk {j} has bits outside its {bits} slots")
            if chunk != expected[j]:
                wrong = chunk ^ expected[j]
                slot = (j << shift) + (wrong & -wrong).bit_length() - 1
                if slot >= capacity:
                    raise CorruptState(
                        f"bitmap: slot {slot}, at or above capacity {capacity}, is marked free"
                    )
                raise CorruptState(
                    f"bitmap: slot {slot} is marked {'free' if chunk & wrong & -wrong else 'used'} "
                    f"against the block table (chunk {j})"
                )
        pre = self._pre
        suf = self._suf
        best = self._best
        for j, chunk in enumerate(chunks):
            i = leaves + j
            for what, got, want in (
                ("pre", pre[i], trailing_ones(chunk)),
                ("suf", suf[i], leading_ones(chunk, bits)),
                ("best", best[i], longest_run(chunk)),
            ):
                if got != want:
                    raise CorruptState(f"bitmap: chunk {j} summary: {what} is {got}, should be {want}")
        half = bits
        level = leaves >> 1
        while level:
            for i in range(level, level << 1):
                left = i << 1
                for what, got, want in (
                    ("pre", pre[i], pre[left] if pre[left] < half else half + pre[left + 1]),
                    ("suf", suf[i], suf[left + 1] if suf[left + 1] < half else half + suf[left]),
                    ("best", best[i], max(best[left], best[left + 1], suf[left] + pre[left + 1])),
                ):
                    if got != want:
                        raise CorruptState(f"bitmap: tree node {i}: {what} is {got}, should be {want}")
            level >>= 1
            half <<= 1
