"""Report → LaTeX: a booktabs table in the seed's shape and the closed forms as ``align*``.

Everything goes through SymPy's LaTeX printer (subclassed for ``138{,}357{,}544``,
``\\cdot`` and ⌊(H + 1)/2⌋ as one fraction), never ``str()``. The output needs only the
booktabs and amsmath packages. Anything a user names that reaches LaTeX is checked or
escaped: captions are escaped, labels and symbol names must match strict patterns.
"""

from __future__ import annotations

import re

import sympy
from sympy.printing.latex import LatexPrinter

from .dims import Dim, size_symbol
from .errors import SymCNNError
from .formatting import (Line, Scaled, Style, _expr_key, _num_key, _sym_key, _add_key,
                         dim_key, display_rows, group_lines, is_number, signature)

__all__ = ["to_latex", "formulas_aligned", "latex_escape", "LATEX_QUANTITIES", "caption_lines",
           "document", "field_tex", "LAYOUTS", "LINES_PER_FLOAT", "CELL_TERMS"]

LAYOUTS = ("full", "compact")

# A table float holds at most this many rows (more: a longtable, or for the compact
# layout several floats); a cell shows a sum of at most CELL_TERMS terms on one line.
LINES_PER_FLOAT = 40
CELL_TERMS = 2

LATEX_QUANTITIES = (("params", r"\text{params}"), ("activations", r"\text{activations}"),
                    ("macs", r"\text{MACs}"))
# Commands allowed in a symbol name such as H_{\mathrm{in}}.
_SAFE_COMMANDS = {"mathrm", "mathit", "mathbf", "mathsf", "mathcal", "text", "textrm",
                  "operatorname", "hat", "tilde", "bar", "prime"} | {
    "alpha", "beta", "gamma", "delta", "eta", "theta", "kappa", "lambda", "mu", "nu", "rho",
    "sigma", "tau", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Sigma", "Phi", "Psi", "Omega"}
_LABEL = re.compile(r"[A-Za-z0-9:._-]{1,80}")


class _Printer(LatexPrinter):
    """SymPy's LaTeX printer with 1{,}234 digit groups, \\cdot and ⌊(a + b)/d⌋."""

    def __init__(self, symbol_names: dict | None = None) -> None:
        super().__init__({"mul_symbol": "dot", "symbol_names": symbol_names or {}})

    def _print_Integer(self, expr) -> str:
        n = int(expr)
        return ("-" if n < 0 else "") + f"{abs(n):,}".replace(",", "{,}")

    def _print_floor(self, expr, exp=None) -> str:
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        inner = self._print(num) if den == 1 else \
            rf"\frac{{{self._print(num)}}}{{{self._print(den)}}}"
        return rf"\left\lfloor {inner} \right\rfloor"


_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
            "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}"}
# Greek letters as math (stock pdflatex has no text glyphs for them); Latin-1 letters pass
# through (pdflatex reads UTF-8 and sets é, ü, ß, …); any other character is shown as its
# code point, so that nothing a user types stops pdflatex.
_GREEK = dict(zip("αβγδεζηθικλμνξπρστυφχψωΓΔΘΛΞΠΣΥΦΨΩ", (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma "
    "tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi "
    "Omega").split()))


# Punctuation symcnn's own names use (a long block name cut with …) as stock LaTeX.
_PUNCTUATION = {"\u2026": r"\dots{}", "\u2014": "---", "\u2013": "--", "\u2212": "-"}


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isascii() or "\u00c0" <= ch <= "\u00ff" and ch not in "\u00d7\u00f7":
        return ch
    if ch in _GREEK:
        return rf"\ensuremath{{\{_GREEK[ch]}}}"
    if ch == "\u00d7":
        return r"\ensuremath{\times}"
    if ch in _PUNCTUATION:
        return _PUNCTUATION[ch]
    return rf"\texttt{{U+{ord(ch):04X}}}"


def latex_escape(text: str) -> str:
    """Plain text for LaTeX: every special character escaped (no command survives), Greek
    letters as math, other non-Latin-1 characters as their code point."""
    return "".join(_escape_char(ch) for ch in text if ch.isprintable() or ch == " ")


