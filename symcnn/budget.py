"""Report → a budget: the largest input size, or the largest batch, whose memory (or MACs)
fits, found by exact evaluations and confirmed at the answer and one step up.

What is solved depends on the report's input:
- a symbolic input (H and W free): the largest square input (or of a given aspect a:b,
  H × W = a·k × b·k) at a given batch;
- a concrete input (``analyze(net, "224x224x3")``, ``--input 224x224x3``): the largest
  batch, up to ``MAX_BATCH`` (10¹², the largest batch ``analyze`` accepts).

A memory budget is on one of the figures of :mod:`symcnn.memory` (``BUDGET_FIGURES``):
``inference_peak`` by default, ``training_peak`` (an estimate) for ``training=True``, or
any of them by name (``on=``), including ``activations``, the seed's convention
(activations × batch × bytes + params × bytes). A MACs budget is on MACs per batch.

The peaks are simulations (a maximum over the run: no closed form), so every answer comes
from evaluations: doubling steps from the smallest candidate until one does not fit, then
bisection, O(log answer) evaluations (at most about 80; one inference peak of ResNet-50
takes about 2 ms, with the rows at a new size about 4 ms). Bisection needs the figure never
to fall as the size (or the batch) grows: every storage's bytes are a product of sizes
⌊(H + a)/s⌋ + b and of the batch or 1, none of which falls, so it holds wherever the run
keeps the same tensors alive at every size. The answer is always confirmed (it fits, one
step up does not); in a size search the values seen are also checked to be
non-decreasing, and the answer says so when they are not (a larger input may then fit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import SymCNNError
from .notation import MAX_VALUE
from .sweep import _check_aspect, _plan

__all__ = ["budget", "parse_amount", "Budget", "BUDGET_FIGURES", "DEFINITIONS", "LEAVES_OUT",
           "MAX_BATCH"]

MAX_BATCH = MAX_VALUE  # the largest batch a batch search proposes (what analyze accepts)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "b": 1}

# The figures a memory budget can be on (symcnn.memory's, and the seed's convention).
BUDGET_FIGURES = ("saved_for_backward", "model_state", "inference_peak", "training_peak",
                  "activations")
_TRAINING = ("saved_for_backward", "model_state", "training_peak")  # none at int8


def _definitions() -> dict[str, str]:
    from .memory import DEFINITIONS as memory
    return {**memory,
            "activations": "the seed's convention: every layer's output counted once and "
                           "all at once (an in-place ReLU as a new tensor) × batch × bytes, "
                           "+ params × bytes",
            "macs": "multiply-accumulates of a forward over the batch (1 MAC = 2 FLOPs)"}


DEFINITIONS = _definitions()  # one line per figure (memory.DEFINITIONS and ours)
_GPU = ("the CUDA context (hundreds of MB), the caching allocator's rounding and its cached "
        "free blocks, cuDNN/cuBLAS workspaces")
LEAVES_OUT = {  # one line per figure: what a real run needs beyond it
    "inference_peak": _GPU + ", and anything outside the forward (data loading, other "
                      "tensors)",
    "training_peak": _GPU + ", a fork's gradient accumulation, and anything outside the "
                     "step (data loading, metrics); and it is an estimate (within 2% of "
                     "torch's MemTracker on the meta device for the zoo models checked, "
                     "batch 8, 224x224)",
    "saved_for_backward": "params, buffers, gradients, optimizer state, the input and the "
                          "outputs being computed (it is not a peak)",
    "model_state": "every activation (it does not depend on the batch)",
    "activations": "buffers, gradients, optimizer state, and what autograd really keeps "
                   "and frees (a convention, not a prediction)",
    "macs": "every operation that is not a multiply-accumulate (adds, pooling, "
            "activations) and the time any of it takes",
}


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
    """The answer of :func:`budget`, with the figure at the answer and one step up.

    Size search (``solve == "size"``): ``height``/``width`` the largest input that fits at
    ``batch`` (None when nothing fits: ``next_cost`` is then the cost of the smallest
    input, ``smallest``), ``cost`` its figure, ``next_cost`` that of ``next_size``.
    Batch search (``solve == "batch"``): ``height``/``width`` the input, ``batch`` the
    largest that fits (None when not even 1 does: ``next_cost`` is batch 1's figure),
    ``next_cost`` the figure at ``batch + 1``. ``largest``: the largest input (10¹² on its
    longer side) or batch (``MAX_BATCH``) symcnn accepts fits, so there is no step up
    (``next_cost`` None). ``assumption`` names the figure and its settings; ``definition``
    and ``leaves_out`` are one line each; ``note`` says how the search went.
    """
    height: int | None
    width: int | None
    cost: int | None
    next_cost: int | None
    limit: int
    quantity: str
    assumption: str
    smallest: tuple[int, int] | None = None  # the smallest input of the aspect that runs
    smallest_cost: int | None = None
    largest: bool = False
    solve: str = "size"
    batch: int | None = None
    figure: str = ""
    definition: str = ""
    leaves_out: str = ""
    next_size: tuple[int, int] | None = None
    channels: int | None = None
    evaluations: int = 0
    note: str = ""

    @property
    def unit(self) -> str:
        return "bytes" if self.quantity == "memory" else "MACs"

    @property
    def fits(self) -> bool:
        """Whether anything fits (the CLI exits 1 when not)."""
        return (self.batch if self.solve == "batch" else self.height) is not None

    def describe(self) -> str:
        """The answer as the CLI prints it: the answer with the figure there and one step
        up, then the figure used, what it leaves out and how it was found."""
        return "\n".join((self._answer(), f"figure: {self.assumption}",
                          f"  {self.definition}", f"leaves out: {self.leaves_out}",
                          f"search: {self.note}"))

    def _answer(self) -> str:
        unit, limit = self.unit, self.limit
        if self.solve == "batch":
            at = f"{self.height}x{self.width}x{self.channels}"
            if self.batch is None:
                return (f"nothing fits: batch 1 at {at} needs {self.next_cost:,} {unit} "
                        f"(budget {limit:,})")
            if self.largest:
                why = ("the cost does not depend on the batch" if self.cost ==
                       self.smallest_cost else f"batches stop at {MAX_BATCH:,}")
                return (f"largest batch at {at}: {self.batch:,}, the largest symcnn accepts "
                        f"({self.cost:,} {unit} ≤ {limit:,}; {why})")
            return (f"largest batch at {at}: {self.batch:,}  ({self.cost:,} {unit} ≤ "
                    f"{limit:,}; batch {self.batch + 1:,} needs {self.next_cost:,})")
        smallest = f"{self.smallest[0]}x{self.smallest[1]}" if self.smallest else "?"
        if self.height is None:
            return (f"nothing fits: the smallest input ({smallest}) needs "
                    f"{self.next_cost:,} {unit} (budget {limit:,})")
        if self.largest:
            why = ("the cost does not depend on the input size" if self.cost ==
                   self.smallest_cost else f"inputs stop at {MAX_VALUE:,} per side")
            return (f"largest input: {self.height}x{self.width}, the largest symcnn accepts "
                    f"({self.cost:,} {unit} ≤ {limit:,}; {why})")
        up = f"{self.next_size[0]}x{self.next_size[1]}"
        return (f"largest input: {self.height}x{self.width}  ({self.cost:,} {unit} ≤ "
                f"{limit:,}; the next size up, {up}, needs {self.next_cost:,})")


def _whole(value, what: str, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or \
            high is not None and value > high:
        top = f" and {high:,}" if high is not None else ""
        raise SymCNNError(f"{what} must be a whole number between 1{top or ' and up'}; got "
                          f"{value!r:.40}")
    return value


def _figure(quantity: str, training: bool, on: str | None) -> str:
    if quantity not in ("memory", "macs"):
        raise SymCNNError(f"unknown budget quantity {quantity!r}; one of memory, macs")
    if quantity == "macs":
        if on is not None or training:
            raise SymCNNError("a budget on a memory figure is a --memory budget: "
                              f"{'training' if training else on!r} does not apply to MACs")
        return "macs"
    if on is None:
        return "training_peak" if training else "inference_peak"
    if on not in BUDGET_FIGURES or training and on != "training_peak":
        raise SymCNNError(f"a budget on a memory figure is on one of "
                          f"{', '.join(BUDGET_FIGURES)} (--training means training_peak); "
                          f"got {on!r}{' with training' if training else ''}")
    return on


def _setting(report, figure: str, batch: int | None) -> str:
    """The figure's name and the settings it depends on, e.g. "inference peak (cuda
    semantics, float32, batch 8)"."""
    name = figure.replace("_", " ")
    at = [] if batch is None else [f"batch {batch:,}"]
    if figure == "macs":
        return f"MACs for a batch of {batch:,} (1 MAC = 2 FLOPs)" if batch is not None \
            else "MACs per batch (1 MAC = 2 FLOPs)"
    size = f"{report.dtype}, {report.bytes_per_element} B/element"
    if figure == "activations":
        return f"activations + params, the seed's convention ({', '.join([size, *at])})"
    parts = [f"{report.device} semantics", size, *at]
    if figure in ("training_peak", "model_state"):
        parts.append(report.optimizer)
    return f"{name} ({', '.join(parts)}{'; an estimate' if figure == 'training_peak' else ''})"


