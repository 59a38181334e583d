"""Report → text: the seed-style per-layer table, the totals block and the formulas.

Conventions users know from torchinfo and the CS231n notes: "Total params / Trainable /
Non-trainable" with thousands separators; MACs and FLOPs side by side (1 MAC = 2 FLOPs);
K/M/G are decimal; bytes shown in MB (10⁶) and MiB (2²⁰), both named; per image unless a
batch is given. Formulas print ⌊·⌋ for floor, · for product and group digits by thousands.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from fractions import Fraction

import sympy
from sympy.printing.str import StrPrinter

from .dims import MAX_INPUT, Dim
from .shapes import Row

__all__ = ["table", "pretty", "human", "display_rows", "group_lines", "Line",
           "weights_formula", "memory_formula", "shape_text", "aligned", "EXPAND_LIMIT",
           "MAX_LINES", "share", "SHARE_QUANTITIES", "layer_shares", "share_cells"]

EXPAND_LIMIT = 64  # identical repeated rows up to this count are listed one per line


class _Pretty(StrPrinter):
    """SymPy's str printer with ⌊x⌋, ·, x^n and 1,234,567."""

    def _print_Integer(self, expr) -> str:
        return f"{int(expr):,}"

    def _print_floor(self, expr) -> str:
        return _floor_text(self, expr)

    def _print_Mul(self, expr) -> str:
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Pow(self, expr, rational=False) -> str:
        base, exp = expr.as_base_exp()
        if exp == -1:
            return super()._print_Pow(expr, rational)
        return f"{self.parenthesize(base, 1000)}^{self._print(exp)}"


_PRINTER = _Pretty()


@functools.lru_cache(maxsize=1 << 14)
def _floor_parts(arg) -> tuple:
    """⌊arg⌋'s numerator and denominator (``together`` costs milliseconds: once each)."""
    return sympy.fraction(sympy.together(arg))


def _floor_text(printer, expr) -> str:
    num, den = _floor_parts(expr.args[0])
    if den == 1:
        return f"⌊{printer._print(num)}⌋"
    top = printer._print(num)
    return f"⌊({top})/{printer._print(den)}⌋" if num.is_Add else \
        f"⌊{top}/{printer._print(den)}⌋"


# ── Cheap printing ───────────────────────────────────────────────────────────────────
# A row's costs are products of a few factors (ints, Dims, SymPy channel counts). SymPy's
# printers spend milliseconds per row (``together``, term ordering, assumption queries),
# so per-row strings are built here from the factors themselves: a product is kept as
# (integer coefficient, ((base, exponent), …)) exactly as SymPy would build it, bases are
# ordered by SymPy's own sort key (derived from a Dim's fields, never from a SymPy object)
# and printed once per distinct base. Whatever falls outside that shape (a sum, a rational
# coefficient) is printed by SymPy, memoised per expression. Output is identical to
# printing the SymPy values (tests/test_export_promises.py checks it on the zoo).

_N1 = ((1, 0, "Number"), (0, ()), (), 1)


def _num_key(n) -> tuple:
    return ((1, 0, "Number"), (0, ()), (), n)


def _sym_key(name: str, coeff=1) -> tuple:
    return ((2, 0, "Symbol"), (1, (name,)), _N1, coeff)


def _add_key(first: tuple, n) -> tuple:
    return ((3, 1, "Add"), (2, (first, _num_key(n))), _N1, 1)


def _floor_key(d: Dim) -> tuple:
    inner = _sym_key(d.symbol, Fraction(1, d.den))
    if d.offset:
        inner = _add_key(inner, Fraction(d.offset, d.den))
    return ((4, 10000, "floor"), (1, (inner,)), _N1, 1)


@dataclass(frozen=True)
class Scaled:
    """``factor``·dim as SymPy keeps it once a number is distributed over a lone size
    (576·(H − 4) becomes 576·H − 2,304): a sum, printed term by term."""
    factor: int
    dim: Dim


def _dim_base_key(d: Dim, coeff=1) -> tuple:
    if d.den == 1:
        return _sym_key(d.symbol, coeff)
    k = _floor_key(d)
    return k if coeff == 1 else (k[0], k[1], k[2], coeff)


