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
from .formatting import Line, display_rows, group_lines

__all__ = ["to_latex", "formulas_aligned", "latex_escape", "LATEX_QUANTITIES"]

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


def latex_escape(text: str) -> str:
    """Plain text for LaTeX: every special character escaped (no command survives)."""
    table = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
             "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}"}
    return "".join(table.get(ch, ch) for ch in text if ch.isprintable() or ch == " ")


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


def _sizes(report) -> dict:
    """Each floor of an input symbol → a short symbol h_1, w_1, … (per-stride sizes)."""
    taken = {s.name for f in report.formulas.values() for s in f.free_symbols}
    dims = sorted({d for r in report.formula_rows for d in r.out[:2]
                   if isinstance(d, Dim) and d.den > 1},
                  key=lambda d: (d.symbol, d.den, d.offset, d.add))
    names, count = {}, {}
    for d in dims:
        key = Dim(d.symbol, d.offset, d.den, 0)
        if key in names:
            continue
        count[d.symbol] = count.get(d.symbol, 0) + 1
        base = d.symbol.lower() if d.symbol.lower() not in taken else d.symbol
        names[key] = sympy.Symbol(f"{base}_{count[d.symbol]}", positive=True, integer=True)
    return names


def _short(x, sizes: dict):
    """An expression with its floors replaced by the per-stride size symbols."""
    if isinstance(x, Dim):
        x = x.expr()
    if not isinstance(x, sympy.Basic) or not sizes:
        return x
    return x.xreplace({k.expr(): v for k, v in sizes.items()})


class _Writer:
    def __init__(self, report, symbol_names: dict | None) -> None:
        names = {size_symbol(k): _check_symbol_name(v) for k, v in (symbol_names or {}).items()}
        self.report, self.sizes = report, _sizes(report)
        self.printer = _Printer(names)

    def math(self, x) -> str:
        return self.printer.doprint(_short(x, self.sizes) if not isinstance(x, int) else
                                    sympy.Integer(x))

    def factors(self, values, sep: str = r" \cdot ") -> str:
        parts = []
        for v in values:
            s = self.math(v)
            expr = v.expr() if isinstance(v, Dim) else v
            parts.append(f"({s})" if isinstance(expr, sympy.Add) else s)
        return sep.join(parts)

    def with_value(self, formula: str, value) -> str:
        shown = self.math(value)
        return f"${formula} = {shown}$" if isinstance(value, int) and formula != shown \
            else f"${formula}$"

    def line(self, line: Line) -> str:
        row, copies = line.row, line.copies
        name = r"\texttt{" + latex_escape(row.name) + "}"
        if copies > 1:
            name += rf" $\times {self.math(copies)}$"
        if row.aux:
            name += " (aux)"
        indent = r"\quad " * len(row.path)
        weights = "$0$"
        if row.weight_factors:
            inner, outer = row.weight_factors
            formula = self.factors(inner)
            if outer != 1:
                formula = f"({formula}) \\cdot {self.factors([outer])}"
            weights = self.with_value(formula, row.weights)
        cells = [indent + name, "$" + self.factors(row.out, r" \times ") + "$",
                 self.with_value(self.factors(row.out), row.activations), weights,
                 f"${self.math(row.macs)}$"]
        return " & ".join(cells) + r" \\"

    def group(self, group: list[Line], depth: int) -> str:
        from .formatting import _sum
        scope = group[0].row.path[depth - 1]
        n = sum(line.copies for line in group)
        cells = [r"\quad " * (depth - 1) + r"\texttt{" + latex_escape(str(scope)) + "}"
                 + f" ({n} layers)", "$" + self.factors(group[-1].row.out, r" \times ") + "$",
                 f"${self.math(_sum(group, 'activations'))}$",
                 f"${self.math(_sum(group, 'weights'))}$",
                 f"${self.math(_sum(group, 'macs'))}$"]
        return " & ".join(cells) + r" \\"

    def table(self, caption: str | None, label: str | None, depth: int | None) -> list[str]:
        r, t = self.report, self.report.totals
        lines = display_rows(r.rows)
        body = [self.line(g[0]) if depth is None or len(g[0].row.path) < depth
                else self.group(g, depth)
                for g in ([[ln] for ln in lines] if depth is None else group_lines(lines, depth))]
        out = [r"\begin{table}[htbp]", r"\centering", r"\footnotesize",
               r"\setlength{\tabcolsep}{3pt}",
               r"\begin{tabular}{llllr}", r"\toprule",
               r"Layer & Output $H \times W \times C$ & Memory (elements) & Weights & MACs \\",
               r"\midrule", *body, r"\midrule"]
        out.append(rf"Total & & ${self.math(t['activations'])}$ & "
                   rf"${self.math(t['weights'])}$ & ${self.math(t['macs'])}$ \\")
        out.append(rf"Params & \multicolumn{{4}}{{l}}{{${self.math(t['params'])}$ "
                   rf"(weights ${self.math(t['weights'])}$ + biases "
                   rf"${self.math(t['biases'])}$)}} \\")
        out += [r"\bottomrule", r"\end{tabular}"]
        cap = caption if caption is not None else (
            f"Per-layer cost on input {r.input}, per image; "
            "MACs: one multiply-add per weight per output position (1 MAC = 2 FLOPs).")
        out.append(r"\caption{" + latex_escape(cap) + "}")
        if label is not None:
            if not _LABEL.fullmatch(label):
                raise SymCNNError(f"label {label!r:.60} must be letters, digits and : . _ -")
            out.append(r"\label{" + label + "}")
        out.append(r"\end{table}")
        return out

    def long(self, expr, short: bool = True, per_line: int = 3) -> str:
        """A sum broken after every ``per_line`` terms (align continuation lines)."""
        expr = _short(expr, self.sizes) if short else expr
        if not isinstance(expr, sympy.Add):
            return self.printer.doprint(expr)
        terms = [self.printer.doprint(t) for t in self.printer._as_ordered_terms(expr)]
        out = terms[0]
        for i, t in enumerate(terms[1:], 1):
            sign, body = ("-", t[1:].lstrip()) if t.startswith("-") else ("+", t)
            out += (r" \\ &\quad " if i % per_line == 0 else " ") + f"{sign} {body}"
        return out

    def formulas(self) -> list[str]:
        r = self.report
        if not r.formula_input.symbols:
            return []
        by_axis: dict[str, list[str]] = {}
        for key, sym in sorted(self.sizes.items(), key=lambda kv: kv[1].name):
            by_axis.setdefault(key.symbol, []).append(
                rf"{self.math(sym)} &= {self.printer.doprint(key.expr())}")
        columns = list(by_axis.values())
        eqs = [" & ".join(col[i] for col in columns if i < len(col))
               for i in range(max(map(len, columns), default=0))]
        out = [r"\begin{align*}", " \\\\\n".join(eqs)] if eqs else []
        out += [r"\end{align*}", r"\begin{align*}", " \\\\\n".join(
            rf"{name} &= {self.long(r.formulas[q])}" for q, name in LATEX_QUANTITIES)]
        if r.multiples:
            cond = r",\ ".join(rf"{m} \mid {self.printer.doprint(size_symbol(s))}"
                               for s, m in r.multiples.items())
            out[-1] += r" \\"
            out.append(rf"\intertext{{and where ${cond}$:}}")
            out.append(" \\\\\n".join(rf"{name} &= {self.long(r.divisible[q], False)}"
                                        for q, name in LATEX_QUANTITIES))
        return [*out, r"\end{align*}"]


