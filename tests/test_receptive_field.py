"""Receptive field and jump per row (symcnn.receptive): a table of cases with the expected
values written as arithmetic, the outputs (table, Markdown, JSON), and PyTorch: the input
pixels whose gradient is non-zero for one interior output position."""

from __future__ import annotations

import itertools
import json
import math
import os
from fractions import Fraction

import pytest

import symcnn
from symcnn.formatting import display_rows

ALL = "all"


def fields(net, input=None):
    r = symcnn.analyze(net, input)
    return [(line.row.name, f) for line, f in zip(display_rows(r.rows), r.receptive_fields())]


def last(net, input=None):
    f = fields(net, input)[-1][1]
    return f.receptive_field, f.jump


def at(net, name, input=None, nth=-1):
    found = [f for n, f in fields(net, input) if n == name]
    return found[nth].receptive_field, found[nth].jump


# (notation, expected receptive field (h, w), expected jump (h, w)) of the last row
CASES = [
    ("conv3-8", (3, 3), (1, 1)),
    ("conv3-8 conv3-8", (1 + 2 + 2,) * 2, (1, 1)),
    ("conv3-8/2 conv3-8", (1 + 2 + 2 * 2,) * 2, (2, 2)),
    ("conv7-8/2p3 pool3/2p1", (7 + 2 * 2,) * 2, (4, 4)),
    ("conv3-8d2", (2 * 2 + 1,) * 2, (1, 1)),               # k_eff = d(k − 1) + 1
    ("conv3-8d2 conv3-8d4", (5 + 4 * 2,) * 2, (1, 1)),
    ("conv3x5-8", (3, 5), (1, 1)),                          # non-square kernels
    ("conv3x5-8/2 conv5x1-8", (3 + 4 * 2, 5), (2, 2)),
    ("dw3/2 conv1-8 dw3", (3 + 2 * 2,) * 2, (2, 2)),
    ("conv3-8psame conv4-8psame", (3 + 3,) * 2, (1, 1)),
    ("pool2 pool2 pool2", (2 + 2 + 4,) * 2, (8, 8)),
    ("pool3/2ceil pool3/2ceil", (3 + 2 * 2,) * 2, (4, 4)),  # ceil mode: the same field
    ("avgpool3/1p1", (3, 3), (1, 1)),
    ("conv3-8 relu bn ln dropout shuffle pad16", (3, 3), (1, 1)),
    ("res(conv3-8 conv3-8)", (5, 5), (1, 1)),               # the largest path
    ("cat(conv1-8 | conv3-8 | conv5-8 | pool3/1p1)", (5, 5), (1, 1)),
    ("conv1-4 split(conv3-2 | dw5)", (5, 5), (1, 1)),
    ("conv3-8 aux(conv3-8 gap fc10) conv1-8", (3, 3), (1, 1)),  # a head: the main path
    ("(conv3-8)x5", (1 + 5 * 2,) * 2, (1, 1)),
    ("(conv3-8/2)x3", (1 + 2 * (1 + 2 + 4),) * 2, (8, 8)),
    ("conv3-8 (conv3-8)x1000", (3 + 1000 * 2,) * 2, (1, 1)),    # a repeat in closed form
    ("conv3-8 gap", ALL, ALL),
    ("conv3-8 fc10", ALL, ALL),
    ("conv3-8 se(2) conv3-8", ALL, ALL),                    # the gate sees the whole input
    ("conv3-8 gn2", ALL, ALL),
    ("conv3-8 adaptiveavgpool2", None, None),               # depends on the input size
    ("conv3-8 bilinear-input", None, None),
    ("nearest2", (1, 1), (Fraction(1, 2),) * 2),
    ("nearest2 conv3-8", (2, 2), (Fraction(1, 2),) * 2),    # positions o−1..o+1 ↦ 2 pixels
    ("bilinear2", (2, 2), (Fraction(1, 2),) * 2),           # interpolates 2 neighbours
    ("conv3-8 tconv2-8/2", (3, 3), (Fraction(1, 2),) * 2),  # one input per output
    # a stride-2 transposed conv: at most ⌈k/2⌉ inputs reach an output position
    ("conv3-8 tconv3-8/2p1", (3 + (2 - 1),) * 2, (Fraction(1, 2),) * 2),
    ("conv3-8 tconv4-8/2 conv3-8/2", (3 + (2 - 1) + 2 * Fraction(1, 2),) * 2, (1, 1)),
]


