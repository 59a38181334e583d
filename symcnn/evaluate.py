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
    arrays, an int64 array when every term and the sum stay below 2⁶² for the arguments
    given (scalars included), else an object array of exact Python ints."""
    terms, lcm = _terms(sympy.Integer(expr) if isinstance(expr, int) else expr)
    names = sorted({f[0] for _, fs in terms for f in fs})
    keys = sorted({(n, o, d) for _, fs in terms for n, o, d, _ in fs})
    index = {k: i for i, k in enumerate(keys)}
    plan = [(c, tuple(i for n, o, d, p in fs for i in [index[n, o, d]] * p))
            for c, fs in terms]  # each factor once per power

    def evaluate(**values):
        missing = [n for n in names if n not in values]
        if missing:
            raise SymCNNError(f"missing value for {', '.join(missing)}")
        vals, size, arrays = _checked({n: values[n] for n in names})
        if not arrays:  # Python ints: exact at any size
            floors = [vals[n] if (o, d) == (0, 1) else (vals[n] + o) // d for n, o, d in keys]
            total = sum(c * math.prod(floors[i] for i in fs) for c, fs in plan)
            return total // lcm
        return _vectorised(vals, size, keys, plan, lcm)

    evaluate.symbols = tuple(names)
    evaluate.terms = len(plan)  # the work per size: one product per term
    return evaluate


def _checked(values: dict) -> tuple[dict, dict, bool]:
    """Every argument checked (an integer, not a bool): Python ints for scalars, int64
    arrays for arrays whose values stay below 2⁶², object arrays of Python ints beyond;
    with each argument's largest magnitude."""
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
        size[name] = max(abs(int(arr.max(initial=0))), abs(int(arr.min(initial=0))))
        out[name] = arr.astype(np.int64 if size[name] < _INT64_SAFE else object)
    return out, size, arrays


def _vectorised(vals: dict, size: dict, keys, plan, lcm: int):
    """Σ c·Π floors with NumPy: each floor, product and partial sum in int64 while its
    bound (from the arguments' largest magnitudes) stays below 2⁶², and in Python ints
    (object arrays) from the first step that could pass it. Nothing wraps, and only the
    terms that need it pay for exact arithmetic."""
    import numpy as np

    def exact(x):
        return x.astype(object) if isinstance(x, np.ndarray) and x.dtype != object else x

    floors, bounds = [], []
    for n, o, d in keys:
        v, top = vals[n], size[n]
        if (o, d) != (0, 1):
            if isinstance(v, np.ndarray) and v.dtype != object and not (
                    top + abs(o) < _INT64_SAFE and d < _INT64_SAFE):
                v = exact(v)
            v = (v + o) // d
        floors.append(v)
        bounds.append((top + abs(o)) // d + 1)
    wide = [None] * len(keys)  # the object-array copy of a floor, made once if needed

    def big(i):
        if wide[i] is None:
            wide[i] = exact(floors[i])
        return wide[i]

    # Scalar factors (C = 3, say) fold into the coefficients: terms that differ only in
    # them become one, and the bound uses the exact coefficient.
    grouped: dict[tuple[int, ...], int] = {}
    for coeff, factors in plan:
        arrays = []
        for i in factors:
            if isinstance(floors[i], np.ndarray):
                arrays.append(i)
            else:
                coeff = coeff * floors[i]
        grouped[tuple(arrays)] = grouped.get(tuple(arrays), 0) + coeff
    narrow_sum, narrow_bound, exact_sum = 0, 0, 0
    for factors, coeff in grouped.items():
        if not coeff:
            continue
        term, bound, is_exact = 1, 1, False
        for i in factors:
            if not is_exact and bound * bounds[i] >= _INT64_SAFE:
                term, is_exact = exact(term), True
            term = term * (big(i) if is_exact else floors[i])
            bound *= bounds[i]
        bound *= abs(coeff)
        if not is_exact and bound >= _INT64_SAFE:
            term, is_exact = exact(term), True
        term = term * coeff
        if not is_exact and narrow_bound + bound < _INT64_SAFE:
            narrow_sum, narrow_bound = narrow_sum + term, narrow_bound + bound
        else:
            exact_sum = exact_sum + exact(term)
    if isinstance(exact_sum, np.ndarray) or not isinstance(narrow_sum, np.ndarray):
        total = exact_sum + exact(narrow_sum) if isinstance(exact_sum, np.ndarray) \
            else exact_sum + narrow_sum
    else:
        if exact_sum and abs(exact_sum) + narrow_bound >= _INT64_SAFE:
            total = exact(narrow_sum) + exact_sum
        else:
            total = narrow_sum + exact_sum
    return total // lcm if lcm != 1 else total
