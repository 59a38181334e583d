"""The engine's promises at the edges (issue 13): closed-form repeats, nested repeats that
stay small, the smallest input, width names and notation hints.

Every expected value is written as the arithmetic that gives it. Bounds are on structure
(rows, denominators, memory), never on wall time.
"""

from __future__ import annotations

import tracemalloc

import pytest
import sympy

import symcnn
import symcnn.zoo
from symcnn import notation
from symcnn.dims import MAX_INPUT, Dim
from symcnn.errors import NotationError, ShapeError
from symcnn.layers import InputSpec, Repeat
from symcnn.shapes import minimum_input, propagate

H, W, C = (sympy.Symbol(n, positive=True, integer=True) for n in "HWC")
G = 10**9
T = 10**12


def formula_at(report, quantity: str, h: int, w: int, c: int) -> int:
    value = report.formulas[quantity].xreplace({H: h, W: w, C: c})
    assert value.is_Integer, value
    return int(value)


def dims_of(report):
    return [s for r in report.formula_rows for s in r.out[:2] if isinstance(s, Dim)]


# ------------------------------------------------------------ repeats in closed form

CONV_FIRST = 3 * 3 * 3 * 8 + 8   # conv3-8 on 3 channels: 224
CONV_NEXT = 3 * 3 * 8 * 8 + 8    # conv3-8 on 8 channels: 584
# (dropout conv7-4p3 pool2ceil conv3-32p2): size x → ⌈x/2⌉ + 2, settles at 4 or 5
CYCLE_FIRST = 7 * 7 * 3 * 4 + 4 + 3 * 3 * 4 * 32 + 32    # on 3 channels
CYCLE_NEXT = 7 * 7 * 32 * 4 + 4 + 3 * 3 * 4 * 32 + 32    # on 32 channels

CLOSED_FORM = [  # (notation, input, params, at most this many rows)
    ("pool2 conv3-8/2x1000000000", (224, 224, 3), CONV_FIRST + (G - 1) * CONV_NEXT, 12),
    ("conv3-8/2x1000000000", (224, 224, 3), CONV_FIRST + (G - 1) * CONV_NEXT, 12),
    ("(dropout conv7-4p3 pool2ceil conv3-32p2)x1000000000000", (224, 224, 3),
     CYCLE_FIRST + (T - 1) * CYCLE_NEXT, 60),
    ("conv4-8/2x1000000000", (224, 224, 3),
     4 * 4 * 3 * 8 + 8 + (G - 1) * (4 * 4 * 8 * 8 + 8), 20),
    ("((((relu)x64)x64)x64)x64", (224, 224, 3), 0, 2),
]


@pytest.mark.parametrize("text, size, params, most", CLOSED_FORM)
def test_repeats_that_settle_are_closed_form(text, size, params, most):
    report = symcnn.analyze(text, size)
    assert report.totals["params"] == params
    assert len(report.rows) <= most + 1
    # the formulas too: a bounded number of rows, every denominator at most MAX_INPUT
    assert len(report.formula_rows) <= 200
    assert all(d.den <= MAX_INPUT for d in dims_of(report))


FORMULA_CHECKS = [  # the closed forms agree with the numbers at small, odd and huge sizes
    ("pool2 conv3-8/2x1000000000", [2, 3, 4, 5, 17, 224, 2**39 + 1, T]),
    ("(dropout conv7-4p3 pool2ceil conv3-32p2)x1000000000000",
     [1, 2, 3, 4, 5, 6, 7, 8, 9, 224, T - 1, T]),
    ("conv4-8/2x1000000000", [1, 2, 3, 4, 224, T]),
    ("(conv3-8/2 pool3/1p1)x100000", [1, 2, 3, 5, 224, T]),
]


@pytest.mark.parametrize("text, sizes", FORMULA_CHECKS)
def test_closed_forms_match_the_numbers(text, sizes):
    formulas = symcnn.analyze(text)
    for h in sizes:
        numbers = symcnn.analyze(text, (h, 7, 3)).totals
        for q in ("params", "activations", "macs"):
            assert formula_at(formulas, q, h, 7, 3) == numbers[q], (q, h)


