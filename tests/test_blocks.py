"""Notation v2: blocks, branches, definitions, symbolic widths, and their errors."""

import re

import pytest
import sympy

import symcnn
from symcnn import NotationError, ShapeError
from symcnn.dims import size_symbol
from symcnn.formatting import display_rows

k, w = size_symbol("k"), size_symbol("w")

BASIC = "def basic(w, s=1) = (res(conv3-w/snb bn relu conv3-wnb bn | conv1-w/snb bn) relu)\n"


@pytest.mark.parametrize("text, inp, out, params, macs", [
    # residual with identity: conv3 (no bias) + bn, twice; the add has no cost
    ("res(conv3-8nb bn relu conv3-8nb bn)", (9, 9, 8), (9, 9, 8),
     2 * (3 * 3 * 8 * 8 + 2 * 8), 2 * 3 * 3 * 8 * 8 * 9 * 9),
    # projection shortcut, stride 2 on an odd size: ⌊(9 + 2 − 3)/2⌋ + 1 = 5
    ("res(conv3-16/2nb bn | conv1-16/2nb bn)", (9, 9, 8), (5, 5, 16),
     3 * 3 * 8 * 16 + 2 * 16 + 8 * 16 + 2 * 16, (3 * 3 * 8 * 16 + 8 * 16) * 5 * 5),
    # inception-style concatenation
    ("cat(conv1-8 | conv1-4 conv3-8 | pool3/1p1ceil conv1-4)", (7, 5, 3), (7, 5, 20),
     (3 * 8 + 8) + (3 * 4 + 4) + (9 * 4 * 8 + 8) + (3 * 4 + 4),
     (3 * 8 + 3 * 4 + 9 * 4 * 8 + 3 * 4) * 7 * 5),
    # dense layer: input concatenated with new features
    ("cat( | bn relu conv1-16nb bn relu conv3-4nb)x3", (6, 6, 8), (6, 6, 20),
     sum(2 * c + c * 16 + 2 * 16 + 9 * 16 * 4 for c in (8, 12, 16)),
     sum(c * 16 + 9 * 16 * 4 for c in (8, 12, 16)) * 36),
    # depthwise, grouped, dilated, 'same'
    ("dw3/2nb", (10, 10, 32), (5, 5, 32), 3 * 3 * 32, 3 * 3 * 32 * 25),
    ("conv3-64g4d2", (10, 10, 32), (10, 10, 64), 3 * 3 * 8 * 64 + 64, 3 * 3 * 8 * 64 * 100),
    ("conv4-8psame", (10, 11, 3), (10, 11, 8), 4 * 4 * 3 * 8 + 8, 4 * 4 * 3 * 8 * 110),
    # squeeze-and-excitation: C·sq + sq·C weights, sq + C biases, 2·C·sq MACs
    ("se(8)", (7, 7, 32), (7, 7, 32), 2 * 32 * 8 + 8 + 32, 2 * 32 * 8),
    ("bn", (7, 7, 32), (7, 7, 32), 2 * 32, 0),
    ("ln scale", (7, 7, 32), (7, 7, 32), 2 * 32 + 32, 0),
    # ConvNeXt block: depthwise 7x7, layer norm, pointwise 4C and C (as Linear), layer scale
    ("res(dw7 ln conv1-{4*8} gelu conv1-8 scale)", (5, 6, 8), (5, 6, 8),
     (49 * 8 + 8) + 2 * 8 + (8 * 32 + 32) + (32 * 8 + 8) + 8, (49 * 8 + 2 * 8 * 32) * 30),
    # definitions
    # (the shortcut is a projection in every call, stride 1 in the second)
    (BASIC + "basic(8, 2) basic(8)", (17, 17, 4), (9, 9, 8),
     (9 * 4 * 8 + 16 + 9 * 8 * 8 + 16 + 4 * 8 + 16) + (2 * (9 * 8 * 8 + 16) + 8 * 8 + 16),
     (9 * 4 * 8 + 9 * 8 * 8 + 4 * 8) * 81 + (2 * 9 * 8 * 8 + 8 * 8) * 81),
])
def test_block_costs(text, inp, out, params, macs):
    report = symcnn.analyze(text, inp)
    assert report.rows[-1].out == out or report.rows[-2].out == out
    assert report.totals["params"] == params
    assert report.totals["macs"] == macs