@functools.lru_cache(maxsize=1 << 16)
def dim_key(d) -> tuple:
    """SymPy's ``sort_key()`` of a Dim's (or a Scaled's) expression, from the fields (no
    SymPy object is built)."""
    c = 1
    if isinstance(d, Scaled):
        c, d = d.factor, d.dim
    base = _dim_base_key(d, c * d.mul)
    return base if not d.add else _add_key(base, c * d.add)


@functools.lru_cache(maxsize=1 << 16)
def _expr_key(x) -> tuple:
    return x.sort_key()


@functools.lru_cache(maxsize=1 << 16)
def dim_text(d, style: str = "pretty") -> str:
    """A Dim as ``pretty`` (⌊(H + 1)/2⌋ + 1) or ``str`` (floor(H/2 + 1/2) + 1) prints it;
    a Scaled as 576·H − 2,304."""
    pretty_ = style == "pretty"
    c = 1
    if isinstance(d, Scaled):
        c, d = d.factor, d.dim
    if d.den == 1:
        base = d.symbol
    elif pretty_:
        base = f"⌊({d.symbol} + {d.offset:,})/{d.den:,}⌋" if d.offset else \
            f"⌊{d.symbol}/{d.den:,}⌋"
    else:
        base = f"floor({d.symbol}/{d.den} + {Fraction(d.offset, d.den)})" if d.offset else \
            f"floor({d.symbol}/{d.den})"
    add, c = c * d.add, c * d.mul
    if c != 1:
        base = f"{c:,}·{base}" if pretty_ else f"{c}*{base}"
    if not add:
        return base
    n = f"{abs(add):,}" if pretty_ else str(abs(add))
    return f"{base} {'+' if add > 0 else '-'} {n}"


@functools.lru_cache(maxsize=1 << 16)
def _parts(x):
    """A SymPy factor as (integer coefficient, ((base, exponent), …)), or None."""
    c, rest = x.as_coeff_Mul()
    if not c.is_Integer or c == 0:
        return None
    items = []
    for a in sympy.Mul.make_args(rest):
        if a == 1:
            continue
        b, e = a.as_base_exp()
        if not (e.is_Integer and e > 0) or b.is_Number:
            return None
        items.append((b, int(e)))
    return int(c), tuple(items)


def _is_add(base) -> bool:
    if isinstance(base, Dim):
        return bool(base.add)
    return isinstance(base, Scaled) or base.is_Add


def _scale(base, c: int):
    """``c`` times a lone sum, as SymPy distributes it; None unless it is a size."""
    if isinstance(base, Dim):
        return Scaled(c, base)
    if isinstance(base, Scaled):
        return Scaled(c * base.factor, base.dim)
    return None


def _lone_add(coef: int, items: dict) -> bool:
    if coef != 1 or len(items) != 1:
        return False
    (base, e), = items.items()
    return e == 1 and _is_add(base)


Form = tuple  # (int coefficient, ((base, exponent), …)); bases are Dims or SymPy


def product_form(factors, start: Form = (1, ())) -> Form | None:
    """``start`` times ``factors`` (ints, Dims, SymPy) as SymPy's ``a*b*c`` builds it
    (symcnn.shapes._product): a number times a lone size is distributed (a Scaled), as
    SymPy does; None where SymPy would build something else (a number times a lone sum of
    channels, a zero, a rational coefficient)."""
    coef, items = start[0], dict(start[1])
    for f in factors:
        if isinstance(f, int):
            c, more = f, ()
        elif isinstance(f, Dim):  # m·F (no add) is a product, as SymPy keeps it
            c, more = (f.mul, ((replace(f, mul=1), 1),)) if f.mul != 1 and not f.add \
                else (1, ((f, 1),))
        else:
            part = _parts(f)
            if part is None:
                return None
            c, more = part
        if c == 0:
            return None
        if not more and c == 1:
            continue
        lone = c == 1 and len(more) == 1 and more[0][1] == 1 and _is_add(more[0][0])
        if coef != 1 and not items and lone:  # SymPy distributes a number over a sum
            scaled = _scale(more[0][0], coef)
            if scaled is None:
                return None
            coef, items = 1, {scaled: 1}
            continue
        if not more and items and _lone_add(coef, items):
            (base, _), = items.items()
            scaled = _scale(base, c)
            if scaled is None:
                return None
            items = {scaled: 1}
            continue
        coef *= c
        for b, e in more:
            items[b] = items.get(b, 0) + e
    return coef, tuple(items.items())


