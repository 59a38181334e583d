"""symcnn against real PyTorch: every network is rebuilt in plain ``torch.nn`` and run,
through ``symcnn.torch.verify``.

For each case the torch model (``symcnn.torch.to_torch``) must agree with
``symcnn.analyze`` exactly on
- parameters (and the split into weights and biases) and batch-norm running statistics,
- every layer's output shape and params, in order (symcnn's rows stand for ``count``
  copies each: every copy torch runs is checked),
- MACs, in total and layer by layer (``FlopCounterMode`` FLOPs // 2),
- activations (input elements + every layer's output elements, merges included).

Large networks are built and run on the ``meta`` device: parameters and activations have
shapes but no storage, so a 138M-parameter VGG costs nothing to build, and FlopCounterMode
counts from shapes alone. The small hand-made networks run on both ``meta`` and the CPU,
so the meta kernels' shape rules are themselves checked.

torch is an optional dependency: without it these tests are skipped locally, but they
fail when the ``CI`` environment variable is set (CI must install torch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import symcnn
from symcnn import zoo
from symcnn.errors import ShapeError
from symcnn.layers import ACTIVATIONS, FC, AdaptiveAvgPool, Elementwise, Network
from symcnn.shapes import minimum_input

TORCH_REQUIRED = "torch is required in CI: pip install torch==2.13.0"

try:
    import torch
    from symcnn.torch import format_table, to_torch, verify
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
    if not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH"):  # absent on purpose
        pytest.skip("torch is not installed (pip install torch==2.13.0 to cross-check "
                    "symcnn against PyTorch); set CI=1 to make this a failure",
                    allow_module_level=True)
else:
    torch.set_num_threads(2)


def test_torch_is_installed():
    """The one test that fails in CI when torch is missing."""
    assert torch is not None, TORCH_REQUIRED


@pytest.fixture(autouse=True)
def _torch_available(request):
    """Without torch (and CI set) the other tests cannot run: they are skipped and
    test_torch_is_installed fails the run with the install hint."""
    if torch is None and request.node.name != "test_torch_is_installed":
        pytest.skip(f"torch is missing; see test_torch_is_installed ({TORCH_REQUIRED})")


TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "examples"


def crosscheck(source, size: tuple[int, int, int], device: str = "meta"):
    """verify() ``source`` (notation, Network or zoo name) at ``size`` = (H, W, C) on
    ``device``; every row and total must agree. Returns the VerifyResult."""
    result = verify(source, size, device=device)
    assert result.ok, "\n" + format_table(result)
    assert result.device == device  # no silent fallback: the meta kernels cover everything
    rows = result.report.rows
    assert [r.index for r in result.rows] == list(range(len(rows)))
    assert all(r.runs == r.count for r in result.rows)
    assert result.rows[0].torch_shape == (1, size[2], size[0], size[1])
    assert set(result.totals) == {"params", "weights", "biases", "buffers", "activations",
                                  "macs", "flops"}
    for quantity in ("params", "weights", "biases", "activations", "macs", "flops"):
        assert result.totals[quantity][0] == result.report.totals[quantity], quantity
    return result


def torch_total(result, quantity: str) -> int:
    return result.totals[quantity][1]


# ---------------------------------------------------------------- the VGGs and examples

ZOO_SIZES = [(224, 224, 3), (225, 225, 3), (160, 240, 3), (32, 32, 3)]
VGGS = ["vgg11", "vgg13", "vgg16", "vgg19"]


def _size_id(size) -> str:
    return "x".join(map(str, size))


@pytest.mark.parametrize("size", ZOO_SIZES, ids=_size_id)
@pytest.mark.parametrize("name", VGGS)
def test_vgg(name, size):
    crosscheck(name, size)


# torchvision's parameter counts for its VGGs (independent of the input size)
TORCHVISION_PARAMS = {"vgg11": 132_863_336, "vgg13": 133_047_848,
                      "vgg16": 138_357_544, "vgg19": 143_667_240}


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_vgg_params_match_torchvision(name):
    result = crosscheck(name, (224, 224, 3))
    assert torch_total(result, "params") == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("name", VGGS)
def test_vgg_smallest_input(name):
    """32x32 is the smallest input (checked above); one less on either axis fails in
    symcnn and in torch alike."""
    network = zoo.load(name)
    assert minimum_input(network) == (32, 32)
    features = Network(tuple(x for x in network.items
                             if not isinstance(x, (FC, AdaptiveAvgPool, Elementwise))))
    model = to_torch(features, (32, 32, 3), device="meta")
    for h, w in [(31, 32), (32, 31), (31, 31)]:
        with pytest.raises(ShapeError):
            symcnn.analyze(name, input=(h, w, 3))
        # torch cannot even size the classifier: its feature extractor (the convolutions
        # and pools, built for a valid size) already fails on (h, w)
        with pytest.raises(RuntimeError, match="too small"), torch.no_grad():
            model(torch.zeros(1, 3, h, w, device="meta"))


def _example(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


EXAMPLE_CASES = [
    ("vgg16_cs231n.cnn", (224, 224, 3)),
    ("vgg16_cs231n.cnn", (227, 227, 3)),
    ("vgg16_cs231n.cnn", (64, 96, 3)),
    ("alexnet_one_tower.cnn", (224, 224, 3)),
    ("alexnet_one_tower.cnn", (227, 227, 3)),
    ("vgg16_paper.cnn", (224, 224, 3)),
    ("vgg16_paper.cnn", (97, 131, 3)),
]

# Published values (CS231n's notes; torchvision's AlexNet features + classifier).
KNOWN = {
    ("vgg16_cs231n.cnn", (224, 224, 3)): {"params": 138_357_544, "activations": 15_237_608},
    ("alexnet_one_tower.cnn", (224, 224, 3)): {"params": 61_100_840, "macs": 714_188_480},
}


@pytest.mark.parametrize("name,size", EXAMPLE_CASES,
                         ids=[f"{n[:-4]}-{_size_id(s)}" for n, s in EXAMPLE_CASES])
def test_examples(name, size):
    result = crosscheck(_example(name), size)
    for quantity, value in KNOWN.get((name, size), {}).items():
        assert result.report.totals[quantity] == value, quantity
        assert torch_total(result, quantity) == value, quantity


def test_cpu_matches_meta_on_a_real_vgg():
    """One real CPU forward through a zoo network, at its smallest input."""
    crosscheck("vgg11", (32, 32, 3), device="cpu")


# ---------------------------------------------------------------- every zoo model

REFERENCE = json.loads((TESTS / "data" / "torch_reference.json").read_text())["models"]


# U-Net needs at least 188×188 (and one channel): its own sizes stand in for the three
UNET_SIZES = {(224, 224): (572, 572), (225, 225): (573, 571), (160, 240): (252, 380)}


def _size(name: str, size) -> tuple[int, int, int]:
    """``size`` (or the smallest input) with the channels of the file's input line."""
    from symcnn.shapes import minimum_input
    spec = symcnn.zoo.load(name).input
    c = spec.channels if spec is not None and isinstance(spec.channels, int) else 3
    if size == "smallest":
        return (*minimum_input(symcnn.analyze(name).network), c)
    h, w = UNET_SIZES[size[:2]] if name == "unet" else size[:2]
    return (h, w, c)


