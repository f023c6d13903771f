"""The pictures (``rangealloc.pictures``): exact cells, the terminal map, the matplotlib files.

``cells`` is checked against a reference that computes each slice's overlap
with ``Fraction`` (slice by slice, block by block).  The terminal map is
captured with a recording ``rich`` console and read back as text.  The
matplotlib pictures are checked as files: the PNG signature and size, and the
SVG parsed with ``xml.etree``, whose comments hold every text drawn (titles,
labels, legend entries).
"""

from __future__ import annotations

import random
import re
import struct
import sys
import time
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import cast

import pytest
from rich.console import Console

import rangealloc
from rangealloc.pictures import (
    COLOURS,
    FORMATS,
    PLOT_MISSING,
    RICH_MISSING,
    AddressMap,
    plot_grid,
    plot_series,
    render_terminal,
    save_map,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Blocks = tuple[tuple[int, int, int], ...]


def make(capacity: int, blocks: Blocks = (), *, event: int = 0, extent: int | None = None) -> AddressMap:
    """A hand-made map; the extent defaults to the end of the last block."""
    end = blocks[-1][0] + blocks[-1][1] if blocks else 0
    return AddressMap(capacity, blocks, event, "test map", end if extent is None else extent)


def reference_cells(amap: AddressMap, count: int) -> list[float]:
    """Each slice's fill, from exact fractions: the sum of every block's overlap with it."""
    width = Fraction(amap.capacity, count)
    fills = []
    for cell in range(count):
        low, high = cell * width, (cell + 1) * width
        covered = Fraction(0)
        for offset, size, _ in amap.blocks:
            start, end = max(low, Fraction(offset)), min(high, Fraction(offset + size))
            if end > start:
                covered += end - start
        fills.append(float(covered / width))
    return fills


def rendered(amap: AddressMap, **options: object) -> list[str]:
    """The lines ``render_terminal`` prints on a wide console, as plain text."""
    console = Console(record=True, width=200)
    console.print(render_terminal(amap, **options))  # type: ignore[arg-type]
    return console.export_text().splitlines()


def grid_rows(lines: list[str], capacity: int, rows: int) -> list[tuple[str, str]]:
    """``(row offset, cells)`` of the grid lines (after the title line)."""
    digits = len(f"{capacity - 1:,}")
    return [(line[:digits].strip(), line[digits + 1 :]) for line in lines[1 : rows + 1]]


def svg_texts(path: Path) -> list[str]:
    """Every text matplotlib drew in an SVG file (it writes each one as a comment), parsing it fully."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.parse(path, parser=parser).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # A comment's tag is the function ET.Comment (typed as str, like every tag).
    return [
        (element.text or "").strip() for element in root.iter() if cast(object, element.tag) is ET.Comment
    ]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG file's header, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ----------------------------------------------------------------- AddressMap


def test_cells_a_block_straddling_cells_counts_its_part_in_each() -> None:
    assert make(10, ((2, 7, 0),)).cells(4) == [0.2, 1.0, 1.0, 0.6]  # cells of 2.5 slots
    assert make(8, ((3, 2, 0),)).cells(2) == [0.25, 0.25]  # [3, 5) across the middle


def test_cells_of_an_empty_and_a_full_space() -> None:
    assert make(100).cells(7) == [0.0] * 7
    assert make(100, ((0, 100, 0),)).cells(7) == [1.0] * 7
    tiles = tuple((offset, 3, 0) for offset in range(0, 99, 3))  # 33 blocks touching end to end
    assert make(99, tiles).cells(10) == [1.0] * 10  # 9.9 slots a cell, each cut between blocks


def test_cells_when_the_count_does_not_divide_the_capacity() -> None:
    # Cells of 10/3 slots: [0, 3.33) full, [3.33, 6.67) holds [3.33, 5), half of it.
    assert make(10, ((0, 5, 0),)).cells(3) == [1.0, 0.5, 0.0]
    # More cells than slots: a cell is a quarter of a slot.
    assert make(2, ((1, 1, 0),)).cells(8) == [0.0] * 4 + [1.0] * 4
    assert make(3, ((1, 1, 0),)).cells(2) == [1 / 3, 1 / 3]


def test_cells_match_the_exact_reference_on_random_maps() -> None:
    rng = random.Random(20)
    for _ in range(200):
        capacity = rng.randrange(1, 120)
        blocks = []
        position = rng.randrange(0, 4)
        while position < capacity:
            size = rng.randrange(1, capacity - position + 1)
            blocks.append((position, size, 0))
            position += size + rng.randrange(0, 12)
        amap = make(capacity, tuple(blocks))
        count = rng.randrange(1, 2 * capacity + 5)
        assert amap.cells(count) == reference_cells(amap, count), (capacity, blocks, count)


@pytest.mark.parametrize("count", [0, -3])
def test_cells_count_must_be_positive(count: int) -> None:
    with pytest.raises(ValueError, match=f"count must be > 0, got {count}"):
        make(10).cells(count)


def test_holes_are_the_maximal_free_ranges() -> None:
    assert make(10, ((2, 3, 0), (5, 1, 0), (8, 2, 0))).holes == ((0, 2), (6, 2))
    assert make(10).holes == ((0, 10),)
    assert make(10, ((0, 10, 0),)).holes == ()


def test_of_a_real_allocator_gives_its_blocks_and_holes() -> None:
    a = rangealloc.FirstFit(100)
    x, y, z = a.alloc(10), a.alloc(20), a.alloc(30)
    w = a.alloc(5)
    a.free(y)
    a.free(w)
    amap = AddressMap.of(a, born={x: 1, z: 3}, event=5, label="first-fit at 5")
    assert amap.blocks == ((0, 10, 1), (30, 30, 3))
    assert amap.holes == ((10, 20), (60, 40)) == tuple(a.holes())
    assert (amap.capacity, amap.event, amap.label, amap.extent) == (100, 5, "first-fit at 5", 60)
    assert AddressMap.of(a, extent=65).extent == 65  # the highest end ever, given by the replay
    assert AddressMap.of(rangealloc.FirstFit(8)).blocks == ()


def test_of_agrees_with_every_policy(policy: str) -> None:
    a = rangealloc.create(policy, 256)
    offsets = [a.alloc(size) for size in (10, 20, 30, 5)]
    a.free(offsets[1])
    amap = AddressMap.of(a)
    assert [(offset, size) for offset, size, _ in amap.blocks] == list(a.blocks())
    assert list(amap.holes) == list(a.holes())
    assert sum(amap.cells(7)) * 256 / 7 == pytest.approx(a.used)


@pytest.mark.parametrize(
    ("capacity", "blocks", "event", "extent", "message"),
    [
        (0, (), 0, 0, "capacity must be > 0, got 0"),
        (10, (), -1, 0, "event must be >= 0, got -1"),
        (10, (), 0, 11, "extent 11 is past the capacity 10"),
        (10, ((0, 0, 0),), 0, 5, "block at 0 has size 0"),
        (10, ((4, 2, 0), (5, 2, 0)), 0, 7, r"block \[5, 7\) overlaps or precedes .* ends at 6"),
        (10, ((5, 2, 0), (0, 2, 0)), 0, 7, r"block \[0, 2\) overlaps or precedes"),
        (10, ((8, 4, 0),), 0, 10, "block ending at 12 is past the capacity 10"),
        (10, ((0, 2, 3),), 2, 2, r"block at 0 was born at event 3, not in \[0, event 2\]"),
        (10, ((0, 6, 0),), 0, 5, "extent 5 is below the end of a live block, 6"),
    ],
)
def test_a_bad_map_raises_naming_the_value(
    capacity: int, blocks: Blocks, event: int, extent: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AddressMap(capacity, blocks, event, "", extent)


# ------------------------------------------------------------------- terminal


def test_terminal_grid_shape_offsets_and_legend() -> None:
    # 128 slots in 4 rows of 16 cells: 2 slots a cell, 32 a row.
    amap = make(128, ((0, 64, 0),), extent=100)
    lines = rendered(amap, width=16, rows=4)
    assert len(lines) == 1 + 4 + 4  # title, grid, shade line, three lines of numbers
    assert lines[0] == "test map"
    rows = grid_rows(lines, 128, 4)
    assert [offset for offset, _ in rows] == ["0", "32", "64", "96"]
    assert all(len(cells) == 16 for _, cells in rows)
    assert rows[0][1] == rows[1][1] == "█" * 16  # [0, 64) full
    assert rows[2][1] == "·" * 16  # free, below the extent 100
    assert rows[3][1] == "··" + " " * 14  # [96, 100) free; from 100 on never used: blank
    assert lines[5].startswith("fill: · free  ░ ≤⅓  ▒ ≤⅔  ▓ <1  █ full")
    assert lines[6:] == [
        "capacity 128 slots, 2 slots per cell",
        "used 64 (50.0%) in 1 block, extent 100 (78.1%)",
        "1 hole, largest hole 64, free-space fragmentation 0.00",
    ]


def test_terminal_full_and_empty_spaces() -> None:
    full = rendered(make(1024, ((0, 1024, 0),)))  # the defaults: 16 rows of 64 cells
    assert [cells for _, cells in grid_rows(full, 1024, 16)] == ["█" * 64] * 16
    assert "used 1,024 (100.0%) in 1 block, extent 1,024 (100.0%)" in full
    assert "0 holes, largest hole 0, free-space fragmentation 0.00" in full
    never_used = rendered(make(1024), width=8, rows=2)
    assert [cells for _, cells in grid_rows(never_used, 1024, 2)] == [" " * 8] * 2
    all_freed = rendered(make(1024, extent=1024), width=8, rows=2)
    assert [cells for _, cells in grid_rows(all_freed, 1024, 2)] == ["·" * 8] * 2
    assert "1 hole, largest hole 1,024, free-space fragmentation 0.00" in all_freed


def test_terminal_shades_show_partial_fill() -> None:
    # Cells of 3 slots: used 1, 2, 3 and 0 of them (the last: a hole below the extent).
    amap = make(12, ((0, 1, 0), (3, 2, 0), (6, 3, 0)), extent=12)
    lines = rendered(amap, width=4, rows=1)
    assert grid_rows(lines, 12, 1) == [("0", "░▒█·")]
    amap = make(12, ((0, 5, 0), (6, 6, 0)))  # cell [3, 6) is 2/3 used, [0, 3) full
    assert grid_rows(rendered(amap, width=4, rows=1), 12, 1) == [("0", "█▒██")]
    nearly = make(300, ((0, 299, 0),), extent=300)  # 99.7%: not full
    assert grid_rows(rendered(nearly, width=1, rows=1), 300, 1) == [("0", "▓")]


def test_terminal_fractional_slots_per_cell() -> None:
    lines = rendered(make(100, ((0, 50, 0),)), width=8, rows=2)
    assert "capacity 100 slots, 6.25 slots per cell" in lines
    assert [offset for offset, _ in grid_rows(lines, 100, 2)] == ["0", "50"]
    lines = rendered(make(10, ((0, 10, 0),)), width=8, rows=2)
    assert "capacity 10 slots, 0.625 slots per cell" in lines


@pytest.mark.parametrize(
    ("colour", "legend", "low_rgb", "high_rgb"),
    [
        ("size", "colour: mean block size, log scale  1 ████████ 64 slots", "68;1;84", "253;231;37"),
        ("age", "colour: mean block age  2 ████████ 9 events", "13;8;135", "240;249;33"),
    ],
)
def test_terminal_colours_by_size_and_age(colour: str, legend: str, low_rgb: str, high_rgb: str) -> None:
    # A 1-slot block born at event 7 and a 64-slot block born at 0; the moment is event 9.
    amap = make(128, ((0, 1, 7), (64, 64, 0)), event=9, extent=128)
    lines = rendered(amap, width=16, rows=4, colour=colour)
    assert legend in lines
    assert len(lines) == 1 + 4 + 5  # the colour scale adds a line
    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor")
    console.print(render_terminal(amap, width=16, rows=4, colour=colour))
    styled = console.export_text(styles=True)
    # The small young block takes the low end of both scales, the large old one the high end.
    assert f"38;2;{low_rgb}m▒" in styled  # the first cell: 1 of its 2 slots used
    assert f"38;2;{high_rgb}m{'█' * 16}" in styled  # [64, 128): two full rows


def test_terminal_renders_100k_blocks_quickly() -> None:
    amap = big_map()
    start = time.perf_counter()
    lines = rendered(amap, colour="size")
    elapsed = time.perf_counter() - start
    assert len(grid_rows(lines, amap.capacity, 16)) == 16
    assert "used 4,000,000 (23.8%) in 100,000 blocks, extent 8,000,000 (47.7%)" in lines
    assert elapsed < 2.0  # about 0.06 s; slot by slot would take many seconds


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "hue"}, "unknown colour 'hue'; known: fill, size, age"),
        ({"width": 0}, "width must be > 0, got 0"),
        ({"rows": -2}, "rows must be > 0, got -2"),
    ],
)
def test_terminal_bad_arguments(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_terminal(make(16), **options)  # type: ignore[arg-type]


def test_terminal_without_rich_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.console", None)
    with pytest.raises(ImportError, match=r"pip install 'rangealloc\[cli\]'") as raised:
        render_terminal(make(16))
    assert str(raised.value) == RICH_MISSING
    with pytest.raises(ValueError, match="'hue'"):  # arguments are checked first
        render_terminal(make(16), colour="hue")


# ----------------------------------------------------------------- matplotlib


def big_map() -> AddressMap:
    """100,000 blocks of 40 slots, 40 apart, over 2**24 slots; born in address order."""
    blocks = tuple((offset, 40, index) for index, offset in enumerate(range(0, 8_000_000, 80)))
    return AddressMap(2**24, blocks, 100_000, "100k blocks", 8_000_000)


def sample_series(scale: float, events: int = 1000) -> list[tuple[int, int, int]]:
    """A rising live curve sampled every 10 events, and its extent ``scale`` times the peak so far."""
    samples = []
    extent = 0
    for event in range(0, events, 10):
        live = 100 + event + (event % 200)
        extent = max(extent, int(live * scale))
        samples.append((event, live, extent))
    return samples


SERIES = {"first-fit": sample_series(1.05), "buddy": sample_series(1.6), "tlsf": sample_series(1.2)}


@pytest.mark.parametrize("colour", COLOURS)
def test_save_map_png(tmp_path: Path, colour: str) -> None:
    amap = make(100, ((3, 40, 5), (60, 1, 9)), event=10, extent=61)
    path = tmp_path / "map.png"
    save_map(amap, path, colour=colour)
    assert png_size(path) == (1200, 780)  # 10 x 6.5 inches at 120 dpi


def test_save_map_svg_has_the_title_numbers_and_legend(tmp_path: Path) -> None:
    amap = make(100, ((3, 40, 5), (60, 1, 9)), event=10, extent=61)
    path = tmp_path / "map.svg"
    save_map(amap, str(path), colour="age")
    texts = svg_texts(path)
    assert "test map" in texts
    # The title's two lines are drawn (and commented) one by one.
    assert "capacity 100 slots, 1 slot per pixel, used 41 (41.0%) in 2 blocks, extent 61 (61.0%)" in texts
    assert "3 holes, largest hole 39, free-space fragmentation 0.34" in texts
    assert "mean block age (events)" in texts
    # 100 slots in rows of 16: the last row runs past the capacity, and the legend says so.
    for entry in ("hole (free)", "free past the extent (never used)", "past the capacity"):
        assert entry in texts
    assert "offset within the row (slots; 1 per pixel)" in texts


def test_save_map_pdf(tmp_path: Path) -> None:
    path = tmp_path / "map.pdf"
    save_map(make(64, ((0, 8, 0),)), path)
    assert path.read_bytes().startswith(b"%PDF-")


def test_save_map_100k_blocks_quickly(tmp_path: Path) -> None:
    amap = big_map()
    start = time.perf_counter()
    save_map(amap, tmp_path / "big.png")
    elapsed = time.perf_counter() - start
    assert png_size(tmp_path / "big.png") == (1200, 780)
    assert elapsed < 5.0  # about 0.5 s here; slot by slot would take far longer


def test_plot_series_png_and_svg(tmp_path: Path) -> None:
    plot_series(SERIES, tmp_path / "series.png", title="a synthetic trace")
    assert png_size(tmp_path / "series.png") == (1080, 600)
    plot_series(SERIES, tmp_path / "series.svg", title="a synthetic trace")
    texts = svg_texts(tmp_path / "series.svg")
    peak_live = max(live for _, live, _ in SERIES["tlsf"])
    peak_buddy = SERIES["buddy"][-1][2]
    assert "a synthetic trace" in texts
    assert f"live (peak {peak_live:,})" in texts
    assert f"buddy ({peak_buddy:,}, {peak_buddy / peak_live:.2f}x)" in texts
    assert sum(text.startswith(("first-fit (", "buddy (", "tlsf (")) for text in texts) == 3
    assert "event index" in texts
    assert "slots (bytes)" in texts


def test_plot_grid_png_and_svg(tmp_path: Path) -> None:
    results = [
        ("trace one", SERIES),
        ("trace two", {"tlsf": sample_series(1.3, 500)}),
        ("trace three", SERIES),
    ]
    plot_grid(results, tmp_path / "grid.png")
    assert png_size(tmp_path / "grid.png") == (1320, 912)  # 2 columns x 2 rows of 5.5 x 3.8 inches
    plot_grid(results, tmp_path / "grid.svg", columns=3)
    texts = svg_texts(tmp_path / "grid.svg")
    for name in ("trace one", "trace two", "trace three"):
        assert name in texts
    assert texts.count("event index") == 3
    plot_grid(results[:1], tmp_path / "one.png", columns=4)  # fewer traces than columns
    assert png_size(tmp_path / "one.png") == (660, 456)


@pytest.mark.parametrize("call", ["save_map", "plot_series", "plot_grid"])
@pytest.mark.parametrize("name", ["map.jpg", "map", "map.png.gz"])
def test_an_unknown_suffix_lists_the_formats(tmp_path: Path, call: str, name: str) -> None:
    suffix = re.escape(Path(name).suffix or "(no suffix)")
    with pytest.raises(
        ValueError, match=rf"unknown picture format '{suffix}'.*supported: \.png, \.svg, \.pdf"
    ):
        draw(call, tmp_path / name)
    assert not list(tmp_path.iterdir())
    assert FORMATS == (".png", ".svg", ".pdf")


def draw(call: str, path: Path) -> None:
    if call == "save_map":
        save_map(make(16), path)
    elif call == "plot_series":
        plot_series(SERIES, path)
    else:
        plot_grid([("t", SERIES)], path)


def test_matplotlib_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown colour 'red'; known: fill, size, age"):
        save_map(make(16), tmp_path / "map.png", colour="red")
    with pytest.raises(ValueError, match="no series to plot"):
        plot_series({}, tmp_path / "series.png")
    with pytest.raises(ValueError, match="columns must be > 0, got 0"):
        plot_grid([("t", SERIES)], tmp_path / "grid.png", columns=0)
    with pytest.raises(ValueError, match="no results to plot"):
        plot_grid([], tmp_path / "grid.png")
    with pytest.raises(ValueError, match="trace 'empty' has no series to plot"):
        plot_grid([("t", SERIES), ("empty", {})], tmp_path / "grid.png")
    assert not list(tmp_path.iterdir())


def test_without_matplotlib_the_message_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for call in ("save_map", "plot_series", "plot_grid"):
        with pytest.raises(ImportError, match=r"pip install 'rangealloc\[plot\]'") as raised:
            draw(call, tmp_path / "picture.png")
        assert str(raised.value) == PLOT_MISSING
    with pytest.raises(ValueError, match="supported"):  # arguments are checked first
        save_map(make(16), tmp_path / "map.gif")
