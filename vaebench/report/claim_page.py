"""Render a run's ``results.json`` as one self-contained HTML page.

First a banner when the run is not at the posts' setting and the verdict table: per
claim and sub-claim the verdict, the scale and data it ran at beside the posts', the runs
and the model-health flags. Then per claim its quote and source, the posts' figures,
the primary checks, the plots, and behind ``<details>`` the secondary statistics, the
per-seed values (one column a seed) and the models; at the end the data, the environment
and the tests. Figures are PNGs embedded as data URIs (:mod:`vaebench.report.figures`): no
external URL, so the file opens offline. The page is a jinja2 template
(``templates/report.html.j2``, autoescaped); this module shapes what the plugin collected
for it and computes no statistic. The regression page is :mod:`vaebench.report.compare_page`.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from vaebench.config import posts_setting
from vaebench.report.figures import render_figure
from vaebench.report.html import COLOURS, CSS, estimate_parts, exact, number
from vaebench.report.reasons import group_reasons, headline, models_by_kind

TEMPLATES = Path(__file__).parent / "templates"
_SOURCES = {"synthetic": "synthetic faces", "celeba": "CelebA", "folder": "folder"}
_SEED = re.compile(r"(?:\s+of)?,?\s*\(?\bseed (\d+)\b\)?")
_HEALTH = ("not converged", "collapsed", "non-finite", "stopped")
_POSTS_ARCHITECTURE = "posts-conv"


# --------------------------------------------------------------------------- settings

def _run_setting(env: dict) -> dict:
    data = env.get("data") if isinstance(env.get("data"), dict) else {}
    seeds = env.get("seeds")
    return {"scale": env.get("scale"), "source": data.get("source"), "image_size": data.get("image_size"),
            "train_images": data.get("train_images", data.get("n_train_asked")), "epochs": env.get("epochs"),
            "z_dim": env.get("z_dim"),
            "runs_per_model": len(seeds) if isinstance(seeds, list) else None,
            "budget": env.get("budget") if isinstance(env.get("budget"), dict) else None}


def _set_by(s: dict, what: str) -> str:
    """`` (--vaebench-epochs)`` where the run's budget option, not the scale, set ``what``."""
    where = (s.get("budget") or {}).get(f"{what}_from")
    return f" ({where})" if where and where != "scale" else ""


def _record_setting(record: dict, run: dict) -> dict:
    """What one test ran at: the models it asked for (``ran``, from the specs its test
    requested: :func:`vaebench.claims.bookkeeping.models_ran`) over its ``describe_scale``;
    the run's setting fills gaps only for tests that trained (a test without ``epochs``
    trained nothing)."""
    scale, ran = record.get("scale") or {}, record.get("ran") or {}
    trains = "epochs" in scale or bool(ran)
    data = str(scale.get("data", ""))
    source = next((k for k, label in _SOURCES.items() if data.startswith((k, label))), None)
    runs = scale.get("runs_per_arm") or (len(scale["seeds"]) if isinstance(scale.get("seeds"), list) else None)
    return {
        "scale": scale.get("scale", run.get("scale") if trains else None),
        "source": ran.get("source") or source or (run.get("source") if trains else None),
        "image_size": ran.get("image_size", scale.get("image_size", run.get("image_size") if trains else None)),
        "train_images": ran.get("train_images", scale.get("n_train", run.get("train_images") if trains else None)),
        "architecture": ran.get("architecture"),
        "z_dim": ran.get("z_dim", scale.get("z_dim") if trains else None),
        "epochs": ran.get("epochs", scale.get("epochs")),
        "runs_per_model": runs if "runs_per_arm" in scale else ran.get("runs_per_model", runs),
        "precision": ran.get("precision"),
        "backend": ran.get("backend"),
        "per_arm": "runs_per_arm" in scale,
        "training": scale.get("training"),
        "rounds": scale.get("rounds"),
        "device": scale.get("device"),
    }


