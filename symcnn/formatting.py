"""Report → text: the seed-style per-layer table, the totals block and the formulas.

Conventions users know from torchinfo and the CS231n notes: "Total params / Trainable /
Non-trainable" with thousands separators; MACs and FLOPs side by side (1 MAC = 2 FLOPs);
K/M/G are decimal; bytes shown in MB (10⁶) and MiB (2²⁰), both named; per image unless a
batch is given. Formulas print ⌊·⌋ for floor, · for product and group digits by thousands.
"""

from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter

from dataclasses import dataclass

from .dims import Dim, to_expr
from .shapes import Row

__all__ = ["table", "pretty", "human", "display_rows", "group_lines", "Line",
           "weights_formula", "memory_formula", "shape_text", "EXPAND_LIMIT"]

EXPAND_LIMIT = 64  # identical repeated rows up to this count are listed one per line


class _Pretty(StrPrinter):
    """SymPy's str printer with ⌊x⌋, ·, x^n and 1,234,567."""

    def _print_Integer(self, expr) -> str:
        return f"{int(expr):,}"

    def _print_floor(self, expr) -> str:
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if den == 1:
            return f"⌊{self._print(num)}⌋"
        top = self._print(num)
        return f"⌊({top})/{self._print(den)}⌋" if num.is_Add else f"⌊{top}/{self._print(den)}⌋"

    def _print_Mul(self, expr) -> str:
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Pow(self, expr, rational=False) -> str:
        base, exp = expr.as_base_exp()
        if exp == -1:
            return super()._print_Pow(expr, rational)
        return f"{self.parenthesize(base, 1000)}^{self._print(exp)}"


_PRINTER = _Pretty()


def pretty(x) -> str:
    """A count or formula as people read it: 1,234 or 576·C + 2,097,152·⌊H/32⌋·⌊W/32⌋."""
    if isinstance(x, Dim):
        x = x.expr()
    if isinstance(x, int):
        return f"{x:,}"
    return _PRINTER.doprint(x)


