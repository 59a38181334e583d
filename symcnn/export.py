"""Report → JSON, CSV and Markdown (LaTeX is in ``latex.py``).

JSON is schema version 1. In JSON and CSV, values are exact integers when evaluated and
strings of the SymPy expression (in the input symbols, e.g.
``"2097152*floor(H/32)*floor(W/32) + 35597096"``) when symbolic; ``formulas`` is always
present, in the symbols the notation leaves free. Markdown is a GitHub table with the
totals and formulas as people read them (⌊·⌋, ·, 1,234).
"""

from __future__ import annotations

import csv
import io
import json

from .dims import Dim
from .formatting import (SHARE_HEAD, Style, _formulas, _totals, _str_expr, dim_text,
                         display_rows, layer_shares, memory_formula, pretty, shape_text,
                         share_cells, signature, weights_formula, with_value)
from .report import QUANTITIES

__all__ = ["to_dict", "to_json", "to_csv", "to_markdown", "SCHEMA_VERSION", "CSV_COLUMNS"]

CSV_COLUMNS = ("index", "name", "kind", "block", "repeat", "out_h", "out_w", "out_c",
               "activations", "weights", "biases", "params", "buffers", "macs",
               "receptive_field_h", "receptive_field_w", "jump_h", "jump_w")

SCHEMA_VERSION = 1


def _value(x):
    """An exact int, or the SymPy expression as a string."""
    if isinstance(x, int) or getattr(x, "is_Integer", False):
        return int(x)
    return dim_text(x, "str") if isinstance(x, Dim) else _str_expr(x)


def _row_value(row, quantity: str, style: Style):
    """``_value(getattr(row, quantity))``, printed from the row's factors."""
    text = style.value(row, quantity)
    return int(text) if text.isdigit() else text


def _dims(spec) -> list:
    return [spec.height, spec.width, spec.channels]


def _layer(n: int, row, copies: int, style: Style, cache: dict, field=None) -> dict:
    sig = signature(row)
    costs = cache.get(sig)
    if costs is None:
        costs = cache[sig] = {
            "output": [_value(x) for x in row.out],
            **{q: _row_value(row, q, style) for q in QUANTITIES},
            "memory_formula": memory_formula(row), "weights_formula": weights_formula(row)}
    d = {"index": n, "name": row.name, "kind": row.kind, **costs}
    d["output"] = list(d["output"])
    if field is not None:  # [h, w] ints (a fractional jump as "1/2"), "all" or None
        d["receptive_field"], d["jump"] = field.json()
    if copies > 1:
        d["repeat"] = copies  # this entry stands for `repeat` copies of this layer
    if row.path:
        d["block"] = [str(s) for s in row.path]
    if row.aux:
        d["aux"] = True
    if hasattr(row.layer, "line"):  # layers, not the input or a merge
        d["line"], d["column"] = row.layer.line, row.layer.column
    return d


def to_dict(report) -> dict:
    t, size = report.totals, report.bytes_per_element
    totals = {q: _value(t[q]) for q in (*QUANTITIES, "flops")}
    out = {
        "schema_version": SCHEMA_VERSION,
        "network": str(report.network),
        "input": _dims(report.input),
        "dtype": report.dtype,
        "bytes_per_element": size,
        "batch": report.batch,
        "conventions": {
            "macs": "one multiply-add per weight per output position; bias, pooling and "
                    "element-wise layers not counted",
            "flops": "2 per MAC",
            "activations": "the input plus every layer's output, in elements, per image",
        },
        "totals": totals,
        "memory_bytes": {"activations": _value(t["activations"] * size),
                         "params": _value(t["params"] * size)},
        "per_batch": {q: _value(report.batch * t[q]) for q in ("activations", "macs",
                                                                "flops")},
        "memory": _memory(report),
        "layers": _layers(report),
        "formula_input": _dims(report.formula_input),
        "formulas": {q: _value(f) for q, f in report.formulas.items()},
        "memory_formulas": {q: _value(f) for q, f in report.memory_formulas.items()},
    }
    if report.convention != "torch":  # totals.macs, per_batch and formulas in its count
        out["convention"] = report.convention
        out["conventions"]["macs"] = (f"{report.convention}'s count (symcnn.conventions) in "
                                      "totals, per_batch and formulas; layers[i].macs: one "
                                      "multiply-add per weight per output position")
    if report.multiples:
        out["formulas_divisible"] = {
            "multiples": report.multiples,
            **{q: _value(f) for q, f in report.divisible.items()}}
    return out


