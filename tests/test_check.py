"""``check()`` catches deliberately corrupted state, for every policy.

These tests reach into private attributes ON PURPOSE: each one breaks one
internal invariant the way a bug would, and expects ``check()`` to raise
``CorruptState`` naming the broken rule.  Each starts from the same layout,
which ``check()`` must accept::

    [0 blk 4)[4 hole 10)[10 blk 16)[16 hole 30)[30 blk 34)[34 hole 50)[50 blk 64)

or, for a policy that reserves only buddy blocks (``traits.BUDDY_RESERVE``),
the same shape made of buddy blocks (the last hole is two free blocks,
[36, 40) and [40, 48), that are not buddies)::

    [0 blk 4)[4 hole 8)[8 blk 16)[16 hole 32)[32 blk 36)[36 hole 48)[48 blk 64)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from traits import BUDDY_RESERVE

import rangealloc
from rangealloc import TLSF, Allocator, BestFit, Bitmap, Buddy, CorruptState, NextFit
from rangealloc._addrtree import NIL, AddressOrdered, HoleTree, _Node
from rangealloc._holes import HoleAllocator
from rangealloc.tlsf import _Hole

CAPACITY = 64
BLOCKS = [(0, 4), (10, 6), (30, 4), (50, 14)]
HOLES = [(4, 6), (16, 14), (34, 16)]
BUDDY_BLOCKS = [(0, 4), (8, 8), (32, 4), (48, 16)]
BUDDY_HOLES = [(4, 4), (16, 16), (36, 12)]


def policies_of(kind: type[Allocator]) -> list[str]:
    """The registered policies built on ``kind`` (new ones are picked up on their own)."""
    return [name for name, cls in rangealloc.POLICIES.items() if issubclass(cls, kind)]


def layout(policy: str) -> Allocator:
    blocks, holes = (BUDDY_BLOCKS, BUDDY_HOLES) if policy in BUDDY_RESERVE else (BLOCKS, HOLES)
    a = rangealloc.create(policy, CAPACITY)
    for offset, size in blocks:
        a.reserve(offset, size)
    assert list(a.blocks()) == blocks
    assert list(a.holes()) == holes
    a.check()
    return a


def second_block(a: Allocator) -> tuple[int, int]:
    """The layout's second block, (10, 6) or (8, 8): a hole before it and a hole after it."""
    return sorted(a._blocks.items())[1]


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
    offset, size = second_block(a)
    del a._blocks[offset]
    a._used -= size


def _block_over_a_hole(a: Allocator) -> None:
    offset, size = second_block(a)
    a._blocks[offset] = size + 1
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
    a.realloc(second_block(a)[0], 12)
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


# ------------------------------------------------ hole tree and its tables


def ordered(policy: str) -> AddressOrdered:
    a = layout(policy)
    assert isinstance(a, AddressOrdered)
    return a


def non_root(tree: HoleTree) -> _Node:
    node = next(n for n in tree if n is not tree.root)
    assert node.parent is not None
    return node


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_hole_missing_from_the_table_by_start(policy: str) -> None:
    a = ordered(policy)
    a._starts[15] = a._starts.pop(16)
    assert_corrupt(a, "table by start")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_hole_missing_from_the_table_by_end(policy: str) -> None:
    a = ordered(policy)
    a._ends[9] = a._ends.pop(10)
    assert_corrupt(a, "table by end")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
@pytest.mark.parametrize("table", ["_starts", "_ends"])
def test_check_catches_an_extra_entry_in_a_hole_table(policy: str, table: str) -> None:
    a = ordered(policy)
    getattr(a, table)[40] = _Node(40, 2)
    assert_corrupt(a, "hole count is 4|hole tables: 3 holes by start and 4 by end")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_hole_the_tables_do_not_know(policy: str) -> None:
    a = ordered(policy)
    a._tree.add(_Node(36, 2))  # inside the hole [34, 50): also an overlap
    assert_corrupt(a)


