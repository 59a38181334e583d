"""Property test: random valid notations, verified against real PyTorch at random sizes.

Networks are drawn layer by layer from every construct of the notation (random kernels,
strides, paddings, dilations, groups, ceil mode, widths; residual and branch blocks,
squeeze-and-excitation, definitions with calls, repeats), keeping track of the channel
count so that groups divide it. Each is analysed at a random size it can run on and
rebuilt in torch by ``symcnn.torch.verify``: every count must agree exactly.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symcnn
from symcnn.shapes import minimum_input

try:
    import torch  # noqa: F401
    from symcnn.torch import format_table, verify
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") and not os.environ.get("SYMCNN_NO_TORCH"):
        raise  # CI must have torch: pip install torch==2.13.0
    pytest.skip("torch is not installed (pip install torch==2.13.0)", allow_module_level=True)

ACTS = ["relu", "relu6", "silu", "sigmoid", "hardswish", "hardsigmoid", "gelu", "tanh",
        "dropout", "softmax", "lrn"]


@st.composite
def conv(draw, c: int) -> tuple[str, int]:
    k = draw(st.integers(1, 5))
    kw = draw(st.one_of(st.none(), st.integers(1, 5)))
    groups = draw(st.sampled_from([g for g in (1, 2, 3, 4) if c % g == 0]))
    filters = groups * draw(st.integers(1, 4))
    text = f"conv{k}" + (f"x{kw}" if kw else "") + f"-{filters}"
    opts = []
    if draw(st.booleans()):
        opts.append(f"/{draw(st.integers(1, 3))}")
    if draw(st.booleans()):
        opts.append(f"p{draw(st.integers(0, 2))}")
    if draw(st.booleans()):
        opts.append(f"d{draw(st.integers(1, 2))}")
    if groups > 1:
        opts.append(f"g{groups}")
    if draw(st.booleans()):
        opts.append("nb")
    return text + "".join(draw(st.permutations(opts))), filters


@st.composite
def layer(draw, c: int) -> tuple[str, int]:
    kind = draw(st.sampled_from(["conv", "conv", "dw", "pool", "act", "bn", "ln", "scale",
                                 "res", "proj", "cat", "dense", "se", "gap", "fcconv"]))
    if kind == "conv":
        return draw(conv(c))
    if kind == "dw":
        k = draw(st.integers(1, 5))
        return f"dw{k}/{draw(st.integers(1, 2))}" + ("nb" if draw(st.booleans()) else ""), c
    if kind == "pool":
        k = draw(st.integers(1, 4))
        op = draw(st.sampled_from(["pool", "avgpool"]))
        text = f"{op}{k}/{draw(st.integers(1, 3))}p{draw(st.integers(0, k // 2))}"
        return text + ("ceil" if draw(st.booleans()) else ""), c
    if kind == "act":
        return draw(st.sampled_from(ACTS)), c
    if kind in ("bn", "ln", "scale"):
        return kind, c
    if kind == "res":  # shape-preserving body: identity shortcut
        return f"res(conv3-{c}nb bn relu conv1-{c})", c
    if kind == "proj":
        n, s = draw(st.integers(1, 6)), draw(st.integers(1, 2))
        return f"res(conv3-{n}/{s}nb bn relu conv3-{n} | conv1-{n}/{s}nb bn) relu", n
    if kind == "cat":
        a, b = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        return f"cat(conv1-{a} | conv1-{b} conv3-{a} | pool3/1p1ceil conv1-{b})", a + a + b
    if kind == "dense":
        g = draw(st.integers(1, 4))
        n = draw(st.integers(1, 3))
        return f"cat( | bn relu conv1-{2 * g}nb bn relu conv3-{g}nb)x{n}", c + n * g
    if kind == "se":
        return f"se({draw(st.integers(1, 4))})", c
    if kind == "gap":
        return "gap", c
    units = draw(st.integers(1, 6))  # fc mid-network, then a conv on the 1×1 map
    return f"fc{units} conv1-{units}", units


@st.composite
def network(draw) -> tuple[str, tuple[int, int, int]]:
    c = draw(st.integers(1, 4))
    first_c = c
    parts = []
    if draw(st.booleans()):  # a definition used twice
        parts.append("def blk(w, s=1) = (conv3-w/snb bn relu)")
    for _ in range(draw(st.integers(1, 6))):
        if parts and parts[0].startswith("def") and draw(st.booleans()):
            w = draw(st.integers(1, 6))
            parts.append(f"blk({w}, {draw(st.integers(1, 2))})")
            c = w
            continue
        text, c = draw(layer(c))
        if draw(st.integers(0, 4)) == 0:
            text = f"({text})x{draw(st.integers(1, 3))}"
        parts.append(text)
    net = "\n".join(parts)
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    return net, (h, w, first_c)


@settings(max_examples=int(os.environ.get("SYMCNN_PROPERTY_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(network())
def test_random_networks_agree_with_torch(case):
    text, size = case
    try:
        report = symcnn.analyze(text, size)
    except symcnn.ShapeError:
        low = minimum_input(symcnn.parse(text))
        assume(low is not None)
        size = (max(size[0], low[0]), max(size[1], low[1]), size[2])
        try:
            report = symcnn.analyze(text, size)
        except symcnn.ShapeError:  # e.g. a residual whose shapes differ at every size
            assume(False)
    assume(sum(r.count for r in report.rows) < 400)
    result = verify(text, size)
    assert result.ok, f"{text!r} at {size}:\n{format_table(result)}"