def _check_symbol_name(name: str) -> str:
    commands = re.findall(r"\\([A-Za-z]+)", name)
    bad = [c for c in commands if c not in _SAFE_COMMANDS]
    rest = re.sub(r"\\[A-Za-z]+", "", name)
    if bad or not re.fullmatch(r"[A-Za-z0-9_^{}' ]{0,60}", rest) or not _balanced(name) \
            or not name.strip():
        why = f"command \\{bad[0]} is not allowed" if bad else "only letters, digits, _ ^ " \
            "{ } and \\mathrm-style commands are allowed, with balanced braces"
        raise SymCNNError(f"symbol name {name!r:.60} cannot go into LaTeX: {why}")
    return name


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _symbols(report) -> set:
    """Every SymPy symbol the report's rows use (input symbols and symbolic widths)."""
    seen, out = set(), set()
    for rows in (report.rows, report.formula_rows):
        for r in rows:
            inner = r.weight_factors[0] if r.weight_factors else ()
            outer = r.weight_factors[1:] if r.weight_factors else ()
            for v in (r.out[2], *inner, *outer, r.biases, r.buffers):
                if isinstance(v, sympy.Basic) and v not in seen:
                    seen.add(v)
                    out |= v.free_symbols
    return out | {size_symbol(s) for s in (*report.input.symbols,
                                           *report.formula_input.symbols)}


def _sizes(report, printer=None, names: dict | None = None) -> dict:
    """Each floor of an input symbol → a short symbol h_1, w_1, … (per-stride sizes),
    named so that it prints unlike every symbol of the network (a width h_1 or h1, both
    h_{1} in LaTeX) and every name given in ``names``: h_i and w_i, else H_i and W_i,
    else hh_i and ww_i."""
    printer = printer or _Printer()
    def plain(tex: str) -> str:  # h_1, h_{1} and h_{ 1 } typeset alike
        return re.sub(r"[\s{}]", "", tex)
    taken = {plain(printer.doprint(s)) for s in _symbols(report)}
    taken |= {plain(v) for v in (names or {}).values()}
    dims = sorted({d for r in report.formula_rows for d in r.out[:2]
                   if isinstance(d, Dim) and d.den > 1},
                  key=lambda d: (d.symbol, d.den, d.offset, d.add))
    keys: dict[str, list] = {}
    for d in dims:
        key = Dim(d.symbol, d.offset, d.den, 0)
        if key not in keys.setdefault(d.symbol, []):
            keys[d.symbol].append(key)
    schemes = (str.lower, str.upper, lambda a: a.lower() * 2)  # one scheme for every axis
    for scheme in schemes:
        names_out = {key: sympy.Symbol(f"{scheme(axis)}_{i}", positive=True, integer=True)
                     for axis, axis_keys in keys.items()
                     for i, key in enumerate(axis_keys, 1)}
        if not any(plain(printer.doprint(s)) in taken for s in names_out.values()):
            break
    else:
        axes = ", ".join(keys)
        raise SymCNNError(f"the LaTeX names of the sizes along {axes} (h_1, H_1, hh_1, … "
                          "and the like) all clash with a symbol of the network; rename "
                          "the width")
    return names_out


def _short(x, sizes: dict):
    """An expression with its floors replaced by the per-stride size symbols."""
    if isinstance(x, Dim):
        x = x.expr()
    if not isinstance(x, sympy.Basic) or not sizes:
        return x
    return x.xreplace({k.expr(): v for k, v in sizes.items()})


