"""Nested entries → readable notation: one line per top-level submodule, blocks as ``def``s.

- Every top-level child of the module gets one line, ending in ``# child.path`` (work done
  in the root's own ``forward`` gets ``# forward``); the children of a top-level dict of
  stages (torchvision's ``IntermediateLayerGetter``) get one each; a head leaving the main
  path gets the line of the modules it runs.
- A block is a run of entries inside one instance of a user-defined module class (not a
  ``torch.nn`` class; the outermost one below the root): ResNet's ``Bottleneck``,
  MobileNet's ``InvertedResidual``. The instances of a class with the same structure share
  one ``def``: the numbers that differ between instances become its parameters (numbers
  that always differ together share one), so ResNet-50 reads as 16 calls, not 160 layers.
- Consecutive identical calls or layers become a repeat: ``bottleneck(64, 256)x2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from torch import nn

from ..dims import size_symbol
from ..layers import (FC, SE, AdaptiveAvgPool, Branches, Conv, Pool, Repeat)
from .structure import Entry

__all__ = ["emit"]

_NAMES = "aefijklmqrstuvwyz"  # not x (the repeat sign), nor option letters b d g n p


def _record(e: Entry):
    if e.kind == "layer" or e.kind == "se":
        return e.layer
    return Branches(e.kind, tuple(tuple(_record(x) for x in b) for b in e.branches),
                    inplace=e.kind == "add" and e.op.inplace)


def _common(paths: list[str]) -> str:
    parts = [p.split(".") if p else [] for p in paths]
    out = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        out.append(level[0])
    return ".".join(out)


def _custom(m: nn.Module) -> bool:
    return not type(m).__module__.startswith("torch.")


def _block_of(e: Entry, root: nn.Module) -> str | None:
    """The outermost user-defined module (below the root and below a top-level dict of
    stages) that holds all of ``e``."""
    path = _common([op.module for op in e.ops()])
    parts = path.split(".") if path else []
    for i in range(1, len(parts) + 1):
        p = ".".join(parts[:i])
        try:
            m = root.get_submodule(p)
        except AttributeError:
            return None
        if _custom(m) and not (i == 1 and isinstance(m, nn.ModuleDict)):
            return p
    return None


def _top(e: Entry, root: nn.Module) -> str:
    """The line ``e`` goes on: its top-level submodule, or the stage below a top-level dict
    of stages (torchvision's IntermediateLayerGetter: ``backbone.layer3``). A head goes on
    the line of the modules it runs (``aux_classifier``), not of the forward that calls
    them."""
    modules = [op.module for op in e.ops()]
    if e.kind == "head":
        modules = [m for m in modules if m] or modules
    parts = _common(modules).split(".")
    if parts[0] and len(parts) > 1 and isinstance(root.get_submodule(parts[0]), nn.ModuleDict):
        return ".".join(parts[:2])
    return parts[0]


# ------------------------------------------------------------------ anti-unification

_SLOTS = {Conv: ("kernel", "filters", "stride", "padding", "dilation", "groups"),
          Pool: ("kernel", "stride", "padding"), AdaptiveAvgPool: ("output",),
          FC: ("units",), SE: ("squeeze",)}


def _runs(records) -> tuple:
    """Runs of equal records as repeats: DenseNet's six identical layers are ``(…)x6``."""
    out, i = [], 0
    while i < len(records):
        j = i
        while j + 1 < len(records) and records[j + 1] == records[i]:
            j += 1
        out.append(records[i] if j == i else Repeat((records[i],), j - i + 1))
        i = j + 1
    return tuple(out)


def _split(rec):
    """(skeleton, values): the record with every number replaced by a slot marker."""
    if isinstance(rec, Repeat):
        parts = [_split(r) for r in rec.body]
        return ("repeat", tuple(s for s, _ in parts)), \
            [rec.count] + [v for _, vs in parts for v in vs]
    if isinstance(rec, Branches):
        parts = [[_split(r) for r in b] for b in rec.branches]
        skel = ("branches", rec.op, rec.inplace, tuple(tuple(s for s, _ in b) for b in parts))
        return skel, [v for b in parts for _, vs in b for v in vs]
    slots = _SLOTS.get(type(rec), ())
    values, shape = [], []
    for f in fields(rec):
        if f.name in ("line", "column"):
            continue
        v = getattr(rec, f.name)
        if f.name in slots and isinstance(v, tuple):
            values += list(v)
            shape.append((f.name, "pair"))
        elif f.name in slots and isinstance(v, int) and not isinstance(v, bool):
            values.append(v)
            shape.append((f.name, "int"))
        else:
            shape.append((f.name, v))
    return (type(rec).__name__, tuple(shape)), values


def _fill(rec, values: list):
    """``rec`` with its slots taken, in order, from ``values`` (numbers or symbols)."""
    if isinstance(rec, Repeat):
        count = values.pop(0)
        return replace(rec, count=count, body=tuple(_fill(r, values) for r in rec.body))
    if isinstance(rec, Branches):
        return replace(rec, branches=tuple(tuple(_fill(r, values) for r in b)
                                           for b in rec.branches))
    slots = _SLOTS.get(type(rec), ())
    changes = {}
    for f in fields(rec):
        v = getattr(rec, f.name)
        if f.name in slots and isinstance(v, tuple):
            changes[f.name] = (values.pop(0), values.pop(0))
        elif f.name in slots and isinstance(v, int) and not isinstance(v, bool):
            changes[f.name] = values.pop(0)
    return replace(rec, **changes)


@dataclass
class _Def:
    name: str
    template: tuple          # the first instance's records
    instances: list          # value lists, one per instance
    params: list = None      # slot index → parameter index, or None (a constant)
    names: list = None

    def solve(self) -> None:
        columns = list(zip(*self.instances))
        self.params, self.names, seen = [], [], {}
        for col in columns:
            if len(set(col)) == 1:
                self.params.append(None)
                continue
            if col not in seen:
                i = len(seen)
                seen[col] = i
                self.names.append(_NAMES[i] if i < len(_NAMES) else f"p{i}")
            self.params.append(seen[col])

    def args(self, values) -> tuple[int, ...]:
        out = [None] * len(self.names)
        for v, p in zip(values, self.params):
            if p is not None:
                out[p] = v
        return tuple(out)

    def text(self) -> str:
        symbols = [size_symbol(n) for n in self.names]
        values = [self.instances[0][i] if p is None else symbols[p]
                  for i, p in enumerate(self.params)]
        body = " ".join(str(_fill(r, values)) for r in self.template)
        return f"def {self.name}({', '.join(self.names)}) = ({body})"


def _identifier(cls: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "", cls).lower().lstrip("_") or "block"
    return name if not name[0].isdigit() else f"b{name}"


# ------------------------------------------------------------------ the text

def _repeats(tokens: list[tuple[object, str]]) -> list[str]:
    """Runs of equal tokens as ``tokenxN`` (a record's own repeat form where it has one)."""
    out, i = [], 0
    while i < len(tokens):
        j = i
        while j + 1 < len(tokens) and tokens[j + 1][1] == tokens[i][1]:
            j += 1
        rec, text = tokens[i]
        n = j - i + 1
        if n == 1:
            out.append(text)
        elif rec is None:  # a call
            out.append(f"{text}x{n}")
        else:
            out.append(str(Repeat((rec,), n)))
        i = j + 1
    return out


def emit(entries: list[Entry], root: nn.Module, channels: int) -> tuple[str, tuple]:
    """The notation text of ``entries`` (from :func:`.structure.structure`) and its layout:
    (items on the line, module path) per line, for ``Network.layout``."""
    lines: list[tuple[str, list]] = []       # (top module, [unit]) in order
    for e in entries:
        top = _top(e, root)
        if not lines or lines[-1][0] != top:
            lines.append((top, []))
        lines[-1][1].append(e)

    defs: dict[tuple, _Def] = {}
    by_class: dict[str, int] = {}
    units = []  # per line: [("call", def key, values) | ("item", record, None)]
    for top, group in lines:
        line_units, i = [], 0
        while i < len(group):
            block = _block_of(group[i], root)
            j = i
            while j + 1 < len(group) and block is not None and \
                    _block_of(group[j + 1], root) == block:
                j += 1
            run = group[i:j + 1]
            if block is None or (len(run) == 1 and run[0].kind == "layer"):
                line_units += [("item", _record(e), None) for e in run]
            else:
                records = _runs(tuple(_record(e) for e in run))
                splits = [_split(r) for r in records]
                skeleton = tuple(s for s, _ in splits)
                values = [v for _, vs in splits for v in vs]
                cls = type(root.get_submodule(block)).__name__
                if skeleton not in defs:
                    n = by_class.get(cls, 0) + 1
                    by_class[cls] = n
                    name = _identifier(cls) + ("" if n == 1 else f"_{n}")
                    defs[skeleton] = _Def(name, records, [])
                defs[skeleton].instances.append(values)
                line_units.append(("call", skeleton, values))
            i = j + 1
        units.append((top, line_units))

    for d in defs.values():
        d.solve()
    out = [f"input HxWx{channels}"]
    out += [d.text() for d in defs.values()]
    layout = []
    for top, line_units in units:
        tokens = []
        for kind, a, b in line_units:
            if kind == "item":
                tokens.append((a, str(a)))
            else:
                d = defs[a]
                tokens.append((None, f"{d.name}({', '.join(map(str, d.args(b)))})"))
        tokens = _repeats(tokens)
        out.append(" ".join(tokens) + f"  # {top or 'forward'}")
        layout.append((len(tokens), top or "forward"))
    return "\n".join(out) + "\n", tuple(layout)
