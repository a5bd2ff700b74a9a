"""``vaebench main``'s training ahead of its claims (issue 22, item 3).

Each claim trains the models it asks for when it runs, so a claim's three seeds would share
two cores' workers two and one. Where split workers are faster
(:func:`vaebench.store.executors.local.split_by_default`: TensorFlow on a CPU with two or
more cores), ``vaebench main`` first plans the models the claims ask for (``pytest
--vaebench-plan`` in a subprocess, benchmarks skipped: it trains nothing), trains the
missing ones with the local executor, one worker per core and the threads split
(``$VAEBENCH_WORKERS`` and ``$VAEBENCH_WORKER_THREADS`` override both), and only then runs
the claims, which load them. A model a claim asks for only after looking at others is not in
the plan; the claim trains it as it asks, as before. Anywhere else (a GPU, one core, a
planning run that wrote no plan, an architecture registered in the claims' own code, which a
worker cannot build) the claims train their models as they ask."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence


def plan_command(hypotheses: Path, options: Sequence[str], plan_path: Path) -> list[str]:
    """The pytest run that writes the plan of the claims' models to ``plan_path``."""
    return [sys.executable, "-m", "pytest", str(hypotheses), "-p", "no:cacheprovider", "-q", "--benchmark-skip",
            "--vaebench-plan", str(plan_path), *options]


def train_first(hypotheses: Path, options: Sequence[str]) -> int:
    """Plan and train the claims' models where :func:`split_by_default` holds; the number of
    models trained (0: nothing to train, or training is left to the claims)."""
    from vaebench.store.executors.local import THREADS_ENV, LocalExecutor, spawnable, split_by_default
    from vaebench.store.plan import Plan

    if not split_by_default():
        return 0
    with tempfile.TemporaryDirectory(prefix="vaebench-plan-") as tmp:
        path = Path(tmp) / "plan.json"
        print("planning the models the claims ask for (pytest --vaebench-plan: nothing trains)", file=sys.stderr,
              flush=True)
        done = subprocess.run(plan_command(hypotheses, options, path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if not path.is_file():
            tail = "\n".join(done.stdout.strip().splitlines()[-5:])
            print(f"planning wrote no plan (pytest exit {done.returncode}); the claims train their models as they "
                  f"ask\n{tail}", file=sys.stderr, flush=True)
            return 0
        plan = Plan.read(path)
    print(f"plan: {plan.summary()}", file=sys.stderr, flush=True)
    if not plan.missing():
        return 0
    if not spawnable(plan.packs()):
        print("plan: an architecture registered in the claims' own code only cannot train in a worker; the claims "
              "train their models as they ask", file=sys.stderr, flush=True)
        return 0
    runs = LocalExecutor(progress=True, threads=os.environ.get(THREADS_ENV, "split")).run(plan)
    return sum(len(r.trained) for r in runs)