class _Style(Style):
    """Products printed as the LaTeX printer prints them after :func:`_short`, from the
    factors: sizes with a per-stride name print as that name (h_{1} + 1), others from
    their fields; anything else through the printer, once per distinct value."""

    def __init__(self, printer: "_Printer", sizes: dict) -> None:
        super().__init__("latex")
        self.sep, self.printer, self.sizes = r" \cdot ", printer, sizes
        self._symbols: dict = {}
        self._exprs: dict = {}

    def number(self, n: int) -> str:
        return ("-" if n < 0 else "") + f"{abs(n):,}".replace(",", "{,}")

    def paren(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _symbol(self, name) -> str:
        got = self._symbols.get(name)
        if got is None:
            sym = name if isinstance(name, sympy.Symbol) else size_symbol(name)
            got = self._symbols[name] = self.printer.doprint(sym)
        return got

    def _split(self, d):
        c = 1
        if isinstance(d, Scaled):
            c, d = d.factor, d.dim
        return c, d, self.sizes.get(Dim(d.symbol, d.offset, d.den, 0))

    def expr(self, x) -> str:
        if isinstance(x, int):
            return self.number(x)
        if isinstance(x, (Dim, Scaled)):
            c, d, short = self._split(x)
            if short is not None:
                base = self._symbol(short)
            elif d.den == 1:
                base = self._symbol(d.symbol)
            else:
                num = self._symbol(d.symbol) + (f" + {self.number(d.offset)}" if d.offset else "")
                base = rf"\left\lfloor \frac{{{num}}}{{{self.number(d.den)}}} \right\rfloor"
            add, c = c * d.add, c * d.mul
            if c != 1:
                base = f"{self.number(c)} \\cdot {base}"
            return base if not add else f"{base} {'+' if add > 0 else '-'} {self.number(abs(add))}"
        got = self._exprs.get(x)
        if got is None:
            got = self._exprs[x] = self.printer.doprint(_short(x, self.sizes))
        return got

    def key(self, base, e: int) -> tuple:
        if isinstance(base, (Dim, Scaled)):
            c, d, short = self._split(base)
            if short is None:
                k = dim_key(base)
            else:
                k = _sym_key(short.name, c * d.mul)
                if d.add:
                    k = _add_key(k, c * d.add)
        else:
            k = _expr_key(_short(base, self.sizes))
        return k if e == 1 else (k[0], k[1], _num_key(e), k[3])


class _Writer:
    def __init__(self, report, symbol_names: dict | None) -> None:
        names = {size_symbol(k): _check_symbol_name(v) for k, v in (symbol_names or {}).items()}
        self.printer = _Printer(names)
        self.report, self.sizes = report, _sizes(report, self.printer, names)
        self.style = _Style(self.printer, self.sizes)
        self._cells: dict = {}
        self.refs: set[str] = set()  # totals the table refers to by equation number
        self.label: str | None = None
        self.per_line = 3  # terms per line of the formulas block (1 in the compact layout)

    def math(self, x) -> str:
        return self.style.expr(x) if isinstance(x, (int, Dim)) else \
            self.printer.doprint(_short(x, self.sizes))

    def factors(self, values, sep: str = r" \cdot ") -> str:
        parts = []
        for v in values:
            s = self.style.expr(v)
            add = v.add if isinstance(v, Dim) else isinstance(v, sympy.Add)
            parts.append(f"({s})" if add else s)
        return sep.join(parts)

    def with_value(self, formula: str, row, quantity: str) -> str:
        if not is_number(row, quantity):
            return f"${formula}$"
        shown = self.style.value(row, quantity)
        return f"${formula} = {shown}$" if formula != shown else f"${formula}$"

    def name(self, row, copies: int) -> str:
        name = r"\texttt{" + latex_escape(row.name) + "}"
        if copies > 1:
            name += rf" $\times {self.math(copies)}$"
        if row.aux:
            name += " (aux)"
        return name

    def line(self, line: Line, field, compact: bool) -> list[str]:
        row = line.row
        sig = signature(row)
        cells = self._cells.get((sig, compact))
        if cells is None:
            if compact:
                cells = ["$" + self.factors(row.out, r"{\times}") + "$",
                         stack(_tight(self.style.value(row, "params"))),
                         stack(_tight(self.style.value(row, "macs")), "r")]
            else:
                weights = "$0$"
                if row.weight_factors:
                    inner, outer = row.weight_factors
                    formula = self.factors(inner)
                    if outer != 1:
                        formula = f"({formula}) \\cdot {self.factors([outer])}"
                    weights = self.with_value(formula, row, "weights")
                cells = ["$" + self.factors(row.out, r" \times ") + "$",
                         self.with_value(self.factors(row.out), row, "activations"),
                         weights, f"${self.style.value(row, 'macs')}$"]
            self._cells[(sig, compact)] = cells
        return [_indent(len(row.path), compact) + self.name(row, line.copies), *cells,
                *([] if compact else [field_tex(field)])]

    def group(self, group: list[Line], depth: int, field, compact: bool) -> list[str]:
        from .formatting import _sum
        scope = group[0].row.path[depth - 1]
        n = sum(line.copies for line in group)
        text = str(scope).replace(", ", ",") if compact else str(scope)
        name = _two_lines(r"\texttt{" + latex_escape(text) + "}",
                          f"{n} layer{'' if n == 1 else 's'}", "l", "t")
        shape = "$" + self.factors(group[-1].row.out, r"{\times}" if compact
                                   else r" \times ") + "$"
        quantities = ("params", "macs") if compact else ("activations", "weights", "macs")
        cells = [self.stacked(_sum(group, q), "r" if q == "macs" else "l")
                 for q in quantities]
        return [_indent(depth - 1, compact) + name, shape, *cells,
                *([] if compact else [field_tex(field)])]

    def stacked(self, expr, align: str = "l", per_line: int = 1) -> str:
        """A cell's sum, ``per_line`` terms a line (a nested array): no cell grows wide."""
        tex = self.math(expr)
        return stack(_tight(tex) if self.per_line == 1 else tex, align, per_line)

    def total(self, quantity: str, align: str = "l", terms: int = CELL_TERMS) -> str:
        """A total's cell: the number, a short formula, or a reference to its line in the
        formulas block (the same expression), else the sum stacked two terms a line."""
        value = self.report.totals[quantity]
        if not isinstance(value, sympy.Add) or len(value.args) <= terms:
            return self.stacked(value, align, terms)
        if quantity in dict(LATEX_QUANTITIES) and self.report.formula_input.symbols and \
                self.report.formulas[quantity] == value:
            self.refs.add(quantity)
            return rf"see~\eqref{{{self.eq_label(quantity)}}}"
        return self.stacked(value, align, terms)

    def eq_label(self, quantity: str) -> str:
        return f"{self.label or 'symcnn'}:{quantity}"

    def rows(self, depth: int | None, compact: bool) -> list[list[str]]:
        lines = display_rows(self.report.rows)
        fields = {id(line): f for line, f in zip(lines, self.report.receptive_fields())}
        groups = [[ln] for ln in lines] if depth is None else group_lines(lines, depth)
        return [self.line(g[0], fields[id(g[0])], compact)
                if depth is None or len(g[0].row.path) < depth
                else self.group(g, depth, fields[id(g[-1])], compact) for g in groups]

    def table(self, caption: str | None, label: str | None, depth: int | None,
              caption_tex: str | None = None, layout: str = "full") -> list[str]:
        compact = layout == "compact"
        self.label, self.per_line = label, 1 if compact else 3
        body = [" & ".join(cells) + r" \\" for cells in self.rows(depth, compact)]
        if compact:
            head = r"Layer & Output & Params & MACs \\"
            foot = [rf"Total & & {self.total('params', 'l', 1)} & "
                    rf"{self.total('macs', 'r', 1)} \\"]
        else:
            head = " & ".join(["Layer", _two_lines("Output", r"$H \times W \times C$"),
                               _two_lines("Memory", "(elements)"), "Weights",
                               "MACs", _two_lines("RF /", "jump")]) + r" \\"
            foot = [rf"Total & & {self.total('activations')} & {self.total('weights')} & "
                    rf"{self.total('macs', 'r')} & \\"]
            params = self.total("params")
            if not params.startswith("see") and all(
                    not self.total(q).startswith(("see", r"$\begin{array}"))
                    for q in ("weights", "biases")):
                params += (rf" (weights {self.total('weights')} + biases "
                           rf"{self.total('biases')})")
            foot.append(rf"Params & \multicolumn{{5}}{{l}}{{{params}}} \\")
        if caption_tex is not None:  # the author's own LaTeX: math, \cite, …
            cap = caption_tex
        elif caption is not None:
            cap = latex_escape(caption)
        else:
            cap = (f"Per-layer cost on input {self.input_math()}, per image; MACs: one "
                   "multiply-add per weight per output position (1 MAC = 2 FLOPs)"
                   + ("." if compact else "; RF / jump: receptive field and jump "
                      "(effective stride) in input pixels."))
        cap = caption_lines(cap, label)  # above the table, as booktabs has it
        if compact:
            return _floats(cap, head, body, foot)
        if sum(map(_lines, body)) > LINES_PER_FLOAT:
            return _longtable(cap, head, body, foot)
        return [r"\begin{table}[htbp]", r"\centering", *cap, r"\footnotesize",
                r"\setlength{\tabcolsep}{3pt}", r"\begin{tabular}{llllrl}", r"\toprule",
                head, r"\midrule", *body, r"\midrule", *foot, r"\bottomrule",
                r"\end{tabular}", r"\end{table}"]

    def input_math(self) -> str:
        """The input as LaTeX math: $224\\times224\\times3$, $H\\times W\\times3$."""
        dims = (self.report.input.height, self.report.input.width, self.report.input.channels)
        return "$" + r"\times ".join(self.math(size_symbol(d)) if isinstance(d, str)
                                     else str(d) for d in dims) + "$"

    def long(self, expr, short: bool = True, per_line: int | None = None) -> str:
        """A sum broken after every ``per_line`` terms (align continuation lines)."""
        expr = _short(expr, self.sizes) if short else expr
        if not isinstance(expr, sympy.Add):
            return self.printer.doprint(expr)
        per_line = per_line or self.per_line
        terms = [self.printer.doprint(t) for t in self.printer._as_ordered_terms(expr)]
        out = terms[0]
        for i, t in enumerate(terms[1:], 1):
            sign, body = ("-", t[1:].lstrip()) if t.startswith("-") else ("+", t)
            out += (r" \\ &\quad " if i % per_line == 0 else " ") + f"{sign} {body}"
        return out

    def size_equations(self) -> list[str]:
        """The named sizes' definitions, one line per index, h_k beside w_k."""
        by_axis: dict[str, list[str]] = {}
        for key, sym in sorted(self.sizes.items(), key=lambda kv: kv[1].name):
            by_axis.setdefault(key.symbol, []).append(
                rf"{self.math(sym)} &= {self.printer.doprint(key.expr())}")
        columns = list(by_axis.values())
        return [" & ".join(col[i] for col in columns if i < len(col))
                for i in range(max(map(len, columns), default=0))]

    def formulas(self) -> list[str]:
        r = self.report
        if not r.formula_input.symbols:
            return []
        eqs = self.size_equations()
        out = [r"\begin{align*}", " \\\\\n".join(eqs), r"\end{align*}"] if eqs else []
        env = "align" if self.refs else "align*"  # numbered lines only where the table refers
        out += [rf"\begin{{{env}}}", " \\\\\n".join(
            [self.numbered(rf"{name} &= {self.long(r.formulas[q])}", q)
             for q, name in LATEX_QUANTITIES] +
            [self.numbered(rf"\text{{{_MEMORY_TEX[q]}}} &= {self.long(f)}")
             for q, f in r.memory_formulas.items()])]
        if r.multiples:
            cond = r",\ ".join(rf"{m} \mid {self.printer.doprint(size_symbol(s))}"
                               for s, m in r.multiples.items())
            out[-1] += r" \\"
            out.append(rf"\intertext{{and where ${cond}$:}}")
            out.append(" \\\\\n".join(
                self.numbered(rf"{name} &= {self.long(r.divisible[q], False)}")
                for q, name in LATEX_QUANTITIES))
        return [*out, rf"\end{{{env}}}"]

    def numbered(self, equation: str, quantity: str | None = None) -> str:
        """In a numbered ``align``: \\notag on every line but the last of a total the
        table refers to, which gets its \\label."""
        if not self.refs:
            return equation
        equation = equation.replace(r" \\ &\quad", r" \notag \\ &\quad")
        if quantity in self.refs:
            return equation + rf" \label{{{self.eq_label(quantity)}}}"
        return equation + r" \notag"


# The memory figures with a closed form (bytes, in the batch B; symcnn.memory).
_MEMORY_TEX = {"saved_for_backward": "saved for backward (bytes)",
               "model_state": "model state (bytes)"}


def field_tex(field) -> str:
    """A receptive field and jump as text: 212 / 32, 3$\\times$5 / 1$\\times$2, all, ---."""
    return latex_escape(field.text())


def _terms(tex: str) -> list[str]:
    """A printed sum split into its terms at the top level (outside braces and
    \\left…\\right), each but the first with its sign: linear in the text."""
    terms, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        if tex.startswith(r"\left", i) or tex[i] == "{":
            depth += 1
        elif tex.startswith(r"\right", i) or tex[i] == "}":
            depth -= 1
        elif depth == 0 and tex.startswith((" + ", " - "), i) and i > start:
            terms.append(tex[start:i])
            start = i + 1
        i += 1
    return [*terms, tex[start:]]


def stack(tex: str, align: str = "l", per_line: int = 1) -> str:
    """Math ``tex`` as a cell: a sum of more than ``per_line`` terms as lines of
    ``per_line`` terms in a nested array (the cell stays narrow), else on one line."""
    terms = _terms(tex)
    if len(terms) <= per_line:
        return f"${tex}$"
    lines = [" ".join(terms[i:i + per_line]) for i in range(0, len(terms), per_line)]
    lines[1:] = ["{} " + line for line in lines[1:]]
    return rf"$\begin{{array}}[t]{{@{{}}{align}@{{}}}}" + r" \\ ".join(lines) + \
        r"\end{array}$"


def _two_lines(top: str, bottom: str, align: str = "l", pos: str = "b") -> str:
    """A cell of two lines (narrower than one line of both): a column head aligned at
    the bottom, a block's name and its number of layers at the top."""
    return rf"\begin{{tabular}}[{pos}]{{@{{}}{align}@{{}}}}{top} \\ {bottom}\end{{tabular}}"


def _lines(row: str) -> int:
    """How many lines a row takes: its tallest cell (nested arrays and two-line names)."""
    return 1 + max(cell.count(r" \\ ") for cell in row[:-2].split(" & "))


def _chunks(body: list[str], budget: int) -> list[list[str]]:
    """The rows in runs of at most ``budget`` lines (a row taller than that alone)."""
    chunks: list[list[str]] = []
    used = budget
    for row in body:
        n = _lines(row)
        if used + n > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(row)
        used += n
    return chunks


def _tight(tex: str) -> str:
    """Products as juxtaposition with a thin space (the compact layout): 9{,}408\\,h_{1}.
    A value's only number in a product is its coefficient, so no two numbers meet."""
    return tex.replace(r" \cdot ", r"\,")


def _indent(levels: int, compact: bool) -> str:
    return (r"\hspace{0.5em}" if compact else r"\quad ") * levels


def _floats(cap: list[str], head: str, body: list[str], foot: list[str]) -> list[str]:
    """The compact layout: \\columnwidth-wide table floats of LINES_PER_FLOAT rows (a
    two-column page has no longtable); later ones headed "Table n (continued)"."""
    out: list[str] = []
    chunks = _chunks(body, LINES_PER_FLOAT)
    for i, chunk in enumerate(chunks or [[]]):
        last = i == len(chunks) - 1 or not chunks
        title = cap if i == 0 else [r"\centering\small\tablename~\thetable{} (continued)\par"
                                    r"\smallskip"]
        out += [r"\begin{table}[htbp]", r"\centering", *title, r"\scriptsize",
                r"\setlength{\tabcolsep}{1.5pt}\medmuskip=2mu plus 1mu minus 1mu",
                r"\begin{tabular*}{\columnwidth}{@{\extracolsep{\fill}}llrr@{}}",
                r"\toprule", head, r"\midrule", *chunk,
                *([r"\midrule", *foot] if last else []), r"\bottomrule", r"\end{tabular*}",
                r"\end{table}"]
    return out


def _longtable(cap: list[str], head: str, body: list[str], foot: list[str]) -> list[str]:
    """A table longer than a page: longtable, the head repeated on every page."""
    n = head.count("&") + 1
    return [r"\begingroup", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
            r"\begin{longtable}{llllrl}", " ".join(cap) + r" \\", r"\toprule", head,
            r"\midrule", r"\endfirsthead",
            rf"\multicolumn{{{n}}}{{l}}{{\tablename~\thetable{{}} (continued)}} \\",
            r"\toprule", head, r"\midrule", r"\endhead",
            r"\midrule", rf"\multicolumn{{{n}}}{{r}}{{continued on the next page}} \\",
            r"\endfoot", r"\bottomrule", r"\endlastfoot", *body, r"\midrule", *foot,
            r"\end{longtable}", r"\endgroup"]


def formulas_aligned(report) -> str:
    """The size definitions and the closed forms as one ``aligned`` block (notebooks)."""
    w = _Writer(report, None)
    eqs = [rf"{w.math(sym)} &= {w.printer.doprint(key.expr())}"
           for key, sym in sorted(w.sizes.items(), key=lambda kv: kv[1].name)]
    eqs += [rf"{name} &= {w.math(report.formulas[q])}" for q, name in LATEX_QUANTITIES]
    return r"\begin{aligned}" + " \\\\ ".join(eqs) + r"\end{aligned}"


def to_latex(report, *, caption: str | None = None, label: str | None = None,
             symbol_names: dict | None = None, standalone: bool = False,
             depth: int | None = None, caption_tex: str | None = None,
             layout: str = "full") -> str:
    """The report as LaTeX: a fragment to ``\\input`` (default) or a whole document.

    ``caption`` is plain text (escaped; Greek letters as math), ``caption_tex`` the
    author's own LaTeX, unescaped (``$\\alpha=1$``, ``\\cite{he2016}``): the author's
    explicit choice; not both. ``symbol_names`` maps input symbols to LaTeX
    (``{"H": r"H_{\\mathrm{in}}"}``); ``depth`` sums blocks nested deeper into one row
    each, as in the text table.

    ``layout`` "full": layer, output, memory, weights, MACs and receptive field per row, a
    table float of up to LINES_PER_FLOAT rows, a longtable beyond (it breaks across pages);
    "compact" (two-column papers): layer, output, params and MACs in \\columnwidth-wide
    floats of LINES_PER_FLOAT rows each. A total longer than CELL_TERMS terms is not put in
    a cell: the cell refers to its numbered line in the formulas block (labels
    ``LABEL:params``, ``LABEL:activations``, ``LABEL:macs``; LABEL is ``label``, else
    "symcnn": give a label to each of several tables in one document).
    """
    if depth is not None and depth < 1:
        raise SymCNNError("depth must be 1 or more")
    if caption is not None and caption_tex is not None:
        raise SymCNNError("give a caption as text (caption) or as LaTeX (caption_tex), not both")
    if layout not in LAYOUTS:
        raise SymCNNError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r:.40}")
    w = _Writer(report, symbol_names)
    table = w.table(caption, label, depth, caption_tex, layout)
    long = any(line.startswith(r"\begin{longtable}") for line in table)
    needs = "booktabs, longtable" if long else "booktabs"
    body = [rf"% symcnn: needs \usepackage{{{needs}}} and \usepackage{{amsmath}}",
            *table, *w.formulas()]
    return "\n".join(document(body) if standalone else body) + "\n"


def caption_lines(caption_latex: str, label: str | None) -> list[str]:
    """\\caption of LaTeX the caller built (escaped text, or the author's own LaTeX) and
    \\label (checked: letters, digits and : . _ -)."""
    out = [r"\caption{" + caption_latex + "}"]
    if label is not None:
        if not _LABEL.fullmatch(label):
            raise SymCNNError(f"label {label!r:.60} must be letters, digits and : . _ -")
        out.append(r"\label{" + label + "}")
    return out


def document(body: list[str]) -> list[str]:
    """``body`` as a whole article: booktabs and amsmath, a 7in text block for wide tables."""
    return [r"\documentclass{article}", r"\usepackage{booktabs}", r"\usepackage{longtable}",
            r"\usepackage{amsmath}",
            r"% a wide text block for wide tables, without extra packages",
            r"\setlength{\textwidth}{7in}", r"\setlength{\oddsidemargin}{-0.25in}",
            r"\begin{document}", *body, r"\end{document}"]
