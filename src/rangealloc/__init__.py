"""rangealloc: range allocators behind one exact contract.

Hand out ranges of an address space ``[0, capacity)``: ``alloc(size) ->
offset``, ``free(offset)``, ``realloc``, ``reserve``, ``grow``, ``stats`` and
``check``, ``compact``, ``snapshot`` (and ``restore``), the same for every policy::

    >>> import rangealloc
    >>> a = rangealloc.create("first-fit", 256)
    >>> a.alloc(10), a.alloc(16, align=16)
    (0, 16)
"""

from importlib.machinery import EXTENSION_SUFFIXES as _EXTENSION_SUFFIXES

from . import _base
from ._base import Allocator, Move, Stats
from ._compare import Comparison, Recommendation, bundled_traces, compare, recommend
from ._errors import AllocError, CorruptState, InvalidBlock, OutOfSpace, TraceError
from ._registry import DEFAULT_POLICY, POLICIES, create
from ._replay import ReplayResult, Snapshot, replay, replay_until
from ._snapshot import restore
from ._sync import SyncAllocator, SyncHeap, synchronized
from .best_fit import BestFit
from .bitmap import Bitmap
from .buddy import Buddy
from .first_fit import FirstFit
from .heap import Heap, HeapCorruption, HeapFileError
from .next_fit import NextFit
from .tlsf import TLSF
from .trace import Event, Recorder, Trace, read_trace, write_trace

__version__ = "0.1.0"

#: True when the compiled build's modules are running (``RANGEALLOC_COMPILE=1 pip install .``:
#: mypyc extensions beside the sources), False for the pure-Python ones.  Same API either way.
COMPILED: bool = (_base.__file__ or "").endswith(tuple(_EXTENSION_SUFFIXES))

__all__ = [
    "COMPILED",
    "DEFAULT_POLICY",
    "POLICIES",
    "TLSF",
    "AllocError",
    "Allocator",
    "BestFit",
    "Bitmap",
    "Buddy",
    "Comparison",
    "CorruptState",
    "Event",
    "FirstFit",
    "Heap",
    "HeapCorruption",
    "HeapFileError",
    "InvalidBlock",
    "Move",
    "NextFit",
    "OutOfSpace",
    "Recommendation",
    "Recorder",
    "ReplayResult",
    "Snapshot",
    "Stats",
    "SyncAllocator",
    "SyncHeap",
    "Trace",
    "TraceError",
    "bundled_traces",
    "compare",
    "create",
    "read_trace",
    "recommend",
    "replay",
    "replay_until",
    "restore",
    "synchronized",
    "write_trace",
]
