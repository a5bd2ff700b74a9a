"""The vaebench command: exit codes, options that do not apply, and where the claims come from."""
import json
import os
import subprocess
import sys

import pytest

from vaebench.cli import commands as cli
from vaebench.config import SCALES, DataSpec, Scale, TrainSpec


@pytest.fixture
def tiny_scale(monkeypatch):
    scale = Scale(name="tiny", data=DataSpec(image_size=16, n_train=64, n_test=16),
                  train=TrainSpec(epochs=2, batch_size=16, probe_size=16), z_dim=4, seeds=(0,), n_analysis=16)
    monkeypatch.setitem(SCALES, "tiny", scale)
    monkeypatch.delenv("VAEBENCH_DATA", raising=False)
    return scale


def _train(tmp_path, *options):
    return cli.main(["train", "--scale", "tiny", "--store", str(tmp_path / "store"), *options])


@pytest.mark.parametrize("options, message", [
    (["--kind", "ae", "--fact", "0.5"], "--fact=0.5 with --kind ae: an AE has no KL term"),
    (["--kind", "ae", "--eps-clip", "5"], "--eps-clip=5 with --kind ae: an AE has no KL term"),
    (["--pack", "0"], "--pack=0 must be an integer >= 1"),
    (["--fact", "inf"], "fact=inf must be a finite number >= 0"),
    (["--fact", "nan"], "fact=nan must be a finite number >= 0"),
    (["--data", "celeb:/x"], "data='celeb:/x' is not a data source"),
    (["--data", "folder:/nonexistent/vaebench"], "--data='folder:/nonexistent/vaebench': /nonexistent/vaebench does "
                                                 "not exist; pass the folder that holds the images"),
    (["--data", "/nonexistent/images"], "for a folder of images use folder:/nonexistent/images"),
    (["--seed", "0", "0"], "--seed 0 0 repeats seed 0: each seed is one independent run"),
    (["--seed", "4294967296"], "--seed 4294967296: seed 4294967296 is outside [0, 2**32 - 1]"),
    (["--epochs", "0"], "--epochs='0' must be a whole number >= 1 (e.g. --epochs 48)"),
    (["--runs", "x"], "--runs='x' must be a whole number >= 1"),
    (["--runs", "2", "--seed", "4"], "--runs 2 with --seed naming 1 seeds: give one of them"),
    (["--plan", "p.json", "--epochs", "4"], "--epochs with --plan: the plan holds every spec"),
])
def test_train_options_that_do_not_apply_are_errors(tmp_path, tiny_scale, capsys, options, message):
    assert _train(tmp_path, *options) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaebench: error: ") and message in err
    assert not (tmp_path / "store" / "models").exists() or not any((tmp_path / "store" / "models").iterdir())


@pytest.mark.slow
def test_train_takes_a_budget_and_resumes_a_longer_one(tmp_path, tiny_scale, capsys):
    assert _train(tmp_path, "--kind", "ae", "--epochs", "3", "--runs", "2") == 0
    out = capsys.readouterr().out
    assert out.count("3/3 epochs, final loss") == 2 and "-ae-z4-s0-" in out and "-ae-z4-s1-" in out
    assert _train(tmp_path, "--kind", "ae", "--epochs", "4", "--seed", "1") == 0
    out = capsys.readouterr().out
    assert "4/4 epochs, final loss" in out and "(resumed from its 3-epoch entry)" in out


@pytest.mark.slow
def test_train_prints_the_entry_and_the_data(tmp_path, tiny_scale, capsys):
    assert _train(tmp_path, "--kind", "ae") == 0
    out = capsys.readouterr().out
    assert "synthetic16-ae-z4-s0-" in out and "2/2 epochs, final loss" in out and "STOPPED" not in out
    assert "data: synthetic 16px, 64 train / 16 test images, fingerprint " in out


@pytest.mark.slow
def test_a_run_stopped_on_a_non_finite_loss_says_stopped_and_fails(tmp_path, tiny_scale, capsys, monkeypatch):
    import vaebench.train.trainer as T

    real = T.train_many

    def runaway(*args, **kwargs):
        results = real(*args, **kwargs)
        for r in results:
            r.stopped = "non-finite loss nan at the end of epoch 2"
            r.history["loss"][-1] = float("nan")
        return results

    with monkeypatch.context() as patch:
        patch.setattr(T, "train_many", runaway)
        assert _train(tmp_path, "--fact", "1e-3") == 1
    captured = capsys.readouterr()
    assert "final loss nan" in captured.out and "STOPPED: non-finite loss nan at the end of epoch 2" in captured.out
    assert "1 of 1 models STOPPED before their last epoch" in captured.err
    assert _train(tmp_path, "--fact", "1e-3") == 1     # loaded from the store: still stopped, still 1
    assert cli.main(["store", "list", "--store", str(tmp_path / "store")]) == 0
    assert "STOPPED: non-finite loss nan" in capsys.readouterr().out


