"""CelebA from the command line, end to end, at the smoke scale: ``vaebench train --data
celeba:DIR`` trains through the store, then a claim run with ``pytest --vaebench-data
celeba:DIR`` loads that model, and results.json and the report name the data and its skips."""
import json

# imported here so that pytester's in-process run does not import them a second time
import matplotlib.pyplot  # noqa: F401
import pytest
from celeba_layout import CMYK, GREY, TINY, TRUNCATED, UNLISTED, make_celeba

import vaebench.claims.record  # noqa: F401
import vaebench.claims.session  # noqa: F401
import vaebench.report.claim_page  # noqa: F401
from vaebench.cli import commands as cli

CLAIM_ON_CELEBA = '''
from vaebench.claims.record import Claim
from vaebench.stats import Estimate, SubClaim, check_within

CLAIM = Claim(id="D1", title="the AE trained on the user's CelebA loads", quote="q", source="s",
              subclaims=(SubClaim("D1a", "its training loss is finite", "final loss"),))


def test_on_celeba(claim, scale, trained, datasets, vaebench_session):
    train_set, test_set = datasets
    model = trained(scale.ae(), 0)
    assert model.entry.name.startswith("celeba32-ae-z32-s0-")
    assert not [k for k in vaebench_session.timings if k.startswith("train ")]    # from the store
    loss = model.history["loss"][-1]
    claim.check(check_within("final loss", Estimate(loss, loss - 1, loss + 1), 0, 1e9, role="primary",
                             subclaim="D1a", unit="runs", n_runs=1))
'''


@pytest.fixture
def celeba(tmp_path):
    return make_celeba(tmp_path / "celeba", n=100)


@pytest.mark.slow
def test_celeba_from_the_command_line(tmp_path, celeba, capsys, pytester, monkeypatch):
    monkeypatch.delenv("VAEBENCH_DATA", raising=False)
    store = tmp_path / "store"
    code = cli.main(["train", "--scale", "smoke", "--data", f"celeba:{celeba}", "--store", str(store),
                     "--kind", "ae", "--seed", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    # train + valid (70 + 10, one unlisted, two bad: 77), the test partition (20)
    assert "celeba32-ae-z32-s0-" in out and "2/2 epochs" in out
    assert f"data: celeba:{celeba} 32px, 77 train / 20 test images, fingerprint " in out
    assert "2 files skipped, 2 converted to RGB" in out

    pytester.makepyfile(test_claim_on_celeba=CLAIM_ON_CELEBA)
    result = pytester.runpytest("--vaebench-data", f"celeba:{celeba}", "--vaebench-scale", "smoke",
                                "--vaebench-store", str(store), "--vaebench-report", "reports",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"data: celeba:{celeba} 32px, 77 train / 20 test images, fingerprint *, "
                                 "2 files skipped, 2 converted to RGB"])
    latest = pytester.path / "reports" / "latest"
    data = json.loads((latest / "results.json").read_text())["environment"]["data"]
    assert (data["source"], data["path"], data["image_size"]) == ("celeba", str(celeba), 32)
    assert (data["train_images"], data["test_images"]) == (77, 20) and len(data["fingerprint"]) == 32
    skipped = dict(data["skipped"])
    assert set(skipped) == {TRUNCATED, TINY} and data["skipped_count"] == 2
    assert skipped[TINY] == "too small (20x24 < 32)" and skipped[TRUNCATED].startswith("unreadable")
    assert dict(data["converted"]) == {CMYK: "CMYK converted to RGB", GREY: "greyscale (L) converted to RGB"}
    assert any("not listed in" in n and UNLISTED in n for n in data["notes"])
    page = (latest / "index.html").read_text()
    for needle in (">Data</h2>", str(celeba), TRUNCATED, TINY, "too small (20x24 &lt; 32)", CMYK, UNLISTED,
                   data["fingerprint"]):
        assert needle in page, needle