def human(n: int) -> str:
    """A decimal K/M/G/T abbreviation, rounded half up from the exact integer."""
    for unit, name in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if n >= unit:
            hundredths = (n * 100 + unit // 2) // unit
            return f"{hundredths // 100:,}.{hundredths % 100:02d} {name}"
    return str(n)


def _factor(x) -> str:
    """A factor of a product, in parentheses where it is a sum."""
    expr = x.expr() if isinstance(x, Dim) else x
    return f"({pretty(x)})" if isinstance(expr, sympy.Add) else pretty(x)


def shape_text(out) -> str:
    return "×".join(_factor(x) for x in out)


def memory_formula(row: Row) -> str:
    return "·".join(_factor(x) for x in row.out)


def weights_formula(row: Row) -> str:
    """The seed's spelling of a layer's weights: (3·3·C)·64, (7·7·512)·4096, or 0."""
    if not row.weight_factors:
        return "0"
    inner, outer = row.weight_factors
    product = '·'.join(_factor(x) for x in inner)
    return product if outer == 1 else f"({product})·{_factor(outer)}"


def _with_value(formula: str, value) -> str:
    return f"{formula} = {pretty(value)}" if isinstance(value, int) and formula != \
        pretty(value) else formula


@dataclass(frozen=True)
class Line:
    """A line of the per-layer table: ``row`` standing for ``copies`` layers (1 unless a
    long repeat is shown once), numbered from ``index``; ``key`` tells apart the copies of
    a repeated block that are listed one by one."""
    index: int
    row: Row
    copies: int
    key: tuple = ()


def display_rows(rows) -> list[Line]:
    """The rows in execution order, with repeats of up to EXPAND_LIMIT copies listed
    block by block (a collapsed block of rows repeats as a whole, not row by row)."""
    lines, n = [], 0
    for row, copies, key in _expand(list(rows), 0, ()):
        lines.append(Line(n, row, copies, key))
        n += copies
    return lines


def _expand(rows: list[Row], level: int, key: tuple):
    i = 0
    while i < len(rows):
        row = rows[i]
        if len(row.reps) <= level:
            yield row, 1, key
            i += 1
            continue
        uid, count, depth = row.reps[level]
        j = i
        while j < len(rows) and len(rows[j].reps) > level and rows[j].reps[level][0] == uid:
            j += 1
        block = rows[i:j]
        if count <= EXPAND_LIMIT:
            for k in range(count):
                yield from _expand(block, level + 1, (*key, (uid, k, depth)))
        else:
            for r, copies, inner in _expand(block, level + 1, (*key, (uid, -1, depth))):
                yield r, copies * count, inner
        i = j


def _group_key(line: Line, depth: int) -> tuple:
    scopes = tuple(sc.uid for sc in line.row.path[:depth])
    return scopes, tuple(k[:2] for k in line.key if k[2] < depth)


def group_lines(lines: list[Line], depth: int) -> list[list[Line]]:
    """Consecutive lines inside the same block at ``depth`` (and the same copy of any
    repeat around it), as lists; a line above that depth stands alone."""
    groups: list[list[Line]] = []
    for line in lines:
        if len(line.row.path) >= depth and groups and len(groups[-1][0].row.path) >= depth \
                and _group_key(groups[-1][0], depth) == _group_key(line, depth):
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _sum(lines: list[Line], quantity: str):
    terms = [line.copies * getattr(line.row, quantity) for line in lines]
    return sum(terms) if all(isinstance(t, int) for t in terms) else sympy.Add(*terms)


def _line_cells(line: Line) -> list[str]:
    row, copies = line.row, line.copies
    name = row.name if copies == 1 else f"{row.name} (×{copies:,}, each)"
    name = "  " * len(row.path) + name + (" (aux)" if row.aux else "")
    return [str(line.index), name, shape_text(row.out),
            _with_value(memory_formula(row), row.activations),
            _with_value(weights_formula(row), row.weights),
            pretty(row.biases), pretty(row.macs)]


def _group_cells(group: list[Line], depth: int) -> list[str]:
    first, last = group[0], group[-1]
    scope = first.row.path[depth - 1]
    n = sum(line.copies for line in group)
    name = "  " * (depth - 1) + f"{scope} ({n:,} layers)"
    return [str(first.index), name, shape_text(last.row.out),
            pretty(_sum(group, "activations")), pretty(_sum(group, "weights")),
            pretty(_sum(group, "biases")), pretty(_sum(group, "macs"))]


def _columns(report, depth: int | None = None) -> tuple[list[str], list[list[str]]]:
    head = ["#", "Layer", "Output", "Memory (elements)", "Weights", "Biases", "MACs"]
    lines = display_rows(report.rows)
    if depth is None:
        body = [_line_cells(line) for line in lines]
    else:
        body = [_line_cells(g[0]) if len(g[0].row.path) < depth else _group_cells(g, depth)
                for g in group_lines(lines, depth)]
    t = report.totals
    if report.symbolic:  # symbolic totals are long: they stand in the block below
        body.append(["", "Total", "", "(see below)", "", "", ""])
    else:
        body.append(["", "Total", "", pretty(t["activations"]), pretty(t["weights"]),
                     pretty(t["biases"]), pretty(t["macs"])])
    return head, body


def _grid(head: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    rule = "─" * len(line(head))
    return [line(head), rule, *map(line, body[:-1]), rule, line(body[-1])]


def _bytes(n: int) -> str:
    mb = human_decimal(n, 10**6)
    mib = human_decimal(n, 2**20)
    return f"{n:,} B = {mb} MB = {mib} MiB"


def human_decimal(n: int, unit: int) -> str:
    hundredths = (n * 100 + unit // 2) // unit
    return f"{hundredths // 100:,}.{hundredths % 100:02d}"


def _count(value) -> str:
    return f"{value:,}  ({human(value)})" if isinstance(value, int) and value >= 1000 \
        else pretty(value)


def _totals(report) -> list[str]:
    t, b, dt, size = report.totals, report.batch, report.dtype, report.bytes_per_element
    lines = [
        f"Total params:          {pretty(t['params'])}   "
        f"(weights {pretty(t['weights'])} + biases {pretty(t['biases'])})",
        f"Trainable params:      {pretty(t['params'])}",
        "Non-trainable params:  0",
        f"Buffers:               {pretty(t['buffers'])}"
        + ("   (batch-norm running statistics: not params, not trained)"
           if t["buffers"] != 0 else ""),
        f"MACs:                  {_count(t['macs'])}",
        f"FLOPs:                 {_count(t['flops'])}   (1 MAC = 2 FLOPs)",
        f"Activations:           {pretty(t['activations'])} elements "
        "(the input + every layer's output)",
    ]
    if isinstance(t["activations"], int):
        act = t["activations"] * size
        lines.append(f"Activation memory:     {_bytes(act)}  ({dt}, {size} B/element)")
        lines.append(f"  ×2 for backward:     {_bytes(2 * act)}  (forward + backward)")
    if isinstance(t["params"], int):
        lines.append(f"Params memory:         {_bytes(t['params'] * size)}  ({dt})")
    lines.append(f"Per image (batch 1)." if b == 1 else f"Per image; batch of {b:,}:")
    if b > 1:
        lines += [f"  MACs × {b:,}:           {_count(b * t['macs'])}",
                  f"  FLOPs × {b:,}:          {_count(b * t['flops'])}",
                  f"  activations × {b:,}:    {pretty(b * t['activations'])} elements"]
        if isinstance(t["activations"], int):
            lines.append(f"  activation memory:   {_bytes(b * t['activations'] * size)}")
    lines.append("K, M, G are decimal (10³, 10⁶, 10⁹); MB = 10⁶ bytes, MiB = 2²⁰ bytes.")
    return lines


def _formulas(report) -> list[str]:
    free = ", ".join(report.formula_input.symbols)
    names = {"params": "params", "activations": "activations", "macs": "MACs"}
    if not free:
        return [f"Formulas: the notation fixes the input ({report.formula_input}); "
                "the numbers above are exact."]
    out = [f"Formulas in {free} (positive integers; exact, floors included, for every input "
           "the network runs on):"]
    out += [f"  {label:<11} = {pretty(report.formulas[q])}" for q, label in names.items()]
    if report.multiples:
        out.append(f"Where {_multiples_text(report)}:")
        out += [f"  {label:<11} = {pretty(report.divisible[q])}"
                for q, label in names.items()]
    return out


def _multiples_text(report) -> str:
    """"H and W are multiples of 32" (symbols in input order, equal multiples grouped)."""
    groups: dict[int, list[str]] = {}
    for sym in report.formula_input.symbols:
        if sym in report.multiples:
            groups.setdefault(report.multiples[sym], []).append(sym)
    parts = [f"{' and '.join(syms)} {'are multiples' if len(syms) > 1 else 'is a multiple'} "
             f"of {m}" for m, syms in groups.items()]
    return "; ".join(parts)


def table(report, depth: int | None = None) -> str:
    """The whole text report: header, per-layer table (``depth``: blocks nested deeper
    are summed into one line each, as torchinfo's depth), totals, formulas."""
    if depth is not None and depth < 1:
        from .errors import SymCNNError
        raise SymCNNError("depth must be 1 or more")
    head, body = _columns(report, depth)
    numeric = {0, 5, 6} if not report.symbolic else {0}
    what = f"input {report.input} (H×W×C)"
    return "\n".join([f"symcnn: {what}, {report.dtype}, batch {report.batch}", "",
                      *_grid(head, body, numeric), "", *_totals(report), "",
                      *_formulas(report)]) + "\n"
