"""Layers → rows: shape propagation and per-layer costs, on numbers or symbols alike.

A row is one layer applied to one input shape: its output (H, W, C), weights, biases,
buffers and MACs. Sizes are Python ints or :class:`~symcnn.dims.Dim` (a single floor of an
input symbol); channel counts are ints or SymPy expressions. Every rule below is written
once and runs on both, so evaluated numbers and formulas come from the same code.

Conventions:
- output size ⌊(x + 2p − d(k−1) − 1)/s⌋ + 1 (PyTorch; ceil mode rounds up, and a window
  may not start in the right padding); 'same' padding keeps the size (stride 1); a
  transposed conv gives (x − 1)·s − 2p + d(k−1) + output padding + 1; upsampling by s
  gives s·x; a crop or an upsampling to a size gives that size;
- weights: K_h·K_w·(C_in/groups)·C_out for a convolution, inputs·units for a fully
  connected layer, C and C for batch, layer and group norm (weight, bias), C for a layer
  scale and for a PReLU's slopes; one bias per filter or unit; ``padN`` appends zero
  channels (no params);
- buffers: batch norm's 2·C running statistics (not params; num_batches_tracked ignored);
- MACs: one multiply-add per weight per output position (per input position for a
  transposed conv, as FlopCounterMode counts it); bias, batch norm, pooling, upsampling,
  crops, element-wise layers and merges not counted (torchvision's "GFLOPS",
  FlopCounterMode/2);
- activations: every row's output elements H·W·C (merges included); the input is row 0;
  se(…) is one row whose output is the scaled tensor.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Callable

import sympy

from .dims import Dim, NotOneFloor, Size, size_symbol, to_expr
from .errors import NotationError, ShapeError
from .expand import bind_incoming, expand
from .layers import (FC, SE, AdaptiveAvgPool, BatchNorm, Block, Branches, ChannelPad, Conv,
                     Crop, Elementwise, GroupNorm, InputSpec, Item, Layer, LayerNorm, Network,
                     Pool, PReLU, Repeat, Scale, TransposedConv, Upsample, dense_block)
from .notation import MAX_ROWS, MAX_VALUE, RESERVED, no_gc, reserved_message

__all__ = ["Row", "Scope", "propagate", "minimum_input", "MAX_ROWS"]

# MAX_ROWS: distinct rows a network may expand to (identical repeats are free)

Number = int | sympy.Expr
Shape = tuple[Size, Size, Number]


@dataclass(frozen=True)
class Row:
    """One layer on one input shape; ``count`` identical copies in a row (closed form).

    Costs are derived on first use from the factors, so propagation itself does plain
    integer and :class:`Dim` arithmetic only (SymPy products are built when asked for).
    """
    layer: Layer | str | None    # None for the input row, "add"/"cat" for a merge
    out: Shape
    weight_factors: tuple = ()   # ((K_h, K_w, C_in/g), C_out) or ((H, W, C), units): the
    biases: Number = 0           #   seed's spelling of the weights, e.g. (3·3·3)·64
    positions: tuple | None = None  # output positions each weight is used at (MACs)
    buffers: Number = 0
    path: tuple["Scope", ...] = ()  # enclosing blocks and branches, outermost first
    count: int = 1               # identical copies this row stands for (for totals)
    reps: tuple[tuple[int, int, int], ...] = ()  # collapsed repeats around this row:
                                                 # (id, count, depth of the repeat's path)
    aux: bool = False            # in an auxiliary head: params only, not run at inference
    arity: int = field(default=0, compare=False)  # a merge's branch count (identities too)
    # the first row of a dense block's first copy: torch runs it on torch.cat([x]), a copy
    dense_input: bool = field(default=False, compare=False, repr=False)

    @property
    def name(self) -> str:
        if self.layer is None:
            return "input"
        return self.layer if isinstance(self.layer, str) else str(self.layer)

    @property
    def kind(self) -> str:
        if self.layer is None or isinstance(self.layer, str):
            return self.layer or "input"
        return type(self.layer).__name__.lower()

    @cached_property
    def weights(self) -> Number:
        if not self.weight_factors:
            return 0
        inner, outer = self.weight_factors
        return _product(*inner, outer)

    @property
    def params(self) -> Number:
        return self.weights + self.biases

    @cached_property
    def macs(self) -> Number:
        if self.positions is None or self.aux:
            return 0
        return _product(self.weights, *self.positions)

    @cached_property
    def activations(self) -> Number:
        return 0 if self.aux else _product(*self.out)


def _product(*factors) -> Number:
    out = 1
    for f in factors:
        out = out * to_expr(f)
    return out


@dataclass(frozen=True)
class Scope:
    """One level of a row's path: a block (an expanded call) or a branch, with an id that
    tells apart two uses of the same block. A branch keeps the shape its merge (or head)
    got (``fork``: what ``bilinear-branch`` upsamples to) and, in a merge with crops, the
    H×W its crops crop to (``target``)."""
    label: str
    uid: int
    fork: tuple | None = field(default=None, compare=False, repr=False)
    target: tuple | None = field(default=None, compare=False, repr=False)
    branches: int = field(default=0, compare=False, repr=False)  # a merge's branch count

    def __str__(self) -> str:
        return self.label


_UIDS = itertools.count(1)


class _Empty(Exception):
    """A layer's output has a size below 1 (turned into a ShapeError with context)."""


