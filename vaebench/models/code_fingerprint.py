"""Fingerprints of the code that builds and trains a model: the code part of every model
store key (:mod:`vaebench.store`).

The abstract syntax tree of a module, or of some of its top-level definitions,
with every docstring (and every other bare string statement) removed, dumped without
line numbers. Comments, docstrings, blank lines and formatting never reach that dump, so
changing them keeps the fingerprint; any change of what the code does (a constant, an
operator, a call, a default value, a new statement) changes it. The dump follows the
Python version's AST, so a new Python version may give a new fingerprint: a retrain,
never a stale model.

A function or class (a user's encoder or decoder builder, :mod:`vaebench.models.registry`):
:func:`object_fingerprint` reads the source file of the function's module and
fingerprints, the same way, the function's definition together with every top-level
function, class and assignment of that module it uses by name, and those they use, and
so on. A helper it calls or a constant it reads (``HIDDEN = 256``) counts; the rest of
the module (tests, fixtures) does not. Code it imports from other modules and values
computed at run time do not count either: register them with the builders
(``register_architecture(..., code=(module, ...))``, :func:`object_fingerprint`) when
they change what is built.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path
from typing import Any, Sequence

from vaebench.data.fingerprint import combine
from vaebench.errors import SpecError, require

#: where the walk of :func:`code_parts` starts: every module of these packages (whatever
#: modules they hold now) and these modules
ROOT_PACKAGES = ("vaebench.train",)
ROOT_MODULES = ("vaebench.models.vae", "vaebench.models.posts_conv")


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with every bare string statement (docstrings, ``#:``-style attribute
    strings) removed; an emptied body becomes ``pass``."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or not body or not isinstance(body[0], ast.AST):
                continue
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            if len(kept) != len(body):
                setattr(node, field, kept or ([ast.Pass()] if field == "body" else []))
    return tree


def _name_of(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name
    return None


def source_fingerprint(text: str, names: Sequence[str] | None = None, where: str = "<source>") -> str:
    """The behaviour fingerprint of Python source ``text`` (module docstring): of the whole
    module, or of its top-level classes/functions called ``names``."""
    tree = _without_docstrings(ast.parse(text))
    assert isinstance(tree, ast.Module)
    if names is None:
        return _digest([tree])
    found = {_name_of(n): n for n in tree.body if _name_of(n) in names}
    missing = [n for n in names if n not in found]
    require(not missing, f"{where} defines no top-level {missing}; fingerprint the names a module defines", SpecError)
    return _digest([found[n] for n in names])


def _assigned(node: ast.stmt) -> list[str]:
    """The names a top-level assignment binds (``A = B = 1``, ``a, b = ...``, ``A: int = 1``)."""
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _definitions(tree: ast.Module) -> dict[str, list[ast.stmt]]:
    """Top-level name -> the statements that define or assign it, in source order."""
    out: dict[str, list[ast.stmt]] = {}
    for node in tree.body:
        names = [_name_of(node)] if _name_of(node) else _assigned(node)
        for name in names:
            out.setdefault(name, []).append(node)
    return out


def _used_definitions(tree: ast.Module, name: str) -> list[ast.stmt]:
    """The top-level statements of ``tree`` that the definition of ``name`` needs: its own
    and those of every top-level function, class or assignment it uses by name, transitively;
    in source order."""
    defined = _definitions(tree)
    seen: dict[int, ast.stmt] = {}
    todo = [name]
    while todo:
        for node in defined.get(todo.pop(), []):
            if id(node) in seen:
                continue
            seen[id(node)] = node
            todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in defined]
    order = {id(n): i for i, n in enumerate(tree.body)}
    return sorted(seen.values(), key=lambda n: order[id(n)])


def _readable_source(obj: Any, what: str) -> tuple[str, str]:
    """``(path, text)`` of the source file of a module, function or class."""
    try:
        path = inspect.getsourcefile(obj)
        text = Path(path).read_text(encoding="utf-8") if path else None
    except (TypeError, OSError):
        path, text = None, None
    require(text is not None, f"{what}={obj!r}: its source file cannot be read, so what it does cannot be "
            "fingerprinted for the model store; define it in a .py file (a conftest.py, a module)", SpecError)
    return str(path), text


def _digest(nodes: Sequence[ast.AST]) -> str:
    return hashlib.blake2b("\n".join(ast.dump(n, include_attributes=False) for n in nodes).encode(),
                           digest_size=16).hexdigest()


def object_fingerprint(obj: Any, what: str = "code") -> str:
    """The behaviour fingerprint of a module (its whole source) or of a function or class
    defined at the top level of a module (its definition and the top-level definitions of
    its module it uses, transitively); docstrings removed either way. Anything
    else (a lambda, a nested function, a method, a callable object, code without a .py
    file) is a :class:`SpecError`: its source cannot be fingerprinted."""
    if inspect.ismodule(obj):
        path, text = _readable_source(obj, what)
        return source_fingerprint(text, None, path)
    require((inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__name__ != "<lambda>"
            and obj.__qualname__ == obj.__name__,
            f"{what}={obj!r} must be a function (or class) defined at the top level of a module, not a lambda, a "
            "nested function, a method or a callable object, so that its source can be fingerprinted", SpecError)
    path, text = _readable_source(obj, what)
    tree = _without_docstrings(ast.parse(text))
    assert isinstance(tree, ast.Module)
    require(obj.__name__ in _definitions(tree), f"{what}={obj.__name__!r} is not defined at the top level of {path}; "
            "define it there (or the file changed since it was imported: run again)", SpecError)
    return _digest(_used_definitions(tree, obj.__name__))


def _source(module: str) -> tuple[str, str]:
    """``(path, text)`` of an importable module's source file."""
    return _readable_source(importlib.import_module(module), module)


