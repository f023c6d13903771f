"""``check()`` catches deliberately corrupted state, for every policy.

These tests reach into private attributes ON PURPOSE: each one breaks one
internal invariant the way a bug would, and expects ``check()`` to raise
``CorruptState`` naming the broken rule.  Each starts from the same layout,
which ``check()`` must accept::

    [0 blk 4)[4 hole 10)[10 blk 16)[16 hole 30)[30 blk 34)[34 hole 50)[50 blk 64)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import rangealloc
from rangealloc import Allocator, BestFit, Bitmap, CorruptState, NextFit
from rangealloc._addrtree import NIL, AddressOrdered, HoleTree, _Node
from rangealloc._holes import HoleAllocator

CAPACITY = 64
BLOCKS = [(0, 4), (10, 6), (30, 4), (50, 14)]
HOLES = [(4, 6), (16, 14), (34, 16)]


def policies_of(kind: type[Allocator]) -> list[str]:
    """The registered policies built on ``kind`` (new ones are picked up on their own)."""
    return [name for name, cls in rangealloc.POLICIES.items() if issubclass(cls, kind)]


def layout(policy: str) -> Allocator:
    a = rangealloc.create(policy, CAPACITY)
    for offset, size in BLOCKS:
        a.reserve(offset, size)
    assert list(a.holes()) == HOLES
    a.check()
    return a


def assert_corrupt(a: Allocator, rule: str | None = None) -> None:
    """``check()`` raises ``CorruptState``, with a message matching ``rule`` when one is given."""
    with pytest.raises(CorruptState, match=rule):
        a.check()


# -------------------------------------------------------- every policy

Corruption = Callable[[Allocator], None]


def _more_used(a: Allocator) -> None:
    a._used += 1


def _bogus_block_in_a_hole(a: Allocator) -> None:
    a._blocks[40] = 4
    a._used += 4


def _lost_block(a: Allocator) -> None:
    del a._blocks[10]
    a._used -= 6


def _block_over_a_hole(a: Allocator) -> None:
    a._blocks[10] = 7
    a._used += 1


def _empty_block(a: Allocator) -> None:
    a._blocks[4] = 0


def _wrong_capacity(a: Allocator) -> None:
    a._capacity += 8


GENERIC: list[tuple[str, Corruption, str]] = [
    ("used counter", _more_used, "used"),
    ("bogus block in a hole", _bogus_block_in_a_hole, "overlaps"),
    ("lost block", _lost_block, "gap"),
    ("block over a hole", _block_over_a_hole, "overlaps"),
    ("empty block", _empty_block, "size 0"),
    ("capacity", _wrong_capacity, "capacity"),
]


@pytest.mark.parametrize(("what", "corrupt", "rule"), GENERIC, ids=[w for w, _, _ in GENERIC])
def test_check_catches_generic_corruption(policy: str, what: str, corrupt: Corruption, rule: str) -> None:
    a = layout(policy)
    corrupt(a)
    assert_corrupt(a, rule)


def test_check_accepts_every_state_reached_through_the_api(policy: str) -> None:
    a = layout(policy)
    a.alloc(3, align=8)
    a.realloc(10, 12)
    a.free(0)
    a.grow(100)
    a.check()
    a.clear()
    a.check()


# ---------------------------------------------------------- hole tables


@pytest.mark.parametrize("policy", policies_of(HoleAllocator))
def test_check_catches_a_wrong_hole_size(policy: str) -> None:
    a = layout(policy)
    assert isinstance(a, HoleAllocator)
    a._hole_size[4] = 5
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(HoleAllocator))
def test_check_catches_a_wrong_hole_end(policy: str) -> None:
    a = layout(policy)
    assert isinstance(a, HoleAllocator)
    del a._hole_by_end[10]
    a._hole_by_end[9] = 4
    assert_corrupt(a, "hole tables")


@pytest.mark.parametrize("policy", policies_of(HoleAllocator))
def test_check_catches_an_extra_hole_end(policy: str) -> None:
    a = layout(policy)
    assert isinstance(a, HoleAllocator)
    a._hole_by_end[45] = 40
    assert_corrupt(a, "hole tables")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_hole_tables_that_disagree_with_the_index(policy: str) -> None:
    a = layout(policy)
    assert isinstance(a, HoleAllocator)
    # Both tables agree that [4, 10) is now [4, 9); the index still says [4, 10).
    a._hole_size[4] = 5
    del a._hole_by_end[10]
    a._hole_by_end[9] = 4
    assert_corrupt(a, "index")


# ------------------------------------------------------------ hole tree


def tree_of(a: Allocator) -> HoleTree:
    assert isinstance(a, AddressOrdered)
    return a._tree


def non_root(tree: HoleTree) -> _Node:
    node = next(n for n in tree.nodes.values() if n is not tree.root)
    assert node.parent is not None
    return node


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_subtree_max(policy: str) -> None:
    a = layout(policy)
    node = non_root(tree_of(a))
    node.max += 100
    assert_corrupt(a, "max")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_root_max(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    assert tree.root is not NIL
    tree.root.max -= 1
    assert_corrupt(a, "largest hole|max")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_moved_hole_start(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    tree.nodes[16].start = 17
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_holes_out_of_address_order(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    # Swap two holes' contents so the table still matches but the order breaks.
    first, last = tree.nodes[4], tree.nodes[34]
    first.start, last.start = last.start, first.start
    first.size, last.size = last.size, first.size
    tree.nodes[4], tree.nodes[34] = last, first
    for node in (first, last):
        HoleTree._fix_max(node)
    assert_corrupt(a, "order|overlaps|gap")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_height(policy: str) -> None:
    a = layout(policy)
    node = non_root(tree_of(a))
    node.height += 1
    assert_corrupt(a, "height")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_tree_out_of_balance(policy: str) -> None:
    tree = HoleTree()
    for start in (100, 110, 120):
        tree.add(start, 1)
    # Hang a chain of two below the leftmost leaf, heights kept consistent.
    low = tree.nodes[100]
    deeper = _Node(90, 1)
    deepest = _Node(80, 1)
    tree.nodes[90], tree.nodes[80] = deeper, deepest
    low.left, deeper.parent = deeper, low
    deeper.left, deepest.parent = deepest, deeper
    for node in (deepest, deeper, low, tree.root):
        HoleTree._update(node)
    with pytest.raises(CorruptState, match="balance"):
        tree.check()


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_parent_pointer(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    node = non_root(tree)
    node.parent = node
    assert_corrupt(a, "parent")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_root_with_a_parent(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    assert tree.root is not NIL
    tree.root.parent = non_root(tree)
    assert_corrupt(a, "root")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_node_missing_from_the_table(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    node = tree.nodes.pop(16)
    tree.nodes[15] = node
    assert_corrupt(a, "node table")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_an_extra_node_in_the_table(policy: str) -> None:
    a = layout(policy)
    tree = tree_of(a)
    tree.nodes[40] = _Node(40, 2)
    assert_corrupt(a, "nodes")


# ------------------------------------------------------------- best fit


def best_fit(policy: str) -> BestFit:
    a = layout(policy)
    assert isinstance(a, BestFit)
    return a


@pytest.mark.parametrize("policy", policies_of(BestFit))
def test_check_catches_a_bogus_size_entry(policy: str) -> None:
    a = best_fit(policy)
    a._by_size.add(1 << 64 | 40)  # a 1-slot hole at 40 that does not exist
    assert_corrupt(a, "size-ordered")


@pytest.mark.parametrize("policy", policies_of(BestFit))
def test_check_catches_a_missing_size_entry(policy: str) -> None:
    a = best_fit(policy)
    a._by_size.remove(6 << 64 | 4)
    assert_corrupt(a, "size-ordered")


@pytest.mark.parametrize("policy", policies_of(BestFit))
def test_check_catches_a_stale_size_entry(policy: str) -> None:
    a = best_fit(policy)
    a._by_size.remove(14 << 64 | 16)
    a._by_size.add(13 << 64 | 16)
    assert_corrupt(a, "size-ordered")


@pytest.mark.parametrize("policy", policies_of(BestFit))
def test_check_catches_a_missing_start_entry(policy: str) -> None:
    a = best_fit(policy)
    a._by_start.remove(16)
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(BestFit))
def test_check_catches_a_bogus_start_entry(policy: str) -> None:
    a = best_fit(policy)
    a._by_start.add(40)  # no hole starts at 40
    assert_corrupt(a)


# --------------------------------------------------------------- bitmap


def bitmap(policy: str) -> Bitmap:
    a = layout(policy)
    assert isinstance(a, Bitmap)
    return a


@pytest.mark.parametrize("policy", policies_of(Bitmap))
def test_check_catches_a_free_slot_marked_used(policy: str) -> None:
    a = bitmap(policy)
    a._map &= ~(1 << 40)
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(Bitmap))
def test_check_catches_a_used_slot_marked_free(policy: str) -> None:
    a = bitmap(policy)
    a._map |= 1 << 2
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(Bitmap))
def test_check_catches_a_bit_above_capacity(policy: str) -> None:
    a = bitmap(policy)
    a._map |= 1 << (CAPACITY + 3)
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(Bitmap))
def test_check_catches_a_block_the_map_does_not_know(policy: str) -> None:
    a = bitmap(policy)
    # The block table and the counter agree on a block over the whole hole [34, 50),
    # but the map still has those slots free.
    a._blocks[34] = 16
    a._used += 16
    assert_corrupt(a)


# ------------------------------------------------------------- next fit


@pytest.mark.parametrize("pointer", [-1, CAPACITY + 1, 10**9])
@pytest.mark.parametrize("policy", policies_of(NextFit))
def test_check_catches_a_pointer_outside_the_space(policy: str, pointer: int) -> None:
    a = layout(policy)
    assert isinstance(a, NextFit)
    a._pointer = pointer
    assert_corrupt(a, "pointer")


@pytest.mark.parametrize("pointer", [0, 37, CAPACITY])
@pytest.mark.parametrize("policy", policies_of(NextFit))
def test_check_accepts_any_pointer_inside_the_space(policy: str, pointer: int) -> None:
    a = layout(policy)
    assert isinstance(a, NextFit)
    a._pointer = pointer
    a.check()


def test_check_catches_a_modified_sentinel() -> None:
    a = layout("first-fit")
    NIL.max = 5
    try:
        assert_corrupt(a, "sentinel")
    finally:
        NIL.max = 0
    a.check()
