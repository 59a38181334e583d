"""Per-layer costs: one case per layer kind, expected values written as arithmetic."""

import pytest
import sympy

import symcnn
from symcnn.dims import size_symbol

H, W, C = (size_symbol(s) for s in "HWC")


def last(text, inp):
    report = symcnn.analyze(text, inp)
    return report.rows[-1]


# notation, input, output (h, w, c), weights, biases, macs
CASES = [
    ("conv3-64", (224, 224, 3), (224, 224, 64), 3 * 3 * 3 * 64, 64, 3 * 3 * 3 * 64 * 224 * 224),
    ("conv11-64/4p2", (224, 224, 3), (55, 55, 64), 11 * 11 * 3 * 64, 64,
     11 * 11 * 3 * 64 * 55 * 55),
    ("conv11-96/4p0", (227, 227, 3), (55, 55, 96), 11 * 11 * 3 * 96, 96,
     11 * 11 * 3 * 96 * 55 * 55),
    ("conv7-64/2p3", (225, 225, 3), (113, 113, 64), 7 * 7 * 3 * 64, 64,
     7 * 7 * 3 * 64 * 113 * 113),
    ("conv1x7-128", (17, 17, 768), (17, 17, 128), 1 * 7 * 768 * 128, 128,
     1 * 7 * 768 * 128 * 17 * 17),
    ("conv5-16p0", (14, 14, 6), (10, 10, 16), 5 * 5 * 6 * 16, 16, 5 * 5 * 6 * 16 * 10 * 10),
    ("conv4-8/2", (9, 9, 1), (5, 5, 8), 4 * 4 * 1 * 8, 8, 4 * 4 * 8 * 5 * 5),  # pad 2
    ("pool", (224, 224, 64), (112, 112, 64), 0, 0, 0),
    ("pool", (225, 227, 64), (112, 113, 64), 0, 0, 0),  # floor mode drops the last row
    ("pool3/2", (55, 55, 64), (27, 27, 64), 0, 0, 0),
    ("pool3/2p1", (112, 112, 64), (56, 56, 64), 0, 0, 0),
    ("avgpool3/1p1", (7, 9, 5), (7, 9, 5), 0, 0, 0),
    ("adaptiveavgpool7", (14, 14, 512), (7, 7, 512), 0, 0, 0),
    ("adaptiveavgpool7", (1, 3, 512), (7, 7, 512), 0, 0, 0),  # upsamples like torch
    ("fc4096", (7, 7, 512), (1, 1, 4096), 7 * 7 * 512 * 4096, 4096, 7 * 7 * 512 * 4096),
    ("fc-10", (1, 1, 84), (1, 1, 10), 84 * 10, 10, 84 * 10),
    ("relu", (5, 6, 7), (5, 6, 7), 0, 0, 0),
    ("dropout", (5, 6, 7), (5, 6, 7), 0, 0, 0),
    ("softmax", (1, 1, 1000), (1, 1, 1000), 0, 0, 0),
    ("lrn", (55, 55, 96), (55, 55, 96), 0, 0, 0),
]


@pytest.mark.parametrize("text, inp, out, weights, biases, macs", CASES)
def test_layer(text, inp, out, weights, biases, macs):
    row = last(text, inp)
    assert row.out == out
    assert (row.weights, row.biases, row.params) == (weights, biases, weights + biases)
    assert row.macs == macs
    assert row.activations == out[0] * out[1] * out[2]


@pytest.mark.parametrize("text, out, weights, macs", [
    ("conv3-64", (H, W, 64), 3 * 3 * 64 * C, 3 * 3 * 64 * C * H * W),
    ("conv5-8p0", (H - 4, W - 4, 8), 5 * 5 * 8 * C, 5 * 5 * 8 * C * (H - 4) * (W - 4)),
    ("conv3-8/2", (sympy.floor((H + 1) / 2), sympy.floor((W + 1) / 2), 8), 72 * C,
     72 * C * sympy.floor((H + 1) / 2) * sympy.floor((W + 1) / 2)),
    ("pool", (sympy.floor(H / 2), sympy.floor(W / 2), C), 0, 0),
    ("fc10", (1, 1, 10), 10 * C * H * W, 10 * C * H * W),
])
def test_layer_symbolic(text, out, weights, macs):
    row = symcnn.analyze(text).rows[-1]
    assert tuple(sympy.sympify(getattr(x, "expr", lambda: x)()) for x in row.out) == out
    assert sympy.expand(row.weights - weights) == 0
    assert sympy.expand(row.macs - macs) == 0


def test_input_row_and_activation_total():
    report = symcnn.analyze("conv3-8 pool", (10, 10, 3))
    first = report.rows[0]
    assert (first.name, first.out, first.params) == ("input", (10, 10, 3), 0)
    assert report.totals["activations"] == 10 * 10 * 3 + 10 * 10 * 8 + 5 * 5 * 8


def test_repeat_that_keeps_the_shape_is_closed_form():
    report = symcnn.analyze("conv3-64x1000000000", (224, 224, 3))
    assert [r.count for r in report.rows] == [1, 1, 10**9 - 1]
    assert report.totals["params"] == (27 * 64 + 64) + (10**9 - 1) * (9 * 64 * 64 + 64)
    assert report.totals["macs"] == 224 * 224 * (27 * 64 + (10**9 - 1) * 9 * 64 * 64)


def test_nested_repeats_multiply():
    report = symcnn.analyze("((conv3-8x100)x100)x100", (32, 32, 8))
    assert report.totals["params"] == 10**6 * (9 * 8 * 8 + 8)
    assert sum(r.count for r in report.rows[1:]) == 10**6


def test_growing_repeat_beyond_the_limit_is_refused():
    with pytest.raises(symcnn.NotationError, match="more than 100,000 distinct layers"):
        symcnn.analyze("(conv1-8p1)x1000000")  # grows by 2 each time


def test_batch_and_dtype_scale_memory_not_params():
    one = symcnn.analyze("conv3-8", (4, 4, 1))
    many = symcnn.analyze("conv3-8", (4, 4, 1), batch=32, dtype="float16")
    assert many.totals == one.totals  # totals are per image
    d = many.to_dict()
    assert d["per_batch"]["macs"] == 32 * one.totals["macs"]
    assert d["memory_bytes"]["activations"] == 2 * one.totals["activations"]
    assert d["bytes_per_element"] == 2
