"""The example of hypotheses/README.md ("Your own architecture and data"), run as written:
its conftest.py registers an MLP, its claim module trains it through the store on a
folder of generated images at the smoke scale; a second run loads the models and trains
nothing, a docstring change of the builders too, a behaviour change trains again."""
import json
import re
from pathlib import Path

# imported here so that pytester's in-process runs do not import them a second time
import matplotlib.pyplot  # noqa: F401
import pytest
from celeba_layout import write_face

import vaebench.claims.evaluate  # noqa: F401
import vaebench.claims.record  # noqa: F401
import vaebench.claims.session  # noqa: F401
import vaebench.report.claim_page  # noqa: F401
from vaebench.models import registry as architectures

README = Path(__file__).resolve().parent.parent / "hypotheses" / "README.md"


def example_files() -> dict[str, str]:
    """The README's example: ``{file name: source}`` of its python blocks that start with
    ``# <file name>``, in its section "Your own architecture and data"."""
    section = README.read_text().split("## Your own architecture and data", 1)[1]
    files = dict(re.findall(r"```python\n# ((?:conftest|test_\w+)\.py)\n(.*?)```", section, flags=re.S))
    assert set(files) == {"conftest.py", "test_x1_mlp_autoencoder.py"}, sorted(files)
    return files


def test_the_readme_claim_module_is_at_most_60_lines():
    module = "# test_x1_mlp_autoencoder.py\n" + example_files()["test_x1_mlp_autoencoder.py"]
    assert len(module.splitlines()) <= 60, len(module.splitlines())
    assert "from vaebench import claims" in module and "claims.excess_loss" in module


@pytest.fixture
def registry(monkeypatch):
    """The architecture registry, restored after the test (the example registers "mlp")."""
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))


@pytest.fixture
def pictures(tmp_path):
    """100 small pictures (40x36 JPEGs: the reader crops and resizes them to 32x32)."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i in range(100):
        write_face(folder / f"picture{i:03d}.jpg", i, size=(40, 36))
    return folder


@pytest.mark.slow
def test_the_readme_example_trains_through_the_store(pytester, pictures, tmp_path, registry, monkeypatch):
    monkeypatch.delenv("VAEBENCH_DATA", raising=False)
    files = example_files()
    store = tmp_path / "store"
    pytester.makeconftest(files["conftest.py"])
    pytester.makepyfile(test_x1_mlp_autoencoder=files["test_x1_mlp_autoencoder.py"])

    def run(reports: str):
        result = pytester.runpytest("--vaebench-data", f"folder:{pictures}", "--vaebench-scale", "smoke",
                                    "--vaebench-store", str(store), "--vaebench-report", reports,
                                    "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        env = json.loads((pytester.path / reports / "latest" / "results.json").read_text())["environment"]
        trained = sorted(k for k in env["model_seconds"] if k.startswith("train "))
        return result, env, trained

    def entries():
        return {p.name: p.stat().st_mtime_ns for p in (store / "models").iterdir() if not p.name.startswith(".")}

    first, env, trained = run("reports1")
    assert env["data"]["source"] == "folder" and env["data"]["path"] == str(pictures)
    assert (env["data"]["train_images"], env["data"]["test_images"]) == (80, 20)
    made = entries()
    assert sorted(n.rsplit("-", 1)[0] for n in made) == ["folder32-mlp-ae-z8-s0", "folder32-mlp-ae-z8-s1"]
    assert len(trained) == 1 and all(n in trained[0] for n in made)      # one pack of the two seeds
    first.stdout.fnmatch_lines(["*X1 *", "*X1a*", "*X1b*"])
    spec = json.loads((store / "models" / next(iter(made)) / "spec.json").read_text())
    assert spec["model"]["architecture"] == "mlp"
    assert not {"filters", "batchnorm", "activation"} & set(spec["model"])     # the posts' stack does not apply
    assert spec["model"]["not_applicable"] == {"batchnorm": False}
    results = json.loads((pytester.path / "reports1" / "latest" / "results.json").read_text())
    assert results["records"][0]["ran"] == {
        "source": "folder", "path": str(pictures), "image_size": 32, "train_images": 80, "architecture": "mlp",
        "kind": "ae", "z_dim": 8, "epochs": 2, "runs_per_model": 2, "models": 2, "precision": "float32",
        "backend": env["backend"]}
    page = (pytester.path / "reports1" / "latest" / "index.html").read_text()
    assert "folder 32×32 · 80 train · architecture mlp · z 8 · 2 ep · 2 runs/model" in page
    assert 'id="scale-banner"' not in page and "the posts&#39; setting, where different" not in page
    assert spec["key"]["architecture_fingerprint"] == architectures.fingerprint("mlp")

    _, env, trained = run("reports2")                                   # the same again: loaded
    assert trained == [] and entries() == made
    assert sorted(k for k in env["model_seconds"] if k.startswith("load ")) == sorted(f"load {n}" for n in made)

    pytester.makeconftest(files["conftest.py"].replace('"""Flatten -> Dense(HIDDEN)', '"""Flatten, then Dense(HIDDEN)')
                          .replace("# the width of the hidden layer", "# how wide the hidden layer is"))
    _, _, trained = run("reports3")                                     # docstrings and comments: loaded
    assert trained == [] and entries() == made

    edited = files["conftest.py"].replace("HIDDEN = 256", "HIDDEN = 128")
    assert edited != files["conftest.py"]
    pytester.makeconftest(edited)
    fourth, _, trained = run("reports4")                                # a behaviour change: trained again
    assert len(trained) == 1
    assert "architecture 'mlp' registered again with other code" in fourth.stdout.str()
    now = entries()
    assert set(made) < set(now) and len(now) == 4
