"""Each registered policy, driven by Hypothesis, beside the reference model or a shadow.

``AllocatorMachine`` runs random sequences of alloc (with align), free (of
live and of bad offsets), realloc (with align), reserve, grow, clear,
compact (whole or ``max_moves``), snapshot/restore (through JSON or pickle)
and bad calls.  Every return value (``compact``'s moves included) and every
exception class must be what ``tests/model.py`` predicts; after every step
``blocks()``, ``holes()``, the counters, the recorded aligns and next fit's
pointer must equal the model's, and ``check()`` must pass; a call that raises
must leave the allocator exactly as it was.

``ShadowMachine`` runs the same rules (plus reserves of valid buddy blocks)
on a policy whose placement the model does not predict (TLSF, buddy), beside
a shadow of its blocks (``tests/shadow.py``): every returned offset is
aligned and its range was free, realloc stays in place when it must, there is
no false out-of-space (in buddy terms for buddy), ``compact`` makes the
predicted moves and each is safe in order, ``blocks()``/``holes()``/counters/
recorded aligns equal the shadow's after every step, ``check()`` passes, and
a call that raises changes nothing.

A ``TestCase`` is generated for every name in ``rangealloc.POLICIES``: an
``AllocatorMachine`` for ``traits.MODELLED``, a ``ShadowMachine`` for the
others; and one more ``ShadowMachine`` for TLSF with one second-level bit
(``sl=1``: two classes per power of two), where requests fall between class
bounds, and so on the fallback search, all the time.  That one does not
restore snapshots: ``sl`` is not in TLSF's snapshot state yet (tlsf.py is
being rewritten), so a restored TLSF would have the default ``sl``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

from helpers import outcome, raises_unchanged, snapshot
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from model import Model
from shadow import Shadowed
from strategies import aligns, any_offsets, bad_aligns, bad_sizes, bad_types, capacities, sizes
from traits import MODELLED, UNMODELLED

import rangealloc
from rangealloc import TLSF, Allocator, NextFit, restore

#: Calls with one int argument replaced: (argument, call(allocator, a live offset, value)).
BadCall = Callable[[Allocator, int, Any], object]
TYPE_SLOTS: list[BadCall] = [
    lambda a, live, v: a.alloc(v),
    lambda a, live, v: a.alloc(1, align=v),
    lambda a, live, v: a.free(v),
    lambda a, live, v: a.realloc(v, 1),
    lambda a, live, v: a.realloc(live, v),
    lambda a, live, v: a.realloc(live, 1, align=v),
    lambda a, live, v: a.reserve(v, 1),
    lambda a, live, v: a.reserve(0, v),
    lambda a, live, v: a.size_of(v),
    lambda a, live, v: a.grow(v),
]
SIZE_SLOTS: list[BadCall] = [
    lambda a, live, v: a.alloc(v),
    lambda a, live, v: a.realloc(live, v),
    lambda a, live, v: a.reserve(0, v),
]
ALIGN_SLOTS: list[BadCall] = [
    lambda a, live, v: a.alloc(1, align=v),
    lambda a, live, v: a.realloc(live, 1, align=v),
]

picks = st.integers(min_value=0, max_value=10**6)
orders = st.integers(min_value=0, max_value=6)
#: compact's argument: all the moves, or a few.
max_moves = st.one_of(st.none(), st.integers(min_value=0, max_value=4))


def round_trip(a: Allocator, through: str) -> Allocator:
    """``a`` rebuilt from its snapshot, through JSON text or pickle; the snapshot must survive unchanged."""
    if through == "json":
        restored = restore(json.loads(json.dumps(a.snapshot())))
    else:
        restored = pickle.loads(pickle.dumps(a))
    assert type(restored) is type(a)
    assert restored.snapshot() == a.snapshot()
    return restored


#: The stateful runs are where placement bugs show up: three times the profile's examples.
STATEFUL_SETTINGS = settings(max_examples=3 * settings().max_examples)
#: The shadow machines check more per step (every hole scanned, three of them): half the profile's
#: examples each keeps the whole suite within its time budget (50 runs of 50 steps under "ci").
SHADOW_SETTINGS = settings(max_examples=max(1, settings().max_examples // 2))


class AllocatorMachine(RuleBasedStateMachine):
    """One policy beside the model; subclasses set ``policy``."""

    policy: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.a: Allocator = rangealloc.create(self.policy, 1)
        self.model = Model(self.policy, 1)

    @initialize(capacity=capacities)
    def start(self, capacity: int) -> None:
        self.a = rangealloc.create(self.policy, capacity)
        self.model = Model(self.policy, capacity)

    # ---------------------------------------------------------------- helpers

    def agree(self, predicted: Callable[[], object], actual: Callable[[], object]) -> None:
        """Run the model's call and the allocator's; same result or same exception class."""
        before = snapshot(self.a)
        expected = outcome(predicted)
        got = outcome(actual)
        assert got == expected, f"model says {expected}, allocator {got}"
        if got[0] == "raised":
            assert snapshot(self.a) == before, f"{got[1]} changed the allocator"

    def live(self, pick: int) -> int:
        offsets = sorted(self.model.blocks)
        return offsets[pick % len(offsets)]

    def any_live(self) -> int:
        return min(self.model.blocks, default=0)

    def has_blocks(self) -> bool:
        return bool(self.model.blocks)

    # ------------------------------------------------------------------ rules

    @rule(size=sizes, align=aligns)
    def alloc(self, size: int, align: int) -> None:
        self.agree(lambda: self.model.alloc(size, align), lambda: self.a.alloc(size, align=align))

    @precondition(has_blocks)
    @rule(pick=picks)
    def free_live(self, pick: int) -> None:
        offset = self.live(pick)
        self.agree(lambda: self.model.free(offset), lambda: self.a.free(offset))

    @rule(offset=any_offsets)
    def free_any(self, offset: int) -> None:
        self.agree(lambda: self.model.free(offset), lambda: self.a.free(offset))

    @rule(offset=any_offsets)
    def size_of_any(self, offset: int) -> None:
        def predicted() -> int:
            if offset not in self.model.blocks:
                raise rangealloc.InvalidBlock(offset)
            return self.model.blocks[offset]

        self.agree(predicted, lambda: self.a.size_of(offset))
        assert (offset in self.a) == (offset in self.model.blocks)

    @precondition(has_blocks)
    @rule(pick=picks, size=sizes, align=aligns)
    def realloc_live(self, pick: int, size: int, align: int) -> None:
        offset = self.live(pick)
        self.agree(
            lambda: self.model.realloc(offset, size, align),
            lambda: self.a.realloc(offset, size, align=align),
        )

    @rule(offset=any_offsets, size=sizes, align=aligns)
    def realloc_any(self, offset: int, size: int, align: int) -> None:
        self.agree(
            lambda: self.model.realloc(offset, size, align),
            lambda: self.a.realloc(offset, size, align=align),
        )

    @rule(offset=st.integers(min_value=0, max_value=70), size=sizes)
    def reserve(self, offset: int, size: int) -> None:
        self.agree(lambda: self.model.reserve(offset, size), lambda: self.a.reserve(offset, size))

    @rule(extra=st.integers(min_value=-2, max_value=40))
    def grow(self, extra: int) -> None:
        capacity = self.model.capacity + extra
        if capacity <= 0:
            raises_unchanged(self.a, ValueError, lambda: self.a.grow(capacity))
            return
        self.agree(lambda: self.model.grow(capacity), lambda: self.a.grow(capacity))

    @rule()
    def clear(self) -> None:
        self.model.clear()
        self.a.clear()

    @rule(limit=max_moves)
    def compact(self, limit: int | None) -> None:
        self.agree(lambda: self.model.compact(limit), lambda: self.a.compact(limit))

    @rule(through=st.sampled_from(["json", "pickle"]))
    def snapshot_restore(self, through: str) -> None:
        self.a = round_trip(self.a, through)

    @rule(slot=st.sampled_from(TYPE_SLOTS), value=bad_types)
    def bad_type(self, slot: BadCall, value: Any) -> None:
        live = self.any_live()
        raises_unchanged(self.a, TypeError, lambda: slot(self.a, live, value))

    @rule(slot=st.sampled_from(SIZE_SLOTS), value=bad_sizes)
    def bad_size(self, slot: BadCall, value: int) -> None:
        live = self.any_live()
        raises_unchanged(self.a, ValueError, lambda: slot(self.a, live, value))

    @rule(slot=st.sampled_from(ALIGN_SLOTS), value=bad_aligns)
    def bad_align(self, slot: BadCall, value: int) -> None:
        live = self.any_live()
        raises_unchanged(self.a, ValueError, lambda: slot(self.a, live, value))

    @rule(offset=st.integers(max_value=-1))
    def reserve_negative(self, offset: int) -> None:
        raises_unchanged(self.a, ValueError, lambda: self.a.reserve(offset, 1))

    # ------------------------------------------------------------- invariants

    @invariant()
    def passes_check(self) -> None:
        self.a.check()

    @invariant()
    def agrees_with_model(self) -> None:
        a, model = self.a, self.model
        assert list(a.blocks()) == model.block_list()
        assert list(a.holes()) == model.holes()
        assert a.used == model.used
        assert a.available == model.capacity - model.used
        assert len(a) == len(model.blocks)
        assert a.capacity == model.capacity
        if isinstance(a, NextFit):
            assert a.pointer == model.pointer
        assert a.snapshot()["aligns"] == [[o, n] for o, n in sorted(model.aligns.items())]
        holes = model.holes()
        assert a.stats().largest_hole == max((n for _, n in holes), default=0)
        assert a.stats().holes == len(holes)


class ShadowMachine(RuleBasedStateMachine):
    """One unmodelled policy beside the shadow of its blocks; subclasses set ``policy`` (and ``make``)."""

    policy: ClassVar[str] = ""
    #: Builds the allocator from a capacity; None: ``rangealloc.create(policy, capacity)``.
    make: ClassVar[Callable[[int], Allocator] | None] = None
    #: Whether a snapshot keeps everything ``make`` chose (False: a restore would change the machine).
    restorable: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.shadow = Shadowed(self.policy, 1, type(self).make)

    @initialize(capacity=capacities)
    def start(self, capacity: int) -> None:
        self.shadow = Shadowed(self.policy, capacity, type(self).make)

    @property
    def a(self) -> Allocator:
        return self.shadow.a

    def live(self, pick: int) -> int:
        offsets = sorted(self.shadow.blocks)
        return offsets[pick % len(offsets)]

    def has_blocks(self) -> bool:
        return bool(self.shadow.blocks)

    # ------------------------------------------------------------------ rules

    @rule(size=sizes, align=aligns)
    def alloc(self, size: int, align: int) -> None:
        self.shadow.alloc(size, align)

    @precondition(has_blocks)
    @rule(pick=picks)
    def free_live(self, pick: int) -> None:
        self.shadow.free(self.live(pick))

    @rule(offset=any_offsets)
    def free_any(self, offset: int) -> None:
        self.shadow.free(offset)

    @rule(offset=any_offsets)
    def size_of_any(self, offset: int) -> None:
        self.shadow.size_of(offset)

    @precondition(has_blocks)
    @rule(pick=picks, size=sizes, align=aligns)
    def realloc_live(self, pick: int, size: int, align: int) -> None:
        self.shadow.realloc(self.live(pick), size, align)

    @rule(offset=any_offsets, size=sizes, align=aligns)
    def realloc_any(self, offset: int, size: int, align: int) -> None:
        self.shadow.realloc(offset, size, align)

    @rule(offset=st.integers(min_value=0, max_value=70), size=sizes)
    def reserve(self, offset: int, size: int) -> None:
        self.shadow.reserve(offset, size)

    @rule(order=orders, index=st.integers(min_value=0, max_value=40), size=sizes)
    def reserve_buddy_block(self, order: int, index: int, size: int) -> None:
        """A range every policy may reserve: ``size`` (clamped to 2**order) at a multiple of 2**order."""
        self.shadow.reserve(index << order, 1 + (size - 1) % (1 << order))

    @rule(extra=st.integers(min_value=-2, max_value=40))
    def grow(self, extra: int) -> None:
        self.shadow.grow(self.shadow.capacity + extra)

    @rule()
    def clear(self) -> None:
        self.shadow.clear()

    @rule(limit=max_moves)
    def compact(self, limit: int | None) -> None:
        self.shadow.compact(limit)

    def can_restore(self) -> bool:
        return type(self).restorable

    @precondition(can_restore)
    @rule(through=st.sampled_from(["json", "pickle"]))
    def snapshot_restore(self, through: str) -> None:
        self.shadow.a = round_trip(self.a, through)

    @rule(slot=st.sampled_from(TYPE_SLOTS), value=bad_types)
    def bad_type(self, slot: BadCall, value: Any) -> None:
        live = self.shadow.any_live()
        raises_unchanged(self.a, TypeError, lambda: slot(self.a, live, value))

    @rule(slot=st.sampled_from(SIZE_SLOTS), value=bad_sizes)
    def bad_size(self, slot: BadCall, value: int) -> None:
        live = self.shadow.any_live()
        raises_unchanged(self.a, ValueError, lambda: slot(self.a, live, value))

    @rule(slot=st.sampled_from(ALIGN_SLOTS), value=bad_aligns)
    def bad_align(self, slot: BadCall, value: int) -> None:
        live = self.shadow.any_live()
        raises_unchanged(self.a, ValueError, lambda: slot(self.a, live, value))

    @rule(offset=st.integers(max_value=-1))
    def reserve_negative(self, offset: int) -> None:
        raises_unchanged(self.a, ValueError, lambda: self.a.reserve(offset, 1))

    # ------------------------------------------------------------- invariants

    @invariant()
    def passes_check(self) -> None:
        self.a.check()

    @invariant()
    def agrees_with_shadow(self) -> None:
        self.shadow.compare()


def _class_name(policy: str) -> str:
    return "".join(part.capitalize() for part in policy.split("-"))


def machine_for(policy: str) -> type[AllocatorMachine]:
    """A subclass of ``AllocatorMachine`` bound to ``policy``."""

    class Machine(AllocatorMachine):
        pass

    Machine.policy = policy
    Machine.TestCase.settings = STATEFUL_SETTINGS
    Machine.__name__ = Machine.__qualname__ = f"{_class_name(policy)}Machine"
    return Machine


def shadow_machine_for(
    policy: str, make: Callable[[int], Allocator] | None = None, suffix: str = "", restorable: bool = True
) -> type[ShadowMachine]:
    """A subclass of ``ShadowMachine`` bound to ``policy`` (built by ``make``, if given)."""

    class Machine(ShadowMachine):
        pass

    Machine.policy = policy
    Machine.make = make
    Machine.restorable = restorable
    Machine.TestCase.settings = SHADOW_SETTINGS
    Machine.__name__ = Machine.__qualname__ = f"{_class_name(policy)}{suffix}ShadowMachine"
    return Machine


def _tlsf_sl1(capacity: int) -> Allocator:
    return TLSF(capacity, sl=1)


for _policy in MODELLED:
    globals()[f"Test{_class_name(_policy)}Stateful"] = machine_for(_policy).TestCase
for _policy in UNMODELLED:
    globals()[f"Test{_class_name(_policy)}Stateful"] = shadow_machine_for(_policy).TestCase
TestTlsfSl1Stateful = shadow_machine_for("tlsf", _tlsf_sl1, "Sl1").TestCase


def test_every_policy_has_a_machine() -> None:
    names = {f"Test{_class_name(name)}Stateful" for name in rangealloc.POLICIES}
    assert names <= set(globals())