@pytest.mark.parametrize("notation, rf, jump", CASES, ids=[c[0] for c in CASES])
def test_cases(notation, rf, jump):
    assert last(f"input 64x64x8\n{notation}") == (rf, jump)
    assert last(f"input HxWx8\n{notation}") == (rf, jump)  # symbolic sizes: the same


def test_famous_networks():
    # VGG-16: 5 stages of 2-3 convs (2 pixels × jump each) and a 2×2 pool
    vgg = 1 + 2 * 2 * 1 + 1 + 2 * 2 * 2 + 2 + 3 * 2 * 4 + 4 + 3 * 2 * 8 + 8 + 3 * 2 * 16 + 16
    assert vgg == 212 and at("vgg16", "pool2") == ((212, 212), (32, 32))
    # AlexNet: conv11/4, pool3/2, conv5, pool3/2, 3×conv3, pool3/2
    alex = 11 + 2 * 4 + 4 * 8 + 2 * 8 + 3 * 2 * 16 + 2 * 16
    assert alex == 195 and at("alexnet", "pool3/2") == ((195, 195), (32, 32))
    # ResNet-50's last block: 427 (conv7/2, pool3/2, stages of 3, 4, 6, 3 bottlenecks)
    r50 = 7 + 2 * 2 + 3 * 2 * 4 + 2 * 4 + 3 * 2 * 8 + 2 * 8 + 5 * 2 * 16 + 2 * 16 + 2 * 2 * 32
    assert r50 == 427 and at("resnet50", "add") == ((427, 427), (32, 32))
    assert at("resnet50", "gap") == (ALL, ALL)
    assert at("inception_v3", "cat") == ((1311, 1311), (32, 32))


def test_unet_concrete_and_symbolic():
    # the crops' offsets are known on a concrete input; on H×W they depend on the size.
    # After an up-convolution the field differs from position to position: a conv3 whose
    # window straddles two coarse pixels adds a whole coarse step (16, not 2 × 8)
    f = fields("unet", "572x572x1")
    assert [x.receptive_field[0] for n, x in f if n == "conv3-512p0"][-2:] == [140 + 16,
                                                                              156 + 16]
    assert f[-1][1].receptive_field == (204, 204) and f[-1][1].jump == (1, 1)
    assert symcnn.analyze("unet").receptive_fields()[-1].receptive_field is None


def test_outputs():
    r = symcnn.analyze("input 224x224x3\nconv3x5-8/2 nearest2 conv3-8 gap")
    fs = r.receptive_fields()
    assert [f.text() for f in fs] == ["1 / 1", "3×5 / 2", "3×5 / 1", "5×7 / 1", "all"]
    layers = json.loads(r.to_json())["layers"]
    assert [(x["receptive_field"], x["jump"]) for x in layers] == [
        ([1, 1], [1, 1]), ([3, 5], [2, 2]), ([3, 5], [1, 1]), ([5, 7], [1, 1]),
        ("all", "all")]
    assert "RF / jump" in r.to_table() and "| 3×5 / 2 |" in r.to_markdown()
    up = json.loads(symcnn.analyze("input 8x8x3\nnearest2 conv1-2 bilinear-input").to_json())
    assert [(x["receptive_field"], x["jump"]) for x in up["layers"]] == [
        ([1, 1], [1, 1]), ([1, 1], ["1/2", "1/2"]), ([1, 1], ["1/2", "1/2"]), (None, None)]
    assert "1 / 1/2" in symcnn.analyze("nearest2").to_table()


def test_depth_grouped_table_shows_the_block_output():
    text = symcnn.analyze("resnet50", "224x224x3").to_table(depth=1)
    assert "427 / 32" in text


