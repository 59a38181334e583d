"""Definitions → concrete layers: expand calls, bind parameters, check every value.

After expansion the items hold only layer records, repeats, branches and blocks (a call's
expansion, labelled ``bottleneck(64, 2)``), with every structural value (kernel, stride,
padding, dilation, groups, repeat count, output size) an int in range. Channel counts may
stay SymPy expressions in free width names (``conv3-k``): those are the symbolic widths.
Recursion (direct or mutual) is refused, and so is an expansion past MAX_LAYERS layers
(each becomes at least one row, and a network has at most MAX_ROWS) or past MAX_RECORDS
records (layers, blocks, repeats and branches together: chains of calls cost too).
"""

from __future__ import annotations

from dataclasses import replace

import sympy

from .dims import size_symbol, to_expr
from .errors import NotationError
from .layers import (FC, SE, AdaptiveAvgPool, Block, Branches, Call, ChannelPad, Conv, Crop,
                     Definition, Elementwise, GroupNorm, Item, Network, Pool, Repeat, TransposedConv,
                     Upsample, value_text)
from .notation import (INCOMING, MAX_NESTING, MAX_ROWS, MAX_VALUE, ROUNDING_HINT, no_gc,
                       number_text, width_symbol)

__all__ = ["expand", "bind_incoming", "MAX_LAYERS"]

MAX_LAYERS = MAX_ROWS  # layers a network may expand to (a repeat's body counts once)
MAX_RECORDS = 300_000  # layers, blocks, repeats and branches it may expand to


class _Expander:
    def __init__(self, defs: tuple[Definition, ...]) -> None:
        self.defs = {d.name: d for d in defs}
        self.made = 0     # layers
        self.records = 0  # layers, blocks, repeats and branches
        self.depth = 0    # repeats, branches and calls around the item being expanded

    def items(self, items, env: dict, stack: tuple[str, ...]) -> tuple[Item, ...]:
        return tuple(self.item(i, env, stack) for i in items)

    def item(self, item, env: dict, stack: tuple[str, ...]) -> Item:
        self.records += 1
        if self.records > MAX_RECORDS:
            raise NotationError(f"the network expands to more than {MAX_RECORDS:,} layers "
                                f"and blocks", line=item.line, column=item.column)
        if isinstance(item, (Call, Repeat, Branches)):
            # Nesting adds up through definitions (each body may nest up to the limit):
            # the limit holds for the expanded network, whose every stage recurses on it.
            self.depth += 1
            try:
                if self.depth > MAX_NESTING:
                    raise NotationError(f"blocks nest more than {MAX_NESTING} deep once "
                                        f"definitions are expanded (repeats, blocks and "
                                        f"calls count)", line=item.line, column=item.column)
                if isinstance(item, Call):
                    return self.call(item, env, stack)
                if isinstance(item, Repeat):
                    count = _val(item.count, env, "the repeat count", item, lo=0)  # x0: none
                    return Repeat(self.items(item.body, env, stack), count, item.line,
                                  item.column)
                return replace(item, branches=tuple(self.items(b, env, stack)
                                                    for b in item.branches))
            finally:
                self.depth -= 1
        self.made += 1
        if self.made > MAX_LAYERS:
            raise NotationError(f"the network expands to more than {MAX_LAYERS:,} layers",
                                line=item.line, column=item.column)
        return _layer(item, env)

    def call(self, call: Call, env: dict, stack: tuple[str, ...]) -> Block:
        where = dict(line=call.line, column=call.column, width=len(call.name) + 1)
        d = self.defs.get(call.name)
        if d is None:
            known = ", ".join(sorted(self.defs)) or "none"
            raise NotationError(f"unknown block '{call.name}' (defined: {known}; built in: "
                                f"res, add, cat, se)", **where)
        if call.name in stack:
            chain = " → ".join((*stack[stack.index(call.name):], call.name))
            raise NotationError(f"'{call.name}' calls itself ({chain}); definitions cannot "
                                f"recurse", **where)
        if len(call.args) > len(d.params):
            n = len(d.params)
            raise NotationError(f"'{d.name}' takes {n} value{'s' if n != 1 else ''}, got "
                                f"{len(call.args)}", **where)
        args = [_val(a, env, "an argument", call, lo=0, symbolic=True, whole=False)
                for a in call.args]
        inner: dict = {}
        for i, (name, default) in enumerate(d.params):
            if i < len(args):
                value = args[i]
            elif default is not None:
                value = _val(default, inner, f"the default of {name}", d, lo=0,
                             symbolic=True, whole=False)
            else:
                raise NotationError(f"'{d.name}' needs a value for {name}", **where)
            inner[width_symbol(name)] = sympy.Integer(value) if isinstance(value, int) \
                else value
        body = self.items(d.body, inner, (*stack, call.name))
        label = f"{d.name}({', '.join(value_text(a) for a in args)})"
        return Block(label, body, call.line, call.column)


