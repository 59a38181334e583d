"""Spatial sizes as single floors of the input size: the nested-floor rewrite.

Every size a chain of convolutions, pools and integer upsamplings produces from an input
size B is exactly

    mul·⌊(B + offset) / den⌋ + add    (B a positive integer; 0 ≤ offset < den, mul ≥ 1)

because ⌊(⌊y/a⌋ + n)/b⌋ = ⌊(y + n·a)/(a·b)⌋ for integer y, n and positive integers a, b.
A layer's size rule ``(x + c) // s + 1`` therefore maps a :class:`Dim` to a :class:`Dim`
with plain integer arithmetic: no SymPy ``floor`` is built or simplified while propagating,
nested floors never appear, and the cost per layer is constant. The same rule runs on
Python ints, so one formula serves numbers and symbols alike. Upsampling by s and a
transposed convolution multiply (``mul``); a later floor division by s is exact when s
divides ``mul`` (⌊(m·F + a)/s⌋ = (m/s)·F + ⌊a/s⌋); otherwise the size is no longer one
floor of B and :class:`NotOneFloor` says so (a concrete input still works).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy

__all__ = ["Dim", "size_symbol", "to_expr", "Size", "MAX_INPUT", "NotOneFloor"]

MAX_INPUT = 10**12  # the largest input size symcnn accepts (notation.MAX_VALUE)


@functools.lru_cache(maxsize=None)
def size_symbol(name: str) -> sympy.Symbol:
    """The SymPy symbol for an input dimension: a positive integer."""
    return sympy.Symbol(name, positive=True, integer=True)


class NotOneFloor(ArithmeticError):
    """A floor division that leaves the single-floor form (an upsampling by m, then a
    stride s that does not divide m)."""


@dataclass(frozen=True, slots=True, repr=False)
class Dim:
    """mul·⌊(symbol + offset)/den⌋ + add, kept in normal form 0 ≤ offset < den."""
    symbol: str
    offset: int = 0
    den: int = 1
    add: int = 0
    mul: int = 1

    @staticmethod
    def normal(symbol: str, offset: int, den: int, add: int, mul: int = 1) -> "Dim":
        q, r = divmod(offset, den)
        return Dim(symbol, r, den, add + mul * q, mul)

    def __add__(self, n: int) -> "Dim":
        return Dim(self.symbol, self.offset, self.den, self.add + n, self.mul)

    def __sub__(self, n: int) -> "Dim":
        return self + (-n)

    def __mul__(self, s: int) -> "Size":
        """s times this size (an upsampling by s): exact, no floor is added."""
        return Dim(self.symbol, self.offset, self.den, self.add * s, self.mul * s)

    def __floordiv__(self, s: int) -> "Size":
        if s == 1:
            return self
        if self.mul % s == 0:  # ⌊(m·F + a)/s⌋ = (m/s)·F + ⌊a/s⌋
            return Dim(self.symbol, self.offset, self.den, self.add // s, self.mul // s)
        if self.mul != 1:
            g = math.gcd(self.mul, s)
            d = Dim(self.symbol, self.offset, self.den, self.add // g, self.mul // g)
            if d.mul == 1:
                return d // (s // g)
            if d.at(1) == d.at(MAX_INPUT):
                return d.at(1) // (s // g)
            raise NotOneFloor(f"{d.mul}·F + {d.add} over {s // g}")
        d = Dim.normal(self.symbol, self.offset + self.add * self.den, self.den * s, 0)
        return d.capped()

    def capped(self) -> "Size":
        """This size in a bounded form with the same value for every input symcnn accepts
        (1 … MAX_INPUT): a constant is that number, and a floor whose ``den`` exceeds
        MAX_INPUT (at most one step in range) is rewritten with ``den`` = MAX_INPUT.
        Without this a stride-2 layer repeated without end would grow ``den`` without
        bound, and a repeat could never see its shape come back."""
        lo, hi = self.at(1), self.at(MAX_INPUT)
        if lo == hi:
            return lo
        if self.den <= MAX_INPUT:
            return self
        # (H + offset)/den < 2 on 1 … MAX_INPUT: one step, at H = den − offset (≥ 2)
        step = self.den - self.offset
        return Dim(self.symbol, MAX_INPUT - step, MAX_INPUT, lo, hi - lo)

    def at(self, value: int) -> int:
        """The size when the symbol equals ``value``."""
        return self.mul * ((value + self.offset) // self.den) + self.add

    def minimum(self) -> int:
        """The smallest positive value of the symbol for which this size is at least 1."""
        return max(1, -((self.add - 1) // self.mul) * self.den - self.offset)

    def expr(self) -> sympy.Expr:
        return _expr(self)

    def divisible_expr(self) -> sympy.Expr:
        """The size when ``den`` divides the symbol: mul·symbol/den + add (no floor)."""
        return self.mul * size_symbol(self.symbol) / self.den + self.add

    def __str__(self) -> str:  # SymPy's spelling: floor(H/2)
        return str(self.expr())

    def __repr__(self) -> str:
        """The size as the table prints it, so that rows[i].out reads (⌊H/2⌋, ⌊W/2⌋, 64):
        ⌊H/2⌋, ⌊(H + 1)/2⌋ + 1, 2·H - 1 (``str`` keeps SymPy's floor(H/2))."""
        from .formatting import dim_text  # formatting imports this module
        return dim_text(self)


Size = int | Dim


@functools.lru_cache(maxsize=4096)
def _expr(d: Dim) -> sympy.Expr:
    b = size_symbol(d.symbol)
    if d.den == 1:
        return d.mul * b + d.add
    # evaluate=False: an evaluated floor costs milliseconds of assumption queries.
    return d.mul * sympy.floor((b + d.offset) / d.den, evaluate=False) + d.add


def to_expr(x) -> sympy.Expr | int:
    """A size or count as a number for arithmetic: Dims become SymPy, the rest stays."""
    return x.expr() if isinstance(x, Dim) else x