def row_form(row: Row, quantity: str) -> Form | None:
    """The product form of ``row``'s activations, weights, macs, biases or buffers."""
    if quantity == "activations":
        return (0, ()) if row.aux else product_form(row.out)
    if quantity == "weights":
        if not row.weight_factors:
            return 0, ()
        inner, outer = row.weight_factors
        return product_form((*inner, outer))
    if quantity == "macs":
        if row.positions is None or row.aux:
            return 0, ()
        w = row_form(row, "weights")
        return None if w is None or w[0] == 0 else product_form(row.positions, w)
    value = getattr(row, quantity)
    return (value, ()) if isinstance(value, int) else product_form((value,))


class Style:
    """How a product prints: SymPy's ``str`` (JSON, CSV) or ``pretty`` (table, Markdown)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sep = "·" if name == "pretty" else "*"
        self._text: dict = {}

    def number(self, n: int) -> str:
        return f"{n:,}" if self.name == "pretty" else str(n)

    def expr(self, x) -> str:
        """Any value, printed by SymPy (memoised)."""
        if isinstance(x, (Dim, Scaled)):
            return dim_text(x, self.name)
        if isinstance(x, int):
            return self.number(x)
        return _pretty_expr(x) if self.name == "pretty" else _str_expr(x)

    def key(self, base, e: int) -> tuple:
        return _KEY(base, e)

    def base(self, base, e: int) -> str:
        """One factor of a product (parenthesised when it is a sum)."""
        got = self._text.get((base, e))
        if got is None:
            if e != 1:
                got = self.expr(sympy.Pow(_base_expr(base), e))
            else:
                got = self.expr(base)
                if _is_add(base):
                    got = self.paren(got)
            self._text[(base, e)] = got
        return got

    def paren(self, text: str) -> str:
        return f"({text})"

    def form(self, form: Form) -> str:
        coef, items = form
        if coef == 0 or not items:
            return self.number(coef)
        if coef == 1 and len(items) == 1 and items[0][1] == 1:
            return self.expr(items[0][0])  # a lone factor is not a product
        order = sorted(items, key=lambda be: self.key(*be))
        parts = [self.base(b, e) for b, e in order]
        return self.sep.join(parts if coef == 1 else [self.number(coef), *parts])

    def value(self, row: Row, quantity: str) -> str:
        """``row``'s quantity as SymPy would print it."""
        if quantity == "params":
            w, b = row_form(row, "weights"), row_form(row, "biases")
            if w is not None and b is not None and not b[1] and not _lone_add(w[0], dict(w[1])):
                if b[0] == 0:
                    return self.form(w)
                if not w[1]:
                    return self.number(w[0] + b[0])
                return f"{self.form(w)} + {self.number(b[0])}"
            return self.expr(row.params)
        f = row_form(row, quantity)
        return self.expr(getattr(row, quantity)) if f is None else self.form(f)


def is_number(row: Row, quantity: str) -> bool:
    """Whether ``row``'s quantity is a Python int (cheaply)."""
    if quantity == "params":
        return is_number(row, "weights") and is_number(row, "biases")
    f = row_form(row, quantity)
    return isinstance(getattr(row, quantity), int) if f is None else not f[1]


@functools.lru_cache(maxsize=1 << 14)
def _pretty_expr(x) -> str:
    return _PRINTER.doprint(x)


@functools.lru_cache(maxsize=1 << 14)
def _str_expr(x) -> str:
    return str(x)




def pretty(x) -> str:
    """A count or formula as people read it: 1,234 or 576·C + 2,097,152·⌊H/32⌋·⌊W/32⌋."""
    if isinstance(x, Dim):
        return dim_text(x)
    if isinstance(x, int):
        return f"{x:,}"
    return _pretty_expr(x)