def _val(v, env: dict, what: str, at, lo: int = 1, symbolic: bool = False,
         whole: bool = True):
    """``v`` with the parameters in ``env`` substituted: an int in [lo, MAX_VALUE], or (for
    channel counts, ``symbolic``) an expression in free width names (positive integers,
    as every parameter is bound). A layer's value is ``whole`` (an integer); a
    definition's value may be a fraction (1.2)."""
    if v is None or isinstance(v, (int, str)):
        return v
    try:
        r = v.xreplace(env) if env else v
    except NotationError as e:  # make_divisible(v, d) with d bound to 0, say
        raise NotationError(f"{what} is {value_text(v)}: {e.message}", line=at.line,
                            column=at.column) from None
    if env and r.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise NotationError(f"{what} is {value_text(v)}, which divides by zero here",
                            line=at.line, column=at.column)
    if not r.is_Number:  # every parameter is bound: the names left are widths
        r = _widths(r)
    if r.is_Rational and not r.is_Integer:
        shown = value_text(v) + ("" if r == v else f" = {number_text(r)}")
        if whole:
            raise NotationError(f"{what} is {shown}, not a whole number; {ROUNDING_HINT}",
                                line=at.line, column=at.column)
        if not lo <= r <= MAX_VALUE:
            raise NotationError(f"{what} is {shown}; it must be between {lo} and "
                                f"{MAX_VALUE:,}", line=at.line, column=at.column)
        if r.q > MAX_VALUE:
            raise NotationError(f"{what} is {value_text(v)}, a fraction whose denominator "
                                f"passes {MAX_VALUE:,}", line=at.line, column=at.column)
        return r
    if r.is_Integer:
        n = int(r)
        if not lo <= n <= MAX_VALUE:
            shown = value_text(v) + ("" if value_text(v) == str(n) else f" = {n}")
            raise NotationError(f"{what} is {shown}; it must be between {lo} "
                                f"and {MAX_VALUE:,}", line=at.line, column=at.column)
        return n
    if symbolic and r.free_symbols:
        shown = value_text(v) + ("" if value_text(r) == value_text(v) else
                                 f" = {value_text(r)}")
        terms, degree, bits = _size(r, {})
        if terms > MAX_TERMS or degree > MAX_DEGREE or bits > MAX_BITS:
            raise NotationError(f"{what} {value_text(v)} grows too large a formula (at most "
                                f"{MAX_TERMS} terms of degree {MAX_DEGREE}, numbers below "
                                f"2^{MAX_BITS})", line=at.line, column=at.column)
        names = ", ".join(sorted(s.name for s in r.free_symbols))
        if whole and r.is_integer is not True and INCOMING not in r.free_symbols:
            raise NotationError(f"{what} is {shown}, which is not a whole number for every "
                                f"{names}; {ROUNDING_HINT}", line=at.line, column=at.column)
        if lo >= 1 and r.is_nonpositive:
            raise NotationError(f"{what} is {shown}, which is not positive for any positive "
                                f"{names}", line=at.line, column=at.column)
        if r.is_negative:
            raise NotationError(f"{what} is {shown}, which is negative for every positive "
                                f"{names}", line=at.line, column=at.column)
        return r
    names = ", ".join(sorted(s.name for s in r.free_symbols))
    if INCOMING in r.free_symbols:
        raise NotationError(f"{what} cannot use in (the channel count entering a layer, "
                            f"known only as the shapes are propagated): {value_text(v)}",
                            line=at.line, column=at.column)
    raise NotationError(f"{what} must be a number here, but {value_text(v)} leaves {names} "
                        f"without a value", line=at.line, column=at.column)


