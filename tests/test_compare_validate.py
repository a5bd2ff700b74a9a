"""``vaebench compare`` and ``vaebench history add`` refuse malformed run files: one line
naming the file and the bad field, exit status 2 (bad input), never 1 (a regression)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vaebench.cli import commands as cli
from vaebench.compare.comparison import Comparison, Finding
from vaebench.compare.runio import CompareError, Run, load_run
from vaebench.report.compare_page import to_markdown

DATA = Path(__file__).parent / "data" / "compare"
RUN_A = DATA / "run_a"


def _set(path: list, value):
    def edit(data: dict) -> None:
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return edit


#: (file, edit, the field the error names)
SHAPES = [
    ("results.json", _set(["records"], 5), "records"),
    ("results.json", _set(["records"], [1, 2]), "records[0]"),
    ("results.json", _set(["records"], [{}]), "records[0].claim"),
    ("results.json", _set(["records", 0, "test"], 7), "records[0].test"),
    ("results.json", _set(["records", 0, "checks"], "none"), "records[0].checks"),
    ("results.json", _set(["summary"], 5), "summary"),
    ("results.json", _set(["summary", 0], {"id": "C5"}), "summary[0].verdict"),
    ("results.json", _set(["environment"], [1]), "environment"),
    ("results.json", _set(["run"], "today"), "run"),
    ("benchmark.json", _set(["benchmarks"], 5), "benchmarks"),
    ("benchmark.json", _set(["benchmarks"], ["step"]), "benchmarks[0]"),
    ("benchmark.json", _set(["benchmarks", 0, "stats", "data"], ["0.1", "0.2"]), "benchmarks[0].stats.data[0]"),
    ("benchmark.json", _set(["benchmarks", 0, "stats", "data"], [float("nan"), 0.2]), "benchmarks[0].stats.data[0]"),
    ("benchmark.json", _set(["benchmarks", 0, "stats", "data"], [0.1, float("inf")]), "benchmarks[0].stats.data[1]"),
    ("benchmark.json", _set(["benchmarks", 0, "stats"], [0.1]), "benchmarks[0].stats"),
    ("benchmark.json", _set(["benchmarks", 0, "extra_info"], {"round_seconds": {"AE": "fast"}}),
     "benchmarks[0].extra_info.round_seconds['AE']"),
    ("benchmark.json", _set(["machine_info"], 5), "machine_info"),
]


def _broken(tmp_path: Path, file: str, edit) -> Path:
    run = tmp_path / "broken"
    shutil.copytree(RUN_A, run)
    data = json.loads((run / file).read_text())
    edit(data)
    (run / file).write_text(json.dumps(data))  # NaN and Infinity as Python's json writes them
    return run


@pytest.mark.parametrize("file,edit,field", SHAPES, ids=[s[2] + "@" + s[0] for s in SHAPES])
def test_malformed_run_is_bad_input_naming_file_and_field(tmp_path, capsys, file, edit, field):
    run = _broken(tmp_path, file, edit)
    with pytest.raises(CompareError) as err:
        load_run(run)
    assert f"{field} must be" in str(err.value) and str(run / file) in str(err.value)
    assert cli.main(["compare", str(RUN_A), str(run)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vaebench: error: ") and field in lines[0]
    assert cli.main(["history", "add", str(run), "--to", str(tmp_path / "history")]) == 2
    assert field in capsys.readouterr().err and not (tmp_path / "history").exists()


def test_a_file_that_is_not_an_object_is_bad_input(tmp_path, capsys):
    bad = tmp_path / "list.json"
    bad.write_text("[1, 2]")
    assert cli.main(["compare", str(RUN_A), str(bad)]) == 2
    assert "neither a vaebench results.json nor a pytest-benchmark JSON" in capsys.readouterr().err
    assert cli.main(["compare", str(RUN_A), str(RUN_A), "--new-bench", str(bad)]) == 2
    assert "holds no 'benchmarks' list" in capsys.readouterr().err


def test_markdown_escapes_html_and_pipes():
    run = Run(label="<b>old</b>", path="old")
    evil = "C9|<img src=x onerror=alert(1)>"
    finding = Finding("verdict", evil, "supported", "refuted <script>", "a|b", True)
    text = to_markdown(Comparison(run, Run(label="new", path="new"), [finding], {"claims": 1}, 0.05, 0.1))
    assert "<img" not in text and "<script>" not in text and "<b>" not in text
    assert "C9\\|&lt;img src=x onerror=alert(1)&gt;" in text and "a\\|b" in text and "&lt;b&gt;old" in text
    row = next(line for line in text.splitlines() if line.startswith("| REGRESSION"))
    assert row.count(" | ") == 5  # six cells: the pipes inside them are escaped


def test_an_output_that_cannot_be_written_is_refused_before_comparing(tmp_path, capsys):
    for flag, path, message in (("--json", tmp_path / "nope" / "f.json", "does not exist"),
                                ("--html", tmp_path, "is a folder")):
        assert cli.main(["compare", str(RUN_A), str(RUN_A), flag, str(path)]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and captured.out == ""   # refused before any comparing


def test_a_full_disk_at_the_end_keeps_the_printed_findings_and_leaves_no_temporary(tmp_path, capsys, monkeypatch):
    import errno
    import os

    from vaebench import atomic

    real = os.replace

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", full)
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["compare", str(RUN_A), str(RUN_A), "--json", str(out / "f.json")]) == 2
    captured = capsys.readouterr()
    assert "**0 regressions**" in captured.out                 # the findings were printed first
    assert captured.err.strip() == (f"vaebench: error: cannot write --json={str(out / 'f.json')!r}: no space left on "
                                    "device (free some, or write elsewhere); the findings printed above are complete")
    assert list(out.iterdir()) == []
    monkeypatch.setattr(atomic.os, "replace", real)


def test_history_add_onto_a_full_disk_adds_nothing(tmp_path, capsys, monkeypatch):
    import errno
    import os

    from vaebench.compare import history as H

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(H.shutil, "copyfile", full)
    history = tmp_path / "history"
    assert cli.main(["history", "add", str(RUN_A), "--to", str(history)]) == 2
    assert "no space left on device (free some, or write elsewhere); nothing was added" in capsys.readouterr().err
    assert list(history.iterdir()) == []
