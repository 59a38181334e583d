"""A hand-written notation against the user's own torch module (``verify --against``).

The module is imported (:func:`.importing.from_torch`, itself checked against the module's
``numel`` sums and FlopCounterMode), and both networks are analysed at the same input.
Compared: the totals (params, BN buffers, MACs; the module's side straight from torch) and,
row by row in execution order, every layer that has parameters or MACs (shape, params,
MACs). Consecutive identical layers are merged on both sides first, so ``conv3-64x2`` and
two separate convolutions compare equal; element-wise layers are not compared (the notation
and the module may spell them differently without changing a count).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..formatting import aligned, display_rows, shape_text
from ..report import analyze
from .importing import _module_counts, from_torch, module_macs

__all__ = ["Comparison", "compare", "format_comparison"]


@dataclass(frozen=True)
class Comparison:
    """``rows``: (notation row or None, module row or None, ok) per costly layer run;
    ``totals``: quantity → (notation, module, ok); ``ok``: everything agrees."""
    input: str
    rows: tuple
    totals: dict
    ok: bool


def _runs(report) -> list[tuple[str, tuple, int, int, int]]:
    """(name, shape, params, MACs, copies) of the layers with params or MACs, in execution
    order, consecutive equal ones merged."""
    out = []
    for line in display_rows(report.rows):
        row = line.row
        if row.aux or (not row.params and not row.macs):
            continue
        key = (tuple(int(v) for v in row.out), int(row.params), int(row.macs))
        if out and out[-1][1:4] == key:
            out[-1] = (*out[-1][:4], out[-1][4] + line.copies)
        else:
            out.append((row.name, *key, line.copies))
    return out


def compare(network, module, input) -> Comparison:
    """``network`` (notation, a Network or a zoo name) against ``module`` at ``input``
    (a concrete H×W×C)."""
    mine = analyze(network, input)
    size = (mine.input.height, mine.input.width, mine.input.channels)
    theirs = analyze(from_torch(module, input), input)
    counts = _module_counts(module)
    counts["macs"], _ = module_macs(module, size)
    totals = {q: (int(mine.totals[q]), counts[q], int(mine.totals[q]) == counts[q])
              for q in ("params", "buffers", "macs")}
    a, b = _runs(mine), _runs(theirs)
    rows = []
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        rows.append((x, y, x is not None and y is not None and x[1:] == y[1:]))
    ok = all(r[2] for r in rows) and all(v[2] for v in totals.values())
    return Comparison(str(mine.input), tuple(rows), totals, ok)


def _cells(run) -> list[str]:
    if run is None:
        return ["—"] * 4
    name, shape, params, macs, copies = run
    name = name if copies == 1 else f"{name} ×{copies:,}"
    return [name, shape_text(shape), f"{params:,}", f"{macs:,}"]


def format_comparison(c: Comparison, against: str) -> str:
    head = ["#", "notation", "out", "params", "MACs", "module", "out", "params", "MACs", ""]
    body = [[str(i + 1), *_cells(x), *_cells(y), "✓" if ok else "✗"]
            for i, (x, y, ok) in enumerate(c.rows)]
    lines = aligned([head, *body], {0, 3, 4, 7, 8})
    rule = "─" * len(lines[0])
    out = [f"symcnn verify --against {against}: input {c.input} (H×W×C), batch 1; layers "
           "with params or MACs, in execution order (equal neighbours merged)", "",
           lines[0], rule, *lines[1:], rule, ""]
    for q, (m, t, ok) in c.totals.items():
        out.append(f"{q:8s} notation {m:>18,}   module {t:>18,}   {'✓' if ok else '✗'}")
    out.append("")
    bad = sum(not r[2] for r in c.rows)
    out.append("✓ the notation and the module agree" if c.ok else
               f"✗ the notation and the module disagree: {bad} of {len(c.rows)} layer rows, "
               f"{sum(not v[2] for v in c.totals.values())} of {len(c.totals)} totals")
    return "\n".join(out)
