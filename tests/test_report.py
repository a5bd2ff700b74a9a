"""The claim page (vaebench.report.claim_page) on a tiny results dict: the verdict table first with
scale, data, runs and health; the banner off the posts' setting; secondary statistics,
per-seed values and the environment behind <details>; exact values written as exact."""
import copy
import json
import re
from html.parser import HTMLParser

import pytest

from vaebench.report.claim_page import posts_setting, render_html, write_report
from vaebench.report.html import estimate_parts, exact


def _est(value, low=None, high=None, level=0.95, method="t over runs", n=3):
    low = value if low is None else low
    high = value if high is None else high
    return {"value": value, "low": low, "high": high, "level": level, "method": method, "n": n}


def _check(name, sub, role, estimate, text, verdict, n_runs=3, unit="runs", pre=None, reason=""):
    return {"name": name, "subclaim": sub, "role": role, "estimate": estimate, "estimate_text": text,
            "tolerance": "CI inside [0.9, 1.1]", "verdict": verdict, "reason": reason or text,
            "posts": "≈ 1", "n_runs": n_runs, "unit": unit, "level": 0.975,
            "precondition": pre or {"ok": True, "reason": ""}, "claim": "T1"}


SCALE = {"scale": "cpu", "data": "synthetic 32×32", "n_train": 12000, "n_test": 2000, "image_size": 32,
         "z_dim": 256, "epochs": 12, "seeds": [0, 1, 2]}


def results(scale="cpu", source="synthetic", image_size=32, n_train=12000, epochs=12, seeds=(0, 1, 2)):
    record_scale = dict(SCALE, scale=scale, data=f"{source} {image_size}×{image_size}", image_size=image_size,
                        n_train=n_train, epochs=epochs, seeds=list(seeds))
    checks = [
        _check("radius peak ratio", "T1a", "primary", _est(1.5, 1.4, 1.6, 0.975),
               "1.50 [1.40, 1.60] (97.5% t over runs)",
               "refuted", reason="1.50 [1.40, 1.60] (97.5% t over runs) lies entirely outside [0.9, 1.1]"),
        _check("loss ratio", "T1b", "primary", _est(0.7, 0.6, 0.8, 0.975), "0.70 [0.60, 0.80] (97.5% t over runs)",
               "inconclusive", n_runs=6,
               pre={"ok": False,
                    "reason": "AE seed 0: not converged: loss falling; AE seed 1: not converged: loss falling"}),
        _check("parameters: encoder", None, "secondary", _est(5109440.0, level=1.0, method="exact count", n=None),
               "5.109e+06 [5.109e+06, 5.109e+06] (100% exact count)", "supported", n_runs=None, unit="exact"),
    ]
    stats = [
        {"name": "seed 0: radius KDE peak", "estimate": _est(15.02, 14.87, 15.18, method="KDE mode, bootstrap"),
         "estimate_text": "15.02 [14.87, 15.18] (95% KDE mode, bootstrap)", "posts": "16.5", "note": "axes 1, 2"},
        {"name": "seed 1: radius KDE peak", "estimate": _est(15.05, 14.85, 15.18, method="KDE mode, bootstrap"),
         "estimate_text": "15.05 [14.85, 15.18] (95% KDE mode, bootstrap)", "posts": "16.5", "note": "axes 3"},
        {"name": "final reconstruction loss, AE (across runs)", "estimate": _est(646.67, 646.52, 646.83),
         "estimate_text": "646.67 [646.52, 646.83] (95% t over runs)", "posts": "4515", "note": ""},
        {"name": "VAE: random-z quality, real-image scorer", "estimate":
            _est(2 / 1001, float("-inf"), float("inf"), method="runs (no spread: distribution-free median)"),
         "estimate_text": "0.001998 [-inf, inf] (95% runs (no spread: distribution-free median))", "posts": None,
         "note": ""},
        {"name": "unpaired Boschloo p, one-sided", "estimate": _est(1.0, level=1.0, method="exact", n=None),
         "estimate_text": "1 [1, 1] (100% exact)", "posts": None, "note": ""},
    ]
    claim = {"id": "T1", "title": "A toy claim <b>bold</b>", "quote": "the posts say so", "source": "post XIII",
             "posts": {"final loss": "AE 4515"}, "generalises": None, "level": 0.975, "alpha": 0.05,
             "subclaims": [{"id": "T1a", "statement": "the peak matches", "primary": "radius peak ratio"},
                           {"id": "T1b", "statement": "the loss matches", "primary": "loss ratio"}]}
    models = [{"label": "ae z=256 seed=0", "flags": ["not converged"], "reasons": {"converged": "radius rising"}},
              {"label": "ae z=256 seed=1", "flags": [], "reasons": {}}]
    figure = {"title": "Training curves", "ncols": 2, "caption": "",
              "panels": [{"type": "lines", "title": "loss", "xlabel": "epoch",
                          "series": [{"label": "AE", "x": [1, 2, 3], "y": [3.0, 2.0, 1.5]}]}]}
    record = {"claim": claim, "test": "test_t1", "verdict": "refuted", "outcome": "failed", "reason": "",
              "subclaims": [], "checks": checks, "statistics": stats, "figures": [figure], "notes": ["a note"],
              "scale": record_scale, "models": models}
    summary = [{"id": "T1", "title": claim["title"], "generalises": None, "level": 0.975, "verdict": "refuted",
                "n_runs": 6, "flags": {"not converged": ["ae z=256 seed=0"]}, "scale": record_scale,
                "subclaims": [{"id": "T1a", "statement": "the peak matches", "verdict": "refuted",
                               "reason": checks[0]["reason"], "check": "radius peak ratio", "test": "test_t1"},
                              {"id": "T1b", "statement": "the loss matches", "verdict": "inconclusive",
                               "reason": "precondition failed: AE seed 0: not converged", "check": "loss ratio",
                               "test": "test_t1"}]}]
    env = {"scale": scale, "data": {"source": source, "path": None, "image_size": image_size,
                                    "train_images": n_train, "test_images": 2000, "fingerprint": "abc"},
           "epochs": epochs, "seeds": list(seeds), "backend": "tensorflow", "device": "cpu",
           "versions": {"keras": "3.15.1", "numpy": "2.4.6"},
           "model_seconds": {"train synthetic32-ae-z256-s0": 69.17, "load synthetic32-vae": 0.5},
           "posts_setting": posts_setting()}
    return {"run": {"name": "20261201-000000-cpu", "started": "2026-12-01T00:00:00", "duration_s": 12.0},
            "environment": env, "summary": summary, "records": [record],
            "tests": {"T1::test_t1": {"outcome": "failed", "verdict": "refuted", "duration": 1.0},
                      "T1::test_t2": {"outcome": "skipped", "verdict": "inconclusive", "duration": 2.0}}}