# ── PyTorch: the bounding box of non-zero input gradient ──────────────────────────────

try:
    import torch
    from symcnn.torch import to_torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None and not (os.environ.get("CI") and not os.environ.get("SYMCNN_NO_TORCH")),
    reason="torch is not installed (pip install torch==2.13.0); set CI=1 to make this a "
           "failure")


def _torch_fields(notation: str, size: str, rows: int = 6):
    """For up to ``rows`` table lines with a numeric field (spread over the depth): symcnn's
    (field, jump) and PyTorch's (largest bounding box of non-zero gradient over a few
    interior output positions, and how far the box moves per output position)."""
    assert torch is not None, "torch is required in CI"
    torch.manual_seed(0)
    r = symcnn.analyze(notation, size)
    model = to_torch(notation, size, device="cpu").double()
    # max pools pass gradient to one pixel per window: average pools have the same window
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.MaxPool2d):
                avg = torch.nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                         child.ceil_mode)
                avg.symcnn_layer = child.symcnn_layer
                setattr(parent, name, avg)
    with torch.no_grad():  # positive weights and inputs: no cancellation, ReLU passes
        for p in model.parameters():
            p.uniform_(0.01, 0.1)
    outs = []
    for m in model.modules():
        if hasattr(m, "symcnn_layer"):
            m.register_forward_hook(lambda mod, args, out: outs.append((mod, out)))
    h, w, c = (int(v) for v in size.split("x"))
    x = (torch.rand(1, c, h, w, dtype=torch.float64) + 0.5).requires_grad_()
    model(x)
    lines = display_rows(r.rows)[1:]
    fs = r.receptive_fields()[1:]
    # torch runs a merge's cropping branches last: match lines to outputs by name and shape
    unused, matched = list(outs), []
    for line in lines:
        k = next(k for k, (m, o) in enumerate(unused) if str(m.symcnn_layer) == line.row.name
                 and tuple(o.shape[1:]) == (line.row.out[2], *line.row.out[:2]))
        matched.append(unused.pop(k))
    outs = matched
    numeric = [i for i, f in enumerate(fs) if isinstance(f.receptive_field, tuple)]
    pick = sorted({numeric[round(k * (len(numeric) - 1) / max(rows - 1, 1))]
                   for k in range(rows)}) if numeric else []
    got = []
    for i in pick:
        y = outs[i][1]
        oh, ow = y.shape[-2:]
        want = fs[i]
        jump = tuple(Fraction(j) for j in want.jump)
        n = want.period  # the field and its offsets repeat every n positions
        def box(q):
            g, = torch.autograd.grad(y[0, :, q[0], q[1]].sum(), x, retain_graph=True)
            nz = (g[0].abs().sum(0) > 0).nonzero()
            if not len(nz):
                return ()  # only a bias reaches it (a dilated transposed conv)
            lo, hi = nz.min(0).values.tolist(), nz.max(0).values.tolist()
            inside = lo[0] > 0 and lo[1] > 0 and hi[0] < h - 1 and hi[1] < w - 1
            return (lo, hi) if inside else None
        c0 = (oh // 2 - n[0] // 2, ow // 2 - n[1] // 2)
        qs = [(c0[0] + a, c0[1] + b) for a in range(n[0] + 1) for b in range(n[1] + 1)]
        if any(not (0 <= a < oh and 0 <= b < ow) for a, b in qs):
            continue
        boxes = {q: box(q) for q in qs}
        if any(b is None for b in boxes.values()) or not any(boxes.values()):
            continue  # the field reaches the border at this input size
        extent = tuple(max(b[1][a] - b[0][a] + 1 for b in boxes.values() if b)
                       for a in (0, 1))
        start = next((q for q in qs if boxes[q] and boxes.get((q[0] + n[0], q[1]))
                      and boxes.get((q[0], q[1] + n[1]))), c0)
        if not (boxes[start] and boxes.get((start[0] + n[0], start[1]))
                and boxes.get((start[0], start[1] + n[1]))):
            qs2 = [(start[0] + a, start[1] + b) for a in range(2 * n[0] + 1)
                   for b in range(2 * n[1] + 1)]
            boxes.update({q: box(q) for q in qs2 if q not in boxes and q[0] < oh and
                          q[1] < ow})
            start = next(q for q in qs2 if boxes.get(q) and boxes.get((q[0] + n[0], q[1]))
                         and boxes.get((q[0], q[1] + n[1])))
        moved = (Fraction(boxes[(start[0] + n[0], start[1])][0][0] - boxes[start][0][0], n[0]),
                 Fraction(boxes[(start[0], start[1] + n[1])][0][1] - boxes[start][0][1], n[1]))
        got.append((lines[i].row.name, want.receptive_field, extent, jump, moved))
    return got


TORCH_CASES = [
    ("conv3-4 relu conv3-4/2 conv3-4d2 pool3/2ceil conv3x5-4 avgpool3/1p1", "48x48x2"),
    ("conv5x3-4/2p1 bn relu dw3d3 conv1-4 pool2 conv3-4psame", "48x48x2"),
    ("res(conv3-4 relu conv3-4) cat(conv1-2 | conv5-2 | pool3/1p1) conv3-4/2", "32x32x4"),
    ("conv3-4 split(conv3-2 | dw5d2) add(conv3-4/2 | conv1-4/2)", "40x40x4"),
    ("conv3-4/2 nearest2 conv3-4 conv3-4/2", "32x32x2"),
    ("conv3-4/2 bilinear2 conv3-4", "32x32x2"),
    ("conv3-4/2 bilinear3 conv3-4", "32x32x2"),
    ("conv3-4/2 tconv2-4/2 conv3-4", "32x32x2"),
    ("conv3-4/2 tconv3-4/2p1o1 conv3-4 tconv4-4/2p1", "24x24x2"),
    ("conv3-4/2 tconv3-4/2d2 conv3-4", "24x24x2"),
    ("conv3-4p0 cat(crop | pool2 conv3-4p0 tconv2-4/2) conv3-4", "36x36x2"),
    ("alexnet", "227x227x3"),
    ("vgg11", "224x224x3"),
    ("resnet18", "128x128x3"),
    ("mobilenet_v2", "96x96x3"),
]


@needs_torch
@pytest.mark.parametrize("notation, size", TORCH_CASES, ids=[c[0][:40] for c in TORCH_CASES])
def test_against_pytorch_gradients(notation, size):
    got = _torch_fields(notation, size)
    assert len(got) >= 2, f"too few lines checked: {got}"
    for name, rf, extent, jump, moved in got:
        assert rf == extent, (name, rf, extent)
        assert jump == moved, (name, jump, moved)


def test_long_kernels_take_the_first_and_last_taps_only():
    """The window rule keeps the first and last P/gcd(d, P) taps of a long kernel: the same
    field as every tap, on periodic axes after upsamplings (brute force over the taps)."""
    from symcnn import receptive as rf
    axes = [rf.INPUT[0]]
    for s in (2, 3, 4):
        axes.append(rf._upsample(rf.INPUT[0], s, False))
        axes.append(rf._upsample(rf.INPUT[0], s, True))
        axes.append(rf._tconv(rf.INPUT[0], 3, s, 1, 1))
    for axis, (k, s, p, d) in itertools.product(axes, itertools.product(
            (1, 2, 5, 9, 17), (1, 2, 3), (0, 1, 4), (1, 2, 3))):
        P = axis[0]
        P2 = P // math.gcd(P, s)
        every = rf._gather(axis, P2, axis[1] * s * P2 // P,
                           lambda t: [t * s - p + u * d for u in range(k)])
        assert rf._window(axis, k, s, p, d) == every, (axis, k, s, p, d)


def test_a_huge_kernel_costs_no_memory():
    r = symcnn.analyze("dw11x1000000000000nb relu", "HxWx3")
    assert r.receptive_fields()[-1].text() == "11×1,000,000,000,000 / 1"