def with_top(policy: str) -> AddressOrdered:
    """The layout with its last block freed: the hole [34, 64) is the top hole."""
    a = ordered(policy)
    a.free(50)
    assert a._top is not None
    assert (a._top.start, a._top.size) == (34, 30)
    a.check()
    return a


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_the_top_hole_linked_in_the_tree(policy: str) -> None:
    a = with_top(policy)
    assert a._top is not None
    a._tree.add(a._top)  # holes() then yields it twice
    assert_corrupt(a, "hole \\[34, 64\\) overlaps")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_lost_top_hole(policy: str) -> None:
    a = with_top(policy)
    a._top = None  # holes() no longer reaches capacity
    assert_corrupt(a, "not at capacity 64")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_hole_at_capacity_kept_in_the_tree(policy: str) -> None:
    a = with_top(policy)
    top = a._top
    assert top is not None
    a._top = None
    a._tree.add(top)
    assert_corrupt(a, r"top hole is reported as 0, holes\(\) says 30")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_top_hole_that_does_not_end_at_capacity(policy: str) -> None:
    a = ordered(policy)
    last = a._starts[34]
    a._tree.remove(last)
    a._top = last  # still the last hole in address order, but [34, 50) is not at the top
    assert_corrupt(a, r"top hole is reported as 16, holes\(\) says 0")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_subtree_max(policy: str) -> None:
    a = ordered(policy)
    node = non_root(a._tree)
    node.max = node.size - 1  # a bound below the node's own hole
    assert_corrupt(a, "max")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_root_max(policy: str) -> None:
    a = ordered(policy)
    assert a._tree.root is not NIL
    a._tree.root.max -= 1
    assert_corrupt(a, "largest hole|max")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_moved_hole_start(policy: str) -> None:
    a = ordered(policy)
    a._starts[16].start = 17
    assert_corrupt(a)


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_holes_out_of_address_order(policy: str) -> None:
    a = ordered(policy)
    # Swap two holes between their nodes, tables kept in step, so only the order breaks.
    first, last = a._starts[4], a._starts[34]
    first.start, last.start = last.start, first.start
    first.size, last.size = last.size, first.size
    a._starts[4], a._starts[34] = last, first
    a._ends[10], a._ends[50] = last, first
    for node in a._tree:  # every bound high enough: the max invariant holds whatever the order
        node.max = a.capacity
    assert_corrupt(a, "order|overlaps|gap")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_height(policy: str) -> None:
    a = ordered(policy)
    non_root(a._tree).height += 1
    assert_corrupt(a, "height")


def test_check_catches_a_tree_out_of_balance() -> None:
    tree = HoleTree()
    nodes = {start: _Node(start, 1) for start in (100, 110, 120)}
    for node in nodes.values():
        tree.add(node)
    # Hang a chain of two below the leftmost leaf, heights kept consistent.
    low = nodes[100]
    deeper = _Node(90, 1)
    deepest = _Node(80, 1)
    low.left, deeper.parent = deeper, low
    deeper.left, deepest.parent = deepest, deeper
    for node in (deepest, deeper, low, tree.root):
        HoleTree._update(node)
    with pytest.raises(CorruptState, match="balance"):
        tree.check(5)


def test_check_catches_a_cycle_of_child_pointers() -> None:
    tree = HoleTree()
    nodes = [_Node(start, 1) for start in (100, 110, 120)]
    for node in nodes:
        tree.add(node)
    nodes[0].left = tree.root  # the leftmost leaf points back up
    with pytest.raises(CorruptState, match="cycle"):
        tree.check(3)


def test_check_catches_more_nodes_than_holes() -> None:
    tree = HoleTree()
    for start in (100, 110, 120):
        tree.add(_Node(start, 1))
    with pytest.raises(CorruptState, match="more than the 2 holes"):
        tree.check(2)


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_wrong_parent_pointer(policy: str) -> None:
    a = ordered(policy)
    node = non_root(a._tree)
    node.parent = node
    assert_corrupt(a, "parent")


@pytest.mark.parametrize("policy", policies_of(AddressOrdered))
def test_check_catches_a_root_with_a_parent(policy: str) -> None:
    a = ordered(policy)
    tree = a._tree
    assert tree.root is not NIL
    tree.root.parent = non_root(tree)
    assert_corrupt(a, "root")


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


# The bitmap's large mode (chunks under a segment tree), at the layout's 64 slots:
# ``ChunkedBitmap`` switches to it above 16 slots, with chunks of 8 under 8 leaves
# (nodes 8 .. 15 are the chunks, 1 is the root).  The layout's summaries:
#
#     chunk (node)   0 (8)  1 (9)  2 (10)  3 (11)  4 (12)  5 (13)  6 (14)  7 (15)
#     pre / suf      0 / 4  2 / 0  8 / 8   6 / 0   0 / 6   8 / 8   2 / 0   0 / 0
#     best           4      2      8       6       6       8       2       0
#
#     node 4: best 6   node 5: pre 14, best 14   node 6: suf 14, best 14   node 7: best 2
#     node 2: best 14  node 3: best 16 (the hole [34, 50))                 node 1: best 16