def _widths(r):
    """``r`` with its names left free made widths (positive integers, as the input's
    symbols): parsed, a name is any rational ≥ 0 (notation.width_symbol)."""
    free = {s: size_symbol(s.name) for s in r.free_symbols if s.is_integer is not True}
    return r.xreplace(free) if free else r


# The channel counts of each kind of layer, where ``in`` may stand: (field, what it is)
_CHANNELS = {Conv: (("filters", "the filter count"), ("groups", "the group count")),
             TransposedConv: (("filters", "the filter count"), ("groups", "the group count")),
             FC: (("units", "the unit count"),), SE: (("squeeze", "the squeeze width"),),
             GroupNorm: (("groups", "the group count"),),
             ChannelPad: (("channels", "the channel count"),)}


def bind_incoming(layer, channels):
    """``layer`` with ``in`` in its channel counts replaced by ``channels`` (the channel
    count of its input: a number or a formula) and each checked as a width; ``layer``
    itself when it has no ``in``."""
    fields = _CHANNELS.get(type(layer))
    if fields is None:
        return layer
    changes = {}
    for name, what in fields:
        v = getattr(layer, name)
        if isinstance(v, sympy.Basic) and INCOMING in v.free_symbols:
            c = to_expr(channels)
            c = sympy.Integer(c) if isinstance(c, int) else c
            try:
                changes[name] = _val(v, {INCOMING: c}, what, layer, symbolic=True)
            except NotationError as e:
                raise NotationError(f"{e.message} (in = {value_text(c)}, the channels "
                                    f"entering this layer)", line=layer.line,
                                    column=layer.column) from None
    return replace(layer, **changes) if changes else layer


MAX_TERMS = 64    # a symbolic width expands to at most this many terms,
MAX_DEGREE = 8    # of at most this degree in the width names,
MAX_BITS = 512    # with numbers below 2^MAX_BITS: definitions that feed a width into
#                   another ({w*w+1} through ten calls) would otherwise grow without bound


def _size(e, memo: dict) -> tuple[int, int, int]:
    """Upper bounds on the terms, degree and number size (bits) of ``e`` expanded, each
    capped just past its limit; shared subexpressions are visited once."""
    if e in memo:
        return memo[e]
    if e.is_Number:
        p, q = e.as_numer_denom()
        out = (1, 0, max(int(p).bit_length(), int(q).bit_length()))
    elif e.is_Symbol:
        out = (1, 1, 0)
    elif e.is_Pow and e.exp.is_Integer:
        t, d, b = _size(e.base, memo)
        n = abs(int(e.exp))
        out = (t ** min(n, MAX_TERMS + 1) if t > 1 else 1, d * n, b * n)
    else:
        parts = [_size(a, memo) for a in e.args]
        if e.is_Mul:
            t, d, b = 1, 0, 0
            for pt, pd, pb in parts:
                t, d, b = min(t * pt, MAX_TERMS + 1), d + pd, b + pb
            out = (t, d, b)
        else:  # Add, floor …: the terms of the parts, side by side
            out = (sum(p[0] for p in parts), max((p[1] for p in parts), default=0),
                   max((p[2] for p in parts), default=0) + len(parts).bit_length())
    out = (min(out[0], MAX_TERMS + 1), min(out[1], MAX_DEGREE + 1), min(out[2], MAX_BITS + 1))
    memo[e] = out
    return out


_PLAIN = (int, str, type(None))


def _plain(layer) -> bool:
    """Whether every value of ``layer`` is a number already checked by the parser (no
    parameter to bind, no symbolic width): the record is then used as it is."""
    if isinstance(layer, Conv):
        return all(isinstance(v, _PLAIN) for v in (*layer.kernel, layer.filters, layer.stride,
                                                   layer.padding, layer.dilation, layer.groups))
    if isinstance(layer, TransposedConv):
        return all(isinstance(v, _PLAIN) for v in (
            *layer.kernel, layer.filters, layer.stride, layer.padding, layer.output_padding,
            layer.dilation, layer.groups))
    if isinstance(layer, Upsample):
        return all(isinstance(v, _PLAIN) for v in (*(layer.scale or ()), *(
            layer.size if isinstance(layer.size, tuple) else ())))
    if isinstance(layer, Pool):
        return all(isinstance(v, _PLAIN) for v in (*layer.kernel, layer.stride, layer.padding))
    if isinstance(layer, AdaptiveAvgPool):
        return all(isinstance(v, _PLAIN) for v in layer.output)
    if isinstance(layer, FC):
        return isinstance(layer.units, _PLAIN)
    if isinstance(layer, SE):
        return isinstance(layer.squeeze, _PLAIN)
    return True


