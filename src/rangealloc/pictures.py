"""Pictures of an address space and of its growth: a terminal map, PNG/SVG/PDF maps and plots.

``AddressMap`` is the address space at one moment of a replay: the live blocks
(offset, size, and the event that allocated each), the capacity, and the
*extent*, the highest end offset in use so far.  Everything here draws from
one, or from series of ``(event, live, extent)`` samples; both are built from
the public API only (``blocks()``, ``capacity``), never a policy's internals.

* ``render_terminal``: the space wrapped into a ``rows x width`` grid, row by
  row like a memory dump, one character per cell (``rangealloc map``)::

      first-fit, random churn (event 499)
          0 ███████▓███▓██▓███▒█▓▓█▓██████████▒█████████████████████████████
      1,024 █████████████████████████████████████████▓░█████░·░█████████████
      2,048 ████████████████████████████████████████████████████████████████
      3,072 ████████████████████████████░···▓███████████░···▓███████████████
      4,096 ████████████████████████████████████████████████████████████████
      5,120 ████████████████████░
      6,144
      7,168
      fill: · free  ░ ≤⅓  ▒ ≤⅔  ▓ <1  █ full  (blank: past the extent, never used)
      capacity 8,192 slots, 16 slots per cell
      used 5,220 (63.7%) in 108 blocks, extent 5,444 (66.5%)
      12 holes, largest hole 2,748, free-space fragmentation 0.08

* ``save_map``: the same space as a matplotlib raster, blocks coloured by
  their size (log scale) or age, holes white, with a colour bar.
* ``plot_series`` and ``plot_grid``: live slots and each policy's extent over
  the events of one trace, or of several side by side.

Cells.  A picture of ``count`` cells cuts ``[0, capacity)`` into ``count``
equal slices of ``capacity / count`` slots (a fraction of a slot when
``count`` does not divide the capacity).  To stay exact, positions are scaled
by ``count``: slot ``x`` sits at ``x * count`` and cell ``i`` covers
``[i * capacity, (i + 1) * capacity)``, all in integers.  A block covers part
of its first and last cells and all of the cells between them::

    slots   0    2.5    5    7.5   10     capacity 10, count 4 (2.5 slots a cell)
    cells   |  0  |  1  |  2  |  3  |
    block        [================)       [2, 9)
    fill      0.2   1.0   1.0   0.6       first and last cells in part

Blocks never overlap, so each cell is covered entirely by at most one block:
the full cells of all the blocks together number at most ``count``, and one
pass over the blocks costs O(blocks + count) however large they are.  Every
per-cell aggregate is weighted by that overlap: the size shown for a cell is
the mean, over its used slots, of the size of the block each slot is in
(a geometric mean, for the log colour scale); its age likewise.

Time: O(blocks + cells) per picture; 100,000 blocks over a capacity of 2**24
take about 0.06 s to the terminal and 0.5 s to a PNG.

``rich`` (the ``[cli]`` extra) and ``matplotlib`` (the ``[plot]`` extra) are
optional: only the functions that draw import them, and they raise
``ImportError`` naming the extra to install when it is missing.  The
matplotlib pictures use the object API (``Figure`` on an Agg canvas), never
``pyplot``: no GUI, no global state, nothing left open.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ._errors import check_offset, check_size

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from ._base import Allocator

__all__ = ["COLOURS", "FORMATS", "AddressMap", "plot_grid", "plot_series", "render_terminal", "save_map"]

#: What a map's cells can be coloured by: fill fraction, mean block size (log scale), mean block age.
COLOURS = ("fill", "size", "age")
#: The file formats of the matplotlib pictures, chosen by the path's suffix.
FORMATS = (".png", ".svg", ".pdf")

#: The message of the ``ImportError`` raised when ``rich`` is missing.
RICH_MISSING = (
    "rangealloc.pictures.render_terminal needs the 'rich' package, an optional dependency. "
    "Install it with:  pip install 'rangealloc[cli]'"
)
#: The message of the ``ImportError`` raised when ``matplotlib`` is missing.
PLOT_MISSING = (
    "rangealloc.pictures needs the 'matplotlib' package to draw pictures, an optional dependency. "
    "Install it with:  pip install 'rangealloc[plot]'"
)

# Cells per matplotlib map at most: 512 x 256 pixels, each a whole number of slots.
_RASTER_CELLS = 512 * 256
# The terminal's shades of fill: free, up to a third, up to two thirds, below full, full.
_SHADES = ("·", "░", "▒", "▓", "█")
# Matplotlib's viridis (size) and plasma (age) at 0, 1/4, 1/2, 3/4 and 1, for the terminal.
_GRADIENTS = {
    "size": ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)),
    "age": ((13, 8, 135), (126, 3, 168), (204, 71, 120), (248, 149, 64), (240, 249, 33)),
}
_MAP_CMAPS = {"fill": "Greys", "size": "viridis", "age": "plasma"}
# Terminal colour steps (so that the legend's swatches are exactly the colours drawn).
_STEPS = 8
# Matplotlib map backgrounds: free below the extent, free past it (never used), past the capacity.
_HOLE = (1.0, 1.0, 1.0, 1.0)
_UNUSED = (0.91, 0.91, 0.91, 1.0)
_OUTSIDE = (0.62, 0.62, 0.62, 1.0)


@dataclass(frozen=True)
class AddressMap:
    """The address space at one moment of a replay: what ``rangealloc map`` draws.

    ``blocks`` holds ``(offset, size, born)`` for each live block in address
    order, ``born`` being the index of the event that allocated it;
    ``event`` is the index of the moment; ``extent`` is the highest end
    offset in use at any event up to then (so at least every block's end).

    Raises ``ValueError`` if the blocks are out of order, overlap, leave the
    space, were born after ``event``, or end past ``extent``; or if
    ``extent`` is past the capacity.  Time: O(blocks) to check them.

    >>> amap = AddressMap(8, ((0, 2, 0), (3, 3, 1)), event=1, label="", extent=6)
    >>> amap.holes
    ((2, 1), (6, 2))
    >>> amap.cells(4)
    [1.0, 0.5, 1.0, 0.0]
    """

    capacity: int
    blocks: tuple[tuple[int, int, int], ...]
    event: int
    label: str
    extent: int

    def __post_init__(self) -> None:
        """Check the fields (see the class docstring); ``blocks`` may be given as any sequence."""
        capacity = check_size(self.capacity, "capacity")
        event = check_offset(self.event, "event")
        extent = check_offset(self.extent, "extent")
        if extent > capacity:
            raise ValueError(f"extent {extent} is past the capacity {capacity}")
        blocks = tuple(self.blocks)
        object.__setattr__(self, "blocks", blocks)  # frozen: the one way to store the tuple
        end = 0
        for offset, size, born in blocks:
            if size <= 0:
                raise ValueError(f"block at {offset} has size {size}; sizes must be > 0")
            if offset < end:
                raise ValueError(
                    f"block [{offset}, {offset + size}) overlaps or precedes the block before it, "
                    f"which ends at {end} (blocks must be in address order)"
                )
            if not 0 <= born <= event:
                raise ValueError(f"block at {offset} was born at event {born}, not in [0, event {event}]")
            end = offset + size
        if end > capacity:
            raise ValueError(f"block ending at {end} is past the capacity {capacity}")
        if end > extent:
            raise ValueError(f"extent {extent} is below the end of a live block, {end}")

    @classmethod
    def of(
        cls,
        allocator: Allocator,
        *,
        born: Mapping[int, int] | None = None,
        event: int = 0,
        label: str = "",
        extent: int | None = None,
    ) -> AddressMap:
        """Return the map of ``allocator``'s live blocks, from its ``blocks()``.

        ``born`` maps a block's offset to the event that allocated it (0 for
        offsets it lacks); ``extent`` defaults to the end of the highest block.

        Time: O(n log n) (``blocks()`` sorts).  Raises ``ValueError`` as the
        constructor does (a block born after ``event``, an extent too low).

        >>> from rangealloc import FirstFit
        >>> a = FirstFit(100)
        >>> x, y = a.alloc(10), a.alloc(30)
        >>> AddressMap.of(a, born={y: 2}, event=2).blocks
        ((0, 10, 0), (10, 30, 2))
        """
        when = born or {}
        blocks = tuple((offset, size, when.get(offset, 0)) for offset, size in allocator.blocks())
        if extent is None:
            extent = blocks[-1][0] + blocks[-1][1] if blocks else 0
        return cls(allocator.capacity, blocks, event, label, extent)

    @cached_property
    def holes(self) -> tuple[tuple[int, int], ...]:
        """The maximal free ranges ``(offset, size)`` of ``[0, capacity)``, in address order.

        Time: O(blocks), once (the result is kept).

        >>> AddressMap(10, ((2, 3, 0),), event=0, label="", extent=5).holes
        ((0, 2), (5, 5))
        """
        holes = []
        position = 0
        for offset, size, _ in self.blocks:
            if offset > position:
                holes.append((position, offset - position))
            position = offset + size
        if position < self.capacity:
            holes.append((position, self.capacity - position))
        return tuple(holes)

    def cells(self, count: int) -> list[float]:
        """Return the fill fraction (0.0 to 1.0) of each of ``count`` equal slices of ``[0, capacity)``.

        Exact: a block counts for the part of it inside a slice, and slices
        may be fractions of a slot wide.  Time: O(blocks + count).

        Raises ``ValueError`` if ``count`` <= 0.

        >>> AddressMap(10, ((2, 7, 0),), event=0, label="", extent=9).cells(4)
        [0.2, 1.0, 1.0, 0.6]
        """
        count = check_size(count, "count")
        cover, _ = _aggregate(self.blocks, self.capacity, count, itertools.repeat(0.0))
        return [slots / self.capacity for slots in cover]


# ------------------------------------------------------------------- terminal


def render_terminal(
    amap: AddressMap, *, width: int = 64, rows: int = 16, colour: str = "fill"
) -> RenderableType:
    """Return a ``rich`` picture of ``amap``: its space wrapped into ``rows`` x ``width`` cells.

    The cells cover ``[0, capacity)`` row by row, like a memory dump, each
    row led by the offset of its first slot.  A cell's character shows its
    fill (``·`` free, ``░ ▒ ▓`` partly used, ``█`` full, blank when the cell
    lies wholly at or past the extent: never used); with ``colour="size"``
    its colour shows the mean size of the blocks in it (log scale, viridis),
    with ``colour="age"`` their mean age in events (plasma).  Below, a
    legend: the scale, and the capacity, slots per cell, used slots, holes,
    largest hole, extent and the fragmentation of the free space (``Stats.fragmentation``:
    1 - largest hole / free slots).

    The result prints with ``rich.console.Console.print``; lines are not
    wrapped (each is ``width`` cells plus the offset column).

    Time: O(blocks + rows * width).

    Raises ``ValueError`` for a colour not in ``COLOURS`` or a ``width`` or
    ``rows`` <= 0; ``ImportError`` if ``rich`` is not installed.

    >>> from rich.console import Console
    >>> amap = AddressMap(32, ((0, 8, 0), (10, 4, 0), (24, 4, 0)), event=0, label="demo", extent=28)
    >>> Console(width=80).print(render_terminal(amap, width=16, rows=2))
    demo
     0 ████████··████··
    16 ········████...
    fill: · free  ░ ≤⅓  ▒ ≤⅔  ▓ <1  █ full  (blank: past the extent, never used)
    capacity 32 slots, 1 slot per cell
    used 16 (50.0%) in 3 blocks, extent 28 (87.5%)
    3 holes, largest hole 10, free-space fragmentation 0.38
    """
    _check_colour(colour)
    width = check_size(width, "width")
    rows = check_size(rows, "rows")
    try:
        from rich.console import Group  # noqa: PLC0415  # optional dependency ([cli] extra)
        from rich.text import Text  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(RICH_MISSING) from exc

    capacity = amap.capacity
    count = rows * width
    cover, weighted = _aggregate(amap.blocks, capacity, count, _values(amap, colour))
    low, high = _value_range(amap, colour)
    # Cells from this one on start at or past the extent (scaled: cell i starts at i * capacity).
    unused = -(-amap.extent * count // capacity)
    digits = len(f"{max(0, capacity - 1):,}")
    grid = Text(no_wrap=True, overflow="crop")
    for row in range(rows):
        if row:
            grid.append("\n")
        grid.append(f"{row * capacity // rows:>{digits},} ", style="dim")
        run: list[str] = []
        run_style = ""
        for cell in range(row * width, (row + 1) * width):
            slots = cover[cell]
            if slots:
                char = _shade(slots / capacity)
                style = ""
                if colour != "fill":
                    mean = weighted[cell] / slots  # log2 of the size, or the birth event
                    value = mean if colour == "size" else amap.event - mean
                    style = _step_style(colour, (value - low) / (high - low))
            else:
                char, style = ("·", "dim") if cell < unused else (" ", "")
            if style != run_style and run:
                grid.append("".join(run), style=run_style or None)
                run = []
            run.append(char)
            run_style = style
        grid.append("".join(run), style=run_style or None)
    title = Text(amap.label or f"event {amap.event}", style="bold")
    return Group(title, grid, _scale_line(colour, low, high), Text("\n".join(_numbers(amap, count))))


def _shade(fill: float) -> str:
    """The character of a cell with this fill fraction.

    >>> [_shade(f) for f in (0.0, 0.25, 0.5, 0.9, 1.0)]
    ['·', '░', '▒', '▓', '█']
    """
    if fill <= 0:
        return _SHADES[0]
    if fill >= 1:
        return _SHADES[4]
    if fill <= 1 / 3:
        return _SHADES[1]
    return _SHADES[2] if fill <= 2 / 3 else _SHADES[3]


def _step_style(colour: str, position: float) -> str:
    """The rich style (a hex colour) of a point of ``colour``'s scale, ``position`` in [0, 1].

    >>> _step_style("fill", 0.3), _step_style("size", 0.0), _step_style("size", 1.0)
    ('', '#440154', '#fde725')
    """
    if colour == "fill":
        return ""  # the shade says it all; the terminal's own colour
    step = min(_STEPS - 1, max(0, int(position * _STEPS)))
    anchors = _GRADIENTS[colour]
    where = step / (_STEPS - 1) * (len(anchors) - 1)
    index = min(len(anchors) - 2, int(where))
    part = where - index
    red, green, blue = (
        round(a + (b - a) * part) for a, b in zip(anchors[index], anchors[index + 1], strict=True)
    )
    return f"#{red:02x}{green:02x}{blue:02x}"


def _scale_line(colour: str, low: float, high: float) -> Text:
    """The legend's first line (two with a colour scale): what the shades and colours mean."""
    from rich.text import Text  # noqa: PLC0415  # optional dependency, checked by render_terminal

    shades = "fill: · free  ░ ≤⅓  ▒ ≤⅔  ▓ <1  █ full  (blank: past the extent, never used)"
    if colour == "fill":
        return Text(shades)
    line = Text()
    if colour == "size":
        line.append("colour: mean block size, log scale  ")
        first, last = f"{2**low:,.0f}", f"{2**high:,.0f} slots"
    else:
        line.append("colour: mean block age  ")
        first, last = f"{low:,.0f}", _count(high, "event")
    line.append(f"{first} ")
    for step in range(_STEPS):
        line.append("█", style=_step_style(colour, (step + 0.5) / _STEPS))
    line.append(f" {last}\n{shades}")
    return line


