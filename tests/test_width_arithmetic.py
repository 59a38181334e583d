"""Width arithmetic in braces: decimals and / as exact fractions, round floor ceil max min
and make_divisible, and ``in`` (the channel count entering a layer).

- Values: each braced expression equals the same arithmetic done here in Python on
  fractions (expected values are written as arithmetic, not as their results).
- make_divisible is torchvision's ``_make_divisible`` exactly: against a copy of it on
  exact fractions for many (v, d) pairs, and against torchvision itself (when installed)
  wherever torchvision's float arithmetic is exact.
- round is Python's round (ties to even), on exact fractions.
- Printing: ``parse(str(net)) == net`` for every construct.
- Errors: line, column and caret; a width that is not whole says how to round it.
- Hostile inputs stay bounded in time and memory.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from fractions import Fraction as F
from pathlib import Path

import pytest
import sympy

import symcnn
from symcnn import NotationError, ShapeError
from symcnn.layers import value_text
from symcnn.notation import FUNCTIONS, make_divisible

ROOT = Path(__file__).resolve().parent.parent


def torchvision_make_divisible(v, divisor, min_value=None):
    """torchvision.models._utils._make_divisible, copied as it is (floats and all)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def exact_make_divisible(v: F, divisor: int, min_value=None) -> int:
    """The same lines on exact fractions (divisor / 2 and 0.9 as fractions)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + F(divisor, 2)) // divisor * divisor)
    if new_v < F(9, 10) * v:
        new_v += divisor
    return new_v


def filters(text: str, size=(8, 8, 64)):
    """The output channels of every row of ``text`` on ``size``."""
    return [row.out[2] for row in symcnn.analyze(text, size).rows[1:]]


def one(text: str, size=(8, 8, 64)):
    return filters(text, size)[-1]


# ------------------------------------------------------------------ values

VALUES = [
    # decimals and true division are exact fractions
    ("conv1-{1.5*64}", 3 * 64 // 2),
    ("conv1-{0.75*64}", 3 * 64 // 4),
    ("conv1-{1.25*w}", None),  # symbolic: checked below
    ("conv1-{96/3}", 96 // 3),
    ("conv1-{1.1*10}", 11),
    ("conv1-{0.1+0.2+0.7}", 1),      # no float error: 1/10 + 2/10 + 7/10 is exactly 1
    ("conv1-{7.5//2}", math.floor(F(15, 2) / 2)),
    ("conv1-{2/3*3}", 2),
    ("conv1-{1.5w}", None),
    # round: ties to even, as Python's round
    ("conv1-{round(2.5)}", round(F(5, 2))),
    ("conv1-{round(3.5)}", round(F(7, 2))),
    ("conv1-{round(1.2*64)}", round(F(6, 5) * 64)),
    ("conv1-{round(76.5)}", round(F(153, 2))),
    ("conv1-{round(77.5)}", round(F(155, 2))),
    ("conv1-{round(10/3)}", round(F(10, 3))),
    # floor and ceil
    ("conv1-{floor(1.2*64)}", math.floor(F(6, 5) * 64)),
    ("conv1-{ceil(1.2*64)}", math.ceil(F(6, 5) * 64)),
    ("conv1-{ceil(3*1.2)}", math.ceil(3 * F(6, 5))),  # torchvision's depth: ceil(n · d)
    ("conv1-{ceil(2*1.1)}", math.ceil(2 * F(11, 10))),
    ("conv1-{floor(0.5)+1}", 1),
    # max and min
    ("conv1-{max(1,64//4)}", max(1, 64 // 4)),
    ("conv1-{max(1,2//4)}", max(1, 2 // 4)),
    ("conv1-{min(96,64,128)}", min(96, 64, 128)),
    ("conv1-{max(1.5,2.5)*2}", 5),
    ("conv1-{min(max(3,5),4)}", min(max(3, 5), 4)),
    # make_divisible = torchvision's _make_divisible
    ("conv1-{make_divisible(32*1.1,8)}", exact_make_divisible(32 * F(11, 10), 8)),
    ("conv1-{make_divisible(83,8)}", exact_make_divisible(F(83), 8)),   # 80
    ("conv1-{make_divisible(84,8)}", exact_make_divisible(F(84), 8)),   # 88
    ("conv1-{make_divisible(24*0.75,8)}", exact_make_divisible(24 * F(3, 4), 8)),  # 24
    ("conv1-{make_divisible(3,8)}", exact_make_divisible(F(3), 8)),     # at least 8
    ("conv1-{make_divisible(100,8,128)}", exact_make_divisible(F(100), 8, 128)),
    ("conv1-{make_divisible(make_divisible(40*1.2,8)*6,8)}",
     exact_make_divisible(exact_make_divisible(40 * F(6, 5), 8) * 6, 8)),
    # in: the channels entering the layer (64 here)
    ("conv1-{in//2}", 64 // 2),
    ("conv1-{in*2}", 64 * 2),
    ("conv1-{make_divisible(in*1.1,8)}", exact_make_divisible(64 * F(11, 10), 8)),
    ("conv1-{in//2} conv1-{in//2}", 64 // 2 // 2),
    ("conv1-{in/4*3}", 64 * 3 // 4),
]


@pytest.mark.parametrize("text, expected", [v for v in VALUES if v[1] is not None])
def test_braced_values(text, expected):
    assert one(text) == expected


def test_every_function_is_in_the_table():
    used = " ".join(t for t, _ in VALUES)
    assert all(f"{name}(" in used for name in FUNCTIONS)


def test_symbolic_fractions_of_widths():
    w = symcnn.dims.size_symbol("w")
    report = symcnn.analyze("input HxWx3\ndef f(m) = conv1-{round(m*w)}\nf(1.25)")
    assert report.rows[1].out[2] == symcnn.notation.Round(F(5, 4) * w)
    assert report.rows[1].out[2].subs(w, 6) == round(F(5, 4) * 6) == 8  # 7.5 → 8 (even)
    assert report.rows[1].out[2].subs(w, 10) == round(F(5, 4) * 10) == 12  # 12.5 → 12


def test_round_is_half_to_even_like_python():
    for n in range(-40, 41):
        x = F(n, 2)
        half = f"{n}/2" if n >= 0 else f"(0-{-n})/2"
        assert one(f"conv1-{{round({half})+100}}") == round(x) + 100
    # Python's round on floats agrees where the float is exact
    assert [round(x / 2) for x in range(-9, 10)] == \
        [int(sympy.Integer(symcnn.notation.Round(sympy.Rational(x, 2)))) for x in range(-9, 10)]


# ------------------------------------------------------------------ make_divisible

def test_make_divisible_matches_the_exact_copy():
    divisors = (1, 2, 3, 4, 5, 6, 7, 8, 16, 32)
    values = {F(n, d) for n in range(-50, 2500, 7) for d in (1, 2, 3, 4, 5, 10, 20, 9)}
    for v in values:
        for d in divisors:
            assert make_divisible(v, d) == exact_make_divisible(v, d), (v, d)
            assert make_divisible(v, d, 3 * d) == exact_make_divisible(v, d, 3 * d)


def test_the_notation_uses_the_same_make_divisible():
    for c in (3, 16, 24, 40, 83, 84, 112, 320, 1280):
        for m in ("0.5", "0.75", "1.1", "1.3", "1.4", "2.2", "3.1"):
            for d in (4, 8):
                expected = exact_make_divisible(c * F(m), d)
                assert one(f"conv1-{{make_divisible({c}*{m},{d})}}") == expected


def test_make_divisible_matches_torchvision_where_its_floats_are_exact():
    """On v = k/4 (dyadic, so torchvision's v + d/2 is exact) the float function and the
    exact one agree; for c · multiplier they agree on every width EfficientNet B0–B7 and
    MNASNet 0.5–1.3 compute. Elsewhere torchvision's floats may land on the other side of
    a tie: 45 × 1.4 is 62.99999999999999, so _make_divisible(45 * 1.4, 2) is 62 where the
    exact rule gives 64."""
    for k in range(-200, 20000, 3):
        for d in (1, 2, 3, 4, 6, 8, 16):
            assert make_divisible(F(k, 4), d) == torchvision_make_divisible(k / 4, d)
    for m in ("0.5", "0.75", "1.0", "1.1", "1.2", "1.3", "1.4", "1.6", "1.8", "2.0"):
        for c in (16, 24, 32, 40, 80, 96, 112, 192, 320):
            ours = make_divisible(c * F(m), 8)
            assert ours == torchvision_make_divisible(c * float(m), 8)
            for e in (1, 4, 6):
                assert make_divisible(ours * e, 8) == torchvision_make_divisible(ours * e, 8)
    assert torchvision_make_divisible(45 * 1.4, 2) == 62 and make_divisible(45 * F(7, 5),
                                                                              2) == 64


def test_make_divisible_is_torchvisions_own():
    try:
        from torchvision.models._utils import _make_divisible
    except ImportError:  # pragma: no cover - depends on the environment
        if os.environ.get("CI") and not os.environ.get("SYMCNN_NO_TORCH"):
            raise
        pytest.skip("torchvision is not installed")
    assert _make_divisible(45 * 1.4, 2) == torchvision_make_divisible(45 * 1.4, 2)
    for k in range(0, 8000, 5):
        for d in (1, 2, 3, 8, 16):
            assert make_divisible(F(k, 4), d) == _make_divisible(k / 4, d)
            assert make_divisible(F(k, 4), d, 2 * d) == _make_divisible(k / 4, d, 2 * d)
    from torchvision.models.mnasnet import _round_to_multiple_of
    for k in range(0, 8000, 5):
        assert make_divisible(F(k, 4), 8) == _round_to_multiple_of(k / 4, 8)


# ------------------------------------------------------------------ in

def test_in_is_the_channels_entering_each_layer():
    assert filters("conv1-{in//2} se({in//4}) gn{in//8} pad{2*in} fc{in}") == \
        [64 // 2, 64 // 2, 64 // 2, 2 * (64 // 2), 2 * (64 // 2)]
    report = symcnn.analyze("conv1-{in//2} se({in//4})", (8, 8, 64))
    se = report.rows[2]
    assert se.params == 2 * 32 * (32 // 4) + 32 // 4 + 32  # squeeze of its own input
    assert [r.name for r in report.rows[1:]] == ["conv1-{in//2}", "se({in//4})"]  # as written


def test_in_inside_definitions_and_repeats():
    text = ("input 32x32x16\ndef transition() = (bn relu conv1-{in//2}nb avgpool2)\n"
            "def grow(k) = cat( | conv3-knb)\n"
            "grow(8)x4 transition() grow(8)x2 transition()")
    report = symcnn.analyze(text)
    assert report.rows[-1].out == (8, 8, ((16 + 4 * 8) // 2 + 2 * 8) // 2)
    # a repeat on in changes the channels at every step
    assert filters("(conv1-{2*in})x3", (4, 4, 3)) == [2 * 3, 2 * 2 * 3, 2 * 2 * 2 * 3]


def test_in_is_symbolic_on_symbolic_channels():
    report = symcnn.analyze("input HxWxC\nconv1-{in//2}nb se({max(1,in//4)})")
    c = symcnn.dims.size_symbol("C")
    half = sympy.floor(c / 2)
    assert report.rows[1].out[2] == half
    assert sympy.expand(report.totals["params"] - (c * half + 2 * half * symcnn.notation.
                        Maximum(1, sympy.floor(half / 4)) + half +
                        symcnn.notation.Maximum(1, sympy.floor(half / 4)))) == 0
    at64 = symcnn.analyze("input HxWxC\nconv1-{in//2}nb se({max(1,in//4)})", (8, 8, 64))
    assert report.totals["params"].subs(c, 64) == at64.totals["params"] == \
        64 * 32 + (2 * 32 * (32 // 4) + 32 // 4 + 32)


def test_in_is_not_a_width_name_or_argument():
    for text, message, column in [
            ("def f(in) = relu\nf(1)", r"cannot be named or default to in", 1),
            ("def f(a={in}) = relu\nf()", r"cannot be named or default to in", 1),
            ("def f(a) = conv1-a\nf({in//2})", r"in cannot be passed to 'f'", 1),
            ("conv{in}-8", r"a kernel size cannot use in", 5),
            ("conv3-8/{in}", r"a stride cannot use in", 9),
            ("(relu)x{in}", r"a repeat count cannot use in", 8)]:
        with pytest.raises(NotationError, match=message) as e:
            symcnn.parse(text)
        assert e.value.column == column, text
    # it is neither an input letter nor a width: H, W, C and B stay refused
    with pytest.raises(NotationError, match="a width cannot be named C"):
        symcnn.parse("conv1-{C//2}")


def test_in_that_does_not_fit_the_channels_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"the filter count is \{in//128\} = 0; .* \(in = "
                                         r"64, the channels entering this layer\)"):
        symcnn.analyze("conv1-{in//128}", (8, 8, 64))
    with pytest.raises(ShapeError, match=r"\{1\.2\*in\} = 76\.8, not a whole number"):
        symcnn.analyze("conv1-{1.2*in}", (8, 8, 64))
    # 1.5·in is whole on 64 channels: the formulas are then at 64 channels
    assert symcnn.analyze("conv1-{1.5*in}", (8, 8, 64)).totals["params"] == 64 * 96 + 96


def test_in_builds_in_torch():
    pytest.importorskip("torch")
    from symcnn.torch import to_torch, verify
    text = ("input 16x16x16\ndef transition() = (bn relu conv1-{in//2}nb avgpool2)\n"
            "conv1-{in*2}nb bn relu transition() se({max(1,in//4)}) gn{in//4} pad{2*in} "
            "gap fc{in} fc10")
    model = to_torch(text, device="meta")
    assert sum(p.numel() for p in model.parameters()) == \
        symcnn.analyze(text).totals["params"]
    assert verify(text).ok


# ------------------------------------------------------------------ printing

ROUND_TRIPS = [
    "conv1-{1.2*w}x2", "fc{w/3}", "fc{2*w/3}", "fc{64/w}", "fc{w/(k*m)}", "fc{1.5w}",
    "conv1-{round(1.2*w)}", "conv1-{floor(w/3)}", "conv1-{ceil(w/3)-1}",
    "conv1-{max(1,w//4)}", "conv1-{min(w,k,3,5)}", "conv1-{max(0-3,w)}",
    "conv1-{make_divisible(1.1*w,8)}", "conv1-{make_divisible(w,8,16)}",
    "conv1-{in//2}", "se({max(1,in//4)})", "gn{in//16} pad{2*in} fc{in}",
    "conv3-{in}g{in}", "fc{floor(w/k+0.5)}", "fc{round(w/3+1/3)}", "fc{w//2+8}",
    "fc{3*(w//2)}", "fc{w*w*w-k}", "fc{0.001*w*k}",
    "def f(a, b=1.5) = conv1-{round(a*b)}\nf(1.1, 2) f({1/3}) f({2*k}, 0.25)",
    "def s(e, n, d) = (conv1-{in*e} relu)x{ceil(n*d)-1}\ns(6, 3, 1.2)",
    "def f(m) = conv1-{floor(32*m)}\nf({1/7})",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_str_round_trips(text):
    net = symcnn.parse(text)
    again = symcnn.parse(str(net))
    assert again == net
    assert str(again) == str(net)


@pytest.mark.parametrize("value, text", [
    (sympy.Rational(6, 5), "1.2"), (sympy.Rational(1, 3), "{1/3}"),
    (sympy.Rational(-1, 2), "{(0-0.5)}"), (sympy.Rational(1, 8), "0.125"),
    (sympy.Integer(7), "7"), (sympy.Rational(1, 10**13), "{1/10000000000000}"),
])
def test_numbers_print_as_decimals_where_they_are_exact(value, text):
    assert value_text(value) == text


def test_labels_show_the_values_as_written():
    report = symcnn.analyze("def f(m) = conv1-{round(64*m)}\nf(1.1)", (8, 8, 3))
    assert report.rows[1].path[0].label == "f(1.1)"


# ------------------------------------------------------------------ errors

ERRORS = [  # text, message, line, column
    ("conv1-{1.2*64}", r"a filter count must be a whole number; this is 76\.8: round it with "
     r"round\(…\), floor\(…\), ceil\(…\) or make_divisible\(…, 8\)", 1, 7),
    ("fc{10/3}", r"a unit count must be a whole number; this is 10/3 \(≈ 3\.333\)", 1, 3),
    ("relu\n(relu)x{1.5}", r"a repeat count must be a whole number; this is 1\.5", 2, 8),
    ("conv3-8/{0.5*4}", None, 0, 0),  # = 2: fine
    ("se(1.5)", r"se\(…\)'s squeeze width must be a whole number; this is 1\.5", 1, 1),
    ("def f(m) = conv1-{32*m}\nf(1.1)",
     r"the filter count is \{32\*m\} = 35\.2, not a whole number; round it", 1, 12),
    ("conv1-{w/2}", r"the filter count is \{0\.5\*w\}, which is not a whole number for every "
     r"w; round it", 1, 1),
    ("conv1-{rnd(w)}", r"unknown function 'rnd' in braces; did you mean round\(…\)\? \(the "
     r"functions are ceil, floor, make_divisible, max, min, round\)", 1, 8),
    ("conv1-{ceiling(w)}", r"unknown function 'ceiling' in braces; did you mean ceil", 1, 8),
    ("conv1-{_make_divisible(w,8)}", r"did you mean make_divisible", 1, 8),
    ("conv1-{round(w,2)}", r"round\(x\) takes 1 value; got 2 values", 1, 8),
    ("conv1-{max(w)}", r"max\(a, b, …\) takes 2 or more values; got 1 value", 1, 8),
    ("conv1-{make_divisible(w)}", r"make_divisible\(v, divisor\[, min_value\]\) takes 2 or 3 "
     r"values; got 1 value", 1, 8),
    ("conv1-{make_divisible(w,0)}", r"make_divisible\(v, d\) needs a whole divisor d ≥ 1; "
     r"got 0", 1, 8),
    ("conv1-{make_divisible(w,2.5)}", r"needs a whole divisor", 1, 8),
    ("def f(k) = conv1-{make_divisible(64,k)}\nf(0)",
     r"the filter count is \{make_divisible\(64,k\)\}: make_divisible\(v, d\) needs a whole "
     r"divisor", 1, 12),
    ("conv1-{w/0}", r"division by zero", 1, 8),
    ("def f(k) = conv1-{64/k}\nf(0)", r"the filter count is \{64/k\}, which divides by zero",
     1, 12),
    ("conv1-{1.}", r"expected an operator \(\+ - \* / //\) or '\}' in braces \(a decimal has "
     r"digits on both sides of its point: 0\.5\)", 1, 9),
    ("conv1-{.5}", r"expected a number, a name, '\(' or a function such as round", 1, 8),
    ("conv1-{w**2}", r"no powers: write w\*w", 1, 10),
    ("conv1-{-w}", r"no unary minus: write 0-w", 1, 8),
    ("conv1-{max(1,)}", r"expected a number, a name", 1, 14),
    ("conv1-{0.0000000000001*w}", r"a decimal may have at most 13 digits before the point "
     r"and 12 after it", 1, 8),
    ("def f(a) = conv1-{round(a*1000000)}\nf(2000000.5)", r"the filter count is "
     r"\{round\(1000000\*a\)\} = 2000000500000; it must be between 1 and 1,000,000,000,000",
     1, 12),
]


@pytest.mark.parametrize("text, message, line, column", ERRORS)
def test_errors(text, message, line, column):
    if message is None:
        assert symcnn.analyze(text, (8, 8, 3))
        return
    with pytest.raises(NotationError, match=message) as e:
        symcnn.analyze(text, (8, 8, 3))
    assert (e.value.line, e.value.column) == (line, column)
    lines = str(e.value).split("\n")
    assert lines[2].index("^") - 2 == column - 1  # the caret under the column


# ------------------------------------------------------------------ hostile inputs

HOSTILE = {  # each answers (a result or a NotationError) within the limits below
    "nested floors": "conv1-{" + "floor(" * 5000 + "w" + ")" * 5000 + "}",
    "nested max": "conv1-{" + "max(" * 5000 + "w" + ",1)" * 5000 + "}",
    "nested round": "conv1-{" + "round(" * 5000 + "w" + "/3)" * 5000 + "}",
    "nested make_divisible": "conv1-{" + "make_divisible(" * 3000 + "w" + "*1.1,8)" * 3000
                             + "}",
    "numbers through functions": "conv1-{" + "ceil(" * 3000 + "8" + "*1.1)" * 3000 + "}",
    "huge products": "fc{" + "*".join(["1000000000000"] * 500) + "}",
    "huge denominators": "fc{w" + "/1.000000000007" * 500 + "}",
    "many arguments": "fc{max(" + ",".join(f"w+{i}" for i in range(20000)) + ")}",
    "many distinct functions": " ".join(f"fc{{ceil(w/{i})}}" for i in range(1, 12000)),
    "many make_divisible": " ".join(f"fc{{make_divisible(w*{i}.5,8)}}"
                                    for i in range(1, 12000)),
    "definitions feeding functions": "\n".join(
        f"def s{i}(w) = s{i + 1}({{round(w*1.5)+make_divisible(w,8)}})" for i in range(40))
        + "\ndef s40(w) = conv3-w\ns0(k)",
    "rationals through definitions": "\n".join(
        f"def s{i}(w) = s{i + 1}({{w*1.1+0.3}})" for i in range(60))
        + "\ndef s60(w) = conv3-{round(w)}\ns0(2)",
}

WORKER = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
    resource.setrlimit(resource.RLIMIT_CPU, (30, 30))
    import symcnn
    text = sys.stdin.read()
    try:
        r = symcnn.analyze(text, (8, 8, 3))
        print(json.dumps({"ok": str(r.totals["params"])[:200]}))
    except symcnn.SymCNNError as e:
        print(json.dumps({"error": type(e).__name__, "message": str(e)[:300]}))
""")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_bounded(name):
    import json
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", WORKER], input=HOSTILE[name],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert "ok" in out or out["error"] in ("NotationError", "ShapeError"), out


