"""``vaebench history``: the run folder, and the history branch on a persistent CI runner.

The git tests replay what the nightly workflow does, in a temporary origin (a bare
repository) and a runner's workspace cloned from it: open the history worktree, add a run,
save (commit and push); then what ``actions/checkout`` does on a runner that keeps its
workspace (``git clean -ffdx``, ``git reset --hard``, fetch, ``checkout --force -B``), and
the next night's run. git is configured with ``user.useConfigOnly`` and no identity, so a
commit or rebase without ``history.IDENTITY`` fails.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from vaebench.cli import commands as cli
from vaebench.compare.history import HistoryError, add_to_history, git, open_branch, prune_runs, save_branch
from vaebench.compare.runio import history_runs

DATA = Path(__file__).parent / "data" / "compare"
RUN_A, RUN_B = DATA / "run_a", DATA / "run_b"
BRANCH = "vaebench-history"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def origin(tmp_path, monkeypatch):
    """A bare origin holding one commit on ``main``; git without any user identity."""
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tuseConfigOnly = true\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    seed = tmp_path / "seed"
    subprocess.run(["git", "clone", "-q", str(bare), str(seed)], check=True, capture_output=True)
    (seed / "README").write_text("project\n")
    git(seed, "add", "README")
    git(seed, "commit", "-q", "-m", "first")
    git(seed, "push", "-q", "origin", "HEAD:refs/heads/main")
    return bare


def _workspace(origin: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--branch", "main", str(origin), str(where)], check=True,
                   capture_output=True)
    return where


def _checkout_again(ws: Path) -> None:
    """What actions/checkout does in a workspace kept from an earlier job."""
    for args in (("clean", "-ffdx"), ("reset", "--hard", "HEAD"),
                 ("fetch", "-q", "origin", "+refs/heads/main:refs/remotes/origin/main"),
                 ("checkout", "-q", "--force", "-B", "main", "refs/remotes/origin/main")):
        git(ws, *args)


def _night(ws: Path, history: Path, run: Path, name: str) -> None:
    """One nightly job's history steps: open, add the run, save."""
    assert cli.main(["history", "open", str(history), "--branch", BRANCH, "--repo", str(ws)]) == 0
    add_to_history(run, history / "cpu-smoke", name=name, keep=90)
    assert cli.main(["history", "save", str(history), "--branch", BRANCH, "--message", f"nightly {name}"]) == 0


def _runs_on_origin(origin: Path) -> list[str]:
    out = git(origin, "ls-tree", "-r", "--name-only", f"refs/heads/{BRANCH}").stdout.split()
    return sorted({p.split("/")[1] for p in out if p.startswith("cpu-smoke/")})


def test_history_in_the_workspace_survives_the_checkouts_clean(origin, tmp_path):
    ws = _workspace(origin, tmp_path / "runner" / "work")
    _night(ws, ws / "history", RUN_A, "20990101-021700-smoke-1")
    _checkout_again(ws)
    assert not (ws / "history").exists()                     # the clean removed the worktree's folder ...
    stale = git(ws, "worktree", "add", "--detach", "history", "HEAD", check=False)
    assert stale.returncode != 0 and "already registered" in stale.stderr   # ... and left it registered
    _night(ws, ws / "history", RUN_B, "20990102-021700-smoke-2")
    assert _runs_on_origin(origin) == ["20990101-021700-smoke-1", "20990102-021700-smoke-2"]
    log = git(origin, "log", "--format=%an <%ae> | %cn | %s", f"refs/heads/{BRANCH}").stdout.splitlines()
    assert log[0] == ("vaebench-nightly <vaebench-nightly@users.noreply.github.com> | vaebench-nightly | "
                      "nightly 20990102-021700-smoke-2")
    assert len(log) == 3                                      # the empty root and the two nights


def test_history_in_the_runner_temp_survives_its_emptying(origin, tmp_path):
    ws, temp = _workspace(origin, tmp_path / "work"), tmp_path / "runner-temp"
    _night(ws, temp / "history", RUN_A, "night-1")
    shutil.rmtree(temp)                                       # the runner empties $RUNNER_TEMP between jobs
    _checkout_again(ws)
    _night(ws, temp / "history", RUN_B, "night-2")
    temp_left = temp / "history"                              # a job that died left its worktree in place
    _night(ws, temp_left, RUN_A, "night-3")
    assert _runs_on_origin(origin) == ["night-1", "night-2", "night-3"]
    clone = _workspace(origin, tmp_path / "reader")
    git(clone, "checkout", "-q", BRANCH)
    assert len(history_runs(clone / "cpu-smoke")) == 3
    assert sorted(p.name for p in (clone / "cpu-smoke").iterdir()) == ["night-1", "night-2", "night-3"]


def test_a_push_refused_because_another_job_pushed_first_is_rebased(origin, tmp_path):
    gpu, cpu = _workspace(origin, tmp_path / "gpu"), _workspace(origin, tmp_path / "cpu")
    _night(gpu, gpu / "history", RUN_A, "gpu-night-0")         # the branch exists
    open_branch(cpu, cpu / "history", BRANCH)
    open_branch(gpu, gpu / "history", BRANCH)
    add_to_history(RUN_A, gpu / "history" / "gpu-full", name="gpu-night-1")
    add_to_history(RUN_B, cpu / "history" / "cpu-cpu", name="cpu-night-1")
    assert "attempt 1" in save_branch(gpu / "history", BRANCH, "gpu")
    assert "attempt 2" in save_branch(cpu / "history", BRANCH, "cpu")   # refused once, rebased, pushed
    files = git(origin, "ls-tree", "-r", "--name-only", f"refs/heads/{BRANCH}").stdout.split()
    assert {"gpu-full/gpu-night-1/results.json", "cpu-cpu/cpu-night-1/results.json"} <= set(files)
    assert "nothing changed" in save_branch(cpu / "history", BRANCH, "again")


def test_open_refuses_a_folder_that_is_no_worktree(origin, tmp_path):
    ws = _workspace(origin, tmp_path / "work")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(HistoryError, match="exists and is no worktree"):
        open_branch(ws, tmp_path / "mine", BRANCH)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(HistoryError, match="cannot ask 'nowhere'"):
        open_branch(ws, tmp_path / "h", BRANCH, remote="nowhere")


def test_add_keeps_the_newest_runs(tmp_path, capsys):
    history = tmp_path / "h"
    for name in ("20990103", "20990101", "20990102"):
        add_to_history(RUN_A / "results.json", history, name=name)
    assert cli.main(["history", "add", str(RUN_B), "--to", str(history), "--name", "20990104", "--keep", "2"]) == 0
    assert sorted(p.name for p in history.iterdir()) == ["20990103", "20990104"]
    assert sorted(p.name for p in (history / "20990104").iterdir()) == ["benchmark.json", "results.json"]
    assert prune_runs(history, 1) == ["20990103"]
    with pytest.raises(HistoryError, match="keep=0 must be a whole number >= 1"):
        prune_runs(history, 0)
