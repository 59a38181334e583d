"""Rows → report: totals, closed-form formulas and the evaluated numbers of one network.

``analyze`` runs the network twice through the same rules: once on the symbols the
notation leaves free (the formulas) and once on the input asked for (the numbers; exact
Python ints when the input is concrete). Totals are built as one ``Add`` over all rows,
never summed term by term, so the cost stays linear in depth.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property

import sympy

from .dims import MAX_INPUT, Dim, size_symbol
from .errors import SymCNNError
from .layers import InputSpec, Network
from .notation import MAX_VALUE, parse, parse_input
from .errors import ShapeError
from .expand import expand
from .shapes import Row, propagate

__all__ = ["Report", "analyze", "DTYPES", "QUANTITIES", "as_input"]

# Bytes per element of each dtype activations and parameters may be stored in.
DTYPES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
# The quantities every report totals, in the order they are shown.
QUANTITIES = ("params", "weights", "biases", "buffers", "activations", "macs")
DEFAULT_INPUT = InputSpec("H", "W", "C")


@dataclass(frozen=True)
class Report:
    """The costs of ``network`` on ``input``, with formulas in ``formula_input``'s symbols.

    Totals are per image; ``batch`` scales activations, MACs and FLOPs where the report
    says "per batch". Values are exact ints when the input is concrete, SymPy otherwise.
    """
    network: Network
    input: InputSpec
    formula_input: InputSpec
    rows: tuple[Row, ...] = field(repr=False)
    formula_rows: tuple[Row, ...] = field(repr=False)
    dtype: str = "float32"
    batch: int = 1
    device: str = "cuda"    # whose semantics the memory figures follow (symcnn.memory)
    optimizer: str = "adam"  # whose state model_state and training_peak count
    convention: str = "torch"  # whose MAC count "macs" is (symcnn.conventions)

    @cached_property
    def memory(self) -> dict:
        """What PyTorch keeps in memory, in bytes at ``batch`` (see :mod:`symcnn.memory`):
        ``device``, ``dtype``, ``batch`` and the named figures."""
        from .memory import figures
        return figures(self.rows, self.dtype, self.device, self.batch, self.optimizer,
                       expand(self.network), self._train_graph)

    @cached_property
    def memory_formulas(self) -> dict[str, sympy.Expr]:
        """The memory figures with a closed form, in the free size symbols and the batch B
        (bytes)."""
        from .memory import formulas
        same = self.formula_rows is self.rows  # a symbolic input: one graph for both
        return formulas(self.formula_rows, self.dtype, self.device, self.optimizer,
                        self._train_graph if same else None)

    @cached_property
    def _train_graph(self):
        from .memory import train_graph
        return train_graph(self.rows, self.dtype, self.device)

    @cached_property
    def totals(self) -> dict[str, int | sympy.Expr]:
        """Per-image totals: params, weights, biases, activations, macs, flops."""
        out = _totals(self.rows)
        out["macs"] = _convention(self.rows, self.convention, out["macs"])
        out["flops"] = 2 * out["macs"]  # 1 MAC = 2 FLOPs
        return out

    @cached_property
    def formulas(self) -> dict[str, sympy.Expr]:
        """Closed forms of the totals in the free symbols, exact for every valid input."""
        totals = self.totals if self.formula_rows is self.rows else _totals(self.formula_rows)
        if totals is not self.totals:
            totals["macs"] = _convention(self.formula_rows, self.convention, totals["macs"])
        return {q: _as_expr(totals[q]) for q in QUANTITIES}

    @cached_property
    def multiples(self) -> dict[str, int]:
        """For each size symbol, the multiple it must be for :attr:`divisible` to hold
        (the network's total stride along that axis); empty when no floor occurs, and
        when some multiple exceeds MAX_INPUT (no input symcnn accepts is one: the
        divisible form would describe nothing)."""
        out = self.strides
        if any(m > MAX_INPUT for m in out.values()):
            return {}
        return dict(out)

    @cached_property
    def strides(self) -> dict[str, int]:
        """For each size symbol whose sizes have floors, the least common multiple of
        their denominators (the network's total stride along that axis)."""
        out = dict.fromkeys(self.formula_input.symbols, 1)
        for d in _dims(self.formula_rows):
            out[d.symbol] = math.lcm(out[d.symbol], d.den)
        return {s: m for s, m in out.items() if m > 1}

    @cached_property
    def divisible(self) -> dict[str, sympy.Expr]:
        """The formulas without floors, valid when every size symbol is a multiple of
        :attr:`multiples` (e.g. VGG-16 params = 2048·H·W + 35,597,096 for 32 | H, W)."""
        plain = {_floor_part(d): size_symbol(d.symbol) / d.den
                 for d in _dims(self.formula_rows) if d.den > 1}
        return {q: sympy.expand(f.xreplace(plain)) if plain else f
                for q, f in self.formulas.items()}

    def evaluator(self, quantity: str = "macs", divisible: bool = False):
        """A compiled, exact function of the formula's symbols for ``quantity``:
        ``report.evaluator("macs")(H=224, W=224)``, or with NumPy integer arrays for
        many sizes at once (int64 while it cannot overflow, Python ints beyond)."""
        from .evaluate import compile_formula
        if quantity not in QUANTITIES:
            raise SymCNNError(f"unknown quantity {quantity!r}; one of {', '.join(QUANTITIES)}")
        return compile_formula((self.divisible if divisible else self.formulas)[quantity])

    def macs_as(self, convention: str):
        """The MAC count ``convention``'s tool prints for this network at ``input``
        (see :mod:`symcnn.conventions`), whatever convention the report itself uses."""
        from .conventions import macs_as
        return macs_as(self.rows, convention, _total(self.rows, "macs"))

    def receptive_fields(self) -> list:
        """Each table line's receptive field and jump (a :class:`symcnn.receptive.Field`,
        in the order of ``layers`` in JSON): exact, per axis, independent of the input
        size; "all" or None where the convention says (see symcnn.receptive)."""
        return list(self._fields)

    @cached_property
    def _fields(self) -> tuple:
        from .receptive import receptive_fields
        return tuple(receptive_fields(self.rows))

    @property
    def bytes_per_element(self) -> int:
        return DTYPES[self.dtype]

    @property
    def symbolic(self) -> bool:
        return bool(self.input.symbols)

    def to_dict(self) -> dict:
        from .export import to_dict
        return to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        from .export import to_json
        return to_json(self, indent)

    def to_csv(self) -> str:
        from .export import to_csv
        return to_csv(self)

    def to_markdown(self, shares: bool = False) -> str:
        """A GitHub table per layer, totals and formulas; ``shares`` as for to_table."""
        from .export import to_markdown
        return to_markdown(self, shares=shares)

    def to_latex(self, **options) -> str:
        """LaTeX (booktabs + amsmath); options: caption, caption_tex, label, symbol_names,
        standalone, depth (see :func:`symcnn.latex.to_latex`)."""
        from .latex import to_latex
        return to_latex(self, **options)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_latex_(self) -> str:
        """The closed forms as one multi-line ``aligned`` block, for notebooks (MathJax
        renders it); see :func:`symcnn.notebook.to_latex_aligned`."""
        from .notebook import to_latex_aligned
        return "$$" + to_latex_aligned(self) + "$$"

    def _repr_html_(self) -> str:
        """The per-layer table as an HTML ``<table>`` with the shares of params and MACs,
        then the totals and formulas (see :func:`symcnn.notebook.to_html`)."""
        from .notebook import to_html
        return to_html(self)

    def to_html(self, depth: int | None = None) -> str:
        """The report as HTML (what a notebook shows); ``depth`` as for :meth:`to_table`."""
        from .notebook import to_html
        return to_html(self, depth)

    def __repr__(self) -> str:
        """One short line: input, layer count, params and MACs (a long formula cut)."""
        from .notebook import short_repr
        return short_repr(self)

    def to_table(self, depth: int | None = None, shares: bool = False) -> str:
        """The text report; ``depth`` sums blocks nested deeper into one line each,
        ``shares`` adds each line's share of the total params and MACs (%)."""
        from .formatting import table
        return table(self, depth, shares)

    def __str__(self) -> str:
        return self.to_table()


def _convention(rows, convention: str, macs):
    """``macs`` as ``convention``'s tool counts it (symcnn.conventions; torch: as is)."""
    if convention == "torch":
        return macs
    from .conventions import macs_as
    return macs_as(rows, convention, macs)


def _total(rows, quantity: str):
    """``sympy.Add(*(r.count * r.<quantity>)).expand()`` (a plain int when every term is
    one); see :func:`_totals`."""
    return _totals(rows, (quantity,))[quantity]


def _totals(rows, quantities=QUANTITIES) -> dict:
    """Each quantity's ``sympy.Add(*(r.count * r.<quantity>)).expand()`` (a plain int when
    every term is one), built linearly: each row's product of sizes is expanded in Python
    over the size atoms (H, ⌊(H + o)/d⌋, channel expressions), coefficients are summed
    per monomial, and one Add of the distinct monomials is expanded at the end (tens of
    thousands of distinct sizes such as H − 2k collapse to H·W, H, W and 1)."""
    atoms: dict = {}   # atom → index; a monomial is a sorted tuple of indices
    polys: dict = {}   # base → its polynomial over the atoms
    acc = {q: {} for q in quantities}
    extra = {q: [] for q in quantities}
    symbolic = dict.fromkeys(quantities, False)
    need = {"params": ("weights", "biases")}
    seen: dict = {}    # a row's signature → each quantity's polynomial (None: SymPy's)
    for r in rows:
        sig = (r.out, r.weight_factors, r.biases, r.positions, r.buffers, r.aux)
        got = seen.get(sig)
        if got is None:
            got = seen[sig] = _row_polys(r, quantities, need, polys, atoms)
        for q in quantities:
            poly = got[q]
            if poly is None:
                t = r.count * getattr(r, q)
                if isinstance(t, int):
                    acc[q][()] = acc[q].get((), 0) + t
                else:
                    extra[q].append(t)
                continue
            if not symbolic[q] and any(poly):  # a monomial other than ()
                symbolic[q] = True
            sums, n = acc[q], r.count
            for m, c in poly.items():
                sums[m] = sums.get(m, 0) + c * n
    exprs = list(atoms)
    out = {}
    for q in quantities:
        if not symbolic[q] and not extra[q]:
            out[q] = acc[q].get((), 0)
            continue
        terms = [c * sympy.Mul(*(exprs[i] for i in m)) for m, c in acc[q].items() if c]
        out[q] = sympy.Add(*terms, *extra[q]).expand()
    return out


def _row_polys(r, quantities, need: dict, polys: dict, atoms: dict) -> dict:
    """Each quantity of one row (count 1) as a polynomial over the atoms, or None."""
    from .formatting import row_form
    forms: dict = {}
    out: dict = {}
    for q in quantities:
        parts = need.get(q, (q,))
        for p in parts:
            if p not in forms:
                forms[p] = row_form(r, p)
        if any(forms[p] is None for p in parts):
            out[q] = None
            continue
        total: dict = {}
        for p in parts:
            coef, items = forms[p]
            if not coef:
                continue
            poly = {(): coef}
            for base, e in items:
                bp = polys.get(base)
                if bp is None:
                    bp = polys[base] = _atom_poly(base, atoms)
                for _ in range(e):
                    poly = _mul(poly, bp)
            for m, c in poly.items():
                total[m] = total.get(m, 0) + c
        out[q] = total
    return out


def _atom_poly(base, atoms: dict) -> dict:
    def index(x) -> tuple:
        return (atoms.setdefault(x, len(atoms)),)
    from .formatting import Scaled
    c = 1
    if isinstance(base, Scaled):
        c, base = base.factor, base.dim
    if not isinstance(base, Dim):
        return {index(base): 1}
    atom = size_symbol(base.symbol) if base.den == 1 else _floor_part(base)
    m = c * base.mul
    return {index(atom): m, (): c * base.add} if base.add else {index(atom): m}


def _mul(a: dict, b: dict) -> dict:
    out: dict = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m = tuple(sorted(ma + mb))
            out[m] = out.get(m, 0) + ca * cb
    return out


def _as_expr(x) -> sympy.Expr:
    return sympy.Integer(x) if isinstance(x, int) else x


def _dims(rows) -> set[Dim]:
    return {s for r in rows for s in r.out[:2] if isinstance(s, Dim)}


def _floor_part(d: Dim) -> sympy.Expr:
    return (Dim(d.symbol, d.offset, d.den, 0)).expr()


def as_input(value) -> InputSpec:
    """An input given as "224x224x3", (224, 224, 3), ("H", "W", 3) or an InputSpec."""
    if isinstance(value, InputSpec):
        return value
    if isinstance(value, str):
        return parse_input(value)
    if isinstance(value, (tuple, list)) and len(value) == 3:
        return InputSpec(*(_dimension(v) for v in value))
    raise SymCNNError(f"input must be 'HxWxC' text or a (height, width, channels) tuple; "
                      f"got {value!r:.80}")


def _dimension(v) -> int | str:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise SymCNNError(f"an input dimension must be an int or a letter; got {v!r:.40}")
    if isinstance(v, str):
        if not re.fullmatch(r"[A-WYZa-wyz]", v):
            raise SymCNNError(f"a symbolic input dimension is one letter other than x; "
                              f"got {v!r:.40}")
        return v
    if not 1 <= v <= MAX_VALUE:
        raise SymCNNError(f"an input dimension must be between 1 and {MAX_VALUE:,}; got {v}")
    return v


def analyze(network, input=None, *, dtype: str = "float32", batch: int = 1,
            device: str = "cuda", optimizer: str = "adam", convention: str = "torch") -> Report:
    """Analyse ``network``: a :class:`Network`, notation text, a zoo name, a notation
    file (a ``pathlib.Path``, or a str ending in .cnn or .txt) or a ``torch.nn.Module``
    (imported by :func:`symcnn.torch.from_torch`, traced at ``input`` when it is concrete,
    else at 224×224; torch is imported only when a module is passed).

    ``input`` overrides the notation's ``input`` line; without either the input is the
    symbolic H×W×C. Formulas are in every symbol the notation or ``input`` leaves free
    (``input`` HxWx3 frees a file's 224x224x3; HxWxC keeps C free in the formulas as in
    the totals; where both give a number, the formulas are at ``input``); where the network
    only works for some channel counts (a residual on the input, say) and ``input`` gives
    the channels, the formulas are in H and W with those channels.
    ``device`` ("cuda" or "cpu") selects whose semantics :attr:`Report.memory` follows,
    ``optimizer`` ("sgd", "momentum", "adam", "adamw") whose state it counts.
    ``convention`` ("torch", "torchinfo", "fvcore", "ptflops", "thop") whose MAC count the
    totals and formulas give (:mod:`symcnn.conventions`; torch: FlopCounterMode / 2).
    """
    net = _network(network, input=input)
    from .memory import DEVICES, OPTIMIZERS
    if device not in DEVICES:
        raise SymCNNError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if optimizer not in OPTIMIZERS:
        raise SymCNNError(f"unknown optimizer {optimizer!r}; choose one of "
                          f"{', '.join(OPTIMIZERS)}")
    from .conventions import CONVENTIONS
    if convention not in CONVENTIONS:
        raise SymCNNError(f"unknown convention {convention!r}; choose one of "
                          f"{', '.join(CONVENTIONS)}")
    if dtype not in DTYPES:
        raise SymCNNError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_VALUE:
        raise SymCNNError(f"batch must be an int between 1 and {MAX_VALUE:,}; got {batch!r}")
    general = net.input or DEFAULT_INPUT
    value_input = as_input(input) if input is not None else general
    formula_input = _most_general(general, value_input)
    items = expand(net)
    rows = tuple(propagate(net, value_input, items))  # errors speak of the input asked for
    if value_input == formula_input:
        return Report(net, value_input, formula_input, rows, rows, dtype, batch, device, optimizer,
                      convention)
    for candidate in _formula_inputs(formula_input, value_input, net.input is None):
        try:
            formula_rows = tuple(propagate(net, candidate, items))
        except ShapeError:
            continue
        return Report(net, value_input, candidate, rows, formula_rows, dtype, batch, device, optimizer,
                      convention)
    return Report(net, value_input, value_input, rows, rows, dtype, batch, device, optimizer,
                      convention)


def _most_general(general: InputSpec, given: InputSpec) -> InputSpec:
    """Per dimension, the symbol either input leaves free (the given one's name first, so
    that formulas and table share their symbols); where both are numbers, the given one
    (a file's 224x224x3 analysed at 32x32x3 has formulas, if any, at 32x32x3)."""
    def pick(g, v):
        return v if isinstance(v, str) or not isinstance(g, str) else g
    return InputSpec(pick(general.height, given.height), pick(general.width, given.width),
                     pick(general.channels, given.channels))


def _formula_inputs(general: InputSpec, given: InputSpec, free: bool):
    """The inputs to derive formulas on, most general first."""
    yield general
    if free and general.channels == "C" and isinstance(given.channels, int):
        yield InputSpec(general.height, general.width, given.channels)


def _torch_module(network) -> bool:
    """Whether ``network`` is a torch.nn.Module (torch is never imported to find out)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(network, torch.nn.Module)


def _network(network, files: bool = True, input=None) -> Network:
    """A Network from a Network, a zoo name or notation text; with ``files``, also from a
    notation file: a path-like, or a one-line str ending in .cnn or .txt that exists
    (read by the CLI's rules, :func:`symcnn.cli.read_notation_file`). A bare word that is
    no notation but close to a zoo name says so: "unknown network 'resnet5O'; did you mean
    resnet50?"; a missing file name: "notation file not found"."""
    if isinstance(network, Network):
        return network
    if _torch_module(network):  # imported, self-checked (symcnn.torch.from_torch)
        from .torch import from_torch
        spec = as_input(input) if input is not None else None
        at = (spec.height, spec.width) if spec and not {spec.height, spec.width} & \
            set(spec.symbols) else None
        channels = f"HxWx{spec.channels}" if spec else None
        return from_torch(network, channels, at=at)
    if files and (hasattr(network, "__fspath__") or isinstance(network, str) and "\n" not in
                  network and network.endswith((".cnn", ".txt"))):
        from .cli import exists, read_notation_file  # only here: import symcnn stays light
        if not isinstance(network, str) or exists(network):
            network = read_notation_file(network)
    if not isinstance(network, str):
        raise SymCNNError(f"expected a Network, notation text, a zoo name or a notation "
                          f"file; got {type(network).__name__}")
    from . import zoo
    if network.strip().lower() in zoo.names():
        return zoo.load(network.strip().lower())
    try:
        return parse(network)
    except SymCNNError as e:
        from .cli import notation_hint
        raise notation_hint(network, e) from None