class ChunkedBitmap(Bitmap):
    """The bitmap in large mode above 16 slots, with 8-slot chunks."""

    small_limit = 16
    chunk_bits = 8


def chunked_layout(capacity: int = CAPACITY, blocks: list[tuple[int, int]] = BLOCKS) -> ChunkedBitmap:
    a = ChunkedBitmap(capacity)
    for offset, size in blocks:
        a.reserve(offset, size)
    assert a._large
    a.check()
    return a


@pytest.mark.parametrize(
    ("summary", "node", "value", "rule"),
    [
        ("_pre", 9, 1, "chunk 1 summary: pre is 1, should be 2"),
        ("_suf", 8, 3, "chunk 0 summary: suf is 3, should be 4"),
        ("_best", 11, 5, "chunk 3 summary: best is 5, should be 6"),
        ("_best", 15, 1, "chunk 7 summary: best is 1, should be 0"),
        ("_pre", 5, 13, "tree node 5: pre is 13, should be 14"),
        ("_suf", 6, 15, "tree node 6: suf is 15, should be 14"),
        ("_best", 5, 13, "tree node 5: best is 13, should be 14"),
        ("_best", 2, 15, "tree node 2: best is 15, should be 14"),
    ],
)
def test_check_catches_a_wrong_chunk_or_node_summary(summary: str, node: int, value: int, rule: str) -> None:
    # Below the root: the summaries the first-fit descent trusts, which nothing else reads.
    a = chunked_layout()
    getattr(a, summary)[node] = value
    assert_corrupt(a, rule)


def test_check_catches_a_wrong_root_summary() -> None:
    a = chunked_layout()
    a._best[1] = 15
    assert_corrupt(a, "largest hole")


def test_check_catches_a_chunk_bit_against_the_block_table() -> None:
    a = chunked_layout()
    a._chunks[0] |= 1  # slot 0 is in the block [0, 4)
    assert_corrupt(a)  # holes() shows [0, 1) over the block
    with pytest.raises(CorruptState, match=r"slot 0 is marked free against the block table \(chunk 0\)"):
        a._check_policy()
    a = chunked_layout()
    a._chunks[4] &= ~(1 << 3)  # slot 35 is free
    with pytest.raises(CorruptState, match=r"slot 35 is marked used against the block table \(chunk 4\)"):
        a._check_policy()


@pytest.mark.parametrize(("capacity", "chunk", "bit", "slot"), [(60, 7, 7, 63), (40, 6, 0, 48)])
def test_check_catches_a_free_bit_past_the_capacity(capacity: int, chunk: int, bit: int, slot: int) -> None:
    # In the last chunk (60 slots: 4 bits past the capacity) or in a padding chunk (40 slots: 5 of 8 leaves).
    a = chunked_layout(capacity, [])
    a._chunks[chunk] |= 1 << bit
    assert_corrupt(a)
    with pytest.raises(CorruptState, match=f"slot {slot}, at or above capacity {capacity}, is marked free"):
        a._check_policy()


def test_check_catches_a_small_map_in_large_mode() -> None:
    a = chunked_layout()
    a._map = 1 << 5
    assert_corrupt(a, "small map is not 0")


def test_check_catches_the_wrong_mode() -> None:
    a = chunked_layout()
    a._large = False
    a._map = (1 << CAPACITY) - 1 ^ sum(((1 << size) - 1) << offset for offset, size in BLOCKS)
    assert_corrupt(a, "small mode at capacity 64")


def test_check_catches_a_tree_of_the_wrong_size() -> None:
    a = chunked_layout()
    a._pre.append(0)
    assert_corrupt(a, "17 pre entries, should be 16")
    a = chunked_layout()
    a._leaves = 16
    assert_corrupt(a, "16 leaves for 8 chunks")


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