def formulas_aligned(report) -> str:
    """The size definitions and the closed forms as one ``aligned`` block (notebooks)."""
    w = _Writer(report, None)
    eqs = [rf"{w.math(sym)} &= {w.printer.doprint(key.expr())}"
           for key, sym in sorted(w.sizes.items(), key=lambda kv: kv[1].name)]
    eqs += [rf"{name} &= {w.math(report.formulas[q])}" for q, name in LATEX_QUANTITIES]
    return r"\begin{aligned}" + " \\\\ ".join(eqs) + r"\end{aligned}"


def to_latex(report, *, caption: str | None = None, label: str | None = None,
             symbol_names: dict | None = None, standalone: bool = False,
             depth: int | None = None) -> str:
    """The report as LaTeX: a fragment to ``\\input`` (default) or a whole document.

    ``symbol_names`` maps input symbols to LaTeX (``{"H": r"H_{\\mathrm{in}}"}``);
    ``depth`` sums blocks nested deeper into one row each, as in the text table.
    """
    if depth is not None and depth < 1:
        raise SymCNNError("depth must be 1 or more")
    w = _Writer(report, symbol_names)
    body = [r"% symcnn: needs \usepackage{booktabs} and \usepackage{amsmath}",
            *w.table(caption, label, depth), *w.formulas()]
    if standalone:
        body = [r"\documentclass{article}", r"\usepackage{booktabs}", r"\usepackage{amsmath}",
                r"% a wide text block for wide tables, without extra packages",
                r"\setlength{\textwidth}{7in}", r"\setlength{\oddsidemargin}{-0.25in}",
                r"\begin{document}", *body, r"\end{document}"]
    return "\n".join(body) + "\n"
