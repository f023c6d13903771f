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

                  [64:+8 max 512 h3]          start:+size, max of subtree, height
                 /                  \\
      [16:+32 max 32 h2]         [200:+512 max 512 h2]
        /                           /
   [0:+4 max 4 h1]           [96:+40 max 40 h1]

Each node also points to its parent, so a hole that grows or shrinks in place
(most allocations and frees) fixes ``max`` upward and stops as soon as a value
does not change; inserts and removals retrace heights the same way.  ``nodes``
maps each start to its node, for O(1) lookup.

Invariants (``check``): in-order starts strictly increase; ``height`` =
1 + the larger child height, and the two differ by at most 1; ``max`` =
max(size, children's max); parent pointers are consistent; ``nodes`` holds
exactly the nodes of the tree; ``NIL`` is untouched.

Time: insert, remove, first fit with align 1: O(log n).  A resize in place:
O(log n) worst, usually O(1).  First fit with align > 1: O(log n + k), k the
holes visited that are large enough but cannot hold the aligned range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ._errors import CorruptState
from ._holes import HoleAllocator

__all__ = ["AddressOrdered", "HoleTree"]

class _Node:
    __slots__ = ("height", "left", "max", "parent", "right", "size", "start")

    def __init__(self, start: int, size: int) -> None:
        self.start = start
        self.size = size
        self.max = size
        self.height = 1
        self.left: _Node = NIL
        self.right: _Node = NIL
        self.parent: _Node | None = None


# The leaf sentinel: every missing child is NIL, whose max (0) is below every
# size and whose height is 0, so the hot loops read ``child.max`` and
# ``child.height`` without testing for None (measured: 10% faster first fit).
NIL: Final = _Node.__new__(_Node)
NIL.start = -1
NIL.size = NIL.max = NIL.height = 0
NIL.left = NIL.right = NIL
NIL.parent = None


class HoleTree:
    """Holes ``(start, size)`` by address, augmented with subtree maxima (an AVL tree)."""

    __slots__ = ("nodes", "root")

    def __init__(self) -> None:
        self.root: _Node = NIL
        self.nodes: dict[int, _Node] = {}

    # --------------------------------------------------------------- updates

    def add(self, start: int, size: int) -> None:
        """Insert the hole ``[start, start + size)``.  Time: O(log n)."""
        node = _Node(start, size)
        self.nodes[start] = node
        cur = self.root
        if cur is NIL:
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

    def remove(self, start: int) -> None:
        """Delete the hole that starts at ``start``.  Time: O(log n)."""
        node = self.nodes.pop(start)
        if node.left is not NIL and node.right is not NIL:
            # Two children: the successor's hole moves into this node, and the
            # successor's node (at most one child) is the one unlinked.
            succ = node.right
            while succ.left is not NIL:
                succ = succ.left
            node.start = succ.start
            node.size = succ.size
            self.nodes[succ.start] = node
            moved: _Node | None = node
            node = succ
        else:
            moved = None
        child = node.left if node.left is not NIL else node.right
        parent = node.parent
        if child is not NIL:
            child.parent = parent
        if parent is None:
            self.root = child
        else:
            if parent.left is node:
                parent.left = child
            else:
                parent.right = child
            self._retrace(parent)
        if moved is not None:
            self._fix_max(moved)  # its size changed; the retrace may have stopped below it

    def replace(self, start: int, new_start: int, new_size: int) -> None:
        """Change the hole at ``start`` in place; its rank in address order must not change.

        Time: O(1) when no subtree maximum changes, O(log n) at worst.
        """
        nodes = self.nodes
        node = nodes.pop(start) if new_start != start else nodes[start]
        nodes[new_start] = node
        node.start = new_start
        old_size = node.size
        node.size = new_size
        if new_size > old_size:
            # Grown (a free merged into it): raise the maxima that are now too small.
            cur: _Node | None = node
            while cur is not None and cur.max < new_size:
                cur.max = new_size
                cur = cur.parent
        elif new_size < old_size and node.max == old_size:
            self._fix_max(node)  # it may have been its subtree's largest hole

    def clear(self) -> None:
        """Remove every hole.  Time: O(1)."""
        self.root = NIL
        self.nodes = {}

    # --------------------------------------------------------------- queries

    def first_fit(self, size: int, align: int, lowest: int) -> int:
        """Return the start of the lowest hole starting at or after ``lowest`` that holds
        an ``align``-aligned range of ``size`` slots, or -1.

        Time: O(log n) for align 1; O(log n + k) otherwise (see module).
        """
        node = self.root
        if node.max < size:
            return -1
        if align == 1 and lowest == 0:
            # The common case: go left while the left subtree holds a fit.
            while True:
                left = node.left
                if left.max >= size:
                    node = left
                elif node.size >= size:
                    return node.start
                else:
                    node = node.right  # node.max >= size: the fit is on the right
        # General case: in-order walk of the subtrees that may hold a fit.
        mask = align - 1
        stack: list[_Node] = []
        while True:
            while node.max >= size:  # NIL's max is 0: the walk stops at the leaves
                if node.start >= lowest:
                    stack.append(node)
                    node = node.left
                else:
                    node = node.right
            if not stack:
                return -1
            node = stack.pop()
            start = node.start
            if start + (-start & mask) + size <= start + node.size:
                return start
            node = node.right

    def floor(self, offset: int) -> int:
        """Return the start of the last hole starting at or before ``offset``, or -1.

        Time: O(log n).
        """
        node = self.root
        best = -1
        while node is not NIL:
            if node.start <= offset:
                best = node.start
                node = node.right
            else:
                node = node.left
        return best

    def largest(self) -> int:
        """Size of the largest hole (0 if none).  Time: O(1)."""
        return self.root.max

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(start, size)`` in address order.  Time: O(n)."""
        stack: list[_Node] = []
        node = self.root
        while stack or node is not NIL:
            while node is not NIL:
                stack.append(node)
                node = node.left
            node = stack.pop()
            yield node.start, node.size
            node = node.right

    def __len__(self) -> int:
        return len(self.nodes)

    def check(self) -> None:
        """Verify order, heap, ``max`` and parent invariants; raise ``CorruptState``."""
        if NIL.max or NIL.height or NIL.left is not NIL or NIL.right is not NIL:
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
            node = stack.pop()
            seen += 1
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
            if node.max != expected:
                raise CorruptState(
                    f"hole tree: hole {node.start} says its subtree max is {node.max}, it is {expected}"
                )
            if self.nodes.get(node.start) is not node:
                raise CorruptState(f"hole tree: hole {node.start} is missing from the node table")
            node = node.right
        if seen != len(self.nodes):
            raise CorruptState(f"hole tree: {seen} nodes in the tree, {len(self.nodes)} in the table")

    # ---------------------------------------------------------------- helpers

    def _retrace(self, node: _Node | None) -> None:
        """Restore heights, balance and maxima from ``node`` up, after a child changed.

        Stops as soon as a subtree's height and max come out as they were:
        nothing above can change then.  Time: O(log n), usually O(1).
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
            else:
                node.height = (left.height if left.height > right.height else right.height) + 1
                best = node.size
                if left.max > best:
                    best = left.max
                if right.max > best:
                    best = right.max
                node.max = best
            if node.height == height and node.max == largest:
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
        """Put ``top`` where ``node`` hangs from its parent (or at the root)."""
        parent = node.parent
        top.parent = parent
        if parent is None:
            self.root = top
        elif parent.left is node:
            parent.left = top
        else:
            parent.right = top

    @staticmethod
    def _update(node: _Node) -> None:
        """Recompute ``node``'s height and max from its children."""
        left = node.left
        right = node.right
        node.height = (left.height if left.height > right.height else right.height) + 1
        best = node.size
        if left.max > best:
            best = left.max
        if right.max > best:
            best = right.max
        node.max = best

    @staticmethod
    def _fix_max(node: _Node | None) -> None:
        """Recompute ``max`` from ``node`` up to the root, stopping when nothing changes."""
        while node is not None:
            best = node.size
            child = node.left.max
            if child > best:
                best = child
            child = node.right.max
            if child > best:
                best = child
            if best == node.max:
                return
            node.max = best
            node = node.parent


class AddressOrdered(HoleAllocator):
    """A ``HoleAllocator`` whose index is a ``HoleTree`` (first fit, next fit).

    The *top* hole, the one that ends at ``capacity``, is kept out of the tree
    (dlmalloc's "top chunk"; Korn & Vo's wilderness): it is the last hole in
    address order, so a search tries it after the tree, and carving from it,
    which is what next fit does almost every time and first fit whenever the
    lower holes are too small, changes no tree node.  Kept in the tree, it is
    usually the largest hole, so each carve from it rewrote ``max`` all the
    way up to the root (measured: the longest walks of all).
    """

    __slots__ = ("_top", "_tree")

    _tree: HoleTree
    _top: int  # start of the hole that ends at capacity, or -1

    def _first_fit(self, size: int, align: int, lowest: int) -> int:
        """The lowest hole starting at or after ``lowest`` that holds the aligned request, or -1."""
        start = self._tree.first_fit(size, align, lowest)
        if start >= 0:
            return start
        top = self._top
        if top >= lowest and top + (-top & (align - 1)) + size <= self._capacity:
            return top  # (top is -1 when there is none: -1 >= lowest is false)
        return -1

    def _index_clear(self) -> None:
        self._tree = HoleTree()
        self._top = -1

    def _index_add(self, start: int, size: int) -> None:
        if start + size == self._capacity:
            self._top = start
        else:
            self._tree.add(start, size)

    def _index_remove(self, start: int, size: int) -> None:
        if start == self._top:
            self._top = -1
        else:
            self._tree.remove(start)

    def _index_replace(self, start: int, size: int, new_start: int, new_size: int) -> None:
        if start == self._top:
            if new_start + new_size == self._capacity:
                self._top = new_start
            else:  # shrunk from its end: the tail is added as the new top next
                self._top = -1
                self._tree.add(new_start, new_size)
        elif new_start + new_size == self._capacity:
            self._tree.remove(start)  # merged up to the end of the space
            self._top = new_start
        else:
            self._tree.replace(start, new_start, new_size)

    def _index_floor(self, offset: int) -> int:
        top = self._top
        if 0 <= top <= offset:
            return top
        return self._tree.floor(offset)

    def _index_holes(self) -> Iterator[tuple[int, int]]:
        yield from self._tree
        if self._top >= 0:
            yield self._top, self._capacity - self._top

    def _largest_hole(self) -> int:
        largest = self._tree.largest()
        top = self._top
        if top >= 0 and self._capacity - top > largest:
            return self._capacity - top
        return largest

    def _check_index(self) -> None:
        self._tree.check()
        top = self._top
        ends = self._hole_by_end.get(self._capacity, -1)
        if top != ends:
            raise CorruptState(f"hole tree: the top hole is recorded at {top}, the hole table says {ends}")
        if top in self._tree.nodes:
            raise CorruptState(f"hole tree: the top hole {top} is also in the tree")
