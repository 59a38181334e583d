"""The inference peak as a line in the batch: at a concrete input every moment of the
simulated forward holds fixed + per_image·B bytes, so the peak is the largest of these
lines and, from some batch on, the steepest one: ``memory["inference_peak_by_batch"]``."""

from __future__ import annotations

import pytest

import symcnn
from symcnn.expand import expand
from symcnn.memory import inference_line

# (network, input, fixed, per_image): expected values as arithmetic
CASES = [
    # conv1-3 on 2 channels: 2·3 weights + 3 biases; the input (4·4·2) and the output (4·4·3)
    ("input 4x4x2 conv1-3", None, (2 * 3 + 3) * 4, (4 * 4 * 2 + 4 * 4 * 3) * 4),
    # relu_ allocates nothing: the peak is the conv's input and output
    ("input 8x8x1 conv3-4p1 relu_", None, (9 * 4 + 4) * 4, (64 * 1 + 64 * 4) * 4),
    # relu out of place: the conv's output and the relu's output (the input is freed)
    ("input 8x8x1 conv3-4p1 relu", None, (9 * 4 + 4) * 4, 64 * 1 * 4 + 2 * 64 * 4 * 4),
]


@pytest.mark.parametrize("net, size, fixed, per_image", CASES)
def test_inference_line_by_hand(net, size, fixed, per_image):
    r = symcnn.analyze(net, size)
    assert inference_line(expand(r.network), r.rows) == (fixed, per_image, 1)
    assert r.memory["inference_peak_by_batch"] == {"fixed": fixed, "per_image": per_image,
                                                   "from_batch": 1}


NETWORKS = [("resnet50", "224x224x3"), ("resnet18", "225x227x3"), ("vgg16", "160x240x3"),
            ("mobilenet_v3_small", "97x81x3"), ("densenet121", "64x64x3"),
            ("inception_v3", "299x299x3"), ("efficientnet_b0", "100x120x3"),
            ("fcn_resnet50", "129x97x3"), ("unet", "188x188x1"),
            ("input 16x16x3 (conv3-8p1 bn relu_)x2 res_(conv3-8p1 bn | ) pool gap fc10", None)]


@pytest.mark.parametrize("device", ["cuda", "cpu"])
@pytest.mark.parametrize("net, size", NETWORKS)
def test_the_line_is_the_peak_at_every_batch(net, size, device):
    by = symcnn.analyze(net, size, device=device).memory["inference_peak_by_batch"]
    for batch in (1, 2, 3, 8, 31):
        got = symcnn.analyze(net, size, batch=batch, device=device).memory["inference_peak"]
        if batch >= by["from_batch"]:
            assert got == by["fixed"] + by["per_image"] * batch


def test_the_line_is_printed_and_in_json():
    r = symcnn.analyze("input 4x4x2 conv1-3", batch=8)
    assert "at this input, for every batch B ≥ 1: 36 + 320·B bytes" in r.to_table()
    assert '"per_image": 320' in r.to_json()
    assert r.memory["inference_peak"] == 36 + 320 * 8


def test_no_line_for_a_symbolic_input():
    assert "inference_peak_by_batch" not in symcnn.analyze("conv3-8 relu").memory
