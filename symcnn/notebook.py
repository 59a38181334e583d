"""Report → what a notebook shows: an HTML table, a LaTeX ``aligned`` block, a short repr.

- ``html``: the per-layer table as a real ``<table>`` (one ``<tr>`` per line of the text
  table, the total row last, with the shares of params and MACs), then the totals and
  formulas as preformatted text. Every cell is escaped (``html.escape``).
- ``latex``: one ``aligned`` block, one equation per source line: the per-stride sizes
  side by side (h₁ beside w₁), the totals broken after every three terms, and the
  floor-free form where the input is a multiple of the total stride; for a concrete input,
  the totals at that input.
- ``short_repr``: one line, at most REPR_LIMIT characters: the input, the layer count and
  the params and MACs totals (a long formula cut with "…").

All three are linear in the depth: the table is the text table's cells.
"""

from __future__ import annotations

import html

from .formatting import _columns, _formulas, _totals, human, pretty

__all__ = ["to_html", "to_latex_aligned", "short_repr", "REPR_LIMIT"]

REPR_LIMIT = 200  # characters of repr(report)
_FORMULA_LIMIT = 60  # characters of one total in repr(report)
_RIGHT = {"#", "Biases", "MACs", "Params %", "MACs %"}


def _indent(cell: str) -> tuple[int, str]:
    text = cell.lstrip(" ")
    return (len(cell) - len(text)) // 2, text


def _cell(tag: str, text: str, right: bool, indent: int = 0) -> str:
    style = ["text-align:right" if right else "text-align:left"]
    if indent:
        style.append(f"padding-left:{indent + 0.5}em")
    return f'<{tag} style="{";".join(style)}">{html.escape(text)}</{tag}>'


def to_html(report, depth: int | None = None) -> str:
    """The report as HTML: a header line, the per-layer ``<table>`` (with the share of
    the total params and MACs per line), the totals and formulas in a ``<pre>``."""
    head, body = _columns(report, depth, shares=True)
    numeric = _RIGHT if not report.symbolic else {"#", "Params %", "MACs %"}
    right = [h in numeric for h in head]
    name = head.index("Layer")

    def row(cells: list[str], tag: str = "td") -> str:
        out = []
        for i, c in enumerate(cells):
            level, text = _indent(c) if i == name else (0, c)
            out.append(_cell(tag, text, right[i], level))
        return "<tr>" + "".join(out) + "</tr>"

    title = (f"symcnn — input {report.input} (H×W×C), {report.dtype}, "
             f"batch {report.batch}")
    notes = "\n".join([*_totals(report), "", *_formulas(report)])
    return "\n".join([
        '<div class="symcnn-report">',
        f"<p><b>{html.escape(title)}</b></p>",
        '<table class="symcnn-layers">',
        "<thead>" + row(head, "th") + "</thead>",
        "<tbody>", *(row(cells) for cells in body[:-1]), "</tbody>",
        "<tfoot>" + row(body[-1]) + "</tfoot>",
        "</table>",
        f"<pre>{html.escape(notes)}</pre>",
        "</div>"]) + "\n"


def to_latex_aligned(report) -> str:
    r"""The size definitions and the closed forms as one ``aligned`` block, one equation
    per line: ``h_{k} &= … & w_{k} &= …``, then params, activations and MACs (a sum broken
    after every three terms as ``\\ &\quad + …``), then, where the input must be a
    multiple of the total stride, the floor-free forms. Symbols are printed as the LaTeX
    export prints them (names checked, nothing unescaped)."""
    from .latex import LATEX_QUANTITIES, _Writer
    from .dims import size_symbol
    w = _Writer(report, None)
    lines = w.size_equations()
    lines += [rf"{label} &= {_broken(w.long(report.formulas[q]))}"
              for q, label in LATEX_QUANTITIES]
    if report.multiples:
        cond = r",\ ".join(rf"{m} \mid {w.printer.doprint(size_symbol(s))}"
                           for s, m in report.multiples.items())
        lines.append(rf"&\text{{and where }} {cond}\text{{:}}")
        lines += [rf"{label} &= {_broken(w.long(report.divisible[q], False))}"
                  for q, label in LATEX_QUANTITIES]
    if not report.symbolic and report.formula_input.symbols:  # the numbers at the input
        spec = report.input
        at = r" \times ".join(str(d) for d in (spec.height, spec.width, spec.channels))
        lines.append(rf"&\text{{at }} {at}\text{{:}}")
        lines += [rf"{label} &= {w.math(report.totals[q])}" for q, label in LATEX_QUANTITIES]
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _broken(tex: str) -> str:
    """A long sum's continuation lines on lines of their own in the source too."""
    return tex.replace(" \\\\ &\\quad ", " \\\\\n&\\quad ")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _total(value) -> str:
    if isinstance(value, int):
        return f"{value:,}" + (f" ({human(value)})" if value >= 1000 else "")
    return _cut(pretty(value), _FORMULA_LIMIT)


def short_repr(report) -> str:
    """``<symcnn.Report: input 224x224x3, 16 layers, params 138,357,544, MACs
    15,470,264,320 (15.47 G), float32, batch 1>``, at most REPR_LIMIT characters."""
    layers = sum(r.count for r in report.rows if r.layer is not None)
    t = report.totals
    text = (f"<symcnn.Report: input {report.input}, {layers:,} layer"
            f"{'' if layers == 1 else 's'}, params {_total(t['params'])}, "
            f"MACs {_total(t['macs'])}, {report.dtype}, batch {report.batch:,}>")
    return text if len(text) <= REPR_LIMIT else _cut(text[:-1], REPR_LIMIT - 1) + ">"
