"""The ``rangealloc`` command (``rangealloc.cli``) and the ``bench/run.py`` smoke test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rangealloc
from rangealloc.cli import RICH_MISSING, main

QUICK = ["--repeat", "1", "--warmup", "0", "--events", "200"]
BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def test_compare_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--json", "--policy", "bitmap", *QUICK]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["command"] == "compare"
    assert report["rangealloc"] == rangealloc.__version__
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
        failures.append([r["failures"] for r in report["scenarios"][0]["results"]])
    assert failures[0] == failures[1]


def test_compare_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--policy", "first-fit", "--policy", "best-fit", *QUICK]) == 0
    out = capsys.readouterr().out
    for word in ("first-fit", "best-fit", "naive-scan", "baseline", "ns per alloc+free pair", "failures"):
        assert word in out
    assert "bitmap" not in out
    assert "x faster" in out or "x slower" in out


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
    assert json.loads(done.stdout)["scenarios"][0]["results"][0]["policy"] == "first-fit"


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