def test_intermediate_numbers_are_bounded_at_once():
    with pytest.raises(NotationError, match=r"numbers in braces must stay below 2\^512 while "
                                            r"they are computed"):
        symcnn.parse("fc{" + "*".join(["1000000000000"] * 500) + "}")
    # what comes back in range is fine
    assert symcnn.parse("fc{1000000000000*1000000000000//1000000000000}") == \
        symcnn.parse("fc1000000000000")


# ------------------------------------------------------------------ random expressions

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402


def _expressions(names: bool):
    """(text, value) of random braced expressions; value is the Python reference on
    fractions (None where it has names)."""
    leaves = [st.integers(0, 40).map(lambda n: (str(n), F(n))),
              st.sampled_from(["0.5", "1.1", "1.25", "0.75", "2.2"]).map(
                  lambda d: (d, F(d)))]
    if names:
        leaves.append(st.sampled_from(["w", "k", "in"]).map(lambda n: (n, None)))

    def combine(parts):
        binary = st.tuples(parts, st.sampled_from("+-*/%"), parts).map(_binary)
        unary = st.tuples(st.sampled_from(["round", "floor", "ceil"]), parts).map(_unary)
        many = st.tuples(st.sampled_from(["max", "min"]), st.lists(parts, min_size=2,
                                                                   max_size=3)).map(_many)
        divisible = st.tuples(parts, st.sampled_from([1, 4, 8])).map(_divisible)
        return st.one_of(binary, unary, many, divisible, parts.map(
            lambda p: (f"({p[0]})", p[1])))
    return st.recursive(st.one_of(leaves), combine, max_leaves=8)


