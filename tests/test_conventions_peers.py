"""symcnn's conventions against the tools themselves: ``--convention X`` equals what
torchinfo, fvcore, ptflops and thop print for the same torchvision model (batch 1, CPU,
real forwards), exactly, at several sizes; and where a model's code calls functionals,
the measured difference is the one the README states.

torch and the peers (``pip install ".[peers]"``) are optional: without them these tests
are skipped locally, but they fail when ``CI`` is set (CI installs both in venv A).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings

import pytest

import symcnn

_ABSENT_OK = not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH")
try:
    import torch
    import torchvision
except ImportError:  # pragma: no cover - depends on the environment
    if _ABSENT_OK:
        pytest.skip("torch is not installed (pip install torch==2.14.1 torchvision==0.29.1 "
                    "and .[peers] to check the conventions); set CI=1 to make this a failure",
                    allow_module_level=True)
    raise
try:
    import torchinfo
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info
    from thop import profile
except ImportError:  # pragma: no cover
    if _ABSENT_OK:
        pytest.skip("the peers of torch (pip install \".[peers]\": torchinfo, fvcore, ptflops, "
                    "thop) are not installed", allow_module_level=True)
    raise

torch.set_num_threads(2)


def counts(name: str, h: int, w: int) -> dict[str, int]:
    """What each tool prints for torchvision's ``name`` at h×w (batch 1, eval, CPU)."""
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).eval()
    x = torch.zeros(1, 3, h, w)
    out = {}
    quiet = contextlib.redirect_stdout(io.StringIO())
    with torch.no_grad(), warnings.catch_warnings(), quiet:
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            out["torchinfo"] = torchinfo.summary(model, input_size=(1, 3, h, w),
                                                 verbose=0).total_mult_adds
            f = FlopCountAnalysis(model, x)
            f.unsupported_ops_warnings(False)
            f.uncalled_modules_warnings(False)
            out["fvcore"] = f.total()
            out["ptflops"] = get_model_complexity_info(
                model, (3, h, w), as_strings=False, print_per_layer_stat=False,
                verbose=False)[0]
            macs = profile(model, inputs=(x,), verbose=False)[0]
            assert float(macs).is_integer()
            out["thop"] = int(macs)
        finally:
            logging.disable(logging.NOTSET)
    return out


EXACT = [  # networks whose torchvision code uses modules where the conventions assume them
    ("resnet18", 224, 224), ("resnet18", 225, 227),
    ("alexnet", 160, 240),  # thop's float k of a non-divisible adaptive pool
    ("squeezenet1_0", 224, 224),
    ("mobilenet_v3_large", 225, 227),
    ("efficientnet_b0", 160, 240),
    ("regnet_y_400mf", 224, 224),
]


@pytest.mark.parametrize("name, h, w", EXACT)
def test_each_convention_equals_the_tool(name, h, w):
    got = counts(name, h, w)
    for tool, printed in got.items():
        mine = symcnn.analyze(name, f"{h}x{w}x3", convention=tool).totals["macs"]
        assert mine == printed, (tool, mine, printed)


def test_where_the_code_calls_functionals():
    """MobileNetV2 ends with F.adaptive_avg_pool2d (a module elsewhere): ptflops counts it
    once by input (not twice), thop not at all (not (k + 1) per output element)."""
    got = counts("mobilenet_v2", 224, 224)
    report = symcnn.analyze("mobilenet_v2", "224x224x3")
    assert got["ptflops"] == report.macs_as("ptflops") - 1280 * 7 * 7
    assert got["thop"] == report.macs_as("thop") - (7 * 7 + 1) * 1280
    assert got["fvcore"] == report.macs_as("fvcore")
    assert got["torchinfo"] == report.macs_as("torchinfo")
