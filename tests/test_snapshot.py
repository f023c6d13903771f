"""Snapshots, ``restore`` and pickling, over every registered policy.

``Allocator.snapshot()`` is plain JSON data; ``rangealloc.restore`` rebuilds
an allocator from it, under the snapshot's policy or another one, after
checking every part of it.  What is proved here:

* a snapshot holds only dicts, lists, str and int, blocks and aligns in
  address order, and the policy's state (next fit: its pointer);
* snapshot -> JSON text -> restore gives the same allocator: same type,
  ``blocks()``, ``holes()``, ``stats()``, pointer, recorded aligns, and
  ``check()`` passes; for the policies the model predicts, the restored copy
  then behaves exactly like the original under the same operations;
* restore under every other policy keeps the blocks and aligns (buddy takes
  only buddy blocks: anything else is a ``ValueError`` saying so), with that
  policy's default state;
* pickle (every protocol) and ``copy`` go through the snapshot, and keep a
  subclass;
* a table of bad snapshots: each raises ``ValueError`` naming the culprit,
  leaves the snapshot as it was, and builds no allocator (none is reachable,
  not even from the traceback's frames, while the exception is alive).
"""

from __future__ import annotations

import copy
import gc
import json
import pickle
from typing import Any

import pytest
from helpers import apply_ops, assert_names, snapshot
from hypothesis import given
from strategies import ops, small_capacities
from traits import MODELLED, ROUNDING, traits_of

import rangealloc
from rangealloc import Allocator, Bitmap, Buddy, FirstFit, NextFit, restore

# ------------------------------------------------------------------ helpers


def layout(policy: str, capacity: int, operations: list[tuple[str, int, int, int]]) -> Allocator:
    a = rangealloc.create(policy, capacity)
    apply_ops(a, operations)
    return a