# ----------------------------------------------------------------- TLSF
#
# The standard layout in a TLSF with sl = 4: holes of 6, 14 and 16 slots, in
# classes 6 and 14 (row 0: one class per size below 16) and 16 (row 1, column 0),
# one node each.  Capacity 64 is class 48 (row 3, column 0), the last one: 49
# bins, 4 rows.  ``tlsf_pair`` has two holes of 6 slots in bin 6, to break links.
#
# The base check compares ``stats().largest_hole`` with ``holes()`` before it
# calls the policy's own check, and TLSF finds its largest hole through the
# bitmaps (top row, top column): a bitmap bit that hides or invents the top
# class shows up there first.  Either way ``check()`` must raise ``CorruptState``.


def bin_starts(a: TLSF, cls: int) -> list[int]:
    """The starts of the holes in bin ``cls``, newest first (the bin's order)."""
    starts: list[int] = []
    node = a._heads[cls]
    while node is not None and len(starts) <= len(a._starts):
        starts.append(node.start)
        node = node.next
    return starts


def tlsf(policy: str) -> TLSF:
    a = layout(policy)
    assert isinstance(a, TLSF)
    assert a._sl == 4
    assert {cls: bin_starts(a, cls) for cls in range(len(a._heads)) if a._heads[cls]} == {
        6: [4],
        14: [16],
        16: [34],
    }
    assert a._cols[:2] == [1 << 6 | 1 << 14, 1]
    assert a._rows == 0b11
    return a


def tlsf_pair(policy: str) -> TLSF:
    """Holes [4, 10), [16, 22) (both in bin 6, [16, 22) the newer) and [34, 50)."""
    a = rangealloc.create(policy, CAPACITY)
    assert isinstance(a, TLSF)
    for offset, size in [(0, 4), (10, 6), (22, 12), (50, 14)]:
        a.reserve(offset, size)
    assert list(a.holes()) == [(4, 6), (16, 6), (34, 16)]
    assert bin_starts(a, 6) == [16, 4]
    a.check()
    return a


def set_bitmaps(a: TLSF) -> None:
    """Recompute the bitmaps from the bins, so that only the corruption under test is wrong."""
    a._cols = [0] * len(a._cols)
    a._rows = 0
    for cls, head in enumerate(a._heads):
        if head is not None:
            a._cols[cls >> a._sl] |= 1 << (cls & a._mask)
            a._rows |= 1 << (cls >> a._sl)


def push(a: TLSF, node: _Hole, cls: int) -> None:
    """Link ``node`` at the head of bin ``cls``, whatever its size, marked as of that class."""
    head = a._heads[cls]
    node.cls = cls
    node.prev = None
    node.next = head
    if head is not None:
        head.prev = node
    a._heads[cls] = node
    set_bitmaps(a)


TLSF_POLICIES = policies_of(TLSF)


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_hole_in_the_wrong_bin(policy: str) -> None:
    a = tlsf(policy)
    # The 14-slot hole moves to bin 13 (its mark and the column bits follow): only the bin is wrong.
    node = a._starts[16]
    a._unlink(node)
    push(a, node, 13)
    assert_corrupt(a, "hole 16 of size 14 .marked class 13. is in bin 13, not in the bin of its class 14")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_hole_marked_with_the_wrong_class(policy: str) -> None:
    a = tlsf(policy)
    a._starts[16].cls = 13  # in the right bin, but unlinking it would empty bin 13
    assert_corrupt(a, "marked class 13. is in bin 14")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_stray_tlsf_bin_entry(policy: str) -> None:
    a = tlsf(policy)
    push(a, _Hole(40, 6), 6)  # a 6-slot hole at 40 that the tables do not know, in the right bin
    assert_corrupt(a, "hole 40 in bin 6 is missing from the table by start")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_hole_under_the_wrong_start(policy: str) -> None:
    a = tlsf(policy)
    a._starts[15] = a._starts.pop(16)
    assert_corrupt(a, "hole 16 in bin 14 is missing from the table by start")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_hole_under_the_wrong_end(policy: str) -> None:
    a = tlsf(policy)
    a._ends[9] = a._ends.pop(10)
    assert_corrupt(a, "hole 4 in bin 6 is missing from the table by end")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
