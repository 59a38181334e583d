"""Report → many sizes: sweeps over input sizes and budgets solved from the formulas.

Every number comes from the compiled closed forms (``Report.evaluator``): exact integer
arithmetic, NumPy int64 when it cannot overflow and Python ints beyond, no re-derivation
per size. Budgets search the largest input (square, or of a given aspect) whose cost fits,
then confirm it exactly: cost(answer) ≤ budget < cost(answer + 1 step).

Memory model (stated in every budget answer):
- inference: activations × batch × bytes + params × bytes;
- training (``training=True``): activations × 2 (forward + backward) × batch × bytes, plus
  params, their gradients and the optimizer state (Adam: 2 copies), all × bytes: params × 4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import SymCNNError
from .notation import MAX_VALUE
from .shapes import minimum_input

__all__ = ["parse_sizes", "sweep", "budget", "parse_amount", "Budget", "SWEEP_QUANTITIES"]

SWEEP_QUANTITIES = ("params", "activations", "macs")
MAX_SWEEP = 10_000_000  # sizes in one sweep
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "b": 1}


def _range(text: str) -> list[int]:
    m = re.fullmatch(r"(\d{1,13})(?::(\d{1,13})(?::(\d{1,13}))?)?", text)
    if not m:
        raise SymCNNError(f"sizes: {text!r:.40} is not N, START:STOP or START:STOP:STEP")
    start = int(m.group(1))
    stop = int(m.group(2)) if m.group(2) else start
    step = int(m.group(3)) if m.group(3) else 1
    if not 1 <= start <= stop <= MAX_VALUE or step < 1:
        raise SymCNNError(f"sizes: {text!r:.40} needs 1 ≤ START ≤ STOP ≤ {MAX_VALUE:,} and "
                          "STEP ≥ 1")
    if (stop - start) // step + 1 > MAX_SWEEP:
        raise SymCNNError(f"sizes: {text!r:.40} gives more than {MAX_SWEEP:,} sizes")
    return list(range(start, stop + 1, step))  # STOP included


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """"224", "32:1024:32" (STOP included), "160x240", or a comma-separated list of
    these; "A:B:SxC:D:S" pairs two ranges of the same length (non-square sweeps)."""
    out: list[tuple[int, int]] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "x" in part.lower():
            hs, ws = (_range(p) for p in part.lower().split("x", 1))
            if len(hs) != len(ws) and len(ws) != 1 and len(hs) != 1:
                raise SymCNNError(f"sizes: {part!r:.40}: the two ranges differ in length")
            n = max(len(hs), len(ws))
            out += [(hs[i if len(hs) > 1 else 0], ws[i if len(ws) > 1 else 0]) for i in range(n)]
        else:
            out += [(s, s) for s in _range(part)]
        if len(out) > MAX_SWEEP:
            raise SymCNNError(f"sizes: more than {MAX_SWEEP:,} sizes")
    if not out:
        raise SymCNNError("sizes: none given")
    return out


def _channels(report, channels: int | None) -> dict:
    fixed = report.formula_input.channels
    if isinstance(fixed, int):
        return {}
    return {fixed: channels if channels is not None else 3}


def sweep(report, sizes: list[tuple[int, int]], channels: int | None = None,
          quantities=SWEEP_QUANTITIES) -> list[dict]:
    """For each (H, W) the network runs on: exact params, activations, MACs per image.
    Sizes below the network's minimum input are left out (see ``minimum_input``)."""
    spec = report.formula_input
    free = [s for s in spec.symbols if s in (spec.height, spec.width)]
    if not free:
        raise SymCNNError(f"the notation fixes the input ({spec}); sweeps need a symbolic "
                          "input line such as 'input HxWx3' (or none)")
    low = minimum_input(report.network) or (MAX_VALUE + 1, MAX_VALUE + 1)
    sizes = [(h, w) for h, w in sizes if h >= low[0] and w >= low[1]]
    if not sizes:
        return []
    values = {spec.height: [h for h, _ in sizes], spec.width: [w for _, w in sizes],
              **_channels(report, channels)}
    columns = [_evaluate(report.evaluator(q), values) for q in quantities]
    return [{"h": h, "w": w, **dict(zip(quantities, vals))}
            for (h, w), *vals in zip(sizes, *columns)]