def human(n: int) -> str:
    """A decimal K/M/G/T abbreviation, rounded half up from the exact integer."""
    for unit, name in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if n >= unit:
            hundredths = (n * 100 + unit // 2) // unit
            return f"{hundredths // 100:,}.{hundredths % 100:02d} {name}"
    return str(n)


def _factor(x) -> str:
    """A factor of a product, in parentheses where it is a sum."""
    if isinstance(x, int):
        return f"{x:,}"
    text = pretty(x)
    return f"({text})" if _is_add(x) else text


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


def with_value(formula: str, row: Row, quantity: str, style: "Style") -> str:
    """``formula = value`` where the value is a number that reads differently."""
    if not is_number(row, quantity):
        return formula
    shown = style.value(row, quantity)
    return formula if formula == shown else f"{formula} = {shown}"


def signature(row: Row) -> tuple:
    """What a row's printed costs depend on (rows alike print alike)."""
    return row.out, row.weight_factors, row.biases, row.positions, row.buffers, row.aux


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
    block by block (a collapsed block of rows repeats as a whole, not row by row).

    Nested repeats multiply (``((relu)x64)x64`` lists 4,096 lines), so the listing is
    kept within MAX_LINES lines (or the number of rows, if more): where it would be
    longer, the repeats whose listing takes the most lines are collapsed, each showing
    every row in it once with the number of times it runs (``relu (×16,777,216, each)``),
    until it fits. Within the budget the lines are exactly those of the rule above."""
    tree = _tree(list(rows))
    collapse = _budget(tree)
    lines, n = [], 0
    for row, copies, key in _emit(tree, (), collapse, False):
        lines.append(Line(n, row, copies, key))
        n += copies
    return lines


MAX_LINES = 10_000  # lines a listing may take (a network of more rows lists each once)


class _Rep:
    """A collapsed repeat: ``count`` copies of ``items`` (rows and inner repeats).
    ``lines``: the lines it lists under the EXPAND_LIMIT rule; ``size``: its rows."""
    __slots__ = ("uid", "count", "depth", "items", "lines", "size", "listed")

    def __init__(self, uid: int, count: int, depth: int, items: list) -> None:
        self.uid, self.count, self.depth, self.items = uid, count, depth, items
        self.listed = count <= EXPAND_LIMIT
        inner = sum(x.lines if isinstance(x, _Rep) else 1 for x in items)
        self.lines = count * inner if self.listed else inner
        self.size = sum(x.size if isinstance(x, _Rep) else 1 for x in items)


def _tree(rows: list[Row]) -> list:
    """``rows`` as a list of rows and _Reps (consecutive rows in the same repeat), nested
    as the repeats are; one pass, each _Rep's line count computed as it closes."""
    top: list = []
    stack: list = []  # (uid, count, depth, items) of the open repeats, outermost first
    for row in rows:
        reps = row.reps
        keep = 0
        while keep < len(stack) and keep < len(reps) and stack[keep][0] == reps[keep][0]:
            keep += 1
        while len(stack) > keep:
            uid, count, depth, items = stack.pop()
            (stack[-1][3] if stack else top).append(_Rep(uid, count, depth, items))
        for uid, count, depth in reps[keep:]:
            stack.append((uid, count, depth, []))
        (stack[-1][3] if stack else top).append(row)
    while stack:
        uid, count, depth, items = stack.pop()
        (stack[-1][3] if stack else top).append(_Rep(uid, count, depth, items))
    return top


def _budget(tree: list) -> set[int]:
    """The ids of the listed repeats to collapse (with everything in them) so that the
    listing takes at most max(MAX_LINES, rows) lines: the outermost listed repeats, those
    saving the most lines first (in execution order among equals)."""
    total = sum(x.lines if isinstance(x, _Rep) else 1 for x in tree)
    if total <= MAX_LINES:
        return set()
    outer: list[_Rep] = []
    todo = [x for x in reversed(tree) if isinstance(x, _Rep)]
    while todo:  # the listed repeats not inside a listed one, in execution order
        rep = todo.pop()
        if rep.listed:
            outer.append(rep)
        else:
            todo.extend(x for x in reversed(rep.items) if isinstance(x, _Rep))
    order = sorted(range(len(outer)), key=lambda i: -(outer[i].lines - outer[i].size))
    collapse = set()
    for i in order:
        if total <= MAX_LINES:
            break
        rep = outer[i]
        if rep.lines > rep.size:
            collapse.add(id(rep))
            total -= rep.lines - rep.size
    return collapse


def _emit(items: list, key: tuple, collapse: set[int], shut: bool, copies: int = 1):
    """(row, copies, key) per line of ``items``; ``shut``: inside a repeat collapsed for
    the budget (every repeat in it shows its rows once)."""
    for x in items:
        if not isinstance(x, _Rep):
            yield x, copies, key
        elif not shut and x.listed and id(x) not in collapse:
            for k in range(x.count):
                yield from _emit(x.items, (*key, (x.uid, k, x.depth)), collapse, False,
                                 copies)
        else:
            yield from _emit(x.items, (*key, (x.uid, -1, x.depth)), collapse,
                             shut or x.listed, copies * x.count)


def _group_key(line: Line, depth: int) -> tuple:
    # the branches of one add(…)/cat(…) share its uid: their labels tell them apart
    scopes = tuple((sc.uid, sc.label) for sc in line.row.path[:depth])
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
    """The sum of ``quantity`` over ``lines`` (as ``sympy.Add`` of the rows' values builds
    it), grouped by product in Python first: one small Add however many lines."""
    total, extra, by = 0, [], {}
    for line in lines:
        f = row_form(line.row, quantity) if quantity != "params" else None
        if f is None:
            v = line.copies * getattr(line.row, quantity)
            if isinstance(v, int):
                total += v
            else:
                extra.append(v)
        elif not f[1]:
            total += line.copies * f[0]
        else:
            key = tuple(sorted(f[1], key=lambda be: _KEY(*be)))
            by[key] = by.get(key, 0) + line.copies * f[0]
    if not by and not extra:
        return total
    terms = [c * sympy.Mul(*(_base_expr(b) ** e for b, e in key)) for key, c in by.items()]
    return sympy.Add(*terms, *extra, total)


def _KEY(base, e: int) -> tuple:
    k = dim_key(base) if isinstance(base, (Dim, Scaled)) else _expr_key(base)
    return k if e == 1 else (k[0], k[1], _num_key(e), k[3])


def _base_expr(base):
    if isinstance(base, Scaled):
        return base.factor * base.dim.expr()
    return base.expr() if isinstance(base, Dim) else base


def _line_cells(line: Line, style: "Style", cache: dict) -> list[str]:
    row, copies = line.row, line.copies
    name = row.name if copies == 1 else f"{row.name} (×{copies:,}, each)"
    name = "  " * len(row.path) + name + (" (aux)" if row.aux else "")
    sig = signature(row)
    cells = cache.get(sig)
    if cells is None:
        cells = cache[sig] = [
            shape_text(row.out),
            with_value(memory_formula(row), row, "activations", style),
            with_value(weights_formula(row), row, "weights", style),
            style.value(row, "biases"), style.value(row, "macs")]
    return [str(line.index), name, *cells]


def _group_cells(group: list[Line], depth: int, fields: dict | None = None) -> list[str]:
    first, last = group[0], group[-1]
    scope = first.row.path[depth - 1]
    n = sum(line.copies for line in group)
    name = "  " * (depth - 1) + f"{scope} ({n:,} layer{'' if n == 1 else 's'})"
    return [str(first.index), name, shape_text(last.row.out),
            pretty(_sum(group, "activations")), pretty(_sum(group, "weights")),
            pretty(_sum(group, "biases")), pretty(_sum(group, "macs")),
            *([fields[id(last)].text()] if fields is not None else [])]


# Per-layer shares, as torchinfo's "Param %" and fvcore's tables show them.
SHARE_QUANTITIES = ("params", "macs")
SHARE_HEAD = ["Params %", "MACs %"]


def share(part, total) -> str | None:
    """``part`` as a percentage of ``total``, rounded half up to 2 decimals: "12.34%";
    "0%" and "100%" only when exact, "<0.01%" and ">99.99%" where rounding would hide a
    part or a remainder. None when either is symbolic or the total is 0 (no share)."""
    part, total = _exact(part), _exact(total)
    if part is None or total is None or total <= 0:
        return None
    if part in (0, total):
        return "0%" if part == 0 else "100%"
    hundredths = (20_000 * part + total) // (2 * total)  # round(10,000·part/total), half up
    if hundredths == 0:
        return "<0.01%"
    if hundredths == 10_000:
        return ">99.99%"
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def _exact(x) -> int | None:
    if isinstance(x, int) or getattr(x, "is_Integer", False):
        return int(x)
    return None


def share_cells(part_of, totals: dict) -> list[str]:
    """The share columns of one line: ``part_of(quantity)`` of each total; "—" for none,
    "" where there is no share (a symbolic part or total)."""
    out = []
    for q in SHARE_QUANTITIES:
        part = part_of(q)
        out.append("—" if _exact(part) == 0 else share(part, totals[q]) or "")
    return out


def layer_shares(row: Row, totals: dict) -> dict:
    """JSON's ``params_share`` and ``macs_share`` of one layer (one copy): the percentage
    rounded half up to 2 decimals as a string, "12.34%" (see :func:`share`; the exact
    counts are the layer's ``params`` and ``macs``), None where there is no share."""
    return {f"{q}_share": share(getattr(row, q), totals[q]) for q in SHARE_QUANTITIES}


def _columns(report, depth: int | None = None,
             shares: bool = False) -> tuple[list[str], list[list[str]]]:
    """The per-layer table as cells; ``shares`` adds "Params %" and "MACs %" (of the
    totals; a line "×N, each" shows one copy's share, a block at ``depth`` its sum's)."""
    head = ["#", "Layer", "Output", "Memory (elements)", "Weights", "Biases", "MACs",
            *(SHARE_HEAD if shares else []), "RF / jump"]
    lines = display_rows(report.rows)
    fields = {id(line): f for line, f in zip(lines, report.receptive_fields())}
    style, cache = Style("pretty"), {}
    t = report.totals

    def line_cells(line: Line) -> list[str]:
        extra = share_cells(lambda q: getattr(line.row, q), t) if shares else []
        return [*_line_cells(line, style, cache), *extra, fields[id(line)].text()]

    def group_cells(group: list[Line]) -> list[str]:
        cells = _group_cells(group, depth, fields)
        if shares:
            cells[7:7] = share_cells(lambda q: _sum(group, q), t)
        return cells

    if depth is None:
        body = [line_cells(line) for line in lines]
    else:
        body = [line_cells(g[0]) if len(g[0].row.path) < depth else group_cells(g)
                for g in group_lines(lines, depth)]
    blank = [""] * (len(SHARE_HEAD) if shares else 0)
    if report.symbolic:  # symbolic totals are long: they stand in the block below
        body.append(["", "Total", "", "(see below)", "", "", "", *blank, ""])
    else:
        body.append(["", "Total", "", pretty(t["activations"]), pretty(t["weights"]),
                     pretty(t["biases"]), pretty(t["macs"]), *blank, ""])
    return head, body


def aligned(rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    """Rows of cells as text lines in aligned columns (two spaces apart; the columns in
    ``right`` right-aligned, the others left-aligned; no trailing blanks)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                      for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
            for cells in rows]


def _grid(head: list[str], body: list[list[str]], right: set[int]) -> list[str]:
    """The table: head, rule, the rows, rule, the total row."""
    lines = aligned([head, *body], right)
    rule = "─" * len(lines[0])
    return [lines[0], rule, *lines[1:-1], rule, lines[-1]]


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


def _convention_note(report) -> str:
    """After the MACs total of a report in another tool's convention: which one."""
    c = getattr(report, "convention", "torch")
    return "" if c == "torch" else f"   ({c}'s count; the MACs column above is torch's)"


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
        f"MACs:                  {_count(t['macs'])}" + _convention_note(report),
        f"FLOPs:                 {_count(t['flops'])}   (1 MAC = 2 FLOPs)",
        f"Activations:           {pretty(t['activations'])} elements "
        "(the input + every layer's output)",
    ]
    if isinstance(t["activations"], int):
        act = t["activations"] * size
        lines.append(f"Activation memory:     {_bytes(act)}  ({dt}, {size} B/element)")
    if isinstance(t["params"], int):
        lines.append(f"Params memory:         {_bytes(t['params'] * size)}  ({dt})")
    lines.append("Per image (batch 1)." if b == 1 else f"Per image; batch of {b:,}:")
    if b > 1:
        lines += [f"  MACs × {b:,}:           {_count(b * t['macs'])}",
                  f"  FLOPs × {b:,}:          {_count(b * t['flops'])}",
                  f"  activations × {b:,}:    {pretty(b * t['activations'])} elements"]
        if isinstance(t["activations"], int):
            lines.append(f"  activation memory:   {_bytes(b * t['activations'] * size)}")
    lines += memory_lines(report)
    lines.append("K, M, G are decimal (10³, 10⁶, 10⁹); MB = 10⁶ bytes, MiB = 2²⁰ bytes.")
    return lines


MEMORY_LABELS = {"saved_for_backward": "saved for backward", "model_state": "model state",
                 "inference_peak": "inference peak", "training_peak": "training peak"}


def memory_lines(report) -> list[str]:
    """The named PyTorch memory figures (symcnn.memory), each with its definition; for a
    symbolic input they are in the formulas instead."""
    from .memory import DEFINITIONS
    m = report.memory
    if report.symbolic:
        return []
    out = [f"PyTorch memory ({m['device']} semantics, {m['dtype']}, batch {m['batch']:,}, "
           f"{m['optimizer']}):"]
    for key, label in MEMORY_LABELS.items():
        v = m[key]
        shown = _bytes(v) if isinstance(v, int) else pretty(v) if v is not None else \
            "— (PyTorch does not train in int8)" if m["dtype"] == "int8" else \
            f"— ({m.get('note', 'not computed')})"
        parts = m["breakdown"]
        if key == "model_state" and isinstance(v, int):
            shown += (f"  (params {parts['params']:,} + gradients {parts['params']:,} + "
                      f"{m['optimizer']} state {parts['optimizer_state']:,})")
        if key == "training_peak" and isinstance(v, int):
            shown += f"  (estimate, in {m['training_phase']})"
            out.append(f"  {label + ':':<20} {shown}")
            out.append("      " + " + ".join(f"{k.replace('_', ' ')} {parts[k]:,}"
                                             for k in parts))
            out.append(f"      {DEFINITIONS[key]}")
            continue
        out += [f"  {label + ':':<20} {shown}", f"      {DEFINITIONS[key]}"]
        line = m.get("inference_peak_by_batch") if key == "inference_peak" else None
        if line and isinstance(v, int):
            out.append(f"      at this input, for every batch B ≥ {line['from_batch']:,}: "
                       f"{line['fixed']:,} + {line['per_image']:,}·B bytes")
    return out


def _formulas(report) -> list[str]:
    free = ", ".join(report.formula_input.symbols)
    names = {"params": "params", "activations": "activations", "macs": "MACs"}
    if not free:
        widths = sorted({s.name for f in report.formulas.values()
                         for s in getattr(f, "free_symbols", ())})
        if widths:
            return [f"Formulas: the notation fixes the input ({report.formula_input}); "
                    f"the totals above are exact, polynomials in the "
                    f"width{'s' if len(widths) > 1 else ''} {', '.join(widths)}."]
        return [f"Formulas: the notation fixes the input ({report.formula_input}); "
                "the numbers above are exact."]
    out = [f"Formulas in {free} (positive integers; exact, floors included, for every input "
           "the network runs on):"]
    out += [f"  {label:<11} = {pretty(report.formulas[q])}" for q, label in names.items()]
    out += [f"  {MEMORY_LABELS[q]} = {pretty(f)}  (bytes"
            f"{', batch B' if 'B' in {x.name for x in f.free_symbols} else ''})"
            for q, f in report.memory_formulas.items()]
    if report.multiples:
        out.append(f"Where {_multiples_text(report)}:")
        out += [f"  {label:<11} = {pretty(report.divisible[q])}"
                for q, label in names.items()]
    elif report.strides:
        need = _multiples_text(report, True).replace(" are ", " would have to be ") \
            .replace(" is a ", " would have to be a ")
        out.append(f"(No floor-free form: {need}, more than the largest input, "
                   f"{MAX_INPUT:,}.)")
    return out


def _multiples_text(report, strides: bool = False) -> str:
    """"H and W are multiples of 32" (symbols in input order, equal multiples grouped)."""
    groups: dict[int, list[str]] = {}
    multiples = report.strides if strides else report.multiples
    for sym in report.formula_input.symbols:
        if sym in multiples:
            groups.setdefault(multiples[sym], []).append(sym)
    parts = [f"{' and '.join(syms)} {'are multiples' if len(syms) > 1 else 'is a multiple'} "
             f"of {m}" for m, syms in groups.items()]
    return "; ".join(parts)


def table(report, depth: int | None = None, shares: bool = False) -> str:
    """The whole text report: header, per-layer table (``depth``: blocks nested deeper
    are summed into one line each, as torchinfo's depth; ``shares``: each line's share of
    the total params and MACs), totals, formulas."""
    if depth is not None and depth < 1:
        from .errors import SymCNNError
        raise SymCNNError("depth must be 1 or more")
    head, body = _columns(report, depth, shares)
    numeric = {0, 5, 6} if not report.symbolic else {0}
    if shares:
        numeric |= {7, 8}
    what = f"input {report.input} (H×W×C)"
    return "\n".join([f"symcnn: {what}, {report.dtype}, batch {report.batch}", "",
                      *_grid(head, body, numeric), "", *_totals(report), "",
                      *_formulas(report)]) + "\n"