@pytest.mark.parametrize("size", [(224, 224, 3), (225, 225, 3), (160, 240, 3), "smallest"],
                         ids=lambda s: s if isinstance(s, str) else _size_id(s))
@pytest.mark.parametrize("name", symcnn.zoo_names())
def test_zoo(name, size):
    size = _size(name, size)
    result = crosscheck(name, size)
    # The torch model built from the notation also matches the numbers measured on
    # torchvision-style reference implementations (tests/data/torch_reference.json).
    ref = REFERENCE.get(name)
    if ref is not None:
        assert torch_total(result, "params") == ref["params"]
        assert torch_total(result, "buffers") == ref["buffers"]
        by_size = ref["by_size"].get(f"{size[0]}x{size[1]}")
        if by_size is not None:
            assert torch_total(result, "macs") == by_size["macs"]


# ---------------------------------------------------------------- small hand-made networks

SMALL_CASES = [
    # strides and explicit padding
    ("conv3-8/2 conv5-4/3p0 conv3-6p2", (31, 45, 3)),
    ("conv7-16/2p3 pool3/2p1 conv3-16 conv3-32/2", (33, 29, 3)),
    ("conv4-5/2p1 conv2-3p0 conv1-7/2p0", (17, 17, 1)),
    # non-square kernels (padding ⌊K/2⌋ per axis by default)
    ("conv1x7-8 conv7x1-8 conv3x5-4/2 conv2x4-4p1", (31, 45, 3)),
    ("conv1x3-6/2 conv5x1-2p0", (17, 23, 2)),
    # max and average pools, strides, padding, floor mode
    ("pool3/2p1 avgpool3/2 pool", (31, 45, 3)),
    ("conv3-4 avgpool3/2p1 pool2/1 avgpool5/3 pool3p1", (45, 31, 3)),
    ("avgpool2 avgpool3/1 conv3-2", (17, 17, 1)),
    # adaptive pools: shrinking, non-square, and growing a small map
    ("conv3-8/2 adaptiveavgpool3x5 fc10", (31, 45, 3)),
    ("pool2 adaptiveavgpool7 conv3-4", (17, 17, 1)),
    ("adaptiveavgpool1 conv1-5 adaptiveavgpool2x3", (17, 23, 3)),
    # fully connected in the middle, then convolutions and pools on the 1x1 map
    ("conv3-4/2 fc12 conv1-6 relu fc5 conv3-3 pool1", (17, 17, 1)),
    ("fc7 conv1-4 dropout fc3 softmax", (31, 45, 3)),
    # parameter-free layers keep shapes and cost nothing
    ("conv3-8 relu lrn dropout softmax conv3-4 soft-max relu", (17, 23, 3)),
    # repeats: plain, grouped, nested, and bodies that return to their starting shape
    ("((conv3-8 relu)x2 pool)x2", (31, 45, 3)),
    ("((conv3-8 relu)x2 pool)x2 fc10", (17, 17, 1)),
    ("(conv1-16 conv1-8)x3 conv3-8x2", (9, 11, 8)),
    ("((conv1-4 relu)x3 (conv3-4)x2)x3 pool3/2p1", (13, 7, 4)),
    ("(conv3-6/2 relu)x3 conv3-6x4 (fc6)x3", (31, 45, 3)),
    ("conv3-4x3 (conv3-4 (conv1-4 conv3-4p0)x2)x2", (31, 45, 3)),
]