def _evaluate(f, values: dict) -> list:
    args = {s: values[s] for s in f.symbols}
    n = max((len(v) for v in values.values() if isinstance(v, list)), default=1)
    try:
        import numpy as np
    except ImportError:  # exact Python ints, one size at a time
        return [f(**{s: (v[i] if isinstance(v, list) else v) for s, v in args.items()})
                for i in range(n)]
    arrays = {s: (np.asarray(v, dtype=np.int64) if isinstance(v, list) else v)
              for s, v in args.items()}
    out = f(**arrays)
    # tolist() gives exact Python ints (from int64, or the object array's own ints)
    return np.broadcast_to(out, (n,)).tolist() if hasattr(out, "shape") else [int(out)] * n


def parse_amount(text: str, what: str) -> int:
    """"8GB" → 8·10⁹, "8GiB" → 8·2³⁰, "5G" → 5·10⁹, "1.5GB" → 1,500,000,000 (exact)."""
    m = re.fullmatch(r"\s*([0-9]{1,20}(?:\.[0-9]{1,12})?)\s*([A-Za-z]{0,3})\s*", text or "")
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise SymCNNError(f"{what}: {text!r:.40} is not an amount such as 8GB, 512MiB or 5G "
                          "(K, M, G, T decimal; KiB, MiB, GiB, TiB binary)")
    try:
        value = Decimal(m.group(1)) * _UNITS[unit]
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise SymCNNError(f"{what}: {text!r:.40} is not a number") from None
    if value != value.to_integral_value() or value < 1:
        raise SymCNNError(f"{what}: {text!r:.40} must come to a whole number of at least 1")
    return int(value)


@dataclass(frozen=True)
class Budget:
    """The largest input that fits, with its cost and that of the next size up."""
    height: int | None
    width: int | None
    cost: int | None
    next_cost: int | None
    limit: int
    quantity: str
    assumption: str


def _cost_fn(report, quantity: str, batch: int, training: bool, channels):
    size = report.bytes_per_element
    ch = _channels(report, channels)
    act, params, macs = (report.evaluator(q) for q in ("activations", "params", "macs"))
    spec = report.formula_input

    def call(f, h, w):
        values = {spec.height: h, spec.width: w, **ch}
        return f(**{s: values[s] for s in f.symbols})

    if quantity == "macs":
        return (lambda h, w: batch * call(macs, h, w)), \
            f"MACs for a batch of {batch:,} (1 MAC = 2 FLOPs)"
    if training:
        return (lambda h, w: (2 * batch * call(act, h, w) + 4 * call(params, h, w)) * size), (
            f"training memory at {report.dtype} ({size} B/element), batch {batch:,}: "
            "activations ×2 (forward + backward) + params + gradients + Adam's 2 state copies")
    return (lambda h, w: (batch * call(act, h, w) + call(params, h, w)) * size), (
        f"inference memory at {report.dtype} ({size} B/element), batch {batch:,}: "
        "activations + params")


def budget(report, limit: int, quantity: str = "memory", batch: int = 1,
           training: bool = False, aspect: tuple[int, int] = (1, 1),
           channels: int | None = None) -> Budget:
    """The largest input (H, W) = (a·k, b·k) for aspect a:b whose cost is ≤ ``limit``."""
    spec = report.formula_input
    if not ({spec.height, spec.width} <= set(spec.symbols)):
        raise SymCNNError(f"the notation fixes the input size ({spec}); a budget needs a "
                          "symbolic input line such as 'input HxWx3' (or none)")
    a, b = aspect
    cost, assumption = _cost_fn(report, quantity, batch, training, channels)
    low = minimum_input(report.network)
    if low is None:
        raise SymCNNError("no input size works for this network")
    k_lo = max(-(-low[0] // a), -(-low[1] // b))
    at = lambda k: cost(a * k, b * k)  # noqa: E731
    if at(k_lo) > limit:
        return Budget(None, None, None, at(k_lo), limit, quantity, assumption)
    k_hi = k_lo
    while at(k_hi) <= limit:  # costs never decrease with the input size
        if b * k_hi > MAX_VALUE or a * k_hi > MAX_VALUE:
            raise SymCNNError(f"the budget fits inputs beyond {MAX_VALUE:,}: nothing bounds it"
                              " (is the cost independent of the input size?)")
        k_lo, k_hi = k_hi, 2 * k_hi
    while k_hi - k_lo > 1:  # at(k_lo) ≤ limit < at(k_hi)
        mid = (k_lo + k_hi) // 2
        k_lo, k_hi = (mid, k_hi) if at(mid) <= limit else (k_lo, mid)
    return Budget(a * k_lo, b * k_lo, at(k_lo), at(k_lo + 1), limit, quantity, assumption)