def _many(value, fmt=str) -> str:
    """A setting value, or several (a list) joined with "/"."""
    return "/".join(fmt(v) for v in value) if isinstance(value, list) else fmt(value)


_SETTING = ("scale", "source", "image_size", "train_images", "architecture", "z_dim", "epochs", "runs_per_model",
            "precision")


def _describe(s: dict, keys=_SETTING) -> str:
    """A setting in one line: ``cpu · synthetic 32×32 · 12,000 train · z 256 · 12 ep · 3 runs/model``
    (an architecture other than the posts', a precision other than float32 and the
    backend are named where recorded)."""
    v = {k: s.get(k) for k in keys}
    size = v.get("image_size")
    data = " ".join(x for x in (_many(v["source"], lambda x: _SOURCES.get(x, x)) if v.get("source") else None,
                                _many(size, lambda x: f"{x}×{x}") if size else None) if x)
    parts = [str(v["scale"]) if v.get("scale") else "", data]
    if v.get("train_images") is not None:
        parts.append(f"{_many(v['train_images'], lambda x: exact(number(x)))} train")
    if v.get("architecture") and v["architecture"] != _POSTS_ARCHITECTURE:
        parts.append(f"architecture {_many(v['architecture'])}")
    if v.get("z_dim") is not None:
        parts.append(f"z {_many(v['z_dim'])}")
    if v.get("epochs") is not None:
        parts.append(f"{_many(v['epochs'])} ep{_set_by(s, 'epochs')}")
    if v.get("runs_per_model") is not None:
        parts.append(f"{_many(v['runs_per_model'])} runs/{'arm' if s.get('per_arm') else 'model'}{_set_by(s, 'runs')}")
    if v.get("precision") and v["precision"] != "float32":
        parts.append(_many(v["precision"]))
    if "backend" in keys and s.get("backend"):
        parts.append(str(s["backend"]))
    if s.get("training") == "none":
        parts.append("no training")
    if s.get("rounds"):
        parts.append(f"{s['rounds']} benchmark rounds")
    return " · ".join(p for p in parts if p)


def _posts_wanted(ours: dict, posts: dict) -> dict:
    return dict(posts, architecture=posts.get("architecture", _POSTS_ARCHITECTURE), precision="float32",
                runs_per_model=posts["runs_per_arm"] if ours.get("per_arm") else posts["runs_per_model"],
                per_arm=ours.get("per_arm"))


def _differs(ours: dict, posts: dict) -> list[str]:
    """The setting keys where a test's setting is not the posts'."""
    wanted = _posts_wanted(ours, posts)
    keys = [k for k in _SETTING[1:] if ours.get(k) is not None and ours[k] != wanted.get(k)]
    return (["scale"] if keys else []) + keys


def _posts_text(ours: dict, posts: dict, has_posts: bool = True) -> str:
    """The posts' setting where it differs from ``ours`` ("same" where it does not; "" for a
    claim without the posts' figures: there is nothing of the posts' to compare with)."""
    if not has_posts:
        return ""
    keys = _differs(ours, posts)
    return _describe(_posts_wanted(ours, posts), keys) if keys else "same"


def _has_posts(records: list[dict]) -> bool:
    """Whether a claim carries figures of the posts (its own, its sub-claims' or its checks')."""
    for r in records:
        claim = r.get("claim") or {}
        if claim.get("posts") or any(s.get("posts") for s in claim.get("subclaims", [])):
            return True
        if any(c.get("posts") for c in r.get("checks", [])) or any(x.get("posts") for x in r.get("statistics", [])):
            return True
    return False


# --------------------------------------------------------------------------- health


