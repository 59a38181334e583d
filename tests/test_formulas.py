"""Formulas against brute-force integer arithmetic at many sizes, odd and non-square ones
included; the nested-floor rewrite against nested floors; the divisible form."""

import itertools
import math
import random
from pathlib import Path

import pytest
import sympy

import symcnn
from symcnn.dims import Dim, size_symbol
from symcnn.shapes import minimum_input

from conftest import brute

EXAMPLES = Path(__file__).parent.parent / "examples"
H, W, C = (size_symbol(s) for s in "HWC")

NETWORKS = {
    "vgg16_cs231n": "conv3-64x2 pool conv3-128x2 pool conv3-256x3 pool conv3-512x3 pool "
                    "conv3-512x3 pool fc4096 fc4096 fc1000",
    "vgg11": "vgg11",
    "alexnet": (EXAMPLES / "alexnet_one_tower.cnn").read_text().replace(
        "input 224x224x3", "input HxWxC"),
    "strides": "conv7-16/2p3 pool3/2p1 conv3-32/2 conv1x7-8 conv5-8/3p0 avgpool3/2 "
               "conv2-4/2p1 fc10",
    "valid": "conv5-6p0 pool conv5-16p0 pool fc120 relu fc84 fc10",
    "repeats": "((conv3-8 relu)x2 pool3/2p1)x3 conv1x3-4/2 adaptiveavgpool3x5 fc7",
    "blocks": "def b(w, s=1) = (res(conv1-wnb bn relu conv3-w/snb bn relu conv1-{4w}nb bn | "
              "conv1-{4w}/snb bn) relu)\nconv7-16/2p3nb bn relu pool3/2p1 b(4, 1) b(8, 2) "
              "b(8)x2 b(16, 2) gap fc10",
    "ceil": "conv3-8/2 pool3/2ceil conv3-8 pool2/2ceil pool3/3p1ceil avgpool2/3ceil fc5",
    "branches": "conv3-16/2 cat(conv1-8 | conv1-4 conv3-8 | pool3/1p1ceil conv1-4) "
                "cat( | bn relu conv1-8 conv3-4) dw3/2 se(4) conv3-12g4d2 gap fc3",
    "dense": "conv3-8/2 head(conv1-3 bilinear-input) pool3/2p1 "
             "cat(conv1-8 | gap conv1-8 nearest-branch) tconv3-8/2p1o1 nearest2 conv3-6/2 "
             "mul(conv1-6 | gap conv1-6 sigmoid) bilinear2x4 conv3-5/4 bilinear-input",
    "unet": "conv3-8p0 relu conv3-8p0 cat(crop | pool2 conv3-16p0 conv3-16p0 cat(crop | pool2 "
            "conv3-32p0 tconv2-16/2) conv3-16p0 tconv2-8/2) conv3-8p0 conv1-2",
}
SIZES = ([(s, s) for s in range(64, 260, 3)] + [(225, 225), (227, 227), (160, 240),
         (240, 160), (97, 301), (513, 129)] +
         [(random.Random(i).randint(64, 700), random.Random(-i).randint(64, 700))
          for i in range(40)])


@pytest.fixture(scope="module", params=NETWORKS)
def case(request):
    report = symcnn.analyze(NETWORKS[request.param])
    net = report.network
    fns = {q: _exact(report.evaluator(q)) for q in ("params", "macs", "activations")}
    return net, report, fns


def _exact(compiled):
    """The compiled formula (integer arithmetic only) as a function of (h, w, c)."""
    def f(h, w, c):
        values = {"H": h, "W": w, "C": c}
        return compiled(**{s: values[s] for s in compiled.symbols})
    return f


def test_at_least_100_sizes():
    assert len(SIZES) >= 100 and any(h % 2 for h, _ in SIZES) and any(h != w for h, w in SIZES)


def test_formulas_match_brute_force(case):
    net, report, fns = case
    mh, mw = minimum_input(net)
    checked = 0
    for h, w in SIZES:
        if h < mh or w < mw:
            continue
        for c in _channels(report):
            *_, acc = brute(net, h, w, c)
            assert fns["params"](h, w, c) == acc["params"], (h, w, c)
            assert fns["macs"](h, w, c) == acc["macs"], (h, w, c)
            assert fns["activations"](h, w, c) == acc["activations"] + h * w * c, (h, w, c)
            checked += 1
    assert checked >= 100


def _channels(report):
    c = report.formula_input.channels
    return (3, 1) if isinstance(c, str) else (c,)


def test_subs_gives_exact_integers(case):
    net, report, _ = case
    for h, w in [(225, 225), (227, 227), (160, 240)]:
        *_, acc = brute(net, h, w, 3)
        value = report.formulas["params"].subs({H: h, W: w, C: 3})
        assert isinstance(value, sympy.Integer) and value == acc["params"]


def test_evaluated_report_matches_formulas(case):
    net, report, fns = case
    for h, w in [(224, 224), (225, 227), (160, 240), (301, 97)]:
        t = symcnn.analyze(net, (h, w, 3)).totals
        assert all(isinstance(t[q], int) for q in t)
        assert (t["params"], t["macs"], t["activations"]) == tuple(
            fns[q](h, w, 3) for q in ("params", "macs", "activations"))
        assert t["flops"] == 2 * t["macs"]