@pytest.mark.parametrize("table", ["_starts", "_ends"])
def test_check_catches_a_tlsf_table_holding_a_copy_of_the_node(policy: str, table: str) -> None:
    a = tlsf(policy)
    # Same start and size, but not the node in the bin: the tables and the bins disagree.
    key = 16 if table == "_starts" else 30
    getattr(a, table)[key] = _Hole(16, 14, 14)
    by = "start" if table == "_starts" else "end"
    assert_corrupt(a, f"hole 16 in bin 14 is missing from the table by {by}")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_an_extra_entry_in_the_tlsf_table_by_end(policy: str) -> None:
    a = tlsf(policy)
    a._ends[45] = a._starts[34]
    assert_corrupt(a, "bins hold 3 holes, the tables 3 by start and 4 by end")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_an_extra_entry_in_the_tlsf_table_by_start(policy: str) -> None:
    a = tlsf(policy)
    a._starts[40] = _Hole(40, 2, 2)  # holes() reads this table: an overlap for the base check
    assert_corrupt(a, "overlaps")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_hole_missing_from_the_tlsf_bins(policy: str) -> None:
    a = tlsf(policy)
    a._unlink(a._starts[4])  # bitmaps follow: only the missing hole is wrong
    assert a._cols[0] == 1 << 14
    assert_corrupt(a, "bins hold 2 holes, the tables 3 by start and 3 by end")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_hole_in_two_bins(policy: str) -> None:
    a = tlsf(policy)
    node = a._starts[4]
    a._heads[7] = node  # bin 6 and bin 7 both start with it
    set_bitmaps(a)
    assert_corrupt(a, "hole 4 is linked twice, again in bin 7")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_wrong_tlsf_prev_link(policy: str) -> None:
    a = tlsf_pair(policy)
    a._starts[4].prev = None  # should be [16, 22), the newer hole of bin 6
    assert_corrupt(a, "bin 6 is not doubly linked: hole 4 follows hole 16 but its prev link names no hole")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_bin_head_with_a_prev_link(policy: str) -> None:
    a = tlsf_pair(policy)
    a._starts[16].prev = a._starts[4]
    assert_corrupt(a, "bin 6 is not doubly linked: hole 16 follows no hole but its prev link names hole 4")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_cycle_in_a_tlsf_bin(policy: str) -> None:
    a = tlsf_pair(policy)
    a._starts[4].next = a._starts[16]  # 16 -> 4 -> 16 -> ...
    assert_corrupt(a, "hole 16 is linked twice, again in bin 6 .a cycle")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_cycle_in_the_top_tlsf_bin(policy: str) -> None:
    a = tlsf_pair(policy)
    # stats().largest_hole walks the top non-empty bin (16): it must stop, not loop.
    node = a._starts[34]
    node.next = node
    assert_corrupt(a, "bin 16 holds more holes than the tables .a cycle")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_wrong_tlsf_per_class_tables(policy: str) -> None:
    a = tlsf(policy)
    a._bit_of[6] = 1 << 7  # alloc would clear the wrong column bit when bin 6 empties
    assert_corrupt(a, "per-class tables")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_bin_count_that_does_not_match_the_capacity(policy: str) -> None:
    a = tlsf(policy)
    a._heads.append(None)
    assert_corrupt(a, "50 bins and 4 rows, capacity 64 needs 49 and 4")


@pytest.mark.parametrize(
    ("row", "bit"),
    [(0, 6), (0, 14), (0, 5), (0, 15), (1, 0), (1, 1), (1, 15), (2, 0), (3, 0)],
    ids=["clear-6", "clear-14", "set-5", "set-15", "clear-16", "set-17", "set-31", "set-32", "set-64"],
)
@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_wrong_tlsf_column_bit(policy: str, row: int, bit: int) -> None:
    a = tlsf(policy)
    a._cols[row] ^= 1 << bit
    assert_corrupt(a, "column bit|row bitmap|largest hole")


@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_tlsf_column_bit_of_a_class_past_the_last(policy: str) -> None:
    a = tlsf(policy)
    assert len(a._heads) == 49
    assert len(a._cols) == 4
    # Row 3 has one class (48, column 0): a bit for column 3 names class 51, which has no bin.
    # alloc would index _heads[51] with it (IndexError): check() must see it first.
    a._cols[3] |= 1 << 3
    assert_corrupt(a, "column bit")


@pytest.mark.parametrize("bit", [0, 1, 2, 3, 5], ids=["clear-0", "clear-1", "set-2", "set-3", "set-5"])
@pytest.mark.parametrize("policy", TLSF_POLICIES)
def test_check_catches_a_wrong_tlsf_row_bit(policy: str, bit: int) -> None:
    a = tlsf(policy)
    a._rows ^= 1 << bit
    assert_corrupt(a, "row bitmap|largest hole")


