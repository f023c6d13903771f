"""The ``rangealloc`` command (``rangealloc.cli``) and the ``bench/run.py`` smoke test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rangealloc
from rangealloc import POLICIES
from rangealloc.cli import RICH_MISSING, main
from rangealloc.trace import Event, read_trace, write_trace

QUICK = ["seed", "--repeat", "1", "--warmup", "0", "--events", "200"]
BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--json", "--policy", "bitmap", *QUICK]) == 0
    out = capsys.readouterr().out
    top = json.loads(out)
    assert top["command"] == "compare"
    assert top["rangealloc"] == rangealloc.__version__
    assert top["traces"] == []  # only the seed scenario was named
    report = top["seed_scenario"]
    assert report["baseline"] == "naive-scan"
    assert report["repeat"] == 1
    (scenario,) = report["scenarios"]
    assert scenario["name"] == "seed"
    assert scenario["capacity"] == 256
    assert scenario["events"] == 200
    assert scenario["pairs"] == 100
    results = {result["policy"]: result for result in scenario["results"]}
    assert set(results) == {"bitmap", "naive-scan"}
    for result in results.values():
        assert set(result) == {
            "policy",
            "ns_per_pair",
            "ns_per_pair_min",
            "samples",
            "speedup_vs_naive",
            "failures",
        }
        assert result["ns_per_pair"] > 0
        assert result["failures"] == 0
    assert results["naive-scan"]["speedup_vs_naive"] == 1.0


def test_compare_json_is_deterministic_apart_from_timings(capsys: pytest.CaptureFixture[str]) -> None:
    failures = []
    for _ in range(2):
        assert main(["compare", "--json", "--policy", "next-fit", "--seed", "3", *QUICK]) == 0
        report = json.loads(capsys.readouterr().out)
        failures.append([r["failures"] for r in report["seed_scenario"]["scenarios"][0]["results"]])
    assert failures[0] == failures[1]


def test_compare_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--policy", "first-fit", "--policy", "best-fit", *QUICK]) == 0
    out = capsys.readouterr().out
    for word in ("first-fit", "best-fit", "naive-scan", "baseline", "ns per alloc+free pair", "failures"):
        assert word in out
    assert "bitmap" not in out
    assert "x faster" in out or "x slower" in out
    assert "Policies on real traces" not in out  # no trace was named, only the seed scenario


def test_without_rich(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # makes `import rich` raise ImportError
    assert main(["compare", "--json", *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.strip() == RICH_MISSING
    assert "pip install 'rangealloc[cli]'" in err


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["--version"]])
def test_help_and_version(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "rangealloc" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "compare" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--policy", "worst-fit"],
        ["compare", "--repeat", "0"],
        ["compare", "--events", "x"],
        ["nope"],
    ],
)
def test_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rangealloc", "compare", "--json", "--policy", "first-fit", *QUICK],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(done.stdout)["seed_scenario"]
    assert report["scenarios"][0]["results"][0]["policy"] == "first-fit"


def test_bench_quick(tmp_path: Path) -> None:
    """``bench/run.py --quick`` runs and writes its two files (skipped if over 20 s here)."""
    if not BENCH.exists():
        pytest.skip("bench/ is not part of this checkout")
    try:
        subprocess.run(
            [sys.executable, str(BENCH), "--quick", "--results-dir", str(tmp_path), "--out", "smoke"],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("bench/run.py --quick took over 20 s on this machine")
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert {"machine", "config", "workloads", "summary"} <= set(report)
    assert {"cpu", "cores", "python", "platform", "rangealloc", "sortedcontainers", "date"} <= set(
        report["machine"]
    )
    kinds = [record["kind"] for record in report["workloads"]]
    assert kinds.count("seed") == 1
    assert kinds.count("power-law") == 4
    big = [r for r in report["workloads"] if r["capacity"] == 1 << 30 and r["kind"] in ("power-law", "floor")]
    assert big
    assert all("bitmap" in r["skipped"] and "bitmap" not in r["results"] for r in big)
    assert all("naive-scan" not in r["results"] for r in report["workloads"] if r["kind"] == "power-law")
    page = (tmp_path / "smoke.md").read_text()
    assert "## Seed scenario" in page
    assert "## Targets" in page


# ------------------------------------------------------------ trace commands

# A small trace: first fit leaves [0, 10) free when a 12 arrives, so the extent grows to 27.
EVENTS: list[Event] = [("a", 0, 10), ("a", 1, 5), ("f", 0, 0), ("a", 2, 12), ("r", 1, 8), ("f", 2, 0)]


@pytest.fixture
def small_trace(tmp_path: Path) -> Path:
    path = tmp_path / "small.trace.gz"
    write_trace(EVENTS, path, meta={"program": "test"})
    return path


def test_compare_traces_json(small_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(small_trace), "--json", "--headroom", "1.0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seed_scenario"] is None  # a trace was named: no seed scenario
    assert report["headroom"] == 1.0
    rows = {row["policy"]: row for row in report["traces"]}
    assert set(rows) == set(POLICIES)  # peak live 20 is under the bitmap limit
    assert report["skipped"] == []
    first = rows["first-fit"]
    assert first["trace"] == "small"
    assert first["extent_model"]["peak_extent"] == 27
    assert first["extent_model"]["peak_live"] == 20  # 5 grown to 8, beside 12
    assert first["fragmentation"] == pytest.approx(27 / 20 - 1)
    assert first["fixed_model"]["capacity"] == 20
    assert first["failures"] == first["fixed_model"]["failures"] == 1
    assert rows["next-fit"]["extent_model"]["peak_extent"] == 27


def test_compare_traces_table_and_plot(
    small_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "live.png"
    argv = ["compare", str(small_trace), "--policy", "first-fit", "--policy", "tlsf", "--plot", str(plot)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for word in ("Policies on real traces", "small", "first-fit", "tlsf", "frag.", "fail @1.25x", "ns/event"):
        assert word in out
    assert "naive-scan" not in out
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_compare_skips_a_policy_whose_space_cannot_hold_the_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.trace"
    write_trace([("a", 0, 14_000_000), ("f", 0, 0)], path)  # x 1.25: above the bitmap's 2**24 slots
    for named in ([], ["--policy", "bitmap", "--policy", "tlsf"]):
        assert main(["compare", str(path), "--json", *named]) == 0
        report = json.loads(capsys.readouterr().out)
        assert "bitmap" not in {row["policy"] for row in report["traces"]}
        assert "tlsf" in {row["policy"] for row in report["traces"]}
        (skip,) = report["skipped"]
        assert skip["policy"] == "bitmap" and skip["trace"] == "big"
        assert "needs 17,500,000 slots" in skip["reason"] and "max_capacity 16,777,216" in skip["reason"]
    # A headroom the bitmap can hold: it runs.
    assert main(["compare", str(path), "--json", "--policy", "bitmap", "--headroom", "1.1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["policy"] for row in report["traces"]] == ["bitmap"]
    assert report["skipped"] == []
    # Nothing left to run: no rows (not every policy), the reason shown.
    assert main(["compare", str(path), "--policy", "bitmap"]) == 0
    out = capsys.readouterr().out
    assert "bitmap skipped on big" in out and "tlsf" not in out


def test_compare_bad_trace_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.trace"
    path.write_text("a 0 10\nf 7\n")
    assert main(["compare", str(path), "--json"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:2" in err
    assert main(["compare", str(tmp_path / "missing.trace")]) == 1
    assert "missing.trace" in capsys.readouterr().err


def test_recommend(small_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", str(small_trace), "--json", "--headroom", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    choice = report["recommendation"]
    assert choice["policy"] in POLICIES
    assert choice["policy"] in choice["candidates"]
    assert choice["failures"][choice["policy"]] == min(choice["failures"].values())
    assert "1.5x of the fastest" in choice["rule"]
    assert main(["recommend", str(small_trace), "--policy", "first-fit", "--policy", "buddy"]) == 0
    out = capsys.readouterr().out
    assert "Recommended: first-fit" in out or "Recommended: buddy" in out  # the rule: tests/test_compare.py
    assert "Rule:" in out and "Why:" in out


@pytest.mark.parametrize("at", ["peak", "end", "3"])
def test_map_in_the_terminal(small_trace: Path, at: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["map", str(small_trace), "--policy", "first-fit", "--at", at, "--width", "16", "--rows", "2"])
        == 0
    )
    out = capsys.readouterr().out
    assert "small, first-fit" in out
    assert {"peak": "at peak live", "end": "at the end", "3": "after 3 events"}[at] in out


def test_map_to_a_file(small_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / "map.svg"
    assert main(["map", str(small_trace), "--policy", "tlsf", "--colour", "age", "-o", str(picture)]) == 0
    assert "saved" in capsys.readouterr().out
    assert picture.read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("argv", [["map", "x", "--at", "middle"], ["map", "x", "--at", "-1"], ["map"]])
def test_map_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_convert_mtrace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "prog.mtrace"
    log.write_text(
        "= Start\n"
        "@ ./prog:[0x400] + 0x1000 0x10\n"
        "@ ./prog:[0x404] + 0x2000 0x20\n"
        "@ ./prog:[0x408] < 0x1000\n"
        "@ ./prog:[0x408] > 0x3000 0x30\n"
        "@ ./prog:[0x40c] - 0x2000\n"
        "@ ./prog:[0x410] - 0x9999\n"
        "= End\n"
    )
    out = tmp_path / "prog.trace.gz"
    assert main(["convert", str(log), str(out)]) == 0
    assert "4 events" in capsys.readouterr().out  # the free of 0x9999, never allocated, is dropped
    trace = read_trace(out)
    assert list(trace) == [("a", 0, 16), ("a", 1, 32), ("r", 0, 48), ("f", 1, 0)]
    assert trace.format == "canonical"
    assert trace.meta["dropped_unknown_frees"] == "1"
    assert trace.meta["converted_from"] == "prog.mtrace (mtrace)"


def test_record_without_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record"]) == 1
    assert "record needs a command" in capsys.readouterr().err


def test_record_reports_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "true.trace.gz"
    assert main(["record", "-o", str(out), "--cc", "/nonexistent/cc", "--", "true"]) == 1
    assert "/nonexistent/cc" in capsys.readouterr().err
    assert not out.exists()
