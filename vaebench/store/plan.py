"""The plan: every model a run needs, with its data fingerprint, its store entry name and
whether the store held it when planned; grouped into the packs an executor trains.

``pytest hypotheses --vaebench-plan plan.json`` writes one (no training: each
``trained.many`` records its requests and skips its test); ``vaebench train --plan
plan.json --executor local|ray`` trains what is missing (:mod:`vaebench.store.executors`); the
session afterwards only loads. A plan is plain JSON (:meth:`Plan.write`,
:meth:`Plan.read`); reading it checks every field and names what is wrong.

Packs (:meth:`Plan.packs`): models on the same data whose training specs share
everything but the seed and the precision (:meth:`vaebench.config.specs.TrainSpec.pack_key`),
``pack`` at a time in the order of the plan. Packing changes no weight
(:mod:`vaebench.train.trainer`), so a plan may pack models of different claims together.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

from vaebench import atomic
from vaebench.config import (
    DataSpec,
    ModelSpec,
    TrainSpec,
    check_count,
    model_spec_from_record,
    recorded_model_spec,
    spec_from_dict,
    spec_to_dict,
)
from vaebench.errors import PlanError, VaebenchError, require

#: the version of the plan's JSON layout
VERSION = 1


@dataclass(frozen=True)
class PlannedModel:
    """One model of a plan: its specs, the content fingerprint of its data, the name of its
    store entry and whether the store held the entry when the plan was made."""

    data: DataSpec
    model: ModelSpec
    train: TrainSpec
    fingerprint: str
    name: str
    stored: bool = False
    #: the key's parts besides the specs when planned (code, Keras, backend, framework): they tell
    #: a plan of other code from one whose specs were edited (None: not recorded)
    key: dict | None = field(default=None, compare=False)
    #: the epochs of the stored entry its training resumes from when planned (None: from the start)
    resumes_from: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "stored": self.stored, "fingerprint": self.fingerprint,
                "data": spec_to_dict(self.data), "model": recorded_model_spec(self.model),
                "train": spec_to_dict(self.train),
                **({"key": self.key} if self.key is not None else {}),
                **({"resumes_from": self.resumes_from} if self.resumes_from is not None else {})}

    @classmethod
    def from_dict(cls, d, where: str = "model") -> "PlannedModel":
        require(isinstance(d, dict), f"{where} is {type(d).__name__}, not an object with name, stored, "
                "fingerprint, data, model and train", PlanError)
        missing = [k for k in ("name", "fingerprint", "data", "model", "train") if k not in d]
        require(not missing, f"{where} has no {', '.join(missing)}; a planned model needs name, stored, fingerprint, "
                "data, model and train: make the plan again with --vaebench-plan", PlanError)
        for k in ("name", "fingerprint"):
            require(isinstance(d[k], str) and d[k], f"{where}.{k}={d[k]!r} must be a non-empty string", PlanError)
        require(isinstance(d.get("stored", False), bool), f"{where}.stored={d.get('stored')!r} must be true or false",
                PlanError)
        specs = {}
        for k, cls_ in (("data", DataSpec), ("model", ModelSpec), ("train", TrainSpec)):
            require(isinstance(d[k], dict), f"{where}.{k}={d[k]!r} must be an object of {cls_.__name__} fields",
                    PlanError)
            try:
                specs[k] = model_spec_from_record(d[k]) if cls_ is ModelSpec else spec_from_dict(cls_, d[k])
            except (VaebenchError, TypeError, ValueError) as e:
                raise PlanError(f"{where}.{k} ({d['name']}): {e}") from None
        key, resumes = d.get("key"), d.get("resumes_from")
        require(key is None or isinstance(key, dict), f"{where}.key={key!r} must be an object", PlanError)
        require(resumes is None or (isinstance(resumes, int) and not isinstance(resumes, bool) and resumes > 0),
                f"{where}.resumes_from={resumes!r} must be a number of epochs >= 1 or absent", PlanError)
        return cls(fingerprint=d["fingerprint"], name=d["name"], stored=d.get("stored", False), key=key,
                   resumes_from=resumes, **specs)


def planned(store, data: DataSpec, model: ModelSpec, train: TrainSpec, fingerprint: str,
            stored: bool | None = None) -> PlannedModel:
    """The :class:`PlannedModel` of these specs on data of content ``fingerprint``;
    ``stored`` (default: whether ``store`` holds the intact entry, looked up without
    removing anything)."""
    from vaebench.store.modelstore import key_parts

    name = store.entry_name(data, model, train, fingerprint=fingerprint)
    if stored is None:
        stored = holds(store, name)
    resumes = None if stored else resumes_from(store, data, model, train, fingerprint)
    return PlannedModel(data, model, train, fingerprint, name, stored, key=key_parts(fingerprint, model),
                        resumes_from=resumes)


def resumes_from(store, data: DataSpec, model: ModelSpec, train: TrainSpec, fingerprint: str) -> int | None:
    """The epochs of the entry a training of these specs would resume from now (the most below
    ``train.epochs`` that loads and holds a training state), or None; nothing is removed."""
    for epochs in range(train.epochs - 1, 0, -1):
        name = store.entry_name(data, model, replace(train, epochs=epochs), fingerprint=fingerprint)
        if holds(store, name) and store.read(store.models / name).resumable:
            return epochs
    return None


def holds(store, name: str) -> bool:
    """Whether ``store`` holds an intact entry called ``name`` that loads (nothing is removed)."""
    path = store.models / name
    return path.is_dir() and store.problem(path) is None


def _renamed(m: PlannedModel, name: str) -> str:
    """Why this code names the planned model ``m`` ``name``, not ``m.name``: other code (its
    key parts differ from those recorded), or specs edited after planning (they agree)."""
    from vaebench.store.modelstore import key_parts

    head = f"the plan names {m.name} but this vaebench keys that model as {name}"
    again = "make the plan again here with pytest ... --vaebench-plan"
    if m.key is None:
        return (f"{head}: the plan was made by other code (its code, Keras version or backend), or its specs were "
                f"edited after it was made; {again}")
    now = key_parts(m.fingerprint, m.model)
    differ = [f"{k}: planned {m.key.get(k)!r}, here {v!r}" for k, v in now.items() if m.key.get(k) != v]
    if differ:
        return f"{head}: the plan was made by other code ({'; '.join(differ[:3])}); {again}"
    return (f"{head}: its data, model or train spec was edited after the plan was made (e.g. data.path; the "
            f"name no longer matches them); edit the plan back or {again}")


@dataclass(frozen=True)
class Plan:
    """The models of a run (each name once, in the order first asked for), the store they
    were looked up in and the pack size; see the module docstring."""

    models: tuple[PlannedModel, ...]
    store: str = ""
    pack: int = 1
    scale: str = ""
    notes: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        check_count("pack", self.pack, allow_zero=False)
        seen: dict[str, PlannedModel] = {}
        for m in self.models:
            require(isinstance(m, PlannedModel), f"plan model {m!r} is not a PlannedModel", PlanError)
            other = seen.setdefault(m.name, m)
            require((other.data, other.model, other.train, other.fingerprint) == (m.data, m.model, m.train,
                                                                                  m.fingerprint),
                    f"the plan names two different models {m.name}; make the plan again", PlanError)
        object.__setattr__(self, "models", tuple(seen.values()))

    @classmethod
    def of(cls, models: Iterable[PlannedModel], **kwargs) -> "Plan":
        """A plan of ``models`` (repeats merged; stored when any repeat says stored)."""
        merged: dict[str, PlannedModel] = {}
        for m in models:
            have = merged.get(m.name)
            merged[m.name] = m if have is None else replace(have, stored=have.stored or m.stored)
        return cls(tuple(merged.values()), **kwargs)

    def missing(self) -> tuple[PlannedModel, ...]:
        return tuple(m for m in self.models if not m.stored)

    def packs(self, models: Sequence[PlannedModel] | None = None) -> list[tuple[PlannedModel, ...]]:
        """``models`` (default: the missing ones) in packs of at most ``pack`` that can train
        together (same data, fingerprint and :meth:`TrainSpec.pack_key`), in plan order."""
        groups: dict[tuple, list[PlannedModel]] = {}
        for m in (self.missing() if models is None else models):
            groups.setdefault((m.data, m.fingerprint, m.train.pack_key()), []).append(m)
        return [tuple(g[i:i + self.pack]) for g in groups.values() for i in range(0, len(g), self.pack)]

    def with_store(self, store) -> "Plan":
        """This plan looked up again in ``store`` (a :class:`vaebench.store.modelstore.ModelStore`): each
        model's ``stored`` as the store says now, and its name checked against the name this
        code gives it (a plan made by other code or another Keras is refused: make it again)."""
        models = []
        for m in self.models:
            name = store.entry_name(m.data, m.model, m.train, fingerprint=m.fingerprint)
            require(name == m.name, _renamed(m, name), PlanError)
            models.append(replace(m, stored=holds(store, name)))
        return replace(self, models=tuple(models), store=str(store.root))

    def summary(self) -> str:
        n, todo = len(self.models), len(self.missing())
        resumed = sum(m.resumes_from is not None for m in self.missing())
        return (f"{n} models, {n - todo} in the store, {todo} to train in {len(self.packs())} packs of up to "
                f"{self.pack}" + (f" ({resumed} resume from shorter trainings in the store)" if resumed else ""))

    # -- JSON --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"vaebench_plan": VERSION, "scale": self.scale, "store": self.store, "pack": self.pack,
                "summary": self.summary(), "notes": self.notes,
                "packs": [[m.name for m in p] for p in self.packs()],
                "models": [m.to_dict() for m in self.models]}

    @classmethod
    def from_dict(cls, d, source: str = "the plan") -> "Plan":
        require(isinstance(d, dict) and "vaebench_plan" in d,
                f"{source} is not a vaebench plan (no 'vaebench_plan' field); write one with "
                "pytest hypotheses --vaebench-plan plan.json", PlanError)
        require(d["vaebench_plan"] == VERSION, f"{source} has plan version {d['vaebench_plan']!r}; this vaebench "
                f"reads version {VERSION}: make the plan again with this vaebench", PlanError)
        models = d.get("models")
        require(isinstance(models, list), f"{source}: 'models' must be a list of planned models, not "
                f"{type(models).__name__}", PlanError)
        pack = d.get("pack", 1)
        require(isinstance(pack, int) and not isinstance(pack, bool) and pack >= 1,
                f"{source}: pack={pack!r} must be an integer >= 1", PlanError)
        got = [PlannedModel.from_dict(m, f"{source}: models[{i}]") for i, m in enumerate(models)]
        return cls(tuple(got), store=str(d.get("store") or ""), pack=pack, scale=str(d.get("scale") or ""),
                   notes=d.get("notes") if isinstance(d.get("notes"), dict) else {})

    def write(self, path: str | os.PathLike) -> Path:
        """Write the plan as JSON to ``path`` (atomically); returns the path."""
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(atomic.temp_name("." + path.name))
        try:
            atomic.write_json(tmp, self.to_dict())
            os.replace(tmp, path)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise PlanError(f"cannot write the plan to {str(path)!r}: {atomic.why_not_written(e)}; pass a writable "
                            "path to --vaebench-plan") from e
        return path

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Plan":
        path = Path(path).expanduser()
        require(path.is_file(), f"plan {str(path)!r} does not exist; write it first with "
                f"pytest hypotheses --vaebench-plan {path}", PlanError)
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise PlanError(f"plan {str(path)!r} is not readable JSON ({e}); write it again with "
                            "--vaebench-plan") from None
        return cls.from_dict(data, f"plan {str(path)!r}")


class PlanRecorder:
    """A pytest plugin for ``--vaebench-plan PATH``: ``TrainedModels.many`` hands it the
    planned models of each request (:meth:`add`); at the end of the run it writes the plan.
    Under pytest-xdist each worker writes ``PATH.<worker>`` (merge them with
    :meth:`Plan.of`); run planning without ``-n``: it trains nothing, so it is quick."""

    def __init__(self, path: str | os.PathLike, config=None):
        self.path, self.config = Path(path), config
        self.models: list[PlannedModel] = []
        self.store, self.pack, self.scale = "", 1, ""

    def add(self, session, models: Sequence[PlannedModel]) -> None:
        self.models.extend(models)
        self.store, self.pack, self.scale = str(session.store.root), session.scale.pack, session.scale.name

    def plan(self) -> Plan:
        return Plan.of(self.models, store=self.store, pack=self.pack, scale=self.scale)

    def pytest_sessionfinish(self, session, exitstatus):
        worker = getattr(self.config, "workerinput", {}).get("workerid") if self.config is not None else None
        path = self.path if worker is None else self.path.with_name(f"{self.path.name}.{worker}")
        self.plan().write(path)

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        plan = self.plan()
        terminalreporter.write_line(f"vaebench plan: {plan.summary()} -> {self.path.resolve()}")
