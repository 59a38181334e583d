"""Definitions → concrete layers: expand calls, bind parameters, check every value.

After expansion the items hold only layer records, repeats, branches and blocks (a call's
expansion, labelled ``bottleneck(64, 2)``), with every structural value (kernel, stride,
padding, dilation, groups, repeat count, output size) an int in range. Channel counts may
stay SymPy expressions in free width names (``conv3-k``): those are the symbolic widths.
Recursion (direct or mutual) is refused, and so is an expansion past MAX_LAYERS records.
"""

from __future__ import annotations

from dataclasses import replace

import sympy

from .dims import size_symbol
from .errors import NotationError
from .layers import (FC, SE, AdaptiveAvgPool, Block, Branches, Call, Conv, Definition, Item,
                     Network, Pool, Repeat, value_text)
from .notation import MAX_NESTING, MAX_VALUE

__all__ = ["expand", "MAX_LAYERS"]

MAX_LAYERS = 1_000_000  # layer records a network may expand to (repeats count once)


class _Expander:
    def __init__(self, defs: tuple[Definition, ...]) -> None:
        self.defs = {d.name: d for d in defs}
        self.made = 0

    def items(self, items, env: dict, stack: tuple[str, ...]) -> tuple[Item, ...]:
        return tuple(self.item(i, env, stack) for i in items)

    def item(self, item, env: dict, stack: tuple[str, ...]) -> Item:
        if isinstance(item, Call):
            return self.call(item, env, stack)
        if isinstance(item, Repeat):
            return Repeat(self.items(item.body, env, stack),
                          _val(item.count, env, "the repeat count", item), item.line,
                          item.column)
        if isinstance(item, Branches):
            return replace(item, branches=tuple(self.items(b, env, stack)
                                                for b in item.branches))
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
        if len(stack) >= MAX_NESTING:
            raise NotationError(f"calls nest more than {MAX_NESTING} deep", **where)
        if len(call.args) > len(d.params):
            raise NotationError(f"'{d.name}' takes {len(d.params)} values, got "
                                f"{len(call.args)}", **where)
        args = [_val(a, env, "an argument", call, lo=0, symbolic=True) for a in call.args]
        inner: dict = {}
        for i, (name, default) in enumerate(d.params):
            if i < len(args):
                value = args[i]
            elif default is not None:
                value = _val(default, inner, f"the default of {name}", d, lo=0, symbolic=True)
            else:
                raise NotationError(f"'{d.name}' needs a value for {name}", **where)
            inner[size_symbol(name)] = sympy.Integer(value) if isinstance(value, int) else value
        body = self.items(d.body, inner, (*stack, call.name))
        label = f"{d.name}({', '.join(value_text(a) for a in args)})"
        return Block(label, body, call.line, call.column)


def _val(v, env: dict, what: str, at, lo: int = 1, symbolic: bool = False):
    """``v`` with the parameters in ``env`` substituted: an int in [lo, MAX_VALUE], or (for
    channel counts, ``symbolic``) an expression in free width names."""
    if v is None or isinstance(v, (int, str)):
        return v
    r = v.xreplace(env) if env else v
    if r.is_Integer:
        n = int(r)
        if not lo <= n <= MAX_VALUE:
            raise NotationError(f"{what} is {value_text(v)} = {n}; it must be between {lo} "
                                f"and {MAX_VALUE:,}", line=at.line, column=at.column)
        return n
    if symbolic and r.free_symbols:
        return r
    names = ", ".join(sorted(s.name for s in r.free_symbols))
    raise NotationError(f"{what} must be a number here, but {value_text(v)} leaves {names} "
                        f"without a value", line=at.line, column=at.column)


def _layer(layer, env: dict):
    if isinstance(layer, Conv):
        return replace(layer, kernel=tuple(_val(k, env, "the kernel size", layer)
                                           for k in layer.kernel),
                       filters=_val(layer.filters, env, "the filter count", layer,
                                    symbolic=True),
                       stride=_val(layer.stride, env, "the stride", layer),
                       padding=_val(layer.padding, env, "the padding", layer, lo=0),
                       dilation=_val(layer.dilation, env, "the dilation", layer),
                       groups=_val(layer.groups, env, "the group count", layer,
                                   symbolic=True))
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
    return layer


def expand(network: Network) -> tuple[Item, ...]:
    """The network's items with every call expanded and every value checked."""
    return _Expander(network.defs).items(network.items, {}, ())
