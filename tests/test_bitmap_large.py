"""The bitmap's large mode (chunks under a segment tree) beside the reference model, at test sizes.

The registered bitmap switches to large mode above 2**15 slots, far above
what the stateful tests can afford.  The subclasses here bring the switch
down: ``ChunkedBitmap`` (large above 64 slots, chunks of 8) starts on either
side of the threshold (the capacities are mostly 1..64, sometimes up to 1024)
and crosses it when it grows; ``TinyChunkBitmap`` (large at every capacity,
chunks of 4) makes most requests span several chunks and most aligns exceed
a chunk.  Both run ``test_stateful.AllocatorMachine`` unchanged (alloc with
align, free, realloc, reserve, grow, clear, compact, bad calls), where the
model predicts every offset (first fit) and ``check()`` runs after every step
(in large mode it recomputes every chunk and every tree node); only the
snapshot rule is redefined, to restore into the subclass.
"""

from __future__ import annotations

import json
import pickle
from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule
from model import Model
from strategies import capacities
from test_stateful import STATEFUL_SETTINGS, AllocatorMachine

from rangealloc import Bitmap, restore


class ChunkedBitmap(Bitmap):
    """Large mode above 64 slots, with 8-slot chunks."""

    small_limit = 64
    chunk_bits = 8


class TinyChunkBitmap(Bitmap):
    """Large mode at every capacity, with 4-slot chunks."""

    small_limit = 0
    chunk_bits = 4


class LargeModeMachine(AllocatorMachine):
    """``AllocatorMachine`` on a bitmap subclass with small tunables; subclasses set ``cls``."""

    policy = "bitmap"
    cls: ClassVar[type[Bitmap]] = Bitmap

    def __init__(self) -> None:
        super().__init__()
        self.a = self.cls(1)

    @initialize(capacity=capacities)
    def start(self, capacity: int) -> None:
        self.a = self.cls(capacity)
        self.model = Model(self.policy, capacity)

    @rule(through=st.sampled_from(["json", "pickle"]))
    def snapshot_restore(self, through: str) -> None:
        snapshot = self.a.snapshot()
        if through == "json":
            restored = restore(json.loads(json.dumps(snapshot)), self.cls)
        else:
            restored = pickle.loads(pickle.dumps(self.a))
        assert type(restored) is self.cls
        assert restored.snapshot() == snapshot
        self.a = restored


class ChunkedMachine(LargeModeMachine):
    cls = ChunkedBitmap


class TinyChunkMachine(LargeModeMachine):
    cls = TinyChunkBitmap


# The machine that crosses the threshold gets the stateful runs' examples (three times the profile's);
# the other, whose check() walks up to 256 chunks and 511 nodes per step, the profile's.
ChunkedMachine.TestCase.settings = STATEFUL_SETTINGS
TestChunkedBitmapStateful = ChunkedMachine.TestCase
TestTinyChunkBitmapStateful = TinyChunkMachine.TestCase


def test_the_machines_run_large_mode() -> None:
    assert not ChunkedBitmap(64)._large
    assert ChunkedBitmap(65)._large
    assert TinyChunkBitmap(1)._large
