"""``HoleTree``: the holes in address order, each subtree knowing its largest hole.

First fit and next fit ask one question: *which is the lowest hole, at or after
some address, that can hold this request?*  A balanced search tree keyed by
hole start, where every node also stores the largest hole size in its subtree
(``max``), answers it in O(log n): walk down, and never enter a subtree whose
``max`` is too small.  Linux finds free virtual address ranges the same way
(``mm/vmalloc.c``: an augmented red-black tree with ``subtree_max_size``).

The tree is an AVL tree (Adelson-Velsky & Landis, 1962): the heights of any
node's two subtrees differ by at most one, so the depth is below 1.44 log2 n
whatever order holes appear in (sorted, as a growing heap makes them, is the
usual case), with no randomness: runs are reproducible.  A treap was measured
too: same speed here, but only an expected bound.  Missing children are the
``NIL`` sentinel (max 0, height 0)::

                  [64:+8 max 512 h3]          start:+size, bound of subtree max, height
                 /                  \\
      [16:+32 max 32 h2]         [200:+512 max 512 h2]
        /                           /
   [0:+4 max 4 h1]           [96:+40 max 40 h1]

``max`` is kept as an *upper bound* of the largest hole in the subtree, not
always the exact value.  A hole that grows raises the bounds above it (through
parent pointers, stopping at the first that is already high enough); a hole
that shrinks, which is what every allocation does, changes nothing above it.
A search that enters a subtree whose bound turns out too high finds no fit
there, climbs back out through the parent pointers, and recomputes the bound
of each node it leaves from the node's own size and its children's bounds,
which brings it below the request: only searches for that much space pay
for a stale bound, once each.  Measured on first fit with
100k live blocks in 2**30 slots: the eager alternative (walk up after every
shrink) took 13 node visits per alloc+free pair, the lazy one 3-5% less time
overall, and 10% less for next fit.

A node is one hole for the whole life of that hole (removal relinks nodes
rather than moving holes between them), so its owner finds it through its
own tables.

Invariants (``check``): in-order starts strictly increase; ``height`` =
1 + the larger child height, and the two differ by at most 1; ``max`` >=
the node's size and its children's ``max`` (hence >= every hole below);
parent pointers are consistent; ``NIL`` is untouched.  ``largest`` is exact.

Time: insert, remove: O(log n).  First fit with align 1: O(log n) plus the
nodes whose stale bound it lowers (each lowered bound was raised, or left
behind, by an earlier update).  A resize in place: O(1) to shrink, O(log n) worst to grow.  First
fit with align > 1: plus the holes visited that are large enough but cannot
hold the aligned range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, final

from ._base import Allocator, dict_pop
from ._errors import CorruptState
from ._mypyc import mypyc_attr

__all__ = ["AddressOrdered", "HoleTree"]


@final
class _Node:
    __slots__ = ("height", "left", "max", "parent", "right", "size", "start")

    def __init__(self, start: int, size: int, *, sentinel: bool = False) -> None:
        self.start = start
        self.size = size
        self.max = size
        self.parent: _Node | None = None
        if sentinel:  # NIL, built once, before the NIL that other nodes point at exists
            self.height = 0
            self.left: _Node = self
            self.right: _Node = self
            return
        self.height = 1
        self.left = NIL
        self.right = NIL


# The leaf sentinel: every missing child is NIL, whose max (0) is below every
# size and whose height is 0, so the hot loops read ``child.max`` and
# ``child.height`` without testing for None (measured: 10% faster first fit).
# One ``_Node`` like the others (a subclass of its own would make CPython's
# attribute caches see two types where the loops read ``child.max``: 10% slower
# first fit), built by the constructor (``_Node.__new__`` without ``__init__``
# cannot be had in a mypyc build).
NIL: Final[_Node] = _Node(-1, 0, sentinel=True)


#: No AVL tree of fewer than 2**64 nodes is deeper (1.44 log2 n): ``check``
#: stops at this depth instead of following a cycle of child pointers.
_MAX_DEPTH: Final = 96


@final
class HoleTree:
    """Holes by address, augmented with subtree maxima (an AVL tree of ``_Node``).

    The tree links nodes that its owner creates and keeps (``AddressOrdered``
    finds them through its tables by start and by end); a node keeps its
    identity for as long as its hole exists, so the owner may change a
    node's ``start`` and ``size`` in place (then call ``grown`` or
    ``shrunk``) as long as its rank in address order does not change.
    """

    __slots__ = ("root",)

    def __init__(self) -> None:
        self.root: _Node = NIL

    # --------------------------------------------------------------- updates

    def add(self, node: _Node) -> None:
        """Link ``node`` (not in the tree) at its place by ``start``.  Time: O(log n)."""
        node.left = node.right = NIL
        node.height = 1
        node.max = node.size
        start = node.start
        cur = self.root
        if cur is NIL:
            node.parent = None
            self.root = node
            return
        while True:
            if start < cur.start:
                nxt = cur.left
                if nxt is NIL:
                    cur.left = node
                    break
            else:
                nxt = cur.right
                if nxt is NIL:
                    cur.right = node
                    break
            cur = nxt
        node.parent = cur
        self._retrace(cur)

    def remove(self, node: _Node) -> None:
        """Unlink ``node``; every other node keeps its hole.  Time: O(log n)."""
        left = node.left
        right = node.right
        if left is NIL or right is NIL:
            parent = node.parent
            self._adopt(node, left if left is not NIL else right)
            self._retrace(parent)
            return
        # Two children: the successor (the lowest node on the right, which has
        # no left child) leaves its place and takes ``node``'s.
        succ = right
        while succ.left is not NIL:
            succ = succ.left
        if succ is right:
            below: _Node = succ
        else:
            below = succ.parent  # type: ignore[assignment]  # below the root: never None
            inner = succ.right
            below.left = inner
            if inner is not NIL:
                inner.parent = below
            succ.right = right
            right.parent = succ
        succ.left = left
        left.parent = succ
        # In node's place, succ starts from node's height and max: the retrace
        # compares against the values that this position had.
        succ.height = node.height
        succ.max = node.max
        self._adopt(node, succ)
        self._retrace(below)

    def grown(self, node: _Node) -> None:
        """``node``'s hole got larger: raise the maxima that are now too small.

        Time: O(log n) worst, usually O(1).
        """
        size = node.size
        cur: _Node | None = node
        while cur is not None and cur.max < size:
            cur.max = size
            cur = cur.parent

    def shrunk(self, node: _Node, old_size: int) -> None:
        """``node``'s hole got smaller (it was ``old_size``): nothing to do.

        The maxima above it stay valid upper bounds; a search that finds one
        too high recomputes it (see the module).  Time: O(1).
        """

    def clear(self) -> None:
        """Unlink every node.  Time: O(1)."""
        self.root = NIL

    # --------------------------------------------------------------- queries

    def lowest_fit(self, size: int) -> _Node | None:
        """Return the lowest hole of at least ``size`` slots, or None: ``first_fit(size, 1, 0)``.

        The hot path of first fit, on its own.  Time: O(log n) plus the stale
        bounds lowered (see module).
        """
        node = self.root
        if node.max < size:
            return None
        # Go left while the left subtree may hold a fit.
        while True:
            left = node.left
            if left.max >= size:
                node = left
                continue
            if node.size >= size:
                return node
            right = node.right
            if right.max >= size:
                node = right
                continue
            # A stale max: no fit below node.  Recompute, climb, go on.  (This
            # is _recompute inlined, with the children already in hand: about
            # one node in four on the way up is stale, so the calls would cost.)
            while True:
                best = node.size
                if left.max > best:
                    best = left.max
                if right.max > best:
                    best = right.max
                node.max = best
                parent = node.parent
                if parent is None:
                    return None
                if parent.left is node:
                    if parent.size >= size:
                        return parent
                    right = parent.right
                    if right.max >= size:
                        node = right
                        break
                    left = node
                else:
                    right = node
                    left = parent.left
                node = parent

    def first_fit(self, size: int, align: int, lowest: int) -> _Node | None:
        """Return the lowest hole starting at or after ``lowest`` that holds an
        ``align``-aligned range of ``size`` slots, or None.

        Walks down into the subtrees whose ``max`` admits a fit, in address
        order; a subtree that turns out to hold none (its ``max`` was stale, or
        no hole in it is aligned right) is climbed out of through the parent
        pointers, and each node left behind gets ``max`` recomputed from its
        children, so the next search does not enter it again for this size.

        Time: as ``lowest_fit``, plus the holes visited that are large enough
        but start below ``lowest`` or are misaligned.
        """
        node = self.root
        if node.max < size:
            return None
        # The walk of ``lowest_fit``, skipping starts below ``lowest``.
        mask = align - 1
        while True:
            start = node.start
            if start > lowest and node.left.max >= size:
                node = node.left
                continue
            if start >= lowest and start + (-start & mask) + size <= start + node.size:
                return node
            if node.right.max >= size:
                node = node.right
                continue
            while True:
                self._recompute(node)
                parent = node.parent
                if parent is None:
                    return None
                if parent.left is node:
                    start = parent.start
                    if start >= lowest and start + (-start & mask) + size <= start + parent.size:
                        return parent
                    if parent.right.max >= size:
                        node = parent.right
                        break
                node = parent

    def floor(self, offset: int) -> _Node | None:
        """Return the last hole starting at or before ``offset``, or None.  Time: O(log n)."""
        node = self.root
        best: _Node | None = None
        while node is not NIL:
            if node.start <= offset:
                best = node
                node = node.right
            else:
                node = node.left
        return best

    def largest(self) -> int:
        """Size of the largest hole (0 if none), exactly.

        The root's ``max`` is an upper bound; a first-fit search for that
        size either finds a hole that large (then it is exact) or recomputes
        every ``max`` it met below it, and the bound drops.  Time: O(1) when
        the root is exact, O(log n) per stale bound otherwise.
        """
        while True:
            bound = self.root.max
            if not bound or self.lowest_fit(bound) is not None:
                return bound

    def __iter__(self) -> Iterator[_Node]:
        """Iterate the nodes in address order.  Time: O(n)."""
        stack: list[_Node] = []
        node = self.root
        while stack or node is not NIL:
            while node is not NIL:
                stack.append(node)
                node = node.left
            node = stack.pop()
            yield node
            node = node.right

    def check(self, limit: int) -> int:
        """Verify order, balance, ``max`` bound and parent invariants; return the node count.

        ``limit``: the most nodes there may be (the owner's hole count), so
        that a cycle of pointers is reported instead of walked forever.
        Raises ``CorruptState``.  Time: O(n).
        """
        if NIL.max or NIL.height or NIL.left is not NIL or NIL.right is not NIL or NIL.parent is not None:
            raise CorruptState("hole tree: the NIL sentinel was modified")
        seen = 0
        previous = -1
        stack: list[_Node] = []
        node = self.root
        if node.parent is not None:
            raise CorruptState("hole tree: the root has a parent")
        while stack or node is not NIL:
            while node is not NIL:
                stack.append(node)
                node = node.left
                if len(stack) > _MAX_DEPTH:
                    raise CorruptState(f"hole tree: deeper than {_MAX_DEPTH} (a cycle of child pointers?)")
            node = stack.pop()
            seen += 1
            if seen > limit:
                raise CorruptState(f"hole tree: more than the {limit} holes of the hole tables")
            if node.start <= previous:
                raise CorruptState(f"hole tree: start {node.start} is out of address order")
            previous = node.start
            expected = node.size
            for child in (node.left, node.right):
                if child is NIL:
                    continue
                if child.parent is not node:
                    raise CorruptState(f"hole tree: hole {child.start} has a wrong parent pointer")
                expected = max(expected, child.max)
            left, right = node.left.height, node.right.height
            if node.height != max(left, right) + 1:
                raise CorruptState(f"hole tree: hole {node.start} has height {node.height}")
            if abs(left - right) > 1:
                raise CorruptState(f"hole tree: hole {node.start} is out of balance ({left} vs {right})")
            if node.max < expected:
                raise CorruptState(
                    f"hole tree: hole {node.start} says its subtree max is {node.max}, below {expected}"
                )
            node = node.right
        return seen

    # ---------------------------------------------------------------- helpers

    def _retrace(self, node: _Node | None) -> None:
        """Restore heights, balance and maxima from ``node`` up, after a child changed.

        Stops as soon as a subtree's height comes out as it was and its max
        no higher than it was: the bounds above still hold then (a max that
        came out lower is left to the searches, as after a shrink).  Time:
        O(log n), usually O(1).
        """
        while node is not None:
            height = node.height
            largest = node.max
            left = node.left
            right = node.right
            balance = left.height - right.height
            if balance > 1:
                if left.left.height < left.right.height:
                    self._rotate_left(left)
                node = self._rotate_right(node)
            elif balance < -1:
                if right.right.height < right.left.height:
                    self._rotate_right(right)
                node = self._rotate_left(node)
            else:  # _update, inlined: most retraces stop here
                node.height = (left.height if left.height > right.height else right.height) + 1
                best = node.size
                if left.max > best:
                    best = left.max
                if right.max > best:
                    best = right.max
                node.max = best
            if node.height == height and node.max <= largest:
                return
            node = node.parent

    def _rotate_left(self, node: _Node) -> _Node:
        """Rotate ``node``'s right child above it; return the child.  Heights and maxima kept."""
        top = node.right
        inner = top.left
        node.right = inner
        if inner is not NIL:
            inner.parent = node
        self._adopt(node, top)
        top.left = node
        node.parent = top
        self._update(node)
        self._update(top)
        return top

    def _rotate_right(self, node: _Node) -> _Node:
        """Rotate ``node``'s left child above it; return the child.  Heights and maxima kept."""
        top = node.left
        inner = top.right
        node.left = inner
        if inner is not NIL:
            inner.parent = node
        self._adopt(node, top)
        top.right = node
        node.parent = top
        self._update(node)
        self._update(top)
        return top

    def _adopt(self, node: _Node, top: _Node) -> None:
        """Put ``top`` (a node or ``NIL``) where ``node`` hangs from its parent (or at the root)."""
        parent = node.parent
        if top is not NIL:
            top.parent = parent
        if parent is None:
            self.root = top
        elif parent.left is node:
            parent.left = top
        else:
            parent.right = top

    @staticmethod
    def _subtree_max(node: _Node) -> int:
        """The largest of ``node``'s size and its children's maxima."""
        best = node.size
        child = node.left.max
        if child > best:
            best = child
        child = node.right.max
        if child > best:
            best = child
        return best

    @staticmethod
    def _recompute(node: _Node) -> None:
        """Recompute ``node``'s max from its size and its children's maxima."""
        node.max = HoleTree._subtree_max(node)

    @staticmethod
    def _update(node: _Node) -> None:
        """Recompute ``node``'s height and max from its children."""
        left = node.left.height
        right = node.right.height
        node.height = (left if left > right else right) + 1
        node.max = HoleTree._subtree_max(node)


@mypyc_attr(allow_interpreted_subclasses=True)
class AddressOrdered(Allocator):
    """The hole tables and tree of first fit and next fit.

    Each hole is one ``_Node``, found three ways: by start (``_starts``), by
    end (``_ends``), and by address and size through the tree.  A freed block
    finds the holes it touches with one lookup in each table and merges with
    them at once (immediate coalescing, as with Knuth's boundary tags, but
    out of band); an allocation found by the tree changes its node in place::

        [ block ][ hole ][ block ][    hole    ][ block ][  top hole  ]
                 ^start  ^end                                   capacity^
                 _starts[start] is _ends[end] is the hole's node

    The *top* hole, the one that ends at ``capacity``, is in both tables but
    not in the tree (dlmalloc's "top chunk"; Korn & Vo's wilderness): it is
    the last hole in address order, so a search tries it after the tree, and
    carving from it, which is what next fit does almost every time and first
    fit whenever the lower holes are too small, changes no tree node.  Kept
    in the tree, it is usually the largest hole, so each carve from it
    rewrote ``max`` all the way up to the root (measured: the longest walks).

    One node per hole, rather than a dict of sizes beside the tree, halves the
    dict operations per alloc+free pair (measured: 15 to 7), and at 100k live
    blocks each lookup in a table that has outgrown the caches costs about as
    much as a tree step.

    Subclasses implement ``_find(size, align) -> node or None``.

    Invariants (``_check_policy``): ``_starts`` and ``_ends`` map each hole's
    start and end to its node, and hold nothing else; the tree links exactly
    the holes but the top one; ``_top`` is the hole that ends at
    ``capacity`` (None if the last slot is used); the ``HoleTree`` invariants.
    """

    __slots__ = ("_ends", "_starts", "_top", "_tree")

    _tree: HoleTree
    _starts: dict[int, _Node]
    _ends: dict[int, _Node]
    _top: _Node | None

    def _find(self, size: int, align: int) -> _Node | None:
        raise NotImplementedError

    # ------------------------------------------------------- Allocator hooks

    def _reset(self, capacity: int) -> None:
        top = _Node(0, capacity)
        self._tree = HoleTree()
        self._starts = {0: top}
        self._ends = {capacity: top}
        self._top = top

    def _alloc(self, size: int, align: int) -> int:
        node = self._find(size, align)
        if node is None:
            return -1
        start = node.start
        offset = start + (-start & (align - 1))
        self._carve(node, offset, size)
        return offset

    def _carve(self, node: _Node, offset: int, size: int) -> None:
        """Claim ``[offset, offset + size)`` inside ``node``'s hole; what is left on either side stays free.

        Time: O(1) dict operations plus the tree's shrunk / add / remove.
        """
        start = node.start
        hole = node.size
        end = offset + size
        hole_end = start + hole
        tree = self._tree
        if offset > start:
            # The hole keeps its start and shrinks to [start, offset).
            node.size = offset - start
            self._ends[offset] = node
            if end < hole_end:
                tail = _Node(end, hole_end - end)
                self._starts[end] = tail
                self._ends[hole_end] = tail
                if node is self._top:
                    self._top = tail
                    tree.add(node)
                    return
                tree.add(tail)
            else:
                del self._ends[hole_end]
                if node is self._top:
                    self._top = None
                    tree.add(node)
                    return
            tree.shrunk(node, hole)
        else:
            del self._starts[start]
            if end < hole_end:
                node.start = end
                node.size = hole_end - end
                self._starts[end] = node
                if node is not self._top:
                    tree.shrunk(node, hole)
            else:
                del self._ends[hole_end]
                if node is self._top:
                    self._top = None
                else:
                    tree.remove(node)

    def _free(self, offset: int, size: int) -> None:
        end = offset + size
        left = dict_pop(self._ends, offset, None)
        right = dict_pop(self._starts, end, None)
        tree = self._tree
        if left is not None:
            if right is not None:
                end += right.size
                tree.remove(left if right is self._top else right)
                if right is self._top:
                    self._top = left
            self._ends[end] = left
            left.size = end - left.start
            if left is self._top:
                return
            if end == self._capacity:  # the last block freed: left becomes the top hole
                tree.remove(left)
                self._top = left
            else:
                tree.grown(left)
        elif right is not None:
            right.start = offset
            right.size += size
            self._starts[offset] = right
            if right is not self._top:
                tree.grown(right)
        else:
            node = _Node(offset, size)
            self._starts[offset] = node
            self._ends[end] = node
            if end == self._capacity:
                self._top = node
            else:
                tree.add(node)

    def _take(self, offset: int, size: int) -> bool:
        node = self._starts.get(offset)
        if node is None:
            node = self._floor(offset)
            if node is None:
                return False
        if offset + size > node.start + node.size:
            return False
        self._carve(node, offset, size)
        return True

    def _grow(self, old: int, new: int) -> None:
        self._free(old, new - old)

    def _holes(self) -> Iterator[tuple[int, int]]:
        for node in self._tree:
            yield node.start, node.size
        top = self._top
        if top is not None:
            yield top.start, top.size

    def _hole_count(self) -> int:
        return len(self._starts)

    def _top_hole(self) -> int:
        top = self._top
        return 0 if top is None else top.size

    def _largest_hole(self) -> int:
        largest = self._tree.largest()
        top = self._top
        if top is not None and top.size > largest:
            return top.size
        return largest

    def _check_policy(self) -> None:
        starts = self._starts
        ends = self._ends
        linked = self._tree.check(len(starts))
        holes = list(self._tree)
        top = self._top  # that it is the hole ending at capacity, Allocator.check verified
        if top is not None:
            holes.append(top)
        for node in holes:
            if starts.get(node.start) is not node:
                raise CorruptState(f"hole tables: hole {node.start} is missing from the table by start")
            if ends.get(node.start + node.size) is not node:
                raise CorruptState(f"hole tables: hole {node.start} is missing from the table by end")
        if len(starts) != len(holes) or len(ends) != len(holes):
            raise CorruptState(
                f"hole tables: {len(starts)} holes by start and {len(ends)} by end, "
                f"{linked} in the tree and {len(holes) - linked} top"
            )

    # --------------------------------------------------------------- searches

    def _first_fit(self, size: int, align: int, lowest: int) -> _Node | None:
        """The lowest hole starting at or after ``lowest`` that holds the aligned request, or None."""
        if align == 1 and lowest == 0:
            node = self._tree.lowest_fit(size)
        else:
            node = self._tree.first_fit(size, align, lowest)
        if node is not None:
            return node
        top = self._top
        if top is not None:
            start = top.start
            if start >= lowest and start + (-start & (align - 1)) + size <= self._capacity:
                return top
        return None

    def _floor(self, offset: int) -> _Node | None:
        """The last hole starting at or before ``offset``, or None."""
        top = self._top
        if top is not None and top.start <= offset:
            return top
        return self._tree.floor(offset)