class Page(HTMLParser):
    """Tables in document order, each with whether it lies inside a <details>, its header
    cells and rows of cell texts; and the texts outside any <details>."""

    def __init__(self, html):
        super().__init__()
        self.tables, self.outside, self._stack, self._details = [], [], [], 0
        self._cell = None
        self.first_tag = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "details":
            self._details += 1
        elif tag == "table":
            self.tables.append({"in_details": self._details > 0, "head": [], "rows": [], "html_attrs": dict(attrs)})
            self._stack.append(self.tables[-1])
        elif tag == "tr" and self._stack:
            self._stack[-1]["rows"].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = [tag, ""]
        elif tag in ("div", "table", "h2") and not self.first_tag:
            self.first_tag.append(tag)

    def handle_endtag(self, tag):
        if tag == "details":
            self._details -= 1
        elif tag == "table" and self._stack:
            self._stack.pop()
        elif tag in ("td", "th") and self._stack and self._cell:
            kind, text = self._cell
            table = self._stack[-1]
            if kind == "th" and len(table["rows"]) == 1 and not table["head"][len(table["rows"][0]):]:
                table["head"].append(text.strip())
            table["rows"][-1].append(text.strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        if self._details == 0 and data.strip():
            self.outside.append(data.strip())


@pytest.fixture(scope="module")
def page():
    return render_html(results())


@pytest.fixture(scope="module")
def parsed(page):
    return Page(page)


def test_the_verdict_table_comes_first_with_scale_data_runs_and_health(parsed):
    first = parsed.tables[0]
    assert not first["in_details"]
    head = " | ".join(first["head"])
    for column in ("verdict", "ran at", "posts' setting", "runs", "health"):
        assert column in head
    claim_row = next(r for r in first["rows"] if r and r[0] == "T1")
    text = " | ".join(claim_row)
    assert "cpu · synthetic faces 32×32 · 12,000 train · z 256 · 12 ep · 3 runs/model" in text
    assert "full · CelebA 96×96 · 170,000 train · 24 ep · 4 runs/model" in text
    assert "6" in claim_row
    assert "not converged (1 model)" in text and "too few runs: 3/model (full: 4)" in text
    sub = next(r for r in first["rows"] if r and r[0] == "T1b")
    assert "inconclusive" in sub and "not converged (2 models)" in " | ".join(sub)
    folded = next(r for r in first["rows"] if r and "1 inconclusive" in " | ".join(r))
    assert "(T1b)" in " | ".join(folded)

    refuted = next(r for r in first["rows"] if r and r[0] == "T1a")
    assert "1.50 [1.40, 1.60] lies entirely outside [0.9, 1.1]" in " | ".join(refuted)  # the why, without the method


def test_inconclusive_sub_claim_rows_are_folded_under_one_line_per_claim(page):
    import re
    rows = re.findall(r"<tr( class=\"[a-z]+\")?><td class=\"small\">(T1[ab])</td>", page)
    assert rows == [("", "T1a"), (' class="open"', "T1b")]         # decided rows shown, the open one folded
    assert page.index('class="folded"') < page.index(">T1b</td>")
    assert "tbody:has(input.unfold:checked) tr.open{display:table-row}" in page


def test_a_banner_says_when_the_run_is_not_at_the_posts_setting(page):
    assert 'id="scale-banner"' in page and "Not the posts' setting" in page
    assert page.index('id="scale-banner"') < page.index('id="verdicts"')
    assert "Losses are sums over pixels (32×32 here, 96×96 in the posts)" in page
    at_posts = render_html(results(scale="full", source="celeba", image_size=96, n_train=170_000, epochs=24,
                                   seeds=(0, 1, 2, 3)))
    assert 'id="scale-banner"' not in at_posts
    row = next(r for r in Page(at_posts).tables[0]["rows"] if r and r[0] == "T1")
    assert "same" in row and not any("too few runs" in c for c in row)


def test_secondary_statistics_per_seed_values_and_the_environment_are_behind_details(parsed):
    outside = " ".join(parsed.outside)
    assert "radius peak ratio" in outside                 # the primary check
    for hidden in ("parameters: encoder", "Boschloo", "radius KDE peak", "model_seconds", "keras"):
        assert hidden not in outside, hidden
    seeds = next(t for t in parsed.tables if "seed 0" in t["head"])
    assert seeds["in_details"] and seeds["head"][:3] == ["statistic", "seed 0", "seed 1"]
    row = seeds["rows"][1]
    assert row[0] == "radius KDE peak" and row[1].startswith("15.02 [14.87, 15.18]")
    assert "axes 1, 2" in row[1] and "axes 3" in row[2]   # notes that differ stay with their seed


def test_exact_values_are_written_as_exact(page):
    assert "5,109,440" in page and "e+06" not in page
    assert not re.search(r"(-?[\d.,]+) \[\1, \1\]", page), "a degenerate interval"
    assert "[-inf, inf]" not in page


def test_saturated_values_and_losses_at_another_image_size_are_marked(page):
    assert "at the score&#39;s floor 2/1001" in page
    assert "at its ceiling (1)" in page                   # p = 1
    assert "the same in every run (3 runs): too few runs for an interval" in page
    assert ("summed over 32×32 = 1,024 pixels: 0.632 per pixel; the posts&#39; over 96×96 = 9,216: "
            "0.49 per pixel") in page


def test_the_environment_is_tables_not_json(parsed, page):
    env = [t for t in parsed.tables if t["in_details"] and any("model_seconds" in r[0] for r in t["rows"] if r)]
    assert env
    assert '{"' not in page and "{&#34;" not in page
    nested = next(t for t in parsed.tables if any(r[:1] == ["train synthetic32-ae-z256-s0"] for r in t["rows"]))
    assert ["train synthetic32-ae-z256-s0", "69.17"] in nested["rows"]


def test_the_tests_table_says_inconclusive(parsed):
    tests = next(t for t in parsed.tables if t["head"][:2] == ["test", "outcome"])
    outcomes = {r[0]: r[1] for r in tests["rows"][1:]}
    assert outcomes == {"T1::test_t1": "failed (refuted)", "T1::test_t2": "inconclusive"}


def test_the_page_is_escaped_and_offline(page):
    assert "A toy claim &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") + page.count("data:image/webp;base64,") == 1
    assert 'id="T1"' in page and 'href="#T1"' in page