@pytest.mark.slow
def test_store_list_shows_what_does_not_load_and_clear_is_honest(tmp_path, tiny_scale, capsys, monkeypatch):
    assert _train(tmp_path, "--kind", "ae") == 0
    models = tmp_path / "store" / "models"
    (models / "synthetic16-ae-z8-s0-0123456789abcdef").write_text("a file, not a folder")
    capsys.readouterr()
    assert cli.main(["store", "list", "--store", str(tmp_path / "store")]) == 0
    out = capsys.readouterr().out
    assert "(1 entries)" in out
    assert "synthetic16-ae-z8-s0-0123456789abcdef: NOT LOADED (a file, not an entry folder: remove it)" in out

    def read_only(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", read_only)
        assert cli.main(["store", "clear", "--store", str(tmp_path / "store")]) == 2
    captured = capsys.readouterr()
    assert "removed 0 of 2 entries" in captured.err and "removed 2" not in captured.out
    assert cli.main(["store", "clear", "--store", str(tmp_path / "store")]) == 0
    assert capsys.readouterr().out.startswith("removed 2 entries from ")


# ---------------------------------------------------------------------------- vaebench main

SUPPORTED = '''
from vaebench.claims.record import Claim
from vaebench.stats import Estimate, SubClaim, check_within

CLAIM = Claim(id="{id}", title="a user's claim", quote="q", source="s", subclaims=(SubClaim("{id}a", "four", "sum"),))


def test_claim(claim):
    claim.check(check_within("sum", Estimate({value}, {value} - 0.1, {value} + 0.1), 3.5, 4.5, role="primary",
                             subclaim="{id}a", unit="runs", n_runs=3))
'''


def _main(cwd, *options):
    env = {k: v for k, v in os.environ.items() if k not in ("VAEBENCH_SCALE", "VAEBENCH_DATA")}
    env["VAEBENCH_STORE"] = str(cwd / "store")
    return subprocess.run([sys.executable, "-m", "vaebench.cli", "main", *options], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _claims_of(report_dir):
    results = json.loads((report_dir / "latest" / "results.json").read_text())
    return {r["claim"]["id"] for r in results["records"]}


@pytest.mark.slow
def test_main_runs_the_hypotheses_of_the_current_checkout(tmp_path):
    (tmp_path / "hypotheses").mkdir()
    (tmp_path / "hypotheses" / "test_u1.py").write_text(SUPPORTED.format(id="U1", value=4.0))
    run = _main(tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"claims: {tmp_path / 'hypotheses'}" in run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last == f"Report: {(tmp_path / 'reports' / 'latest').resolve() / 'index.html'}"
    assert _claims_of(tmp_path / "reports") == {"U1"}


@pytest.mark.slow
def test_main_with_hypotheses_path_and_refuted_claims_as_findings(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "test_u2.py").write_text(SUPPORTED.format(id="U2", value=5.0))     # refuted: a finding
    run = _main(tmp_path, "--hypotheses", str(mine))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "1 failed" in run.stdout and run.stdout.strip().splitlines()[-1].startswith("Report: ")
    assert _claims_of(tmp_path / "reports") == {"U2"}


@pytest.mark.parametrize("module", [
    "def test_boom():\n    raise RuntimeError('a bug')\n",
    "import pytest\n\n@pytest.fixture\ndef broken():\n    raise RuntimeError('set-up')\n\n"
    "def test_x(broken):\n    pass\n",
    "import nosuchmodule\n",
])
@pytest.mark.slow
def test_main_exits_non_zero_when_a_test_errors(tmp_path, module):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "test_u3.py").write_text(SUPPORTED.format(id="U3", value=4.0))
    (mine / "test_u4.py").write_text(module)
    run = _main(tmp_path, "--hypotheses", str(mine))
    assert run.returncode == 1, (run.stdout[-2000:], run.stderr[-2000:])
    assert "raised an error (a bug or a bad setting, not a verdict)" in run.stderr


@pytest.mark.parametrize("options, message", [
    (["--scale", "nosuch"], "--scale='nosuch' is not a scale; use one of ['cpu', 'full', 'smoke'] or auto"),
    (["--hypotheses", "nowhere"], "--hypotheses='nowhere' does not exist"),
    (["--data", "celeba"], "data='celeba' names no folder"),
    (["--data", "/nonexistent/images"], "for a folder of images use folder:/nonexistent/images"),
    (["--epochs", "-1"], "--epochs='-1' must be a whole number >= 1"),
])
def test_main_bad_options(tmp_path, options, message):
    run = _main(tmp_path, *options)
    assert run.returncode == 2 and message in run.stderr, run.stderr[-2000:]


def test_main_refuses_a_reports_folder_it_cannot_write_before_running(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "test_u5.py").write_text("def test_x():\n    raise AssertionError('ran')\n")
    (tmp_path / "afile").write_text("a file")
    assert cli.main(["main", "--hypotheses", str(mine), "--report", str(tmp_path / "afile" / "reports")]) == 2
    err = capsys.readouterr().err
    assert f"the reports folder {tmp_path / 'afile' / 'reports'} cannot be written: {tmp_path / 'afile'} is a " \
           "file, so nothing can be written below it; pass --report DIR" in err


@pytest.mark.parametrize("budget", ["0", "-5", "inf", "nan"])
def test_device_check_refuses_a_budget_that_is_not_a_positive_number(tmp_path, capsys, budget):
    assert cli.main(["device-check", "--out", str(tmp_path / "out"), "--budget-s", budget]) == 2
    assert "must be a finite number of seconds > 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