class _Missing(SymCNNError):
    """The figure does not exist at this size (an aux head too big for it, in training)."""


def _cost_at(report, figure: str, channels: int):
    """cost(h, w, batch) of the figure, each value exact: from the rows at (h, w) (the
    last size's rows are kept: a batch search reads one size)."""
    from . import memory
    from .expand import expand
    from .report import analyze
    items = expand(report.network) if figure == "inference_peak" else None
    cache: dict = {}

    def rows(h: int, w: int):
        if (h, w) not in cache:
            cache.clear()
            cache[(h, w)] = analyze(report.network, (h, w, channels), dtype=report.dtype)
        return cache[(h, w)]

    dtype, device = report.dtype, report.device

    def figure_at(r, batch: int):
        if figure == "macs":
            return batch * r.totals["macs"]
        if figure == "activations":
            t = r.totals
            return (batch * t["activations"] + t["params"]) * r.bytes_per_element
        if figure == "inference_peak":
            return memory.inference_peak(items, r.rows, dtype, device, batch)
        if figure == "training_peak":
            return memory.training_peak(r.rows, dtype, device, batch,
                                        report.optimizer)["training_peak"]
        if figure == "saved_for_backward":
            return memory.saved_for_backward(r.rows, dtype, device, batch)
        return memory.model_state(r.rows, dtype, device, report.optimizer)["model_state"]

    def cost(h: int, w: int, batch: int) -> int:
        r = rows(h, w)
        try:
            value = figure_at(r, batch)
        except memory.TooManyCopies:
            raise
        except TypeError:  # a maximum over rows left symbolic (below)
            value = None
        except SymCNNError as e:  # a layer the simulation does not follow exactly
            raise SymCNNError(f"budget: no {figure.replace('_', ' ')} for this network at "
                              f"{h}x{w}x{channels} ({e})") from None
        if getattr(value, "is_Integer", False):
            value = int(value)
        if not isinstance(value, int):  # rows left symbolic: an aux head too big for it
            raise _Missing(f"budget: no {figure.replace('_', ' ')} for this network at "
                           f"{h}x{w}x{channels}: an aux(…) head cannot run on it (training "
                           "runs it)")
        return value
    return cost