def test_an_old_results_file_without_the_posts_setting_still_renders():
    old = copy.deepcopy(results())
    del old["environment"]["posts_setting"]
    assert "full · CelebA 96×96" in render_html(old)


def test_write_report_writes_both_files_and_points_latest(tmp_path):
    page = write_report(results(), tmp_path / "run1")
    assert page.read_text().startswith("<!doctype html>")
    assert json.loads((tmp_path / "run1" / "results.json").read_text())["run"]["name"] == "20261201-000000-cpu"
    assert (tmp_path / "latest").resolve() == (tmp_path / "run1").resolve()


@pytest.mark.parametrize("value, text", [(5109440.0, "5,109,440"), (3.0, "3"), (641.7123, "641.7"),
                                         (0.96028547, "0.9603"), (26735616.0, "26,735,616"),
                                         (3.784e-07, "3.784e-07"), (12345.678, "12,346"),
                                         (float("inf"), "∞"), (float("nan"), "—")])
def test_exact_numbers(value, text):
    assert exact(value) == text


def test_estimate_parts():
    assert estimate_parts(_est(2.0, level=1.0, method="exact count"), "2 [2, 2] (100% exact count)") == \
        {"value": "2", "how": "exact count", "marks": []}
    assert estimate_parts(_est(5.0, 4.8, 5.2), "5.00 [4.80, 5.20] (95% t over runs)")["value"] == "5.00 [4.80, 5.20]"
    nan = estimate_parts({"value": "nan", "low": 0.0, "high": "inf", "level": 0.95, "method": "exact", "n": 3},
                         "nan [0, inf] (95% exact)")
    assert nan["value"] == "— [0, ∞]" and nan["marks"] == ["no estimate"]