RESBLOCK = ("def b(w, s=1) = (res(conv1-wnb bn relu conv3-w/snb bn | conv1-w/snb bn) relu)\n"
            "b(8) b(16, 2)x2")

NEW_CASES = [
    # transposed convs: stride, padding, output padding, dilation, groups, no bias
    ("conv3-8 tconv2-4/2 tconv3-6/2p1o1 relu tconv4-6/3p2d2g2nb", (7, 9, 3)),
    ("tconv3x5-8 tconv1-4/3o2", (5, 11, 4)),
    # upsampling: by a scale, to a size, to the input's, to the merge's input's
    ("conv3-8/2 nearest2 conv3-4/2 bilinear2x3 pool2", (31, 29, 3)),
    ("conv3-8/2 pool2 bilinear-13x17 conv3-4/2 nearest-input", (31, 29, 3)),
    ("conv3-8/2 cat(conv1-8 | gap conv1-8 bn relu bilinear-branch | pool2 nearest-branch)",
     (15, 17, 3)),
    # heads that run beside the main path; element-wise products of branches
    ("conv3-8/2 head(conv1-2 bilinear-input) conv3-4/2 head(conv1-3 nearest-branch) fc5",
     (16, 18, 3)),
    ("mul(conv1-8 relu | gap conv1-8 sigmoid) add(conv3-8 | mul( | conv1-8 sigmoid))",
     (15, 17, 3)),
    # crops to a merge's size (U-Net's skip connections), odd sizes
    ("conv3-8p0 cat(crop | pool2 conv3-16p0 tconv2-8/2) conv3-4p0", (61, 67, 1)),
    ("add(conv3-8p0 conv3-8p0 | crop relu) cat(crop | conv5-4p0)", (33, 20, 8)),
    # channel split and shuffle (ShuffleNet V2's units), odd sizes, three-way split
    ("conv3-24/2 split( | conv1-12nb bn relu dw3nb bn conv1-12nb bn relu) shuffle", (29, 35, 3)),
    ("conv3-12 cat(dw3/2nb bn conv1-6nb | conv1-6 dw3/2) shuffle split(relu | conv1-6)",
     (31, 18, 3)),
    ("conv1-9 split(conv1-4 | dw3 | pool3/1p1) gap fc7", (13, 11, 2)),
    ("input 16x16x8 (split( | conv3-4 bn relu) shuffle)x3", (16, 16, 8)),
    # group norm, PReLU, zero channel padding (CIFAR option A shortcut), repeats of 0
    ("conv3-16 gn4 prelu conv3-32/2 gn8 relu pad48 gap fc10", (17, 19, 3)),
    ("res(conv3-32/2nb bn relu conv3-32nb bn | pool1/2 pad32) relu (conv3-8)x0 fc10",
     (33, 31, 16)),
    ("def b(r) = ((conv3-8 relu)x{r-1}) conv3-8 b(1) b(3) gn2", (9, 9, 3)),
    # convolution options: stride, padding, dilation, groups, no bias
    ("conv3-16/2p1d2g4nb", (31, 45, 8)),
    ("conv3-16/2p1d2g4nb", (30, 17, 4)),
    ("conv3-8d3 conv5-8/2d2p4 conv3-12g4 conv1-6g2nb", (29, 35, 4)),
    # PyTorch's 'same' padding, odd and even kernels, with dilation (asymmetric padding)
    ("conv3-8psame conv4-6psame conv2x5-4psamed2 conv1x4-4psamenb", (17, 23, 3)),
    # depthwise
    ("dw3/2", (31, 45, 6)),
    ("conv1-12 dw3 dw5/2p1 dw3/3d2nb dw1x7", (33, 27, 3)),
    # batch norm (params and running statistics)
    ("conv3-8nb bn relu conv3-4/2 bn", (19, 25, 3)),
    ("bn", (7, 9, 5)),
    # every activation (swish is silu)
    ("conv3-8 " + " ".join(ACTIVATIONS) + " swish soft-max", (13, 21, 3)),
    # ceil-mode pools: the last window may hang over, but never starts in the padding
    ("pool3/2ceil", (32, 46, 3)),
    ("pool3/2ceil", (31, 44, 3)),
    ("pool3/1p1ceil", (17, 22, 3)),
    ("avgpool2/3ceil", (31, 44, 3)),
    ("avgpool2/3ceil", (29, 7, 3)),
    ("conv3-4 pool3/2ceil pool3/1p1ceil avgpool2/3ceil pool2/2p1ceil avgpool3/2p1ceil",
     (57, 41, 3)),
    # global and adaptive average pools
    ("gap", (13, 21, 3)),
    ("conv3-8/2 gap fc10", (31, 45, 3)),
    # residuals: identity and projection shortcuts
    ("conv3-8 res(conv3-8 bn relu conv3-8 bn)", (33, 29, 3)),
    ("conv3-8 res(conv3-16/2 bn | conv1-16/2 bn)", (33, 29, 3)),
    ("conv3-8 res(conv3-16/2 bn | conv1-16/2 bn) relu", (34, 28, 3)),
    ("conv1-8 res(conv3-8 bn)x5 add(conv3-8 | conv1-8 | )", (15, 11, 3)),
    ("conv1-8 res(res(conv3-8 relu) bn)x2", (9, 13, 3)),
    # concatenation (inception-style), with pools in a branch
    ("conv3-8 cat(conv1-8 | conv1-4 conv3-8 | pool3/1p1ceil conv1-4)", (31, 45, 3)),
    ("conv3-8 cat(conv3-8/2p0 | pool3/2)", (31, 44, 3)),
    # DenseNet-style: concatenation with the identity, repeated (channels grow)
    ("conv3-8 cat( | bn relu conv1-8 conv3-4)x3", (33, 29, 3)),
    ("conv3-8 (cat( | bn relu conv1-8 conv3-4)x3 bn conv1-6 avgpool2)x2", (35, 31, 3)),
    # squeeze-and-excitation
    ("conv3-8 se(4)", (31, 45, 3)),
    ("conv1-16 dw3/2 se(4) conv1-8 gap fc10", (29, 23, 3)),
    # definitions and calls
    (RESBLOCK, (31, 45, 3)),
    (RESBLOCK, (32, 30, 3)),
    ("def inc(a, b) = cat(conv1-anb bn relu | conv1-bnb bn relu conv3-anb bn relu)\n"
     "conv3-8/2 inc(8, 4) inc(4, 8)x2 gap fc5", (37, 23, 3)),
    # an auxiliary head: built and counted in params, not run (on an input where it can
    # run, and on one where it is too small to)
    ("conv3-8/2 aux(pool5/3 conv1-4 conv3-16p0 gap fc10) conv3-8 gap fc5", (61, 47, 3)),
    ("conv3-8/2 aux(pool5/3 conv1-4 conv3-16p0 gap fc10) conv3-8 gap fc5", (13, 11, 3)),
]


def _case_id(text, size) -> str:
    return f"{' '.join(text.split())}@{_size_id(size)}"


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("text,size", SMALL_CASES + NEW_CASES,
                         ids=[_case_id(t, s) for t, s in SMALL_CASES + NEW_CASES])
def test_small(text, size, device):
    crosscheck(text, size, device)


def test_repeats_collapse_into_counted_rows():
    """symcnn lists an iteration that keeps the shape once, with a count; torch runs every
    copy, and every copy is checked against that row."""
    result = crosscheck("conv1-4 (conv3-4 relu)x50 (conv3-4/2)x3 res(conv3-4 bn)x40",
                        (64, 64, 3))
    counts = [r.count for r in result.rows]
    assert 50 in counts and 40 in counts
    assert sum(r.count for r in result.rows[1:]) == 1 + 100 + 3 + 40 * 3


def test_cpu_model_runs_real_numbers():
    """to_torch gives an ordinary CPU module that runs real tensors, for any batch."""
    model = to_torch(RESBLOCK, (31, 45, 3))
    assert next(model.parameters()).device.type == "cpu"
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with torch.no_grad():
        out = model(torch.randn(2, 3, 31, 45))
    assert out.shape == (2, 16, 8, 12)
    assert torch.isfinite(out).all()