def _largest(at, lo: int, hi: int, limit: int):
    """The largest k in lo…hi with at(k) ≤ limit, given at(lo) ≤ limit: steps of 1, 2,
    4, … from lo until one does not fit (or hi fits), then bisection between the last
    that fits and the first that does not, so O(log(k − lo)) evaluations. Returns k, the
    k one step up (None when hi fits) and {k: at(k)} of every evaluation."""
    seen: dict[int, int] = {}

    def f(k: int) -> int:
        if k not in seen:
            seen[k] = at(k)
        return seen[k]

    good, step = lo, 1
    while True:
        k = min(good + step, hi)
        if f(k) > limit:
            bad = k
            break
        good = k
        if k == hi:
            return good, None, seen
        step *= 2
    while bad - good > 1:  # f(good) ≤ limit < f(bad)
        mid = (good + bad) // 2
        good, bad = (mid, bad) if f(mid) <= limit else (good, mid)
    return good, bad, seen


def _first(at, lo: int, hi: int) -> tuple[int, int]:
    """The smallest k in lo…hi where at(k) exists (it does from some k up; at(lo) does
    not), and at(k): doubling steps, then bisection."""
    last, error = lo, None
    step = 1
    while True:
        k = min(last + step, hi)
        try:
            value = at(k)
            break
        except _Missing as e:
            last, error = k, e
            if k == hi:
                raise error from None
            step *= 2
    while k - last > 1:  # at(last) is missing, at(k) exists
        mid = (last + k) // 2
        try:
            value, k = at(mid), mid
        except _Missing:
            last = mid
    return k, value