# --------------------------------------------------------------- matplotlib


def save_map(amap: AddressMap, path: str | os.PathLike[str], *, colour: str = "size") -> None:
    """Draw ``amap`` with matplotlib and save it to ``path`` (PNG, SVG or PDF, from the suffix).

    The space is wrapped into rows, like ``render_terminal`` but finer: a
    raster of up to 512 x 256 pixels, each a whole number of slots (one slot
    per pixel for a capacity up to 131,072).  Used slots are coloured by the
    size of their block (``"size"``, viridis, log scale), its age in events
    (``"age"``, plasma) or only the fill (``"fill"``, greys); a pixel partly
    used is paler in proportion.  Holes are white, free slots wholly past the
    extent light grey, pixels past the capacity (the last row's tail) dark
    grey.  A colour bar, a legend of the backgrounds, the label as title and
    the ``Stats``-like numbers under it; x is the offset within the row, y the
    offset of the row's first slot.

    Time: O(blocks + pixels); 100,000 blocks over 2**24 slots in about 0.5 s.

    Raises ``ValueError`` for a colour not in ``COLOURS`` or a suffix not in
    ``FORMATS``; ``ImportError`` if ``matplotlib`` is not installed.
    """
    _check_colour(colour)
    file_format = _format(path)
    _require_matplotlib()
    import numpy as np  # noqa: PLC0415  # matplotlib's own dependency
    from matplotlib import colormaps  # noqa: PLC0415  # optional dependency ([plot] extra)
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415
    from matplotlib.colors import LogNorm, Normalize  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415
    from matplotlib.ticker import (  # noqa: PLC0415
        FuncFormatter,
        LogLocator,
        MaxNLocator,
        MultipleLocator,
        NullFormatter,
        NullLocator,
    )

    capacity = amap.capacity
    per = -(-capacity // _RASTER_CELLS)  # slots per pixel
    needed = -(-capacity // per)
    columns = 1 << max(0, round(math.log2(math.sqrt(2 * needed))))  # about twice as wide as tall
    rows = -(-needed // columns)
    count = rows * columns
    span = count * per  # the slots the raster covers, >= capacity; cell i is [i * span, (i + 1) * span)
    cover, weighted = _aggregate(amap.blocks, span, count, _values(amap, colour))
    low, high = _value_range(amap, colour)

    fill = np.array([slots / span for slots in cover])
    used = fill > 0
    mean = np.zeros(count)
    mean[used] = [value / slots for value, slots in zip(weighted, cover, strict=True) if slots]
    norm: Normalize
    if colour == "size":
        shown, norm, bar = np.exp2(mean), LogNorm(2**low, 2**high), "mean block size (slots, log scale)"
    elif colour == "age":
        shown, norm, bar = amap.event - mean, Normalize(low, high), "mean block age (events)"
    else:
        shown, norm, bar = fill, Normalize(0.0, 1.0), "fill of the pixel"
    cmap = colormaps[_MAP_CMAPS[colour]]
    rgba = np.asarray(cmap(norm(shown)), dtype=float)
    if colour != "fill":  # a pixel partly used is paler: its colour blended with white
        rgba[:, :3] = fill[:, None] * rgba[:, :3] + (1.0 - fill[:, None])
    rgba[~used] = _HOLE
    unused = np.zeros(count, dtype=bool)
    unused[-(-amap.extent // per) :] = True
    rgba[unused & ~used] = _UNUSED
    rgba[needed:] = _OUTSIDE

    figure, axes = _figure(10.0, 6.5)
    row_span = columns * per
    axes.imshow(
        rgba.reshape(rows, columns, 4),
        interpolation="nearest",
        aspect="auto",
        extent=(0, row_span, rows * row_span, 0),
    )
    slots = FuncFormatter(lambda x, _: f"{x:,.0f}")
    axes.xaxis.set_major_formatter(slots)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(slots)  # ticks at row starts only, every 2**k rows (8 to 16 ticks)
    axes.yaxis.set_major_locator(MultipleLocator(row_span << max(0, math.ceil(math.log2(rows / 8)))))
    axes.set_xlabel(f"offset within the row (slots; {per:,} per pixel)")
    axes.set_ylabel("offset of the row's first slot")
    figure.suptitle(amap.label or f"event {amap.event}")
    scale, used_line, holes_line = _numbers(amap, count, per)
    axes.set_title(f"{scale}, {used_line}\n{holes_line}", fontsize="small")
    bar_axis = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, label=bar).ax.yaxis
    if colour == "size":  # powers of two, written out: sizes read as 64, 4,096, not 2**6 or 10**3.6
        bar_axis.set_major_locator(LogLocator(base=2))
        bar_axis.set_minor_locator(NullLocator())
    elif colour == "age":
        bar_axis.set_major_locator(MaxNLocator(integer=True))
    bar_axis.set_major_formatter(slots if colour != "fill" else FuncFormatter(lambda x, _: f"{x:.0%}"))
    bar_axis.set_minor_formatter(NullFormatter())
    backgrounds = [
        Patch(facecolor=_HOLE, edgecolor="0.5", label="hole (free)"),
        Patch(facecolor=_UNUSED, edgecolor="0.5", label="free past the extent (never used)"),
    ]
    if needed < count:
        backgrounds.append(Patch(facecolor=_OUTSIDE, edgecolor="0.5", label="past the capacity"))
    figure.legend(handles=backgrounds, loc="outside lower center", ncols=3, frameon=False, fontsize="small")
    figure.savefig(os.fspath(path), format=file_format, dpi=120)


def plot_series(
    series: Mapping[str, Sequence[tuple[int, int, int]]],
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> None:
    """Plot live slots and each policy's extent over the events of one trace; save to ``path``.

    ``series`` maps a policy name to its samples ``(event index, live,
    extent)``.  Live slots are the same for every policy (they replay the
    same events), so they are drawn once, in black over a grey area, from the
    first policy's samples; each policy's extent is a coloured line, labelled
    with its peak over the peak of live slots (1.00x: no waste at the peak).
    x is the event index, y slots (bytes, for a malloc trace).

    Time: O(samples).  Raises ``ValueError`` if ``series`` is empty or the
    suffix is not in ``FORMATS``; ``ImportError`` without ``matplotlib``.
    """
    file_format = _format(path)
    if not series:
        raise ValueError("plot_series: no series to plot (give at least one policy)")
    _require_matplotlib()
    figure, axes = _figure(9.0, 5.0)
    _draw_series(axes, series, _policy_colours([series]))
    axes.legend(fontsize="small", title="extent (peak / peak live)", title_fontsize="small")
    if title:
        axes.set_title(title)
    figure.savefig(os.fspath(path), format=file_format, dpi=120)


def plot_grid(
    results: Sequence[tuple[str, Mapping[str, Sequence[tuple[int, int, int]]]]],
    path: str | os.PathLike[str],
    *,
    columns: int = 2,
) -> None:
    """Plot ``plot_series``'s picture for several traces, one subplot each, ``columns`` to a row.

    ``results`` holds ``(trace name, series by policy)`` pairs; each subplot
    is titled with the trace's name and has its own legend (the ratios
    differ per trace); a policy has the same colour in every subplot.

    Time: O(samples).  Raises ``ValueError`` if ``results`` is empty,
    ``columns`` <= 0 or the suffix is not in ``FORMATS``; ``ImportError``
    without ``matplotlib``.
    """
    columns = check_size(columns, "columns")
    file_format = _format(path)
    if not results:
        raise ValueError("plot_grid: no results to plot (give at least one trace)")
    for name, series in results:
        if not series:
            raise ValueError(f"plot_grid: trace {name!r} has no series to plot")
    _require_matplotlib()
    from matplotlib.figure import Figure  # noqa: PLC0415  # optional dependency ([plot] extra)

    columns = min(columns, len(results))
    rows = -(-len(results) // columns)
    figure = Figure(figsize=(5.5 * columns, 3.8 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    colours = _policy_colours([series for _, series in results])
    for index, axes in enumerate(grid.flat):
        if index >= len(results):
            axes.set_visible(False)
            continue
        name, series = results[index]
        _draw_series(axes, series, colours)
        axes.set_title(name)
        axes.legend(fontsize="x-small", title="extent (peak / peak live)", title_fontsize="x-small")
    _attach_canvas(figure)
    figure.savefig(os.fspath(path), format=file_format, dpi=120)


def _draw_series(
    axes: Any, series: Mapping[str, Sequence[tuple[int, int, int]]], colours: Mapping[str, str]
) -> None:
    """Draw live slots (once) and each policy's extent on ``axes``."""
    from matplotlib.ticker import EngFormatter  # noqa: PLC0415  # optional dependency, checked

    live_samples = next((samples for samples in series.values() if samples), ())
    peak_live = max((live for _, live, _ in live_samples), default=0)
    if live_samples:
        events = [event for event, _, _ in live_samples]
        lives = [live for _, live, _ in live_samples]
        axes.fill_between(events, lives, color="0.88", linewidth=0)
        axes.plot(events, lives, color="black", linewidth=1.0, label=f"live (peak {peak_live:,})")
    for policy, samples in series.items():
        peak = max((extent for _, _, extent in samples), default=0)
        ratio = f", {peak / peak_live:.2f}x" if peak_live else ""
        axes.plot(
            [event for event, _, _ in samples],
            [extent for _, _, extent in samples],
            color=colours[policy],
            linewidth=1.3,
            label=f"{policy} ({peak:,}{ratio})",
        )
    axes.set_xlabel("event index")
    axes.set_ylabel("slots (bytes)")
    axes.xaxis.set_major_formatter(EngFormatter())
    axes.yaxis.set_major_formatter(EngFormatter())
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)


def _policy_colours(all_series: Iterable[Mapping[str, object]]) -> dict[str, str]:
    """Each policy's colour (matplotlib's cycle ``C0``..``C9``), in order of first appearance.

    >>> _policy_colours([{"first-fit": 0, "tlsf": 0}, {"buddy": 0, "tlsf": 0}])
    {'first-fit': 'C0', 'tlsf': 'C1', 'buddy': 'C2'}
    """
    names = dict.fromkeys(name for series in all_series for name in series)
    return {name: f"C{index % 10}" for index, name in enumerate(names)}


def _figure(width: float, height: float) -> tuple[Any, Any]:
    """A figure with one axes, on an Agg canvas (no pyplot: nothing to close)."""
    from matplotlib.figure import Figure  # noqa: PLC0415  # optional dependency, checked

    figure = Figure(figsize=(width, height), layout="constrained")
    _attach_canvas(figure)
    return figure, figure.add_subplot()


def _attach_canvas(figure: Any) -> None:
    """Give ``figure`` the non-interactive Agg canvas (SVG and PDF switch to theirs on save)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

    FigureCanvasAgg(figure)


def _require_matplotlib() -> None:
    """Raise ``ImportError`` naming the ``[plot]`` extra if ``matplotlib`` cannot be imported."""
    try:
        import matplotlib  # noqa: F401, PLC0415  # optional dependency: checked here, used by the caller
    except ImportError as exc:
        raise ImportError(PLOT_MISSING) from exc


# ----------------------------------------------------------------- helpers


def _check_colour(colour: str) -> None:
    """Raise ``ValueError`` naming ``colour`` if it is not in ``COLOURS``.

    >>> _check_colour("hue")
    Traceback (most recent call last):
    ...
    ValueError: unknown colour 'hue'; known: fill, size, age
    """
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; known: {', '.join(COLOURS)}")


def _format(path: str | os.PathLike[str]) -> str:
    """The file format of ``path`` from its suffix (``"png"``...); ``ValueError`` if unsupported.

    >>> _format("map.SVG")
    'svg'
    >>> _format("map.jpg")
    Traceback (most recent call last):
    ...
    ValueError: unknown picture format '.jpg' of 'map.jpg'; supported: .png, .svg, .pdf
    """
    name = os.fspath(path)
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"unknown picture format {suffix or '(no suffix)'!r} of {name!r}; supported: {', '.join(FORMATS)}"
        )
    return suffix[1:]


def _aggregate(
    blocks: Sequence[tuple[int, int, int]], span: int, count: int, values: Iterable[float]
) -> tuple[list[int], list[float]]:
    """Per cell: the length of it that blocks cover, and the sum of each block's value times its part.

    Positions are scaled by ``count`` (slot ``x`` is at ``x * count``) and cell
    ``i`` covers ``[i * span, (i + 1) * span)``; so a full cell has cover
    ``span``.  ``values`` gives one value per block.  Time: O(blocks + count)
    (blocks do not overlap: each cell is wholly inside at most one block).

    >>> _aggregate(((2, 7, 0),), 10, 4, [3.0])
    ([2, 10, 10, 6], [6.0, 30.0, 30.0, 18.0])
    """
    cover = [0] * count
    weighted = [0.0] * count
    for (offset, size, _), value in zip(blocks, values, strict=False):  # values may be endless zeros
        start = offset * count
        end = start + size * count
        first = start // span
        last = (end - 1) // span
        if first == last:
            cover[first] += end - start
            weighted[first] += (end - start) * value
            continue
        head = (first + 1) * span - start
        tail = end - last * span
        cover[first] += head
        weighted[first] += head * value
        cover[last] += tail
        weighted[last] += tail * value
        if last > first + 1:
            cover[first + 1 : last] = [span] * (last - first - 1)
            weighted[first + 1 : last] = [span * value] * (last - first - 1)
    return cover, weighted


def _values(amap: AddressMap, colour: str) -> Iterable[float]:
    """The value each block adds to a cell's aggregate: log2 of its size, its birth event, or nothing."""
    if colour == "size":
        return [math.log2(size) for _, size, _ in amap.blocks]
    if colour == "age":
        return [float(born) for _, _, born in amap.blocks]
    return itertools.repeat(0.0)


def _value_range(amap: AddressMap, colour: str) -> tuple[float, float]:
    """The ends of the colour scale: log2 of the smallest and largest size, or the youngest and oldest age.

    Never empty: a scale with one value is widened (by one doubling, or one event).
    """
    if colour == "size":
        sizes = [size for _, size, _ in amap.blocks] or [1]
        low, high = math.log2(min(sizes)), math.log2(max(sizes))
    elif colour == "age":
        births = [born for _, _, born in amap.blocks] or [amap.event]
        low, high = float(amap.event - max(births)), float(amap.event - min(births))
    else:
        return 0.0, 1.0
    return low, max(high, low + 1)


def _numbers(amap: AddressMap, cells: int, per: int | None = None) -> tuple[str, str, str]:
    """The legend's numbers, in three lines: the scale; used slots and extent; holes and fragmentation.

    ``per`` is the slots per pixel of a raster (else ``capacity / cells`` slots per cell).
    Fragmentation is ``1 - largest hole / free slots``, as in ``Stats``.

    >>> for line in _numbers(AddressMap(100, ((0, 10, 0), (20, 30, 0)), 0, "", 50), 8):
    ...     print(line)
    capacity 100 slots, 12.50 slots per cell
    used 40 (40.0%) in 2 blocks, extent 50 (50.0%)
    2 holes, largest hole 50, free-space fragmentation 0.17
    """
    capacity = amap.capacity
    holes = amap.holes
    available = sum(size for _, size in holes)
    used = capacity - available
    largest = max((size for _, size in holes), default=0)
    fragmentation = 1.0 - largest / available if available else 0.0
    if per is not None:
        slots = f"{_count(per, 'slot')} per pixel"
    elif capacity % cells == 0:
        slots = f"{_count(capacity // cells, 'slot')} per cell"
    else:
        slots = f"{_fraction(capacity / cells)} slots per cell"
    return (
        f"capacity {capacity:,} slots, {slots}",
        f"used {used:,} ({used / capacity:.1%}) in {_count(len(amap.blocks), 'block')}, "
        f"extent {amap.extent:,} ({amap.extent / capacity:.1%})",
        f"{_count(len(holes), 'hole')}, largest hole {largest:,}, "
        f"free-space fragmentation {fragmentation:.2f}",
    )


def _count(number: int | float, noun: str) -> str:
    """``number`` with thousands separators and ``noun``, plural unless it is 1.

    >>> _count(1, "block"), _count(24859, "hole")
    ('1 block', '24,859 holes')
    """
    return f"{number:,.0f} {noun}{'' if number == 1 else 's'}"


def _fraction(number: float) -> str:
    """A fractional slot count: two decimals, or three significant digits below 1.

    >>> _fraction(12.5), _fraction(17476.266), _fraction(0.09765625)
    ('12.50', '17,476.27', '0.0977')
    """
    return f"{number:,.2f}" if number >= 1 else f"{number:.3g}"
