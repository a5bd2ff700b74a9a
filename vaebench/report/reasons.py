"""Reasons in few words: the per-model reasons of a precondition or a health flag
("ae z=256 seed=0: not converged: probe radius rising 3.2% per epoch; ae z=256 seed=1: not
converged: probe radius rising 4.3% per epoch") grouped by what went wrong, with the
numbers that differ given as ranges ("2 models: not converged (probe radius rising
3.2–4.3% per epoch)"); and text cut at a word, never inside one. Shapes text only."""
from __future__ import annotations

import re
import textwrap

__all__ = ["group_reasons", "models_by_kind", "headline", "wrap"]

#: what went wrong with a model, as :mod:`vaebench.claims.health` words it
KINDS = ("not converged", "convergence unknown", "posterior collapse", "collapsed", "training stopped",
         "non-finite loss in its history", "non-finite", "stopped")
_KIND = "(?:" + "|".join(map(re.escape, KINDS)) + ")"
_ITEM = re.compile(r"(?:^|: )(?P<label>[^:;]+?): (?P<kind>" + _KIND + "(?:, " + _KIND + r")*)"
                   r"(?::\s*(?P<detail>.*)| \((?P<inner>.*)\))?$")
#: what a check's reason adds after its precondition (kept whole, after the groups)
_TAIL = re.compile(r" \(the interval alone: .*\)$")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def _split(text: str) -> list[str]:
    """``text`` split at each "; " outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith("; ", i):
            parts.append(text[start:i])
            start = i + 2
    return parts + [text[start:]]


def _items(reason: str) -> tuple[str, list[tuple[str, str, str]]]:
    """``(prefix, [(label, kind, detail), ...])`` of a "; "-joined reason; parts that name
    no model continue the detail of the model before them."""
    prefix, items = "", []
    for part in _split(reason):
        m = _ITEM.search(part)
        if m is None:
            if items:
                label, kind, detail = items[-1]
                items[-1] = (label, kind, f"{detail}; {part}" if detail else part)
            else:
                prefix = f"{prefix}; {part}" if prefix else part
            continue
        if not items and m.start() > 0:
            prefix = f"{prefix}; {part[:m.start()]}" if prefix else part[:m.start()]
        detail = m.group("detail") if m.group("detail") is not None else m.group("inner")
        items.append((m.group("label").strip(), m.group("kind"), (detail or "").strip()))
    return prefix, items


def _span(values: list[str]) -> str:
    numbers = sorted({float(v) for v in values})
    if len(numbers) == 1:
        return values[0]
    low, high = (next(v for v in values if float(v) == x) for x in (numbers[0], numbers[-1]))
    return f"{low}–{high}"


def _merge_details(details: list[str]) -> str:
    """The "; "-separated pieces of ``details`` grouped by their text without numbers, each
    group's numbers as ranges; the groups joined by "; "."""
    groups: dict[str, list[list[str]]] = {}
    for piece in (p for d in details for p in d.split("; ")):
        groups.setdefault(_NUMBER.sub("#", piece), []).append(_NUMBER.findall(piece))
    out = []
    for template, numbers in groups.items():
        pieces = template.split("#")
        text = pieces[0]
        for i, piece in enumerate(pieces[1:]):
            text += _span([n[i] for n in numbers]) + piece
        out.append(text)
    return "; ".join(t for t in out if t)


def group_reasons(reason: str) -> str:
    """``reason`` with its per-model parts grouped by kind (see the module docstring); a
    reason that names no model is returned as it is."""
    tail = _TAIL.search(reason or "")
    prefix, items = _items(reason[:tail.start()] if tail else reason or "")
    if not items:
        return reason or ""
    kinds: dict[str, list[tuple[str, str]]] = {}
    for label, kind, detail in items:
        kinds.setdefault(kind, []).append((label, detail))
    parts = []
    for kind, found in kinds.items():
        labels = list(dict.fromkeys(label for label, _ in found))
        who = labels[0] if len(labels) == 1 else f"{len(labels)} models"
        detail = _merge_details([d for _, d in found if d])
        parts.append(f"{who}: {kind}" + (f" ({detail})" if detail else ""))
    return (f"{prefix}: " if prefix else "") + "; ".join(parts) + (tail.group() if tail else "")


def models_by_kind(reason: str) -> dict[str, list[str]]:
    """``{kind: [model labels]}`` of the models a reason names (empty when it names none)."""
    out: dict[str, list[str]] = {}
    for label, kind, _ in _items(reason or "")[1]:
        if label not in out.setdefault(kind, []):
            out[kind].append(label)
    return out


def headline(text: str, width: int = 40) -> str:
    """The start of a reason, up to its first ": " and at most ``width`` characters, cut at
    a word ("precondition failed", "1.50 [1.40, 1.60] lies entirely outside …")."""
    head = text.split(": ", 1)[0]
    return head if len(head) <= width else wrap(head, width - 1)[0] + "…"


def wrap(text: str, width: int = 110, indent: str = "") -> list[str]:
    """``text`` as lines of at most ``width`` characters, broken between words (a word
    longer than a line is kept whole); later lines start with ``indent``."""
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [""]