def _check(y: Size) -> Size:
    if y < 1 if isinstance(y, int) else y.minimum() > MAX_VALUE:
        raise _Empty  # empty now, or for every input symcnn accepts (≤ MAX_VALUE)
    return y


def _settle(x: Size, y: Size) -> Size:
    """``y`` = a layer's output size on input size ``x``, checked (_Empty if it is empty,
    now or for every input symcnn accepts), and a number once it is the same for every
    input on which ``x`` is non-empty. (A Dim is non-decreasing and steps by at most 1:
    if ``y`` is constant on [y.minimum(), MAX_VALUE] and that minimum is no more than
    ``x``'s, the constraint is already carried by ``x``, kept in an earlier row.) Without
    this, the size after ``pool2`` and many stride-2 layers would stay a Dim (0 at H = 1,
    1 from H = 2) and a repeat would never reach its fixed point."""
    if isinstance(y, int):
        if y < 1:
            raise _Empty
        return y
    low = y.minimum()
    if low > MAX_VALUE:
        raise _Empty
    if isinstance(x, Dim) and low <= x.minimum():
        top = y.at(MAX_VALUE)
        if y.at(low) == top:
            return top
    return y


def _out(x: Size, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> Size:
    span = d * (k - 1) + 1  # the dilated kernel
    if not ceil:
        return _settle(x, (x + (2 * p - span)) // s + 1)
    # Ceil mode: ⌈(x + 2p − span)/s⌉ + 1, minus one if the last window would start in the
    # right padding; that happens (for every x) exactly when p + s > span.
    if p + s <= span:
        return _settle(x, (x + (2 * p - span + s - 1)) // s + 1)
    return _settle(x, (x + (p + s - 1)) // s)


def _div(c: Number, g: Number, what: str, layer, path) -> Number:
    if isinstance(c, int) and isinstance(g, int):
        if c % g:
            raise _Invalid(f"{what} {c} is not divisible by its {g} groups", layer, path)
        return c // g
    return c / g


class _Invalid(Exception):
    """A layer or block that cannot work on its input, with where it sits."""

    def __init__(self, message: str, layer, path=()) -> None:
        self.message, self.layer, self.path = message, layer, path


def _conv(layer: Conv, h: Size, w: Size, c: Number, path) -> Row:
    (kh, kw), s, d = layer.kernel, layer.stride, layer.dilation
    g = c if layer.depthwise else layer.groups
    cout = c if layer.depthwise else layer.filters
    if layer.padding == "same":
        if s != 1:
            raise _Invalid("padding 'same' needs stride 1 (as in PyTorch)", layer, path)
        oh, ow = _check(h + 0), _check(w + 0)
    else:
        ph, pw = (d * (kh // 2), d * (kw // 2)) if layer.padding is None else \
            (layer.padding, layer.padding)
        oh, ow = _out(h, kh, s, ph, d), _out(w, kw, s, pw, d)
    cin_per_group = _div(c, g, "the input channel count", layer, path)
    _div(cout, g, "the filter count", layer, path)
    return Row(layer, (oh, ow, cout), ((kh, kw, cin_per_group), cout),
               cout if layer.bias else 0, (oh, ow), path=path)


def _tconv(layer: TransposedConv, h: Size, w: Size, c: Number, path) -> Row:
    (kh, kw), s, d, p, op = (layer.kernel, layer.stride, layer.dilation, layer.padding,
                             layer.output_padding)
    if op >= max(s, d):
        raise _Invalid(f"the output padding ({op}) must be smaller than the stride or the "
                       "dilation (as in PyTorch)", layer, path)
    def out(x: Size, k: int) -> Size:  # (x − 1)·s − 2p + d(k − 1) + op + 1
        return _settle(x, _bounded(x * s + (d * (k - 1) + op + 1 - s - 2 * p), layer, path))
    g = layer.groups
    cin_per_group = _div(c, g, "the input channel count", layer, path)
    _div(layer.filters, g, "the filter count", layer, path)
    return Row(layer, (out(h, kh), out(w, kw), layer.filters),
               ((kh, kw, cin_per_group), layer.filters), layer.filters if layer.bias else 0,
               (h, w), path=path)


def _bounded(y: Size, layer, path) -> Size:
    """``y``, refused if it exceeds MAX_VALUE already on the smallest input it has."""
    top = y if isinstance(y, int) else y.at(y.minimum())
    if top > MAX_VALUE:
        raise _Invalid(f"its output size would exceed {MAX_VALUE:,}", layer, path)
    return y


def _upsample(layer: Upsample, h: Size, w: Size, c: Number, path) -> Row:
    if layer.scale is not None:
        sh, sw = layer.scale
        return Row(layer, (_bounded(h * sh, layer, path), _bounded(w * sw, layer, path), c),
                   path=path)
    if isinstance(layer.size, tuple):
        return Row(layer, (*layer.size, c), path=path)
    if layer.size == "input":
        return Row(layer, (*_INPUT[-1], c), path=path)
    fork = next((scope.fork for scope in reversed(path) if scope.fork is not None), None)
    if fork is None:
        raise _Invalid(f"{layer} upsamples to the size of the input of the merge or head it "
                       "sits in, but it is in none", layer, path)
    return Row(layer, (*fork[:2], c), path=path)


def _crop(layer: Crop, h: Size, w: Size, c: Number, path) -> Row:
    scope = next((s for s in reversed(path) if s.fork is not None), None)
    if scope is None or scope.target is None:
        raise _Invalid("crop centre-crops to the size of the merge it sits in: it needs a "
                       "branch of cat(…) or add(…) beside it without a crop, e.g. "
                       "cat(crop | pool … tconv2-64/2)", layer, path)
    th, tw = scope.target
    for axis, (x, t) in enumerate(((h, th), (w, tw))):
        if not _fits(t, x):
            raise _Invalid(f"it crops to {_text(t)} along {'HW'[axis]}, but its input is "
                           f"{_text(x)}: a crop cannot grow", layer, path)
    return Row(layer, (th, tw, c), path=path)


def _text(x: Size) -> str:
    from .formatting import dim_text
    return dim_text(x) if isinstance(x, Dim) else str(x)


def _fits(t: Size, x: Size) -> bool:
    """Whether t ≤ x for every input on which both are at least 1 (up to MAX_VALUE). Both
    are ints or Dims of one symbol: x − t grows by a fixed amount per period L (the lcm of
    the denominators), so one period from the smallest input, and the slope, decide; a
    period too long to check is refused."""
    if isinstance(t, int) and isinstance(x, int):
        return t <= x
    dims = [d for d in (t, x) if isinstance(d, Dim)]
    if len({d.symbol for d in dims}) > 1:
        return False
    def at(v: Size, b: int) -> int:
        return v if isinstance(v, int) else v.at(b)
    start = max(d.minimum() for d in dims)
    period = math.lcm(*(d.den for d in dims))
    def rate(v: Size) -> Fraction:
        return Fraction(0) if isinstance(v, int) else Fraction(v.mul, v.den)
    slope = rate(x) - rate(t)
    if slope < 0 or period > 4096:
        return False
    return all(at(t, b) <= at(x, b) for b in range(start, min(start + period, MAX_VALUE + 1)))


def _pool(layer: Pool, h: Size, w: Size, c: Number, path) -> Row:
    (kh, kw), p = layer.kernel, layer.padding
    s = layer.stride if layer.stride is not None else None
    return Row(layer, (_out(h, kh, s or kh, p, 1, layer.ceil),
                       _out(w, kw, s or kw, p, 1, layer.ceil), c), path=path)


def _adaptive(layer: AdaptiveAvgPool, h: Size, w: Size, c: Number, path) -> Row:
    return Row(layer, (*layer.output, c), path=path)


def _fc(layer: FC, h: Size, w: Size, c: Number, path) -> Row:
    return Row(layer, (1, 1, layer.units), ((h, w, c), layer.units), layer.units, (),
               path=path)


def _bn(layer: BatchNorm, h: Size, w: Size, c: Number, path) -> Row:
    return Row(layer, (h, w, c), ((c,), 1), c, None, 2 * c, path)


def _ln(layer: LayerNorm, h: Size, w: Size, c: Number, path) -> Row:
    return Row(layer, (h, w, c), ((c,), 1), c, None, path=path)


def _scale(layer: Scale, h: Size, w: Size, c: Number, path) -> Row:
    return Row(layer, (h, w, c), ((c,), 1), 0, None, path=path)


def _gn(layer: GroupNorm, h: Size, w: Size, c: Number, path) -> Row:
    g = layer.groups
    if isinstance(c, int) and isinstance(g, int) and c % g:
        raise _Invalid(f"group norm: {c} channels do not divide into {g} groups", layer, path)
    return Row(layer, (h, w, c), ((c,), 1), c, None, path=path)


def _prelu(layer: PReLU, h: Size, w: Size, c: Number, path) -> Row:
    return Row(layer, (h, w, c), ((c,), 1), 0, None, path=path)


def _chpad(layer: ChannelPad, h: Size, w: Size, c: Number, path) -> Row:
    n = layer.channels
    if isinstance(c, int) and isinstance(n, int) and n < c:
        raise _Invalid(f"pad{n} pads the channels up to {n}, but the input already has {c}",
                       layer, path)
    return Row(layer, (h, w, n), path=path)


def _se(layer: SE, h: Size, w: Size, c: Number, path) -> Row:
    # two 1×1 convolutions on the pooled 1×1×C vector: C·sq + sq·C weights, sq + C biases
    return Row(layer, (h, w, c), ((2, c), layer.squeeze), layer.squeeze + c, (), path=path)


def _elementwise(layer: Elementwise, h: Size, w: Size, c: Number, path) -> Row:
    if layer.kind == "shuffle" and isinstance(c, int) and c % 2:
        raise _Invalid(f"shuffle mixes 2 groups of channels, but {c} channels do not "
                       "divide by 2", layer, path)
    return Row(layer, (h, w, c), path=path)


_RULES: dict[type, Callable[..., Row]] = {
    Conv: _conv, TransposedConv: _tconv, Upsample: _upsample, Crop: _crop, Pool: _pool, AdaptiveAvgPool: _adaptive, FC: _fc, BatchNorm: _bn, SE: _se,
    LayerNorm: _ln, Scale: _scale, GroupNorm: _gn, PReLU: _prelu, ChannelPad: _chpad,
    Elementwise: _elementwise}


def _dimension(d: int | str) -> Size:
    return d if isinstance(d, int) else Dim(d)


def propagate(network: Network, spec: InputSpec, items=None) -> list[Row]:
    """The rows of ``network`` on input ``spec`` (ints and/or symbols), input row first.
    ``items`` are the expanded items when the caller already has them."""
    items = expand(network) if items is None else items
    _check_widths(network, items, spec)
    try:
        with no_gc():  # rows are many small acyclic objects (see notation.no_gc)
            return _rows(items, spec)
    except NotationError as e:
        raise e.located(network.source) from None
    except _Failed as f:
        raise _shape_error(items, spec, f.layer, f.path) from None
    except _Invalid as e:
        raise ShapeError(f"{_where(e.layer, e.path)}: {e.message}", str(e.layer),
                         getattr(e.layer, "line", 0), getattr(e.layer, "column", 0)) from None


def _check_widths(network: Network, items, spec: InputSpec) -> None:
    """Refuse a width named like one of ``spec``'s symbols (the parser refuses H, W, C, B
    and the input line's letters; an input given to analyze may name others)."""
    known = set(RESERVED) | set(network.input.symbols if network.input else ())
    clash = set(spec.symbols) - known
    if not clash:
        return
    stack = list(items)
    while stack:
        item = stack.pop()
        if isinstance(item, Repeat):
            stack.extend(item.body)
        elif isinstance(item, Block):
            stack.extend(item.items)
        elif isinstance(item, Branches):
            stack.extend(i for b in item.branches for i in b)
        else:
            for v in (getattr(item, a, None) for a in ("filters", "groups", "units", "squeeze")):
                names = {s.name for s in getattr(v, "free_symbols", ())} & clash
                if names:
                    raise NotationError(reserved_message(min(names)), network.source,
                                        item.line, item.column)


_INPUT: list[tuple[Size, Size]] = [(Dim("H"), Dim("W"))]  # the network input's H×W, innermost last


def _rows(items, spec: InputSpec, rows: list[Row] | None = None) -> list[Row]:
    h, w = _dimension(spec.height), _dimension(spec.width)
    c = spec.channels if isinstance(spec.channels, int) else size_symbol(spec.channels)
    rows = [] if rows is None else rows
    rows.append(Row(None, (h, w, c)))
    _INPUT.append((h, w))
    try:
        _run(items, (h, w, c), rows, ())
    except _TooMany as t:
        what = f"'{_clip(str(t.item))}'" if isinstance(t.item, Repeat) else "the network"
        raise NotationError(f"{what} expands to more than {MAX_ROWS:,} distinct layers (only "
                            f"repeats that keep the shape are computed in closed form)",
                            line=t.item.line, column=t.item.column) from None
    finally:
        _INPUT.pop()
    return rows


class _TooMany(Exception):
    """More than MAX_ROWS rows; ``item`` is the outermost repeat being run, or the layer."""

    def __init__(self, item) -> None:
        self.item = item


def _clip(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[:n - 1] + "…"


class _Failed(Exception):
    def __init__(self, layer, path) -> None:
        self.layer, self.path = layer, path


def _run(items: tuple[Item, ...], shape: Shape, rows: list[Row], path) -> Shape:
    for item in items:
        if isinstance(item, Repeat):
            shape = _repeat(item, shape, rows, path)
        elif isinstance(item, Block):
            shape = _run(item.items, shape, rows, (*path, Scope(item.label, next(_UIDS))))
        elif isinstance(item, Branches):
            shape = _branches(item, shape, rows, path)
        else:
            try:
                row = _layer_row(item, shape, path)
            except _Empty:
                raise _Failed(item, path) from None
            except NotOneFloor:
                raise _Invalid("after an upsampling by m, a stride that does not divide m "
                               "makes sizes that are not one floor of the input size: "
                               "analyse a concrete input (--input 224x224x3)", item,
                               path) from None
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:  # the input row and MAX_ROWS layers
                raise _TooMany(item)
            shape = row.out
    return shape


def _layer_row(layer: Layer, shape: Shape, path) -> Row:
    """``layer``'s row on ``shape``, with ``in`` in its channel counts bound to the
    input's channels (the row keeps the layer as written: conv1-{in//2}); a count that
    does not work on these channels ({in//128} on 64) is a shape error."""
    try:
        bound = bind_incoming(layer, shape[2])
    except NotationError as e:
        raise _Invalid(e.message, layer, path) from None
    row = _RULES[type(bound)](bound, *shape, path)
    return row if bound is layer else replace(row, layer=layer)


def _same(a, b) -> bool:
    if isinstance(a, sympy.Expr) or isinstance(b, sympy.Expr):
        return sympy.expand(to_expr(a) - to_expr(b)) == 0
    return a == b


def _aux(block: Branches, shape: Shape, rows: list[Row], path) -> Shape:
    """A side head: its rows count params only. Where it could not run on this input (it
    is not run at inference), its params are taken from a run on symbolic sizes, which is
    exact as long as they do not depend on the size."""
    if isinstance(rows, _Needs):
        return shape  # not run at inference: no constraint on the input
    head, start = (*path, Scope("aux(…)", next(_UIDS), shape)), len(rows)
    try:
        _run(block.branches[0], shape, rows, head)
    except _Failed:
        del rows[start:]
        _run(block.branches[0], (Dim("H"), Dim("W"), shape[2]), rows, head)
        free = {"H", "W"} & {s.name for r in rows[start:] for s in
                             getattr(r.params, "free_symbols", ())}
        if free:
            raise _Invalid("this auxiliary head cannot run on this input and its params "
                           "depend on the input size", block, path) from None
    rows[start:] = [replace(r, aux=True) for r in rows[start:]]
    return shape


def _head(block: Branches, shape: Shape, rows: list[Row], path) -> Shape:
    """A head that runs beside the main path: its rows count in full; the main path goes on
    with the head's input."""
    _run(block.branches[0], shape, rows, (*path, Scope("head(…)", next(_UIDS), shape)))
    return shape


def _crops(items) -> bool:
    """Whether a crop sits in ``items`` outside any nested merge."""
    for item in items:
        if isinstance(item, Crop) or (isinstance(item, Repeat) and _crops(item.body)) or (
                isinstance(item, Block) and _crops(item.items)):
            return True
    return False


def _branch_runs(block: Branches, inputs: Shape, shape: Shape, rows: list[Row], path):
    """Each branch's output, its rows appended to ``rows`` in branch order. Where some
    branches crop, the others run first and fix the size the crops crop to."""
    uid = next(_UIDS)
    def scope(i: int, target=None) -> Scope:
        return Scope(f"{block.op}(…) branch {i + 1}", uid, shape, target,
                     len(block.branches))
    cropping = [_crops(b) for b in block.branches]
    if not any(cropping):
        return [_run(b, inputs, rows, (*path, scope(i))) for i, b in enumerate(block.branches)]
    if all(cropping) or block.op not in ("cat", "add"):
        raise _Invalid(f"crop centre-crops to the size of the other branches of its "
                       f"merge: {block.op}(…) needs a branch without a crop", block, path)
    made: list = [None] * len(block.branches)
    outs: list = [None] * len(block.branches)
    for i, b in enumerate(block.branches):
        if not cropping[i]:
            made[i] = type(rows)()
            outs[i] = _run(b, inputs, made[i], (*path, scope(i)))
    target = next(o for o in outs if o is not None)[:2]
    for i, b in enumerate(block.branches):
        if cropping[i]:
            made[i] = type(rows)()
            outs[i] = _run(b, inputs, made[i], (*path, scope(i, target)))
    for part in made:
        rows.extend(part)
        if len(rows) > MAX_ROWS + 1:
            raise _TooMany(block)
    return outs


def _mul_shape(block: Branches, outs, path) -> Shape:
    """The shape of an element-wise product: the same channels; H×W equal or 1×1
    (broadcast)."""
    big = [o for o in outs if not (o[0] == 1 and o[1] == 1)] or outs[:1]
    first = big[0]
    for o in outs:
        if not _same(o[2], first[2]) or (o in big and not (
                _same(o[0], first[0]) and _same(o[1], first[1]))):
            raise _Invalid(_mismatch(block, outs), block, path)
    return first


def _branches(block: Branches, shape: Shape, rows: list[Row], path) -> Shape:
    if block.op == "aux":
        return _aux(block, shape, rows, path)
    if block.op == "head":
        return _head(block, shape, rows, path)
    inputs = shape
    if block.op == "split":  # each branch gets an equal slice of the channels
        n, c = len(block.branches), shape[2]
        if isinstance(c, int) and c % n:
            raise _Invalid(f"split(…) gives each of its {n} branches an equal slice of the "
                           f"channels, but {c} channels do not divide by {n}", block, path)
        inputs = (shape[0], shape[1], c // n if isinstance(c, int) else c / n)
    outs = _branch_runs(block, inputs, shape, rows, path)
    first = _mul_shape(block, outs, path) if block.op == "mul" else outs[0]
    for out in outs[1:] if block.op != "mul" else ():
        spatial_ok = _same(out[0], first[0]) and _same(out[1], first[1])
        if not spatial_ok or (block.op == "add" and not _same(out[2], first[2])):
            raise _Invalid(_mismatch(block, outs), block, path)
    channels = first[2] if block.op in ("add", "mul") else \
        sympy.Add(*map(to_expr, (o[2] for o in outs)))
    if isinstance(channels, sympy.Integer):
        channels = int(channels)
    out = (first[0], first[1], channels)
    rows.append(Row(block.op, out, path=path, arity=len(block.branches)))
    if len(rows) > MAX_ROWS + 1:
        raise _TooMany(block)
    return out


def _mismatch(block: Branches, outs) -> str:
    from .formatting import shape_text
    shapes = "; ".join(f"branch {i + 1}{' (identity)' if not b else ''} gives "
                       f"{shape_text(o)}" for i, (b, o) in enumerate(zip(block.branches, outs)))
    what = {"add": "the same shape", "mul": "the same channels and the same height and "
            "width or 1×1"}.get(block.op, "the same height and width")
    hint = " (a residual whose body changes the shape needs a projection shortcut: " \
           "res(body | conv1-N/S bn))" if block.op == "add" else ""
    return f"the branches of {block.op}(…) must give {what}: {shapes}{hint}"


def _repeat(rep: Repeat, shape: Shape, rows: list[Row], path) -> Shape:
    """Apply the body ``count`` times. Once the shape at the start of an iteration is one
    seen before (a fixed point, or a cycle of ``period`` iterations), every later
    iteration repeats an earlier one exactly: the rows of the cycle get a count instead of
    being copied, and the few iterations left over run as usual."""
    seen: dict = {}  # shape at the start of an iteration → (iteration, first row)
    done, moving = 0, False
    while done < rep.count:
        if shape in seen:
            first, start = seen[shape]
            period = done - first
            more, left = divmod(rep.count - done, period)
            uid = next(_UIDS)
            rows[start:] = [replace(r, count=r.count * (more + 1),
                                    reps=((uid, more + 1, len(path)), *r.reps))
                            for r in rows[start:]]
            for _ in range(left):
                shape = _body(rep, shape, rows, path)
            return shape
        seen[shape] = (done, len(rows))
        start = len(rows)
        after = _body(rep, shape, rows, path)
        if not done and len(rows) > start and _dense(rep, rows[start]):
            rows[start] = replace(rows[start], dense_input=True)
        done += 1
        if done < rep.count and not moving and isinstance(after[0], Dim) | isinstance(
                after[1], Dim):
            step = _translation(shape, after, rows[start:])
            if step is not None:  # every later iteration: the same rows, moved by step
                if isinstance(rows, _Needs):
                    return _skip(rep, after, rows, start, step, rep.count - done, path)
                # empty for every input once done? Say so now, not after MAX_ROWS rows
                _skip(rep, after, [], 0, step, rep.count - done, path, rows[start:])
                moving = True
        shape = after
    return shape


def _dense(rep: Repeat, first: Row) -> bool:
    """Whether ``rep`` is a dense block and ``first``, its first copy's first row, sits in
    the body (not the merge of an empty body)."""
    return dense_block(rep) and first.layer != "cat"


def _body(rep: Repeat, shape: Shape, rows: list[Row], path) -> Shape:
    try:
        return _run(rep.body, shape, rows, path)
    except _TooMany:
        raise _TooMany(rep) from None


class _Needs(list):
    """The rows of a run that only asks for the smallest input (minimum_input): aux heads
    are skipped, and a repeat that moves every size by a constant (``(pool2/1)x1000000``:
    H − 1, H − 2, …) jumps to its last iteration."""


def _translation(before: Shape, after: Shape, made) -> tuple[int, int] | None:
    """How much one iteration shifts each spatial size (⌊(H + o)/d⌋ + a → … + a + δ, δ ≤ 0,
    the same d in every row it made, channels unchanged), or None if it does not."""
    if after[2] != before[2]:
        return None
    step = []
    for axis in (0, 1):
        b, a = before[axis], after[axis]
        if b == a:
            step.append(0)
            continue
        if not (isinstance(b, Dim) and isinstance(a, Dim) and a.add < b.add
                and (a.symbol, a.offset, a.den, a.mul) == (b.symbol, b.offset, b.den, b.mul)):
            return None
        if any(not isinstance(r.out[axis], Dim) or r.out[axis].den != b.den for r in made):
            return None
        step.append(a.add - b.add)
    return tuple(step) if any(step) else None


def _skip(rep: Repeat, after: Shape, rows: list[Row], start: int, step, left: int, path,
          made=None):
    """The rows of the last of ``left`` more iterations (the rows just made, moved by
    ``left`` steps; sizes only shrink, so the last iteration needs the most), appended to
    ``rows``; _Failed if one of them is empty for every input symcnn accepts."""
    def moved(x: Size, axis: int) -> Size:
        return x if not step[axis] else replace(x, add=x.add + left * step[axis])
    for r in (rows[start:] if made is None else made):
        out = (moved(r.out[0], 0), moved(r.out[1], 1), r.out[2])
        if not isinstance(r.layer, str) and any(isinstance(y, Dim) and y.minimum() >
                                                MAX_VALUE for y in out[:2]):
            raise _Failed(r.layer, r.path)  # (a merge's size is a branch's or its input's)
        rows.append(replace(r, out=out))
    return moved(after[0], 0), moved(after[1], 1), after[2]


def minimum_input(network: Network | None, items=None,
                  channels: int | str | None = None) -> tuple[int, int] | None:
    """The smallest (H, W) on which every layer that runs at inference has a non-empty
    output, or None if no input size up to MAX_VALUE works. ``channels`` is the input's
    channel count (default: the network's input line's, else the symbol C): a network may
    work for some channel counts only (a residual on the input)."""
    items = expand(network) if items is None else items
    if channels is None:
        spec = network.input if network is not None else None
        channels = spec.channels if spec is not None else "C"
    try:
        with no_gc():
            rows = _rows(items, InputSpec("H", "W", channels), _Needs())
    except (_Failed, _Invalid):
        return None
    need = [1, 1]
    for row in rows:
        for axis, size in enumerate(row.out[:2]):
            if isinstance(size, Dim):
                need[axis] = max(need[axis], size.minimum())
    return need[0], need[1]


def _where(layer, path) -> str:
    inside = f" in {' › '.join(map(str, path))}" if path else ""
    name = f"{layer.op}(…)" if isinstance(layer, Branches) else f"'{layer}'"
    return f"layer {name}{inside} at line {layer.line}, column {layer.column}"


def _shape_error(items, spec: InputSpec, layer: Layer, path) -> ShapeError:
    where = _where(layer, path)
    minimum = minimum_input(None, items, spec.channels)
    if minimum is None:
        return ShapeError(f"{where}: its output would be empty for every input size up to "
                          f"{MAX_VALUE:,}", str(layer), layer.line, layer.column, None)
    mh, mw = minimum
    return ShapeError(f"{where}: its output would be empty on input {spec}; this network "
                      f"needs an input of at least {mh}x{mw} (H ≥ {mh}, W ≥ {mw})",
                      str(layer), layer.line, layer.column, minimum)
