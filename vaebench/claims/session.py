"""What one run shares: the scale, the model store, the datasets and the loaded models.

``Session(scale).model(spec, seed)`` loads a model from the store (training it first,
through a plan and the local executor, when the store lacks it); datasets are generated
(or read) once and cached next to the store. The data's content fingerprint
(:meth:`Session.data_fingerprint`) is part of every model's store key, so the data are
loaded (from the cache: no decode) before any model is looked up.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from vaebench import backend
from vaebench.config import DEFAULT_ARCHITECTURE, DataSpec, ModelSpec, Scale, TrainSpec, get_scale
from vaebench.errors import SpecError, require
from vaebench.store.modelstore import Entry, ModelStore


@dataclass
class Trained:
    """A trained model with its store entry."""

    entry: Entry
    model: object

    @property
    def history(self) -> dict:
        return self.entry.history

    @property
    def stopped(self) -> str | None:
        return self.entry.meta.get("stopped")


class Session:
    def __init__(self, scale: Scale | str | None = None, store: ModelStore | str | Path | None = None,
                 progress: bool = True, workers: int | None = None, budget_from: dict | None = None):
        self.scale = scale if isinstance(scale, Scale) else get_scale(scale)
        self.store = store if isinstance(store, ModelStore) else ModelStore(store, progress=progress)
        self.progress, self.workers = progress, workers
        self.budget_from = dict(budget_from or {})
        self._data: dict[DataSpec, tuple] = {}
        self._models: dict[tuple, Trained] = {}
        self._latents: dict[tuple, dict] = {}
        self._scorer = None
        self._health: dict[str, object] = {}
        self._served: list[tuple] = []
        self._earlier: set[int] = set()
        self.timings: dict[str, float] = {}

    @property
    def data_spec(self) -> DataSpec:
        return self.scale.data

    def datasets(self, spec: DataSpec | None = None):
        """(train, test) :class:`vaebench.data.load.ImageSet` of ``spec`` (default: the scale's)."""
        from vaebench.data.load import load_dataset

        spec = spec or self.data_spec
        if spec not in self._data:
            t0 = time.perf_counter()
            self._data[spec] = load_dataset(spec, cache_dir=self.store.data_cache, progress=self.progress)
            self.timings[f"data {spec.source} {spec.image_size}px"] = time.perf_counter() - t0
        return self._data[spec]

    def train_images(self, spec: DataSpec | None = None) -> int | None:
        """How many training images ``spec`` gave (None when it is not loaded: nothing is read for it)."""
        spec = spec or self.data_spec
        return len(self._data[spec][0]) if spec in self._data else None

    def data_fingerprint(self, spec: DataSpec | None = None) -> str:
        """The content fingerprint of ``spec``'s train and test images (every byte of both):
        the data part of every store key of models trained on them."""
        from vaebench.data.fingerprint import data_fingerprint

        return data_fingerprint(*self.datasets(spec))

    def data_notes(self, spec: DataSpec | None = None, limit: int = 100) -> dict:
        """What the data is, for results.json and the report: source, path, image size,
        how many images each split holds, the content fingerprint, and the files the
        reads skipped or converted (at most ``limit`` of each listed) with the reasons.
        Only what is loaded already is described (nothing is read for it)."""
        spec = spec or self.data_spec
        out: dict = {"source": spec.source, "path": spec.path, "image_size": spec.image_size,
                     "n_train_asked": spec.n_train, "n_test_asked": spec.n_test}
        if spec not in self._data:
            out["loaded"] = False
            return out
        train_set, test_set = self._data[spec]
        skipped, converted, notes = {}, {}, []
        for part in (train_set, test_set):
            skipped.update(dict(part.skipped))
            converted.update(dict(part.converted))
            notes += [n for n in part.notes if n not in notes]
        out.update({"train_images": len(train_set), "test_images": len(test_set),
                    "fingerprint": self.data_fingerprint(spec),
                    "skipped_count": len(skipped), "skipped": [[f, r] for f, r in list(skipped.items())[:limit]],
                    "converted_count": len(converted),
                    "converted": [[f, m] for f, m in list(converted.items())[:limit]], "notes": notes})
        return out

    def model(self, model_spec: ModelSpec, seed: int = 0, train_spec: TrainSpec | None = None,
              data_spec: DataSpec | None = None) -> Trained:
        """Train (first time) or load (afterwards) ``model_spec`` with ``seed``."""
        return self.models([(model_spec, seed, train_spec)], data_spec)[0]

    def models(self, requests: Sequence[tuple], data_spec: DataSpec | None = None,
               pack: int | None = None) -> list[Trained]:
        """Load several models from the store, training the missing ones first; one
        :class:`Trained` per request.

        A request is ``(model_spec, seed)`` or ``(model_spec, seed, train_spec)`` (``None``
        or absent: ``scale.training(seed)``). The models not in the store yet make a plan
        (:mod:`vaebench.store.plan`) that the :class:`vaebench.store.executors.LocalExecutor` trains here,
        ``pack`` at a time (default ``scale.pack``) as one Keras model
        (:class:`vaebench.train.trainer.Pack`); models that differ in epochs, batch size or
        learning rate go to different packs. After ``vaebench train --plan`` has trained
        them (on Ray, say), this only loads.
        """
        from vaebench.config import check_count
        from vaebench.store.executors import LocalExecutor
        from vaebench.store.plan import Plan, planned

        data_spec = data_spec or self.data_spec
        pack = self.scale.pack if pack is None else check_count("pack", pack, allow_zero=False)
        jobs = [self._job(r) for r in requests]
        wanted = list(dict.fromkeys(j for j in jobs if (data_spec, j.model, j.train) not in self._models))
        self._check_architectures(data_spec, wanted)
        fingerprint = self.data_fingerprint(data_spec) if wanted else ""
        entries = {j: self.store.get(data_spec, j.model, j.train, fingerprint=fingerprint) for j in wanted}
        missing = [j for j in wanted if entries[j] is None]
        if missing:
            plan = Plan(tuple(planned(self.store, data_spec, j.model, j.train, fingerprint, stored=False)
                              for j in missing), store=str(self.store.root), pack=pack, scale=self.scale.name)
            by_name = dict(zip((m.name for m in plan.models), missing))
            executor = LocalExecutor(progress=self.progress, workers=self.workers)
            for run in executor.run(plan, self.store, datasets=self.datasets):
                entries.update((by_name[name], entry) for name, entry in zip(run.names, run.entries))
                self.timings["train " + ", ".join(run.names)] = run.seconds
        for job in wanted:
            t0 = time.perf_counter()
            entry = entries[job]
            self._models[data_spec, job.model, job.train] = Trained(entry=entry, model=entry.load_model())
            self.timings[f"load {entry.name}"] = time.perf_counter() - t0
        self._served += [(data_spec, j.model, j.train) for j in jobs]
        return [self._models[data_spec, j.model, j.train] for j in jobs]

    def served(self, clear: bool = True) -> list[tuple]:
        """``(data_spec, model_spec, train_spec)`` of every model asked for (trained or loaded)
        since the last call with ``clear``: what the test that asked ran
        (:func:`vaebench.claims.bookkeeping.models_ran` describes them)."""
        out = list(self._served)
        if clear:
            self._served.clear()
        return out

    def earlier_epochs(self, clear: bool = True) -> list[int]:
        """The budgets :meth:`at_epochs` read since the last call with ``clear`` (the models
        an equilibrium check compared with the ones the test ran)."""
        out = sorted(self._earlier)
        if clear:
            self._earlier.clear()
        return out

    def _check_architectures(self, data_spec: DataSpec, jobs) -> None:
        """A user's architecture is checked once per spec and image size before its models
        are trained or loaded (:func:`vaebench.models.check.check_architecture`: the contract
        and the decoder's output range)."""
        from vaebench.models.check import check_architecture

        for spec in dict.fromkeys(j.model for j in jobs if j.model.architecture != DEFAULT_ARCHITECTURE):
            check_architecture(spec.architecture, spec, data_spec.image_size)

    def at_epochs(self, run: Trained, k: int) -> Trained:
        """The same run as ``run`` (its model, seed, data and every other training setting)
        trained ``k`` epochs instead: a :class:`Trained`, as :meth:`model` gives. It is the model
        a direct training of ``k`` epochs gives, loaded from the store: training ``E`` epochs
        stores the models at ⌈E/3⌉ and ⌈2E/3⌉ on the way (:func:`vaebench.store.executors.pack.
        snapshot_epochs`), so those are store hits; another ``k`` below ``E`` trains from the
        start, one above resumes from ``run`` (bit for bit on TensorFlow's CPU)."""
        from vaebench.config import check_count

        require(isinstance(run, Trained), f"run={run!r} must be a run the session gave (session.model, "
                "session.models, trained(...)), not a model", SpecError)
        k = check_count("k", k, allow_zero=False)
        entry = run.entry
        if k == entry.train.epochs:
            return run
        n = len(self._served)
        got = self.models([(entry.model_spec, entry.train.seed, replace(entry.train, epochs=k))], entry.data)[0]
        del self._served[n:]            # an earlier budget read for an equilibrium check is not a model the test ran
        self._earlier.add(k)
        return got

    def plan(self, requests: Sequence[tuple], data_spec: DataSpec | None = None) -> list:
        """The :class:`vaebench.store.plan.PlannedModel` of each distinct request (see
        :meth:`models`), with whether the store holds it; nothing is trained or loaded but
        the data (their content fingerprint names the entries)."""
        from vaebench.store.plan import planned

        data_spec = data_spec or self.data_spec
        jobs = list(dict.fromkeys(self._job(r) for r in requests))
        fingerprint = self.data_fingerprint(data_spec) if jobs else ""
        return [planned(self.store, data_spec, j.model, j.train, fingerprint) for j in jobs]

    def _job(self, request: tuple):
        from vaebench.train import Job

        require(isinstance(request, tuple) and len(request) in (2, 3) and isinstance(request[0], ModelSpec),
                f"request={request!r} must be (model_spec, seed) or (model_spec, seed, train_spec)", SpecError)
        model_spec, seed = request[0], request[1]
        train_spec = request[2] if len(request) == 3 else None
        return Job(model_spec, train_spec or self.scale.training(seed))

    def latents(self, trained: Trained, split: str = "train", n: int | None = None, seed: int = 0) -> dict:
        """Latent codes (``encode``) of the first ``n`` images of ``split`` (default
        ``scale.n_analysis``), computed once per model and split."""
        from vaebench.models.vae import encode

        train_set, test_set = self.datasets(trained.entry.data)
        images = {"train": train_set, "test": test_set}[split].images
        n = min(len(images), n or self.scale.n_analysis)
        key = (trained.entry.name, split, n, seed)
        if key not in self._latents:
            # the split enters the noise seed: train and test codes of a VAE must not share
            # their epsilon row by row (held-out z would sit next to its training twin)
            noise_seed = 2 * seed + (split == "test")
            self._latents[key] = encode(trained.model, np.asarray(images[:n]), seed=noise_seed)
        return self._latents[key]

    def health(self, trained: Trained, label: str | None = None):
        """The :class:`vaebench.claims.health.Health` of a trained model (convergence from its
        history; for a VAE, posterior collapse from the codes of the analysed images)."""
        from vaebench.claims.health import health
        from vaebench.train import describe

        key = trained.entry.name
        if key not in self._health:
            codes = self.latents(trained) if trained.entry.model_spec.kind == "vae" and not trained.stopped else None
            self._health[key] = health(label or describe(trained.entry.model_spec, trained.entry.train),
                                       trained.history, trained.stopped, codes)
        return self._health[key]

    def quality_scorer(self):
        """The validated decoded-image quality score, fitted once on real training images."""
        from vaebench.claims.evaluate import fit_quality_scorer

        if self._scorer is None:
            train_set, _ = self.datasets()
            self._scorer = fit_quality_scorer(train_set.images)
        return self._scorer

    def environment(self) -> dict:
        from vaebench.config import budget

        t = self.scale.train
        return {"scale": self.scale.name, "data": self.data_notes(),
                "z_dim": self.scale.z_dim, "epochs": t.epochs, "batch_size": t.batch_size,
                "precision": t.precision, "pack": self.scale.pack,
                "seeds": list(self.scale.seeds), "budget": budget(self.scale, **self.budget_from),
                "backend": backend.name(), "device": backend.device(),
                "versions": backend.versions(), "store": str(self.store.root),
                "model_seconds": {k: round(v, 2) for k, v in self.timings.items()}}


def data_line(data: dict) -> str:
    """One line naming the data of a run (``environment['data']`` of results.json)."""
    where = data["source"] + (f":{data['path']}" if data.get("path") else "")
    if data.get("loaded") is False:
        return f"data: {where} {data.get('image_size')}px (not loaded by these tests)"
    line = (f"data: {where} {data.get('image_size')}px, {data.get('train_images')} train / "
            f"{data.get('test_images')} test images, fingerprint {str(data.get('fingerprint'))[:16]}")
    if data.get("skipped_count"):
        line += f", {data['skipped_count']} files skipped"
    if data.get("converted_count"):
        line += f", {data['converted_count']} converted to RGB"
    return line