def _falls(seen: dict[int, int]) -> tuple[int, int] | None:
    """The first pair of evaluated points (in increasing k) where the figure fell."""
    ks = sorted(seen)
    return next(((a, b) for a, b in zip(ks, ks[1:]) if seen[b] < seen[a]), None)


def budget(report, limit: int, quantity: str = "memory", batch: int | None = None,
           training: bool = False, aspect: tuple[int, int] | None = None,
           channels: int | None = None, on: str | None = None) -> Budget:
    """The largest input (H, W) = (a·k, b·k) for aspect a:b whose figure is ≤ ``limit``
    at ``batch`` (default 1), or, when the report's input is concrete, the largest batch
    at that input (``batch`` and ``aspect`` then must not be given).

    ``quantity``: "memory" (bytes) or "macs" (per batch). A memory budget is on
    ``inference_peak``, ``training_peak`` with ``training=True`` (an estimate, with the
    report's optimizer), or ``on`` any of ``BUDGET_FIGURES``; device, dtype and optimizer
    are the report's (``analyze(..., device=, dtype=, optimizer=)``).
    """
    figure = _figure(quantity, bool(training), on)
    limit = _whole(limit, "the budget")
    if figure in _TRAINING and report.dtype == "int8":
        raise SymCNNError(f"PyTorch does not train in int8: no {figure.replace('_', ' ')}; "
                          "budget int8 inference (the inference peak) or another dtype")
    given = report.input
    if isinstance(given.height, int) and isinstance(given.width, int):
        return _batch_budget(report, limit, quantity, figure, batch, aspect, channels)
    batch = 1 if batch is None else _whole(batch, "batch", MAX_VALUE)
    return _size_budget(report, limit, quantity, figure, batch, aspect, channels)


def _batch_budget(report, limit, quantity, figure, batch, aspect, channels) -> Budget:
    spec = report.input
    at = f"{spec.height}x{spec.width}x{spec.channels}"
    if batch is not None:
        raise SymCNNError(f"the input is fixed ({at}) and so is the batch ({batch!r:.20}): "
                          "nothing to solve; leave the batch out for the largest batch, or "
                          "give a symbolic input (--input HxWx3, or HxWxC) to search input "
                          "sizes")
    if aspect is not None:
        raise SymCNNError(f"the input is fixed ({at}): an aspect is for searching input "
                          "sizes (--input HxWx3)")
    fixed = spec.channels if isinstance(spec.channels, int) else None
    if channels is not None:
        channels = _whole(channels, "channels", MAX_VALUE)
        if fixed is not None and channels != fixed:
            raise SymCNNError(f"the input fixes the channels at {fixed} ({at}); channels "
                              f"{channels:,} contradicts it")
    c = fixed or channels or 3
    cost = _cost_at(report, figure, c)
    h, w = spec.height, spec.width
    one = cost(h, w, 1)
    done = dict(height=h, width=w, limit=limit, quantity=quantity, solve="batch",
                figure=figure, assumption=_setting(report, figure, None),
                definition=DEFINITIONS[figure], leaves_out=LEAVES_OUT[figure], channels=c,
                smallest_cost=one)
    if one > limit:
        return Budget(cost=None, next_cost=one, evaluations=1,
                      note="batch 1 evaluated: nothing smaller to try", **done)
    k, up, seen = _largest(lambda b: cost(h, w, b), 1, MAX_BATCH, limit)
    why = ("MACs are the batch times one image's" if figure == "macs" else
           "every storage scales with it or stays")
    note = (f"{len(seen) + 1} batches evaluated (doubling, then bisection); the figure "
            f"never falls as the batch grows ({why})")
    return Budget(cost=seen.get(k, one), next_cost=None if up is None else seen[up],
                  batch=k, largest=up is None, evaluations=len(seen) + 1, note=note, **done)