def test_merge_rows_count_as_activations():
    r = symcnn.analyze("res(relu)", (2, 3, 4))
    assert [row.kind for row in r.rows] == ["input", "elementwise", "add"]
    assert r.totals["activations"] == 3 * 24


def test_symbolic_widths_give_polynomials():
    r = symcnn.analyze("input 32x32x3 conv3-k bn relu conv3-{2k} pool fc10")
    expected = (27 * k + k) + 2 * k + (9 * k * 2 * k + 2 * k) + (16 * 16 * 2 * k * 10 + 10)
    assert sympy.expand(r.formulas["params"] - expected) == 0
    assert r.formula_input.symbols == ()


def test_width_multiplier_in_a_definition():
    r = symcnn.analyze("def blk(c) = (conv1-{c*w} relu)\nblk(8) blk(16)", (4, 4, 2))
    assert sympy.expand(r.totals["params"] - ((2 * 8 * w + 8 * w) + (8 * w * 16 * w + 16 * w))) == 0


def test_braced_arithmetic():
    r = symcnn.analyze("def f(a) = conv1-{(a+1)*2//3-1}\nf(10)", (1, 1, 1))
    assert r.rows[-1].out[2] == (10 + 1) * 2 // 3 - 1


def test_collapsed_blocks_are_listed_in_execution_order():
    r = symcnn.analyze("(conv1-16 conv1-8)x3", (4, 4, 8))
    names = [line.row.name for line in display_rows(r.rows)]
    assert names == ["input"] + ["conv1-16", "conv1-8"] * 3


def test_depth_groups_blocks():
    text = symcnn.analyze("resnet18", "224x224x3").to_table(depth=1)
    assert "down(128) (" in text and "basic(64) (" in text
    assert text.count("basic(64) (") == 2
    assert "Total params:          11,689,512" in text


def test_depth_keeps_the_branches_of_a_block_apart():
    # the branches of one res(…)/cat(…) are blocks of their own, each summed on its own
    text = symcnn.analyze("resnet18", "224x224x3").to_table(depth=2)
    assert "add(…) branch 1 (5 layers)  14×14×256" in text
    assert "add(…) branch 2 (2 layers)  14×14×256" in text  # the projection shortcut
    assert "(7 layers)" not in text
    lines = symcnn.analyze("cat(conv1-1 | conv1-2 relu)", (4, 4, 3)).to_table(depth=1)
    assert re.search(r"cat\(…\) branch 1 \(1 layer\) +4×4×1", lines)
    assert "cat(…) branch 2 (2 layers)  4×4×2" in lines


def test_aux_head_counts_params_only():
    r = symcnn.analyze("conv3-8 aux(pool conv1-4 gap fc10) conv3-8", (8, 8, 3))
    aux = [row for row in r.rows if row.aux]
    assert len(aux) == 4 and r.totals["params"] == (27 * 8 + 8) + (8 * 4 + 4) + (4 * 10 + 10) \
        + (9 * 8 * 8 + 8)
    assert r.totals["macs"] == (27 * 8 + 9 * 64) * 64
    # where the head could not run, its size-independent params still count
    r = symcnn.analyze("conv3-8 aux(pool5/3 conv5-4p0 gap fc10) conv3-8", (8, 8, 3))
    assert r.totals["params"] == (27 * 8 + 8) + (25 * 8 * 4 + 4) + (4 * 10 + 10) + (9 * 64 + 8)