def user_results():
    """A user's claim (no posts' figures) on their own architecture and folder, with a mean
    passed as a float, an interval at n = 2 and three flagged models."""
    out = copy.deepcopy(results())
    rec, summary = out["records"][0], out["summary"][0]
    rec["claim"].update(posts={}, id="X1", title="my MLP learns my images")
    for c in rec["checks"]:
        c["posts"] = None
    rec["statistics"] = [
        {"name": "mean-image loss", "estimate": _est(0.29, level=1.0, method="no interval", n=None),
         "estimate_text": "0.29 [0.29, 0.29] (100% no interval)", "posts": None, "note": ""},
        {"name": "held-out / mean ratio", "estimate": _est(0.29, 0.0, 17027.03, n=2),
         "estimate_text": "0.29 [0.00, 17027.03] (95% t over runs)", "posts": None, "note": ""}]
    rec["ran"] = {"source": "folder", "path": "/data/digits", "image_size": 32, "train_images": 1437,
                  "architecture": "mlp", "kind": "vae", "z_dim": 2, "epochs": 40, "runs_per_model": 2,
                  "models": 2, "precision": "float32", "backend": "tensorflow"}
    labels = [f"mlp vae z=2 fact=1e-05 seed={s}" for s in range(3)]
    rec["models"] = [{"label": x, "flags": ["not converged"], "reasons": {"converged": "loss falling"}} for x in labels]
    summary.update(id="X1", title="my MLP learns my images", flags={"not converged": labels})
    for s in summary["subclaims"]:
        s["id"] = s["id"].replace("T1", "X1")
    return out


def test_a_users_claim_shows_the_users_setting_and_no_posts():
    page = render_html(user_results())
    first = Page(page).tables[0]
    assert not any("posts' setting" in h for h in first["head"])
    assert 'id="scale-banner"' not in page
    row = " | ".join(next(r for r in first["rows"] if r and r[0] == "X1"))
    assert "folder 32×32 · 1,437 train · architecture mlp · z 2 · 40 ep · 2 runs/model" in row
    assert "12 ep" not in row and "z 256" not in row
    assert all(f"seed={s}" in row for s in range(3))        # every flagged model named


def test_floats_are_not_exact_and_uninformative_intervals_say_so():
    page = render_html(user_results())
    assert '0.29</span> <span class="how">(no interval)' in page
    assert "(exact)" not in page.split("mean-image")[1][:200]
    assert "0.29 · too few runs to bound (n=2)" in page and "17027" not in page


def test_long_lists_of_flagged_models_are_folded():
    out = user_results()
    labels = [f"mlp vae z=2 fact=1e-05 seed={s}" for s in range(6)]
    out["summary"][0]["flags"] = {"not converged": labels}
    page = render_html(out)
    assert "6 models flagged</summary>" in page and all(x in page for x in labels)


def test_the_tally_opens_the_page(page):
    assert re.search(r'<p class="tally" id="tally">1 claim: 0 supported, 1 refuted, 0 inconclusive</p>', page)
    assert page.index('id="tally"') < page.index('id="verdicts"')


def test_a_budget_set_by_an_option_is_shown_and_is_not_the_posts_setting():
    posts = results(scale="full", source="celeba", image_size=96, n_train=170_000, epochs=48, seeds=(0, 1, 2, 3))
    posts["environment"]["budget"] = {"epochs": 48, "runs_per_model": 4, "runs_per_arm": 14,
                                      "epochs_from": "--vaebench-epochs", "runs_from": "scale"}
    page = render_html(posts)
    assert 'id="scale-banner"' in page and "48 ep (--vaebench-epochs)" in page
    assert "4 runs/model (--vaebench-runs)" not in page