def _layer(layer, env: dict):
    if not env and _plain(layer):
        return layer
    if isinstance(layer, (Conv, TransposedConv)):
        more = {} if isinstance(layer, Conv) else {"output_padding": _val(
            layer.output_padding, env, "the output padding", layer, lo=0)}
        return replace(layer, kernel=tuple(_val(k, env, "the kernel size", layer)
                                           for k in layer.kernel),
                       filters=_val(layer.filters, env, "the filter count", layer,
                                    symbolic=True),
                       stride=_val(layer.stride, env, "the stride", layer),
                       padding=_val(layer.padding, env, "the padding", layer, lo=0),
                       dilation=_val(layer.dilation, env, "the dilation", layer),
                       groups=_val(layer.groups, env, "the group count", layer,
                                   symbolic=True), **more)
    if isinstance(layer, Upsample):
        if layer.scale is not None:
            return replace(layer, scale=tuple(_val(k, env, "the scale", layer)
                                              for k in layer.scale))
        if isinstance(layer.size, tuple):
            return replace(layer, size=tuple(_val(k, env, "the output size", layer)
                                             for k in layer.size))
        return layer
    if isinstance(layer, Pool):
        pool = replace(layer, kernel=tuple(_val(k, env, "the kernel size", layer)
                                           for k in layer.kernel),
                       stride=_val(layer.stride, env, "the stride", layer),
                       padding=_val(layer.padding, env, "the padding", layer, lo=0))
        if pool.padding > min(pool.kernel) // 2:
            raise NotationError(f"a pool's padding must be at most half its kernel (at most "
                                f"{min(pool.kernel) // 2} here); got {pool.padding}",
                                line=layer.line, column=layer.column)
        return pool
    if isinstance(layer, AdaptiveAvgPool):
        return replace(layer, output=tuple(_val(k, env, "the output size", layer)
                                           for k in layer.output))
    if isinstance(layer, FC):
        return replace(layer, units=_val(layer.units, env, "the unit count", layer,
                                         symbolic=True))
    if isinstance(layer, SE):
        return replace(layer, squeeze=_val(layer.squeeze, env, "the squeeze width", layer,
                                           symbolic=True))
    if isinstance(layer, GroupNorm):
        return replace(layer, groups=_val(layer.groups, env, "the group count", layer,
                                          symbolic=True))
    if isinstance(layer, ChannelPad):
        return replace(layer, channels=_val(layer.channels, env, "the channel count", layer,
                                            symbolic=True))
    return layer


def expand(network: Network) -> tuple[Item, ...]:
    """The network's items with every call expanded and every value checked."""
    try:
        with no_gc():
            items = _Expander(network.defs).items(network.items, {}, ())
        _check_in_place(items, True)
        return items
    except NotationError as e:
        raise e.located(network.source) from None


def _check_in_place(items, on_input: bool) -> bool:
    """Refuse an in-place layer (relu_) on the network's input, which it would overwrite;
    ``on_input``: the tensor reaching ``items`` is the input's storage (the input itself,
    a crop or split slice of it, or an eval-mode dropout of it). Returns the same for the
    items' output."""
    for item in items:
        if isinstance(item, Repeat):
            if item.count:
                on_input = _check_in_place(item.body, on_input)
        elif isinstance(item, Block):
            on_input = _check_in_place(item.items, on_input)
        elif isinstance(item, Branches):
            ends = [_check_in_place(b, on_input) for b in item.branches]
            if item.op not in ("aux", "head"):
                on_input = item.inplace and ends[0]
        elif isinstance(item, Elementwise) and item.inplace and on_input:
            raise NotationError(f"{item} runs in place on the network's input, which it "
                                f"would overwrite (PyTorch refuses it where the input needs "
                                f"grad); write {item.kind} there", line=item.line,
                                column=item.column, width=len(str(item)))
        elif not (isinstance(item, Crop) or
                  (isinstance(item, Elementwise) and item.kind == "dropout")):
            on_input = False
    return on_input