def _binary(t):
    (a, x), op, (b, y) = t
    if op == "%":  # //
        op, f = "//", (lambda: x // y)
    else:
        f = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
             "/": lambda: x / y}[op]
    if op in "*/" or op == "//":
        a, b = (f"({a})" if any(c in a for c in "+-") and not a.startswith("(") else a,
                f"({b})" if not b.replace(".", "").isalnum() else b)
    else:
        b = f"({b})" if any(c in b for c in "+-") else b
    if x is None or y is None:
        return f"{a}{op}{b}", None
    if op in ("/", "//") and y == 0:
        return f"{a}+{b}", x + y
    return f"{a}{op}{b}", f()


def _unary(t):
    name, (a, x) = t
    fn = {"round": round, "floor": math.floor, "ceil": math.ceil}[name]
    return f"{name}({a})", None if x is None else F(fn(x))


def _many(t):
    name, parts = t
    values = [x for _, x in parts]
    text = f"{name}({','.join(a for a, _ in parts)})"
    if any(v is None for v in values):
        return text, None
    return text, (max if name == "max" else min)(values)


def _divisible(t):
    (a, x), d = t
    return f"make_divisible({a},{d})", None if x is None else F(exact_make_divisible(x, d))


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(_expressions(names=False))
def test_random_numeric_expressions_have_pythons_value(case):
    text, value = case
    if value is None or not 0 <= value <= 10**12 or value.denominator > 10**12:
        return
    try:
        net = symcnn.parse(f"def f(a) = fc{{a}}\nf({{{text}}})")
    except NotationError as e:  # only size limits may refuse a valid expression
        assert "at most" in e.message or "below 2^" in e.message, (text, e.message)
        return
    assert net.items[0].args[0] == value, text


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(_expressions(names=True))
def test_random_expressions_round_trip(case):
    text, _ = case
    try:
        net = symcnn.parse(f"def f(a) = fc{{a}}\nf(1)\nconv1-{{{text}}} se({{{text}}})")
    except NotationError:  # in as an argument, division by zero, size limits
        return
    assert symcnn.parse(str(net)) == net, (text, str(net))


