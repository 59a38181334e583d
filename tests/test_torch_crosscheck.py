"""symcnn against real PyTorch: every network is rebuilt in plain ``torch.nn`` and run.

For each case the torch model must agree with ``symcnn.analyze`` exactly on
- parameters (and the split into weights and biases),
- every layer's output shape, in order (symcnn's rows expanded by their ``count``),
- MACs, in total and layer by layer (``FlopCounterMode`` FLOPs // 2),
- activations (input elements + every layer's output elements).

Large networks (the VGGs, AlexNet) are built and run on the ``meta`` device: parameters
and activations have shapes but no storage, so a 138M-parameter VGG costs nothing to
build, and FlopCounterMode counts from shapes alone. The small hand-made networks run on
both ``meta`` and the CPU, so the meta kernels' shape rules are themselves checked.

torch is an optional dependency: without it these tests are skipped locally, but they
fail when the ``CI`` environment variable is set (CI must install torch).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

import symcnn
from symcnn.errors import ShapeError
from symcnn import zoo
from symcnn.layers import FC, AdaptiveAvgPool, Conv, Elementwise, Network, Pool, Repeat
from symcnn.shapes import minimum_input

TORCH_REQUIRED = "torch is required in CI: pip install torch==2.13.0"

try:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
    if not os.environ.get("CI"):
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


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# ---------------------------------------------------------------- notation → torch.nn

def _leaves(items):
    """The layers of ``items`` in execution order, every Repeat expanded."""
    for item in items:
        if isinstance(item, Repeat):
            for _ in range(item.count):
                yield from _leaves(item.body)
        else:
            yield item


if torch is not None:
    class FullyConnected(nn.Module):
        """Flatten, Linear, and back to (N, units, 1, 1) so every output stays NCHW."""

        def __init__(self, in_features: int, units: int) -> None:
            super().__init__()
            self.linear = nn.Linear(in_features, units, bias=True)

        def forward(self, x):
            return self.linear(torch.flatten(x, 1)).reshape(x.shape[0], -1, 1, 1)

    class Softmax2d(nn.Module):
        """Softmax over the channel dimension (symcnn's ``softmax``)."""

        def forward(self, x):
            return torch.softmax(x, dim=1)

    class TorchNet(nn.Sequential):
        """The expanded layers of a symcnn network; ``records[i]`` is the symcnn layer
        record module ``i`` was built from."""

        def __init__(self, modules, records) -> None:
            super().__init__(*modules)
            self.records = tuple(records)


def _module(layer, c: int, h: int, w: int):
    """The torch module for one symcnn layer record on a (c, h, w) input."""
    if isinstance(layer, Conv):
        pad = (layer.kernel[0] // 2, layer.kernel[1] // 2) if layer.padding is None \
            else layer.padding
        return nn.Conv2d(c, layer.filters, layer.kernel, stride=layer.stride,
                         padding=pad, bias=True)
    if isinstance(layer, Pool):
        cls = nn.MaxPool2d if layer.op == "max" else nn.AvgPool2d
        # floor mode (ceil_mode=False); AvgPool2d keeps count_include_pad=True
        return cls(layer.kernel, stride=layer.stride or layer.kernel, padding=layer.padding,
                   ceil_mode=False)
    if isinstance(layer, AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(layer.output)
    if isinstance(layer, FC):
        return FullyConnected(c * h * w, layer.units)
    assert isinstance(layer, Elementwise), layer
    return {"relu": lambda: nn.ReLU(inplace=False),
            "dropout": lambda: nn.Dropout(0.5),
            "softmax": Softmax2d,
            "lrn": lambda: nn.LocalResponseNorm(5)}[layer.kind]()


def to_torch(network, in_channels: int, height: int, width: int,
             device: str = "meta") -> "TorchNet":
    """Build ``network`` (a symcnn Network) in plain torch.nn for (C, H, W) inputs.

    The input size a Linear layer needs is tracked by running each freshly built module
    on a dummy tensor (free on meta), so it comes from torch, not from symcnn.
    """
    modules, records = [], []
    with torch.device(device), torch.no_grad():
        x = torch.zeros(1, in_channels, height, width)
        for layer in _leaves(network.items):
            _, c, h, w = x.shape
            m = _module(layer, c, h, w).eval()
            x = m(x)
            modules.append(m)
            records.append(layer)
    return TorchNet(modules, records).eval()


def run_torch(model, height: int, width: int, in_channels: int, device: str):
    """Run a batch of one; return per-layer output shapes (N, C, H, W), per-layer FLOPs
    and the total FLOPs, as counted by FlopCounterMode."""
    x = torch.zeros(1, in_channels, height, width, device=device)
    shapes, flops = [], []
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        before = 0
        for m in model:
            x = m(x)
            total = counter.get_total_flops()
            shapes.append(tuple(x.shape))
            flops.append(total - before)
            before = total
    return shapes, flops, counter.get_total_flops()


# ---------------------------------------------------------------- symcnn rows → sequence

def expand_rows(network, rows):
    """Indices into ``rows`` (input row excluded), one per executed layer, in order.

    symcnn stores a repeat whose body stops changing the shape once, with a ``count``.
    Walk the network and the rows together: a body iteration that returns to the shape it
    started from stands for itself and every remaining iteration, exactly as ``count``
    claims; the caller checks each row appears ``row.count`` times.
    """
    pos = 1  # rows[0] is the input

    def walk(items, shape):
        nonlocal pos
        seq = []
        for item in items:
            if isinstance(item, Repeat):
                for done in range(1, item.count + 1):
                    sub, after = walk(item.body, shape)
                    if after == shape and done < item.count:
                        seq += sub * (item.count - done + 1)
                        break
                    seq += sub
                    shape = after
                continue
            assert pos < len(rows), f"symcnn has too few rows: nothing for {item}"
            row = rows[pos]
            assert row.layer == item, f"row {pos} is {row.name}, expected {item}"
            seq.append(pos)
            shape = row.out
            pos += 1
        return seq, shape

    seq, _ = walk(network.items, rows[0].out)
    assert pos == len(rows), f"symcnn has {len(rows) - pos} rows the network does not use"
    return seq


# ---------------------------------------------------------------- the comparison

def crosscheck(source, size: tuple[int, int, int], device: str = "meta"):
    """Compare symcnn and torch on ``source`` (notation, Network or zoo name) at
    ``size`` = (H, W, C); return the report for case-specific checks."""
    h, w, c = size
    report = symcnn.analyze(source, input=size)
    network = report.network
    model = to_torch(network, c, h, w, device)
    totals = report.totals

    # parameters
    params = list(model.parameters())
    assert sum(p.numel() for p in params) == totals["params"]
    assert sum(p.numel() for p in params if p.dim() > 1) == totals["weights"]
    assert sum(p.numel() for p in params if p.dim() == 1) == totals["biases"]

    shapes, flops, total_flops = run_torch(model, h, w, c, device)

    # per layer, in order: the layer, its output shape, its MACs and params
    seq = expand_rows(network, report.rows)
    rows = report.rows
    uses = Counter(seq)
    for i in range(1, len(rows)):
        assert uses[i] == rows[i].count, f"row {i} ({rows[i].name}): count"
    assert len(seq) == len(model) == len(shapes)
    for k, (i, module, layer, shape, f) in enumerate(
            zip(seq, model, model.records, shapes, flops)):
        row = rows[i]
        where = f"layer {k} ({row.name}) on {h}x{w}x{c}"
        assert row.layer == layer, where
        oh, ow, oc = row.out
        assert shape == (1, oc, oh, ow), where
        assert f % 2 == 0 and f // 2 == row.macs, where
        assert sum(p.numel() for p in module.parameters()) == row.params, where
        assert row.activations == oh * ow * oc, where

    # totals
    assert total_flops == totals["flops"]
    assert total_flops // 2 == totals["macs"]
    activations = h * w * c + sum(n * ch * y * x for n, ch, y, x in shapes)
    assert activations == totals["activations"]
    assert rows[0].out == (h, w, c)
    return report


# ---------------------------------------------------------------- cases

ZOO_SIZES = [(224, 224, 3), (225, 225, 3), (160, 240, 3), (32, 32, 3)]


@pytest.mark.parametrize("size", ZOO_SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ["vgg11", "vgg13", "vgg16", "vgg19"])
def test_zoo(name, size):
    crosscheck(name, size)


# torchvision's parameter counts for its VGGs (independent of the input size)
TORCHVISION_PARAMS = {"vgg11": 132_863_336, "vgg13": 133_047_848,
                      "vgg16": 138_357_544, "vgg19": 143_667_240}


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_zoo_params_match_torchvision(name):
    assert symcnn.analyze(name, input=(224, 224, 3)).totals["params"] \
        == TORCHVISION_PARAMS[name]


@pytest.mark.parametrize("name", ["vgg11", "vgg13", "vgg16", "vgg19"])
def test_zoo_smallest_input(name):
    """32x32 is the smallest input (checked above); one less on either axis fails in
    symcnn and in torch alike."""
    network = zoo.load(name)
    assert minimum_input(network) == (32, 32)
    features = Network(tuple(x for x in network.items
                             if not isinstance(x, (FC, AdaptiveAvgPool, Elementwise))))
    for h, w in [(31, 32), (32, 31), (31, 31)]:
        with pytest.raises(ShapeError):
            symcnn.analyze(name, input=(h, w, 3))
        # torch cannot even size the classifier: its feature extractor (the convolutions
        # and pools, built for a valid size) already fails on (h, w)
        with pytest.raises(RuntimeError, match="too small"):
            run_torch(to_torch(features, 3, 32, 32), h, w, 3, "meta")


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
                         ids=[f"{n[:-4]}-{'x'.join(map(str, s))}" for n, s in EXAMPLE_CASES])
def test_examples(name, size):
    report = crosscheck(_example(name), size)
    for quantity, value in KNOWN.get((name, size), {}).items():
        assert report.totals[quantity] == value, quantity


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


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("text,size", SMALL_CASES,
                         ids=[f"{t}@{'x'.join(map(str, s))}" for t, s in SMALL_CASES])
def test_small(text, size, device):
    crosscheck(text, size, device)


def test_cpu_matches_meta_on_a_real_vgg():
    """One real CPU forward through a zoo network, at its smallest input."""
    crosscheck("vgg11", (32, 32, 3), device="cpu")