def root_modules() -> list[str]:
    """Every module of :data:`ROOT_PACKAGES` (found on disk, so a module added there counts
    without a change here) and :data:`ROOT_MODULES`."""
    out = set(ROOT_MODULES)
    for package in ROOT_PACKAGES:
        pkg = importlib.import_module(package)
        out.add(package)
        out.update(m.name for m in pkgutil.walk_packages(pkg.__path__, package + "."))
    return sorted(out)


@functools.lru_cache(maxsize=None)
def _parsed(module: str) -> tuple[ast.Module, bool]:
    """The docstring-free syntax tree of ``module`` (read by :func:`_source`) and whether it is a package."""
    path, text = _source(module)
    tree = _without_docstrings(ast.parse(text))
    assert isinstance(tree, ast.Module)
    return tree, Path(path).name == "__init__.py"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _imported(node: ast.AST, module: str, is_package: bool) -> dict[str, list[tuple[str, str | None]]]:
    """Bound name -> the ``(module, name or None)`` it imports from vaebench, for every
    import statement in ``node`` (relative imports resolved against ``module``)."""
    out: dict[str, list[tuple[str, str | None]]] = {}
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.name.split(".")[0] == "vaebench":
                    out.setdefault(a.asname or a.name.split(".")[0], []).append((a.name, None))
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                parts = module.split(".")[: len(module.split(".")) - stmt.level + (1 if is_package else 0)]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] == "vaebench":
                for a in stmt.names:
                    out.setdefault(a.asname or a.name, []).append((base, None if a.name == "*" else a.name))
    return out


def _walk_code(roots: Sequence[str]) -> tuple[set[str], dict[str, list[ast.stmt]]]:
    """The vaebench code reachable from the modules ``roots`` by their imports, lazy ones
    too: modules taken whole (imported as modules) and the top-level definitions taken by
    name (``from M import f``: ``f`` and what it uses of ``M``, and what that imports)."""
    whole: set[str] = set()
    picked: dict[str, dict[int, ast.stmt]] = {}
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = [(m, None) for m in roots]
    while todo:
        module, name = item = todo.pop()
        if item in seen:
            continue
        seen.add(item)
        tree, is_package = _parsed(module)
        if name is not None and is_package and _is_module(f"{module}.{name}"):
            todo.append((f"{module}.{name}", None))
            continue
        bound = _imported(ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))],
                                     type_ignores=[]), module, is_package)
        defs = [] if name is None or name in bound else _used_definitions(tree, name)
        if name is None or (name not in bound and not defs):   # a module, or a name it binds otherwise
            whole.add(module)
            todo += [i for items in _imported(tree, module, is_package).values() for i in items]
            continue
        if name in bound:   # re-exported (a package's __init__): follow it
            todo += bound[name]
            continue
        picked.setdefault(module, {}).update({id(n): n for n in defs})
        used = {n.id for d in defs for n in ast.walk(d) if isinstance(n, ast.Name)}
        todo += [i for bound_name, items in bound.items() if bound_name in used for i in items]
        todo += [i for d in defs for items in _imported(d, module, is_package).values() for i in items]
    order = {m: {id(n): i for i, n in enumerate(_parsed(m)[0].body)} for m in picked}
    return whole, {m: sorted(nodes.values(), key=lambda n: order[m][id(n)]) for m, nodes in picked.items()
                   if m not in whole}


def code_parts() -> dict[str, str]:
    """Module -> the fingerprint of what the key takes of it: the modules that build and
    train models (:func:`root_modules`) and all vaebench code they import, transitively."""
    whole, picked = _walk_code(root_modules())
    parts = {m: _digest([_parsed(m)[0]]) for m in whole}
    parts.update({f"{m}:{','.join(sorted(filter(None, map(_name_of_any, nodes))))}": _digest(nodes)
                  for m, nodes in picked.items()})
    return dict(sorted(parts.items()))


def _name_of_any(node: ast.stmt) -> str:
    return _name_of(node) or ",".join(_assigned(node))


@functools.lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """The fingerprint of the code that builds and trains models (:func:`code_parts`): 16 hex
    digits, computed once per process from the source files of the modules."""
    _parsed.cache_clear()   # read afresh (a test may have edited what _source reads)
    return combine(*(f"{k}:{v}" for k, v in code_parts().items()))[:16]