def _size_budget(report, limit, quantity, figure, batch, aspect, channels) -> Budget:
    spec = report.formula_input
    if not (isinstance(spec.height, str) and isinstance(spec.width, str)):
        raise SymCNNError(f"the notation fixes the input size ({spec}); a budget needs a "
                          "symbolic input line such as 'input HxWx3' (or none)")
    a, b = _check_aspect(tuple(aspect) if isinstance(aspect, list) else aspect) or (1, 1)
    if spec.height == spec.width and a != b:
        raise SymCNNError(f"the input line makes the input square (input {spec}); aspect "
                          f"{a}:{b} is not")
    plan = _plan(report, channels, ("activations", "params", "macs"))
    c = spec.channels if isinstance(spec.channels, int) else next(iter(plan.channels.values()))
    cost = _size_cost(report, plan, figure, batch, c)
    low = plan.low
    k_lo = max(-(-low[0] // a), -(-low[1] // b))
    k_max = min(MAX_VALUE // a, MAX_VALUE // b)
    if k_lo > k_max:
        raise SymCNNError(f"no input of aspect {a}:{b} up to {MAX_VALUE:,} works: this "
                          f"network needs at least {low[0]}x{low[1]}")
    calls = []

    def at(k: int) -> int:
        calls.append(k)
        return cost(a * k, b * k)

    start = ""
    try:
        first = at(k_lo)
    except _Missing:  # the figure exists from some size up: the first k where it does
        k_lo, first = _first(at, k_lo, k_max)
        start = (f"; the figure exists from {a * k_lo}x{b * k_lo} up (an aux(…) head "
                 "cannot run on smaller inputs, and training runs it)")
    smallest = (a * k_lo, b * k_lo)
    done = dict(limit=limit, quantity=quantity, solve="size", batch=batch, figure=figure,
                assumption=_setting(report, figure, batch), definition=DEFINITIONS[figure],
                leaves_out=LEAVES_OUT[figure], channels=c, smallest=smallest,
                smallest_cost=first)
    if first > limit or k_lo == k_max:
        fits = first <= limit
        return Budget(*(smallest if fits else (None, None)), first if fits else None,
                      None if fits else first, largest=fits, evaluations=len(calls),
                      note="the smallest input evaluated: nothing smaller runs" + start,
                      **done)
    k, up, seen = _largest(at, k_lo, k_max, limit)
    seen[k_lo] = first
    fell = _falls(seen)
    note = (f"{len(calls)} sizes evaluated (doubling, then bisection), which assumes the "
            "figure never falls as the input grows")
    if fell is None:
        note += "; every value seen agrees" + start
    else:
        (p, q) = fell
        note += (f"; it fell from {a * p}x{b * p} ({seen[p]:,}) to {a * q}x{b * q} "
                 f"({seen[q]:,}), so a larger input than the answer may fit too")
    return Budget(a * k, b * k, seen[k], None if up is None else seen[up],
                  largest=up is None, next_size=None if up is None else (a * up, b * up),
                  evaluations=len(calls), note=note, **done)


def _size_cost(report, plan, figure: str, batch: int, c: int):
    """cost(h, w) at ``batch``: the compiled closed form for the seed's convention and
    MACs, else the figure on the rows at that size (the memory figures: the peaks have no
    closed form, and the rows tell where an aux head cannot run)."""
    spec = report.formula_input

    def call(f, h, w):
        values = {spec.height: h, spec.width: w, **plan.channels}
        return f(**{s: values[s] for s in f.symbols})

    if figure == "macs":
        macs = plan.evaluators["macs"]
        return lambda h, w: batch * call(macs, h, w)
    if figure == "activations":
        act, params = plan.evaluators["activations"], plan.evaluators["params"]
        size = report.bytes_per_element
        return lambda h, w: (batch * call(act, h, w) + call(params, h, w)) * size
    at = _cost_at(report, figure, c)
    return lambda h, w: at(h, w, batch)