def _precondition_flags(check: dict | None) -> list[dict]:
    pre = (check or {}).get("precondition") or {}
    if pre.get("ok", True):
        return []
    reason = str(pre.get("reason", ""))
    grouped = group_reasons(reason)
    kinds = models_by_kind(reason)
    if not kinds:
        return [{"label": headline(reason), "detail": grouped, "kind": "bad", "models": []}]
    return [{"label": f"{k} ({len(v)} model{'s' if len(v) > 1 else ''})", "detail": grouped, "kind": "bad",
             "models": v} for k, v in kinds.items()]


def _runs_flag(s: dict, posts: dict) -> dict | None:
    have = s.get("runs_per_model")
    if have is None:
        return None
    want = posts["runs_per_arm"] if s.get("per_arm") else posts["runs_per_model"]
    if have >= 3 and have >= want:
        return None
    per = "arm" if s.get("per_arm") else "model"
    return {
        "label": f"too few runs: {have}/{per} (full: {want})",
        "detail": f"{have} runs per {per}; the full scale "
                  f"(the posts' setting, with the runs its claims' designs want) has {want}",
        "kind": "warn",
    }


def _model_flags(flags: dict) -> list[dict]:
    return [{"label": f"{k} ({len(v)} model{'s' if len(v) > 1 else ''})", "detail": ", ".join(v), "kind": "bad",
             "models": list(v)} for k, v in flags.items()]


def _dedupe(flags: list[dict]) -> list[dict]:
    seen, out = set(), []
    for f in flags:
        if f and f["label"] not in seen:
            seen.add(f["label"])
            out.append(f)
    return out


# --------------------------------------------------------------------------- values


def _marks(name: str, value: float) -> list[str]:
    """Values at a bound of their scale: a conformal quality score at its floor 2/(n+1)
    (every image scored below all n reference images), a p-value, power, rate or fraction
    at 0 or 1."""
    marks = []
    if ("scorer" in name or "quality" in name) and 0 < value < 0.05:
        n = 2 / value - 1
        if n >= 50 and abs(n - round(n)) < 1e-6 * n:
            marks.append(
                f"at the score's floor 2/{round(n) + 1}: every image scored below all {round(n)} reference images"
            )
    if value in (0.0, 1.0) and re.search(r"\bp\b|power|fraction|rate", name):
        marks.append("at its floor (0)" if value == 0.0 else "at its ceiling (1)")
    return marks


def _value(item: dict, setting: dict, posts: dict) -> dict:
    est = item.get("estimate") or {}
    parts = estimate_parts(est, item.get("estimate_text", ""))
    v, name = number(est.get("value")), str(item.get("name", ""))
    parts["marks"] = parts["marks"] + _marks(name, v)
    size, theirs = setting.get("image_size"), posts.get("image_size")
    if "loss" in name and "/" not in name and item.get("posts") and size and theirs and size != theirs:
        note = f"summed over {size}×{size} = {size * size:,} pixels: {v / (size * size):.3g} per pixel"
        try:
            their = float(str(item["posts"]).replace(",", ""))
            note += (
                f"; the posts' over {theirs}×{theirs} = {theirs * theirs:,}: {their / (theirs * theirs):.3g} per pixel"
            )
        except ValueError:
            note += f"; the posts' figure is over {theirs}×{theirs} = {theirs * theirs:,} pixels"
        parts["marks"].append(note)
    return parts


def _row(item: dict, setting: dict, posts: dict, role: str) -> dict:
    return {
        "name": item["name"],
        "role": role,
        "value": _value(item, setting, posts),
        "tolerance": item.get("tolerance", ""),
        "posts": item.get("posts") or "",
        "verdict": item.get("verdict"),
        "why": (
            group_reasons(_short_reason(item.get("reason") or "", item.get("estimate_text", "")))
            if "tolerance" in item
            else item.get("note")
        ),
        "subclaim": item.get("subclaim") or "",
        "unit": item.get("unit"),
        "n_runs": item.get("n_runs") or ((item.get("estimate") or {}).get("n") if "tolerance" in item else None),
    }


