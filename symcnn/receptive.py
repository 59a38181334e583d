"""Receptive field and jump (effective stride) of every row, exact integers.

The receptive field of a row is the bounding box of the input pixels one *interior*
output position of that row depends on (its field away from the borders: near a border
padding cuts it short); its jump is how far apart, in input pixels, two neighbouring
output positions are. Both are per axis (H, W) and independent of the input size.

Each axis is tracked as a periodic table: output position q sees input pixels
[L(q), R(q)], with L(q) = ⌊q/P⌋·A + Ltab[q mod P] (and R alike), so the jump is A/P. For
a plain network P = 1 and this is the usual recurrence (r_out = r_in + (k_eff − 1)·j_in,
j_out = j_in·s, k_eff = d·(k − 1) + 1; padding and ceil mode only move the window); after
an upsampling or a strided transposed convolution the field differs from position to
position (with period P): the largest over positions is reported, and the jump is the
mean step A/P (a fraction, or an integer such as 1 after ``conv3-8/2 nearest2``). Branches
merge as the bounding box of the union of their fields (for centred paths, the largest
field); their jumps must agree.

Conventions (what a row shows when the field is not one size-independent number):
- ``ALL`` ("all"): every output position depends on every input pixel — ``gap``, ``fc``,
  ``se(…)`` (its gate pools the whole input), ``gn`` (statistics over H×W), and every row
  after one;
- ``None`` ("—"): the window depends on the input size — ``adaptiveavgpool`` to more
  than 1×1, an upsampling to a size (``bilinear-input``, ``-branch``, ``-HxW``), a merge of
  branches whose jumps disagree, a repeat too long to follow exactly, a transposed conv
  with a kernel over 4,096.
Batch norm is taken at inference (per channel); layer norm, activations, dropout, channel
padding and shuffles do not mix positions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

from .dims import Dim
from .layers import (FC, SE, AdaptiveAvgPool, Conv, Crop, GroupNorm, Pool, TransposedConv,
                     Upsample)

__all__ = ["Field", "receptive_fields", "ALL"]

ALL = "all"
MAX_PERIOD = 1 << 12   # longer periods (many upsamplings in a row) are not followed
MAX_BITS = 4096        # fields beyond 2^4096 pixels (a stride-2 repeat of 10⁶) are not shown


@dataclass(frozen=True)
class Field:
    """One table line's receptive field and jump, (h, w) each: ints (a jump may be a
    Fraction after an upsampling), or ``"all"`` (the whole input) or None (not one
    number: it depends on the input size) for both."""
    receptive_field: tuple[int, int] | str | None
    jump: tuple[Fraction | int, Fraction | int] | str | None
    period: tuple[int, int] = (1, 1)  # positions after which field and offsets repeat

    def text(self) -> str:
        """As the table prints it: ``212 / 32`` (212×212 pixels, jump 32 along H and W),
        ``3×5 / 1×2`` where the axes differ; "all" or "—"."""
        return _text(self)

    def json(self) -> tuple:
        """(receptive_field, jump) for JSON: [h, w] ints (a fractional jump as "1/2"),
        or "all", or None."""
        if not isinstance(self.receptive_field, tuple):
            return self.receptive_field, self.receptive_field
        return list(self.receptive_field), [
            int(j) if Fraction(j).denominator == 1 else _fraction(j) for j in self.jump]


@functools.lru_cache(maxsize=4096)  # a deep network repeats a few fields
def _text(field: Field) -> str:
    if field.receptive_field is None:
        return "—"
    if field.receptive_field == ALL:
        return ALL
    def pair(values) -> str:
        a, b = values
        return a if a == b else f"{a}×{b}"
    return f"{pair([f'{x:,}' for x in field.receptive_field])} / " \
        f"{pair([_fraction(j) for j in field.jump])}"


def _fraction(j) -> str:
    j = Fraction(j)
    return f"{j.numerator:,}" if j.denominator == 1 else f"{j.numerator:,}/{j.denominator:,}"


# ── One axis: (P, A, Ltab, Rtab) ─────────────────────────────────────────────────────

def _at(axis, q: int, side: int):
    P, A, tabs = axis[0], axis[1], axis[2 + side]
    v = tabs[q % P]
    return None if v is None else v + (q // P) * A


def _make(P: int, A: int, taps) -> tuple | None:
    """The axis whose position t in [0, P) sees the union of the previous axis' positions
    ``taps(t)`` (a list), reduced to its shortest period; None if the period is too long."""
    if P > MAX_PERIOD:
        return None
    return P, A, *taps


def _reduce(P: int, A: int, L: list, R: list) -> tuple:
    for P0 in sorted(d for d in range(1, P) if P % d == 0):
        if (A * P0) % P:
            continue
        step = A * P0 // P
        if all(_shift(L[t], step) == L[t + P0] and _shift(R[t], step) == R[t + P0]
               for t in range(P - P0)):
            return P0, step, tuple(L[:P0]), tuple(R[:P0])
    return P, A, tuple(L), tuple(R)


def _shift(v, step):
    return None if v is None else v + step


def _gather(axis, P: int, A: int, positions) -> tuple | None:
    """Output position t (0 ≤ t < P) sees the previous axis' positions ``positions(t)``."""
    if P > MAX_PERIOD:
        return None
    L, R = [], []
    for t in range(P):
        lows = [v for v in (_at(axis, q, 0) for q in positions(t)) if v is not None]
        highs = [v for v in (_at(axis, q, 1) for q in positions(t)) if v is not None]
        L.append(min(lows) if lows else None)
        R.append(max(highs) if highs else None)
    return _reduce(P, A, L, R)