def _memory(report) -> dict:
    """The PyTorch memory figures in bytes at the report's batch, with their definitions."""
    from .memory import DEFINITIONS
    m = report.memory
    out = {k: (None if v is None else _value(v)) if k in DEFINITIONS else v
           for k, v in m.items()}
    out["breakdown"] = {k: _value(v) for k, v in m["breakdown"].items()}
    out["definitions"] = dict(DEFINITIONS)
    return out


def _layers(report) -> list[dict]:
    style, cache, t = Style("str"), {}, report.totals
    return [{**_layer(line.index, line.row, line.copies, style, cache, field),
             **layer_shares(line.row, t)}  # "12.34%" of the totals (formatting.share)
            for line, field in zip(display_rows(report.rows), report.receptive_fields())]


def to_json(report, indent: int | None = 2) -> str:
    return json.dumps(to_dict(report), indent=indent, ensure_ascii=False) + "\n"


def _field_cells(field) -> list:
    """receptive_field_h, _w, jump_h, _w: ints (a fractional jump as "1/2"), "all" four
    times (the whole input), or four empty cells (not one number; see symcnn.receptive)."""
    rf, jump = field.json()
    if not isinstance(rf, list):
        return [rf or ""] * 4
    return [*rf, *jump]


def to_csv(report) -> str:
    """One row per layer (as in the table), exact integers, a header; a repeat of more
    than EXPAND_LIMIT copies is one row with its count in ``repeat``; the receptive field
    and jump along H and W last."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    style, cache = Style("str"), {}
    for line, field in zip(display_rows(report.rows), report.receptive_fields()):
        row = line.row
        sig = signature(row)
        costs = cache.get(sig)
        if costs is None:
            costs = cache[sig] = [*(_value(x) for x in row.out), *(
                _row_value(row, q, style) for q in ("activations", "weights", "biases",
                                                    "params", "buffers", "macs"))]
        out.writerow([line.index, row.name, row.kind, " > ".join(map(str, row.path)),
                      line.copies, *costs, *_field_cells(field)])
    return buf.getvalue()


def _md(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(report, shares: bool = False) -> str:
    """A GitHub table per layer, then the totals and formulas as a text block; ``shares``
    adds each line's share of the total params and MACs (as the text table)."""
    head = ["#", "Layer", "Output", "Memory (elements)", "Weights", "Biases", "MACs",
            *(SHARE_HEAD if shares else []), "RF / jump"]
    lines = ["| " + " | ".join(head) + " |",
             "|---|---|---|---:|---:|---:|---:|" + ("---:|---:|" if shares else "") + "---|"]
    t = report.totals
    style, cache = Style("pretty"), {}
    for line, field in zip(display_rows(report.rows), report.receptive_fields()):
        row = line.row
        name = row.name + (f" ×{line.copies:,}" if line.copies > 1 else "") + \
            (" (aux)" if row.aux else "")
        sig = signature(row)
        cells = cache.get(sig)
        if cells is None:
            cells = cache[sig] = [_md(c) for c in (
                shape_text(row.out), with_value(memory_formula(row), row, "activations", style),
                with_value(weights_formula(row), row, "weights", style),
                style.value(row, "biases"), style.value(row, "macs"))]
        part = share_cells(lambda q: getattr(row, q), t) if shares else []
        lines.append("| " + " | ".join([str(line.index), _md(f"`{name}`"), *cells, *part,
                                        _md(field.text())]) + " |")
    lines.append("| | **Total** | | " + " | ".join(
        _md(f"**{pretty(t[q])}**") for q in ("activations", "weights", "biases", "macs")) +
        " |" + (" | |" if shares else "") + " |")
    return "\n".join([f"**symcnn** — input {report.input} (H×W×C), {report.dtype}, "
                      f"batch {report.batch}", "", *lines, "", "```text",
                      *_totals(report), "", *_formulas(report), "```"]) + "\n"
