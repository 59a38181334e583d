"""Several networks side by side: one row per network (``symcnn compare NET NET …``).

Each row holds a network's params (all trainable; batch-norm running statistics are
"buffers", not params), MACs, FLOPs (1 MAC = 2 FLOPs), activation memory in bytes at the
dtype, the smallest input it runs on, and the closed forms of params and MACs in H and W
(from ``analyze(net, "HxWx<C>")``; with the floor-free form where the network has one).
Every number is an exact int from :func:`symcnn.analyze`; nothing is simplified per row,
so the cost is that of the analyses.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field, replace

import sympy

from .errors import SymCNNError
from .formatting import human, human_decimal, pretty
from .layers import InputSpec, Network

__all__ = ["Comparison", "ComparisonRow", "compare", "SCHEMA_VERSION", "CSV_COLUMNS"]

SCHEMA_VERSION = 1
CSV_COLUMNS = ("network", "input_h", "input_w", "input_c", "dtype", "bytes_per_element",
               "batch", "params", "trainable", "buffers", "macs", "flops", "activations",
               "activation_bytes", "min_h", "min_w", "formula_input", "params_formula",
               "macs_formula", "multiples", "params_divisible", "macs_divisible")
FORMULA_QUANTITIES = (("params", "params"), ("macs", "MACs"))
NAME_LIMIT = 40


@dataclass(frozen=True)
class ComparisonRow:
    """One network's costs. ``macs``, ``flops``, ``activations`` and ``activation_bytes``
    are per batch (per image at batch 1); params and buffers are the network's. Values are
    exact ints where the input is concrete, SymPy expressions where it is symbolic."""
    name: str
    network: Network = field(repr=False)
    input: InputSpec
    params: int | sympy.Expr
    buffers: int | sympy.Expr
    macs: int | sympy.Expr
    flops: int | sympy.Expr
    activations: int | sympy.Expr
    activation_bytes: int | sympy.Expr
    minimum_input: tuple[int, int] | None
    formula_input: InputSpec
    formulas: dict = field(repr=False)      # "params", "macs" → closed form
    multiples: dict = field(repr=False)     # symbol → multiple, for ``divisible``
    divisible: dict = field(repr=False)     # "params", "macs" → floor-free form

    @property
    def trainable(self):
        """Every param is trained; the batch-norm statistics are buffers, not params."""
        return self.params


@dataclass(frozen=True)
class Comparison:
    """Rows of :class:`ComparisonRow`, one per network, in the order given."""
    rows: tuple[ComparisonRow, ...]
    dtype: str = "float32"
    batch: int = 1
    bytes_per_element: int = 4

    def to_table(self) -> str:
        return _table(self)

    def to_markdown(self) -> str:
        return _markdown(self)

    def to_latex(self, caption: str | None = None, label: str | None = None,
                 standalone: bool = False, caption_tex: str | None = None,
                 layout: str = "full") -> str:
        """booktabs LaTeX: the table, then each network's closed forms in align* blocks.
        ``caption`` is escaped; ``caption_tex`` is the author's own LaTeX, as is.
        ``layout`` "full": every count exact, for a page (or ``table*``); "compact"
        (two-column papers): params in M, MACs in G and memory in MB, in one column."""
        from .latex import LAYOUTS
        if caption is not None and caption_tex is not None:
            raise SymCNNError("give a caption as text (caption) or as LaTeX (caption_tex), "
                              "not both")
        if layout not in LAYOUTS:
            raise SymCNNError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r:.40}")
        return _latex(self, caption, label, standalone, caption_tex, layout == "compact")

    def to_csv(self) -> str:
        return _csv(self)

    def to_dict(self) -> dict:
        return _dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def __str__(self) -> str:
        return self.to_table()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def display_name(item, i: int = 1) -> str:
    """A row's name for the network argument ``item``: the text (zoo name, notation) with
    whitespace collapsed, cut to NAME_LIMIT characters; a file name keeps its end."""
    if isinstance(item, os.PathLike):
        item = os.fspath(item)
    if not isinstance(item, str):
        return f"network {i}"
    text = " ".join(item.split())
    if len(text) <= NAME_LIMIT:
        return text
    if text.endswith((".cnn", ".txt")) or os.sep in text:
        return "…" + text[-(NAME_LIMIT - 1):]
    return text[:NAME_LIMIT - 1] + "…"


_name = display_name


def compare(networks, input=None, *, dtype: str = "float32", batch: int = 1,
            names=None) -> Comparison:
    """Compare ``networks`` (at least two: Networks, zoo names, notation text or files, as
    :func:`symcnn.analyze` takes; or a mapping name → network) at ``input`` (default: each
    network's input line, else the symbolic H×W×C). ``names`` overrides the row names.

    A network that does not parse or does not run on ``input`` is a SymCNNError naming
    which argument it is ("network 2 ('resnet5O'): unknown network …").
    """
    from .notation import MAX_VALUE
    from .report import DTYPES, _network, analyze, as_input
    if isinstance(networks, dict):
        names = list(networks) if names is None else names
        networks = list(networks.values())
    elif isinstance(networks, (str, Network, os.PathLike)):
        networks = [networks]
    else:
        networks = list(networks)
    if len(networks) < 2:
        raise SymCNNError(f"compare needs at least 2 networks; got {len(networks)}")
    names = list(names) if names is not None else [_name(n, i) for i, n in
                                                   enumerate(networks, 1)]
    if len(names) != len(networks):
        raise SymCNNError(f"{len(names)} names for {len(networks)} networks")
    if dtype not in DTYPES:
        raise SymCNNError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_VALUE:
        raise SymCNNError(f"batch must be an int between 1 and {MAX_VALUE:,}; got {batch!r}")
    spec = as_input(input) if input is not None else None
    rows = []
    for i, (item, name) in enumerate(zip(networks, names), 1):
        try:
            rows.append(_row(_network(item, input=spec), name, spec, dtype, batch, analyze))
        except SymCNNError as e:
            raise SymCNNError(f"network {i} ({name!r}): {e}") from None
    return Comparison(tuple(rows), dtype, batch, DTYPES[dtype])


def _row(net: Network, name: str, spec, dtype: str, batch: int, analyze) -> ComparisonRow:
    from .shapes import minimum_input
    report = analyze(net, spec, dtype=dtype, batch=batch)
    t, size = report.totals, report.bytes_per_element
    channels = next((c for c in (report.input.channels,
                                 net.input.channels if net.input else None)
                     if isinstance(c, int)), 3)
    free = InputSpec("H", "W", channels)
    if report.formula_input == free:
        general = report
    else:
        try:  # the input line set, so that C is the given channels (analyze keeps C free)
            general = analyze(replace(net, input=free), dtype=dtype)
        except SymCNNError:  # runs at the input asked for only: its formulas
            general = report
    return ComparisonRow(
        name=name, network=net, input=report.input, params=t["params"],
        buffers=t["buffers"], macs=batch * t["macs"], flops=batch * t["flops"],
        activations=batch * t["activations"],
        activation_bytes=batch * t["activations"] * size,
        minimum_input=minimum_input(net, channels=channels),
        formula_input=general.formula_input,
        formulas={q: general.formulas[q] for q, _ in FORMULA_QUANTITIES},
        multiples=dict(general.multiples),
        divisible={q: general.divisible[q] for q, _ in FORMULA_QUANTITIES}
        if general.multiples else {})


# ---------------------------------------------------------------- text and Markdown

def _count(x) -> str:
    """1,234,567 (1.23 M); a symbolic value as the formulas print it."""
    if isinstance(x, int):
        return f"{x:,} ({human(x)})" if x >= 1000 else f"{x:,}"
    return pretty(x)


def _megabytes(n) -> str:
    if isinstance(n, int):
        return f"{n:,} B ({human_decimal(n, 10**6)} MB)"
    return f"{pretty(n)} B"


def _minimum(row: ComparisonRow) -> str:
    if row.minimum_input is None:
        return "none"
    return f"{row.minimum_input[0]}×{row.minimum_input[1]}"


def _common_input(c: Comparison) -> InputSpec | None:
    inputs = {r.input for r in c.rows}
    return next(iter(inputs)) if len(inputs) == 1 else None


def _columns(c: Comparison) -> tuple[list[str], list[list[str]]]:
    per = "per image" if c.batch == 1 else f"batch {c.batch:,}"
    head = ["network", "params", "trainable", "buffers", f"MACs ({per})",
            f"FLOPs ({per})", f"activation memory ({c.dtype})", "min input"]
    several = _common_input(c) is None
    if several:
        head.insert(1, "input")
    body = []
    for r in c.rows:
        cells = [r.name, _count(r.params), _count(r.trainable), _count(r.buffers),
                 _count(r.macs), _count(r.flops), _megabytes(r.activation_bytes),
                 _minimum(r)]
        if several:
            cells.insert(1, str(r.input))
        body.append(cells)
    return head, body


def _header(c: Comparison) -> str:
    common = _common_input(c)
    where = "each network at its own input" if common is None else f"input {common}" + \
        ("" if common.symbols else " (H×W×C)")
    return f"symcnn compare: {len(c.rows)} networks, {where}, {c.dtype}, batch {c.batch:,}"


def _definitions(c: Comparison) -> list[str]:
    per = "per image" if c.batch == 1 else f"per batch of {c.batch:,}"
    return [
        "params: weights + biases, all trainable; buffers: batch-norm running statistics "
        "(not params, not trained).",
        f"MACs: one multiply-add per weight per output position, {per}; 1 MAC = 2 FLOPs.",
        f"activation memory: the input + every layer's output, {per}, × "
        f"{c.bytes_per_element} B ({c.dtype}); forward only (what training keeps: the PyTorch "
        "memory figures of `symcnn NET`).",
        "min input: the smallest H×W on which every layer has a non-empty output.",
        "K, M, G are decimal (10³, 10⁶, 10⁹); MB = 10⁶ bytes.",
    ]


def _multiples_text(row: ComparisonRow) -> str:
    groups: dict[int, list[str]] = {}
    for sym, m in row.multiples.items():
        groups.setdefault(m, []).append(sym)
    return "; ".join(f"{' and '.join(s)} {'are multiples' if len(s) > 1 else 'is a multiple'}"
                     f" of {m}" for m, s in groups.items())


def _formula_lines(c: Comparison) -> list[str]:
    inputs = {r.formula_input for r in c.rows}
    free = sorted({s for r in c.rows for s in r.formula_input.symbols})
    if not free:
        return ["Formulas: every network fixes its input; the numbers above are exact."]
    what = f" (input {next(iter(inputs))})" if len(inputs) == 1 else ""
    out = [f"Formulas in {', '.join(free)}{what}, exact for every input the network runs on "
           "(floors included):"]
    width = max(len(r.name) for r in c.rows)
    for r in c.rows:
        lead = r.name.ljust(width)
        if len(inputs) > 1:
            out.append(f"  {lead}  (input {r.formula_input})")
            lead = " " * width
        for q, label in FORMULA_QUANTITIES:
            out.append(f"  {lead}  {label:<6} = {pretty(r.formulas[q])}")
            lead = " " * width
        changed = [(q, label) for q, label in FORMULA_QUANTITIES
                   if r.multiples and r.divisible[q] != r.formulas[q]]
        if changed:
            out.append(f"  {lead}  where {_multiples_text(r)}:")
            out += [f"  {lead}    {label:<6} = {pretty(r.divisible[q])}" for q, label in changed]
    return out


def _grid(head: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    from .formatting import aligned
    lines = aligned([head, *body], right)
    rule = "─" * len(lines[0])
    return [lines[0], rule, *lines[1:], rule]


def _table(c: Comparison) -> str:
    head, body = _columns(c)
    first = 2 if _common_input(c) is None else 1
    right = set(range(first, len(head)))
    return "\n".join([_header(c), "", *_grid(head, body, right), *_definitions(c), "",
                      *_formula_lines(c)]) + "\n"


def _md(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown(c: Comparison) -> str:
    head, body = _columns(c)
    first = 2 if _common_input(c) is None else 1
    align = ["---" if i < first else "---:" for i in range(len(head))]
    lines = ["| " + " | ".join(map(_md, head)) + " |", "|" + "|".join(align) + "|"]
    for cells in body:
        cells = [f"`{cells[0]}`", *cells[1:]]
        lines.append("| " + " | ".join(map(_md, cells)) + " |")
    return "\n".join([f"**{_header(c)}**", "", *lines, "",
                      *(f"- {d}" for d in _definitions(c)), "", "```text",
                      *_formula_lines(c), "```"]) + "\n"


# ---------------------------------------------------------------- CSV and JSON

def _value(x):
    if isinstance(x, int) or getattr(x, "is_Integer", False):
        return int(x)
    from .formatting import _str_expr
    return _str_expr(x)


def _csv(c: Comparison) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for r in c.rows:
        low = r.minimum_input or ("", "")
        mult = " ".join(f"{s}={m}" for s, m in r.multiples.items())
        out.writerow([r.name, r.input.height, r.input.width, r.input.channels, c.dtype,
                      c.bytes_per_element, c.batch,
                      *(_value(getattr(r, q)) for q in ("params", "trainable", "buffers",
                                                        "macs", "flops", "activations",
                                                        "activation_bytes")),
                      *low, str(r.formula_input), _value(r.formulas["params"]),
                      _value(r.formulas["macs"]), mult,
                      _value(r.divisible["params"]) if r.multiples else "",
                      _value(r.divisible["macs"]) if r.multiples else ""])
    return buf.getvalue()


def _dict(c: Comparison) -> dict:
    def row(r: ComparisonRow) -> dict:
        d = {"name": r.name, "input": [r.input.height, r.input.width, r.input.channels],
             **{q: _value(getattr(r, q)) for q in ("params", "trainable", "buffers", "macs",
                                                   "flops", "activations",
                                                   "activation_bytes")},
             "minimum_input": list(r.minimum_input) if r.minimum_input else None,
             "formula_input": [r.formula_input.height, r.formula_input.width,
                               r.formula_input.channels],
             "formulas": {q: _value(f) for q, f in r.formulas.items()}}
        if r.multiples:
            d["formulas_divisible"] = {"multiples": dict(r.multiples),
                                       **{q: _value(f) for q, f in r.divisible.items()}}
        return d
    return {
        "schema_version": SCHEMA_VERSION, "dtype": c.dtype,
        "bytes_per_element": c.bytes_per_element, "batch": c.batch,
        "conventions": {
            "params": "weights + biases, all trainable (trainable = params)",
            "buffers": "batch-norm running statistics: not params, not trained",
            "macs": "one multiply-add per weight per output position, per batch",
            "flops": "2 per MAC",
            "activations": "the input plus every layer's output, in elements, per batch",
            "activation_bytes": "activations × bytes_per_element (forward only)",
            "minimum_input": "the smallest [H, W] on which every layer has a non-empty "
                             "output; null if none",
        },
        "networks": [row(r) for r in c.rows],
    }


# ---------------------------------------------------------------- LaTeX

def _latex(c: Comparison, caption, label, standalone: bool, caption_tex=None,
           compact: bool = False) -> str:
    from .latex import _Printer, caption_lines, document, latex_escape
    printer = _Printer()

    symbolic = []

    def num(x) -> str:
        if isinstance(x, int):
            return f"${printer.doprint(sympy.Integer(x))}$"
        symbolic.append(x)  # no formula in a narrow cell: the closed forms are below
        return r"$\ast$"

    def dec(x, unit: int) -> str:  # decimal units (M = 10^6, G = 10^9), as papers print
        return human_decimal(x, unit) if isinstance(x, int) else num(x)

    common = _common_input(c)
    per = "per image" if c.batch == 1 else f"batch {c.batch:,}"
    if compact:  # params and MACs in the largest decimal unit that shows each ≥ 0.10
        units = {q: _unit([getattr(r, q) for r in c.rows]) for q in ("params", "macs")}
        head = ["Network", "Params", "MACs", "Mem.", "Min."]
        under = ["", f"({units['params'][0]})", f"({units['macs'][0]})", "(MB)", "input"]
    else:
        head = ["Network", "Params", "Trainable", "Buffers", "MACs", "FLOPs",
                "Act.\\ memory", "Min."]
        under = ["", "", "", "", "", "", "(MB)", "input"]
    if common is None:
        head.insert(1, "Input")
        under.insert(1, "")
    body, cells_of = [], []
    for r in c.rows:
        low = "none" if r.minimum_input is None else \
            f"${r.minimum_input[0]} \\times {r.minimum_input[1]}$"
        name = r"\texttt{" + latex_escape(r.name) + "}"
        if compact:
            cells = [name, dec(r.params, units["params"][1]), dec(r.macs, units["macs"][1]),
                     dec(r.activation_bytes, 10**6), low]
        else:
            cells = [name, num(r.params), num(r.trainable), num(r.buffers), num(r.macs),
                     num(r.flops), dec(r.activation_bytes, 10**6), low]
        if common is None:
            cells.insert(1, latex_escape(str(r.input)))
        body.append(" & ".join(cells) + r" \\")
        cells_of.append(cells)
    left = 2 if common is None else 1
    spec = "l" * left + "r" * (len(head) - left)
    if compact:  # the column's width, the space between columns stretched to fill it
        setup = [_font_size([head, under, *cells_of], COLUMN_WIDTH_PT),
                 r"\begin{tabular*}{\columnwidth}{@{\extracolsep{\fill}}" + spec + "@{}}"]
        end = r"\end{tabular*}"
    else:
        setup = [_font_size([head, under, *cells_of], STANDALONE_WIDTH_PT if standalone
                            else TEXT_WIDTH_PT),
                 r"\setlength{\tabcolsep}{2pt}", rf"\begin{{tabular}}{{{spec}}}"]
        end = r"\end{tabular}"
    where = "each at its own input" if common is None else "on input @INPUT@"
    if compact:
        default = (f"Costs {where}, {c.dtype}. Params in {_UNIT_NAMES[units['params'][0]]}, "
                   f"MACs in {_UNIT_NAMES[units['macs'][0]]} "
                   f"(one multiply-add per weight per output position, {per}; 1 MAC = 2 "
                   "FLOPs), activation memory in MB (1,000,000 bytes: the input and every "
                   f"layer's output, {per}, forward only). Min. input: the smallest HxW "
                   "on which every layer has a non-empty output.")
    else:
        default = (
            f"Costs {where}, {c.dtype}. Params are weights and biases, all trainable; "
            "buffers are batch-norm running statistics. MACs: one multiply-add per weight "
            f"per output position, {per} (1 MAC = 2 FLOPs). Activation memory: the input "
            f"and every layer's output, {per}, at {c.bytes_per_element} B per element, "
            "forward only (MB = 1,000,000 bytes). Min. input: the smallest HxW on which "
            "every layer has a non-empty output.")
    if caption_tex is not None:  # the author's own LaTeX: math, \cite, …
        cap = caption_tex
    elif caption is not None:
        cap = latex_escape(caption)
    else:  # the common input as math: $224\times 224\times 3$
        cap = latex_escape(default).replace("@INPUT@", _input_math(common, printer))
    out = [r"% symcnn compare: needs \usepackage{booktabs} and \usepackage{amsmath}",
           r"\begin{table}[htbp]", r"\centering", *caption_lines(cap, label), *setup,
           r"\toprule",
           " & ".join(head) + r" \\", " & ".join(under) + r" \\", r"\midrule", *body,
           r"\bottomrule", end]
    if symbolic:
        out += [r"\par\smallskip", r"$\ast$: depends on the input size; the closed forms of "
                "params and MACs are below the table."]
    out.append(r"\end{table}")
    out += _latex_formulas(c, printer, latex_escape, COLUMN_LINE_EM if compact else LINE_EM)
    return "\n".join(document(out) if standalone else out) + "\n"


_UNITS = (("G", 10**9), ("M", 10**6), ("K", 10**3))
_UNIT_NAMES = {"G": "billions", "M": "millions", "K": "thousands"}


def _unit(values) -> tuple[str, int]:
    """The largest decimal unit in which every int of ``values`` reads at least 0.10
    (thousands for the smallest)."""
    low = min((v for v in values if isinstance(v, int)), default=0)
    return next(((n, u) for n, u in _UNITS if 10 * low >= u), _UNITS[-1])


def _input_math(spec: InputSpec | None, printer) -> str:
    if spec is None:
        return ""
    return "$" + r"\times ".join(printer.doprint(
        sympy.Symbol(d) if isinstance(d, str) else sympy.Integer(d))
        for d in (spec.height, spec.width, spec.channels)) + "$"


# Widths in em, estimated from the characters a formula or cell shows (Computer Modern:
# digits 0.5 em, a comma 0.28 em, a binary operator with its spaces about 1.2 em); the
# LaTeX output is checked against pdflatex's "Overfull \\hbox" in tests/test_compare.py.
TEXT_WIDTH_PT = 345.0      # article's default \textwidth (a fragment to \input)
STANDALONE_WIDTH_PT = 505.89  # the 7in text block of standalone=True
LINE_EM = 30.0             # the terms on one line of a closed form (\small display math)
COLUMN_WIDTH_PT = 229.5    # \columnwidth of article's twocolumn (10pt)
COLUMN_LINE_EM = 17.0      # a closed form's line in that column


def _em(tex: str) -> float:
    """The estimated width of ``tex`` (math or a table cell) in em of its font."""
    s = tex.replace("{,}", ",").replace("$", "")
    s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: max(m[1], m[2], key=len), s)
    s = re.sub(r"\\(left|right)\b", "", s)
    s = re.sub(r"\\texttt\{([^{}]*)\}", lambda m: "t" * (len(m[1]) * 21 // 20), s)
    s = re.sub(r"\\(cdot|times|mid)\b|[+=-]", "ooo", s)  # an operator and its spaces
    s = re.sub(r"\\(lfloor|rfloor)", "i", s)
    s = re.sub(r"\\[A-Za-z]+|[{}\s\\]", "", s)
    return sum(0.28 if ch in ",.;:" else 0.5 for ch in s)


def _font_size(rows: list[list[str]], width_pt: float) -> str:
    """The largest of \\footnotesize, \\scriptsize and \\tiny at which the table's
    estimated width (2pt of \\tabcolsep either side of each column) fits ``width_pt``;
    points per estimated em measured with pdflatex (Computer Modern's small sizes are
    relatively wider)."""
    columns = [max(_em(cell) for cell in column) for column in zip(*rows)]
    for command, per_em in ((r"\footnotesize", 9.0), (r"\scriptsize", 8.5)):
        if sum(columns) * per_em + 4 * len(columns) <= width_pt:
            return command
    return r"\tiny"


def _long(printer, expr, lead: float = 0.0, line_em: float = LINE_EM) -> str:
    """A sum broken before a term that would take its line past ``line_em`` (align
    continuation lines); ``lead``: the em the first line's label takes."""
    if not isinstance(expr, sympy.Add):
        return printer.doprint(expr)
    terms = [printer.doprint(t) for t in printer._as_ordered_terms(expr)]
    out, used = terms[0], lead + _em(terms[0])
    for t in terms[1:]:
        sign, body = ("-", t[1:].lstrip()) if t.startswith("-") else ("+", t)
        width = _em(f"{sign} {body}")
        if used + width > line_em:
            out += rf" \\ &\quad {sign} {body}"
            used = 1.0 + width
        else:
            out += f" {sign} {body}"
            used += width
    return out


def _latex_formulas(c: Comparison, printer, escape, line_em: float = LINE_EM) -> list[str]:
    """Per network, a line naming it and an align* block of its closed forms (long sums
    broken over lines, so that nothing is squeezed into a table cell)."""
    if not any(r.formula_input.symbols for r in c.rows):
        return []
    names = dict(FORMULA_QUANTITIES)
    out = []
    for r in c.rows:
        f = r.formula_input
        dims = r" \times ".join(printer.doprint(sympy.Symbol(d) if isinstance(d, str)
                                                else sympy.Integer(d))
                                for d in (f.height, f.width, f.channels))
        out += ["", rf"\noindent Closed forms of \texttt{{{escape(r.name)}}} on input ${dims}$:",
                r"{\small", r"\begin{align*}"]
        lines = [rf"\text{{{names[q]}}} &= {_long(printer, r.formulas[q], 4.0, line_em)}"
                 for q in names]
        body = " \\\\\n".join(lines)
        if r.multiples:
            cond = r",\ ".join(rf"{m} \mid {printer.doprint(sympy.Symbol(s))}"
                                for s, m in r.multiples.items())
            changed = [q for q in names if r.divisible[q] != r.formulas[q]]
            if changed:  # as in the text table: only the forms the floors change
                body += " \\\\\n" + rf"\intertext{{and where ${cond}$:}}" + "\n" + \
                    " \\\\\n".join(rf"\text{{{names[q]}}} &= "
                                     rf"{_long(printer, r.divisible[q], 4.0, line_em)}"
                                     for q in changed)
        out += [body, r"\end{align*}", "}"]
    return out