def _window(axis, k: int, s: int, p: int, d: int):
    P = axis[0]
    if P == 1 and axis[2][0] is not None:  # the usual recurrence, as _gather gives it
        A, (L,), (R,) = axis[1], axis[2], axis[3]
        return 1, A * s, (L - p * A,), (R + ((k - 1) * d - p) * A,)
    P2 = P // math.gcd(P, s)
    # Taps m = P/gcd(d, P) apart see the same offsets shifted by a multiple of A ≥ 0, so
    # the lowest pixel is among the first m taps and the highest among the last m: a
    # kernel of 10¹² costs 2m taps, not 10¹².
    m = P // math.gcd(d, P)
    taps = range(k) if k <= 2 * m else [*range(m), *range(k - m, k)]
    return _gather(axis, P2, axis[1] * s * P2 // P,
                   lambda t: [t * s - p + u * d for u in taps])


def _tconv(axis, k: int, s: int, p: int, d: int):
    if k > MAX_PERIOD:
        return None  # a transposed kernel this long is not followed tap by tap
    def taps(t):
        return [(t + p - u * d) // s for u in range(k) if (t + p - u * d) % s == 0]
    return _gather(axis, axis[0] * s, axis[1], taps)


def _upsample(axis, s: int, bilinear: bool):
    def taps(t):
        if not bilinear:
            return [t // s]
        # PyTorch, align_corners=False: source x = (t + ½)/s − ½, between ⌊x⌋ and ⌊x⌋ + 1
        num, den = 2 * t + 1 - s, 2 * s
        i = num // den
        return [i, i + 1] if num % den else [i]
    return _gather(axis, axis[0] * s, axis[1], taps)


def _crop(axis, c: int):
    return _gather(axis, axis[0], axis[1], lambda t: [t + c])


def _union(axes):
    jumps = {Fraction(a[1], a[0]) for a in axes}
    if len(jumps) > 1:
        return None
    P = math.lcm(*(a[0] for a in axes))
    if P > MAX_PERIOD:
        return None
    A = int(Fraction(axes[0][1], axes[0][0]) * P)
    L, R = [], []
    for t in range(P):
        lows = [v for v in (_at(a, t, 0) for a in axes) if v is not None]
        highs = [v for v in (_at(a, t, 1) for a in axes) if v is not None]
        L.append(min(lows) if lows else None)
        R.append(max(highs) if highs else None)
    return _reduce(P, A, L, R)


def _extent(axis) -> int:
    return max((r - l + 1 for l, r in zip(axis[2], axis[3]) if l is not None), default=0)


# ── A state: (axis H, axis W), ALL or None ──────────────────────────────────────────

INPUT = ((1, 1, (0,), (0,)), (1, 1, (0,), (0,)))


def _ints(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _per_axis(state, fn):
    if not isinstance(state, tuple):
        return state
    out = tuple(fn(axis, i) for i, axis in enumerate(state))
    return None if any(a is None for a in out) else out


def _layer(state, layer, before, out):
    """The state after ``layer`` (``before``: its input's shape, ``out``: its output's)."""
    if state is ALL:
        return ALL
    if isinstance(layer, (FC, SE, GroupNorm)):
        return ALL
    if isinstance(layer, AdaptiveAvgPool):
        return ALL if tuple(layer.output) == (1, 1) else None
    if state is None:
        return None
    if isinstance(layer, Conv):
        (kh, kw), s, d = layer.kernel, layer.stride, layer.dilation
        if not _ints(kh, kw, s, d):
            return None
        def pad(k):
            if layer.padding is None:
                return d * (k // 2)
            return d * (k - 1) // 2 if layer.padding == "same" else layer.padding
        if not _ints(pad(kh), pad(kw)):
            return None
        return _per_axis(state, lambda a, i: _window(a, (kh, kw)[i], s, pad((kh, kw)[i]), d))
    if isinstance(layer, Pool):
        (kh, kw), p = layer.kernel, layer.padding
        if not _ints(kh, kw, p, layer.stride if layer.stride is not None else 1):
            return None
        return _per_axis(state, lambda a, i: _window(
            a, (kh, kw)[i], layer.stride or (kh, kw)[i], p, 1))
    if isinstance(layer, TransposedConv):
        (kh, kw), s, p, d = layer.kernel, layer.stride, layer.padding, layer.dilation
        if not _ints(kh, kw, s, p, d):
            return None
        return _per_axis(state, lambda a, i: _tconv(a, (kh, kw)[i], s, p, d))
    if isinstance(layer, Upsample):
        if layer.scale is None or not _ints(*layer.scale):
            return None  # to a size: the scale depends on the input size
        return _per_axis(state, lambda a, i: _upsample(a, layer.scale[i],
                                                       layer.mode == "bilinear"))
    if isinstance(layer, Crop):
        def offset(i):
            x, t = before[i], out[i]
            if _ints(x, t):
                return (x - t) // 2
            if isinstance(x, Dim) and isinstance(t, Dim) and (x.symbol, x.offset, x.den,
                                                              x.mul) == (t.symbol, t.offset,
                                                                         t.den, t.mul):
                return (x.add - t.add) // 2
            return None
        if offset(0) is None or offset(1) is None:
            return None
        return _per_axis(state, lambda a, i: _crop(a, offset(i)))
    return state  # element-wise, batch/layer norm, scale, PReLU, channel padding


def _merge(states):
    if any(s is ALL for s in states):
        return ALL
    if any(s is None for s in states):
        return None
    return _per_axis(states[0], lambda a, i: _union([s[i] for s in states]))


def _field(state) -> Field:
    if not isinstance(state, tuple):
        return Field(state, state)
    return Field(tuple(_extent(a) for a in state), tuple(
        Fraction(a[1], a[0]) if a[0] > 1 else a[1] for a in state),
        tuple(a[0] for a in state))


# ── The walk over a report's rows, line by line as the table lists them ─────────────

def _branch(scope) -> bool:
    return scope.fork is not None


class _Walk:
    def __init__(self) -> None:
        self.state, self.shape = None, None
        self.stack: list[dict] = []  # open branches: uid, label, input, outputs

    def row(self, row):
        scopes = [s for s in row.path if _branch(s)]
        m = 0
        while m < len(self.stack) and m < len(scopes) and self.stack[m]["uid"] == \
                scopes[m].uid and self.stack[m]["label"] == _index(scopes[m].label):
            m += 1
        merging = isinstance(row.layer, str)
        while len(self.stack) > m:
            top = self.stack[-1]
            if top["op"] in ("aux", "head"):
                self.stack.pop()
                self.state, self.shape = top["input"]
                continue
            if len(self.stack) == m + 1 and (merging or (
                    m < len(scopes) and top["uid"] == scopes[m].uid)):
                break
            self.stack.pop()  # pragma: no cover - a merge row always closes its branches
        if len(self.stack) == m + 1 and merging:
            top = self.stack.pop()
            top["outputs"][top["label"]] = self.state
            n = max(top["n"], *top["outputs"])
            states = [top["outputs"].get(i, top["input"][0]) for i in range(1, n + 1)]
            self.state = _merge(states)
        elif len(self.stack) == m + 1:  # the next branch of an open merge
            top = self.stack[m]
            top["outputs"][top["label"]] = self.state
            top["label"] = _index(scopes[m].label)
            self.state, self.shape = top["input"]
            m += 1
        for s in scopes[m:]:
            op = s.label.split("(")[0]
            self.stack.append({"uid": s.uid, "op": op, "label": _index(s.label),
                               "n": s.branches, "input": (self.state, self.shape),
                               "outputs": {}})
        if row.layer is None:
            self.state = INPUT
        elif not merging:
            self.state = _layer(self.state, row.layer, self.shape, row.out)
        self.shape = row.out
        if isinstance(self.state, tuple) and any(
                _extent(a).bit_length() > MAX_BITS or a[1].bit_length() > MAX_BITS
                for a in self.state):
            self.state = None
        return self.state

    def close(self, depth: int) -> None:
        """Leave the heads opened beyond ``depth`` (a repeat's body ends)."""
        while len(self.stack) > depth:
            top = self.stack.pop()
            if top["op"] in ("aux", "head"):
                self.state, self.shape = top["input"]

    # repeats
    def silent(self, items) -> None:
        depth = len(self.stack)
        for x in items:
            if hasattr(x, "items"):
                self.forward(x, x.count)
            else:
                self.row(x)
        self.close(depth)

    def forward(self, rep, n: int) -> None:
        """Run ``rep``'s body ``n`` times: once on the input's state gives its effect
        (jump × s, field + α·jump; linear in the incoming jump), applied n times in closed
        form; bodies around a fractional jump are run one by one (up to 256 times)."""
        if n <= 0:
            return
        if not isinstance(self.state, tuple):
            self.silent(rep.items)  # "all" or None: one run gives what n runs give
            return
        start = self.state
        self.state = INPUT
        self.silent(rep.items)
        unit, self.state, end_shape = self.state, start, self.shape
        if not isinstance(unit, tuple):
            self.silent(rep.items)  # absorbing: one run gives what n runs give
            return
        if any(a[0] > 1 for a in (*unit, *start)):
            if n <= 256:
                for _ in range(n):
                    self.silent(rep.items)
            else:
                self.state = None
            self.shape = end_shape
            return
        axes = []
        for (_, J, (L0,), (R0,)), (_, s, (al,), (be,)) in zip(start, unit):
            if s > 1 and n * s.bit_length() > MAX_BITS:
                self.state, self.shape = None, end_shape
                return
            g = n if s == 1 else (s ** n - 1) // (s - 1)
            axes.append((1, J * s ** n, (L0 + al * J * g,), (R0 + be * J * g,)))
        self.state, self.shape = tuple(axes), end_shape


def _index(label: str) -> int:
    """The branch number in "add(…) branch 2" (1 for a head)."""
    tail = label.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 1


def receptive_fields(rows) -> list[Field]:
    """One :class:`Field` per line of ``display_rows(rows)`` (the table's, JSON's and
    CSV's lines), in order. A line standing for several copies (a long repeat shown
    once, ``×N each``) shows its last copy's field."""
    from .formatting import _Rep, _budget, _tree
    tree = _tree(list(rows))
    collapse = _budget(tree)
    walk, out = _Walk(), []

    def emit(items, shut: bool) -> None:
        depth = len(walk.stack)
        for x in items:
            if not isinstance(x, _Rep):
                out.append(_field(walk.row(x)))
            elif not shut and x.listed and id(x) not in collapse:
                for _ in range(x.count):
                    emit(x.items, False)
            else:
                walk.forward(x, x.count - 1)
                emit(x.items, True)
        if items is not tree:
            walk.close(depth)
    emit(tree, False)
    return out
