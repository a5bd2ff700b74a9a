"""``vaebench train``: train (or load) models through the store, or the missing models of a plan."""
from __future__ import annotations

import dataclasses
import sys
import time

from vaebench.errors import SpecError, require


def scale_of(args):
    """The scale the options ask for, reading the data ``--data`` names (a folder must exist),
    with the budget of ``--epochs`` and ``--runs``."""
    from vaebench.config import get_scale, with_budget, with_data
    from vaebench.pytest_plugin.options import check_data

    data = getattr(args, "data", None)
    check_data(data, "--data")
    epochs, runs = budget_of(args)
    return with_budget(with_data(get_scale(args.scale), data), epochs, runs)


def budget_of(args) -> tuple[int | None, int | None]:
    """``(epochs, runs)`` of ``--epochs`` and ``--runs`` (None: the scale's), checked."""
    from vaebench.config import check_budget

    return (check_budget("--epochs", getattr(args, "epochs", None)),
            check_budget("--runs", getattr(args, "runs", None)))


def _seeds(args, runs: int | None) -> list[int]:
    """The seeds to train: ``--seed``, else ``0 .. --runs - 1``, else 0."""
    if runs is None:
        return list(args.seed or [0])
    require(args.seed is None or len(args.seed) == runs, f"--runs {runs} with --seed naming {len(args.seed or [])} "
            "seeds: give one of them, or as many seeds as runs", SpecError)
    return list(args.seed or range(runs))


def _model_spec(args, scale):
    """The model spec the train options ask for; options that do not apply are errors."""
    if args.kind == "ae":
        ignored = [f"--{name.replace('_', '-')}={value:g}" for name, value in
                   (("fact", args.fact), ("eps_clip", args.eps_clip)) if value is not None]
        require(not ignored, f"{', '.join(ignored)} with --kind ae: an AE has no KL term (no fact, no epsilon "
                "to clip); drop the option or use --kind vae", SpecError)
        spec = scale.ae()
    else:
        spec = scale.vae(fact=1e-5 if args.fact is None else args.fact, eps_clip=args.eps_clip)
    if args.dense is not None:
        spec = dataclasses.replace(spec, dense=args.dense)
    return spec


def cmd_train(args) -> int:
    from vaebench.config import check_count
    from vaebench.store.executors import executor

    if args.pack is not None:
        check_count("--pack", args.pack, allow_zero=False)
    if args.seed is not None:
        from vaebench.pytest_plugin.options import check_seeds

        check_seeds(tuple(args.seed), "--seed " + " ".join(map(str, args.seed)))
    run = executor(args.executor, args.address)
    if args.plan:
        return _train_plan(args, run)
    scale = scale_of(args)
    spec = _model_spec(args, scale)          # bad options fail before anything loads
    seeds = _seeds(args, budget_of(args)[1])
    requests = [(spec, s, scale.training(s, precision=args.precision or "float32")) for s in seeds]
    from vaebench.claims.session import Session

    session = Session(scale, args.store)
    t0 = time.perf_counter()
    if args.executor != "local":             # train the missing ones there, then load them here
        from vaebench.store.plan import Plan

        pack = args.pack or scale.pack
        run.run(Plan.of(session.plan(requests), store=str(session.store.root), pack=pack, scale=scale.name),
                session.store)
    stopped = [_report_model(trained) for trained in session.models(requests, pack=args.pack)]
    stopped = [name for name in stopped if name]
    from vaebench.claims.session import data_line

    print(data_line(session.data_notes()))
    print(f"ready in {time.perf_counter() - t0:.1f}s")
    if stopped:
        print(f"vaebench: {len(stopped)} of {len(requests)} models STOPPED before their last epoch (a non-finite "
              f"loss): {', '.join(stopped)}; their weights are not a trained model", file=sys.stderr)
        return 1
    return 0


def _report_model(trained) -> str | None:
    """Print one trained model's line and path; its name when it stopped early."""
    entry, losses = trained.entry, trained.history.get("loss", [])
    final = f"final loss {losses[-1]:.2f}" if losses else "no epoch completed"
    line = (f"{entry.name}: {len(losses)}/{entry.train.epochs} epochs, {final}, "
            f"{entry.meta.get('images_per_second', 0):,.0f} img/s per model (pack of {entry.meta.get('pack', 1)})")
    if entry.meta.get("resumed_from_epochs"):
        line += f" (resumed from its {entry.meta['resumed_from_epochs']}-epoch entry)"
    if trained.stopped:
        line += f"\n  STOPPED: {trained.stopped}"
    print(line)
    print(entry.path)
    return entry.name if trained.stopped else None


def _train_plan(args, run) -> int:
    """``vaebench train --plan PLAN``: train the plan's missing models with the executor."""
    from vaebench.store.modelstore import ModelStore
    from vaebench.store.plan import Plan

    given = [f"--{name.replace('_', '-')}" for name in ("scale", "data", "kind", "fact", "eps_clip", "dense", "seed",
                                                         "precision", "epochs", "runs")
             if getattr(args, name) is not None]
    require(not given, f"{', '.join(given)} with --plan: the plan holds every spec; drop them, or train without "
            "--plan", SpecError)
    plan = Plan.read(args.plan)
    store = ModelStore(args.store or plan.store or None)
    plan = plan.with_store(store)
    if args.pack is not None:
        plan = dataclasses.replace(plan, pack=args.pack)
    print(f"plan {args.plan}: {plan.summary()}; store {store.root}; executor {args.executor}", flush=True)
    t0 = time.perf_counter()
    runs = run.run(plan, store)
    seconds = time.perf_counter() - t0
    missing, stopped = [], []
    for m in plan.models:
        entry = store.get(m.data, m.model, m.train, fingerprint=m.fingerprint)
        if entry is None:
            missing.append(m.name)
        elif entry.meta.get("stopped"):
            stopped.append(f"{m.name} ({entry.meta['stopped']})")
    trained = sum(len(r.trained) for r in runs)
    print(f"trained {trained} models in {seconds:.1f}s; {len(plan.models) - len(missing)} of {len(plan.models)} "
          f"models of the plan are in the store")
    require(not missing, f"{len(missing)} models of the plan are not in the store after training: "
            f"{', '.join(missing[:5])}", SpecError)
    if stopped:
        print(f"vaebench: {len(stopped)} models STOPPED before their last epoch (a non-finite loss): "
              f"{'; '.join(stopped)}", file=sys.stderr)
        return 1
    return 0
