"""Report → many sizes: sweeps over input sizes (budgets: :mod:`symcnn.budget`, which
shares the checks below and is re-exported here).

Every number comes from the compiled closed forms (``Report.evaluator``): exact integer
arithmetic, NumPy int64 when it cannot overflow and Python ints beyond, no re-derivation
per size.

Both answer only for inputs ``analyze`` accepts: the channels are checked as analyze
checks them (1…10¹², groups that divide them …) by one ``analyze`` at the smallest input
the network takes with those channels, and sizes below that input are left out (sweeps)
or never proposed (budgets). Free width symbols (``conv3-k``), an input line that ties the
channels to a size (``input HxWxH``), or sizes that contradict a fixed or square input
line are refused with a message, never answered with a wrong number.

``iter_sweep`` streams the points (constant memory for 10⁷ sizes) and ``format_sweep``
the table, Markdown, CSV or JSON text of them; ``sweep`` returns a list (at most
``MAX_SWEEP_LIST`` points). All three take several reports (a list, or a mapping name →
report): one value per network in each point, one column per network in the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

from .errors import SymCNNError
from .notation import MAX_VALUE
from .shapes import minimum_input

__all__ = ["parse_sizes", "Sizes", "sweep", "iter_sweep", "SweepPoints", "format_sweep",
           "format_multi_sweep", "SWEEP_FORMATS",
           "budget", "parse_amount", "Budget", "SWEEP_QUANTITIES", "MAX_SWEEP", "MAX_SWEEP_LIST",
           "MAX_SWEEP_WORK"]

SWEEP_QUANTITIES = ("params", "activations", "macs")
# Limits that keep every sweep within seconds and well under 1 GiB (measured: 10⁶ sizes of
# Inception-v3 at H = W ≈ 10¹², beyond int64, stream as a table in about 5 s and 150 MiB).
MAX_SWEEP = 1_000_000  # sizes in one sweep (iter_sweep streams them)
MAX_SWEEP_LIST = 250_000  # points sweep() returns as a list
MAX_SWEEP_WORK = 40_000_000  # sizes × terms of the formulas evaluated in one sweep
MAX_ASPECT = 10**6
_CHUNK = 1 << 16  # sizes evaluated at once (NumPy arrays)


def _range(text: str) -> range:
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
    return range(start, stop + 1, step)  # STOP included


class Sizes(Sequence):
    """(H, W) pairs as parsed by :func:`parse_sizes`, kept as ranges: length, indexing,
    iteration and equality with a list of pairs, without building 10⁷ tuples."""

    def __init__(self, parts: Iterable[tuple[range, range]]) -> None:
        # each part: two ranges of the same length, or one of them of length 1 (repeated)
        self._parts = tuple(parts)

    @property
    def parts(self) -> tuple[tuple[range, range], ...]:
        return self._parts

    def __len__(self) -> int:
        return sum(max(len(h), len(w)) for h, w in self._parts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for hs, ws in self._parts:
            for i in range(max(len(hs), len(ws))):
                yield hs[i if len(hs) > 1 else 0], ws[i if len(ws) > 1 else 0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        for hs, ws in self._parts:
            n = max(len(hs), len(ws))
            if 0 <= index < n:
                return hs[index if len(hs) > 1 else 0], ws[index if len(ws) > 1 else 0]
            index -= n
        raise IndexError("Sizes index out of range")

    def __eq__(self, other) -> bool:
        if not isinstance(other, (Sizes, list, tuple)):
            return NotImplemented
        if len(other) != len(self):
            return False
        return all(a == tuple(b) for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = ", ".join(f"{_show(h)}x{_show(w)}" for h, w in self._parts[:4])
        return f"Sizes({parts}{', …' if len(self._parts) > 4 else ''}; {len(self):,} sizes)"

    def chunks(self, n: int = _CHUNK):
        """(heights, widths) as int64 NumPy arrays of at most ``n`` sizes each."""
        import numpy as np
        for hs, ws in self._parts:
            total = max(len(hs), len(ws))
            for lo in range(0, total, n):
                k = min(n, total - lo)
                yield tuple(np.arange(r[lo], r[lo] + k * r.step, r.step, dtype=np.int64)
                            if len(r) > 1 else np.full(k, r[0], dtype=np.int64)
                            for r in (hs, ws))


def _show(r: range) -> str:
    if len(r) == 1:
        return str(r[0])
    return f"{r[0]}:{r[-1]}" + (f":{r.step}" if r.step != 1 else "")


def parse_sizes(text: str) -> Sizes:
    """"224", "32:1024:32" (STOP included), "160x240", or a comma-separated list of
    these; "A:B:SxC:D:S" pairs two ranges of the same length (non-square sweeps).
    The result is a lazy sequence of (H, W) pairs (:class:`Sizes`)."""
    if not isinstance(text, str):
        raise SymCNNError(f"sizes: expected text such as '32:1024:32'; got "
                          f"{type(text).__name__}")
    parts: list[tuple[range, range]] = []
    count = 0
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "x" in part.lower():
            hs, ws = (_range(p) for p in part.lower().split("x", 1))
            if len(hs) != len(ws) and len(ws) != 1 and len(hs) != 1:
                raise SymCNNError(f"sizes: {part!r:.40}: the two ranges differ in length")
        else:
            hs = ws = _range(part)
        parts.append((hs, ws))
        count += max(len(hs), len(ws))
        if count > MAX_SWEEP:
            raise SymCNNError(f"sizes: more than {MAX_SWEEP:,} sizes")
    if not parts:
        raise SymCNNError("sizes: none given")
    return Sizes(parts)


@dataclass(frozen=True)
class _Plan:
    """What a sweep or budget evaluates: the input symbols, the channels, the smallest
    input and the compiled formulas, all checked once."""
    height: str | int
    width: str | int
    channels: dict  # {symbol: value} when the formulas leave the channels free
    low: tuple[int, int] | None  # the smallest (H, W) the network takes (None: none)
    evaluators: dict

    @property
    def terms(self) -> int:
        return sum(f.terms for f in self.evaluators.values())


def _check_channels(report, channels) -> tuple[int, dict]:
    spec = report.formula_input
    fixed = spec.channels
    if isinstance(fixed, str) and fixed in (spec.height, spec.width):
        axis = "height" if fixed == spec.height else "width"
        raise SymCNNError(f"the input line ties the channels to the {axis} (input {spec}); "
                          "sweeps and budgets need a channel count of their own, e.g. "
                          "'input HxWxC' or 'input HxWx3'")
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int)):
        raise SymCNNError(f"channels must be an int between 1 and {MAX_VALUE:,}; got "
                          f"{channels!r:.40}")
    if channels is not None and not 1 <= channels <= MAX_VALUE:
        raise SymCNNError(f"channels must be between 1 and {MAX_VALUE:,}; got {channels:,}")
    if isinstance(fixed, int):
        if channels is not None and channels != fixed:
            raise SymCNNError(f"the input line fixes the channels at {fixed} (input {spec}); "
                              f"channels {channels:,} contradicts it")
        return fixed, {}
    value = 3 if channels is None else channels
    return value, {fixed: value}


def _plan(report, channels, quantities) -> _Plan:
    from .report import analyze
    spec = report.formula_input
    c, bound = _check_channels(report, channels)
    evaluators = {q: report.evaluator(q) for q in quantities}
    known = set(spec.symbols)
    free = sorted({s for f in evaluators.values() for s in f.symbols} - known)
    if free:
        names = ", ".join(free)
        raise SymCNNError(
            f"the network leaves the width{'s' if len(free) > 1 else ''} {names} free; "
            "sweeps and budgets need numbers: give "
            f"{'them values' if len(free) > 1 else f'{names} a value'} in the notation, "
            f"e.g. as a definition 'def net({names}) = (…)' called as "
            f"'net({', '.join('64' for _ in free)})'")
    low = minimum_input(report.network, channels=c)
    if low is None:  # analyze says why no size works (empty outputs, groups …)
        analyze(report.network, (MAX_VALUE, MAX_VALUE, c))
        raise SymCNNError(f"no input size up to {MAX_VALUE:,} works for this network")
    # One analyze where the network is smallest checks everything the sizes cannot change
    # (channels that groups divide, residual shapes …): larger sizes only grow the outputs.
    analyze(report.network, (spec.height if isinstance(spec.height, int) else low[0],
                             spec.width if isinstance(spec.width, int) else low[1], c))
    return _Plan(spec.height, spec.width, bound, low, evaluators)


def _check_aspect(aspect) -> tuple[int, int] | None:
    if aspect is None:
        return None
    if not (isinstance(aspect, tuple) and len(aspect) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_ASPECT
            for v in aspect)):
        raise SymCNNError(f"aspect must be (H, W) with whole numbers 1…{MAX_ASPECT:,}; got "
                          f"{aspect!r:.40}")
    return aspect


def _extent(sizes) -> tuple[int, int, int, int, bool]:
    """(min H, max H, min W, max W, every size square) of the sizes, checked to be
    (int, int) pairs in 1…MAX_VALUE."""
    if isinstance(sizes, Sizes):
        hs = [r for r, _ in sizes.parts]
        ws = [r for _, r in sizes.parts]
        return (min(r[0] for r in hs), max(r[-1] for r in hs), min(r[0] for r in ws),
                max(r[-1] for r in ws), all(h == w for h, w in sizes.parts))
    lo_h = lo_w = MAX_VALUE + 1
    hi_h = hi_w = 0
    square = True
    for pair in sizes:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in pair)):
            raise SymCNNError(f"sizes must be (height, width) pairs of ints; got {pair!r:.40}")
        h, w = pair
        if not (1 <= h <= MAX_VALUE and 1 <= w <= MAX_VALUE):
            raise SymCNNError(f"sizes must be between 1 and {MAX_VALUE:,}; got {h}x{w}")
        lo_h, hi_h, lo_w, hi_w = min(lo_h, h), max(hi_h, h), min(lo_w, w), max(hi_w, w)
        square = square and h == w
    return lo_h, hi_h, lo_w, hi_w, square


def iter_sweep(report, sizes, channels: int | None = None, quantities=SWEEP_QUANTITIES,
               aspect: tuple[int, int] | None = None) -> SweepPoints:
    """The points of :func:`sweep`, one dict at a time, in the order of ``sizes``
    (a :class:`Sizes` from :func:`parse_sizes` or a list of (H, W) pairs): memory stays
    constant whatever their number. Everything is checked before the first point, so a
    refused sweep raises here, before any output. ``aspect=(a, b)`` keeps the square sizes
    S whose S·b/a is whole and makes them S × S·b/a (the CLI's ``--aspect``).

    ``report`` may be several reports (a list, or a mapping name → report): each point
    then holds, per quantity, a list with one value per network, None where the size is
    below that network's minimum input (sizes no network takes are left out); the names
    are the points' ``names``. A refused network is named: "network 2 ('resnet50'): …"."""
    reports, names = _reports(report)
    quantities = tuple(quantities)
    aspect = _check_aspect(aspect)
    if not isinstance(sizes, (Sizes, list, tuple)):
        sizes = list(islice(sizes, MAX_SWEEP + 1))
    if len(sizes) > MAX_SWEEP:
        raise SymCNNError(f"sizes: more than {MAX_SWEEP:,} sizes")
    keys = ("h", "w", *quantities)
    if names is None:
        plan = _checked_plan(reports[0], sizes, channels, quantities, aspect, 0)
        if plan is None:
            return SweepPoints(iter(()), keys)
        return SweepPoints(_columns(plan, sizes, quantities, aspect), keys)
    plans = []
    for i, (r, name) in enumerate(zip(reports, names), 1):
        try:
            plans.append(_checked_plan(r, sizes, channels, quantities, aspect,
                                       sum(p.terms for p in plans)))
        except SymCNNError as e:
            raise SymCNNError(f"network {i} ({name!r}): {e}") from None
    if not len(sizes):
        return SweepPoints(iter(()), keys, names)
    return SweepPoints(_multi_columns(plans, sizes, quantities, aspect), keys, names)


def _reports(report) -> tuple[list, list[str] | None]:
    """The reports to sweep and their names (None: one report, the single form)."""
    from .report import Report
    if isinstance(report, Report):
        return [report], None
    if isinstance(report, Mapping):
        reports, names = list(report.values()), [str(k) for k in report]
    elif isinstance(report, (list, tuple)):
        reports = list(report)
        names = [f"network {i}" for i in range(1, len(reports) + 1)]
    else:
        raise SymCNNError(f"expected a Report, a list of Reports or a mapping name → Report; "
                          f"got {type(report).__name__}")
    if not reports or not all(isinstance(r, Report) for r in reports):
        raise SymCNNError("a sweep of several networks needs one or more Reports "
                          "(symcnn.analyze(…) of each)")
    return reports, names


def _checked_plan(report, sizes, channels, quantities, aspect, terms_before: int):
    """The plan of one report's sweep, every check done (None: no sizes at all);
    ``terms_before``: the formula terms the other networks of the sweep evaluate."""
    spec = report.formula_input
    if not any(isinstance(v, str) for v in (spec.height, spec.width)):
        raise SymCNNError(f"the notation fixes the input ({spec}); sweeps need a symbolic "
                          "input line such as 'input HxWx3' (or none)")
    plan = _plan(report, channels, quantities)
    terms = terms_before + plan.terms
    if len(sizes) * terms > MAX_SWEEP_WORK:
        raise SymCNNError(f"{'these networks' if terms_before else 'this network'}'s "
                          f"formulas have {terms:,} terms; a sweep evaluates "
                          f"at most {MAX_SWEEP_WORK:,} terms × sizes, so at most "
                          f"{MAX_SWEEP_WORK // terms:,} sizes here ({len(sizes):,} asked)")
    if not len(sizes):
        return None
    lo_h, hi_h, lo_w, hi_w, square = _extent(sizes)
    if aspect is not None:
        a, b = aspect
        if hi_h * b // a > MAX_VALUE:
            raise SymCNNError(f"aspect {a}:{b} makes W = H·{b}/{a} pass {MAX_VALUE:,} "
                              f"(H up to {hi_h:,}); sizes must stay within 1…{MAX_VALUE:,}")
        lo_w, hi_w, square = lo_h * b // a, hi_h * b // a, a == b
    _check_sizes(spec, plan, (lo_h, hi_h, lo_w, hi_w, square), aspect)
    return plan


def _check_sizes(spec, plan: _Plan, extent, aspect) -> None:
    """Sizes must agree with a fixed or square input line: never a value for an axis the
    formulas do not read."""
    lo_h, hi_h, lo_w, hi_w, square = extent
    for axis, fixed, lo, hi in (("H", plan.height, lo_h, hi_h), ("W", plan.width, lo_w, hi_w)):
        if isinstance(fixed, int) and not lo == hi == fixed:
            raise SymCNNError(f"the input line fixes {axis} = {fixed} (input {spec}); the "
                              f"sizes ask for {axis} from {lo:,} to {hi:,}")
    if isinstance(plan.height, int) and aspect is not None:
        raise SymCNNError(f"the input line fixes H = {plan.height} (input {spec}); an aspect "
                          "needs both H and W free")
    if plan.height == plan.width and not square:
        raise SymCNNError(f"the input line makes the input square (input {spec}); the sizes "
                          "(or the aspect) ask for non-square ones")


class SweepPoints(Iterator):
    """The points of a sweep, one dict at a time (``{"h", "w", *quantities}``), computed a
    chunk of sizes at a time; :meth:`columns` gives the same data as column lists per
    chunk (what :func:`format_sweep` reads). Single use, like any iterator. ``names``:
    the networks of a sweep of several (each value a list, one entry per name), else
    None."""

    def __init__(self, columns: Iterator[tuple[list, ...]], keys: tuple[str, ...],
                 names: list[str] | None = None) -> None:
        self._columns = columns
        self.keys = keys
        self.names = names
        self._rows: Iterator[dict] = iter(())

    def __next__(self) -> dict:
        while True:
            row = next(self._rows, None)
            if row is not None:
                return row
            chunk = next(self._columns)  # StopIteration ends the points
            self._rows = map(dict, map(lambda r: zip(self.keys, r), zip(*chunk)))

    def columns(self) -> Iterator[tuple[list, ...]]:
        """The remaining points as chunks of columns (h, w, then each quantity)."""
        rest = list(self._rows)
        if rest:
            yield tuple([p[k] for p in rest] for k in self.keys)
        yield from self._columns


def _sized(hs, ws, aspect):
    """The sizes of a chunk after ``aspect`` (square sizes S whose S·b/a is whole)."""
    if aspect is None:
        return hs, ws
    a, b = aspect
    hs = hs[(hs == ws) & (hs * b % a == 0)]
    return hs, hs * b // a


def _evaluate(plan: _Plan, hs, ws, quantities) -> list[list[int]]:
    """Each quantity at the sizes (int64 arrays), as lists of exact Python ints."""
    import numpy as np
    n = len(hs)
    values = {**plan.channels}
    if isinstance(plan.height, str):
        values[plan.height] = hs
    if isinstance(plan.width, str):
        values[plan.width] = ws
    out = []
    for q in quantities:
        f = plan.evaluators[q]
        got = f(**{s: values[s] for s in f.symbols})
        # tolist() gives exact Python ints (from int64, or the object array's own ints)
        out.append(np.broadcast_to(got, (n,)).tolist() if hasattr(got, "shape")
                   else [int(got)] * n)
    return out


def _columns(plan: _Plan, sizes, quantities, aspect) -> Iterator[tuple[list, ...]]:
    low_h, low_w = plan.low
    for hs, ws in _chunks(sizes):
        hs, ws = _sized(hs, ws, aspect)
        keep = (hs >= low_h) & (ws >= low_w)
        if not keep.all():
            hs, ws = hs[keep], ws[keep]
        if not len(hs):
            continue
        yield (hs.tolist(), ws.tolist(), *_evaluate(plan, hs, ws, quantities))


def _multi_columns(plans: list[_Plan], sizes, quantities,
                   aspect) -> Iterator[tuple[list, ...]]:
    """As :func:`_columns` for several networks: each value a list with one entry per
    network (None below its minimum input); sizes no network takes are left out."""
    import numpy as np
    for hs, ws in _chunks(sizes):
        hs, ws = _sized(hs, ws, aspect)
        keeps = [(hs >= p.low[0]) & (ws >= p.low[1]) for p in plans]
        some = np.logical_or.reduce(keeps)
        if not some.all():
            hs, ws, keeps = hs[some], ws[some], [k[some] for k in keeps]
        n = len(hs)
        if not n:
            continue
        per_net = []  # per network: per quantity, a column with None where it does not run
        for plan, keep in zip(plans, keeps):
            if keep.all():
                per_net.append(_evaluate(plan, hs, ws, quantities))
                continue
            at = np.flatnonzero(keep).tolist()
            cols = []
            for got in _evaluate(plan, hs[keep], ws[keep], quantities):
                col = [None] * n
                for i, v in zip(at, got):
                    col[i] = v
                cols.append(col)
            per_net.append(cols)
        yield (hs.tolist(), ws.tolist(),
               *([list(v) for v in zip(*(cols[k] for cols in per_net))]
                 for k in range(len(quantities))))


def _chunks(sizes, n: int = _CHUNK):
    import numpy as np
    if isinstance(sizes, Sizes):
        yield from sizes.chunks(n)
        return
    it = iter(sizes)
    while chunk := list(islice(it, n)):
        yield (np.array([h for h, _ in chunk], dtype=np.int64),
               np.array([w for _, w in chunk], dtype=np.int64))


def sweep(report, sizes, channels: int | None = None, quantities=SWEEP_QUANTITIES,
          aspect: tuple[int, int] | None = None) -> list[dict]:
    """For each (H, W) the network runs on: exact params, activations, MACs per image.
    Sizes below the network's minimum input are left out (see ``minimum_input``); at most
    ``MAX_SWEEP_LIST`` sizes (:func:`iter_sweep` streams up to ``MAX_SWEEP``). With
    several reports (a list, or a mapping name → report), each quantity is a list with one
    value per network, None below that network's minimum input (see :func:`iter_sweep`)."""
    count = len(sizes) if isinstance(sizes, (Sizes, list, tuple)) else None
    if count is None:
        sizes = list(islice(sizes, MAX_SWEEP_LIST + 1))
        count = len(sizes)
    if count > MAX_SWEEP_LIST:
        raise SymCNNError(f"sweep() returns a list of at most {MAX_SWEEP_LIST:,} points "
                          f"({count:,} sizes asked); iter_sweep() streams up to "
                          f"{MAX_SWEEP:,}")
    return list(iter_sweep(report, sizes, channels, quantities, aspect))


SWEEP_FORMATS = ("table", "markdown", "csv", "json")


def format_sweep(report, points: Iterable[dict], fmt: str = "table", metric: str = "macs",
                 names: Sequence[str] | None = None) -> Iterator[str]:
    """The text of a sweep as the CLI writes it, in pieces (write each as it comes):
    ``table``, ``markdown``, ``csv`` (with activation bytes at the report's dtype) or
    ``json`` (one object: dtype, bytes per element, points; written incrementally, the
    same text as ``json.dumps``). ``points`` are those of :func:`iter_sweep` (read by
    columns, fast) or any iterable of dicts with h, w, params, activations and macs.

    With several reports (a list, or a mapping name → report, as :func:`iter_sweep`
    takes them) the text has one column per network, of ``metric`` (params, activations
    or macs): see :func:`format_multi_sweep`."""
    if fmt not in SWEEP_FORMATS:
        raise SymCNNError(f"unknown sweep format {fmt!r}; one of {', '.join(SWEEP_FORMATS)}")
    _, given = _reports(report)
    if given is not None:
        return format_multi_sweep(points, fmt, metric, names or getattr(points, "names", None)
                                  or given)
    return _format_single(report, points, fmt)


def _format_single(report, points: Iterable[dict], fmt: str) -> Iterator[str]:
    size = report.bytes_per_element
    keys = ("h", "w", *SWEEP_QUANTITIES)
    if isinstance(points, SweepPoints):
        if not set(keys) <= set(points.keys):
            raise SymCNNError(f"format_sweep needs the points' {', '.join(keys)}; this sweep "
                              f"has {', '.join(points.keys)}")
        order = [points.keys.index(k) for k in keys]
        chunks = (tuple(chunk[i] for i in order) for chunk in points.columns())
    else:
        chunks = _as_columns(points, keys)
    if fmt == "json":
        yield json.dumps({"dtype": report.dtype, "bytes_per_element": size})[:-1] + \
            ', "points": ['
        one = "{{" + ", ".join(f'"{k}": {{}}' for k in keys) + "}}"
        sep = ""
        for chunk in chunks:
            yield sep + ", ".join(map(one.format, *chunk))
            sep = ", "
        yield "]}\n"
        return
    if fmt == "csv":
        yield "h,w,params,activations,macs,activation_bytes\n"
        for hs, ws, params, acts, macs in chunks:
            yield "".join(map("{},{},{},{},{},{}\n".format, hs, ws, params, acts, macs,
                              [a * size for a in acts]))
        return
    from .formatting import human
    if fmt == "markdown":
        yield "| H | W | params | activations | MACs |\n|---:|---:|---:|---:|---:|\n"
        count = 0
        for hs, ws, params, acts, macs in chunks:
            count += len(hs)
            yield "".join(map("| {} | {} | {:,} | {:,} | {:,} ({}) |\n".format, hs, ws,
                              params, acts, macs, map(human, macs)))
        yield (f"\n{count:,} sizes; per image; 1 MAC = 2 FLOPs; sizes below the network's "
               "minimum input are left out.\n")
        return
    yield f"{'H':>6} {'W':>6} {'params':>16} {'activations':>16} {'MACs':>22}\n"
    count = 0
    for hs, ws, params, acts, macs in chunks:
        count += len(hs)
        yield "".join(map("{:>6} {:>6} {:>16,} {:>16,} {:>22,}  ({})\n".format, hs, ws,
                          params, acts, macs, map(human, macs)))
    yield (f"{count:,} sizes; per image; 1 MAC = 2 FLOPs; sizes below the network's "
           "minimum input are left out.\n")


_METRIC_NAMES = {"params": "params", "activations": "activations (elements)",
                 "macs": "MACs (1 MAC = 2 FLOPs)"}
MISSING = "—"  # a size below that network's minimum input (table, Markdown)


def unique_names(names: Sequence[str]) -> list[str]:
    """The column names, a repeated one numbered: resnet18, resnet18 (2)."""
    seen: dict[str, int] = {}
    out = []
    for n in map(str, names):
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def format_multi_sweep(points: Iterable[dict], fmt: str, metric: str,
                       names: Sequence[str]) -> Iterator[str]:
    """A sweep of several networks as text, one column of ``metric`` per network (in the
    order of ``names``): ``table`` and ``markdown`` show "—" where the size is below that
    network's minimum input, ``csv`` an empty cell (header ``h,w,NAME,…``; the metric is
    the one asked for), ``json`` null (``{"metric", "networks", "points": [{"h", "w",
    "values": […]}]}``). Values are exact integers, per image."""
    if fmt not in SWEEP_FORMATS:
        raise SymCNNError(f"unknown sweep format {fmt!r}; one of {', '.join(SWEEP_FORMATS)}")
    if metric not in SWEEP_QUANTITIES:
        raise SymCNNError(f"unknown sweep metric {metric!r}; one of "
                          f"{', '.join(SWEEP_QUANTITIES)}")
    names = unique_names(names)
    if isinstance(points, SweepPoints):
        if metric not in points.keys:
            raise SymCNNError(f"this sweep has no {metric} (it has "
                              f"{', '.join(points.keys[2:])})")
        at = points.keys.index(metric)
        chunks = ((c[0], c[1], c[at]) for c in points.columns())
    else:
        chunks = _as_columns(points, ("h", "w", metric))
    return _multi_text(chunks, fmt, metric, names)


def _multi_text(chunks, fmt: str, metric: str, names: list[str]) -> Iterator[str]:
    from .formatting import human
    k = len(names)

    def values(row) -> list:
        if not isinstance(row, (list, tuple)) or len(row) != k:
            raise SymCNNError(f"a point of a sweep of {k} networks has {k} values per "
                              f"quantity; got {row!r:.60}")
        return row

    note = (f"{{:,}} sizes; {_METRIC_NAMES[metric]} per image; {MISSING}: below that "
            "network's minimum input (sizes no network takes are left out).\n")
    if fmt == "json":
        yield json.dumps({"metric": metric, "networks": names})[:-1] + ', "points": ['
        sep = ""
        for hs, ws, vs in chunks:
            yield sep + ", ".join(
                f'{{"h": {h}, "w": {w}, "values": {json.dumps(values(v))}}}'
                for h, w, v in zip(hs, ws, vs))
            sep = ", " if hs else sep
        yield "]}\n"
        return
    if fmt == "csv":
        import csv
        import io
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(["h", "w", *names])
        yield buf.getvalue()
        for hs, ws, vs in chunks:
            buf.seek(0)
            buf.truncate()
            out.writerows([h, w, *("" if x is None else x for x in values(v))]
                          for h, w, v in zip(hs, ws, vs))
            yield buf.getvalue()
        return

    def cell(x) -> str:
        return MISSING if x is None else f"{x:,}" + (f" ({human(x)})" if x >= 1000 else "")

    count = 0
    if fmt == "markdown":
        def md(t: str) -> str:
            return t.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
        yield "| H | W | " + " | ".join(map(md, names)) + " |\n" + \
            "|---:|---:|" + "---:|" * k + "\n"
        for hs, ws, vs in chunks:
            count += len(hs)
            yield "".join(f"| {h} | {w} | " + " | ".join(map(cell, values(v))) + " |\n"
                          for h, w, v in zip(hs, ws, vs))
        yield "\n" + note.format(count)
        return
    widths = [max(len(n), 24) for n in names]
    yield f"{'H':>6} {'W':>6}" + "".join(f"  {n:>{w}}" for n, w in zip(names, widths)) + "\n"
    for hs, ws, vs in chunks:
        count += len(hs)
        yield "".join(f"{h:>6} {w:>6}" + "".join(
            f"  {cell(x):>{wd}}" for x, wd in zip(values(v), widths)) + "\n"
            for h, w, v in zip(hs, ws, vs))
    yield note.format(count)


def _as_columns(points: Iterable[dict], keys) -> Iterator[tuple[list, ...]]:
    points = iter(points)
    while chunk := list(islice(points, 4096)):
        try:
            yield tuple([p[k] for p in chunk] for k in keys)
        except (KeyError, TypeError):
            raise SymCNNError(f"format_sweep needs points with {', '.join(keys)}") from None


_MOVED = ("budget", "parse_amount", "Budget", "BUDGET_FIGURES")  # now in symcnn.budget


def __getattr__(name: str):
    """The budget names, moved to :mod:`symcnn.budget`, still importable from here (read
    on first use: symcnn.budget imports this module's checks)."""
    if name in _MOVED:
        from . import budget
        return getattr(budget, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