def assert_plain_json(value: object, where: str = "snapshot") -> None:
    """Only dicts with str keys, lists, str and int (no bool, float, tuple, None)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            assert_plain_json(item, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            assert_plain_json(item, f"{where}[{index}]")
    else:
        assert type(value) in (str, int), f"{where}: {type(value).__name__} {value!r}"


def assert_same(a: Allocator, b: Allocator) -> None:
    """Everything observable is equal, and ``b`` passes ``check()``."""
    assert snapshot(b) == snapshot(a)
    assert b.stats() == a.stats()
    assert b.top_hole == a.top_hole
    assert b.snapshot() == a.snapshot()
    b.check()


def is_buddy_layout(blocks: list[tuple[int, int]]) -> bool:
    return all(size & (size - 1) == 0 and offset % size == 0 for offset, size in blocks)


def allocators_alive() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Allocator))


# ----------------------------------------------------------------- format


@given(capacity=small_capacities, operations=ops())
def test_snapshot_is_plain_json_data_in_address_order(policy: str, capacity: int, operations: Any) -> None:
    a = layout(policy, capacity, operations)
    s = a.snapshot()
    assert_plain_json(s)
    assert list(s) == ["format", "version", "policy", "capacity", "blocks", "aligns", "state"]
    assert s["format"] == "rangealloc-snapshot"
    assert s["version"] == 1
    assert s["policy"] == policy
    assert s["capacity"] == capacity
    assert s["blocks"] == [[offset, size] for offset, size in a.blocks()]
    offsets = [offset for offset, _ in s["aligns"]]
    assert offsets == sorted(offsets)
    for offset, align in s["aligns"]:
        assert offset in a
        assert align > 1
        assert offset % align == 0
    if isinstance(a, NextFit):
        assert s["state"] == {"pointer": a.pointer}
    assert json.loads(json.dumps(s)) == s


def test_snapshot_records_the_aligns_asked() -> None:
    a = FirstFit(128)
    assert [a.alloc(3), a.alloc(5, align=16), a.alloc(2, align=1), a.alloc(1, align=4)] == [0, 16, 3, 8]
    assert a.snapshot() == {
        "format": "rangealloc-snapshot",
        "version": 1,
        "policy": "first-fit",
        "capacity": 128,
        "blocks": [[0, 3], [3, 2], [8, 1], [16, 5]],
        "aligns": [[8, 4], [16, 16]],
        "state": {},
    }


# ------------------------------------------------------------- round trips


@given(capacity=small_capacities, operations=ops())
def test_restore_through_json_gives_the_same_allocator(policy: str, capacity: int, operations: Any) -> None:
    a = layout(policy, capacity, operations)
    b = restore(json.loads(json.dumps(a.snapshot())))
    assert type(b) is type(a)
    assert b is not a
    assert_same(a, b)


@given(capacity=small_capacities, operations=ops(), later=ops())
def test_a_restored_allocator_behaves_like_the_original(
    policy: str, capacity: int, operations: Any, later: Any
) -> None:
    """For the policies whose placement follows from the holes alone (and next fit's pointer).

    TLSF and buddy also depend on the order of their free lists, which a
    snapshot does not keep: their restored copies are equal, not twins.
    """
    if policy not in MODELLED:
        return
    a = layout(policy, capacity, operations)
    b = restore(a.snapshot())
    apply_ops(a, later)
    apply_ops(b, later)
    assert_same(a, b)


@given(capacity=small_capacities, operations=ops())
def test_restore_under_every_other_policy(policy: str, capacity: int, operations: Any) -> None:
    a = layout(policy, capacity, operations)
    s = a.snapshot()
    blocks = list(a.blocks())
    for name, cls in rangealloc.POLICIES.items():
        if capacity > cls.max_capacity:
            continue
        if name in ROUNDING and not is_buddy_layout(blocks):
            with pytest.raises(ValueError, match="not a buddy block"):
                restore(s, name)
            continue
        for target in (name, cls):
            b = restore(s, target)
            assert type(b) is cls
            assert list(b.blocks()) == blocks
            assert list(b.holes()) == list(a.holes())
            assert b.used == a.used
            assert b.snapshot()["aligns"] == s["aligns"]
            b.check()
            if name == policy:
                assert b.snapshot() == s  # its own policy: the state too
            elif isinstance(b, NextFit):
                assert b.pointer == 0  # another policy's snapshot: the default state


def test_restore_of_a_next_fit_snapshot_keeps_the_pointer_only_under_next_fit() -> None:
    a = NextFit(64)
    x = a.alloc(10)
    a.alloc(10)
    a.free(x)
    assert a.pointer == 20
    assert restore(a.snapshot()).pointer == 20  # type: ignore[attr-defined]
    assert restore(a.snapshot(), FirstFit).snapshot()["state"] == {}
    back = restore(restore(a.snapshot(), "first-fit").snapshot(), "next-fit")
    assert isinstance(back, NextFit)
    assert back.pointer == 0
    # The restored next fit carries on from its pointer, as the original does.
    assert restore(a.snapshot()).alloc(5) == a.alloc(5) == 20


def test_restore_sorts_the_blocks() -> None:
    s = FirstFit(64).snapshot()
    s["blocks"] = [[40, 4], [0, 8], [20, 2]]
    s["aligns"] = [[40, 8], [20, 4]]
    b = restore(s)
    assert list(b.blocks()) == [(0, 8), (20, 2), (40, 4)]
    assert b.snapshot()["aligns"] == [[20, 4], [40, 8]]
    assert list(b.holes()) == [(8, 12), (22, 18), (44, 20)]
    b.check()


def test_restore_takes_tuples_and_leaves_out_aligns_and_state() -> None:
    b = restore(
        {
            "format": "rangealloc-snapshot",
            "version": 1,
            "policy": "next-fit",
            "capacity": 16,
            "blocks": [(0, 4)],
        }
    )
    assert list(b.blocks()) == [(0, 4)]
    assert b.pointer == 0  # type: ignore[attr-defined]


def test_restore_of_buddy_blocks_into_buddy() -> None:
    a = FirstFit(100)
    for offset, size in [(0, 8), (8, 4), (16, 16), (64, 32), (96, 4)]:
        a.reserve(offset, size)
    b = restore(a.snapshot(), "buddy")
    assert list(b.blocks()) == list(a.blocks())
    assert list(b.holes()) == [(12, 4), (32, 32)]
    b.check()


# ---------------------------------------------------------------- pickling


class Tagged(FirstFit):
    """A user subclass: pickling must give one back (not a plain ``FirstFit``)."""

    __slots__ = ()


@given(capacity=small_capacities, operations=ops())
def test_pickle_round_trip(policy: str, capacity: int, operations: Any) -> None:
    a = layout(policy, capacity, operations)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        b = pickle.loads(pickle.dumps(a, protocol=protocol))
        assert type(b) is type(a)
        assert_same(a, b)


def test_pickle_is_a_call_to_restore() -> None:
    a = NextFit(32)
    a.alloc(4, align=8)
    function, arguments = a.__reduce__()
    assert function is restore
    assert arguments == (a.snapshot(), NextFit)


def test_copy_and_deepcopy(policy: str) -> None:
    a = rangealloc.create(policy, 64)
    a.alloc(3)
    a.alloc(4, align=16)
    for b in (copy.copy(a), copy.deepcopy(a)):
        assert b is not a
        assert_same(a, b)
        b.alloc(1)  # independent of a
        assert len(b) == len(a) + 1


def test_pickle_keeps_a_subclass() -> None:
    a = Tagged(64)
    a.alloc(5)
    b = pickle.loads(pickle.dumps(a))
    assert type(b) is Tagged
    assert_same(a, b)


# ------------------------------------------------------------ bad snapshots


def base(policy: str = "first-fit") -> dict[str, Any]:
    """A valid snapshot to break: blocks [0, 8), [16, 20) (asked with align 16) and [32, 48)."""
    a = rangealloc.create(policy, 64)
    for offset, size in [(0, 8), (16, 4), (32, 16)]:
        a.reserve(offset, size)
    s = a.snapshot()
    s["aligns"] = [[16, 16]]
    restore(s)  # valid as it is
    return s


def with_(key: str, value: object, policy: str = "first-fit") -> dict[str, Any]:
    s = base(policy)
    s[key] = value
    return s


def without(key: str) -> dict[str, Any]:
    s = base()
    del s[key]
    return s


#: (id, snapshot, restore's policy argument, what the message must name: a str as a substring,
#: anything else by its repr, as a whole token).
BAD: list[tuple[str, Any, Any, tuple[object, ...]]] = [
    ("list", [], None, ("dict",)),
    ("str", "rangealloc-snapshot", None, ("dict",)),
    ("none", None, None, ("dict",)),
    ("format-wrong", with_("format", "rangealloc-trace"), None, ("'rangealloc-trace'",)),
    ("format-missing", without("format"), None, (None,)),
    ("version-2", with_("version", 2), None, (2,)),
    ("version-str", with_("version", "1"), None, ("'1'",)),
    ("version-bool", with_("version", True), None, (True,)),
    ("key-unknown", with_("extra", 1), None, ("'extra'",)),
    ("key-missing", without("blocks"), None, ("'blocks'",)),
    ("policy-unknown", with_("policy", "worst-fit"), None, ("'worst-fit'",)),
    ("policy-not-str", with_("policy", 3), None, ("policy",)),
    ("policy-argument-unknown", base(), "worst-fit", ("'worst-fit'",)),
    ("capacity-zero", with_("capacity", 0), None, (0,)),
    ("capacity-negative", with_("capacity", -64), None, (-64,)),
    ("capacity-bool", with_("capacity", True), None, (True,)),
    ("capacity-float", with_("capacity", 64.0), None, (64.0,)),
    ("capacity-str", with_("capacity", "64"), None, ("'64'",)),
    ("capacity-above-bitmap-max", with_("capacity", 2**24 + 1), "bitmap", (2**24 + 1, "bitmap")),
    ("blocks-not-list", with_("blocks", {"0": 8}), None, ("blocks",)),
    ("block-short", with_("blocks", [[0, 8], [16]]), None, ("blocks[1]", [16])),
    ("block-long", with_("blocks", [[0, 8, 1]]), None, ("blocks[0]", [0, 8, 1])),
    ("block-float", with_("blocks", [[0, 8.0]]), None, ([0, 8.0],)),
    ("block-bool", with_("blocks", [[True, 8]]), None, ([True, 8],)),
    ("block-str", with_("blocks", ["08"]), None, ("blocks[0]", "'08'")),
    ("block-size-zero", with_("blocks", [[0, 8], [12, 0]]), None, (12, 0)),
    ("block-size-negative", with_("blocks", [[12, -3]]), None, (12, -3)),
    ("block-offset-negative", with_("blocks", [[-1, 4]]), None, (-1,)),
    ("block-past-capacity", with_("blocks", [[0, 8], [60, 8]]), None, ("[60, 68)", 64)),
    ("blocks-overlap", with_("blocks", [[0, 8], [4, 8]]), None, ("[4, 12)", "[0, 8)")),
    ("blocks-overlap-unsorted", with_("blocks", [[30, 8], [0, 8], [20, 12]]), None, ("[30, 38)", "[20, 32)")),
    ("blocks-duplicate", with_("blocks", [[0, 8], [0, 8]]), None, ("[0, 8)",)),
    ("aligns-not-list", with_("aligns", {"16": 16}), None, ("aligns",)),
    ("align-not-pair", with_("aligns", [[16]]), None, ("aligns[0]",)),
    ("align-not-power-of-two", with_("aligns", [[16, 12]]), None, (12,)),
    ("align-zero", with_("aligns", [[16, 0]]), None, (0,)),
    ("align-of-no-block", with_("aligns", [[5, 1]]), None, (5,)),
    ("align-twice", with_("aligns", [[16, 16], [16, 8]]), None, (16,)),
    ("align-unmet", with_("aligns", [[16, 32]]), None, (16, 32)),
    ("state-not-dict", with_("state", [["pointer", 0]]), None, ("state",)),
    ("state-key-not-str", with_("state", {1: 0}), None, (1,)),
    ("state-value-not-int", with_("state", {"pointer": "0"}, "next-fit"), None, ("'pointer'", "'0'")),
    ("state-unknown-key", with_("state", {"pointer": 0}), None, ("'pointer'", "first-fit")),
    (
        "state-next-fit-unknown-key",
        with_("state", {"pointer": 0, "rover": 1}, "next-fit"),
        None,
        ("'rover'",),
    ),
    ("pointer-above-capacity", with_("state", {"pointer": 65}, "next-fit"), None, (65,)),
    ("pointer-negative", with_("state", {"pointer": -1}, "next-fit"), None, (-1,)),
    ("pointer-bool", with_("state", {"pointer": True}, "next-fit"), None, (True,)),
    ("buddy-size", with_("blocks", [[0, 3]], "buddy"), None, ("[0, 3)", "not a buddy block", 3)),
    ("buddy-offset", with_("blocks", [[4, 8]], "buddy"), None, ("[4, 12)", "not a buddy block", 4, 8)),
    ("buddy-from-first-fit", with_("blocks", [[0, 8], [8, 6]]), "buddy", ("[8, 14)", "not a buddy block")),
    ("buddy-by-class", with_("blocks", [[2, 4]]), Buddy, ("[2, 6)", "not a buddy block")),
]


@pytest.mark.parametrize(("bad", "policy", "named"), [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_snapshot_is_value_error_naming_the_culprit(
    bad: Any, policy: Any, named: tuple[object, ...]
) -> None:
    before = copy.deepcopy(bad)
    alive = allocators_alive()
    with pytest.raises(ValueError) as info:
        restore(bad, policy)
    # While the exception (its traceback, every frame's locals) is alive: no allocator was built.
    assert allocators_alive() == alive
    message = str(info.value)
    for value in named:
        if isinstance(value, str):
            assert value in message, f"{value!r} not in {message!r}"
        else:
            assert_names(message, value)
    assert bad == before  # restore changes nothing in what it is given


class Counted(NextFit):
    """A next fit that counts its instances: restore must build none for a bad snapshot."""

    __slots__ = ()
    built = 0

    def __init__(self, capacity: int) -> None:
        type(self).built += 1
        super().__init__(capacity)


@pytest.mark.parametrize(
    "bad",
    [
        with_("state", {"pointer": 65}, "next-fit"),
        with_("state", {"rover": 1}, "next-fit"),
        with_("blocks", [[0, 8], [4, 8]], "next-fit"),
        with_("aligns", [[16, 32]], "next-fit"),
        with_("capacity", 0, "next-fit"),
    ],
)
def test_bad_snapshot_builds_nothing(bad: dict[str, Any]) -> None:
    Counted.built = 0
    with pytest.raises(ValueError):
        restore(bad, Counted)
    assert Counted.built == 0
    good = base("next-fit")
    assert type(restore(good, Counted)) is Counted
    assert Counted.built == 1


@pytest.mark.parametrize("policy", [3, int, None.__class__, FirstFit(8)])
def test_restore_wants_a_policy_name_or_class(policy: Any) -> None:
    with pytest.raises(TypeError, match="policy must be"):
        restore(base(), policy)


def test_restore_is_exported() -> None:
    assert rangealloc.restore is restore
    assert "restore" in rangealloc.__all__
    assert "Move" in rangealloc.__all__


# ------------------------------------------------- the policies' own rules


def test_every_policy_round_trips_its_own_state(policy: str) -> None:
    """Whatever state a policy keeps in its snapshot comes back (next fit: the pointer), by name or class."""
    a = rangealloc.create(policy, 64)
    a.alloc(7)
    a.alloc(3, align=8)
    a.free(0)
    s = a.snapshot()
    assert restore(s).snapshot() == s
    assert restore(s, policy).snapshot() == s
    assert restore(s, rangealloc.POLICIES[policy]).snapshot() == s
    if traits_of(policy).exact_size:
        assert restore(s, Bitmap).snapshot()["blocks"] == s["blocks"]


def test_tlsf_keeps_its_second_level_bits() -> None:
    a = rangealloc.TLSF(1000, sl=2)
    a.alloc(10)
    b = rangealloc.restore(json.loads(json.dumps(a.snapshot())))
    assert isinstance(b, rangealloc.TLSF)
    assert a.snapshot()["state"] == {"sl": 2}
    assert b._sl == 2
    assert pickle.loads(pickle.dumps(a))._sl == 2
    bad = a.snapshot()
    bad["state"] = {"sl": 9}
    with pytest.raises(ValueError, match=r"tlsf sl 9 is not in 0\.\.8"):
        rangealloc.restore(bad)
