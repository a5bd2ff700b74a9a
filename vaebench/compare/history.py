"""Keep runs in a history folder, and keep that folder on a git branch across CI runs.

``vaebench history add RUN --to DIR`` copies a run (slim ``results.json`` and its
benchmark JSON files) into ``DIR/<name>/`` and, with ``--keep N``, removes all but the
newest N runs (by folder name: nightly names start with the UTC time).

``vaebench history open DIR --branch B`` makes ``DIR`` a git worktree of the branch ``B``
of the remote (an empty detached root when the remote has no such branch yet), and
``vaebench history save DIR --branch B --message M`` commits what changed there and pushes
it, rebasing on the remote branch when another job pushed first. Both survive a
persistent runner: ``open`` first prunes worktree registrations whose folder is gone (what
``actions/checkout``'s ``git clean -ffdx``, or an emptied ``$RUNNER_TEMP``, leaves behind)
and replaces a worktree left at ``DIR`` by an earlier job. No local branch is created,
and every git command runs with the identity ``IDENTITY`` (commit, rebase).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from vaebench import atomic
from vaebench.compare.runio import RESULTS, CompareError, load_run, slim_results
from vaebench.errors import VaebenchError, require

#: the committer of every history commit (and of the rebase that replays it)
IDENTITY = ("-c", "user.name=vaebench-nightly", "-c", "user.email=vaebench-nightly@users.noreply.github.com")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class HistoryError(VaebenchError, RuntimeError):
    """A history folder or its git branch cannot be used as asked."""


# --------------------------------------------------------------------------- the folder

def add_to_history(run_path: str | os.PathLike, history: str | os.PathLike, bench: Iterable[str] = (),
                   name: str | None = None, keep: int | None = None) -> Path:
    """Copy a run (slim ``results.json`` + its benchmark files) into ``history/<name>/``;
    with ``keep``, then remove all but the newest ``keep`` runs (:func:`prune_runs`)."""
    run = load_run(run_path, bench)
    if name is None:
        name = (((run.results or {}).get("run") or {}).get("name") or run.started.replace(":", "").replace(" ", "_")
                or run.label)
    require(bool(name) and "/" not in name and not name.startswith("."),
            f"name={name!r} cannot name a history folder; pass --name", CompareError)
    target = Path(history) / name
    _remove_abandoned(Path(history))
    tmp = Path(history) / atomic.temp_name(f".tmp-{name}")
    try:
        tmp.mkdir(parents=True)
        if run.results is not None:
            (tmp / RESULTS).write_text(json.dumps(slim_results(run.results), indent=1))
        for i, f in enumerate(run.bench_files):
            shutil.copyfile(f, tmp / ("benchmark.json" if i == 0 else f"benchmark-{i}.json"))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HistoryError(f"cannot add the run to the history {str(history)!r}: {atomic.why_not_written(e)}; "
                           "nothing was added") from e
    if keep is not None:
        prune_runs(history, keep)
    return target


def _remove_abandoned(history: Path) -> None:
    """Remove the temporaries of ``history add`` runs that are gone (:func:`vaebench.atomic.stale`)."""
    if history.is_dir():
        for tmp in history.glob(".tmp-*"):
            if atomic.stale(tmp):
                shutil.rmtree(tmp, ignore_errors=True)


def prune_runs(history: str | os.PathLike, keep: int) -> list[str]:
    """Remove all but the newest ``keep`` run folders of ``history`` (by name); the names removed."""
    require(isinstance(keep, int) and keep >= 1, f"keep={keep!r} must be a whole number >= 1", HistoryError)
    runs = sorted(d for d in Path(history).iterdir() if d.is_dir() and not d.name.startswith("."))
    gone = runs[:-keep]
    for d in gone:
        shutil.rmtree(d)
    return [d.name for d in gone]


# --------------------------------------------------------------------------- the branch

def git(cwd: str | os.PathLike, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``git -c user.name=… -c user.email=… ARGS`` in ``cwd``; a failure (with ``check``) is a
    :class:`HistoryError` that quotes git."""
    cmd = ["git", *IDENTITY, *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise HistoryError(f"'git {' '.join(args)}' in {str(cwd)!r} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()}")
    return done


def _registered_worktrees(repo: Path) -> set[str]:
    out = git(repo, "worktree", "list", "--porcelain").stdout
    return {os.path.realpath(line[len("worktree "):]) for line in out.splitlines() if line.startswith("worktree ")}


def open_branch(repo: str | os.PathLike, path: str | os.PathLike, branch: str, remote: str = "origin") -> str:
    """Make ``path`` a detached worktree of ``repo`` at ``remote``'s ``branch`` (an empty root
    commit when the remote has no such branch); a description of what it did."""
    repo, path = Path(repo).resolve(), Path(path).absolute()
    git(repo, "worktree", "prune")
    if os.path.realpath(path) in _registered_worktrees(repo):
        git(repo, "worktree", "remove", "--force", "--force", str(path))
    require(not path.exists() or (path.is_dir() and not any(path.iterdir())),
            f"history folder {str(path)!r} exists and is no worktree of {str(repo)!r}; remove it or choose "
            "another folder", HistoryError)
    found = git(repo, "ls-remote", "--exit-code", "--heads", remote, branch, check=False)
    if found.returncode == 0:
        git(repo, "fetch", "--quiet", "--depth=1", remote, f"refs/heads/{branch}")
        start, said = git(repo, "rev-parse", "FETCH_HEAD").stdout.strip(), f"{remote}/{branch}"
    elif found.returncode == 2:   # the remote answered: no such branch
        start = git(repo, "commit-tree", EMPTY_TREE, "-m", f"vaebench history ({branch})").stdout.strip()
        said = f"a new history (no branch {branch!r} on {remote!r} yet)"
    else:
        raise HistoryError(f"cannot ask {remote!r} for the branch {branch!r}: {found.stderr.strip()}")
    git(repo, "worktree", "add", "--detach", str(path), start)
    return f"{path}: {said} at {start[:12]}"


def save_branch(path: str | os.PathLike, branch: str, message: str, remote: str = "origin",
                attempts: int = 3) -> str:
    """Commit everything that changed in the worktree ``path`` and push it to ``remote``'s
    ``branch``; when the push is refused (another job pushed first), rebase on the remote
    branch and try again, ``attempts`` times in all. What it did, in words."""
    path = Path(path)
    git(path, "add", "-A")
    if git(path, "diff", "--cached", "--quiet", check=False).returncode == 0:
        return f"{path}: nothing changed, nothing pushed"
    git(path, "commit", "--quiet", "-m", message)
    for attempt in range(1, attempts + 1):
        push = git(path, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}", check=False)
        if push.returncode == 0:
            return f"{path}: pushed to {remote}/{branch} (attempt {attempt})"
        if attempt == attempts:
            break
        git(path, "fetch", "--quiet", remote, f"refs/heads/{branch}")
        rebase = git(path, "rebase", "--quiet", "FETCH_HEAD", check=False)
        if rebase.returncode != 0:
            git(path, "rebase", "--abort", check=False)
            raise HistoryError(f"rebasing {str(path)!r} on {remote}/{branch} failed: {rebase.stderr.strip()}; "
                               "two jobs wrote the same run folder?")
    raise HistoryError(f"pushing {str(path)!r} to {remote}/{branch} failed {attempts} times: {push.stderr.strip()}")


# --------------------------------------------------------------------------- command line

def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="copy a run into a history folder")
    a.add_argument("run", help="the run: a run folder (reports/<run>), its results.json or a benchmark JSON")
    a.add_argument("--to", required=True, help="the history folder")
    a.add_argument("--bench", action="append", default=[], help="a pytest --benchmark-json file of the run")
    a.add_argument("--name", default=None, help="the run's folder name (default: the run's name or start time)")
    a.add_argument("--keep", type=int, default=None, help="then keep only the newest N runs (by folder name)")
    o = sub.add_parser("open", help="make a folder a worktree of the history branch (pruning stale worktrees)")
    o.add_argument("path", help="the worktree folder (absent, empty, or a worktree left by an earlier job)")
    s = sub.add_parser("save", help="commit the history worktree and push it (rebasing when needed)")
    s.add_argument("path", help="the worktree folder made by 'vaebench history open'")
    s.add_argument("--message", required=True, help="the commit message")
    for q in (o, s):
        q.add_argument("--branch", required=True, help="the history branch, e.g. vaebench-history")
        q.add_argument("--remote", default="origin")
    o.add_argument("--repo", default=".", help="the repository the worktree belongs to (default: .)")


def cmd_history(args) -> int:
    if args.action == "add":
        target = add_to_history(args.run, args.to, args.bench, args.name, args.keep)
        size = sum(f.stat().st_size for f in target.iterdir())
        print(f"{target} ({size / 1024:.0f} KiB)")
    elif args.action == "open":
        print(open_branch(args.repo, args.path, args.branch, args.remote))
    else:
        print(save_branch(args.path, args.branch, args.message, args.remote))
    return 0