@pytest.mark.parametrize("text, message", [
    (BASIC + "basic()", r"'basic' needs a value for w"),
    (BASIC + "basic(1, 2, 3)", r"'basic' takes 2 values, got 3"),
    ("nothere(3)", r"unknown block 'nothere' \(defined: none; built in: res, add, cat, se"),
    ("def a() = a()\na()", r"'a' calls itself \(a → a\)"),
    ("def a() = b()\ndef b() = (relu a())\na()", r"'a' calls itself \(a → b → a\)"),
    ("def f(s) = conv3-8/s\nf(k)", r"the stride must be a number here, but s leaves k"),
    ("conv3-8/{k}", r"the stride must be a number here"),
    ("def f(a) = conv3-{a-5}\nf(3)", r"the filter count is \{a-5\} = -2; it must be between 1"),
    ("def f(a) = relu\ndef f(b) = relu", r"'f' is defined twice"),
    ("def res(a) = relu", r"'res' is built in"),
    ("def f(a, a) = relu", r"a parameter of 'f' is named twice"),
    ("res(64)", r"res\(…\) takes layers"),
    ("res(relu | relu | relu)", r"res\(body \| shortcut\) takes at most two"),
    ("cat()", r"cat\(…\) needs at least one layer"),
    ("se(1, 2)", r"se\(…\) takes one value"),
    ("conv3-8/2/2", r"the stride is given twice"),
    ("dw3g2", r"a depthwise conv has one group per channel"),
    ("pool3d2", r"expected whitespace between layers after 'pool3', found 'd2'"),
    ("conv3-{k//0}", r"division by zero"),
])
def test_definition_and_block_errors(text, message):
    with pytest.raises(NotationError, match=message):
        symcnn.analyze(text, (8, 8, 3))


@pytest.mark.parametrize("text, message", [
    ("res(conv3-16/2 bn)", r"layer add\(…\) at line 1, column 1: the branches of add\(…\) must "
     r"give the same shape: branch 1 gives 4×4×16; branch 2 \(identity\) gives 8×8×3 \(a "
     r"residual whose body changes the shape needs a projection shortcut"),
    (BASIC + "def bad(w) = res(conv3-wnb bn)\nbasic(8) bad(16)",
     r"layer add\(…\) in bad\(16\) at line 2, column 14: the branches of add"),
    ("cat(conv3-8 | conv3-8/2)", r"must give the same height and width"),
    ("conv3-6g4", r"the input channel count 3 is not divisible by its 4 groups"),
    ("conv3-6/2psame", r"padding 'same' needs stride 1"),
])
def test_shape_errors_name_the_block(text, message):
    with pytest.raises(ShapeError, match=message):
        symcnn.analyze(text, (8, 8, 3))


def test_residual_mismatch_is_found_symbolically_too():
    with pytest.raises(ShapeError, match=r"branch 1 gives ⌊\(H \+ 1\)/2⌋×⌊\(W \+ 1\)/2⌋×16"):
        symcnn.analyze("res(conv3-16/2 bn)")


def test_ceil_mode_against_torch_rule():
    # PyTorch: ⌈(x + 2p − k)/s⌉ + 1, minus one if the last window starts in the padding.
    def torch_rule(x, k, s, p):
        out = -((x + 2 * p - k) // -s) + 1
        return out - 1 if (out - 1) * s >= x + p else out
    for k_, s_, p_ in [(3, 2, 0), (3, 2, 1), (2, 2, 0), (3, 3, 1), (2, 3, 0), (3, 1, 1),
                       (5, 4, 2), (1, 3, 0)]:
        for x in range(max(1, k_ - 2 * p_), 60):
            r = symcnn.analyze(f"pool{k_}/{s_}p{p_}ceil", (x, x, 1))
            assert r.rows[-1].out[0] == torch_rule(x, k_, s_, p_), (k_, s_, p_, x)
            f = symcnn.analyze(f"pool{k_}/{s_}p{p_}ceil").rows[-1].out[0]
            assert f.at(x) == torch_rule(x, k_, s_, p_)
