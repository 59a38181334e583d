"""Differential oracles: the same number reached by independent paths must agree.

- the brute-force reference (``conftest.brute``, written without ``symcnn.shapes``) against
  ``analyze`` on random plain stacks at random sizes, odd and non-square ones included;
- the closed forms of a symbolic report, substituted at a size, and its compiled evaluator,
  against ``analyze`` at that size;
- ``sweep`` and ``budget`` against ``analyze`` at the sizes they name (the budget's answer
  fits and the next size up does not).

A disagreement is a wrong number, the one failure symcnn must never have. Deterministic
like tests/test_fuzz.py (``SYMCNN_FUZZ_RANDOM``, ``SYMCNN_FUZZ_SCALE`` apply).
"""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import symcnn  # noqa: E402
from symcnn import SymCNNError  # noqa: E402
from symcnn.dims import size_symbol  # noqa: E402

from conftest import brute  # noqa: E402
from test_fuzz import fuzz_settings  # noqa: E402

QUANTITIES = ("params", "macs", "activations", "buffers")


@st.composite
def plain_layer(draw) -> str:
    """A layer the brute-force reference models: conv (all options), pools, fc, bn,
    activations, adaptive pools, se."""
    kind = draw(st.integers(0, 9))
    k = draw(st.integers(1, 5))
    if kind <= 3:
        kernel = str(k) if draw(st.booleans()) else f"{k}x{draw(st.integers(1, 5))}"
        opts = draw(st.lists(st.sampled_from(
            [f"/{draw(st.integers(1, 3))}", f"p{draw(st.integers(0, 3))}",
             f"d{draw(st.integers(1, 3))}", "nb"]), max_size=3, unique_by=lambda o: o[0]))
        if draw(st.integers(0, 3)) == 0:
            return f"dw{kernel}" + "".join(opts)
        return f"conv{kernel}-{draw(st.integers(1, 24))}" + "".join(opts)
    if kind == 4:
        opts = draw(st.lists(st.sampled_from(
            [f"/{draw(st.integers(1, 3))}", f"p{draw(st.integers(0, k // 2))}", "ceil"]),
            max_size=3, unique_by=lambda o: o[0]))
        return draw(st.sampled_from(["pool", "avgpool"])) + str(k) + "".join(opts)
    if kind == 5:
        return f"fc{draw(st.integers(1, 30))}"
    if kind == 6:
        return f"adaptiveavgpool{draw(st.integers(1, 4))}"
    if kind == 7:
        return f"se({draw(st.integers(1, 8))})"
    if kind == 8:
        return draw(st.sampled_from([f"gn{draw(st.integers(1, 4))}", "prelu",
                                     f"pad{draw(st.integers(1, 30))}"]))
    return draw(st.sampled_from(["bn", "relu", "gelu", "dropout", "sigmoid", "gap"]))


@st.composite
def plain_stack(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        layer = draw(plain_layer())
        if draw(st.integers(0, 4)) == 0:
            layer = f"({layer} relu)x{draw(st.integers(1, 4))}"
        parts.append(layer)
    return " ".join(parts)


odd_sizes = st.tuples(st.sampled_from([1, 2, 3, 7, 16, 31, 32, 33, 64, 160, 224, 225, 227,
                                       240, 299]),
                      st.sampled_from([1, 5, 17, 32, 100, 224, 227, 240]),
                      st.integers(1, 12))


def _analyze(text, size):
    try:
        return symcnn.analyze(text, size)
    except SymCNNError:
        return None


@fuzz_settings(300)
@given(plain_stack(), odd_sizes)
def test_plain_stacks_match_the_brute_force_reference(text, size):
    h, w, c = size
    net = symcnn.parse(text)
    try:
        *_, expected = brute(net, h, w, c)
    except (AssertionError, ZeroDivisionError):
        expected = None  # empty output, or groups that do not divide: analyze refuses too
    report = _analyze(text, size)
    if expected is None:
        assert report is None, f"analyze answered where the reference finds no output: {text}"
        return
    assert report is not None, f"analyze refused what the reference computes: {text} {size}"
    got = dict(report.totals)
    got["activations"] -= h * w * c  # the reference leaves the input out
    assert {q: got[q] for q in QUANTITIES} == expected


@fuzz_settings(200)
@given(plain_stack(), odd_sizes)
def test_closed_forms_at_a_size_are_the_concrete_totals(text, size):
    general = _analyze(text, None)
    concrete = _analyze(text, size)
    assume(general is not None and concrete is not None)
    h, w, c = size
    at = {size_symbol("H"): h, size_symbol("W"): w, size_symbol("C"): c}
    for q in ("params", "macs", "activations", "buffers"):
        formula = general.totals[q]
        value = formula.xreplace(at) if hasattr(formula, "xreplace") else formula
        assert value == concrete.totals[q], (q, text, size)
        f = general.evaluator(q)
        assert f(**{s: {"H": h, "W": w, "C": c}[s] for s in f.symbols}) == concrete.totals[q]


@fuzz_settings(120)
@given(plain_stack(), st.lists(st.integers(1, 300), min_size=1, max_size=5),
       st.integers(1, 8))
def test_sweeps_agree_with_analyze(text, sides, channels):
    from symcnn.sweep import sweep
    general = _analyze(text, None)
    assume(general is not None)
    try:
        points = sweep(general, [(s, s + 1) for s in sides], channels)
    except SymCNNError:
        points = None
    answered = {(p["h"], p["w"]): p for p in points or []}
    for s in sides:
        concrete = _analyze(text, (s, s + 1, channels))
        if concrete is None:
            assert (s, s + 1) not in answered, f"sweep answered where analyze refuses: {text}"
            continue
        assert points is not None and (s, s + 1) in answered, \
            f"sweep left out {s}x{s + 1}, which analyze accepts: {text}"
        p = answered[(s, s + 1)]
        assert {q: p[q] for q in ("params", "macs", "activations")} == \
            {q: concrete.totals[q] for q in ("params", "macs", "activations")}


@fuzz_settings(80)
@given(plain_stack(), st.integers(10**4, 10**12), st.sampled_from(["macs", "memory"]))
def test_budgets_fit_and_the_next_size_does_not(text, limit, quantity):
    from symcnn.sweep import budget
    general = _analyze(text, "HxWx3")
    assume(general is not None)
    try:
        b = budget(general, limit, quantity, on="activations" if quantity == "memory" else None)
    except SymCNNError:
        return
    assume(b.height is not None)

    def cost(k):
        r = _analyze(text, (k, k, 3))
        assert r is not None, f"budget answered {k}x{k}, which analyze refuses: {text}"
        if quantity == "macs":
            return r.totals["macs"]
        return (r.totals["activations"] + r.totals["params"]) * r.bytes_per_element

    assert b.cost == cost(b.height) <= limit
    if b.height < symcnn.dims.MAX_INPUT:
        assert cost(b.height + 1) > limit or b.next_cost is None
