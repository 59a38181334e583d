"""Formulas → numbers, fast and exact: compile a closed form for many input sizes.

A symcnn formula is a polynomial in the input symbols and in floors ⌊(S + o)/d⌋ of them
(rational coefficients only in the divisible form). ``compile_formula`` reads that
structure once and returns a function that evaluates it with integer arithmetic only:
on Python ints (exact at any size) or on NumPy integer arrays (vectorised). For arrays
it first bounds every term at the largest magnitude of every argument given (arrays and
scalars alike); if the bound could pass 2⁶² it switches to Python ints (object arrays), so
results never wrap. Nothing is ``eval``-ed: the expression tree is walked, not printed
to code.
"""

from __future__ import annotations

import math
from typing import Callable

import sympy

from .errors import SymCNNError

__all__ = ["compile_formula"]

_INT64_SAFE = 2**62


def _factor(f: sympy.Expr) -> tuple[str, int, int, int]:
    """(symbol, offset, den, power) for S, ⌊(S + o)/d⌋ or a power of either."""
    power = 1
    if f.is_Pow and f.exp.is_Integer and f.exp > 0:
        f, power = f.base, int(f.exp)
    if f.is_Symbol:
        return f.name, 0, 1, power
    if isinstance(f, sympy.floor):
        num, den = sympy.fraction(sympy.together(f.args[0]))
        off, rest = num.as_coeff_Add()
        if rest.is_Symbol and off.is_Integer and den.is_Integer:
            return rest.name, int(off), int(den), power
    raise SymCNNError(f"cannot compile the factor {f} (not a size symbol or its floor)")


def _terms(expr: sympy.Expr):
    """[(coefficient numerator, ((symbol, offset, den, power), …))] and the common
    denominator of the coefficients."""
    terms = []
    for mono, coeff in sympy.expand(expr).as_coefficients_dict().items():
        coeff = sympy.Rational(coeff)
        factors = () if mono == 1 else tuple(
            _factor(f) for f in (mono.args if mono.is_Mul else (mono,)))
        terms.append((coeff, factors))
    lcm = math.lcm(*(int(c.q) for c, _ in terms)) if terms else 1
    return [(int(c * lcm), fs) for c, fs in terms], lcm


def compile_formula(expr) -> Callable[..., object]:
    """A function of the formula's symbols (as keywords: H=…, W=…, C=…) that returns the
    exact value; each argument may be an int (Python or NumPy) or a NumPy integer array
    (object arrays of Python ints too). With no array the result is a Python int; with
    arrays, an int64 array when no term can pass 2⁶² for the arguments given (scalars
    included), else an object array of exact Python ints."""
    terms, lcm = _terms(sympy.Integer(expr) if isinstance(expr, int) else expr)
    names = sorted({f[0] for _, fs in terms for f in fs})
    # Offsets, denominators or coefficients NumPy's int64 cannot hold force exact ints.
    wide = any(abs(c) >= _INT64_SAFE or any(abs(o) >= _INT64_SAFE or d >= _INT64_SAFE
                                            for _, o, d, _ in fs) for c, fs in terms)

    def evaluate(**values):
        missing = [n for n in names if n not in values]
        if missing:
            raise SymCNNError(f"missing value for {', '.join(missing)}")
        vals = _exact({n: values[n] for n in names}, terms, wide or lcm >= _INT64_SAFE)
        total = 0
        for coeff, factors in terms:
            term = coeff
            for name, off, den, power in factors:
                v = vals[name] if den == 1 and off == 0 else (vals[name] + off) // den
                term = term * (v if power == 1 else v ** power)
            total = total + term
        return total // lcm if lcm != 1 else total

    evaluate.symbols = tuple(names)
    return evaluate


def _exact(values: dict, terms, wide: bool) -> dict:
    """Every argument checked (an integer, not a bool) and put in one arithmetic: Python
    ints when no argument is an array; else int64 arrays while the bound on every term
    (each argument at its largest magnitude, scalars included) stays below 2⁶², object
    arrays of Python ints beyond, so nothing ever wraps."""
    out, size, arrays = {}, {}, False
    for name, v in values.items():
        if isinstance(v, bool):
            raise SymCNNError(f"{name}: sizes must be integers, not booleans")
        if isinstance(v, int):
            out[name], size[name] = v, abs(v)
            continue
        import numpy as np
        if isinstance(v, np.integer):  # a NumPy scalar: its exact value
            out[name] = int(v)
            size[name] = abs(out[name])
            continue
        arr = np.asarray(v)
        if arr.dtype.kind == "O":
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in arr.flat):
                raise SymCNNError(f"{name}: sizes must be integers")
        elif arr.dtype.kind not in "iu":
            raise SymCNNError(f"{name}: sizes must be integers (got {arr.dtype} values)")
        arrays = True
        out[name] = arr
        size[name] = max(abs(int(arr.max(initial=0))), abs(int(arr.min(initial=0))))
    if not arrays:
        return out
    import numpy as np
    bound = sum(abs(c) * math.prod(((size[n] + abs(o)) // d + 1) ** p for n, o, d, p in fs)
                for c, fs in terms)
    dtype = np.int64 if bound < _INT64_SAFE and not wide else object
    return {n: (v.astype(dtype) if hasattr(v, "dtype") else v) for n, v in out.items()}
