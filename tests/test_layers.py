"""The package's layering (docs/architecture.md): no module imports from a layer above its own.

Every import counts, at the top of a module or inside a function: a lazy import is still a
dependency. Subpackages are the layers, in the order of the flow data -> models -> train ->
store -> claims -> report -> compare -> bench -> plugin/cli; the foundation modules
(errors, progress, atomic, backend) sit below them all."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vaebench

PACKAGE = Path(vaebench.__file__).resolve().parent

#: layer of each top-level part of the package, lowest first (docs/architecture.md)
LAYERS = {
    "__init__": 0, "errors": 0, "progress": 0, "atomic": 0, "backend": 0,
    "config": 1,
    "stats": 2,
    "latent": 3,
    "data": 4,
    "models": 5,
    "train": 6,
    "store": 7,
    "claims": 8,
    "report": 9,
    "compare": 10,
    "bench": 11,
    "pytest_plugin": 12,
    "cli": 13,
}


def part_of(module: str) -> str:
    """``'vaebench.store.plan'`` -> ``'store'``; ``'vaebench'`` -> ``'__init__'``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imported(path: Path, name: str) -> set[str]:
    """The vaebench modules ``path`` (module ``name``) imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "vaebench"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "vaebench":
                continue
            out.add(base)
            if base == "vaebench":  # from vaebench import stats
                out |= {f"vaebench.{a.name}" for a in node.names}
    return out


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(module_name(p)) for p in modules()}
    assert parts <= set(LAYERS), f"give {sorted(parts - set(LAYERS))} a layer here and in docs/architecture.md"


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p))
def test_no_module_imports_from_a_layer_above(path):
    name = module_name(path)
    own = LAYERS[part_of(name)]
    above = sorted(m for m in imported(path, name) if LAYERS.get(part_of(m), -1) > own)
    assert not above, f"{name} (layer {own}) imports {above} from a layer above it"


def test_the_checker_sees_a_violation(tmp_path):
    """The rule can fail: a planted lazy import of the plugin from stats is found."""
    fake = PACKAGE / "stats" / "estimate.py"
    text = "def f():\n    from vaebench.pytest_plugin import hooks\n    from ..cli import main\n"
    planted = tmp_path / "estimate.py"
    planted.write_text(text)
    got = imported(planted, "vaebench.stats.estimate")
    assert {"vaebench.pytest_plugin", "vaebench.cli"} <= got
    assert all(LAYERS[part_of(m)] > LAYERS["stats"] for m in got)
    assert fake.exists()