def test_fractions_stay_printable():
    with pytest.raises(NotationError, match="this fraction's denominator is 10000000000000"):
        symcnn.parse("f({1/1000000000000/10})")
    text = "\n".join(f"def s{i}(w) = s{i + 1}({{w*1.1}})" for i in range(20)) + \
        "\ndef s20(w) = conv3-{round(w)}\ns0(2)"
    with pytest.raises(NotationError, match="a fraction whose denominator passes"):
        symcnn.analyze(text, (8, 8, 3))


# ------------------------------------------------------------------ the zoo from one definition

# torchvision's weights metadata: num_params, and _ops (GFLOPS: MACs / 10⁹ at the crop size
# of the weights' transforms, rounded to 3 decimals).
SCALED = {
    "efficientnet_b0": (5_288_548, 224, 0.386), "efficientnet_b1": (7_794_184, 240, 0.687),
    "efficientnet_b2": (9_109_994, 288, 1.088), "efficientnet_b3": (12_233_232, 300, 1.827),
    "efficientnet_b4": (19_341_616, 380, 4.394), "efficientnet_b5": (30_389_784, 456, 10.266),
    "efficientnet_b6": (43_040_704, 528, 19.068), "efficientnet_b7": (66_347_960, 600, 37.746),
    "efficientnet_v2_s": (21_458_488, 384, 8.366), "efficientnet_v2_m": (54_139_356, 480, 24.582),
    "efficientnet_v2_l": (118_515_272, 480, 56.08), "mnasnet0_5": (2_218_512, 224, 0.104),
    "mnasnet0_75": (3_170_208, 224, 0.215), "mnasnet1_0": (4_383_312, 224, 0.314),
    "mnasnet1_3": (6_282_256, 224, 0.526),
}


@pytest.mark.parametrize("name", sorted(SCALED))
def test_scaled_zoo_models_have_the_published_counts(name):
    params, crop, gflops = SCALED[name]
    report = symcnn.analyze(name, (crop, crop, 3))
    assert report.totals["params"] == params
    assert round(report.totals["macs"] / 1e9, 3) == gflops
    assert symcnn.zoo.source(name).splitlines()[0].endswith(f", {params:,} params.")


@pytest.mark.parametrize("family, call", [("efficientnet_b", "efficientnet("),
                                          ("mnasnet", "mnasnet(")])
def test_one_definition_for_every_width(family, call):
    """The files of a family differ in their first line (name) and last (the call with the
    multipliers) only."""
    names = [n for n in SCALED if n.startswith(family)]
    bodies = {tuple(symcnn.zoo.source(n).splitlines()[1:-1]) for n in names}
    assert len(names) >= 4 and len(bodies) == 1
    assert all(symcnn.zoo.source(n).splitlines()[-1].startswith(call) for n in names)
