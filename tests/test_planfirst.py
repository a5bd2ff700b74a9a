"""``vaebench main``'s training ahead of its claims: plan (pytest --vaebench-plan), train the
missing models in split workers, else leave training to the claims."""
import subprocess
import sys
from pathlib import Path

import pytest

from vaebench.cli import planfirst
from vaebench.store.executors import local
from vaebench.store.modelstore import ModelStore
from vaebench.store.plan import Plan, planned


def test_the_plan_run_skips_benchmarks_and_passes_the_options_on(tmp_path):
    cmd = planfirst.plan_command(Path("hyp"), ["--vaebench-scale", "cpu"], tmp_path / "p.json")
    assert cmd[:3] == [sys.executable, "-m", "pytest"] and "--benchmark-skip" in cmd
    assert cmd[-4:] == ["--vaebench-plan", str(tmp_path / "p.json"), "--vaebench-scale", "cpu"]


def test_nothing_is_planned_where_the_cores_are_not_split(monkeypatch):
    monkeypatch.setattr(local, "split_by_default", lambda: False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("planned without split workers"))
    assert planfirst.train_first(Path("hyp"), []) == 0


@pytest.fixture
def plan_of(tmp_path, tiny_data, tiny_ae, tiny_vae, tiny_train):
    """A fake planning run that writes the plan of ``models`` (or no plan)."""
    store = ModelStore(tmp_path / "store", progress=False)

    def fake(models_stored):
        def run(cmd, **kwargs):
            if models_stored is not None:
                models = tuple(planned(store, tiny_data, spec, tiny_train, "f" * 16, stored=stored)
                               for spec, stored in zip((tiny_ae, tiny_vae), models_stored))
                Plan(models, store=str(store.root), pack=1).write(cmd[cmd.index("--vaebench-plan") + 1])
            return subprocess.CompletedProcess(cmd, 0 if models_stored is not None else 4, stdout="E   boom\n")
        return run
    return fake


@pytest.mark.parametrize("stored, trains", [((False, True), 1), ((True, True), 0)])
def test_the_missing_models_of_the_plan_train_in_split_workers(monkeypatch, plan_of, capsys, stored, trains):
    monkeypatch.setattr(local, "split_by_default", lambda: True)
    monkeypatch.setattr(planfirst.subprocess, "run", plan_of(stored))
    monkeypatch.delenv("VAEBENCH_WORKER_THREADS", raising=False)
    seen = []

    def run(self, plan, store=None, datasets=None):
        seen.append((self.threads, [m.name for m in plan.missing()]))
        return [local.PackRun(names=(m.name,), trained=(m.name,), seconds=1.0) for m in plan.missing()]

    monkeypatch.setattr(local.LocalExecutor, "run", run)
    assert planfirst.train_first(Path("hyp"), []) == trains
    assert [t for t, _ in seen] == (["split"] if trains else [])
    assert "plan: 2 models, " in capsys.readouterr().err


def test_a_planning_run_that_writes_no_plan_leaves_training_to_the_claims(monkeypatch, plan_of, capsys):
    monkeypatch.setattr(local, "split_by_default", lambda: True)
    monkeypatch.setattr(planfirst.subprocess, "run", plan_of(None))
    monkeypatch.setattr(local.LocalExecutor, "run", lambda *a, **k: pytest.fail("trained without a plan"))
    assert planfirst.train_first(Path("hyp"), []) == 0
    err = capsys.readouterr().err
    assert "planning wrote no plan (pytest exit 4); the claims train their models as they ask" in err
    assert "E   boom" in err


def test_an_architecture_only_the_claims_register_is_left_to_the_claims(monkeypatch, plan_of, capsys):
    monkeypatch.setattr(local, "split_by_default", lambda: True)
    monkeypatch.setattr(local, "spawnable", lambda packs: False)
    monkeypatch.setattr(planfirst.subprocess, "run", plan_of((False, False)))
    monkeypatch.setattr(local.LocalExecutor, "run", lambda *a, **k: pytest.fail("trained what a worker cannot build"))
    assert planfirst.train_first(Path("hyp"), []) == 0
    assert "cannot train in a worker; the claims train their models as they ask" in capsys.readouterr().err