def _per_seed(stats: list[dict], setting: dict, posts: dict) -> tuple[list[dict], dict | None]:
    """Split statistics named "... seed N ..." off and pivot them: one row per name with
    the seed taken out, one column per seed."""
    rest, rows, seeds = [], {}, set()
    for s in stats:
        m = _SEED.search(s["name"])
        if not m:
            rest.append(s)
            continue
        key = (s["name"][: m.start()] + s["name"][m.end() :]).strip(" ,:")
        key = re.sub(r"\s+:", ":", key)
        seed = int(m.group(1))
        seeds.add(seed)
        row = rows.setdefault(key, {"name": key, "cells": {}, "posts": set(), "notes": {}})
        row["cells"][seed] = _value(s, setting, posts)
        row["posts"].add(s.get("posts") or "")
        row["notes"][seed] = s.get("note") or ""
    if not rows:
        return rest, None
    out = []
    for row in rows.values():
        notes = set(row["notes"].values())
        out.append(
            {
                "name": row["name"],
                "cells": row["cells"],
                "posts": "; ".join(p for p in row["posts"] if p),
                "note": notes.pop() if len(notes) == 1 else "",
                "cell_notes": row["notes"] if len(notes) > 1 else {},
            }
        )
    return rest, {"seeds": sorted(seeds), "rows": out}


# --------------------------------------------------------------------------- the page

_METHOD = re.compile(r" \(\d+(?:\.\d+)?% [^()]*(?:\([^()]*\)[^()]*)*\)")


_BIG = re.compile(r"-?\d+(?:\.\d+)?e\+\d+")


def _short_reason(reason: str, estimate_text: str = "") -> str:
    """A reason without the interval's method ("(99% Welch t over runs)") or, where the
    estimate is shown beside it, without the estimate; large numbers without exponent."""
    if estimate_text and reason.startswith(estimate_text):
        reason = reason[len(estimate_text) :].strip()
    return _BIG.sub(lambda m: exact(float(m.group())), _METHOD.sub("", reason))


def _sub_row(sub: dict, check: dict | None, setting: dict, claim_setting: dict, posts: dict, has_posts: bool) -> dict:
    n = (check or {}).get("n_runs") or ((check or {}).get("estimate") or {}).get("n")
    unit = (check or {}).get("unit") or ""
    supported = sub["verdict"] == "supported"
    return {
        "id": sub["id"],
        "statement": sub["statement"],
        "verdict": sub["verdict"],
        "why": "" if supported else group_reasons(_short_reason(sub.get("reason", ""))),
        "headline": "" if supported else headline(_short_reason(sub.get("reason", ""))),
        "reason": "" if supported else sub.get("reason", ""),
        "setting": _describe(setting) if setting != claim_setting else "",
        "posts": _posts_text(setting, posts, has_posts) if setting != claim_setting else "",
        "runs": "" if n is None else f"{n}" + ("" if unit in ("runs", "") else f" {unit}"),
        "flags": _dedupe(_precondition_flags(check)),
    }


def _verdict_rows(summary: list[dict], records: list[dict], run: dict, posts: dict) -> list[dict]:
    by_test = {(r["claim"]["id"], r["test"]): r for r in records}
    rows = []
    for s in summary:
        recs = [r for r in records if r["claim"]["id"] == s["id"]]
        has_posts = _has_posts(recs)
        settings = {r["test"]: _record_setting(r, run) for r in recs}
        trained = [x for x in settings.values() if x.get("epochs")]
        claim_setting = trained[0] if trained else next(iter(settings.values()), run)
        flags = _model_flags(s.get("flags", {}))
        if has_posts:
            flags += [_runs_flag(x, posts) for x in settings.values()]
        subs = []
        for sub in s.get("subclaims", []):
            rec = by_test.get((s["id"], sub.get("test")))
            check = next((c for c in (rec or {}).get("checks", []) if c["name"] == sub.get("check")), None)
            setting = settings.get(sub.get("test"), claim_setting)
            subs.append(_sub_row(sub, check, setting, claim_setting, posts, has_posts))
        rows.append({"id": s["id"], "title": s["title"], "generalises": s.get("generalises"),
                     "verdict": s["verdict"], "n_runs": s.get("n_runs"), "setting": _describe(claim_setting),
                     "posts": _posts_text(claim_setting, posts, has_posts), "has_posts": has_posts,
                     "flags": _dedupe(flags), "subclaims": subs,
                     "folded": _folded(subs)})
    return rows