# ---------------------------------------------------------------- buddy
#
# The buddy layout's free lists: [4, 8) and [36, 40) of order 2, [40, 48) of
# order 3, [16, 32) of order 4.


def buddy(policy: str) -> Buddy:
    a = layout(policy)
    assert isinstance(a, Buddy)
    assert {k: sorted(blocks) for k, blocks in enumerate(a._lists) if blocks} == {
        2: [4, 36],
        3: [40],
        4: [16],
    }
    assert a._orders == 0b11100
    return a


def set_free(a: Buddy, frees: list[tuple[int, int]], takes: list[tuple[int, int]]) -> None:
    """Put ``(offset, order)`` free blocks in / take them out of the lists, keeping the order bitmap right."""
    for offset, order in takes:
        del a._lists[order][offset]
    for offset, order in frees:
        a._lists[order][offset] = None
    a._orders = sum(1 << k for k, blocks in enumerate(a._lists) if blocks)


BUDDY_POLICIES = policies_of(Buddy)


@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_catches_a_misaligned_free_block(policy: str) -> None:
    a = buddy(policy)
    # [16, 32) as [16, 20) [20, 28) [28, 32): the same slots, but 20 is no multiple of 8.
    set_free(a, frees=[(16, 2), (20, 3), (28, 2)], takes=[(16, 4)])
    assert list(a.holes()) == BUDDY_HOLES
    assert_corrupt(a, "free block 20 of order 3 is misplaced")


@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_catches_unmerged_free_buddies(policy: str) -> None:
    a = buddy(policy)
    set_free(a, frees=[(16, 3), (24, 3)], takes=[(16, 4)])
    assert list(a.holes()) == BUDDY_HOLES
    assert_corrupt(a, "buddy were not merged")


@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_catches_unmerged_free_buddies_deep_down(policy: str) -> None:
    a = buddy(policy)
    set_free(a, frees=[(16, 3), (24, 2), (28, 1), (30, 0), (31, 0)], takes=[(16, 4)])
    assert list(a.holes()) == BUDDY_HOLES
    assert_corrupt(a, "buddy were not merged")


@pytest.mark.parametrize(
    "bit", [2, 3, 4, 0, 1, 6], ids=["clear-2", "clear-3", "clear-4", "set-0", "set-1", "set-6"]
)
@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_catches_a_wrong_order_bitmap(policy: str, bit: int) -> None:
    a = buddy(policy)
    a._orders ^= 1 << bit
    assert_corrupt(a, "order bitmap")


@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_catches_a_block_whose_size_is_not_a_power_of_two(policy: str) -> None:
    a = buddy(policy)
    # [0, 4) becomes [0, 6); the free [4, 8) shrinks to [6, 8): tiling and free lists stay right.
    set_free(a, frees=[(6, 1)], takes=[(4, 2)])
    a._blocks[0] = 6
    a._used += 2
    assert_corrupt(a, "block 0 of size 6 is not a buddy block")


@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_catches_a_block_not_aligned_to_its_size(policy: str) -> None:
    a = buddy(policy)
    # [8, 16) moves to [4, 12); the free [4, 8) moves to [12, 16).
    set_free(a, frees=[(12, 2)], takes=[(4, 2)])
    del a._blocks[8]
    a._blocks[4] = 8
    assert_corrupt(a, "block 4 of size 8 is not a buddy block")


@pytest.mark.parametrize("policy", BUDDY_POLICIES)
def test_check_accepts_free_buddies_whose_parent_is_outside_the_space(policy: str) -> None:
    a = rangealloc.create(policy, 12)  # roots [0, 8) and [8, 12)
    assert isinstance(a, Buddy)
    a.reserve(0, 8)
    a.reserve(8, 2)
    a.free(8)
    # [8, 12) is whole again; its buddy [12, 16) is outside: nothing more to merge.
    assert {k: list(blocks) for k, blocks in enumerate(a._lists) if blocks} == {2: [8]}
    a.check()
    a.free(0)
    assert {k: sorted(blocks) for k, blocks in enumerate(a._lists) if blocks} == {2: [8], 3: [0]}
    a.check()