def test_rows_sum_to_totals(case):
    _, report, _ = case
    for q in ("params", "macs", "activations"):
        assert sympy.expand(sum(r.count * getattr(r, q) for r in report.formula_rows)
                            - report.formulas[q]) == 0
    assert report.formulas["params"] == report.formulas["weights"] + report.formulas["biases"]


def test_divisible_form_where_sizes_are_multiples(case):
    net, report, fns = case
    mh, mw = report.multiples.get("H", 1), report.multiples.get("W", 1)
    for i, j in itertools.product(range(3, 9), range(3, 7)):
        h, w = i * mh, j * mw
        if (h, w) < minimum_input(net):
            continue
        for q in ("params", "macs", "activations"):
            assert report.divisible[q].subs({H: h, W: w, C: 3}) == fns[q](h, w, 3)
        assert not report.divisible["params"].has(sympy.floor)


def test_vgg16_closed_forms():
    report = symcnn.analyze("input HxWx3 conv3-64x2 pool conv3-128x2 pool conv3-256x3 pool "
                            "conv3-512x3 pool conv3-512x3 pool fc4096 fc4096 fc1000")
    fh, fw = sympy.floor(H / 32), sympy.floor(W / 32)
    assert report.formulas["params"] == 2_097_152 * fh * fw + 35_597_096
    assert report.multiples == {"H": 32, "W": 32}
    assert report.divisible["params"] == 2048 * H * W + 35_597_096
    assert report.divisible["macs"] == 306_176 * H * W + 3 * 576 * H * W + 20_873_216
    # with C free the first conv's weights stay symbolic: (3·3·C)·64
    assert symcnn.analyze("conv3-64x2 pool conv3-128x2 pool conv3-256x3 pool conv3-512x3 "
                          "pool conv3-512x3 pool fc4096 fc4096 fc1000").formulas["params"] \
        == 576 * C + 2_097_152 * fh * fw + 35_595_368


# ---- the nested-floor rewrite: a Dim after any chain equals nested floors of the input

@pytest.mark.parametrize("seed", range(30))
def test_dim_chain_equals_nested_floors(seed):
    rng = random.Random(seed)
    ops = [(rng.randint(-5, 5), rng.randint(1, 4)) for _ in range(rng.randint(1, 6))]
    dim = Dim("H")
    for add, div in ops:
        dim = (dim + add) // div
    assert dim.den <= 4 ** len(ops) and 0 <= dim.offset < dim.den
    for x in range(-50, 300):
        v = x
        for add, div in ops:
            v = (v + add) // div  # Python's // is the floor on integers
        assert dim.at(x) == v


@pytest.mark.parametrize("dim", [Dim("H"), (Dim("H") - 2) // 2 + 1, (Dim("H") + 3) // 4 - 2,
                                 ((Dim("H") - 6) // 3 + 1 - 4) // 2 + 1])
def test_dim_minimum_and_expr(dim):
    m = dim.minimum()
    assert dim.at(m) >= 1 and (m == 1 or dim.at(m - 1) < 1)
    for x in range(1, 200):
        assert dim.expr().subs(H, x) == dim.at(x)


@pytest.mark.parametrize("seed", range(30))
def test_dim_chain_with_upsampling_equals_integer_arithmetic(seed):
    """m·⌊(H + o)/d⌋ + a stays exact through upsamplings (× s) and floor divisions by a
    stride that divides the multiplier, or where the multiplier's part of it divides."""
    rng = random.Random(seed)
    dim, ops = Dim("H"), []
    for _ in range(rng.randint(1, 8)):
        op = (rng.choice("+*/"), rng.randint(-5, 5) if rng.random() < 0.4 else rng.randint(1, 4))
        if op[0] == "/" and op[1] < 1 or op[0] == "*" and op[1] < 1:
            continue
        if op[0] == "/" and dim.mul % op[1] and math.gcd(dim.mul, op[1]) != dim.mul:
            continue  # not one floor of H: symcnn says so (below)
        ops.append(op)
        dim = dim + op[1] if op[0] == "+" else dim * op[1] if op[0] == "*" else dim // op[1]
        if isinstance(dim, int):
            return
    for x in range(1, 400):
        v = x
        for kind, n in ops:
            v = v + n if kind == "+" else v * n if kind == "*" else v // n
        assert dim.at(x) == v


def test_a_stride_that_does_not_divide_an_upsampling_is_refused_symbolically():
    with pytest.raises(symcnn.ShapeError, match=r"layer 'conv3-4/2' .*not one floor of the "
                       r"input size: analyse a concrete input"):
        symcnn.analyze("nearest3 conv3-4/2", "HxWx3")
    assert symcnn.analyze("nearest3 conv3-4/2", (7, 9, 3)).rows[-1].out == (11, 14, 4)


def test_nested_floors_collapse():
    d = ((Dim("H") - 2) // 2 + 1 - 2) // 2 + 1  # two 2×2 pools
    assert d.expr() == sympy.floor(H / 4)
    assert str(symcnn.analyze("pool pool pool").rows[-1].out[0]) == "floor(H/8)"
