"""First fit: every block goes at the lowest aligned offset where it fits.

Address-ordered first fit is the policy that, with best fit, wastes least on
real programs (Johnstone & Wilson, "The Memory Fragmentation Problem: Solved?",
ISMM 1998): low addresses fill up and stay dense, the top of the space stays
one large hole.  Its classic weakness is speed: a linked list of holes is
walked from the bottom, past every small hole, on each request.  Here the
holes sit in a ``HoleTree`` (holes by address, each subtree knowing its largest
hole), so the walk never enters a subtree with no hole large enough::

    space   [blk][  hole 8  ][blk][h2][blk][     hole 40     ]
    tree            [h 8 | max 40]
                   /              \\
           (none)            [h 40 | max 40]
                             /
                       [h 2 | max 2]

    alloc(10): root max 40 >= 10; left subtree empty; root hole 8 < 10;
               go right; left child max 2 < 10; take hole 40.

Placement: the lowest aligned offset, in the lowest hole that can hold it.

Invariants: those of ``AddressOrdered`` and ``HoleTree``.

Time: alloc O(log n) (n = holes; plus the misaligned holes skipped
when align > 1); free O(log n); resize in place usually O(1).
"""

from __future__ import annotations

from ._addrtree import AddressOrdered, _Node
from ._mypyc import mypyc_attr

__all__ = ["FirstFit"]


@mypyc_attr(allow_interpreted_subclasses=True)
class FirstFit(AddressOrdered):
    """Address-ordered first fit over a tree of holes.

    >>> a = FirstFit(100)
    >>> x, y, z = a.alloc(10), a.alloc(20), a.alloc(10)
    >>> a.free(y); a.alloc(5)
    10
    """

    __slots__ = ()

    name = "first-fit"

    def _find(self, size: int, align: int) -> _Node | None:
        return self._first_fit(size, align, 0)
