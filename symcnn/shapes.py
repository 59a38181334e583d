"""Layers → rows: shape propagation and per-layer costs, on numbers or symbols alike.

A row is one layer applied to one input shape: its output (H, W, C), weights, biases and
MACs. Sizes are Python ints or :class:`~symcnn.dims.Dim` (a single floor of an input
symbol); channel counts are ints or SymPy expressions. Every rule below is written once
and runs on both, so evaluated numbers and formulas come from the same code.

Conventions:
- output size ⌊(x + 2p − d(k−1) − 1)/s⌋ + 1 (PyTorch floor mode; d = 1 here);
- weights: K_h·K_w·C_in·C_out for a convolution, inputs·units for a fully connected layer;
  one bias per filter or unit; pools and element-wise layers have none;
- MACs: one multiply-add per weight per output position; bias, pooling and element-wise
  work not counted (torchvision's "GFLOPS", FlopCounterMode/2);
- activations: a row's output elements H·W·C; the input is row 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Callable

import sympy

from .dims import Dim, Size, size_symbol, to_expr
from .errors import NotationError, ShapeError
from .notation import MAX_VALUE
from .layers import (FC, AdaptiveAvgPool, Conv, Elementwise, InputSpec, Item, Layer,
                     Network, Pool, Repeat)

__all__ = ["Row", "propagate", "minimum_input", "MAX_ROWS"]

MAX_ROWS = 100_000  # distinct rows a network may expand to (identical repeats are free)

Number = int | sympy.Expr
Shape = tuple[Size, Size, Number]


@dataclass(frozen=True)
class Row:
    """One layer on one input shape; ``count`` identical copies in a row (closed form).

    Costs are derived on first use from the factors, so propagation itself does plain
    integer and :class:`Dim` arithmetic only (SymPy products are built when asked for).
    """
    layer: Layer | None          # None for the input row
    out: Shape
    weight_factors: tuple = ()   # ((K_h, K_w, C_in), C_out) or ((H, W, C), units): the
    biases: Number = 0           #   seed's spelling of the weights, e.g. (3·3·3)·64
    positions: tuple = ()        # output positions each weight is used at (MACs)
    count: int = 1

    @property
    def name(self) -> str:
        return "input" if self.layer is None else str(self.layer)

    @property
    def kind(self) -> str:
        return "input" if self.layer is None else type(self.layer).__name__.lower()

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
        return _product(self.weights, *self.positions) if self.weight_factors else 0

    @cached_property
    def activations(self) -> Number:
        return _product(*self.out)


def _product(*factors) -> Number:
    out = 1
    for f in factors:
        out = out * to_expr(f)
    return out


class _Empty(Exception):
    """A layer's output has a size below 1 (turned into a ShapeError with context)."""


def _out(x: Size, k: int, s: int, p: int, d: int = 1) -> Size:
    y = (x + 2 * p - d * (k - 1) - 1) // s + 1
    if y < 1 if isinstance(y, int) else y.minimum() > MAX_VALUE:
        raise _Empty  # empty now, or for every input symcnn accepts (≤ MAX_VALUE)
    return y


def _conv(layer: Conv, h: Size, w: Size, c: Number) -> Row:
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.pad
    oh, ow = _out(h, kh, sh, ph), _out(w, kw, sw, pw)
    return Row(layer, (oh, ow, layer.filters), ((kh, kw, c), layer.filters), layer.filters,
               (oh, ow))


def _pool(layer: Pool, h: Size, w: Size, c: Number) -> Row:
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.step, layer.padding
    return Row(layer, (_out(h, kh, sh, ph), _out(w, kw, sw, pw), c))


def _adaptive(layer: AdaptiveAvgPool, h: Size, w: Size, c: Number) -> Row:
    return Row(layer, (*layer.output, c))


def _fc(layer: FC, h: Size, w: Size, c: Number) -> Row:
    return Row(layer, (1, 1, layer.units), ((h, w, c), layer.units), layer.units)


def _elementwise(layer: Elementwise, h: Size, w: Size, c: Number) -> Row:
    return Row(layer, (h, w, c))


_RULES: dict[type, Callable[..., Row]] = {
    Conv: _conv, Pool: _pool, AdaptiveAvgPool: _adaptive, FC: _fc, Elementwise: _elementwise}


def _dimension(d: int | str) -> Size | sympy.Symbol:
    return d if isinstance(d, int) else Dim(d)


def propagate(network: Network, spec: InputSpec) -> list[Row]:
    """The rows of ``network`` on input ``spec`` (ints and/or symbols), input row first."""
    try:
        return _rows(network, spec)
    except _Failed as f:
        raise _shape_error(network, spec, f.layer) from None


def _rows(network: Network, spec: InputSpec) -> list[Row]:
    h, w = _dimension(spec.height), _dimension(spec.width)
    c = spec.channels if isinstance(spec.channels, int) else size_symbol(spec.channels)
    rows = [Row(None, (h, w, c))]
    _run(network.items, (h, w, c), rows)
    return rows


class _Failed(Exception):
    def __init__(self, layer: Layer) -> None:
        self.layer = layer


def _run(items: tuple[Item, ...], shape: Shape, rows: list[Row]) -> Shape:
    for item in items:
        if isinstance(item, Repeat):
            shape = _repeat(item, shape, rows)
            continue
        try:
            row = _RULES[type(item)](item, *shape)
        except _Empty:
            raise _Failed(item) from None
        rows.append(row)
        shape = row.out
    return shape


def _repeat(rep: Repeat, shape: Shape, rows: list[Row]) -> Shape:
    """Apply the body ``count`` times. Once an iteration leaves the shape unchanged, every
    later one repeats it exactly: its rows get a count instead of being copied."""
    for done in range(1, rep.count + 1):
        start = len(rows)
        after = _run(rep.body, shape, rows)
        if after == shape and done < rep.count:
            more = rep.count - done + 1
            rows[start:] = [replace(r, count=r.count * more) for r in rows[start:]]
            return after
        if len(rows) > MAX_ROWS:
            raise NotationError(
                f"'{rep}' expands to more than {MAX_ROWS:,} distinct layers (only repeats "
                f"that keep the shape are computed in closed form)", line=rep.line,
                column=rep.column)
        shape = after
    return shape


def minimum_input(network: Network) -> tuple[int, int] | None:
    """The smallest (H, W) on which every layer has a non-empty output, or None if no
    input size works (a size that no longer depends on the input fell below 1)."""
    try:
        rows = _rows(network, InputSpec("H", "W", "C"))
    except _Failed:
        return None
    need = [1, 1]
    for row in rows:
        for axis, size in enumerate(row.out[:2]):
            if isinstance(size, Dim):
                need[axis] = max(need[axis], size.minimum())
    return need[0], need[1]


def _shape_error(network: Network, spec: InputSpec, layer: Layer) -> ShapeError:
    where = f"layer '{layer}' at line {layer.line}, column {layer.column}"
    minimum = minimum_input(network)
    if minimum is None:
        return ShapeError(f"{where}: its output would be empty for every input size up to "
                          f"{MAX_VALUE:,}", str(layer), layer.line, layer.column, None)
    mh, mw = minimum
    return ShapeError(f"{where}: its output would be empty on input {spec}; this network "
                      f"needs an input of at least {mh}x{mw} (H ≥ {mh}, W ≥ {mw})",
                      str(layer), layer.line, layer.column, minimum)
