"""``HoleTree``: the holes in address order, each subtree knowing its largest hole.

First fit and next fit ask one question: *which is the lowest hole, at or after
some address, that can hold this request?*  A balanced search tree keyed by
hole start, where every node also stores the largest hole size in its subtree
(``max``), answers it in O(log n): walk down, and never enter a subtree whose
``max`` is too small.  Linux finds free virtual address ranges the same way
(``mm/vmalloc.c``: an augmented red-black tree with ``subtree_max_size``).

The balance comes from a treap (Seidel & Aragon, 1996): a binary search tree by
``start`` that is also a max-heap by a random ``prio``, so its expected depth
is about 2 ln n whatever order holes appear in.  Priorities come from
Fibonacci hashing of a counter (Knuth, TAOCP 6.4): deterministic, so runs are
reproducible, and unrelated to the addresses and sizes the workload chooses::

                  [64:+8 max 512]          start:+size, max of subtree
                 /               \\
      [16:+32 max 32]         [200:+512 max 512]
        /                        /
   [0:+4 max 4]           [96:+40 max 40]

Each node also points to its parent, so a hole that grows or shrinks in place
(most allocations and frees) fixes ``max`` upward and stops as soon as a value
does not change.  ``nodes`` maps each start to its node, for O(1) lookup.

Invariants (``check``): in-order starts strictly increase; a parent's
``prio`` is >= its children's; ``max`` = max(size, children's max); parent
pointers are consistent; ``nodes`` holds exactly the nodes of the tree.

Time: insert, remove, first fit with align 1: O(log n) expected.  A resize in
place: O(log n) worst, usually O(1).  First fit with align > 1: O(log n + k),
k the holes visited that are large enough but cannot hold the aligned range.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ._errors import CorruptState
from ._holes import HoleAllocator

__all__ = ["AddressOrdered", "HoleTree"]

_GOLDEN: Final = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: Fibonacci hashing
_MASK64: Final = (1 << 64) - 1


class _Node:
    __slots__ = ("left", "max", "parent", "prio", "right", "size", "start")

    def __init__(self, start: int, size: int, prio: int) -> None:
        self.start = start
        self.size = size
        self.max = size
        self.prio = prio
        self.left: _Node | None = None
        self.right: _Node | None = None
        self.parent: _Node | None = None


class HoleTree:
    """Holes ``(start, size)`` by address, augmented with subtree maxima (a treap)."""

    __slots__ = ("_count", "nodes", "root")

    def __init__(self) -> None:
        self.root: _Node | None = None
        self.nodes: dict[int, _Node] = {}
        self._count = 0

    # --------------------------------------------------------------- updates

    def add(self, start: int, size: int) -> None:
        """Insert the hole ``[start, start + size)``.  Time: O(log n) expected."""
        self._count += 1
        node = _Node(start, size, (self._count * _GOLDEN) & _MASK64)
        self.nodes[start] = node
        cur = self.root
        if cur is None:
            self.root = node
            return
        while True:
            if start < cur.start:
                nxt = cur.left
                if nxt is None:
                    cur.left = node
                    break
            else:
                nxt = cur.right
                if nxt is None:
                    cur.right = node
                    break
            cur = nxt
        node.parent = cur
        while cur is not None and node.prio > cur.prio:
            self._rotate_up(node)
            cur = node.parent
        # The new hole joins its own and its ancestors' subtrees (the rotations
        # gave it its old parent's max, computed without it): raise the maxima.
        if node.max < size:
            node.max = size
        cur = node.parent
        while cur is not None and cur.max < size:
            cur.max = size
            cur = cur.parent

    def remove(self, start: int) -> None:
        """Delete the hole that starts at ``start``.  Time: O(log n) expected."""
        node = self.nodes.pop(start)
        # Rotate the node down until it is a leaf, then cut it off.
        while True:
            left = node.left
            right = node.right
            if left is None:
                if right is None:
                    break
                self._rotate_up(right)
            elif right is None or left.prio > right.prio:
                self._rotate_up(left)
            else:
                self._rotate_up(right)
        parent = node.parent
        if parent is None:
            self.root = None
            return
        if parent.left is node:
            parent.left = None
        else:
            parent.right = None
        self._fix_max(parent)

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
        self.root = None
        self.nodes = {}

    # --------------------------------------------------------------- queries

    def first_fit(self, size: int, align: int, lowest: int) -> int:
        """Return the start of the lowest hole starting at or after ``lowest`` that holds
        an ``align``-aligned range of ``size`` slots, or -1.

        Time: O(log n) expected for align 1; O(log n + k) otherwise (see module).
        """
        node = self.root
        if node is None or node.max < size:
            return -1
        if align == 1 and lowest == 0:
            # The common case: go left while the left subtree holds a fit.
            while True:
                left = node.left
                if left is not None and left.max >= size:
                    node = left
                elif node.size >= size:
                    return node.start
                else:
                    right = node.right
                    if right is None:  # unreachable: node.max >= size says a fit is below
                        return -1
                    node = right
        # General case: in-order walk of the subtrees that may hold a fit.
        mask = align - 1
        stack: list[_Node] = []
        cur: _Node | None = node
        while True:
            while cur is not None and cur.max >= size:
                if cur.start >= lowest:
                    stack.append(cur)
                    cur = cur.left
                else:
                    cur = cur.right
            if not stack:
                return -1
            cur = stack.pop()
            start = cur.start
            if start + (-start & mask) + size <= start + cur.size:
                return start
            cur = cur.right

    def floor(self, offset: int) -> int:
        """Return the start of the last hole starting at or before ``offset``, or -1.

        Time: O(log n) expected.
        """
        node = self.root
        best = -1
        while node is not None:
            if node.start <= offset:
                best = node.start
                node = node.right
            else:
                node = node.left
        return best

    def largest(self) -> int:
        """Size of the largest hole (0 if none).  Time: O(1)."""
        return 0 if self.root is None else self.root.max

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Iterate ``(start, size)`` in address order.  Time: O(n)."""
        stack: list[_Node] = []
        node = self.root
        while stack or node is not None:
            while node is not None:
                stack.append(node)
                node = node.left
            node = stack.pop()
            yield node.start, node.size
            node = node.right

    def __len__(self) -> int:
        return len(self.nodes)

    def check(self) -> None:
        """Verify order, heap, ``max`` and parent invariants; raise ``CorruptState``."""
        seen = 0
        previous = -1
        stack: list[_Node] = []
        node = self.root
        if node is not None and node.parent is not None:
            raise CorruptState("hole tree: the root has a parent")
        while stack or node is not None:
            while node is not None:
                stack.append(node)
                node = node.left
            node = stack.pop()
            seen += 1
            if node.start <= previous:
                raise CorruptState(f"hole tree: start {node.start} is out of address order")
            previous = node.start
            expected = node.size
            for child in (node.left, node.right):
                if child is None:
                    continue
                if child.parent is not node:
                    raise CorruptState(f"hole tree: hole {child.start} has a wrong parent pointer")
                if child.prio > node.prio:
                    raise CorruptState(f"hole tree: hole {child.start} breaks the heap order")
                expected = max(expected, child.max)
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

    def _rotate_up(self, node: _Node) -> None:
        """Rotate ``node`` above its parent; both keep correct ``max`` values."""
        parent = node.parent
        assert parent is not None
        grand = parent.parent
        if parent.left is node:
            inner = node.right
            parent.left = inner
            node.right = parent
        else:
            inner = node.left
            parent.right = inner
            node.left = parent
        if inner is not None:
            inner.parent = parent
        parent.parent = node
        node.parent = grand
        if grand is None:
            self.root = node
        elif grand.left is parent:
            grand.left = node
        else:
            grand.right = node
        node.max = parent.max  # same set of holes as the old subtree
        best = parent.size
        child = parent.left
        if child is not None and child.max > best:
            best = child.max
        child = parent.right
        if child is not None and child.max > best:
            best = child.max
        parent.max = best

    @staticmethod
    def _fix_max(node: _Node | None) -> None:
        """Recompute ``max`` from ``node`` up to the root, stopping when nothing changes."""
        while node is not None:
            best = node.size
            child = node.left
            if child is not None and child.max > best:
                best = child.max
            child = node.right
            if child is not None and child.max > best:
                best = child.max
            if best == node.max:
                return
            node.max = best
            node = node.parent


class AddressOrdered(HoleAllocator):
    """A ``HoleAllocator`` whose index is a ``HoleTree`` (first fit, next fit)."""

    __slots__ = ("_tree",)

    _tree: HoleTree

    def _index_clear(self) -> None:
        self._tree = HoleTree()

    def _index_add(self, start: int, size: int) -> None:
        self._tree.add(start, size)

    def _index_remove(self, start: int, size: int) -> None:
        self._tree.remove(start)

    def _index_replace(self, start: int, size: int, new_start: int, new_size: int) -> None:
        self._tree.replace(start, new_start, new_size)

    def _index_floor(self, offset: int) -> int:
        return self._tree.floor(offset)

    def _index_holes(self) -> Iterator[tuple[int, int]]:
        return iter(self._tree)

    def _largest_hole(self) -> int:
        return self._tree.largest()

    def _check_index(self) -> None:
        self._tree.check()