def _folded(subs: list[dict]) -> dict | None:
    """What the one line that stands for a claim's inconclusive sub-claims says (their rows are
    folded under it, so the verdict table stays short): their ids and their reasons' headlines,
    each with how many sub-claims give it. None when no sub-claim is inconclusive."""
    open_ = [x for x in subs if x["verdict"] == "inconclusive"]
    if not open_:
        return None
    heads: dict[str, int] = {}
    for x in open_:
        heads[x["headline"]] = heads.get(x["headline"], 0) + 1
    return {"ids": ", ".join(x["id"] for x in open_), "n": len(open_),
            "reasons": "; ".join(f"{h} ({n})" if n > 1 else h for h, n in heads.items() if h)}


def _test_section(r: dict, run: dict, posts: dict, has_posts: bool) -> dict:
    setting = _record_setting(r, run)
    checks = sorted(r.get("checks", []), key=lambda c: c.get("subclaim") or "")
    primary = [_row(c, setting, posts, "primary") for c in checks if c.get("role", "primary") == "primary"]
    secondary = [_row(c, setting, posts, "secondary") for c in checks if c.get("role") == "secondary"]
    stats, seeds = _per_seed(r.get("statistics", []), setting, posts)
    secondary += [_row(x, setting, posts, "shown") for x in stats]
    models = r.get("models", [])
    size, theirs = setting.get("image_size"), posts.get("image_size")
    pixels = has_posts and isinstance(size, int) and size != theirs and setting.get("epochs")
    return {
        "test": r["test"],
        "verdict": r["verdict"],
        "setting": _describe(setting, _SETTING + ("backend",)),
        "posts": _posts_text(setting, posts, has_posts),
        "scale": _table(r.get("scale") or {})["rows"],
        "ran": _table(r.get("ran") or {})["rows"] if r.get("ran") else [],
        "primary": primary,
        "primary_posts": any(x["posts"] for x in primary),
        "secondary": secondary,
        "secondary_posts": any(x["posts"] for x in secondary),
        "seeds": seeds,
        "models": models,
        "unhealthy": [m for m in models if m.get("flags")],
        "notes": r.get("notes", []),
        "pixels": (size, theirs) if pixels else None,
        "figures": [render_figure(f) for f in r.get("figures", [])],
    }


def _claim_sections(summary: list[dict], records: list[dict], run: dict, posts: dict) -> list[dict]:
    out = []
    for s in summary:
        recs = [r for r in records if r["claim"]["id"] == s["id"]]
        claim = recs[0]["claim"] if recs else {}
        has_posts = _has_posts(recs)
        out.append({"id": s["id"], "title": s["title"], "verdict": s["verdict"], "quote": claim.get("quote"),
                    "source": claim.get("source"), "posts": claim.get("posts") or {},
                    "tests": [_test_section(r, run, posts, has_posts) for r in recs]})
    return out


def _table(value):
    """An environment value as rows: a dict as (key, value) rows, a list of scalars as one
    comma-joined line, anything else as itself."""
    if isinstance(value, dict):
        return {"rows": [(str(k), _table(v)) for k, v in value.items()]}
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, list):
        return {"rows": [(str(i), _table(v)) for i, v in enumerate(value)]}
    return value