def test_capped_dims_equal_the_floor_on_every_accepted_input():
    # ⌊(H + o)/d⌋ + a with d > MAX_INPUT takes at most two values on 1 … MAX_INPUT
    cases = [Dim("H", 3, 2 * T, 1), Dim("H", 2 * T - 5, 2 * T, 0), Dim("H", T + 7, 3 * T, 2),
             Dim("H", 0, 5 * T, 1), Dim("H", 2**60 - 2, 2**60, 0), Dim("H", 2 * T - 7, 2 * T, 3)]
    probes = [1, 2, 3, 4, 5, 6, T // 2, T - 8, T - 7, T - 6, T - 1, T]
    for d in cases:
        capped = d.capped()
        for h in probes + [d.den - d.offset + k for k in (-1, 0, 1)]:
            if 1 <= h <= T:
                got = capped if isinstance(capped, int) else capped.at(h)
                assert got == d.at(h), (d, h)
        if isinstance(capped, Dim):
            assert capped.den == MAX_INPUT and capped.minimum() == d.minimum()


# ------------------------------------------------------------ nested repeats stay small

def nested_definitions(n: int) -> str:
    lines = ["def f0() = relu"]
    lines += [f"def f{i}() = (f{i - 1}() relu)x2" for i in range(1, n + 1)]
    return "\n".join(lines + [f"f{n}()"])


NESTED = [  # (notation, relu layers, at most this many rows)
    ("((((relu)x64)x64)x64)x64", 64**4, 2),
    ("((relu relu)x1000 relu)x1000000", (2 * 1000 + 1) * 10**6, 4),
    # f_i = (f_(i−1) relu)x2: L_i = 2·(L_(i−1) + 1), L_0 = 1, so L_40 = 3·2^40 − 2
    (nested_definitions(40), 3 * 2**40 - 2, 2 * 40 + 2),
]


@pytest.mark.parametrize("text, layers, most", NESTED)
def test_nested_repeats_collapse_multiplicatively(text, layers, most):
    report = symcnn.analyze(text)
    assert len(report.rows) <= most + 1
    assert sum(r.count for r in report.rows[1:]) == layers
    assert report.totals["activations"] == (1 + layers) * H * W * C


# ------------------------------------------------------------ size and speed, by structure

def test_a_flat_text_parses_to_the_grammars_records():
    text = ("conv3-8 relu\n" * 2000 + " CONV3-64x2 pool2/1\tfc-10 dw3/2x3  bn ln psame"
            .replace(" psame", " conv4-8psame") * 500 + "\n  gap conv3-16/2p1d2g4nb")
    fast = notation._flat(text)
    assert fast is not None
    grammar = notation._network(text, notation._transform(text, notation._run(text,
                                                                                 "start")))

    def positions(items):
        out = []
        for i in items:
            out.append((i, i.line, i.column))
            if isinstance(i, Repeat):
                out += positions(i.body)
        return out
    assert fast[0] is None
    assert positions(fast[1]) == positions(grammar.items)
    assert symcnn.parse(text) == grammar
    text = "\n input  224×224×3\n" + text
    grammar = notation._network(text, notation._transform(text, notation._run(text,
                                                                                 "start")))
    assert notation._flat(text)[0] == grammar.input == InputSpec(224, 224, 3)
    assert positions(notation._flat(text)[1]) == positions(grammar.items)
    assert symcnn.parse(text) == grammar


NOT_FLAT = [  # texts the grammar parses itself: names, blocks, comments, errors
    "conv3-k relu " * 3000, "conv3-8 relu # c\n" * 3000, "(conv3-8 relu) " * 3000,
    "relu input 8x8x3\n" + "relu " * 5000, "input 8x8\n" + "relu " * 5000,
    "relu " * 5000 + "x2", "relu " * 5000 + "conv3x64", "relu " * 5000 + "input 8x8x3",
    "input 8x8x3 input 8x8x3 " + "relu " * 5000,
]


@pytest.mark.parametrize("text", NOT_FLAT, ids=range(len(NOT_FLAT)))
def test_other_texts_take_the_grammar_path(text):
    assert notation._flat(text) is None


HUNDRED_THOUSAND = [  # (notation, input, params, activations) of 100,000 layers
    ("conv3-8 relu " * 50000, (32, 32, 3),
     CONV_FIRST + 49999 * CONV_NEXT, 32 * 32 * 3 + 100000 * 32 * 32 * 8),
    # the k-th conv3-8 runs on size 60001 − k, the k-th pool2/1 makes it 60000 − k
    ("conv3-8 pool2/1 " * 50000, (60000, 60000, 3), CONV_FIRST + 49999 * CONV_NEXT,
     60000**2 * 3 + 8 * sum((60001 - k)**2 + (60000 - k)**2 for k in range(1, 50001))),
]


@pytest.mark.parametrize("text, size, params, activations", HUNDRED_THOUSAND, ids=range(2))
def test_a_hundred_thousand_layers(text, size, params, activations):
    report = symcnn.analyze(text, size)
    assert len(report.rows) == 100000 + 1
    assert (report.totals["params"], report.totals["activations"]) == (params, activations)


def test_ten_thousand_branches():
    report = symcnn.analyze("cat(" + " | ".join(["conv1-1"] * 10000) + ")", (8, 8, 3))
    assert len(report.rows) == 1 + 10000 + 1
    assert report.rows[-1].out == (8, 8, 10000)
    assert report.totals["params"] == 10000 * (3 + 1)


def test_ten_million_blanks_use_little_memory():
    tracemalloc.start()
    try:
        network = symcnn.parse(" " * notation.MAX_TEXT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert network.items == ()
    assert peak < notation.MAX_TEXT * 8  # the text itself is 10 MB; it was 2.2 GB


TRANSLATING = [  # (notation, input, smallest input or None)
    # pool2/1 takes 1 off: 10⁹ of them need H ≥ 10⁹ + 1
    ("(pool2/1)x1000000000", (224, 224, 3), (G + 1, G + 1)),
    ("(pool2/1)x1000000000000", (224, 224, 3), None),     # H ≥ 10¹² + 1: none
    ("(conv3-8p0 relu)x1000", (224, 224, 3), (2 * 1000 + 1, 2 * 1000 + 1)),
    ("(pool2/1 pool3/1)x1000000", (224, 224, 3), (3 * 10**6 + 1, 3 * 10**6 + 1)),
    ("(pool2/1)x10000 pool2", (224, 224, 3), (10000 + 2, 10000 + 2)),
]


@pytest.mark.parametrize("text, size, minimum", TRANSLATING)
def test_shrinking_repeats_name_their_minimum(text, size, minimum):
    with pytest.raises(ShapeError) as e:
        symcnn.analyze(text, size)
    assert e.value.minimum == minimum
    if minimum is None:
        assert "every input size" in str(e.value)
    else:
        assert f"at least {minimum[0]}x{minimum[1]}" in str(e.value)
        assert minimum_input(symcnn.parse(text)) == minimum


# ------------------------------------------------------------ the smallest input

MINIMUM = [  # (notation, smallest input, channels to analyse with)
    ("aux(pool5 gap fc10) conv1-8 pool2 pool2", (4, 4), 3),   # the aux head does not run
    ("input HxWx64 res(conv3-64 bn relu conv3-64 bn)", (1, 1), 64),
    ("input HxWx64 res(conv3-64 bn) pool2 pool2 pool2", (8, 8), 64),
    # pool3/2 then pool2: ⌊(H − 3)/2⌋ + 1 ≥ 2, so H ≥ 5; the head (pool5/3) would need 13
    ("pool3/2 aux(pool5/3 conv1-8 gap fc10) pool2", (5, 5), 3),
]


@pytest.mark.parametrize("text, smallest, c", MINIMUM)
def test_minimum_input_is_the_smallest_that_runs(text, smallest, c):
    net = symcnn.parse(text)
    assert minimum_input(net) == smallest
    symcnn.analyze(text, (*smallest, c))
    for h, w in ((smallest[0] - 1, smallest[1]), (smallest[0], smallest[1] - 1)):
        if h and w:
            with pytest.raises(ShapeError) as e:
                symcnn.analyze(text, (h, w, c))
            assert e.value.minimum == smallest


def test_an_aux_head_that_cannot_run_still_counts_its_params():
    report = symcnn.analyze("aux(pool5 gap fc10) conv1-8 pool2 pool2", (4, 4, 3))
    assert report.totals["params"] == (3 * 10 + 10) + (3 * 8 + 8)


def test_inception_v3_minimum_ignores_the_aux_head():
    net = symcnn.zoo.load("inception_v3")
    assert minimum_input(net) == (75, 75)
    symcnn.analyze("inception_v3", (75, 75, 3))
    with pytest.raises(ShapeError) as e:
        symcnn.analyze("inception_v3", (74, 75, 3))
    assert e.value.minimum == (75, 75)


def test_minimum_input_takes_the_channels():
    net = symcnn.parse("res(conv3-64 bn) pool2")
    assert minimum_input(net) is None               # a symbolic C is not 64
    assert minimum_input(net, channels=64) == (2, 2)
    with pytest.raises(ShapeError) as e:
        symcnn.analyze(net, (1, 1, 64))
    assert e.value.minimum == (2, 2)


# ------------------------------------------------------------ width names

RESERVED = [  # (notation, line, column of the name)
    ("conv3-8 fc{H}", 1, 12),
    ("conv3-W", 1, 7),
    ("conv1-B relu", 1, 7),
    ("conv3-8 fc{2*W+1}", 1, 14),
    ("input AxBx3\nconv3-A", 2, 7),
    ("def f(w) = conv3-C\nf(4)", 1, 18),
    ("def f(w, s=H) = conv3-w/s\nf(4)", 1, 12),
    ("def f(w) = conv3-w\nf(H)", 2, 3),
]


@pytest.mark.parametrize("text, line, column", RESERVED)
def test_widths_named_like_the_input_are_refused(text, line, column):
    with pytest.raises(NotationError) as e:
        symcnn.parse(text)
    assert (e.value.line, e.value.column) == (line, column)
    assert "a width cannot be named" in e.value.message


def test_a_parameter_named_like_the_input_is_bound_not_free():
    report = symcnn.analyze("def f(H) = conv3-H\nf(4)", (8, 8, 3))
    assert report.totals["params"] == 3 * 3 * 3 * 4 + 4


def test_a_width_named_like_a_given_input_symbol_is_refused():
    with pytest.raises(NotationError) as e:
        symcnn.analyze("conv3-8 fc{K}", ("K", "L", 3))
    assert (e.value.line, e.value.column) == (1, 9)
    assert symcnn.analyze("conv3-8 fc{K}", (4, 4, 3)).totals["params"] == \
        CONV_FIRST + (4 * 4 * 8 + 1) * sympy.Symbol("K", positive=True, integer=True)


# ------------------------------------------------------------ hints

HINTS = [  # (notation, column, words the message must contain)
    ("conv3x64 relu", 9, "conv3x64 reads as a 3×64 kernel; for 64 filters write conv3-64"),
    ("conv3x64", 9, "for 64 filters write conv3-64"),
    ("relu conv3x64/2", 14, "for 64 filters write conv3-64"),
    ("dw3-64 relu", 4, "dw takes no filter count: a depthwise conv keeps the channels; "
                       "write dw3"),
    ("relu DW3/2-64", 11, "write DW3/2"),
]


@pytest.mark.parametrize("text, column, words", HINTS)
def test_hints(text, column, words):
    with pytest.raises(NotationError) as e:
        symcnn.parse(text)
    assert e.value.column == column
    assert words in e.value.message


def test_the_times_sign_symcnn_prints_reads_as_x():
    assert symcnn.parse("input 224×224×3\nrelu").input == InputSpec(224, 224, 3)
    assert symcnn.parse("input H×W×3\nrelu").input == InputSpec("H", "W", 3)
    assert symcnn.analyze("relu", "224×224×3").totals["activations"] == 2 * 224 * 224 * 3
    assert propagate(symcnn.parse("relu"), notation.parse_input("2×3×4"))[-1].out == (2, 3, 4)


SETTLING = [  # (notation, smallest input): sizes that settle, and what comes after them
    # conv3/2 (padding 1) is ⌈x/2⌉: after 30 of them, ⌈H/2^30⌉ ≥ 2 needs H ≥ 2^30 + 1
    ("(conv3-8/2)x30 conv2-8p0", (2**30 + 1, 2**30 + 1)),
    # after pool2: ⌈⌊H/2⌋/2^30⌉ ≥ 2 needs ⌊H/2⌋ ≥ 2^30 + 1
    ("pool2 (conv3-8/2)x30 conv2-8p0", (2 * (2**30 + 1), 2 * (2**30 + 1))),
    ("(conv3-8/2)x60 gap fc10", (1, 1)),
    ("pool2 (conv3-8/2)x60 fc10", (2, 2)),              # 1×1 from H = 2 on
    ("pool3/1 (conv3-8/2)x1000000000 fc10", (3, 3)),
    # conv4/2 (padding 2) is ⌊x/2⌋ + 1: it settles at 1 (H = 1) or 2 (H ≥ 2)
    ("(conv4-8/2)x1000000 conv2-8p0", (2, 2)),
    ("(conv3-8/2)x50 conv2-8p0", None),                 # would need H > 2^49 > 10¹²
]


@pytest.mark.parametrize("text, smallest", SETTLING)
def test_settled_sizes_keep_their_minimum(text, smallest):
    assert minimum_input(symcnn.parse(text)) == smallest
    if smallest is None:
        with pytest.raises(ShapeError, match="every input size"):
            symcnn.analyze(text, (224, 224, 3))
        return
    symcnn.analyze(text, (*smallest, 3))
    if smallest[0] > 1:
        with pytest.raises(ShapeError) as e:
            symcnn.analyze(text, (smallest[0] - 1, smallest[1], 3))
        assert e.value.minimum == smallest


EMPTY_EVERYWHERE = [  # shrinking repeats that no input survives fail at once, symbolic too
    # pool2/1 takes 1 off: 10¹² of them need H ≥ 10¹² + 1
    ("(pool2/1)x1000000000000", "pool2/1"),
    # each iteration takes 2 + 1 off: 4·10¹¹ of them need H ≥ 1.2·10¹² + 1
    ("relu (conv3-8p0 add(pool2/1 | pool2/1))x400000000000", "conv3-8p0"),
]


@pytest.mark.parametrize("text, layer", EMPTY_EVERYWHERE)
def test_repeats_empty_for_every_input_fail_at_once(text, layer):
    for size in (None, (224, 224, 3)):
        with pytest.raises(ShapeError) as e:
            symcnn.analyze(text, size)
        assert e.value.minimum is None and e.value.layer == layer
        assert "empty for every input size up to 1,000,000,000,000" in str(e.value)