_OUTCOME = {
    ("skipped", "inconclusive"): "inconclusive",
    ("failed", "refuted"): "failed (refuted)",
    ("failed", "error"): "error",
    ("passed", "supported"): "passed",
}


def _tests(tests: dict) -> list[dict]:
    return [
        {
            "name": k,
            "verdict": v.get("verdict"),
            "outcome": _OUTCOME.get((v.get("outcome"), v.get("verdict")), v.get("outcome")),
            "seconds": f"{number(v.get('duration', 0)):.1f}",
        }
        for k, v in tests.items()
    ]


def view(results: dict) -> dict:
    """What the template shows, shaped from ``results``; computes no statistic."""
    run, env = results.get("run", {}), results.get("environment", {})
    posts = env.get("posts_setting") or posts_setting()
    setting = _run_setting(env)
    summary, records = results.get("summary", []), results.get("records", [])
    banner = None
    off_posts = setting.get("scale") != posts["scale"] or (setting.get("source") or posts["source"]) != posts["source"]
    any_posts = not records or any(_has_posts([r]) for r in records)
    off_posts = off_posts or bool(_set_by(setting, "epochs") or _set_by(setting, "runs"))
    if setting.get("scale") and off_posts and any_posts:
        banner = {
            "ours": _describe(setting),
            "posts": _describe(dict(posts)),
            "scale": setting.get("scale"),
            "sizes": (setting.get("image_size"), posts["image_size"])
            if setting.get("image_size") and setting.get("image_size") != posts["image_size"]
            else None,
        }
    data = env.get("data") if isinstance(env.get("data"), dict) else None
    environment = [(k, _table(v)) for k, v in env.items() if not (k == "data" and data is not None)]
    verdicts = _verdict_rows(summary, records, setting, posts)
    return {
        "tally": tally(verdicts),
        "any_posts": any_posts,
        "run": run,
        "env": env,
        "setting": setting,
        "posts": posts,
        "banner": banner,
        "duration": f"{number(run.get('duration_s', 0)):.0f}",
        "verdicts": verdicts,
        "claims": _claim_sections(summary, records, setting, posts),
        "data": data,
        "environment": environment,
        "tests": _tests(results.get("tests", {})),
        "design": results.get("design", []),
    }


_ORDER = ("supported", "refuted", "inconclusive", "error")


def tally(verdicts: list[dict]) -> str:
    """The report's first line: "10 claims: 1 supported, 4 refuted, 5 inconclusive" (every
    verdict named, a zero count too, but ``error`` only when there is one)."""
    counts = {v: sum(c["verdict"] == v for c in verdicts) for v in _ORDER}
    others = sorted({c["verdict"] for c in verdicts} - set(_ORDER))
    parts = [f"{counts[v]} {v}" for v in _ORDER if v != "error" or counts[v]]
    parts += [f"{sum(c['verdict'] == v for c in verdicts)} {v}" for v in others]
    n = len(verdicts)
    return f"{n} claim{'' if n == 1 else 's'}: " + ", ".join(parts)


def render_html(results: dict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.globals.update(colours=COLOURS, css=CSS, markup=jinja2.utils.markupsafe.Markup)
    return env.get_template("report.html.j2").render(**view(results))


def write_report(results: dict, run_dir: Path, latest: bool = True) -> Path:
    """Write ``results.json`` and ``index.html`` into ``run_dir``; point ``latest`` at it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, run_dir / "results.json")
    page = run_dir / "index.html"
    tmp = run_dir / "index.html.tmp"
    tmp.write_text(render_html(results))
    os.replace(tmp, page)
    if latest:
        link = run_dir.parent / "latest"
        tmp_link = run_dir.parent / f".latest-{os.getpid()}"
        try:
            if tmp_link.is_symlink() or tmp_link.exists():
                tmp_link.unlink()
            tmp_link.symlink_to(run_dir.name)
            os.replace(tmp_link, link)
        except OSError:
            pass
    return page
